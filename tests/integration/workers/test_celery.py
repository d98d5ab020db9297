"""Real Celery workers on real brokers: embedded (SQLAlchemy transport), Redis, RabbitMQ.

Worker subprocesses run `python -m engine.workers worker|beat` with the test operators
imported (POTOK_WORKER_IMPORTS), a short job lease and a fast sweeper, so a killed worker or
a lost broker message is recovered in seconds.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from engine import service
from engine.db import session_scope
from engine.jobs import install_job_dispatch
from engine.models import InstanceEvent, Job, ProcessInstance
from engine.settings import PROJECT_ROOT, Settings
from engine.workers.app import PotokCelery, make_celery
from engine.workers.embedded import start_embedded
from engine.workers.settings import WorkerSettings
from tests.integration.workers import operators
from tests.integration.workers.conftest import RedisServer

Deploy = Callable[..., service.DeployOutcome]
FAST = {
    "POTOK_JOB_LEASE_SECONDS": "3",
    "POTOK_SWEEP_INTERVAL_SECONDS": "0.5",
    "POTOK_SWEEP_GRACE_SECONDS": "2",
    "POTOK_TIMER_INTERVAL_SECONDS": "0.5",
    "POTOK_TIMER_LEASE_SECONDS": "3",
}


def database_url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture
def effects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """`test.effect` registered here, writing its calls and effects under tmp_path."""
    folder = tmp_path / "effects"
    folder.mkdir()
    monkeypatch.setenv("POTOK_TEST_EFFECT_DIR", str(folder))
    operators.register()
    yield folder
    operators.unregister()


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


def statuses(factory: sessionmaker[Session], ids: list[str]) -> Counter[str]:
    with session_scope(factory) as session:
        stmt = select(ProcessInstance.status).where(ProcessInstance.id.in_(ids))
        return Counter(session.scalars(stmt))


def all_completed(factory: sessionmaker[Session], ids: list[str]) -> Callable[[], bool]:
    return lambda: statuses(factory, ids) == {"completed": len(ids)}


def start(factory: sessionmaker[Session], key: str, count: int) -> list[str]:
    with session_scope(factory) as session:
        return [service.start_instance(session, key=key).id for _ in range(count)]


def completions_per_instance(factory: sessionmaker[Session], event: str) -> Counter[str]:
    with session_scope(factory) as session:
        stmt = select(InstanceEvent.instance_id).where(InstanceEvent.type == event)
        return Counter(session.scalars(stmt))


def assert_each_effect_once(instance_ids: list[str], per_instance: int) -> None:
    """Every job's side effect happened exactly once, whatever the number of calls."""
    effects = operators.read_effects()
    by_instance = Counter(name.split("_", 1)[0] for name in effects)
    assert by_instance == dict.fromkeys(instance_ids, per_instance)


def assert_two_jobs_done_once(factory: sessionmaker[Session], instance_ids: list[str]) -> None:
    """Both jobs of every effect_flow instance had their effect and completed, once each."""
    assert_each_effect_once(instance_ids, per_instance=2)
    assert completions_per_instance(factory, "job_completed") == dict.fromkeys(instance_ids, 2)


# --- embedded mode ------------------------------------------------------------------------


def test_embedded_broker_runs_jobs_and_timers_without_a_server(
    db_engine: Engine,
    session_factory: sessionmaker[Session],
    deploy: Deploy,
    effects: Path,
    tmp_path: Path,
) -> None:
    deploy("effect_flow.bpmn", "timers.bpmn")
    settings = Settings(database_url=database_url(db_engine), broker_url="")
    worker_settings = WorkerSettings(
        worker_imports=[],
        embedded_broker_path=tmp_path / "broker.sqlite3",
        timer_interval_seconds=0.5,
    )
    app = make_celery(settings, worker_settings)
    assert app.conf.broker_url == f"sqlite:///{tmp_path / 'broker.sqlite3'}"
    handle = start_embedded(app=app)
    uninstall = install_job_dispatch(session_factory, app.send_job)
    try:
        jobs = start(session_factory, "effect_flow", 4)
        timed = start(session_factory, "timer_wait", 3)
        wait_until(all_completed(session_factory, jobs + timed), 30, "the embedded worker")
    finally:
        uninstall()
        handle.stop()
    assert_each_effect_once(jobs, per_instance=2)
    assert set(completions_per_instance(session_factory, "timer_fired").values()) == {1}


