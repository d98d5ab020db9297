"""Run a worker and beat inside the current process (`make run`, tests, single-box installs)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from celery.beat import EmbeddedService
from celery.utils.nodenames import anon_nodename
from celery.worker import WorkController
from celery.worker import state as worker_state

from engine.settings import Settings
from engine.workers.app import PotokCelery, make_celery
from engine.workers.settings import WorkerSettings


@dataclass
class EmbeddedWorkers:
    """A worker (threads pool) and, optionally, beat, running in background threads."""

    app: PotokCelery
    worker: Any
    thread: threading.Thread
    beat: Any | None

    def stop(self, timeout: float = 15.0) -> None:
        """Stop beat, then the worker (it finishes the task in hand first)."""
        # The worker's loop polls this flag (WorkController.stop() expects the main thread);
        # raise it first so the worker winds down while beat stops.
        worker_state.should_terminate = 0
        if self.beat is not None:
            self.beat.stop()
        self.thread.join(timeout)
        worker_state.should_terminate = None
        if self.thread.is_alive():
            raise RuntimeError("the embedded worker did not stop in time")


def start_embedded(
    settings: Settings | None = None,
    worker_settings: WorkerSettings | None = None,
    *,
    with_beat: bool = True,
    app: PotokCelery | None = None,
) -> EmbeddedWorkers:
    """Start a Celery worker (threads pool) and beat in background threads; returns a handle."""
    app = app or make_celery(settings, worker_settings)
    app.loader.import_default_modules()  # handlers register their operators
    # Pool threads look tasks up on the *default* app (Celery's CLI worker sets it too).
    app.set_default()
    concurrency = app.worker_settings.worker_concurrency
    worker = WorkController(
        app=app,
        hostname=anon_nodename(),
        pool="threads",
        concurrency=concurrency,
        without_heartbeat=True,
        without_mingle=True,
        without_gossip=True,
        ready_callback=None,
        loglevel="WARNING",
    )
    thread = threading.Thread(target=worker.start, name="potok-worker", daemon=True)
    thread.start()
    beat = None
    if with_beat:
        beat = EmbeddedService(app, thread=True)
        beat.start()
    return EmbeddedWorkers(app=app, worker=worker, thread=thread, beat=beat)
