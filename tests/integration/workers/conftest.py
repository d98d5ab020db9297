"""Fixtures for worker tests: the test processes, scripted operators, captured dispatch."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine import service
from engine.db import session_scope
from engine.jobs import JobOutcome, install_job_dispatch, run_job
from engine.models import InstanceEvent, ProcessInstance, utcnow
from engine.operators import OPERATORS, HandlerContext

BPMN_DIR = Path(__file__).resolve().parent / "bpmn"


def bpmn_files(*names: str) -> list[tuple[str, bytes]]:
    return [(name, (BPMN_DIR / name).read_bytes()) for name in names]


@pytest.fixture
def deploy(session_factory: sessionmaker[Session]) -> Callable[..., service.DeployOutcome]:
    """Deploy files of tests/integration/workers/bpmn by name, committed."""

    def _deploy(*names: str) -> service.DeployOutcome:
        with session_scope(session_factory) as session:
            return service.deploy(session, files=bpmn_files(*names), deployed_by="tests")

    return _deploy


@pytest.fixture
def sent_jobs(session_factory: sessionmaker[Session]) -> Iterator[list[int]]:
    """Job ids the after-commit dispatch sent, in order (instead of a broker)."""
    sent: list[int] = []
    uninstall = install_job_dispatch(session_factory, sent.append)
    yield sent
    uninstall()


@dataclass
class ScriptedOperator:
    """A job handler that raises the queued errors first, then succeeds."""

    errors: list[Exception] = field(default_factory=list)
    calls: list[HandlerContext] = field(default_factory=list)
    effects: Counter[str] = field(default_factory=Counter)

    def __call__(self, ctx: HandlerContext, order_id: str) -> dict[str, Any]:
        self.calls.append(ctx)
        if self.errors:
            raise self.errors.pop(0)
        self.effects[ctx.idempotency_key] += 1  # the side effect
        return {"ok": True, "order_id": order_id}


@pytest.fixture
def charge() -> Iterator[ScriptedOperator]:
    """`test.charge`: a throw-away job operator (5 attempts, backoff base 2)."""
    scripted = ScriptedOperator()
    OPERATORS.register("test.charge", max_attempts=5, backoff_base=2.0)(scripted)
    yield scripted
    OPERATORS.unregister("test.charge")


def drain(
    factory: sessionmaker[Session], sent: list[int], *, start: datetime | None = None
) -> list[JobOutcome]:
    """Run sent jobs like a worker would, jumping the clock over retry delays."""
    now = start or utcnow()
    outcomes: list[JobOutcome] = []
    while sent:
        job_id = sent.pop(0)
        outcome = run_job(factory, job_id, now=now)
        outcomes.append(outcome)
        if outcome.retry_in is not None:
            now += timedelta(seconds=outcome.retry_in)
            sent.append(job_id)
    return outcomes


def instance(factory: sessionmaker[Session], instance_id: str) -> ProcessInstance:
    with session_scope(factory) as session:
        found = session.get(ProcessInstance, instance_id)
        assert found is not None
        return found


def event_types(factory: sessionmaker[Session], instance_id: str) -> list[str]:
    with session_scope(factory) as session:
        stmt = (
            select(InstanceEvent.type)
            .where(InstanceEvent.instance_id == instance_id)
            .order_by(InstanceEvent.id)
        )
        return list(session.scalars(stmt))


# --- brokers ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """A private redis-server for this test run, so restarting it disturbs nobody else."""

    def __init__(self, folder: Path) -> None:
        self.port = _free_port()
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not self.ping():
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)

    def ping(self) -> bool:
        result = subprocess.run(
            ["redis-cli", "-p", str(self.port), "ping"], capture_output=True, check=False
        )
        return result.stdout.strip() == b"PONG"

    def stop(self) -> None:
        """Shut down without saving: every message in it is lost."""
        subprocess.run(
            ["redis-cli", "-p", str(self.port), "shutdown", "nosave"],
            capture_output=True,
            check=False,
        )
        if self.process is not None:
            self.process.wait(timeout=10)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    if not redis_server.ping():
        redis_server.start()
    return redis_server.url


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    """A RabbitMQ virtual host of this run on the local server (guest/guest)."""
    if shutil.which("rabbitmqctl") is None:
        pytest.skip("rabbitmqctl is not installed")
    vhost = f"potok-test-{os.getpid()}"
    subprocess.run(["rabbitmqctl", "add_vhost", vhost], check=True, capture_output=True)
    subprocess.run(
        ["rabbitmqctl", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
        check=True,
        capture_output=True,
    )
    yield f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    subprocess.run(["rabbitmqctl", "delete_vhost", vhost], check=False, capture_output=True)
