"""The engine's public API: what the REST API, the CLI and the workers call.

Every function is keyword-only after the session, flushes but never commits: the caller's
unit of work (request dependency or worker `session_scope`) commits once.
"""

from engine.definitions import (
    DeployedVersion,
    DeployOutcome,
    deploy,
    deploy_directory,
    get_definition_or_raise,
    list_definitions,
    parsed_definition,
    running_counts,
    validate_files,
)
from engine.instances import (
    describe_instance,
    describe_instances,
    get_instance_or_raise,
    incident_dict,
    instance_diagram,
    list_history,
    open_unit_of_work,
    persist,
    run_engine,
    start_instance,
    terminate_instance,
)
from engine.jobs import retry_incident
from engine.messages import deliver_message
from engine.tasks import claim_task, complete_task, get_task_or_raise, task_dict, unclaim_task

__all__ = [
    "DeployOutcome",
    "DeployedVersion",
    "claim_task",
    "complete_task",
    "deliver_message",
    "deploy",
    "deploy_directory",
    "describe_instance",
    "describe_instances",
    "get_definition_or_raise",
    "get_instance_or_raise",
    "get_task_or_raise",
    "incident_dict",
    "instance_diagram",
    "list_definitions",
    "list_history",
    "open_unit_of_work",
    "parsed_definition",
    "persist",
    "retry_incident",
    "run_engine",
    "running_counts",
    "start_instance",
    "task_dict",
    "terminate_instance",
    "unclaim_task",
    "validate_files",
]
