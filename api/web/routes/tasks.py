"""The task page: the form, claim / unclaim / complete, the instance's history."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from api.deps import SessionDep
from api.web.forms import FormField, Parsed, build_fields, decode_file, explain, parse_submission
from api.web.inbox import process_names
from api.web.security import PageError, PostedForm, UserDep, WebUser, flash
from api.web.templating import render
from engine import queues, service
from engine.errors import (
    FormValidationError,
    NotFoundError,
    PermissionDenied,
    PotokError,
    QueuePolicyRefusal,
)
from engine.forms import readonly_fields
from engine.models import HumanTask, ProcessInstance, utcnow

router = APIRouter()


def load_task(session: Session, task_id: str, user: WebUser) -> HumanTask:
    """The task, if this user may look at it: 404 / 403 pages otherwise."""
    try:
        task = service.get_task_or_raise(session, task_id=task_id)
    except NotFoundError as exc:
        raise PageError(404, "not_found") from exc
    actor = user.actor
    if not (
        actor.is_admin
        or user.username in (task.assignee, task.completed_by)
        or actor.may_take(task.candidate_groups)
    ):
        raise PageError(403, "forbidden")
    return task


def _values(session: Session, task: HumanTask, user: WebUser) -> dict[str, Any]:
    """The form's values this user may see: the task's data, and once the task is done,
    what was submitted (the instance's variables of the form's fields)."""
    data = queues.visible_data(task, queues.policy_for(session, task), user.actor)
    if task.state == "open":
        return data
    instance = session.get(ProcessInstance, task.instance_id)
    fields = ((task.form or {}).get("schema") or {}).get("properties") or {}
    current = instance.variables if instance is not None else {}
    return data | {name: current[name] for name in fields if name in current}


def _history(session: Session, instance_id: str, limit: int = 100) -> list[Any]:
    """The instance's events, newest first; unnamed steps (plain start/end events) left out."""
    events = service.list_history(session, instance_id=instance_id)
    shown = [
        e
        for e in events
        if e.type != "element_completed" or (e.element_name and e.element_name != e.element_id)
    ]
    return shown[::-1][:limit]


def _permissions(task: HumanTask, user: WebUser) -> dict[str, Any]:
    is_open = task.state == "open"
    mine = task.assignee == user.username
    takeable = user.actor.may_take(task.candidate_groups)
    return {
        "can_claim": is_open and task.assignee is None and takeable,
        "can_unclaim": is_open and task.assignee is not None and (mine or user.is_admin),
        "can_complete": is_open and mine,
    }


def _page(
    request: Request,
    session: Session,
    task: HumanTask,
    user: WebUser,
    *,
    status_code: int = 200,
    fields: list[FormField] | None = None,
    general_errors: list[str] | None = None,
) -> Response:
    actor = user.actor
    policy = queues.policy_for(session, task)
    blind = queues.blind_for(task, policy, actor)
    data = _values(session, task, user)
    if fields is None:
        fields = build_fields(session, task.form, data, visible=set(data) if blind else None)
    instance = session.get(ProcessInstance, task.instance_id)
    history = [] if blind else _history(session, task.instance_id)
    names = {task.process_key: task.process_key}
    names.update(process_names(session, {task.process_key}))
    return render(
        request,
        "task.html",
        status_code=status_code,
        task=task,
        instance=instance,
        process_name=names[task.process_key],
        queue=queues.queue_of(task),
        policy=policy,
        blind=blind,
        data=data,
        fields=fields,
        general_errors=general_errors or [],
        history=history,
        labels={
            name: str(prop.get("title") or name)
            for name, prop in ((task.form or {}).get("schema") or {}).get("properties", {}).items()
            if isinstance(prop, dict)
        },
        **_permissions(task, user),
    )


@router.get("/tasks/{task_id}")
def task_page(task_id: str, request: Request, session: SessionDep, user: UserDep) -> Response:
    """A task with its form, instructions and the instance's history."""
    task = load_task(session, task_id, user)
    if task.state == "open" and task.assignee == user.username:
        queues.touch_activity(session, task_id=task.id, username=user.username, now=utcnow())
    return _page(request, session, task, user)


@router.get("/tasks/{task_id}/status")
def task_status(task_id: str, request: Request, session: SessionDep, user: UserDep) -> Response:
    """Who holds the task now (refreshed live on the task page)."""
    task = load_task(session, task_id, user)
    return render(request, "_task_status.html", task=task, **_permissions(task, user))


