"""Roles of people and scopes of tokens, and which scopes each role may hold.

A password-login token carries every scope the user's roles allow. An integration token
carries the scopes it was created with, but only those its user's roles still allow count.
"""

from __future__ import annotations

from collections.abc import Iterable

ROLES = frozenset({"admin", "analyst", "manager", "warehouse", "accountant"})

ALL = "*"
READ = "read"
PROCESSES_START = "processes:start"
MESSAGES_SEND = "messages:send"
TASKS = "tasks"
DEFINITIONS_DEPLOY = "definitions:deploy"
INCIDENTS = "incidents"
ADMIN = "admin"

SCOPES = frozenset(
    {ALL, READ, PROCESSES_START, MESSAGES_SEND, TASKS, DEFINITIONS_DEPLOY, INCIDENTS, ADMIN}
)

_TASK_WORKER = frozenset({READ, TASKS, PROCESSES_START, MESSAGES_SEND})
ROLE_SCOPES: dict[str, frozenset[str]] = {
    "admin": frozenset({ALL}),
    "analyst": frozenset({READ, DEFINITIONS_DEPLOY, PROCESSES_START, MESSAGES_SEND, INCIDENTS}),
    "manager": _TASK_WORKER,
    "warehouse": _TASK_WORKER,
    "accountant": _TASK_WORKER,
}


def scopes_for_roles(roles: Iterable[str]) -> frozenset[str]:
    """Every scope the given roles allow (unknown roles allow nothing)."""
    allowed: set[str] = set()
    for role in roles:
        allowed |= ROLE_SCOPES.get(role, frozenset())
    return frozenset(allowed)


def effective_scopes(token_scopes: Iterable[str], roles: Iterable[str]) -> frozenset[str]:
    """The scopes a token really has: its own, limited to what its user's roles allow."""
    granted = frozenset(token_scopes)
    allowed = scopes_for_roles(roles)
    if ALL in allowed:
        return granted
    if ALL in granted:
        return allowed
    return granted & allowed


def has_scope(scopes: Iterable[str], needed: str) -> bool:
    """True if `scopes` include `needed` (or the wildcard)."""
    held = frozenset(scopes)
    return ALL in held or needed in held
