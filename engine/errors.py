"""The one error hierarchy of potok's domain.

PotokError
├── NotFoundError            unknown id (definition, instance, task, incident) → 404
├── ConflictError            state conflict → 409
│   ├── TaskAlreadyClaimed
│   ├── TaskAlreadyCompleted
│   ├── InstanceFinished
│   ├── ConcurrentUpdate     lost compare-and-swap race after internal retries
│   ├── PreconditionFailed   a write's precondition no longer held; nothing was written
│   └── QueuePolicyRefusal   cool-down, not online, not next in queue
├── PermissionDenied         the actor may not do this → 403
├── ValidationFailed         bad input with field/element details → 422
│   ├── FormValidationError  user-task data does not match the form schema
│   └── DeploymentError      BPMN/DMN/form files that do not parse or validate
├── ScriptError              an analyst's script/expression failed or broke the sandbox
└── ConnectorError           (connectors/base.py) external system failures
    ├── TransientConnectorError
    └── PermanentConnectorError
"""

from __future__ import annotations

from typing import Any


class PotokError(Exception):
    """Base of every error potok raises on purpose; `code` is the API error code."""

    code = "potok_error"

    def __init__(self, message: str, *, code: str | None = None, details: list[Any] | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details: list[Any] = details or []


class NotFoundError(PotokError):
    code = "not_found"


class ConflictError(PotokError):
    code = "conflict"


class TaskAlreadyClaimed(ConflictError):
    code = "task_already_claimed"


class TaskAlreadyCompleted(ConflictError):
    code = "task_already_completed"


class InstanceFinished(ConflictError):
    code = "instance_finished"


class ConcurrentUpdate(ConflictError):
    code = "concurrent_update"


class PreconditionFailed(ConflictError):
    """Raised by engine.rawsql before writing anything; the engine retries on fresh reads."""

    code = "precondition_failed"


class QueuePolicyRefusal(ConflictError):
    code = "queue_policy_refusal"


class PermissionDenied(PotokError):
    code = "forbidden"


class ValidationFailed(PotokError):
    code = "validation_failed"


class FormValidationError(ValidationFailed):
    code = "form_invalid"


class DeploymentError(ValidationFailed):
    code = "bpmn_invalid"


class ScriptError(PotokError):
    code = "script_error"
