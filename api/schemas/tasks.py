"""Human tasks: the inbox item, its form, and completing it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import Page
from api.schemas.instances import InstanceRead


class TaskFormRead(BaseModel):
    """The JSON Schema of the task's form and its UI schema."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    # "schema" would shadow a BaseModel attribute; the alias keeps the wire name.
    json_schema: dict[str, Any] = Field(default_factory=dict, alias="schema")
    ui_schema: dict[str, Any] = Field(default_factory=dict)


class TaskRead(BaseModel):
    """A human task in someone's queue."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0b9e3c1a-7d0f-4a7b-9a5e-1c2d3e4f5a6b",
                    "instance_id": "5d0c6f7e-2a51-4d6b-9d43-2f3e8f1b7a90",
                    "process_key": "order_review",
                    "element_id": "review_order",
                    "name": "Review order",
                    "lane": "managers",
                    "candidate_groups": ["managers"],
                    "assignee": None,
                    "state": "open",
                    "business_key": "A-17",
                    "created_at": "2025-03-01T10:00:00+00:00",
                    "due_at": None,
                    "form": {
                        "schema": {
                            "type": "object",
                            "properties": {"decision": {"enum": ["approve", "reject"]}},
                        },
                        "ui_schema": {},
                    },
                    "data": {"amount": 70},
                    "instructions": "Check the **order**.",
                }
            ]
        }
    )

    id: str
    instance_id: str
    process_key: str
    element_id: str
    name: str
    lane: str | None
    candidate_groups: list[str]
    assignee: str | None
    state: str = Field(description="open | completed | cancelled")
    business_key: str | None = None
    created_at: datetime
    due_at: datetime | None
    form: TaskFormRead
    data: dict[str, Any] = Field(description="What the form shows (pre-filled values)")
    instructions: str | None = None


class TaskPage(Page[TaskRead]):
    """A page of tasks, oldest first (queue order)."""


class TaskComplete(BaseModel):
    """The form data the user submitted."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"data": {"decision": "approve", "size": 44}}]}
    )

    data: dict[str, Any] = Field(default_factory=dict)


class TaskCompleteRead(BaseModel):
    """The completed task and the instance after it ran on."""

    task: TaskRead
    instance: InstanceRead
