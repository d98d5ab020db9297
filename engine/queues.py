"""Queue policies: how the people of one queue (a lane / candidate group) receive its tasks.

A policy is data (table `queue_policy`, edited on the admin pages), one row per queue name:

- *blind*: before claiming, only `visible_fields` of the task data are shown (UI and API);
- *first click wins*: always on — `engine.tasks.claim_task` is one conditional UPDATE;
- *fifo*: only the oldest open, unclaimed task of the queue may be claimed;
- *cooldown_seconds*: after a claim, the same user gets nothing from that queue for N seconds;
- *online_only*: only users whose `online_until` is in the future receive and claim;
- *return_after_minutes*: a claimed task without activity for N minutes goes back to the queue
  (`return_idle_tasks`, called periodically by the workers' beat).

Admins are supervisors: policies never refuse them and blind queues show them everything.
A refusal is `QueuePolicyRefusal` with code `not_online`, `cooldown_active` or
`not_next_in_queue` (409 in the API).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Boolean, Integer, String, and_, cast, func, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from engine.actor import Actor
from engine.errors import NotFoundError, QueuePolicyRefusal, ValidationFailed
from engine.models import Base, HumanTask, InstanceEvent, User, UserGroup, utcnow

# How long an explicit "I am online" lasts, and how far one inbox heartbeat reaches.
SHIFT = timedelta(hours=8)
HEARTBEAT_WINDOW = timedelta(minutes=3)


class QueuePolicy(Base):
    """The rules of one queue; a queue without a row has none (plain first click wins)."""

    __tablename__ = "queue_policy"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    blind: Mapped[bool] = mapped_column(Boolean, default=False)
    visible_fields: Mapped[list[Any]] = mapped_column(default=list)
    fifo: Mapped[bool] = mapped_column(Boolean, default=False)
    cooldown_seconds: Mapped[int] = mapped_column(Integer, default=0)
    online_only: Mapped[bool] = mapped_column(Boolean, default=False)
    return_after_minutes: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(150), default=None)


class QueueClaim(Base):
    """When a user last claimed from a queue (what a cool-down counts from)."""

    __tablename__ = "queue_claim"

    queue: Mapped[str] = mapped_column(String(100), primary_key=True)
    username: Mapped[str] = mapped_column(String(150), primary_key=True)
    claimed_at: Mapped[datetime] = mapped_column()


class UserPresence(Base):
    """A user's own availability switch: when off, inbox heartbeats do not make them online."""

    __tablename__ = "user_presence"

    username: Mapped[str] = mapped_column(String(150), primary_key=True)
    available: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


@dataclass(frozen=True)
class PolicyInput:
    """What an admin submits for one queue."""

    name: str
    blind: bool = False
    visible_fields: tuple[str, ...] = ()
    fifo: bool = False
    cooldown_seconds: int = 0
    online_only: bool = False
    return_after_minutes: int = 0


@dataclass(frozen=True)
class HiddenQueue:
    """A queue the user receives nothing from right now, and why (until when)."""

    name: str
    reason: str  # "not_online" | "cooldown_active"
    until: datetime | None = None


# --- which queue, which policy ------------------------------------------------------------


def queue_of(task: HumanTask) -> str | None:
    """The queue a task waits in: its lane, else its first candidate group."""
    if task.lane:
        return task.lane
    groups = list(task.candidate_groups or [])
    return str(groups[0]) if groups else None


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def in_queues(names: Iterable[str]) -> ColumnElement[bool]:
    """SQL: the task waits in one of `names` (the same rule as `queue_of`)."""
    names = sorted(set(names))
    if not names:
        return HumanTask.id.is_(None)  # matches nothing
    # candidate_groups is JSON text: a queue by group is the list's first JSON string.
    first_group = [
        cast(HumanTask.candidate_groups, String).like(
            f"[{_like_escape(json.dumps(name))}%", escape="\\"
        )
        for name in names
    ]
    return or_(HumanTask.lane.in_(names), and_(HumanTask.lane.is_(None), or_(*first_group)))


def get_policy(session: Session, *, name: str) -> QueuePolicy | None:
    """The policy of queue `name`, or None."""
    return session.get(QueuePolicy, name)


def get_policy_or_raise(session: Session, *, name: str) -> QueuePolicy:
    """The policy of queue `name`; NotFoundError otherwise."""
    policy = get_policy(session, name=name)
    if policy is None:
        raise NotFoundError(f"no queue policy {name!r}")
    return policy


def policy_for(session: Session, task: HumanTask) -> QueuePolicy | None:
    """The policy of the task's queue, or None."""
    queue = queue_of(task)
    return get_policy(session, name=queue) if queue else None


def policies_for(session: Session, tasks: Iterable[HumanTask]) -> dict[str, QueuePolicy]:
    """{queue name: policy} for the queues of `tasks` that have one (one query)."""
    names = {q for q in (queue_of(t) for t in tasks) if q}
    if not names:
        return {}
    rows = session.scalars(select(QueuePolicy).where(QueuePolicy.name.in_(names)))
    return {row.name: row for row in rows}


