"""SQLAlchemy 2 tables: definitions, instances and the queryable projections of their state.

The serialized SpiffWorkflow state is the truth for a running instance; every other table
here is a projection of it, rewritten in the same transaction as the state.
"""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    """Timezone-aware now in UTC (the only clock the models use)."""
    return datetime.now(UTC)


def new_id() -> str:
    """A time-ordered random id for rows that are named in URLs (the UUID version 7 layout:
    48 bits of Unix milliseconds, then 74 random bits — still unguessable).

    Why not uuid4: these ids are primary and index keys. A random key lands on a random
    index page, so every commit dirtied pages all over the indexes and each SQLite
    checkpoint (PostgreSQL: each first write after a checkpoint) copied them all — measured
    18 checkpoints of ~12 ms per 3,000 starts. Time-ordered keys append at the right edge.
    """
    millis = time.time_ns() // 1_000_000 & _MILLIS_MASK
    random_bits = int.from_bytes(os.urandom(10), "big")
    rand_a, rand_b = random_bits >> 68 & 0xFFF, random_bits & _RAND_B_MASK
    value = millis << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    return str(uuid.UUID(int=value))


_MILLIS_MASK = (1 << 48) - 1
_RAND_B_MASK = (1 << 62) - 1


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes on both SQLite (which drops tzinfo) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        # SQLite stores the wall time and drops the offset: 09:00+03:00 must go in as 06:00.
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


# BigInteger autoincrement is not a rowid alias on SQLite; use Integer there.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


# --- people -------------------------------------------------------------------------------


class User(Base):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    roles: Mapped[list[Any]] = mapped_column(default=list)
    groups: Mapped[list[Any]] = mapped_column(default=list)
    locale: Mapped[str] = mapped_column(String(8), default="ru")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    online_until: Mapped[datetime | None] = mapped_column(default=None)
    telegram_chat_id: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class UserGroup(Base):
    """A group of users; lanes of a process name groups (operators, managers, ...)."""

    __tablename__ = "user_group"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    title: Mapped[str] = mapped_column(String(200), default="")


class ApiToken(Base):
    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


# --- definitions --------------------------------------------------------------------------


class ProcessDefinition(Base):
    """One deployed version of one executable process (key = BPMN process id)."""

    __tablename__ = "process_definition"
    __table_args__ = (
        UniqueConstraint("key", "version", name="uq_definition_key_version"),
        Index("ix_definition_key_hash", "key", "content_hash"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255), default="")
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    dialect: Mapped[str] = mapped_column(String(16), default="spiff")
    bpmn_xml: Mapped[str] = mapped_column(Text)
    # Every file the process needs to be parsed again: {file name: text}.
    resources: Mapped[dict[str, Any]] = mapped_column(default=dict)
    deployed_at: Mapped[datetime] = mapped_column(default=utcnow)
    deployed_by: Mapped[str | None] = mapped_column(String(150), default=None)


# --- instances ----------------------------------------------------------------------------


