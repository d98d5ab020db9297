"""engine.rawsql writes what the ORM would have written and fails the way SQLAlchemy fails."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import bindparam, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql import psycopg as postgresql_psycopg
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from engine.db import json_dumps, session_scope
from engine.errors import PreconditionFailed
from engine.models import HumanTask, InstanceEvent, ProcessDefinition, ProcessInstance
from engine.rawsql import Precondition, RowBatch, _postgresql_single_statement, first_row


def _definition(session: Session) -> ProcessDefinition:
    definition = ProcessDefinition(
        key="k", version=1, content_hash="h", bpmn_xml="<x/>", resources={}, deployed_by="t"
    )
    session.add(definition)
    session.flush()
    return definition


def _new_instance(definition: ProcessDefinition, instance_id: str) -> ProcessInstance:
    return ProcessInstance(
        id=instance_id,
        definition_id=definition.id,
        key="k",
        version=1,
        state={"tasks": {"a": [1, "два", None]}},
        variables={"amount": "12.50"},
    )


def test_rows_read_back_through_the_orm_as_written(session_factory: sessionmaker[Session]) -> None:
    moscow = timezone(timedelta(hours=3))
    at = datetime(2026, 11, 30, 9, 0, tzinfo=moscow)
    with session_scope(session_factory) as session:
        definition = _definition(session)
        batch = RowBatch()
        batch.add_object(_new_instance(definition, "i-1"))
        batch.add(
            InstanceEvent,
            [
                {"instance_id": "i-1", "at": at, "type": "started", "changes": {"x": [None, 1]}},
                {"instance_id": "i-1", "at": at, "type": "element_completed", "changes": {}},
            ],
        )
        batch.add(
            HumanTask,
            [{"id": "t-1", "instance_id": "i-1", "task_guid": "g-1", "process_key": "k",
              "element_id": "review", "form": {"schema": {"type": "object"}}}],
        )  # fmt: skip
        batch.write(session)

    with session_scope(session_factory) as session:
        instance = session.get(ProcessInstance, "i-1")
        assert instance is not None
        assert instance.state == {"tasks": {"a": [1, "два", None]}}
        assert instance.status == "running"  # the column's default, applied by the batch
        assert instance.lock_version == 1
        assert instance.created_at.tzinfo is not None
        events = session.scalars(select(InstanceEvent).order_by(InstanceEvent.id)).all()
        assert [e.type for e in events] == ["started", "element_completed"]
        assert events[0].changes == {"x": [None, 1]}
        assert events[0].at == at.astimezone(UTC)  # 09:00+03:00 stored as 06:00 UTC
        task = session.get(HumanTask, "t-1")
        assert task is not None
        assert task.state == "open" and task.candidate_groups == [] and task.data == {}
        assert task.form == {"schema": {"type": "object"}}


def test_a_written_object_is_persistent_and_updates_with_compare_and_swap(
    session_factory: sessionmaker[Session],
) -> None:
    with session_scope(session_factory) as session:
        definition = _definition(session)
        instance = _new_instance(definition, "i-2")
        batch = RowBatch()
        batch.add_object(instance)
        batch.write(session)
        assert instance in session and not session.new  # attached as if loaded
        instance.status = "completed"
        session.flush()  # UPDATE … WHERE lock_version = 1
        assert instance.lock_version == 2
    with session_scope(session_factory) as session:
        stored = session.get(ProcessInstance, "i-2")
        assert stored is not None and (stored.status, stored.lock_version) == ("completed", 2)


def test_a_constraint_violation_is_sqlalchemys_integrity_error(
    session_factory: sessionmaker[Session],
) -> None:
    session = session_factory()
    try:
        batch = RowBatch()
        batch.add(InstanceEvent, [{"instance_id": "no-such-instance", "type": "x", "changes": {}}])
        with pytest.raises(IntegrityError):
            batch.write(session)
    finally:
        session.rollback()
        session.close()


_BY_KEY = select(ProcessDefinition.id, ProcessDefinition.version).where(
    ProcessDefinition.key == bindparam("key")
)


def test_first_row_binds_parameters_and_returns_none_when_empty(
    session_factory: sessionmaker[Session],
) -> None:
    with session_scope(session_factory) as session:
        definition = _definition(session)
        assert first_row(session, _BY_KEY, key="k") == (definition.id, 1)
        assert first_row(session, _BY_KEY, key="missing") is None


def test_decimal_values_in_json_are_refused_loudly(session_factory: sessionmaker[Session]) -> None:
    # The engine converts task data with to_jsonable before writing; a raw Decimal reaching the
    # writer is a bug that must surface, not be stored as something else.
    with session_scope(session_factory) as session:
        definition = _definition(session)
        instance = _new_instance(definition, "i-3")
        instance.variables = {"amount": Decimal("1.5")}
        batch = RowBatch()
        batch.add_object(instance)
        with pytest.raises(TypeError):
            batch.write(session)
        session.rollback()


def test_json_columns_keep_integers_past_64_bits_and_non_string_keys(
    session_factory: sessionmaker[Session],
) -> None:
    # orjson writes the columns; it refuses big integers, so those fall back to `json`.
    huge = 10**40
    with session_scope(session_factory) as session:
        definition = _definition(session)
        instance = _new_instance(definition, "i-4")
        instance.variables = {"huge": huge, "by_number": {1: "one"}}
        batch = RowBatch()
        batch.add_object(instance)
        batch.write(session)
    with session_scope(session_factory) as session:
        stored = session.get(ProcessInstance, "i-4")
        assert stored is not None
        assert stored.variables == {"huge": huge, "by_number": {"1": "one"}}


def test_json_dumps_writes_valid_json_for_nan_and_unicode() -> None:
    # PostgreSQL refuses the NaN token the standard library writes; null is valid everywhere.
    assert json_dumps({"x": float("nan"), "имя": "Иван"}) == '{"x":null,"имя":"Иван"}'


def test_postgresql_gets_one_statement_and_falls_back_for_what_orjson_cannot_write() -> None:
    dialect = postgresql_psycopg.dialect()
    rows = [{"instance_id": "i", "type": "x", "changes": {"n": 1}}]
    one = _postgresql_single_statement(dialect, [(InstanceEvent.__table__, rows)] * 2, None)
    assert one is not None
    sql, parameters = one
    assert sql.startswith("WITH rows_0 AS (INSERT INTO instance_event") and "rows_1" in sql
    assert set(parameters) == {"rows_0", "rows_1"}  # one JSON document per table
    huge = [{"instance_id": "i", "type": "x", "changes": {"n": 10**40}}]
    assert _postgresql_single_statement(dialect, [(InstanceEvent.__table__, huge)], None) is None
    # JSON null must stay JSON null (json_populate_recordset would make it SQL NULL).
    null = [{"instance_id": "i", "type": "x", "changes": None}]
    assert _postgresql_single_statement(dialect, [(InstanceEvent.__table__, null)], None) is None
    assert (
        _postgresql_single_statement(sqlite.dialect(), [(InstanceEvent.__table__, rows)], None)
        is None
    )


def test_a_failed_precondition_writes_nothing(session_factory: sessionmaker[Session]) -> None:
    with session_scope(session_factory) as session:
        definition = _definition(session)
        holds = Precondition(_BY_KEY, {"key": "k"})
        fails = Precondition(_BY_KEY, {"key": "no such key"})
        for precondition, instance_id in ((fails, "i-5"), (holds, "i-6")):
            batch = RowBatch()
            batch.add_object(_new_instance(definition, instance_id))
            batch.add(InstanceEvent, [{"instance_id": instance_id, "type": "x", "changes": {}}])
            if precondition is fails:
                with pytest.raises(PreconditionFailed):
                    batch.write(session, precondition)
            else:
                batch.write(session, precondition)
    with session_scope(session_factory) as session:
        assert session.scalars(select(ProcessInstance.id)).all() == ["i-6"]
        assert session.scalars(select(InstanceEvent.instance_id)).all() == ["i-6"]


def test_values_the_single_statement_cannot_store_exactly_are_still_stored_exactly(
    session_factory: sessionmaker[Session],
) -> None:
    # NUL inside JSON (json_populate_recordset refuses it), a naive datetime inside JSON (must
    # stay naive), an offset with seconds on a datetime column (exact instant, in UTC).
    odd_offset = timezone(timedelta(hours=5, minutes=30, seconds=15))
    at = datetime(1900, 1, 1, 12, 0, tzinfo=odd_offset)
    changes = {"note": {"inner": "a\x00b"}, "when": datetime(2026, 1, 2, 3, 4, 5)}
    with session_scope(session_factory) as session:
        definition = _definition(session)
        batch = RowBatch()
        batch.add_object(_new_instance(definition, "i-7"))
        batch.add(
            InstanceEvent, [{"instance_id": "i-7", "at": at, "type": "x", "changes": changes}]
        )
        batch.write(session)
    with session_scope(session_factory) as session:
        event = session.scalars(select(InstanceEvent)).one()
        assert event.changes == {"note": {"inner": "a\x00b"}, "when": "2026-01-02T03:04:05"}
        assert event.at == at.astimezone(UTC)


def test_a_rolled_back_savepoint_takes_the_written_instance_out_of_the_session(
    session_factory: sessionmaker[Session],
) -> None:
    with session_scope(session_factory) as session:
        definition = _definition(session)
        savepoint = session.begin_nested()
        instance = _new_instance(definition, "i-8")
        batch = RowBatch()
        batch.add_object(instance)
        batch.write(session)
        assert instance in session
        savepoint.rollback()
        # As for an ORM insert: gone from the session, its attributes still readable.
        assert instance not in session and session.get(ProcessInstance, "i-8") is None
        assert instance.status == "running"


def test_first_row_sees_pending_orm_objects_like_session_execute(
    session_factory: sessionmaker[Session],
) -> None:
    with session_scope(session_factory) as session:
        definition = ProcessDefinition(
            key="pending", version=1, content_hash="h", bpmn_xml="<x/>", resources={}
        )
        session.add(definition)  # not flushed
        assert first_row(session, _BY_KEY, key="pending") == (definition.id, 1)
