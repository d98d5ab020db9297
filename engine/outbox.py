"""The outbox: outbound effects (SMS, messenger texts, e-mail) written with the state change.

`enqueue` adds a row in the caller's transaction, so a rolled-back transaction sends
nothing. A worker delivers pending rows through the sender registered for their channel:
it claims the row first (pending → sending, with a lease), sends outside any transaction,
then marks it sent, or schedules a retry with backoff while the sender is down. Rows are
never deleted before they are sent, so nothing is lost. A row is sent once; the one gap is a
worker killed between the vendor's answer and the commit, after which the row is sent again
when its lease lapses — senders pass `dedupe_key` to the vendor as its idempotency key.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from engine.db import session_scope
from engine.jobs import backoff_delay, is_transient
from engine.models import OutboxMessage, utcnow

log = logging.getLogger(__name__)

SessionFactory = sessionmaker[Session]
MAX_ERROR_TEXT = 4000


@dataclass(frozen=True)
class OutboxItem:
    """One message as a sender sees it."""

    id: int
    channel: str
    recipient: str
    payload: dict[str, Any]
    dedupe_key: str | None
    attempt: int


Sender = Callable[[OutboxItem], None]


class SenderMissing(Exception):
    """No sender is registered for the channel in this process (retried: one may appear)."""

    transient = True


_SENDERS: dict[str, Sender] = {}
_SENDERS_LOCK = threading.Lock()


def register_sender(channel: str, func: Sender) -> None:
    """Deliver messages of `channel` with `func` (raise to fail; transient errors retry)."""
    with _SENDERS_LOCK:
        _SENDERS[channel] = func


def unregister_sender(channel: str) -> None:
    """Forget the sender of `channel` (tests register throw-away senders)."""
    with _SENDERS_LOCK:
        _SENDERS.pop(channel, None)


def enqueue(
    session: Session,
    *,
    channel: str,
    recipient: str,
    payload: dict[str, Any],
    dedupe_key: str | None = None,
    instance_id: str | None = None,
) -> OutboxMessage:
    """Add a message to the outbox in the caller's transaction (flush only).

    A second message with the same `dedupe_key` is not added; the first one is returned.
    """
    if dedupe_key is not None:
        existing = _by_dedupe_key(session, dedupe_key)
        if existing is not None:
            return existing
    message = OutboxMessage(
        channel=channel,
        recipient=recipient,
        payload=payload,
        dedupe_key=dedupe_key,
        instance_id=instance_id,
    )
    try:
        # A savepoint: a concurrent twin's insert must not doom the caller's transaction.
        with session.begin_nested():
            session.add(message)
            session.flush()
    except IntegrityError:
        existing = _by_dedupe_key(session, dedupe_key) if dedupe_key else None
        if existing is None:
            raise
        return existing
    return message


def _by_dedupe_key(session: Session, dedupe_key: str) -> OutboxMessage | None:
    stmt = select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key)
    return session.scalars(stmt).first()


def _claimable(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(OutboxMessage.state == "pending", OutboxMessage.next_attempt_at <= now),
        and_(OutboxMessage.state == "sending", OutboxMessage.next_attempt_at < now),
    )


def claim_outbox(
    session: Session, *, now: datetime, limit: int, lease_seconds: float
) -> list[OutboxItem]:
    """Take up to `limit` due messages (pending → sending with a lease), oldest first."""
    due = select(OutboxMessage.id).where(_claimable(now)).order_by(OutboxMessage.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = list(session.scalars(due))  # two statements: see timers.claim_due_timers
    if not ids:
        return []
    rows = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), _claimable(now))
        .values(
            state="sending",
            attempts=OutboxMessage.attempts + 1,
            next_attempt_at=now + timedelta(seconds=lease_seconds),
        )
        .returning(
            OutboxMessage.id,
            OutboxMessage.channel,
            OutboxMessage.recipient,
            OutboxMessage.payload,
            OutboxMessage.dedupe_key,
            OutboxMessage.attempts,
        )
        .execution_options(synchronize_session=False)
    ).all()
    items = [
        OutboxItem(
            id=row[0],
            channel=row[1],
            recipient=row[2],
            payload=dict(row[3]),
            dedupe_key=row[4],
            attempt=row[5],
        )
        for row in rows
    ]
    return sorted(items, key=lambda item: item.id)


@dataclass
class DeliveryReport:
    """What one delivery pass did."""

    sent: list[int] = field(default_factory=list)
    retried: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class OutboxPolicy:
    """How long a claim holds and how failures are retried."""

    lease_seconds: float = 60.0
    max_attempts: int = 20
    backoff_base: float = 2.0
    backoff_cap_seconds: float = 3600.0


def deliver_outbox(
    factory: SessionFactory,
    *,
    limit: int = 100,
    now: datetime | None = None,
    policy: OutboxPolicy | None = None,
) -> DeliveryReport:
    """Claim due outbox rows and send each through its channel's sender."""
    policy = policy or OutboxPolicy()
    with session_scope(factory) as session:
        items = claim_outbox(
            session, now=now or utcnow(), limit=limit, lease_seconds=policy.lease_seconds
        )
    report = DeliveryReport()
    for item in items:
        _deliver_one(factory, item, now, policy, report)
    return report


def _deliver_one(
    factory: SessionFactory,
    item: OutboxItem,
    now: datetime | None,
    policy: OutboxPolicy,
    report: DeliveryReport,
) -> None:
    sender = _SENDERS.get(item.channel)
    try:
        if sender is None:
            raise SenderMissing(f"no sender registered for channel '{item.channel}'")
        sender(item)
    except Exception as exc:
        log.info("outbox %s attempt %s failed: %s", item.id, item.attempt, exc)
        _record_failure(factory, item, exc, now or utcnow(), policy, report)
        return
    _mark(factory, item, state="sent", sent_at=utcnow(), last_error=None)
    report.sent.append(item.id)


def _record_failure(
    factory: SessionFactory,
    item: OutboxItem,
    exc: Exception,
    now: datetime,
    policy: OutboxPolicy,
    report: DeliveryReport,
) -> None:
    error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_TEXT]
    if is_transient(exc) and item.attempt < policy.max_attempts:
        delay = backoff_delay(
            policy.backoff_base,
            item.attempt,
            cap=policy.backoff_cap_seconds,
            retry_after=getattr(exc, "retry_after", None),
        )
        _mark(
            factory,
            item,
            state="pending",
            next_attempt_at=now + timedelta(seconds=delay),
            last_error=error,
        )
        report.retried.append(item.id)
        return
    _mark(factory, item, state="failed", last_error=error)
    report.failed.append(item.id)


def _mark(factory: SessionFactory, item: OutboxItem, **values: Any) -> None:
    """Record the outcome of our attempt, unless a later claim took the row meanwhile."""
    with session_scope(factory) as session:
        session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == item.id,
                OutboxMessage.state == "sending",
                OutboxMessage.attempts == item.attempt,
            )
            .values(**values)
        )
