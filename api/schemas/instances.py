"""Process instances: start, read, list, history and the diagram view."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import Page
from api.schemas.incidents import IncidentRead

InstanceStatus = Literal["running", "waiting", "completed", "error", "terminated"]

_INSTANCE_EXAMPLE: dict[str, Any] = {
    "id": "5d0c6f7e-2a51-4d6b-9d43-2f3e8f1b7a90",
    "key": "order_payment",
    "version": 3,
    "business_key": "A-17",
    "status": "waiting",
    "variables": {"order_id": "A-17", "amount": "1490.00", "currency": "RUB"},
    "active": [
        {
            "element_id": "wait_paid",
            "name": "Payment received",
            "type": "IntermediateCatchEvent",
            "since": "2025-03-01T10:00:00+00:00",
        }
    ],
    "incidents": [],
    "created_at": "2025-03-01T10:00:00+00:00",
    "ended_at": None,
}


class InstanceCreate(BaseModel):
    """Start variables and an optional business key (an order number, a lead id)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "variables": {"order_id": "A-17", "amount": "1490.00", "currency": "RUB"},
                    "business_key": "A-17",
                }
            ]
        }
    )

    variables: dict[str, Any] = Field(default_factory=dict)
    business_key: str | None = Field(default=None, max_length=255)


class ActiveElementRead(BaseModel):
    """An element the instance is waiting in."""

    element_id: str
    name: str | None = None
    type: str | None = None
    since: datetime | None = None


class InstanceRead(BaseModel):
    """A process instance: where it is, its variables and its open incidents."""

    model_config = ConfigDict(json_schema_extra={"examples": [_INSTANCE_EXAMPLE]})

    id: str
    key: str
    version: int
    business_key: str | None
    status: InstanceStatus
    variables: dict[str, Any]
    active: list[ActiveElementRead]
    incidents: list[IncidentRead]
    created_at: datetime
    ended_at: datetime | None


class InstancePage(Page[InstanceRead]):
    """A page of instances, newest first."""


class HistoryEventRead(BaseModel):
    """One entry of an instance's history: who did what, when, and what changed."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "at": "2025-03-01T10:05:00+00:00",
                    "type": "task_completed",
                    "element_id": "choose_size",
                    "element_name": "Choose size",
                    "actor": "olga",
                    "changes": {"shoe_size": [42, 44]},
                }
            ]
        },
    )

    at: datetime
    type: str
    element_id: str | None
    element_name: str | None
    actor: str | None
    changes: dict[str, Any] = Field(description="{variable: [old, new]}")


class HistoryPage(Page[HistoryEventRead]):
    """A page of history, oldest first."""


class DiagramRead(BaseModel):
    """The BPMN XML with the elements already passed and those active now."""

    xml: str
    completed: list[str]
    active: list[str]
