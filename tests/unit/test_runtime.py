"""Pruning and snapshots on real SpiffWorkflow workflows (no database)."""

from __future__ import annotations

import json
from pathlib import Path

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from engine.runtime import canonical_correlation, prune_workflow, take_snapshot
from engine.scripting import is_iso8601_literal, make_script_engine
from engine.spiff_ext import PotokBpmnParser, dump_state, load_state

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _workflow(name: str, key: str) -> tuple[BpmnWorkflow, object, dict[str, object]]:
    parser = PotokBpmnParser()
    parser.add_bpmn_file(str(FIXTURES / name))
    spec, subs = parser.get_spec(key), parser.get_subprocess_specs(key)
    workflow = BpmnWorkflow(spec, subs, script_engine=make_script_engine())
    workflow.do_engine_steps()
    return workflow, spec, subs


def _complete_ready(workflow: BpmnWorkflow, element_id: str) -> None:
    task = next(
        t
        for t in workflow.get_tasks(state=TaskState.READY, manual=True)
        if t.task_spec.bpmn_id == element_id
    )
    task.run()
    workflow.do_engine_steps()


def _round_trip(workflow: BpmnWorkflow, spec: object, subs: dict[str, object]) -> BpmnWorkflow:
    """Prune, store and restore — what every unit of work does between two actions."""
    prune_workflow(workflow)
    state = json.loads(json.dumps(dump_state(workflow, "spiff")))
    restored = load_state(state, "spiff", spec, subs)
    restored.script_engine = make_script_engine()
    return restored


def test_pruning_keeps_a_user_task_loop_small_and_correct() -> None:
    workflow, spec, subs = _workflow("loop.bpmn", "loop")
    for _ in range(400):  # past SpiffWorkflow's tree-depth limit (~333 iterations)
        _complete_ready(workflow, "answer")
        workflow = _round_trip(workflow, spec, subs)
    snap = take_snapshot(workflow)
    assert not workflow.completed
    assert snap.variables["n"] == 400
    assert [ref.element_id for ref in snap.user_tasks.values()] == ["answer"]
    assert len(workflow.tasks) <= 12


def test_unpruned_loop_silently_completes_in_raw_spiffworkflow() -> None:
    """The failure mode pruning exists for: past tree depth ~1000 the workflow looks done."""
    workflow, _spec, _subs = _workflow("loop.bpmn", "loop")
    iterations = 0
    while not workflow.completed and iterations < 600:
        ready = workflow.get_tasks(state=TaskState.READY, manual=True)
        if not ready:
            break
        ready[0].run()
        workflow.do_engine_steps()
        iterations += 1
    n = workflow.last_task.data.get("n") if workflow.last_task else None
    assert iterations < 600 and n is not None and n < 100000


def test_parallel_join_still_waits_for_both_branches_after_pruning() -> None:
    workflow, spec, subs = _workflow("parallel_loop.bpmn", "parallel_loop")
    for round_ in range(3):
        _complete_ready(workflow, "ask")
        workflow = _round_trip(workflow, spec, subs)
        _complete_ready(workflow, "left")
        workflow = _round_trip(workflow, spec, subs)
        # the join must still wait: only one branch finished
        ready = {
            t.task_spec.bpmn_id for t in workflow.get_tasks(state=TaskState.READY, manual=True)
        }
        assert ready == {"right"}, round_
        _complete_ready(workflow, "right")
        workflow = _round_trip(workflow, spec, subs)
    assert workflow.completed
    assert workflow.last_task.data["n"] == 3


def test_boundary_timer_loop_is_pruned_past_cancelled_siblings() -> None:
    workflow, spec, subs = _workflow("boundary_loop.bpmn", "boundary_loop")
    sizes = []
    for _ in range(200):
        _complete_ready(workflow, "ask")
        workflow = _round_trip(workflow, spec, subs)
        sizes.append(len(workflow.tasks))
    snap = take_snapshot(workflow)
    assert snap.variables["n"] == 200
    assert len(snap.timers) == 1  # the reminder of the current question only
    assert sizes[-1] == sizes[10], sizes[::20]


def test_correlation_key_is_canonical() -> None:
    assert canonical_correlation({}) == ""
    assert canonical_correlation({"b": 1, "a": "Я"}) == '{"a":"Я","b":1}'


def test_iso8601_literals_are_recognised() -> None:
    assert all(
        map(is_iso8601_literal, ["PT10M", "P1D", "R3/PT1H", "PT24H", "2026-12-01T09:00:00Z"])
    )
    assert not any(map(is_iso8601_literal, ["n < 5", "'PT10M'", "P", "PT", "timedelta(1)"]))
