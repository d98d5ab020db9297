"""Who is calling: `current_user`, and the `require_role` / `require_scope` guards."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.auth.scopes import ROLES, SCOPES, has_scope
from api.auth.service import Principal, resolve_token
from api.deps import SessionDep
from api.errors import ApiError

# auto_error=False: a missing header must give our error body, not FastAPI's own 403.
_bearer = HTTPBearer(
    auto_error=False,
    description="`Authorization: Bearer <token>` from POST /api/auth/token or `potok token create`",
)


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


def current_user(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller behind the bearer token; 401 if it is missing, unknown or expired."""
    if credentials is None or not credentials.credentials:
        raise _unauthorized("A bearer token is required")
    principal = resolve_token(session, token=credentials.credentials)
    if principal is None:
        raise _unauthorized("The token is invalid, revoked or expired")
    return principal


CurrentUser = Annotated[Principal, Depends(current_user)]


def require_role(*roles: str) -> Callable[[Principal], Principal]:
    """A dependency that lets through callers holding one of `roles` (admins always)."""
    unknown = set(roles) - ROLES
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")

    def check(principal: CurrentUser) -> Principal:
        if "admin" in principal.roles or principal.roles.intersection(roles):
            return principal
        raise ApiError(403, "forbidden", f"This needs one of the roles: {', '.join(roles)}")

    return check


def require_scope(*scopes: str) -> Callable[[Principal], Principal]:
    """A dependency that lets through callers whose token carries one of `scopes`."""
    unknown = set(scopes) - SCOPES
    if not scopes or unknown:
        raise ValueError(f"unknown scopes {sorted(unknown)}")

    def check(principal: CurrentUser) -> Principal:
        if any(has_scope(principal.scopes, scope) for scope in scopes):
            return principal
        wanted = " or ".join(repr(s) for s in scopes)
        raise ApiError(403, "forbidden", f"The token lacks the scope {wanted}")

    return check