# --- subprocess workers -------------------------------------------------------------------


class Processes:
    """Worker/beat subprocesses of one test, killed at the end whatever happened."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.running: list[subprocess.Popen[bytes]] = []

    def spawn(self, role: str, *args: str) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"{role}-{len(self.running)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "engine.workers", role, *args],
            cwd=PROJECT_ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a kill takes the whole worker
        )
        self.running.append(process)
        return process

    def worker(self, *args: str) -> subprocess.Popen[bytes]:
        return self.spawn(
            "worker",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "--loglevel",
            "INFO",
            *args,
        )

    def beat(self) -> subprocess.Popen[bytes]:
        return self.spawn("beat", "--loglevel", "INFO")

    @staticmethod
    def kill(process: subprocess.Popen[bytes]) -> None:
        """SIGKILL the process and its children: no warm shutdown, nothing acknowledged."""
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    def stop_all(self) -> None:
        for process in self.running:
            self.kill(process)

    def wait_until(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        """`wait_until`, failing with the subprocesses' logs."""
        try:
            wait_until(predicate, timeout, what)
        except AssertionError:
            raise AssertionError(self.logs()) from None

    def logs(self, tail: int | None = 3000) -> str:
        """The subprocesses' output (the last `tail` characters of each)."""
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-(tail or 0) :]}"
            for path in sorted(self.log_dir.glob("*.log"))
        )


def subprocess_env(database: str, broker: str, effects: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        **FAST,
        "POTOK_DATABASE_URL": database,
        "POTOK_BROKER_URL": broker,
        "POTOK_WORKER_IMPORTS": '["tests.integration.workers.worker_imports"]',
        "POTOK_QUEUE": f"potok-test-{os.getpid()}-{time.monotonic_ns()}",
        "POTOK_TEST_EFFECT_DIR": str(effects),
        "PYTHONPATH": str(PROJECT_ROOT),
        **extra,
    }


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], Processes]]:
    made: list[Processes] = []

    def make(env: dict[str, str]) -> Processes:
        made.append(Processes(env, tmp_path))
        return made[-1]

    yield make
    for group in made:
        group.stop_all()


Workers = Callable[..., Processes]


@pytest.fixture
def workers(
    db_engine: Engine, effects: Path, processes: Callable[[dict[str, str]], Processes]
) -> Workers:
    """`workers(broker_url, **extra_env)`: a process group on this test's database."""

    def make(broker: str, **extra: str) -> Processes:
        return processes(subprocess_env(database_url(db_engine), broker, effects, **extra))

    return make


def client_app(env: dict[str, str]) -> PotokCelery:
    """The sending side (what the web process has), configured like the workers."""
    settings = Settings(database_url=env["POTOK_DATABASE_URL"], broker_url=env["POTOK_BROKER_URL"])
    worker_settings = WorkerSettings(queue=env["POTOK_QUEUE"], worker_imports=[])
    return make_celery(settings, worker_settings)


@contextmanager
def sending_jobs(factory: sessionmaker[Session], env: dict[str, str]) -> Iterator[None]:
    """Within the block, every committed job is sent to the workers' broker."""
    uninstall = install_job_dispatch(factory, client_app(env).send_job)
    try:
        yield
    finally:
        uninstall()


