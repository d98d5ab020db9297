"""Database state of the sandbox doubles: records per (system, kind, external id), armed faults.

The doubles keep their state here (never in memory) so that several web processes see the same
orders, and so that end-to-end tests and demos survive a restart. The tables have their own
`SandboxBase`: they belong to the doubles, not to potok's domain model.

Works on SQLite and PostgreSQL: JSON columns, no dialect-only SQL; filters on JSON content are
done in Python (a double holds tens of rows, not millions).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Index,
    Integer,
    String,
    UniqueConstraint,
    delete,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

FAULT_MODES = ("500", "timeout", "429")

# BigInteger autoincrement is not a rowid alias on SQLite; use Integer there.
_BigIntId = BigInteger().with_variant(Integer(), "sqlite")


def _now() -> datetime:
    return datetime.now(UTC)


class SandboxBase(DeclarativeBase):
    """Metadata of the doubles' tables (migrated together with potok's own)."""


class SandboxRecord(SandboxBase):
    """One object a double holds: an order, a payment, a sent SMS, a webhook delivery…"""

    __tablename__ = "sandbox_record"
    __table_args__ = (
        UniqueConstraint("system", "kind", "external_id", name="uq_sandbox_record_key"),
        Index("ix_sandbox_record_system_kind", "system", "kind"),
    )

    id: Mapped[int] = mapped_column(_BigIntId, primary_key=True, autoincrement=True)
    system: Mapped[str] = mapped_column(String(50))
    kind: Mapped[str] = mapped_column(String(50))
    external_id: Mapped[str] = mapped_column(String(255))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class SandboxFault(SandboxBase):
    """Failures armed through `POST /_control/fail`: the next `remaining` calls fail as `mode`."""

    __tablename__ = "sandbox_fault"

    system: Mapped[str] = mapped_column(String(50), primary_key=True)
    mode: Mapped[str] = mapped_column(String(16))
    remaining: Mapped[int] = mapped_column(Integer)


class SandboxStore:
    """Small, transactional operations on the doubles' tables; each method is one transaction."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._sessions = session_factory

    # --- records ------------------------------------------------------------------------------

    def add(self, system: str, kind: str, external_id: str, data: dict[str, Any]) -> int:
        """Insert a record; returns its row id (doubles use it as a readable sequence number)."""
        with self._sessions.begin() as session:
            row = SandboxRecord(system=system, kind=kind, external_id=external_id, data=data)
            session.add(row)
            session.flush()
            return row.id

    def add_once(
        self, system: str, kind: str, external_id: str, data: dict[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        """Insert unless the key exists; (stored data, created?). Safe under concurrent calls."""
        try:
            self.add(system, kind, external_id, data)
        except IntegrityError:
            existing = self.get(system, kind, external_id)
            if existing is None:  # deleted between the two statements: the caller may retry
                raise
            return existing, False
        return data, True

    def get(self, system: str, kind: str, external_id: str) -> dict[str, Any] | None:
        """The record's data, or None."""
        with self._sessions() as session:
            return session.scalar(
                select(SandboxRecord.data).where(*_key(system, kind, external_id))
            )

    def put(self, system: str, kind: str, external_id: str, data: dict[str, Any]) -> None:
        """Replace the record's data, inserting it when absent."""
        with self._sessions.begin() as session:
            result = session.execute(
                update(SandboxRecord)
                .where(*_key(system, kind, external_id))
                .values(data=data, updated_at=_now())
            )
            if getattr(result, "rowcount", 0) == 0:
                session.add(
                    SandboxRecord(system=system, kind=kind, external_id=external_id, data=data)
                )

    def records(self, system: str, kind: str) -> list[dict[str, Any]]:
        """Every record of one kind, oldest first."""
        with self._sessions() as session:
            query = (
                select(SandboxRecord.data)
                .where(SandboxRecord.system == system, SandboxRecord.kind == kind)
                .order_by(SandboxRecord.id)
            )
            return list(session.scalars(query).all())

    def find(self, system: str, kind: str, **match: Any) -> list[dict[str, Any]]:
        """Records of one kind whose top-level fields equal `match`."""
        return [
            data
            for data in self.records(system, kind)
            if all(data.get(field) == value for field, value in match.items())
        ]

    def snapshot(self, system: str) -> dict[str, list[dict[str, Any]]]:
        """Everything a double holds, grouped by kind (what `GET /_control/state` shows)."""
        with self._sessions() as session:
            rows = session.execute(
                select(SandboxRecord.kind, SandboxRecord.data)
                .where(SandboxRecord.system == system)
                .order_by(SandboxRecord.id)
            )
            grouped: dict[str, list[dict[str, Any]]] = {}
            for row in rows:
                grouped.setdefault(row.kind, []).append(row.data)
            return grouped

    def clear(self, system: str, kind: str, external_id: str | None = None) -> None:
        """Delete one record, or every record of one kind when `external_id` is None."""
        query = delete(SandboxRecord).where(
            SandboxRecord.system == system, SandboxRecord.kind == kind
        )
        if external_id is not None:
            query = query.where(SandboxRecord.external_id == external_id)
        with self._sessions.begin() as session:
            session.execute(query)

    # --- faults -------------------------------------------------------------------------------

    def arm_fault(self, system: str, mode: str, count: int) -> None:
        """Make the next `count` calls to `system` fail as `mode`."""
        if mode not in FAULT_MODES:
            raise ValueError(f"mode must be one of {FAULT_MODES}, not {mode!r}")
        with self._sessions.begin() as session:
            session.execute(delete(SandboxFault).where(SandboxFault.system == system))
            session.add(SandboxFault(system=system, mode=mode, remaining=count))

    def take_fault(self, system: str) -> str | None:
        """Consume one armed failure atomically; its mode, or None when none is armed."""
        with self._sessions.begin() as session:
            return session.scalar(
                update(SandboxFault)
                .where(SandboxFault.system == system, SandboxFault.remaining > 0)
                .values(remaining=SandboxFault.remaining - 1)
                .returning(SandboxFault.mode)
            )

    def fault(self, system: str) -> dict[str, Any] | None:
        """The armed failure, if any calls are left to fail."""
        with self._sessions() as session:
            row = session.get(SandboxFault, system)
            if row is None or row.remaining <= 0:
                return None
            return {"mode": row.mode, "remaining": row.remaining}

    # --- reset --------------------------------------------------------------------------------

    def reset(self, system: str | None = None) -> None:
        """Forget everything of `system` (of every double when None)."""
        with self._sessions.begin() as session:
            records = delete(SandboxRecord)
            faults = delete(SandboxFault)
            if system is not None:
                records = records.where(SandboxRecord.system == system)
                faults = faults.where(SandboxFault.system == system)
            session.execute(records)
            session.execute(faults)


def _key(system: str, kind: str, external_id: str) -> tuple[Any, ...]:
    return (
        SandboxRecord.system == system,
        SandboxRecord.kind == kind,
        SandboxRecord.external_id == external_id,
    )
