"""potok's extensions of SpiffWorkflow, made only through its configuration tables.

- `PotokServiceTask`: a service task whose operator runs inline (in the unit of work) or as a
  job: `_execute` returns None, which leaves the task STARTED until a worker completes it.
- `PotokBpmnParser`: the Spiff dialect parser with that task class in its override table.
- Serializer registries for both dialects, with a workflow converter that leaves the spec out
  of the stored state (specs are stored once per definition and cached by content hash).
"""

from __future__ import annotations

from copy import deepcopy
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import ServiceTaskParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.serializer.task_spec import ServiceTaskConverter
from SpiffWorkflow.spiff.specs.defaults import ServiceTask

from engine.operators import OPERATORS

JOB_REQUEST_KEY = "potok_job"


class PotokServiceTask(ServiceTask):  # type: ignore[misc]
    """Service task that runs inline operators at once and leaves job operators STARTED."""

    def _execute(self, task: Any) -> bool | None:
        params = {name: spec["value"] for name, spec in self.evaluate_params(task).items()}
        try:
            operator = OPERATORS.get(self.operation_name)
            if operator.inline:
                task.data[self.result_variable] = operator.call(params, None)
                return True
        except Exception as exc:
            # A WorkflowException is what the unit of work turns into an incident; anything
            # else would escape do_engine_steps and fail the whole request.
            raise WorkflowTaskException(
                f"service operator '{self.operation_name}' failed: {exc}", task=task, exception=exc
            ) from exc
        # A job: remember what to run; the unit of work turns this into a `job` row.
        task.internal_data[JOB_REQUEST_KEY] = {"operator": operator.id, "params": params}
        return None


class PotokBpmnParser(SpiffBpmnParser):  # type: ignore[misc]
    """The Spiff dialect parser, with potok's service task."""

    OVERRIDE_PARSER_CLASSES: ClassVar[dict[str, Any]] = {
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        full_tag("serviceTask"): (ServiceTaskParser, PotokServiceTask),
    }


class SpeclessWorkflowConverter(BpmnWorkflowConverter):  # type: ignore[misc]
    """Serializes a workflow without its spec; restores it with the spec passed in."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct: dict[str, Any] = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(  # type: ignore[override]
        self, dct: dict[str, Any], spec: Any = None, subprocess_specs: Any = None
    ) -> BpmnWorkflow:
        if spec is None:  # a full serialization (with spec) still restores the usual way
            return super().from_dict(dct)
        workflow = self.target_class(spec, subprocess_specs or {}, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _register_value_types(registry: Any) -> Any:
    # Scripts produce Decimal (money) and date values; SpiffWorkflow's registry only knows
    # datetime/timedelta, and would store these as repr strings that never come back.
    registry.register(Decimal, lambda v: {"value": str(v)}, lambda d: Decimal(d["value"]))
    registry.register(
        date, lambda v: {"value": v.isoformat()}, lambda d: date.fromisoformat(d["value"])
    )
    return registry


def _make_serializer(base_config: dict[Any, Any], extra: dict[Any, Any]) -> BpmnWorkflowSerializer:
    config = deepcopy(base_config)
    config.update(extra)
    config[BpmnWorkflow] = SpeclessWorkflowConverter
    registry = _register_value_types(BpmnWorkflowSerializer.configure(config))
    return BpmnWorkflowSerializer(registry)


SERIALIZERS: dict[str, BpmnWorkflowSerializer] = {
    "spiff": _make_serializer(SPIFF_CONFIG, {PotokServiceTask: ServiceTaskConverter}),
    "camunda": _make_serializer(CAMUNDA_CONFIG, {}),
}
SERIALIZER_VERSION = SERIALIZERS["spiff"].VERSION


def dump_state(workflow: BpmnWorkflow, dialect: str) -> dict[str, Any]:
    """The workflow's state as a JSON-ready dict, without the spec."""
    serializer = SERIALIZERS[dialect]
    state: dict[str, Any] = serializer.to_dict(workflow)
    _convert_deltas(serializer.registry, state)
    for sub in state.get("subprocesses", {}).values():
        _convert_deltas(serializer.registry, sub)
    return state


def _convert_deltas(registry: Any, workflow_dict: dict[str, Any]) -> None:
    # SpiffWorkflow 3.2's TaskConverter stores a task's data as a delta to its parent but
    # does not pass the delta through the registry (serialize_json hides that with a JSON
    # encoder fallback); convert it here so Decimal/date values become tagged dicts.
    for task in workflow_dict.get("tasks", {}).values():
        updates = (task.get("delta") or {}).get("updates")
        if updates:
            task["delta"]["updates"] = registry.convert(updates)


def load_state(
    state: dict[str, Any], dialect: str, spec: Any, subprocess_specs: dict[str, Any]
) -> BpmnWorkflow:
    """Rebuild a workflow from `dump_state` output and the (cached) spec objects."""
    serializer = SERIALIZERS[dialect]
    # restore() copies each dict it converts but pops entries from the nested
    # "subprocesses" mapping; copy that one level so the stored dict stays intact.
    restorable = {**state, "subprocesses": dict(state.get("subprocesses", {}))}
    workflow: BpmnWorkflow = serializer.registry.restore(
        restorable, spec=spec, subprocess_specs=subprocess_specs
    )
    return workflow
