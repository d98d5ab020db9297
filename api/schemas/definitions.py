"""Process definitions: listing, one key with its versions, deployment and validation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import Page

# Versions are a 32-bit INTEGER column; a larger number can only be "not found".
MAX_VERSION = 2**31 - 1

_DEFINITION_EXAMPLE: dict[str, Any] = {
    "key": "order_payment",
    "name": "Order payment",
    "version": 3,
    "deployed_at": "2025-03-01T09:30:00+00:00",
    "content_hash": "9f2c4e0d6b1a8c3e5f7a9b0c2d4e6f8a1b3c5d7e9f0a2b4c6d8e0f1a3b5c7d9e",
    "deployed_by": "anna",
}


class DefinitionVersionRead(BaseModel):
    """One deployed version of a process."""

    model_config = ConfigDict(from_attributes=True)

    version: int
    deployed_at: datetime
    content_hash: str
    deployed_by: str | None


class DefinitionRead(BaseModel):
    """A deployed process definition version (key = BPMN process id)."""

    model_config = ConfigDict(
        from_attributes=True, json_schema_extra={"examples": [_DEFINITION_EXAMPLE]}
    )

    key: str
    name: str
    version: int
    deployed_at: datetime
    content_hash: str
    deployed_by: str | None


class DefinitionDetailRead(DefinitionRead):
    """A definition version plus every version of its key, newest last."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_DEFINITION_EXAMPLE,
                    "versions": [
                        {
                            "version": 3,
                            "deployed_at": _DEFINITION_EXAMPLE["deployed_at"],
                            "content_hash": _DEFINITION_EXAMPLE["content_hash"],
                            "deployed_by": "anna",
                        }
                    ],
                }
            ]
        }
    )

    versions: list[DefinitionVersionRead]


class DefinitionPage(Page[DefinitionRead]):
    """A page of definitions, ordered by key and version."""


class DeployedRead(BaseModel):
    """A process the deployment touched: a new version (`created`) or the unchanged latest."""

    key: str
    version: int
    content_hash: str
    created: bool


class DeployRead(BaseModel):
    """What a deployment stored (201) or found already deployed (200)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "deployed": [
                        {
                            "key": "order_payment",
                            "version": 4,
                            "content_hash": _DEFINITION_EXAMPLE["content_hash"],
                            "created": True,
                        }
                    ]
                }
            ]
        }
    )

    deployed: list[DeployedRead]


class DeployIssueRead(BaseModel):
    """A problem found in an uploaded file, pointing at the element and line."""

    file: str | None
    element_id: str | None
    line: int | None
    msg: str


class ValidationRead(BaseModel):
    """The verdict on uploaded files; `ok` is false when any error would stop a deploy."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "ok": False,
                    "errors": [
                        {
                            "file": "order.bpmn",
                            "element_id": "Gateway_1",
                            "line": 42,
                            "msg": "exclusive gateway without a default flow has no condition",
                        }
                    ],
                    "warnings": [],
                }
            ]
        }
    )

    ok: bool
    errors: list[DeployIssueRead] = Field(default_factory=list)
    warnings: list[DeployIssueRead] = Field(default_factory=list)