def list_policies(session: Session) -> list[QueuePolicy]:
    """Every queue policy, by name."""
    return list(session.scalars(select(QueuePolicy).order_by(QueuePolicy.name)))


def known_queues(session: Session) -> list[str]:
    """Names a policy can be set for: every group and every lane tasks were seen in."""
    groups = set(session.scalars(select(UserGroup.name)))
    lanes = set(
        session.scalars(select(HumanTask.lane).where(HumanTask.lane.is_not(None)).distinct())
    )
    return sorted(name for name in groups | lanes if name)


# --- blind queues -------------------------------------------------------------------------


def blind_for(task: HumanTask, policy: QueuePolicy | None, actor: Actor) -> bool:
    """True if `actor` must not see the task's data beyond the policy's visible fields yet."""
    if policy is None or not policy.blind or actor.is_admin:
        return False
    return task.state == "open" and task.assignee != actor.username


def visible_data(task: HumanTask, policy: QueuePolicy | None, actor: Actor) -> dict[str, Any]:
    """The task data `actor` may see now (all of it unless the queue is blind for them)."""
    data = dict(task.data or {})
    if not blind_for(task, policy, actor):
        return data
    assert policy is not None
    shown = set(policy.visible_fields or [])
    return {name: value for name, value in data.items() if name in shown}


# --- presence -----------------------------------------------------------------------------


def is_online(user: User | None, now: datetime) -> bool:
    """True if the user is marked online at `now`."""
    return user is not None and user.online_until is not None and user.online_until > now


def _user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def is_available(session: Session, *, username: str) -> bool:
    """The user's own switch (default on)."""
    presence = session.get(UserPresence, username)
    return presence is None or presence.available


def set_available(session: Session, *, username: str, available: bool, now: datetime) -> User:
    """The explicit toggle: online for a shift, or offline until switched on again."""
    user = _user(session, username)
    if user is None:
        raise NotFoundError(f"no user {username!r}")
    presence = session.get(UserPresence, username)
    if presence is None:
        presence = UserPresence(username=username)
        session.add(presence)
    presence.available, presence.updated_at = available, now
    user.online_until = now + SHIFT if available else None
    session.flush()
    return user


def heartbeat(session: Session, *, username: str, now: datetime) -> bool:
    """An open inbox says "still here": extend online_until unless the user switched off."""
    if not is_available(session, username=username):
        return False
    user = _user(session, username)
    if user is None or not user.is_active:
        return False
    reach = now + HEARTBEAT_WINDOW
    if user.online_until is None or user.online_until < reach:
        user.online_until = reach
        session.flush()
    return True


# --- claiming -----------------------------------------------------------------------------


def _refuse(code: str, message: str, **detail: Any) -> QueuePolicyRefusal:
    return QueuePolicyRefusal(message, code=code, details=[detail] if detail else [])


def cooldown_until(session: Session, *, queue: str, username: str, seconds: int) -> datetime | None:
    """When the user's cool-down in `queue` ends (None if they never claimed there)."""
    if seconds <= 0:
        return None
    last = session.get(QueueClaim, (queue, username))
    return last.claimed_at + timedelta(seconds=seconds) if last else None


def oldest_open_task_id(session: Session, *, queue: str) -> str | None:
    """The id of the queue's oldest open, unclaimed task."""
    stmt = (
        select(HumanTask.id)
        .where(HumanTask.state == "open", HumanTask.assignee.is_(None), in_queues([queue]))
        .order_by(HumanTask.created_at, HumanTask.id)
        .limit(1)
    )
    return session.scalar(stmt)


def check_claim(session: Session, *, task: HumanTask, actor: Actor, now: datetime) -> None:
    """Raise QueuePolicyRefusal if the task's queue policy forbids `actor` claiming it now."""
    if actor.is_admin or task.assignee == actor.username:
        return
    queue = queue_of(task)
    policy = get_policy(session, name=queue) if queue else None
    if policy is None or queue is None:
        return
    if policy.online_only and not is_online(_user(session, actor.username), now):
        raise _refuse("not_online", f"queue {queue!r} takes only users who are online", queue=queue)
    until = cooldown_until(
        session, queue=queue, username=actor.username, seconds=policy.cooldown_seconds
    )
    if until is not None and until > now:
        wait = max(1, int((until - now).total_seconds() + 0.999))
        raise _refuse(
            "cooldown_active",
            f"cool-down in queue {queue!r}: next claim in {wait} s",
            queue=queue,
            until=until.isoformat(),
            retry_after=wait,
        )
    if policy.fifo and oldest_open_task_id(session, queue=queue) not in (None, task.id):
        raise _refuse(
            "not_next_in_queue",
            f"queue {queue!r} is first in, first out: take the oldest task",
            queue=queue,
        )


