"""The Celery app: jobs, timers, the sweeper and the outbox, in two broker modes.

- embedded (`POTOK_BROKER_URL` empty): kombu's SQLAlchemy transport on a SQLite file next
  to the database — no broker server; it polls, every `embedded_polling_interval` seconds.
- scaled: `POTOK_BROKER_URL=redis://…` or `amqp://…`.

Either way the broker is only a doorbell: tasks carry ids, open their own session, and the
database decides what runs. A message that is lost (broker restart, a worker killed while
holding it) is recovered by the sweeper, so the broker needs no persistence of its own.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

from celery import Celery
from sqlalchemy import make_url
from sqlalchemy.orm import Session, sessionmaker

from engine.db import make_engine, make_session_factory
from engine.jobs import install_job_dispatch
from engine.settings import PROJECT_ROOT, Settings, get_settings
from engine.workers.broker import TRANSPORT_PATH
from engine.workers.settings import WorkerSettings, get_worker_settings
from engine.workers.tasks import (
    DELIVER_OUTBOX,
    FIRE_TIMERS,
    RETURN_IDLE_TASKS,
    RUN_JOB,
    RUN_PERIODIC,
    SWEEP_JOBS,
    register_tasks,
)

log = logging.getLogger(__name__)


class PotokCelery(Celery):  # type: ignore[misc]
    """A Celery app that knows potok's settings and opens database sessions for its tasks."""

    def __init__(self, settings: Settings, worker_settings: WorkerSettings) -> None:
        super().__init__("potok", set_as_current=False)
        self.potok_settings = settings
        self.worker_settings = worker_settings
        self._factory: tuple[int, sessionmaker[Session]] | None = None
        self._factory_lock = threading.Lock()

    def session_factory(self) -> sessionmaker[Session]:
        """This process's session factory; jobs created in its sessions are sent on commit."""
        with self._factory_lock:
            # A forked pool child must not reuse its parent's connections.
            if self._factory is None or self._factory[0] != os.getpid():
                engine = make_engine(self.potok_settings.database_url)
                factory = make_session_factory(engine)
                install_job_dispatch(factory, self.send_job)
                self._factory = (os.getpid(), factory)
            return self._factory[1]

    def send_job(self, job_id: int, countdown: float | None = None) -> None:
        """Ring the doorbell for job `job_id` (after `countdown` seconds)."""
        self.send_task(
            RUN_JOB,
            args=[job_id],
            countdown=countdown,
            queue=self.worker_settings.queue,
        )


def embedded_broker_path(settings: Settings, worker_settings: WorkerSettings) -> Path:
    """The embedded broker's SQLite file: next to a SQLite database, else under var/."""
    if worker_settings.embedded_broker_path is not None:
        return worker_settings.embedded_broker_path
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        database = Path(url.database or "")
        return database.with_name(f"{database.stem}-broker.sqlite3")
    return PROJECT_ROOT / "var" / "potok-broker.sqlite3"


def broker_config(settings: Settings, worker_settings: WorkerSettings) -> dict[str, Any]:
    """Celery settings of the broker for this mode."""
    if settings.broker_url:
        options: dict[str, Any] = {}
        if settings.broker_url.startswith(("redis", "rediss")):
            # Fail fast while Redis is down (the row is committed; the sweeper re-sends).
            options["socket_connect_timeout"] = 3
        return {"broker_url": settings.broker_url, "broker_transport_options": options}
    path = embedded_broker_path(settings, worker_settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    return {
        # A plain SQLAlchemy URL plus an explicit transport class: a "sqla+" prefix would
        # select kombu's stock transport instead of ours.
        "broker_url": f"sqlite:///{path}",
        "broker_transport": TRANSPORT_PATH,
        "broker_transport_options": {"polling_interval": worker_settings.embedded_polling_interval},
    }


def beat_schedule(worker_settings: WorkerSettings) -> dict[str, Any]:
    """The periodic tasks; each tick expires, so ticks sent while no worker runs don't pile up."""

    def every(seconds: float, task: str) -> dict[str, Any]:
        return {"task": task, "schedule": seconds, "options": {"expires": max(5.0, seconds * 5)}}

    return {
        "potok-fire-timers": every(worker_settings.timer_interval_seconds, FIRE_TIMERS),
        "potok-sweep-jobs": every(worker_settings.sweep_interval_seconds, SWEEP_JOBS),
        "potok-deliver-outbox": every(worker_settings.outbox_interval_seconds, DELIVER_OUTBOX),
        # The queues' return-to-queue rule counts in minutes; checking every 30 s is plenty.
        "potok-return-idle-tasks": every(30.0, RETURN_IDLE_TASKS),
        # Duties registered by other packages (engine.extensions), e.g. Telegram order offers.
        "potok-periodic": every(worker_settings.outbox_interval_seconds * 2, RUN_PERIODIC),
    }


def make_celery(
    settings: Settings | None = None, worker_settings: WorkerSettings | None = None
) -> PotokCelery:
    """A configured Celery app with potok's tasks registered."""
    settings = settings or get_settings()
    worker_settings = worker_settings or get_worker_settings()
    app = PotokCelery(settings, worker_settings)
    app.conf.update(
        **broker_config(settings, worker_settings),
        task_default_queue=worker_settings.queue,
        # The row is the truth: a task is acknowledged only once it ran, and one whose
        # worker died is handed to another worker (where the broker can tell).
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        # A web request must not hang on a dead broker: the sweeper re-sends anyway.
        task_publish_retry_policy={
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.2,
            "interval_max": 0.5,
        },
        imports=list(worker_settings.worker_imports),
        beat_schedule=beat_schedule(worker_settings),
        # Interval schedules need no state between restarts: keep beat's schedule in memory.
        beat_scheduler="celery.beat:Scheduler",
        enable_utc=True,
    )
    register_tasks(app)
    return app
