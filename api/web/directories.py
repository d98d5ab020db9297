"""Directories a form field can select from: `ui:options: {"directory": "<name>"}`.

A directory is a function (session, options) → [(value, label)]. Built in: `users` (optionally
`"group": "<name>"`) and `groups`. Other packages register theirs (a carrier's branches, the
shop's price lists) with `register_directory` when the app is built.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session

from engine.models import User, UserGroup

Option = tuple[str, str]
Directory = Callable[[Session, dict[str, Any]], list[Option]]
MAX_OPTIONS = 1000

_registry: dict[str, Directory] = {}


def register_directory(name: str, directory: Directory) -> None:
    """Make `directory` selectable as `ui:options.directory = name`."""
    _registry[name] = directory


def options(session: Session, name: str, ui_options: dict[str, Any]) -> list[Option] | None:
    """The entries of directory `name`, or None if there is no such directory."""
    directory = _registry.get(name)
    if directory is None:
        return None
    return directory(session, ui_options)[:MAX_OPTIONS]


def _users(session: Session, ui_options: dict[str, Any]) -> list[Option]:
    stmt = select(User.username, User.display_name).where(User.is_active.is_(True))
    group = ui_options.get("group")
    if isinstance(group, str) and group:
        stmt = stmt.where(cast(User.groups, String).like(f"%{json.dumps(group)}%"))
    rows = session.execute(stmt.order_by(User.display_name, User.username))
    return [(username, display or username) for username, display in rows]


def _groups(session: Session, _ui_options: dict[str, Any]) -> list[Option]:
    rows = session.execute(select(UserGroup.name, UserGroup.title).order_by(UserGroup.name))
    return [(name, title or name) for name, title in rows]


register_directory("users", _users)
register_directory("groups", _groups)