def record_claim(session: Session, *, task: HumanTask, actor: Actor, now: datetime) -> None:
    """Remember the claim for the queue's cool-down (only queues that have one)."""
    queue = queue_of(task)
    policy = get_policy(session, name=queue) if queue else None
    if queue is None or policy is None or policy.cooldown_seconds <= 0:
        return
    row = session.get(QueueClaim, (queue, actor.username))
    if row is None:
        session.add(QueueClaim(queue=queue, username=actor.username, claimed_at=now))
    else:
        row.claimed_at = now
    session.flush()


def hidden_queues(session: Session, *, actor: Actor, now: datetime) -> list[HiddenQueue]:
    """Queues `actor` receives nothing from right now (offline in online-only, cool-down)."""
    if actor.is_admin:
        return []
    policies = [p for p in list_policies(session) if p.online_only or p.cooldown_seconds > 0]
    if not policies:
        return []
    online = is_online(_user(session, actor.username), now)
    claims = {
        row.queue: row.claimed_at
        for row in session.scalars(select(QueueClaim).where(QueueClaim.username == actor.username))
    }
    hidden: list[HiddenQueue] = []
    for policy in policies:
        if policy.online_only and not online:
            hidden.append(HiddenQueue(policy.name, "not_online"))
            continue
        last = claims.get(policy.name)
        if last is not None and policy.cooldown_seconds > 0:
            until = last + timedelta(seconds=policy.cooldown_seconds)
            if until > now:
                hidden.append(HiddenQueue(policy.name, "cooldown_active", until))
    return hidden


# --- activity and return to queue ---------------------------------------------------------


def touch_activity(session: Session, *, task_id: str, username: str, now: datetime) -> None:
    """The assignee is working on the task (opened it, submitted it): not idle."""
    session.execute(
        update(HumanTask)
        .where(HumanTask.id == task_id, HumanTask.assignee == username, HumanTask.state == "open")
        .values(last_activity_at=now)
        .execution_options(synchronize_session=False)
    )


def return_idle_tasks(session: Session, now: datetime | None = None) -> list[str]:
    """Unclaim every task idle longer than its queue's `return_after_minutes`; their ids.

    Meant for the workers' beat (every minute or so). Each return is a conditional UPDATE,
    so a task the assignee touched meanwhile stays theirs. Flushes, never commits.
    """
    now = now or utcnow()
    returned: list[str] = []
    policies = session.scalars(select(QueuePolicy).where(QueuePolicy.return_after_minutes > 0))
    for policy in list(policies):
        cutoff = now - timedelta(minutes=policy.return_after_minutes)
        last_seen = func.coalesce(HumanTask.last_activity_at, HumanTask.claimed_at)
        idle = and_(
            HumanTask.state == "open",
            HumanTask.assignee.is_not(None),
            in_queues([policy.name]),
            last_seen < cutoff,
        )
        for task in list(session.scalars(select(HumanTask).where(idle))):
            if _return(session, task, idle, now):
                returned.append(task.id)
    session.flush()
    return returned


def _return(session: Session, task: HumanTask, idle: ColumnElement[bool], now: datetime) -> bool:
    previous = task.assignee
    result = session.execute(
        update(HumanTask)
        .where(HumanTask.id == task.id, HumanTask.assignee == previous, idle)
        .values(assignee=None, claimed_at=None)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        return False
    session.add(
        InstanceEvent(
            instance_id=task.instance_id,
            at=now,
            type="task_returned",
            element_id=task.element_id,
            element_name=task.name,
            actor="system",
            changes={"assignee": [previous, None]},
        )
    )
    session.expire(task)
    return True


# --- admin --------------------------------------------------------------------------------


def _check_policy(data: PolicyInput) -> None:
    problems = []
    if not data.name.strip() or len(data.name) > 100:
        problems.append({"loc": ["name"], "msg": "1 to 100 characters"})
    for field in ("cooldown_seconds", "return_after_minutes"):
        value = getattr(data, field)
        if value < 0 or value > 10_000_000:
            problems.append({"loc": [field], "msg": "0 or a positive number"})
    if data.blind and not data.visible_fields:
        problems.append(
            {"loc": ["visible_fields"], "msg": "a blind queue shows at least one field"}
        )
    if problems:
        raise ValidationFailed("the queue policy is invalid", details=problems)


def save_policy(
    session: Session, *, data: PolicyInput, actor: Actor, now: datetime | None = None
) -> QueuePolicy:
    """Create or replace the policy of queue `data.name`."""
    _check_policy(data)
    policy = get_policy(session, name=data.name.strip())
    if policy is None:
        policy = QueuePolicy(name=data.name.strip())
        session.add(policy)
    policy.blind = data.blind
    policy.visible_fields = sorted({f.strip() for f in data.visible_fields if f.strip()})
    policy.fifo, policy.online_only = data.fifo, data.online_only
    policy.cooldown_seconds = data.cooldown_seconds
    policy.return_after_minutes = data.return_after_minutes
    policy.updated_at, policy.updated_by = now or utcnow(), actor.username
    session.flush()
    return policy


def delete_policy(session: Session, *, name: str) -> None:
    """Remove a queue's policy (the queue goes back to plain first click wins)."""
    session.delete(get_policy_or_raise(session, name=name))
    session.flush()
