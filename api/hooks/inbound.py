"""One inbound event: recorded once per vendor id, then turned into a BPMN message.

    verified vendor body ─▶ Inbound(source, external_id, message, correlation, variables)
        ─▶ inbound_event row (unique source + external_id)   a repeat: "duplicate", nothing else
        ─▶ engine.messages.deliver_message                   "delivered" | "started"
              nobody waits and nothing starts on it ─▶       "unmatched" (row kept, logged)
              the engine failed on it ─▶                     "failed" (row kept with the error)

The row and the delivery commit together, so a crash in between leaves neither: the vendor's
retry is processed in full. A lost race on the instance (409) or a database outage is raised,
so the vendor retries later; any other failure is kept as "failed" rather than answered with
a 5xx, which would make the vendor re-send the same poison event for a day.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from engine.errors import ConflictError, NotFoundError
from engine.messages import deliver_message
from engine.models import InboundEvent

log = logging.getLogger("potok.hooks")

MAX_STORED_TEXT = 2000


@dataclass(frozen=True)
class Inbound:
    """A verified vendor event, as the message it becomes (`message` None: record only)."""

    source: str
    external_id: str
    message: str | None
    correlation: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    note: str | None = None


def _stored(event: Inbound) -> dict[str, Any]:
    stored: dict[str, Any] = {
        "message": event.message,
        "correlation": event.correlation,
        "variables": event.variables,
        "body": event.body,
    }
    if event.note:
        stored["note"] = event.note
    return stored


def accept(session: Session, event: Inbound) -> str:
    """Record `event` once and deliver its message; the outcome word (see the module doc)."""
    row = InboundEvent(
        source=event.source,
        external_id=event.external_id[:255],
        payload=_stored(event),
        outcome="received",
    )
    try:
        with session.begin_nested():  # a savepoint: a duplicate must not doom the rest
            session.add(row)
            session.flush()
    except IntegrityError:
        return "duplicate"
    if event.message is None:
        row.outcome = "ignored"
        return row.outcome
    if any(value in (None, "") for value in event.correlation.values()):
        row.outcome = "unmatched"
        log.warning("%s event %s has no correlation values", event.source, event.external_id)
        return row.outcome
    row.outcome = _deliver(session, event, row)
    return row.outcome


def _deliver(session: Session, event: Inbound, row: InboundEvent) -> str:
    assert event.message is not None
    try:
        with session.begin_nested():
            result = deliver_message(
                session,
                name=event.message,
                correlation=event.correlation or None,
                variables=event.variables,
            )
    except NotFoundError as exc:
        if exc.code != "no_matching_subscription":
            raise
        log.warning(
            "unmatched %s event %s: message %s %s",
            event.source,
            event.external_id,
            event.message,
            event.correlation,
        )
        return "unmatched"
    except (ConflictError, OperationalError):
        raise  # the vendor re-sends; this time the instance is free (or the database back)
    except Exception as exc:
        log.exception("%s event %s failed in the engine", event.source, event.external_id)
        row.payload = row.payload | {"error": f"{type(exc).__name__}: {exc}"[:MAX_STORED_TEXT]}
        return "failed"
    row.payload = row.payload | {"result": result}
    return "delivered" if result.get("delivered_to") else "started"


def recent_events(
    session: Session, *, outcome: str | None = None, source: str | None = None, limit: int = 50
) -> list[InboundEvent]:
    """The latest recorded events, newest first (`potok hooks events --outcome unmatched`)."""
    stmt = select(InboundEvent).order_by(InboundEvent.id.desc()).limit(limit)
    if outcome:
        stmt = stmt.where(InboundEvent.outcome == outcome)
    if source:
        stmt = stmt.where(InboundEvent.source == source)
    return list(session.scalars(stmt))
