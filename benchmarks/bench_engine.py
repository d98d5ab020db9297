"""Engine benchmark: raw SpiffWorkflow in memory vs potok persisted on SQLite and PostgreSQL.

Same 5-element process (start → script → exclusive gateway → user task → end) everywhere.
Raw: spec parsed once, one `serialize_json` per instance (what any persistence must do at
least). potok: `start_instance` in its own committed transaction, state + projections +
history written. Then the loop benchmark: step time and state size at 10, 1,000, 5,000.

    python -m benchmarks.bench_engine [--instances N] [--pg-url URL]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Engine, make_url, select, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from benchmarks.common import FIXTURES, Measurement, measure, table
from engine import service
from engine.actor import SYSTEM_ACTOR
from engine.db import make_engine, make_session_factory, session_scope
from engine.migrate import upgrade
from engine.models import HumanTask, ProcessInstance, new_id

DEFAULT_PG = os.environ.get(
    "POTOK_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def raw_spiff(count: int) -> Measurement:
    """Raw SpiffWorkflow: create, run to the user task, serialize — all in memory."""
    parser = SpiffBpmnParser()
    parser.add_bpmn_file(str(FIXTURES / "five_elements.bpmn"))
    spec = parser.get_spec("five_elements")
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))

    def start(i: int) -> None:
        workflow = BpmnWorkflow(spec)
        for task in workflow.get_tasks(state=TaskState.READY):
            task.set_data(amount=i)
        workflow.do_engine_steps()
        serializer.serialize_json(workflow)

    measure("raw SpiffWorkflow (memory)", start, min(50, count))  # the same warm-up as potok's
    return measure("raw SpiffWorkflow (memory)", start, count)


def _deploy(factory: sessionmaker[Session], *names: str) -> None:
    files = [(n, (FIXTURES / n).read_bytes()) for n in names]
    with session_scope(factory) as session:
        service.deploy(session, files=files, deployed_by="bench")


def potok_starts(label: str, factory: sessionmaker[Session], count: int) -> Measurement:
    """potok: start_instance in its own committed transaction each."""
    _deploy(factory, "five_elements.bpmn")

    def start(i: int) -> None:
        with session_scope(factory) as session:
            service.start_instance(session, key="five_elements", variables={"amount": i})

    measure(label, start, min(50, count))  # warm the spec cache and connection pool
    return measure(label, start, count)


# The rows one start of the 5-element process writes (as potok writes them): the instance with
# its stored state, four history events, two variables, one user task.
_FLOOR_STATEMENTS = (
    "INSERT INTO process_instance (id, definition_id, key, version, status, state,"
    " serializer_version, lock_version, variables, active, created_at, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "INSERT INTO instance_event (instance_id, at, type, element_id, element_name, changes)"
    " VALUES (?, ?, ?, ?, ?, ?)",
    "INSERT INTO instance_variable (instance_id, name, value) VALUES (?, ?, ?)",
    "INSERT INTO human_task (id, instance_id, task_guid, process_key, element_id, name,"
    " candidate_groups, state, form, data, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
)


def database_floor(label: str, engine: Engine, count: int) -> Measurement:
    """The database work of one start alone, through the bare driver: the rows potok writes
    (real state, real sizes) and the commit — not even a definition lookup. No engine, no ORM:
    the least any persisted start can cost on this machine and this database (on PostgreSQL
    all the rows go in one statement, the fastest way we know)."""
    with session_scope(make_session_factory(engine)) as session:
        sample = service.start_instance(session, key="five_elements", variables={"amount": 1})
        state, variables = json.dumps(sample.state), json.dumps(sample.variables)
        definition_id = sample.definition_id
    connection = engine.raw_connection()
    is_sqlite = engine.dialect.name == "sqlite"

    def rows(i: int) -> list[list[tuple[Any, ...]]]:
        instance_id, now = new_id(), datetime.now(UTC).isoformat()
        instance = (instance_id, definition_id, "five_elements", 1, "waiting", state, "1", 1)
        event = (instance_id, now, "element_completed", "compute", "Compute", "{}")
        task = (new_id(), instance_id, str(uuid.uuid4()), "five_elements", "review", "Review")
        return [
            [(*instance, variables, "[]", now, now)],
            [event] * 4,
            [(instance_id, "amount", str(i)), (instance_id, "total", str(2 * i))],
            [(*task, "[]", "open", "{}", "{}", now)],
        ]

    def start(i: int) -> None:
        cursor = connection.cursor()
        if is_sqlite:
            cursor.execute("BEGIN IMMEDIATE")
        table_rows = rows(i)
        if is_sqlite:
            for statement, values in zip(_FLOOR_STATEMENTS, table_rows, strict=True):
                cursor.executemany(statement, values)
        else:
            cursor.execute(*_one_postgresql_statement(table_rows))
        connection.commit()
        cursor.close()

    try:
        measure(label, start, min(50, count))
        return measure(label, start, count)
    finally:
        connection.close()


def _one_postgresql_statement(table_rows: list[list[tuple[Any, ...]]]) -> tuple[str, list[Any]]:
    """The floor's inserts as one statement: data-modifying WITHs with multi-row VALUES."""
    parts, parameters = [], []
    for statement, values in zip(_FLOOR_STATEMENTS, table_rows, strict=True):
        head, one_row = statement.replace("?", "%s").split(" VALUES ")
        parts.append(f"{head} VALUES {', '.join([one_row] * len(values))}")
        parameters += [value for row in values for value in row]
    ctes = ", ".join(f"t{n} AS ({part})" for n, part in enumerate(parts))
    return f"WITH {ctes} SELECT 1", parameters


