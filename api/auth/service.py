"""Users and API tokens: create, authenticate, issue and resolve. Functions only flush."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth.passwords import dummy_hash, hash_password, needs_rehash, verify_password
from api.auth.scopes import ROLES, SCOPES, effective_scopes, scopes_for_roles
from engine.actor import Actor
from engine.errors import ConflictError, NotFoundError, ValidationFailed
from engine.models import ApiToken, User, UserGroup, utcnow


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of a request: a user acting through one token."""

    user_id: int
    username: str
    roles: frozenset[str]
    groups: frozenset[str]
    scopes: frozenset[str]
    token_id: int

    @property
    def actor(self) -> Actor:
        """The caller as the engine sees it."""
        return Actor(username=self.username, groups=self.groups, roles=self.roles)


@dataclass(frozen=True)
class IssuedToken:
    """A freshly issued token: the plain value is shown once and never stored."""

    token: str
    row: ApiToken


def hash_token(token: str) -> str:
    """The stored form of a token (sha256; tokens are random, so no salt is needed)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _check_names(values: Iterable[str], allowed: frozenset[str], what: str) -> list[str]:
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise ValidationFailed(
            f"unknown {what}: {', '.join(unknown)}",
            details=[{"loc": [what], "msg": f"allowed: {', '.join(sorted(allowed))}"}],
        )
    return sorted(set(values))


def get_user(session: Session, *, username: str) -> User | None:
    """The user called `username`, or None."""
    return session.scalar(select(User).where(User.username == username))


def get_user_or_raise(session: Session, *, username: str) -> User:
    """The user called `username`; NotFoundError otherwise."""
    user = get_user(session, username=username)
    if user is None:
        raise NotFoundError(f"no user {username!r}")
    return user


def ensure_groups(session: Session, *, names: Iterable[str]) -> None:
    """Create the groups that do not exist yet."""
    for name in names:
        if session.get(UserGroup, name) is None:
            session.add(UserGroup(name=name, title=name))
    session.flush()


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    roles: Iterable[str] = (),
    groups: Iterable[str] = (),
    display_name: str = "",
) -> User:
    """Create a user with an argon2 password hash; ConflictError if the name is taken."""
    if get_user(session, username=username) is not None:
        raise ConflictError(f"user {username!r} already exists", code="user_exists")
    group_names = sorted(set(groups))
    ensure_groups(session, names=group_names)
    user = User(
        username=username,
        display_name=display_name or username,
        password_hash=hash_password(password),
        roles=_check_names(roles, ROLES, "roles"),
        groups=group_names,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, *, username: str, password: str) -> User | None:
    """The active user whose password matches, or None (same work either way)."""
    user = get_user(session, username=username)
    if user is None or not user.is_active:
        verify_password(dummy_hash(), password)
        return None
    if not verify_password(user.password_hash, password):
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def issue_token(
    session: Session,
    *,
    user: User,
    scopes: Iterable[str] | None = None,
    ttl: timedelta | None = None,
    name: str = "",
) -> IssuedToken:
    """Store a new random token for `user`; default scopes are all its roles allow."""
    chosen = scopes_for_roles(user.roles) if scopes is None else frozenset(scopes)
    _check_names(chosen, SCOPES, "scopes")
    beyond = chosen - effective_scopes(chosen, user.roles)
    if beyond:
        # Refused now rather than silently inert later: the user's roles cap the token.
        raise ValidationFailed(
            f"the roles of {user.username!r} do not allow: {', '.join(sorted(beyond))}",
            details=[{"loc": ["scopes"], "msg": "give the user a role that allows these"}],
        )
    token = secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=user.id,
        token_hash=hash_token(token),
        name=name,
        scopes=sorted(chosen),
        expires_at=utcnow() + ttl if ttl is not None else None,
    )
    session.add(row)
    session.flush()
    return IssuedToken(token=token, row=row)


def resolve_token(session: Session, *, token: str, now: datetime | None = None) -> Principal | None:
    """The caller behind a bearer token, or None if unknown, revoked, expired or inactive."""
    found = session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == hash_token(token))
    ).first()
    if found is None:
        return None
    row, user = found
    if row.revoked or not user.is_active:
        return None
    if row.expires_at is not None and row.expires_at <= (now or utcnow()):
        return None
    return Principal(
        user_id=user.id,
        username=user.username,
        roles=frozenset(user.roles),
        groups=frozenset(user.groups),
        scopes=effective_scopes(row.scopes, user.roles),
        token_id=row.id,
    )
