"""POST /api/auth/token: exchange a username and password for a bearer token."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter

from api.auth.deps import CurrentUser
from api.auth.service import authenticate, issue_token
from api.deps import SessionDep, SettingsDep
from api.errors import ApiError
from api.schemas.auth import MeRead, TokenCreate, TokenRead
from api.schemas.common import error_docs

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post(
    "/token",
    response_model=TokenRead,
    summary="Log in",
    responses=error_docs((401, "Wrong username or password")),
)
def create_token(body: TokenCreate, session: SessionDep, settings: SettingsDep) -> TokenRead:
    """A token with every scope the user's roles allow, valid for `token_ttl_minutes`."""
    user = authenticate(session, username=body.username, password=body.password)
    if user is None:
        raise ApiError(401, "invalid_credentials", "Wrong username or password")
    issued = issue_token(
        session, user=user, ttl=timedelta(minutes=settings.token_ttl_minutes), name="login"
    )
    assert issued.row.expires_at is not None
    return TokenRead(
        access_token=issued.token, expires_at=issued.row.expires_at, scopes=issued.row.scopes
    )


@router.get(
    "/me",
    response_model=MeRead,
    summary="Who am I?",
    responses=error_docs((401, "Missing, invalid or expired token")),
)
def read_me(principal: CurrentUser) -> MeRead:
    """The user, groups, roles and effective scopes behind the bearer token."""
    return MeRead(
        username=principal.username,
        roles=sorted(principal.roles),
        groups=sorted(principal.groups),
        scopes=sorted(principal.scopes),
    )
