"""BPMN messages sent by integrators."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class MessageCreate(BaseModel):
    """A message by name, with the correlation values that pick the waiting instance."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "payment_received",
                    "correlation": {"order_id": "A-17"},
                    "variables": {"paid_amount": "1490.00", "currency": "RUB"},
                }
            ]
        }
    )

    name: str = Field(min_length=1, max_length=255)
    correlation: dict[str, Any] = Field(default_factory=dict)
    variables: dict[str, Any] = Field(default_factory=dict)


class MessageRead(BaseModel):
    """Instances that caught the message, and instances it started."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"delivered_to": ["5d0c6f7e-2a51-4d6b-9d43-2f3e8f1b7a90"], "started": []}]
        }
    )

    delivered_to: list[str]
    started: list[str]
