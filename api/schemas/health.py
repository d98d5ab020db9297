"""Health check response."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class HealthRead(BaseModel):
    """Whether potok and what it depends on are up; always 200, `degraded` if something is down."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"status": "ok", "database": "ok", "broker": "embedded", "version": "0.1.0"}
            ]
        }
    )

    status: Literal["ok", "degraded"]
    database: Literal["ok", "down"]
    broker: Literal["ok", "embedded", "down"] = Field(
        description='"embedded" when no external broker is configured'
    )
    version: str
