"""Reading and shaping a live SpiffWorkflow workflow: snapshots for projections, pruning.

A *snapshot* is what the projections need to know about a workflow at one moment (variables,
ready user tasks, waiting timers and messages, jobs to run, finished tasks); the unit of work
takes one before and one after running the engine and writes only the difference.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine.spiff_ext import JOB_REQUEST_KEY


@dataclass(frozen=True)
class TaskRef:
    """A task of the workflow as the projections see it."""

    guid: str
    element_id: str | None  # None for SpiffWorkflow's internal tasks (Root, Start, End)
    name: str
    type: str
    since: float


@dataclass(frozen=True)
class TimerRef:
    guid: str
    element_id: str
    due_at: datetime


@dataclass(frozen=True)
class MessageRef:
    guid: str
    element_id: str
    name: str
    correlation_key: str


@dataclass(frozen=True)
class JobRef:
    guid: str
    element_id: str
    operator: str
    params: dict[str, Any]
    max_attempts: int | None
    backoff_base: float | None


@dataclass
class Snapshot:
    """What the projections need to know about a workflow at one moment."""

    variables: dict[str, Any] = field(default_factory=dict)
    user_tasks: dict[str, TaskRef] = field(default_factory=dict)
    timers: dict[str, TimerRef] = field(default_factory=dict)
    messages: dict[str, MessageRef] = field(default_factory=dict)
    jobs: dict[str, JobRef] = field(default_factory=dict)
    finished: dict[str, TaskRef] = field(default_factory=dict)
    active: list[TaskRef] = field(default_factory=list)
    failed: bool = False  # some task is in ERROR (a script or handler raised)


def to_jsonable(value: Any) -> Any:
    """Plain-JSON form of task data values (dates as ISO strings, Decimal as string)."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [to_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, UUID):
        return str(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return repr(value)


def canonical_correlation(values: dict[str, Any]) -> str:
    """The index key of a set of correlation values: sorted compact JSON ("" when empty)."""
    if not values:
        return ""
    return json.dumps(
        to_jsonable(values), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def task_ref(task: Task) -> TaskRef:
    spec = task.task_spec
    return TaskRef(
        guid=str(task.id),
        element_id=getattr(spec, "bpmn_id", None),
        name=getattr(spec, "bpmn_name", None) or spec.name,
        type=spec.__class__.__name__,
        since=task.last_state_change,
    )


def merged_variables(workflow: BpmnWorkflow, live: list[Task]) -> dict[str, Any]:
    """The instance's variables: data of its unfinished top-level tasks (or of its last task)
    merged, oldest first, over the workflow's data objects."""
    merged: dict[str, Any] = dict(workflow.data)
    sources = sorted((t for t in live if t.workflow is workflow), key=lambda t: t.last_state_change)
    if not sources and workflow.last_task is not None:
        sources = [workflow.last_task]
    for task in sources:
        merged.update(task.data)
    return merged


def _timer_due(task: Task, definition: TimerEventDefinition) -> datetime | None:
    value = definition.details(task).value
    if not isinstance(value, str):
        return None
    due = datetime.fromisoformat(value)
    return due if due.tzinfo else due.replace(tzinfo=UTC)


def _message_correlation(task: Task, definition: MessageEventDefinition) -> str:
    values: dict[str, Any] = {}
    for prop in getattr(definition, "correlation_properties", []):
        try:
            values[prop.name] = task.workflow.script_engine.evaluate(
                task, prop.retrieval_expression
            )
        except Exception:
            # The waiting task's data does not (yet) hold this key: fall back to what an
            # earlier message of the same conversation fixed for the workflow.
            for keyset in task.workflow.correlations.values():
                if prop.name in keyset:
                    values[prop.name] = keyset[prop.name]
    return canonical_correlation(values)


def _collect_waiting(workflow: BpmnWorkflow, snap: Snapshot) -> None:
    for task in list(workflow.event_manager.tasks.values()):
        definition = task.task_spec.event_definition
        guid, element_id = str(task.id), task.task_spec.bpmn_id or task.task_spec.name
        # An event-based gateway waits on several events at once (paid, or three days).
        multiple = isinstance(definition, MultipleEventDefinition)
        for each in definition.event_definitions if multiple else [definition]:
            if isinstance(each, TimerEventDefinition):
                due = _timer_due(task, each)
                if due is not None and guid not in snap.timers:
                    snap.timers[guid] = TimerRef(guid, element_id, due)
            elif isinstance(each, MessageEventDefinition):
                key = f"{guid}:{each.name}" if multiple else guid
                snap.messages[key] = MessageRef(
                    guid, element_id, each.name, _message_correlation(task, each)
                )


def _job_ref(task: Task, ref: TaskRef) -> JobRef | None:
    request = task.internal_data.get(JOB_REQUEST_KEY)
    if request is None:
        return None
    spec = task.task_spec
    return JobRef(
        guid=ref.guid,
        element_id=ref.element_id or spec.name,
        operator=request["operator"],
        params=request["params"],
        max_attempts=getattr(spec, "retries", None),
        backoff_base=getattr(spec, "retry_backoff_base", None),
    )


def take_snapshot(workflow: BpmnWorkflow, *, with_variables: bool = True) -> Snapshot:
    """Read everything the projections need from `workflow` in one pass over its tasks."""
    snap = Snapshot()
    live: list[Task] = []
    for task in workflow.get_tasks_iterator():
        if task.state & TaskState.FINISHED_MASK:
            if task.state == TaskState.COMPLETED and getattr(task.task_spec, "bpmn_id", None):
                snap.finished[str(task.id)] = task_ref(task)
            snap.failed = snap.failed or task.state == TaskState.ERROR
            continue
        if not task.state & (TaskState.READY | TaskState.WAITING | TaskState.STARTED):
            continue
        live.append(task)
        ref = task_ref(task)
        if ref.element_id is not None:
            snap.active.append(ref)
        if task.state == TaskState.READY and task.task_spec.manual:
            snap.user_tasks[ref.guid] = ref
        elif task.state == TaskState.STARTED:
            job = _job_ref(task, ref)
            if job is not None:
                snap.jobs[ref.guid] = job
    _collect_waiting(workflow, snap)
    if with_variables:
        snap.variables = merged_variables(workflow, live)
    return snap


# --- pruning: keep long loops bounded ------------------------------------------------------


def _is_dead_end(task: Task) -> bool:
    """A branch that leads nowhere any more: cancelled, or finished with no successors
    (e.g. the join of a boundary event whose task completed normally)."""
    return task.state == TaskState.CANCELLED or (
        task.state == TaskState.COMPLETED and not task._children
    )


def _linear_successor(task: Task) -> Task | None:
    """The one child of a COMPLETED task that carries on (dead ends ignored), else None."""
    if task.state != TaskState.COMPLETED:
        return None
    live = [child for child in task.children if not _is_dead_end(child)]
    return live[0] if len(live) == 1 else None


def _drop_subtree(workflow: Any, top: BpmnWorkflow, task: Task) -> int:
    dropped = 0
    for child in list(task.children):
        dropped += _drop_subtree(workflow, top, child)
    if task.id in top.subprocesses:
        top.delete_subprocess(task)
    workflow.tasks.pop(task.id, None)
    return dropped + 1


def prune_finished_chain(workflow: Any, top: BpmnWorkflow) -> int:
    """Drop the middle of the chain of finished tasks under the root; return tasks dropped.

    SpiffWorkflow keeps every finished task, so a loop grows the tree (and past depth ~1000
    the task iterator stops and the workflow looks completed). While the tasks under the
    root form a single chain of COMPLETED tasks, everything between the start task and the
    last finished one is history already recorded in instance_event; the last one holds the
    data its successors inherited, so it is re-linked under the start task. A fork (parallel
    branches, an unfinished boundary event) stops the walk, so joins still see their inputs.
    """
    root = workflow.task_tree
    start = _linear_successor(root)
    if start is None:
        return 0
    chain: list[Task] = []
    node = _linear_successor(start)
    while node is not None:
        successor = _linear_successor(node)
        if successor is None:
            break
        chain.append(node)
        node = successor
    # chain[-1] is the last finished task whose successor is live: keep it, drop the rest.
    if len(chain) < 2:
        return 0
    keep = chain[-1]
    dropped = 0
    for task in chain[:-1]:
        for child in list(task.children):
            if _is_dead_end(child):
                dropped += _drop_subtree(workflow, top, child)
        if task.id in top.subprocesses:
            top.delete_subprocess(task)
        workflow.tasks.pop(task.id, None)
        dropped += 1
    start._children = [keep.id]
    keep._parent = start.id
    if workflow.last_task is not None and workflow.last_task.id not in workflow.tasks:
        workflow.last_task = keep
    return dropped


def prune_workflow(workflow: BpmnWorkflow) -> int:
    """Prune the top workflow and every live subprocess; return how many tasks were dropped."""
    dropped = prune_finished_chain(workflow, workflow)
    for sub in list(workflow.subprocesses.values()):
        dropped += prune_finished_chain(sub, workflow)
    return dropped
