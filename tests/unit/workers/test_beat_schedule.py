"""Beat runs every periodic duty, including the queues' return-to-queue rule."""

from __future__ import annotations

from engine.workers.app import beat_schedule, make_celery
from engine.workers.settings import get_worker_settings
from engine.workers.tasks import RETURN_IDLE_TASKS


def test_return_idle_tasks_is_scheduled_and_registered() -> None:
    schedule = beat_schedule(get_worker_settings())
    assert schedule["potok-return-idle-tasks"]["task"] == RETURN_IDLE_TASKS
    assert RETURN_IDLE_TASKS in make_celery().tasks