@pytest.mark.broker
def test_worker_killed_mid_job_a_new_worker_finishes_every_instance_once(
    session_factory: sessionmaker[Session], deploy: Deploy, redis_url: str, workers: Workers
) -> None:
    deploy("effect_flow.bpmn")
    group = workers(redis_url, POTOK_TEST_EFFECT_SLEEP="1.0")
    group.beat()
    first = group.worker()
    with sending_jobs(session_factory, group.env):
        ids = start(session_factory, "effect_flow", 6)
        # Kill the worker (all its processes) while its handlers sleep, before they did
        # their side effect; every call so far was made by the first worker.
        wait_until(lambda: bool(operators.read_calls()), 30, "a handler in the first worker")
        group.kill(first)
        killed_calls = operators.read_calls()
        group.worker()
        group.wait_until(all_completed(session_factory, ids), 60, "the second worker")
    assert killed_calls, "the first worker ran no handler before it was killed"
    assert_two_jobs_done_once(session_factory, ids)
    calls = Counter(key for key, _, _ in operators.read_calls())
    assert any(count > 1 for count in calls.values())  # some job really ran twice


@pytest.mark.broker
def test_200_timers_fire_once_across_a_worker_restart(
    session_factory: sessionmaker[Session], deploy: Deploy, amqp_url: str, workers: Workers
) -> None:
    deploy("timers.bpmn")
    group = workers(amqp_url, POTOK_TIMER_BATCH="10")
    ids = start(session_factory, "timer_wait", 200)
    group.beat()
    first = group.worker()
    wait_until(lambda: statuses(session_factory, ids)["completed"] >= 20, 30, "first firings")
    group.kill(first)  # stopped hard while timers are due and claimed
    group.worker()
    group.wait_until(all_completed(session_factory, ids), 60, "every timer")
    assert completions_per_instance(session_factory, "timer_fired") == dict.fromkeys(ids, 1)


def _jobs_done(factory: sessionmaker[Session]) -> int:
    with session_scope(factory) as session:
        stmt = select(func.count()).select_from(Job).where(Job.state == "done")
        return int(session.scalar(stmt) or 0)


def _run_across_broker_restart(
    factory: sessionmaker[Session],
    group: Processes,
    stop_broker: Callable[[], None],
    start_broker: Callable[[], None],
) -> list[str]:
    """Jobs flow, the broker goes away (with what it held), instances start meanwhile,
    the broker comes back: every instance must still complete."""
    group.beat()
    group.worker()
    with sending_jobs(factory, group.env):
        ids = start(factory, "effect_flow", 8)
        wait_until(lambda: _jobs_done(factory) >= 3, 30, "the first jobs")
        stop_broker()
        ids += start(factory, "effect_flow", 4)  # their doorbells cannot ring
        start_broker()
        group.wait_until(all_completed(factory, ids), 90, "every instance after the restart")
    return ids


@pytest.mark.broker
@pytest.mark.parametrize("db_engine", ["postgres"], indirect=True)
def test_redis_restart_loses_messages_and_the_sweeper_recovers_them(
    session_factory: sessionmaker[Session],
    deploy: Deploy,
    redis_server: RedisServer,
    redis_url: str,
    workers: Workers,
) -> None:
    deploy("effect_flow.bpmn")
    group = workers(redis_url, POTOK_TEST_EFFECT_SLEEP="0.3")
    ids = _run_across_broker_restart(session_factory, group, redis_server.stop, redis_server.start)
    # What the restart lost came back through the sweeper ("sweep_jobs … succeeded …: N").
    resent = re.findall(r"potok\.sweep_jobs\[[^]]+\] succeeded in \S+: (\d+)", group.logs(None))
    assert sum(map(int, resent)) > 0
    assert_two_jobs_done_once(session_factory, ids)


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=120)


@pytest.mark.broker
@pytest.mark.parametrize("db_engine", ["sqlite"], indirect=True)
def test_rabbitmq_restart_mid_run_loses_nothing(
    session_factory: sessionmaker[Session], deploy: Deploy, amqp_url: str, workers: Workers
) -> None:
    deploy("effect_flow.bpmn")
    ids = _run_across_broker_restart(
        session_factory,
        workers(amqp_url, POTOK_TEST_EFFECT_SLEEP="0.3"),
        lambda: _rabbitmqctl("stop_app"),
        lambda: _rabbitmqctl("start_app"),
    )
    assert_two_jobs_done_once(session_factory, ids)