def loop_profile(factory: sessionmaker[Session], iterations: int) -> list[tuple[int, float, int]]:
    """(iteration, ms per step, stored state bytes) at 10, 1,000 and `iterations`."""
    _deploy(factory, "loop.bpmn")
    with session_scope(factory) as session:
        instance_id = service.start_instance(session, key="loop").id
    marks = {10, 1000, iterations}
    window: list[float] = []
    profile = []
    for i in range(1, iterations + 1):
        t0 = time.perf_counter()
        with session_scope(factory) as session:
            task_id = session.scalars(
                select(HumanTask.id).where(
                    HumanTask.instance_id == instance_id, HumanTask.state == "open"
                )
            ).one()
            service.complete_task(session, task_id=task_id, data={}, actor=SYSTEM_ACTOR)
        window = ([*window, time.perf_counter() - t0])[-10:]
        if i in marks:
            with session_scope(factory) as session:
                state = session.get(ProcessInstance, instance_id).state  # type: ignore[union-attr]
            profile.append((i, sum(window) / len(window) * 1000, len(json.dumps(state))))
    return profile


def _sqlite_engine(directory: str) -> Engine:
    url = f"sqlite:///{Path(directory) / 'bench.sqlite3'}"
    upgrade(url)
    return make_engine(url)


def _pg_engine(base_url: str) -> tuple[Engine, Engine, str]:
    name = f"potok_bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(base_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base_url).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    return make_engine(url), admin, name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--instances", type=int, default=2000)
    parser.add_argument("--loop", type=int, default=5000)
    parser.add_argument("--pg-url", default=DEFAULT_PG)
    args = parser.parse_args()
    raw = raw_spiff(args.instances)
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = _sqlite_engine(tmp)
        sqlite_run = potok_starts(
            "potok engine, SQLite", make_session_factory(sqlite), args.instances
        )
        sqlite_floor = database_floor("database work alone, SQLite", sqlite, args.instances)
        pg, admin, name = _pg_engine(args.pg_url)
        try:
            pg_factory = make_session_factory(pg)
            pg_run = potok_starts("potok engine, PostgreSQL", pg_factory, args.instances)
            pg_floor = database_floor("database work alone, PostgreSQL", pg, args.instances)
            loop = loop_profile(make_session_factory(sqlite), args.loop)
            loop_pg = loop_profile(pg_factory, args.loop)
        finally:
            pg.dispose()
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    print(f"## Start {args.instances} instances of the 5-element process (one client)\n")
    print(table([raw, sqlite_run, pg_run], raw))
    print(
        "\nFor scale, the same rows written through the bare driver with no engine at all "
        "(inserts and commit only):\n"
    )
    print(table([sqlite_floor, pg_floor], raw))
    for db, run, floor in (("SQLite", sqlite_run, sqlite_floor), ("PostgreSQL", pg_run, pg_floor)):
        best = 1 / (1 / raw.rate + 1 / floor.rate)
        print(
            f"\n{db}: raw SpiffWorkflow + database work alone = {best:,.0f}/s "
            f"({best / raw.rate:.2f}× raw) is the ceiling for any persisted engine here; "
            f"potok reaches {run.rate / best:.0%} of it."
        )
    print("\n## Loop: user task → script n += 1 → gateway, completed through the engine\n")
    print("| database | iteration | ms per step (mean of last 10) | stored state bytes |")
    print("|---|---:|---:|---:|")
    for db, rows in (("SQLite", loop), ("PostgreSQL", loop_pg)):
        for iteration, ms, size in rows:
            print(f"| {db} | {iteration:,} | {ms:.2f} | {size:,} |")
    ratio = loop[-1][1] / loop[0][1]
    print(f"\nSQLite step time at {args.loop:,} / at 10: {ratio:.2f}×")


if __name__ == "__main__":
    main()
