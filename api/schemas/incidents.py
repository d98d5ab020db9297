"""Incidents: failures that wait for a person (exhausted retries, permanent errors)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from api.schemas.common import Page


class IncidentRead(BaseModel):
    """A failed step of an instance, retryable from the API."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 12,
                    "instance_id": "5d0c6f7e-2a51-4d6b-9d43-2f3e8f1b7a90",
                    "element_id": "create_shipment",
                    "operator": "cdek.create_order",
                    "error_code": "connector_timeout",
                    "message": "CDEK did not answer within 10 s (5 attempts)",
                    "attempts": 5,
                    "state": "open",
                    "created_at": "2025-03-01T10:20:00+00:00",
                }
            ]
        },
    )

    id: int
    instance_id: str
    element_id: str
    operator: str | None
    error_code: str
    message: str
    attempts: int
    state: str
    created_at: datetime


class IncidentPage(Page[IncidentRead]):
    """A page of incidents, oldest first."""
