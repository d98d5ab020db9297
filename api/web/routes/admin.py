"""Admin pages: users, groups, roles, queue policies (admins only)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth.scopes import ROLE_SCOPES, ROLES
from api.deps import SessionDep
from api.web import people
from api.web.i18n import LOCALES
from api.web.security import AdminDep, PageError, PostedForm, flash
from api.web.templating import render
from engine import queues
from engine.errors import NotFoundError, PotokError
from engine.models import UserGroup, utcnow

router = APIRouter(prefix="/admin")


def _errors(exc: PotokError) -> dict[str, str]:
    """{field: code} from a refusal's details."""
    found: dict[str, str] = {}
    for detail in exc.details:
        loc = detail.get("loc") if isinstance(detail, dict) else None
        if loc:
            found[str(loc[-1])] = str(detail.get("msg", "invalid"))
    return found or {"_": exc.code}


def _text(posted: Any, name: str, limit: int = 200) -> str:
    value = posted.get(name)
    return str(value).strip()[:limit] if isinstance(value, str) else ""


def _number(posted: Any, name: str) -> int:
    text = _text(posted, name, 12)
    try:
        return int(text) if text else 0
    except ValueError:
        return -1  # refused by the policy check, shown next to the field


def _group_names(session: Session) -> list[str]:
    return list(session.scalars(select(UserGroup.name).order_by(UserGroup.name)))


def _form_page(
    request: Request,
    template: str,
    section: str,
    status_code: int,
    context: dict[str, Any],
    **data: Any,
) -> Response:
    """An admin page with a form: `context` is what the caller passed (errors default to none)."""
    context.setdefault("errors", {})
    return render(request, template, status_code=status_code, section=section, **data, **context)


def _save(
    request: Request,
    session: Session,
    change: Callable[[], object],
    refused: Callable[[PotokError], Response],
    saved: tuple[str, str],
    location: str,
) -> Response:
    """Make `change` in a savepoint: on success flash `saved` (code, name) and go to
    `location`; a refusal rolls back to the savepoint and answers `refused(exc)`."""
    try:
        with session.begin_nested():
            change()
    except PotokError as exc:
        return refused(exc)
    code, name = saved
    flash(request, code, name=name)
    return RedirectResponse(location, status_code=303)


@router.get("")
def admin_home() -> RedirectResponse:
    """The users page is the admin's start page."""
    return RedirectResponse("/admin/users", status_code=303)


# --- users --------------------------------------------------------------------------------


def _user_input(posted: Any, username: str | None = None) -> people.UserInput:
    extra = [g for g in _text(posted, "new_groups", 1000).split(",") if g.strip()]
    locale = _text(posted, "locale", 8)
    return people.UserInput(
        username=username or _text(posted, "username", 150),
        display_name=_text(posted, "display_name"),
        password=str(posted.get("password") or "")[:1000],
        roles=tuple(str(r) for r in posted.getlist("roles")),
        groups=tuple(str(g) for g in posted.getlist("groups")) + tuple(extra),
        is_active=posted.get("is_active") == "on",
        locale=locale if locale in LOCALES else "ru",
    )


def _users_page(
    request: Request, session: Session, status_code: int = 200, **context: Any
) -> Response:
    context.setdefault("draft", None)
    return _form_page(
        request,
        "admin/users.html",
        "users",
        status_code,
        context,
        users=people.list_users(session),
        roles=sorted(ROLES),
        groups=_group_names(session),
        now=utcnow(),
    )


@router.get("/users")
def users_page(request: Request, session: SessionDep, _admin: AdminDep) -> Response:
    """Every user, and the form for a new one."""
    return _users_page(request, session)


@router.post("/users")
def create_user(
    request: Request, session: SessionDep, _admin: AdminDep, posted: PostedForm
) -> Response:
    """Add a user."""
    data = _user_input(posted)
    return _save(
        request,
        session,
        lambda: people.add_user(session, data=data),
        lambda exc: _users_page(request, session, 422, errors=_errors(exc), draft=data),
        ("user_saved", data.username),
        "/admin/users",
    )


def _user_page(
    request: Request, session: Session, username: str, status_code: int = 200, **context: Any
) -> Response:
    try:
        user = people.get_user_or_raise(session, username=username)
    except NotFoundError as exc:
        raise PageError(404, "not_found") from exc
    return _form_page(
        request,
        "admin/user.html",
        "users",
        status_code,
        context,
        profile=user,
        roles=sorted(ROLES),
        groups=_group_names(session),
        locales=LOCALES,
    )


