"""Admin work on people: users, groups, their roles. Functions flush, the request commits.

Refusals are ValidationFailed / ConflictError whose details carry `{"loc": [field], "msg":
<code>}` — codes the admin templates translate.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth.passwords import hash_password
from api.auth.scopes import ROLES
from api.auth.service import create_user, ensure_groups, get_user
from engine.errors import ConflictError, NotFoundError, ValidationFailed
from engine.models import User, UserGroup

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")
MIN_PASSWORD = 8


@dataclass(frozen=True)
class UserInput:
    """What the admin's user form submits."""

    username: str
    display_name: str = ""
    password: str = ""
    roles: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    is_active: bool = True
    locale: str = "ru"


def _refuse(field: str, code: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {code}", details=[{"loc": [field], "msg": code}])


def _groups(names: Iterable[str]) -> list[str]:
    cleaned = sorted({n.strip() for n in names if n.strip()})
    for name in cleaned:
        if not NAME.match(name):
            raise _refuse("groups", "invalid_name")
    return cleaned


def _roles(names: Iterable[str]) -> list[str]:
    chosen = sorted(set(names))
    if set(chosen) - ROLES:
        raise _refuse("roles", "unknown_role")
    return chosen


def list_users(session: Session) -> list[User]:
    """Every user, by name."""
    return list(session.scalars(select(User).order_by(User.username)))


def get_user_or_raise(session: Session, *, username: str) -> User:
    """The user; NotFoundError otherwise."""
    user = get_user(session, username=username)
    if user is None:
        raise NotFoundError(f"no user {username!r}")
    return user


def add_user(session: Session, *, data: UserInput) -> User:
    """A new user with a password (argon2) and roles/groups."""
    if not NAME.match(data.username):
        raise _refuse("username", "invalid_name")
    if len(data.password) < MIN_PASSWORD:
        raise _refuse("password", "password_too_short")
    if get_user(session, username=data.username) is not None:
        raise ConflictError(
            "user exists", code="user_exists", details=[{"loc": ["username"], "msg": "user_exists"}]
        )
    user = create_user(
        session,
        username=data.username,
        password=data.password,
        roles=_roles(data.roles),
        groups=_groups(data.groups),
        display_name=data.display_name.strip(),
    )
    user.locale = data.locale
    return user


def update_user(session: Session, *, data: UserInput, acting: str) -> User:
    """Change a user's name, roles, groups, activity, language and (optionally) password."""
    user = get_user_or_raise(session, username=data.username)
    roles, groups = _roles(data.roles), _groups(data.groups)
    if user.username == acting and ("admin" not in roles or not data.is_active):
        raise _refuse("roles", "keep_own_admin")  # nobody locks themselves out
    if data.password and len(data.password) < MIN_PASSWORD:
        raise _refuse("password", "password_too_short")
    ensure_groups(session, names=groups)
    user.display_name = data.display_name.strip() or user.username
    user.roles, user.groups, user.is_active = roles, groups, data.is_active
    user.locale = data.locale
    if data.password:
        user.password_hash = hash_password(data.password)
    session.flush()
    return user


def group_rows(session: Session) -> list[tuple[UserGroup, list[str]]]:
    """Every group with the usernames of its members."""
    members: dict[str, list[str]] = {}
    for user in list_users(session):
        for name in user.groups:
            members.setdefault(name, []).append(user.username)
    groups = session.scalars(select(UserGroup).order_by(UserGroup.name))
    return [(group, members.get(group.name, [])) for group in groups]


def save_group(session: Session, *, name: str, title: str) -> UserGroup:
    """Create a group or rename its title."""
    name = name.strip()
    if not NAME.match(name):
        raise _refuse("name", "invalid_name")
    group = session.get(UserGroup, name)
    if group is None:
        group = UserGroup(name=name)
        session.add(group)
    group.title = title.strip()[:200] or name
    session.flush()
    return group


def role_rows(session: Session) -> list[tuple[str, list[str]]]:
    """Every role with the usernames holding it."""
    holders: dict[str, list[str]] = {role: [] for role in sorted(ROLES)}
    for user in list_users(session):
        for role in user.roles:
            holders.setdefault(role, []).append(user.username)
    return sorted(holders.items())
