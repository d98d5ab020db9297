"""The inbox's read side: my tasks, the queue I may take from, what I did; filters, search.

Only SELECTs over the engine's projections (`human_task`, `instance_variable`,
`process_definition`) plus the queue policies of `engine.queues`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, String, and_, cast, exists, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from api.queries import TaskFilters, tasks_query
from api.web.templating import DISPLAY_TIMEZONE
from engine import queues
from engine.actor import Actor
from engine.models import HumanTask, InstanceVariable, ProcessDefinition

TABS = ("mine", "queue", "done")
DUE_FILTERS = ("overdue", "today", "week", "none")
LIMIT = 200
# Variables searched as phone numbers: their digits are compared, not their formatting.
PHONE_NAMES = ("%phone%", "%телефон%", "%tel%")  # i18n: data (variable names, not UI text)


@dataclass(frozen=True)
class InboxQuery:
    """What the inbox is asked to show."""

    tab: str = "queue"
    process: str | None = None
    step: str | None = None
    due: str | None = None
    q: str | None = None

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> InboxQuery:
        """From query parameters; unknown values fall back to defaults."""

        def clean(name: str) -> str | None:
            value = params.get(name)
            return str(value).strip()[:200] or None if value else None

        tab = clean("tab") or "queue"
        due = clean("due")
        return cls(
            tab=tab if tab in TABS else "queue",
            process=clean("process"),
            step=clean("step"),
            due=due if due in DUE_FILTERS else None,
            q=clean("q"),
        )

    def params(self, **override: Any) -> dict[str, str]:
        """As query parameters (for links), with some values replaced."""
        values = {
            "tab": self.tab,
            "process": self.process,
            "step": self.step,
            "due": self.due,
            "q": self.q,
        } | override
        return {k: str(v) for k, v in values.items() if v}


@dataclass
class InboxRow:
    """One task as a row of the inbox."""

    task: HumanTask
    process_name: str
    queue: str | None
    blind: bool
    data: dict[str, Any]
    overdue: bool
    summary: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Inbox:
    """Everything the inbox page shows."""

    query: InboxQuery
    rows: list[InboxRow]
    counts: dict[str, int]
    truncated: bool
    hidden: list[queues.HiddenQueue]
    processes: list[tuple[str, str]] = field(default_factory=list)
    steps: list[tuple[str, str]] = field(default_factory=list)


def summary(task: HumanTask, data: dict[str, Any], limit: int = 3) -> list[tuple[str, str]]:
    """A few short (label, value) pairs of the task's data, in form order, for its row."""
    schema = (task.form or {}).get("schema") or {}
    props = schema.get("properties") or {}
    names = [n for n in props if n in data] + [n for n in data if n not in props]
    pairs: list[tuple[str, str]] = []
    for name in names:
        value = data[name]
        if value in (None, "") or not isinstance(value, str | int | float | bool):
            continue
        if isinstance(value, str) and value.startswith("data:"):
            continue  # a file
        if value == task.business_key:
            continue  # already in its own column
        label = (props.get(name) or {}).get("title") or name
        text = str(value)
        pairs.append((str(label), text if len(text) <= 60 else text[:59] + "…"))
        if len(pairs) == limit:
            break
    return pairs


def _mine(actor: Actor) -> Select[Any]:
    return tasks_query(TaskFilters(assignee="me"), actor)


def _queue(actor: Actor, hidden: list[queues.HiddenQueue]) -> Select[Any]:
    stmt = tasks_query(TaskFilters(candidate="me"), actor)
    if hidden:
        stmt = stmt.where(~queues.in_queues(h.name for h in hidden))
    return stmt


def _done(actor: Actor) -> Select[Any]:
    return select(HumanTask).where(
        HumanTask.state == "completed", HumanTask.completed_by == actor.username
    )


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _search(q: str) -> ColumnElement[bool]:
    """Business key contains `q`, or a phone variable of the instance has its digits."""
    pattern = f"%{_escape(q.lower())}%"
    conditions: list[ColumnElement[bool]] = [
        func.lower(HumanTask.business_key).like(pattern, escape="\\")
    ]
    digits = _digits(q)
    if len(digits) >= 5:
        normalized: Any = InstanceVariable.value
        for char in (" ", "-", "(", ")", "+", "."):
            normalized = func.replace(normalized, char, "")
        conditions.append(
            exists().where(
                InstanceVariable.instance_id == HumanTask.instance_id,
                or_(*[func.lower(InstanceVariable.name).like(n) for n in PHONE_NAMES]),
                normalized.like(f"%{digits[-10:]}%"),
            )
        )
    conditions.append(
        exists().where(
            InstanceVariable.instance_id == HumanTask.instance_id,
            InstanceVariable.value == q,
        )
    )
    return or_(*conditions)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _due(kind: str, now: datetime) -> ColumnElement[bool]:
    if kind == "none":
        return HumanTask.due_at.is_(None)
    if kind == "overdue":
        return and_(HumanTask.due_at.is_not(None), HumanTask.due_at < now)
    local = now.astimezone(ZoneInfo(DISPLAY_TIMEZONE))
    end_of_day = local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    horizon = end_of_day if kind == "today" else now + timedelta(days=7)
    return and_(HumanTask.due_at.is_not(None), HumanTask.due_at < horizon)


