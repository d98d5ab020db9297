"""Worker benchmarks: timer fire lag and message delivery time against the number waiting.

1. Fire lag: N instances wait on a timer, all due at the same instant; `fire_due_timers` runs
   in two threads (a worker with concurrency 2) until every timer fired. Lag of a timer =
   the commit time of its `timer_fired` event minus its due time. Beat's tick (≤ 1 s) is
   not included: this is the firing path itself.
2. Delivery: message `payment_received` to one waiting instance found by correlation key,
   with 100 vs 100,000 instances waiting; each delivery is its own committed unit of work.

Waiting instances are seeded fast: one instance is started through the engine, then its
stored state is copied (with its own order id written into the copy) by bulk inserts
together with its timer or subscription row — rows indistinguishable from started ones.

    python -m benchmarks.bench_workers [--timers N] [--large N] [--deliveries N] [--pg-url URL]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, make_url, select, text, update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from engine import service
from engine.db import make_engine, make_session_factory, session_scope
from engine.migrate import upgrade
from engine.models import InstanceEvent, MessageSubscription, ProcessInstance, Timer, utcnow
from engine.runtime import canonical_correlation
from engine.timers import fire_due_timers

ROOT = Path(__file__).resolve().parent.parent
FILES = [
    ROOT / "tests" / "fixtures" / "messages.bpmn",
    ROOT / "tests" / "integration" / "workers" / "bpmn" / "timers.bpmn",
]
DEFAULT_PG = os.environ.get(
    "POTOK_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
TEMPLATE_ORDER = "TEMPLATE-ORDER-0000"
BATCH = 2000


# --- databases ----------------------------------------------------------------------------


@contextmanager
def sqlite_database() -> Iterator[Engine]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        upgrade(url)
        engine = make_engine(url)
        yield engine
        engine.dispose()


@contextmanager
def pg_database(base_url: str) -> Iterator[Engine]:
    name = f"potok_bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(base_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base_url).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        engine = make_engine(url)
        yield engine
        engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def deploy(factory: sessionmaker[Session]) -> None:
    files = [(path.name, path.read_bytes()) for path in FILES]
    with session_scope(factory) as session:
        service.deploy(session, files=files, deployed_by="bench")


# --- seeding ------------------------------------------------------------------------------


def _template(
    factory: sessionmaker[Session], key: str, variables: dict[str, Any]
) -> dict[str, Any]:
    """Start one real instance and return its row as a dict (the copy source)."""
    with session_scope(factory) as session:
        instance = service.start_instance(session, key=key, variables=variables)
        columns = ProcessInstance.__table__.columns
        return {column.key: getattr(instance, column.key) for column in columns}


def _copies(
    template: dict[str, Any], count: int, rename: Callable[[int], str] | None
) -> Iterator[tuple[str, dict[str, Any], str]]:
    """(id, instance row, order id) for `count` copies of the template instance."""
    state_text = json.dumps(template["state"])
    variables_text = json.dumps(template["variables"])
    for number in range(count):
        order = rename(number) if rename else ""
        row = dict(template, id=str(uuid.uuid4()))
        if rename:
            row["state"] = json.loads(state_text.replace(TEMPLATE_ORDER, order))
            row["variables"] = json.loads(variables_text.replace(TEMPLATE_ORDER, order))
        yield row["id"], row, order


def seed_waiting_timers(factory: sessionmaker[Session], count: int, due: datetime) -> None:
    """`count` instances of timer_wait, every timer due at `due`."""
    template = _template(factory, "timer_wait", {})
    with session_scope(factory) as session:
        row = session.scalars(select(Timer).where(Timer.instance_id == template["id"])).one()
        guid, element = row.task_guid, row.element_id
        session.execute(update(Timer).values(due_at=due))
    instances, timers = [], []
    for instance_id, instance_row, _ in _copies(template, count - 1, None):
        instances.append(instance_row)
        timers.append(
            {"instance_id": instance_id, "task_guid": guid, "element_id": element, "due_at": due}
        )
        if len(instances) >= BATCH:
            _flush(factory, instances, Timer, timers)
    _flush(factory, instances, Timer, timers)


def seed_waiting_payments(factory: sessionmaker[Session], count: int) -> list[str]:
    """`count` instances of await_payment, each waiting for its own order id; their ids."""
    template = _template(factory, "await_payment", {"order_id": TEMPLATE_ORDER})
    with session_scope(factory) as session:
        sub = session.scalars(
            select(MessageSubscription).where(MessageSubscription.instance_id == template["id"])
        ).one()
        guid, element, name = sub.task_guid, sub.element_id, sub.message_name
    orders: list[str] = []
    instances, subscriptions = [], []
    for instance_id, instance_row, order in _copies(template, count, lambda n: f"Q-{n:07d}"):
        orders.append(order)
        instances.append(instance_row)
        subscriptions.append(
            {
                "instance_id": instance_id,
                "task_guid": guid,
                "element_id": element,
                "message_name": name,
                "correlation_key": canonical_correlation({"order_id": order}),
            }
        )
        if len(instances) >= BATCH:
            _flush(factory, instances, MessageSubscription, subscriptions)
    _flush(factory, instances, MessageSubscription, subscriptions)
    return orders


def _flush(
    factory: sessionmaker[Session],
    instances: list[dict[str, Any]],
    table: type,
    rows: list[dict[str, Any]],
) -> None:
    if not instances:
        return
    with session_scope(factory) as session:
        session.execute(insert(ProcessInstance), instances)
        session.execute(insert(table), rows)
    instances.clear()
    rows.clear()


def _analyze(engine: Engine) -> None:
    """Fresh planner statistics after a bulk load, as autovacuum would give a live system."""
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()


# --- measurements -------------------------------------------------------------------------


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def fire_lag(engine: Engine, count: int, threads: int = 2) -> dict[str, float]:
    """Seconds from due to fired for `count` timers due at once, fired by `threads` firers."""
    factory = make_session_factory(engine)
    deploy(factory)
    due = utcnow() + timedelta(seconds=5)
    seed_waiting_timers(factory, count, due)
    _analyze(engine)
    time.sleep(max(0.0, (due - utcnow()).total_seconds()))
    started = time.perf_counter()
    workers = [
        threading.Thread(target=lambda: fire_due_timers(factory, limit=100, budget_seconds=3600))
        for _ in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    wall = time.perf_counter() - started
    with session_scope(factory) as session:
        fired_at = list(
            session.scalars(select(InstanceEvent.at).where(InstanceEvent.type == "timer_fired"))
        )
    lags = [(at - due).total_seconds() for at in fired_at]
    assert len(lags) == count, (len(lags), count)
    return {
        "p50": _percentile(lags, 50),
        "p99": _percentile(lags, 99),
        "max": max(lags),
        "rate": count / wall,
    }


def delivery_times(engine: Engine, waiting: int, deliveries: int) -> list[float]:
    """Latency of `deliveries` keyed deliveries with `waiting` instances waiting."""
    factory = make_session_factory(engine)
    deploy(factory)
    orders = seed_waiting_payments(factory, waiting)
    _analyze(engine)
    targets = random.Random(7).sample(orders, min(deliveries, len(orders)))
    latencies: list[float] = []
    for order in targets:
        t0 = time.perf_counter()
        with session_scope(factory) as session:
            result = service.deliver_message(
                session, name="payment_received", correlation={"order_id": order}
            )
        latencies.append(time.perf_counter() - t0)
        assert len(result["delivered_to"]) == 1
    return latencies


# --- report -------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--timers", type=int, default=10_000)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--deliveries", type=int, default=200)
    parser.add_argument("--pg-url", default=DEFAULT_PG)
    args = parser.parse_args()
    databases: list[tuple[str, Callable[[], Any]]] = [
        ("SQLite", sqlite_database),
        ("PostgreSQL", lambda: pg_database(args.pg_url)),
    ]

    lag_rows = []
    for label, open_db in databases:
        with open_db() as engine:
            lag_rows.append((label, fire_lag(engine, args.timers)))
    print(f"## Fire lag: {args.timers:,} timers due at the same instant, 2 firing threads\n")
    print("| database | p50 lag s | p99 lag s | max lag s | timers fired/s |")
    print("|---|---:|---:|---:|---:|")
    for label, lag in lag_rows:
        print(
            f"| {label} | {lag['p50']:.2f} | {lag['p99']:.2f} | {lag['max']:.2f} "
            f"| {lag['rate']:,.0f} |"
        )

    print(f"\n## Message delivery by correlation key ({args.deliveries} deliveries each)\n")
    print("| database | waiting instances | p50 ms | p99 ms | mean ms |")
    print("|---|---:|---:|---:|---:|")
    ratios = []
    for label, open_db in databases:
        p50s = []
        for waiting in (args.small, args.large):
            with open_db() as engine:
                latencies = delivery_times(engine, waiting, args.deliveries)
            p50s.append(_percentile(latencies, 50))
            print(
                f"| {label} | {waiting:,} | {_percentile(latencies, 50) * 1000:.2f} "
                f"| {_percentile(latencies, 99) * 1000:.2f} "
                f"| {statistics.fmean(latencies) * 1000:.2f} |"
            )
        ratios.append(f"{label} {p50s[1] / p50s[0]:.2f}×")
    print(f"\np50 at {args.large:,} / p50 at {args.small:,} waiting: {', '.join(ratios)}")


if __name__ == "__main__":
    main()
