"""Idempotency keys: claim a key once, or find the record of whoever claimed it first.

Used by the REST API (`Idempotency-Key` header) and by message delivery; each caller decides
what an earlier claim with another request, or one still in progress, means for it.
"""

from __future__ import annotations

from contextlib import suppress

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.models import IdempotencyRecord

IN_PROGRESS = 0  # status_code of a claimed key whose response is not written yet


def claim_key(
    session: Session, *, scope: str, key: str, request_hash: str
) -> int | IdempotencyRecord | None:
    """The id of our new claim; else the earlier claim's record; None if that claim vanished
    (its transaction rolled back after ours failed): the caller should ask for a retry."""
    record = IdempotencyRecord(
        scope=scope, key=key, request_hash=request_hash, status_code=IN_PROGRESS
    )
    # A savepoint: a concurrent twin waits on the unique index, then fails here without
    # dooming the transaction (PostgreSQL); IntegrityError means someone claimed the key
    # first, and their committed record is read below.
    with suppress(IntegrityError), session.begin_nested():
        session.add(record)
        session.flush()
        return record.id
    return session.scalar(
        select(IdempotencyRecord)
        .where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)
        .execution_options(populate_existing=True)
    )
