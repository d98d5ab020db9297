"""Who is using the web UI: the signed session cookie, the CSRF token, and the guards.

The session (Starlette's SessionMiddleware, signed with a key derived from
settings.secret_key; HttpOnly, SameSite=Lax) holds the user id, a fingerprint of the user's
password hash (changing the password ends every other session), the CSRF token, the chosen
locale and pending flash messages. Every unsafe request must echo the CSRF token, as the
`csrf_token` form field or the `X-CSRF-Token` header (htmx), or it is refused with 403.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from api.deps import SessionDep
from engine.actor import Actor
from engine.models import User

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
_USER, _PASSWORD, _CSRF, _FLASH = "uid", "pwf", "csrf", "flash"


class LoginRequired(Exception):
    """No (valid) session: the browser goes to the login page."""


class CsrfRefused(Exception):
    """An unsafe request without the session's CSRF token."""


class PageError(Exception):
    """A page that cannot be shown to this user: rendered as an error page with `status`."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(code)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class WebUser:
    """The signed-in person, as the pages need them."""

    id: int
    username: str
    display_name: str
    roles: frozenset[str]
    groups: frozenset[str]

    @property
    def actor(self) -> Actor:
        """The user as the engine sees them."""
        return Actor(username=self.username, groups=self.groups, roles=self.roles)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


def session_secret(secret_key: str) -> str:
    """The session-signing key: derived, so it differs from any other use of the secret."""
    return hmac.new(secret_key.encode(), b"potok-web-session", hashlib.sha256).hexdigest()


def _fingerprint(request: Request, password_hash: str) -> str:
    key = request.app.state.settings.secret_key.encode()
    return hmac.new(key, password_hash.encode(), hashlib.sha256).hexdigest()[:32]


def csrf_token(request: Request) -> str:
    """This session's CSRF token (created on first use)."""
    if "session" not in request.scope:
        return ""
    token = request.session.get(_CSRF)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        request.session[_CSRF] = token
    return token


async def csrf_protect(request: Request) -> None:
    """Refuse an unsafe request that does not carry the session's CSRF token."""
    if request.method in SAFE_METHODS:
        return
    sent: Any = request.headers.get(CSRF_HEADER)
    if not sent:
        form = await request.form()  # cached by Starlette: the route reads the same form
        sent = form.get(CSRF_FIELD)
    expected = request.session.get(_CSRF)
    if not isinstance(sent, str) or not isinstance(expected, str) or not expected:
        raise CsrfRefused()
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfRefused()


def sign_in(request: Request, user: User) -> None:
    """Start a session for `user` (a fresh CSRF token: no token survives the login)."""
    locale = request.session.get("locale")
    request.session.clear()
    request.session.update({_USER: user.id, _PASSWORD: _fingerprint(request, user.password_hash)})
    request.session["locale"] = locale or user.locale
    csrf_token(request)


def sign_out(request: Request) -> None:
    """End the session (the locale choice stays)."""
    locale = request.session.get("locale")
    request.session.clear()
    if locale:
        request.session["locale"] = locale


def session_user(request: Request, session: Session) -> WebUser | None:
    """The user of this session, if it is still valid (active, same password)."""
    user_id = request.session.get(_USER) if "session" in request.scope else None
    if not isinstance(user_id, int):
        return None
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        return None
    if not hmac.compare_digest(
        str(request.session.get(_PASSWORD, "")), _fingerprint(request, user.password_hash)
    ):
        return None
    found = WebUser(
        id=user.id,
        username=user.username,
        display_name=user.display_name or user.username,
        roles=frozenset(user.roles),
        groups=frozenset(user.groups),
    )
    request.state.web_user = found
    return found


def require_user(request: Request, session: SessionDep) -> WebUser:
    """The signed-in user; otherwise the browser is sent to the login page."""
    user = session_user(request, session)
    if user is None:
        raise LoginRequired()
    return user


def require_admin(user: Annotated[WebUser, Depends(require_user)]) -> WebUser:
    """The signed-in admin; 403 for everyone else."""
    if not user.is_admin:
        raise PageError(403, "forbidden")
    return user


async def posted_form(request: Request) -> FormData:
    """The posted form (already parsed and cached by the CSRF check)."""
    return await request.form()


PostedForm = Annotated[FormData, Depends(posted_form)]
UserDep = Annotated[WebUser, Depends(require_user)]
AdminDep = Annotated[WebUser, Depends(require_admin)]


def flash(request: Request, code: str, kind: str = "ok", **params: Any) -> None:
    """Queue a message (a code the templates translate) for the next full page."""
    pending = list(request.session.get(_FLASH) or [])
    pending.append({"code": code, "kind": kind, "params": params})
    request.session[_FLASH] = pending[-5:]


def pop_flashes(request: Request) -> list[dict[str, Any]]:
    """The queued messages, removed from the session."""
    if "session" not in request.scope:
        return []
    pending = request.session.pop(_FLASH, None)
    return list(pending or [])
