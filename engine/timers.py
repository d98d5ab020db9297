"""Durable timers: every waiting BPMN timer is a `timer` row; a beat task fires due rows.

A row is claimed (waiting → firing, with a lease in `locked_until`) in a short transaction
of its own, then fired in a unit of work under the instance lock. The claim is the arbiter
between concurrent firers: `FOR UPDATE SKIP LOCKED` on PostgreSQL (firers never wait on
each other), a single conditional UPDATE on SQLite (whose BEGIN IMMEDIATE serializes
writers anyway). A firer that finds its row gone under the instance lock does nothing, so
a timer whose lease expired and was re-claimed still fires once.

SpiffWorkflow decides itself whether a timer is due, from the wall clock. The row is the
schedule, so firing *forces* the timer: its stored due time is set to one already passed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.task import Task
from sqlalchemy import ColumnElement, and_, delete, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from engine.db import session_scope
from engine.errors import InstanceFinished, NotFoundError
from engine.instances import open_unit_of_work, persist, run_engine
from engine.models import Timer, utcnow
from engine.runtime import task_ref

log = logging.getLogger(__name__)

SessionFactory = sessionmaker[Session]
_ALREADY_PASSED = timedelta(milliseconds=1)


@dataclass(frozen=True)
class ClaimedTimer:
    id: int
    instance_id: str


def _claimable(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(Timer.state == "waiting", Timer.due_at <= now),
        and_(Timer.state == "firing", Timer.locked_until < now),  # its firer was lost
    )


def claim_due_timers(
    session: Session, *, now: datetime, limit: int, lease_seconds: float
) -> list[ClaimedTimer]:
    """Mark up to `limit` due timers as ours (state firing) and return them, oldest first."""
    due = select(Timer.id).where(_claimable(now)).order_by(Timer.due_at).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    # Two statements on purpose: inside `UPDATE … WHERE id IN (SELECT … LIMIT n FOR UPDATE
    # SKIP LOCKED)` PostgreSQL may re-run the subquery and claim far more than n rows.
    ids = list(session.scalars(due))
    if not ids:
        return []
    rows = session.execute(
        update(Timer)
        .where(Timer.id.in_(ids), _claimable(now))
        .values(state="firing", locked_until=now + timedelta(seconds=lease_seconds))
        .returning(Timer.id, Timer.instance_id)
        .execution_options(synchronize_session=False)
    ).all()
    return [ClaimedTimer(row[0], row[1]) for row in rows]


def force_due(task: Task, due_at: datetime) -> None:
    """Make SpiffWorkflow see the timer of `task` as passed (at `due_at` at the latest)."""
    forced = min(due_at, utcnow() - _ALREADY_PASSED).isoformat()
    definition = task.task_spec.event_definition
    if isinstance(definition, MultipleEventDefinition):  # an event-based gateway's timer
        timers = [d for d in definition.event_definitions if isinstance(d, TimerEventDefinition)]
        definition = timers[0] if timers else definition
    if isinstance(definition, CycleTimerEventDefinition):
        value = task.internal_data.get("event_value")
        if isinstance(value, dict):
            # The next cycle is computed from this value, so a late firing keeps the cadence.
            value["next"] = forced
    elif isinstance(definition, TimerEventDefinition):
        task.internal_data["event_value"] = forced


def fire_timer(factory: SessionFactory, claimed: ClaimedTimer) -> bool:
    """Fire one claimed timer in its own unit of work; False if there was nothing to fire."""
    with session_scope(factory) as session:
        try:
            uow = open_unit_of_work(session, claimed.instance_id)
        except (InstanceFinished, NotFoundError):
            session.execute(delete(Timer).where(Timer.id == claimed.id))
            return False
        row = session.scalars(
            select(Timer)
            .where(Timer.id == claimed.id, Timer.state == "firing")
            .execution_options(populate_existing=True)
        ).first()
        if row is None:  # fired (and rewritten) by a firer that re-claimed it
            return False
        task = uow.workflow.event_manager.tasks.get(UUID(row.task_guid))
        if task is None:  # the workflow no longer waits on it: a stale row
            session.delete(row)
            return False
        force_due(task, row.due_at)
        element = task_ref(task)
        uow.workflow.refresh_timers()
        error = run_engine(uow)
        persist(uow, action="timer_fired", actor=None, element=element, error=error)
        if task.id in uow.workflow.event_manager.tasks:
            # persist deleted the row of a timer that stopped waiting and rewrote a cycle's;
            # a row still there (its task waits on, due time unchanged) must not fire again.
            session.execute(
                update(Timer)
                .where(Timer.id == claimed.id)
                .values(state="fired", fired_at=utcnow())
                .execution_options(synchronize_session=False)
            )
    return True


def fire_due_timers(
    factory: SessionFactory,
    *,
    limit: int = 200,
    now: datetime | None = None,
    lease_seconds: float = 60.0,
    budget_seconds: float = 20.0,
) -> int:
    """Claim and fire due timers in batches of `limit` until none is due or the time
    budget is spent; return how many fired. `now` fixes the clock for tests."""
    fired, started = 0, time.monotonic()
    while True:
        with session_scope(factory) as session:
            claimed = claim_due_timers(
                session, now=now or utcnow(), limit=limit, lease_seconds=lease_seconds
            )
        for timer in claimed:
            fired += _fire_logged(factory, timer)
        if len(claimed) < limit or time.monotonic() - started > budget_seconds:
            return fired


def _fire_logged(factory: SessionFactory, timer: ClaimedTimer) -> int:
    try:
        return 1 if fire_timer(factory, timer) else 0
    except Exception:
        # One broken instance must not stop the others; its claim lapses and is retried.
        log.exception("timer %s of instance %s failed to fire", timer.id, timer.instance_id)
        return 0