def _filtered(stmt: Select[Any], query: InboxQuery, now: datetime) -> Select[Any]:
    if query.process:
        stmt = stmt.where(HumanTask.process_key == query.process)
    if query.step:
        stmt = stmt.where(HumanTask.element_id == query.step)
    if query.due:
        stmt = stmt.where(_due(query.due, now))
    if query.q:
        stmt = stmt.where(_search(query.q))
    return stmt


def _count(session: Session, stmt: Select[Any]) -> int:
    return session.scalar(select(func.count()).select_from(stmt.subquery())) or 0


def process_names(session: Session, keys: set[str]) -> dict[str, str]:
    """{process key: its latest deployed name}."""
    if not keys:
        return {}
    rows = session.execute(
        select(ProcessDefinition.key, ProcessDefinition.name)
        .where(ProcessDefinition.key.in_(keys))
        .order_by(ProcessDefinition.version)
    )
    return {key: name or key for key, name in rows}


def load_inbox(session: Session, *, actor: Actor, query: InboxQuery, now: datetime) -> Inbox:
    """The tab `query.tab` with its filters, the counts of the tabs and the filter choices."""
    hidden = queues.hidden_queues(session, actor=actor, now=now)
    sources = {"mine": _mine(actor), "queue": _queue(actor, hidden), "done": _done(actor)}
    stmt = _filtered(sources[query.tab], query, now)
    order = (
        [HumanTask.completed_at.desc()]
        if query.tab == "done"
        else [HumanTask.created_at, HumanTask.id]
    )
    tasks = list(session.scalars(stmt.order_by(*order).limit(LIMIT + 1)))
    truncated = len(tasks) > LIMIT
    tasks = tasks[:LIMIT]
    policies = queues.policies_for(session, tasks)
    names = process_names(session, {t.process_key for t in tasks})
    rows = []
    for task in tasks:
        queue = queues.queue_of(task)
        policy = policies.get(queue or "")
        data = queues.visible_data(task, policy, actor)
        rows.append(
            InboxRow(
                task=task,
                process_name=names.get(task.process_key, task.process_key),
                queue=queue,
                blind=queues.blind_for(task, policy, actor),
                data=data,
                overdue=task.due_at is not None and task.due_at < now and task.state == "open",
                summary=summary(task, data),
            )
        )
    counts = {"mine": _count(session, sources["mine"]), "queue": _count(session, sources["queue"])}
    inbox = Inbox(query=query, rows=rows, counts=counts, truncated=truncated, hidden=hidden)
    inbox.processes, inbox.steps = _choices(session, [sources["mine"], sources["queue"]])
    return inbox


def _choices(
    session: Session, sources: list[Select[Any]]
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(process key, name) and (step id, name) pairs of the open tasks the user can see."""
    keys: set[str] = set()
    steps: dict[str, str] = {}
    for stmt in sources:
        sub = stmt.subquery()
        rows = session.execute(
            select(sub.c.process_key, sub.c.element_id, sub.c.name).distinct().limit(500)
        )
        for key, element_id, name in rows:
            keys.add(str(key))
            steps.setdefault(str(element_id), str(name or element_id))
    names = process_names(session, keys)
    processes = sorted(((k, names.get(k, k)) for k in keys), key=lambda p: p[1].lower())
    return processes, sorted(steps.items(), key=lambda s: s[1].lower())


def change_marker(session: Session, *, actor: Actor, now: datetime) -> tuple[Any, ...]:
    """A value that changes whenever the user's inbox may have: one aggregate over open tasks.

    New task → count and newest creation change; claim → newest claim time changes;
    unclaim/return/complete/cancel → count of open or of assigned changes. Plus the queues the
    user is currently shut out of (a cool-down ending brings its tasks back).
    """
    open_tasks = select(
        func.count(),
        func.count(HumanTask.assignee),
        func.max(HumanTask.created_at),
        func.max(HumanTask.claimed_at),
        func.max(cast(HumanTask.assignee, String)),
    ).where(HumanTask.state == "open")
    totals = tuple(session.execute(open_tasks).one())
    hidden = tuple((h.name, h.reason) for h in queues.hidden_queues(session, actor=actor, now=now))
    return (*(str(v) for v in totals), hidden)