@router.get("/users/{username}")
def user_page(username: str, request: Request, session: SessionDep, _admin: AdminDep) -> Response:
    """One user's roles, groups and account."""
    return _user_page(request, session, username)


@router.post("/users/{username}")
def save_user(
    username: str, request: Request, session: SessionDep, admin: AdminDep, posted: PostedForm
) -> Response:
    """Change a user."""
    try:
        with session.begin_nested():
            people.update_user(session, data=_user_input(posted, username), acting=admin.username)
    except NotFoundError as exc:
        raise PageError(404, "not_found") from exc
    except PotokError as exc:
        return _user_page(request, session, username, 422, errors=_errors(exc))
    flash(request, "user_saved", name=username)
    return RedirectResponse(f"/admin/users/{username}", status_code=303)


# --- groups and roles ---------------------------------------------------------------------


def _groups_page(
    request: Request, session: Session, status_code: int = 200, **context: Any
) -> Response:
    return _form_page(
        request,
        "admin/groups.html",
        "groups",
        status_code,
        context,
        groups=people.group_rows(session),
    )


@router.get("/groups")
def groups_page(request: Request, session: SessionDep, _admin: AdminDep) -> Response:
    """Every group with its members."""
    return _groups_page(request, session)


@router.post("/groups")
def save_group(
    request: Request, session: SessionDep, _admin: AdminDep, posted: PostedForm
) -> Response:
    """Create a group or change its title."""
    name = _text(posted, "name", 100)
    return _save(
        request,
        session,
        lambda: people.save_group(session, name=name, title=_text(posted, "title")),
        lambda exc: _groups_page(request, session, 422, errors=_errors(exc)),
        ("group_saved", name),
        "/admin/groups",
    )


@router.get("/roles")
def roles_page(request: Request, session: SessionDep, _admin: AdminDep) -> Response:
    """The roles, what each allows, and who holds them."""
    return render(
        request,
        "admin/roles.html",
        roles=people.role_rows(session),
        scopes={role: sorted(scopes) for role, scopes in ROLE_SCOPES.items()},
        section="roles",
    )


# --- queue policies -----------------------------------------------------------------------


def _policy_input(posted: Any) -> queues.PolicyInput:
    fields = _text(posted, "visible_fields", 2000).replace("\n", ",").split(",")
    return queues.PolicyInput(
        name=_text(posted, "name", 100),
        blind=posted.get("blind") == "on",
        visible_fields=tuple(f.strip() for f in fields if f.strip()),
        fifo=posted.get("fifo") == "on",
        cooldown_seconds=_number(posted, "cooldown_seconds"),
        online_only=posted.get("online_only") == "on",
        return_after_minutes=_number(posted, "return_after_minutes"),
    )


def _queues_page(
    request: Request, session: Session, status_code: int = 200, **context: Any
) -> Response:
    context.setdefault("draft", None)
    return _form_page(
        request,
        "admin/queues.html",
        "queues",
        status_code,
        context,
        policies=queues.list_policies(session),
        known=queues.known_queues(session),
    )


@router.get("/queues")
def queues_page(
    request: Request, session: SessionDep, _admin: AdminDep, edit: str | None = None
) -> Response:
    """Every queue policy, and the form to add or change one (`?edit=<queue>`)."""
    draft = queues.get_policy(session, name=edit) if edit else None
    return _queues_page(request, session, draft=draft)


@router.post("/queues")
def save_policy(
    request: Request, session: SessionDep, admin: AdminDep, posted: PostedForm
) -> Response:
    """Create or change the policy of one queue."""
    data = _policy_input(posted)
    return _save(
        request,
        session,
        lambda: queues.save_policy(session, data=data, actor=admin.actor),
        lambda exc: _queues_page(request, session, 422, errors=_errors(exc), draft=data),
        ("policy_saved", data.name),
        "/admin/queues",
    )


@router.post("/queues/{name}/delete")
def delete_policy(name: str, request: Request, session: SessionDep, _admin: AdminDep) -> Response:
    """Remove a queue's policy."""
    try:
        queues.delete_policy(session, name=name)
    except NotFoundError as exc:
        raise PageError(404, "not_found") from exc
    flash(request, "policy_deleted", name=name)
    return RedirectResponse("/admin/queues", status_code=303)
