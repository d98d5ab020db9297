"""Shapes shared by every domain: the one error body and the cursor page."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class ErrorInfo(BaseModel):
    """What went wrong: a stable snake_case code, a human message and structured details."""

    code: str = Field(description="Stable snake_case error code", examples=["not_found"])
    message: str = Field(description="Human-readable explanation")
    details: list[Any] = Field(default_factory=list, description="Field or element details")


class ErrorRead(BaseModel):
    """The body of every 4xx/5xx response."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": {
                        "code": "validation_error",
                        "message": "The request is invalid",
                        "details": [{"loc": ["body", "username"], "msg": "Field required"}],
                    }
                }
            ]
        }
    )

    error: ErrorInfo


class Page(BaseModel, Generic[T]):
    """One page of a list; pass `next_cursor` back as `cursor` to get the next one."""

    items: list[T]
    next_cursor: str | None = Field(
        default=None, description="Opaque cursor of the next page; null on the last page"
    )


Responses = dict[int | str, dict[str, Any]]


def error_docs(*entries: tuple[int, str]) -> Responses:
    """OpenAPI `responses` entries documenting our error body for each (status, description)."""
    return {status: {"model": ErrorRead, "description": text} for status, text in entries}