def _back(task_id: str, origin: str) -> RedirectResponse:
    target = "/inbox" if origin == "inbox" else f"/tasks/{task_id}"
    return RedirectResponse(target, status_code=303)


def _refused(request: Request, exc: PotokError) -> None:
    params: dict[str, Any] = {}
    for detail in exc.details:
        if isinstance(detail, dict):
            params.update({k: v for k, v in detail.items() if k in ("queue", "retry_after")})
    flash(request, exc.code, "error", **params)


@router.post("/tasks/{task_id}/claim")
def claim(
    task_id: str,
    request: Request,
    session: SessionDep,
    user: UserDep,
    origin: Annotated[str, Form(alias="from", max_length=10)] = "task",
) -> RedirectResponse:
    """Take the task (first click wins; the queue's policy may refuse)."""
    load_task(session, task_id, user)
    try:
        with session.begin_nested():
            service.claim_task(session, task_id=task_id, actor=user.actor)
    except (QueuePolicyRefusal, PermissionDenied) as exc:
        _refused(request, exc)
        return _back(task_id, origin)
    except PotokError as exc:  # already claimed / completed
        task = service.get_task_or_raise(session, task_id=task_id, refresh=True)
        flash(request, exc.code, "error", who=task.assignee or "")
        return _back(task_id, origin)
    flash(request, "claimed")
    return RedirectResponse(f"/tasks/{task_id}", status_code=303)


@router.post("/tasks/{task_id}/unclaim")
def unclaim(task_id: str, request: Request, session: SessionDep, user: UserDep) -> RedirectResponse:
    """Give the task back to its queue."""
    load_task(session, task_id, user)
    try:
        with session.begin_nested():
            service.unclaim_task(session, task_id=task_id, actor=user.actor)
    except PotokError as exc:
        _refused(request, exc)
        return _back(task_id, "task")
    flash(request, "unclaimed")
    return RedirectResponse("/inbox", status_code=303)


def _with_readonly(task: HumanTask, data: dict[str, Any]) -> dict[str, Any]:
    merged = dict(data)
    for name in readonly_fields(task.form.get("ui_schema")):
        merged.pop(name, None)
        if name in task.data:
            merged[name] = task.data[name]
    return merged


def _invalid(
    request: Request,
    session: Session,
    task: HumanTask,
    user: WebUser,
    parsed: Parsed,
    details: list[dict[str, Any]] | None = None,
) -> Response:
    """The page again with the user's input and an error next to each refused field.

    Fields that could not even be read keep that error; every other field is checked against
    the schema too, so the user sees all problems at once.
    """
    explained, general = explain(task.form, _with_readonly(task, parsed.data), details or [])
    errors = {**explained, **parsed.errors}
    values = {**task.data, **parsed.data}
    fields = build_fields(session, task.form, values, errors=errors, raw=parsed.raw)
    queues.touch_activity(session, task_id=task.id, username=user.username, now=utcnow())
    return _page(
        request, session, task, user, status_code=422, fields=fields, general_errors=general
    )


@router.post("/tasks/{task_id}/complete")
def complete(
    task_id: str, request: Request, session: SessionDep, user: UserDep, posted: PostedForm
) -> Response:
    """Validate the form on the server; complete the task or show the errors."""
    task = load_task(session, task_id, user)
    if not _permissions(task, user)["can_complete"]:
        flash(request, "claim_first" if task.state == "open" else "task_already_completed", "error")
        return _back(task_id, "task")
    max_bytes = request.app.state.settings.max_upload_bytes
    parsed = parse_submission(session, task.form, posted, task.data, max_file_bytes=max_bytes)
    if parsed.errors:
        return _invalid(request, session, task, user, parsed)
    try:
        with session.begin_nested():
            service.complete_task(session, task_id=task_id, data=parsed.data, actor=user.actor)
    except FormValidationError as exc:
        return _invalid(request, session, task, user, parsed, exc.details)
    except PotokError as exc:
        _refused(request, exc)
        return _back(task_id, "task")
    flash(request, "completed", name=task.name)
    return RedirectResponse("/inbox", status_code=303)


@router.get("/tasks/{task_id}/files/{field}")
def download(
    task_id: str, field: str, request: Request, session: SessionDep, user: UserDep
) -> Response:
    """A file stored in the task's data, as a download (never rendered inline)."""
    task = load_task(session, task_id, user)
    decoded = decode_file(_values(session, task, user).get(field))
    if decoded is None:
        raise PageError(404, "not_found")
    name, _mime, content = decoded
    return Response(
        content,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
            "X-Content-Type-Options": "nosniff",
        },
    )
