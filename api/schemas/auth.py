"""Password login and the bearer token it returns."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class TokenCreate(BaseModel):
    """Username and password of a potok user."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"username": "olga", "password": "correct horse"}]}
    )

    username: str = Field(min_length=1, max_length=150)
    password: str = Field(min_length=1, max_length=1024)


class TokenRead(BaseModel):
    """A bearer token for `Authorization: Bearer <access_token>`, valid until `expires_at`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "Zk3q9V2h1oX0d9r3m2fWcQ2b6vQp0sYwB9cT8kqkq0E",
                    "token_type": "bearer",
                    "expires_at": "2025-03-01T21:00:00+00:00",
                }
            ]
        }
    )

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime
    scopes: list[str] = Field(default_factory=list, description="What the token may do")


class MeRead(BaseModel):
    """The caller behind the token: who, in which groups, with which roles and scopes."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "username": "olga",
                    "roles": ["manager"],
                    "groups": ["sales"],
                    "scopes": ["messages:send", "processes:start", "read", "tasks"],
                }
            ]
        }
    )

    username: str
    roles: list[str]
    groups: list[str]
    scopes: list[str]
