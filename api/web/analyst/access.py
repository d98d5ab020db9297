"""Who may use the analyst workspace: analysts and admins; everyone else gets 403.

Pages raise the web UI's `PageError` (an HTML error page); the JSON endpoints the modeler
calls with `fetch` answer with the API's error body instead, so the script can show them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.deps import SessionDep
from api.errors import ApiError
from api.web.security import PageError, UserDep, WebUser, session_user

ANALYST_ROLES = frozenset({"analyst", "admin"})


def is_analyst(user: WebUser | None) -> bool:
    """True if `user` may see the analyst workspace (the menu asks this too)."""
    return user is not None and bool(user.roles & ANALYST_ROLES)


def require_analyst(user: UserDep) -> WebUser:
    """The signed-in analyst or admin; a 403 page for everyone else."""
    if not is_analyst(user):
        raise PageError(403, "forbidden")
    return user


def require_analyst_api(request: Request, session: SessionDep) -> WebUser:
    """Like `require_analyst`, for `fetch` calls: 401/403 as JSON error bodies."""
    user = session_user(request, session)
    if user is None:
        raise ApiError(401, "unauthorized", "Sign in first")
    if not is_analyst(user):
        raise ApiError(403, "forbidden", "Only analysts and admins may do this")
    return user


AnalystDep = Annotated[WebUser, Depends(require_analyst)]
AnalystApiDep = Annotated[WebUser, Depends(require_analyst_api)]