class ProcessInstance(Base):
    __tablename__ = "process_instance"
    __table_args__ = (
        Index("ix_instance_key_status", "key", "status"),
        Index("ix_instance_business_key", "business_key"),
        Index("ix_instance_created", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"))
    key: Mapped[str] = mapped_column(String(255))
    version: Mapped[int] = mapped_column(Integer)
    business_key: Mapped[str | None] = mapped_column(String(255), default=None)
    status: Mapped[str] = mapped_column(String(16), default="running")
    # SpiffWorkflow's serialized state *without* the spec (specs live on the definition).
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    serializer_version: Mapped[str] = mapped_column(String(32), default="")
    # Compare-and-swap counter: SQLAlchemy writes lock_version + 1 WHERE lock_version = read
    # value and raises StaleDataError when another writer got there first.
    lock_version: Mapped[int] = mapped_column(Integer, default=0)
    # Read models kept with the state so GET /instances/{id} needs no deserialization.
    variables: Mapped[dict[str, Any]] = mapped_column(default=dict)
    active: Mapped[list[Any]] = mapped_column(default=list)
    started_by: Mapped[str | None] = mapped_column(String(150), default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    parent_instance_id: Mapped[str | None] = mapped_column(String(36), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)

    __mapper_args__ = {"version_id_col": lock_version}  # noqa: RUF012 - SQLAlchemy's own hook


class HumanTask(Base):
    __tablename__ = "human_task"
    __table_args__ = (
        Index("ix_human_task_state_lane", "state", "lane"),
        Index("ix_human_task_assignee", "assignee", "state"),
        Index("ix_human_task_instance", "instance_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"))
    task_guid: Mapped[str] = mapped_column(String(36), unique=True)
    process_key: Mapped[str] = mapped_column(String(255))
    element_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255), default="")
    lane: Mapped[str | None] = mapped_column(String(100), default=None)
    candidate_groups: Mapped[list[Any]] = mapped_column(default=list)
    assignee: Mapped[str | None] = mapped_column(String(150), default=None)
    state: Mapped[str] = mapped_column(String(16), default="open")
    form: Mapped[dict[str, Any]] = mapped_column(default=dict)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    instructions: Mapped[str | None] = mapped_column(Text, default=None)
    business_key: Mapped[str | None] = mapped_column(String(255), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column(default=None)
    claimed_at: Mapped[datetime | None] = mapped_column(default=None)
    last_activity_at: Mapped[datetime | None] = mapped_column(default=None)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    completed_by: Mapped[str | None] = mapped_column(String(150), default=None)


class Timer(Base):
    __tablename__ = "timer"
    __table_args__ = (
        Index("ix_timer_due", "state", "due_at"),
        # Units of work rewrite an instance's timers by instance id; without this index
        # PostgreSQL scans every waiting timer of every instance on each step.
        Index("ix_timer_instance", "instance_id"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"))
    task_guid: Mapped[str] = mapped_column(String(36))
    element_id: Mapped[str] = mapped_column(String(255))
    due_at: Mapped[datetime] = mapped_column()
    state: Mapped[str] = mapped_column(String(16), default="waiting")
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    fired_at: Mapped[datetime | None] = mapped_column(default=None)


class MessageSubscription(Base):
    __tablename__ = "message_subscription"
    __table_args__ = (
        Index("ix_subscription_lookup", "message_name", "correlation_key"),
        Index("ix_subscription_instance", "instance_id"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"))
    task_guid: Mapped[str] = mapped_column(String(36))
    element_id: Mapped[str] = mapped_column(String(255))
    message_name: Mapped[str] = mapped_column(String(255))
    # Canonical JSON of the correlation values ("" when the message is not correlated).
    correlation_key: Mapped[str] = mapped_column(String(1000), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Job(Base):
    __tablename__ = "job"
    __table_args__ = (
        Index("ix_job_state_next", "state", "next_run_at"),
        Index("ix_job_instance", "instance_id"),
        UniqueConstraint("idempotency_key", name="uq_job_idempotency_key"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"))
    task_guid: Mapped[str] = mapped_column(String(36))
    element_id: Mapped[str] = mapped_column(String(255))
    operator: Mapped[str] = mapped_column(String(255))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    backoff_base: Mapped[float] = mapped_column(default=2.0)
    next_run_at: Mapped[datetime] = mapped_column(default=utcnow)
    idempotency_key: Mapped[str] = mapped_column(String(100))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Incident(Base):
    __tablename__ = "incident"
    __table_args__ = (Index("ix_incident_state", "state", "instance_id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("job.id"), default=None)
    element_id: Mapped[str] = mapped_column(String(255))
    operator: Mapped[str | None] = mapped_column(String(255), default=None)
    error_code: Mapped[str] = mapped_column(String(100))
    message: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)


class InstanceEvent(Base):
    """Append-only history of an instance: who did what, when, and which variables changed."""

    __tablename__ = "instance_event"
    __table_args__ = (Index("ix_event_instance", "instance_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    type: Mapped[str] = mapped_column(String(50))
    element_id: Mapped[str | None] = mapped_column(String(255), default=None)
    element_name: Mapped[str | None] = mapped_column(String(255), default=None)
    actor: Mapped[str | None] = mapped_column(String(150), default=None)
    changes: Mapped[dict[str, Any]] = mapped_column(default=dict)


class InstanceVariable(Base):
    """Top-level scalar variables of an instance, indexed for search and reports."""

    __tablename__ = "instance_variable"
    __table_args__ = (Index("ix_variable_lookup", "name", "value"),)

    instance_id: Mapped[str] = mapped_column(
        ForeignKey("process_instance.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str | None] = mapped_column(String(1000), default=None)


# --- delivery and dedupe ------------------------------------------------------------------


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_state_next", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    instance_id: Mapped[str | None] = mapped_column(String(36), default=None)
    channel: Mapped[str] = mapped_column(String(50))
    recipient: Mapped[str] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)


class InboundEvent(Base):
    """A webhook already seen (vendor + vendor event id), so a repeat does nothing."""

    __tablename__ = "inbound_event"
    __table_args__ = (UniqueConstraint("source", "external_id", name="uq_inbound_source_id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(50))
    external_id: Mapped[str] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    outcome: Mapped[str] = mapped_column(String(50), default="received")
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class IdempotencyRecord(Base):
    """The first response to a POST with an Idempotency-Key, replayed on repeats."""

    __tablename__ = "idempotency_key"
    __table_args__ = (UniqueConstraint("scope", "key", name="uq_idempotency_scope_key"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(255))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- directories: admin data the processes are started with (engine.directories) -------------


class DirectoryCity(Base):
    """A city the shop serves: its pickup address and the manager responsible for its leads."""

    __tablename__ = "directory_city"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    pickup_address: Mapped[str] = mapped_column(String(500), default="")
    manager: Mapped[str] = mapped_column(String(150), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DirectoryLossReason(Base):
    """A reason a lead or deal was lost (the forms offer the active ones, in order)."""

    __tablename__ = "directory_loss_reason"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class DirectorySetting(Base):
    """One tunable of the processes (fallback manager, buffer seconds, bonus percent, …)."""

    __tablename__ = "directory_setting"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON, default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(150), default=None)


class DeliveryRule(Base):
    """When a carrier can deliver: the first day (days from today) and how many days it offers."""

    __tablename__ = "directory_delivery_rule"

    carrier: Mapped[str] = mapped_column(String(50), primary_key=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    min_days: Mapped[int] = mapped_column(Integer, default=0)
    window_days: Mapped[int] = mapped_column(Integer, default=1)


class DirectoryProduct(Base):
    """A product as the warehouse (MoySklad) has it, synced into potok for forms and demos."""

    __tablename__ = "directory_product"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    code: Mapped[str] = mapped_column(String(100), default="")
    article: Mapped[str] = mapped_column(String(100), default="")
    name: Mapped[str] = mapped_column(String(500), default="")
    price_kopecks: Mapped[int] = mapped_column(BigInteger, default=0)
    stock: Mapped[float] = mapped_column(default=0.0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ExpenseGroup(Base):
    """A group of expense articles; it has a monthly plan of its own."""

    __tablename__ = "expense_group"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)


class ExpenseArticle(Base):
    """An expense article, in one group."""

    __tablename__ = "expense_article"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    group_name: Mapped[str] = mapped_column(ForeignKey("expense_group.name"))


class BudgetLine(Base):
    """The month's budget of one article or group: plan, reserved (approved), spent (paid).

    Amounts are kopecks. A reservation is one conditional UPDATE of the article's and the
    group's lines (`reserved + amount` only where `plan - reserved - spent >= amount`), so of
    two concurrent requests that together exceed the plan exactly one gets the money.
    """

    __tablename__ = "budget_line"
    __table_args__ = (UniqueConstraint("month", "kind", "name", name="uq_budget_line"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    month: Mapped[str] = mapped_column(String(7))
    kind: Mapped[str] = mapped_column(String(8))  # "article" | "group"
    name: Mapped[str] = mapped_column(String(200))
    plan: Mapped[int] = mapped_column(BigInteger, default=0)
    reserved: Mapped[int] = mapped_column(BigInteger, default=0)
    spent: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class BudgetReservation(Base):
    """One expense request's claim on the budget (kopecks), found again by its job's key."""

    __tablename__ = "budget_reservation"
    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_budget_reservation_key"),
        Index("ix_budget_reservation_month", "month", "state"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    idempotency_key: Mapped[str] = mapped_column(String(100))
    month: Mapped[str] = mapped_column(String(7))
    article: Mapped[str] = mapped_column(String(200))
    article_group: Mapped[str] = mapped_column(String(200))
    amount: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16))  # reserved | spent | rejected
    reason: Mapped[str] = mapped_column(Text, default="")
    actual_payment_date: Mapped[str | None] = mapped_column(String(10), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    spent_at: Mapped[datetime | None] = mapped_column(default=None)


class TelegramOffer(Base):
    """A blind order offer sent to one manager's Telegram chat (one per task and manager)."""

    __tablename__ = "telegram_offer"
    __table_args__ = (
        UniqueConstraint("task_id", "username", name="uq_telegram_offer_task_user"),
        Index("ix_telegram_offer_state", "state"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(String(36))
    username: Mapped[str] = mapped_column(String(150))
    chat_id: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[int | None] = mapped_column(Integer, default=None)
    # offered → won (this manager took it) | taken (someone else did) | closed (task gone)
    state: Mapped[str] = mapped_column(String(16), default="offered")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
