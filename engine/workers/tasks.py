"""The Celery tasks: thin shells that take ids, open their own sessions and call the engine."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from engine import extensions, jobs, outbox, queues, timers
from engine.db import session_scope
from engine.models import utcnow

if TYPE_CHECKING:
    from engine.workers.app import PotokCelery

log = logging.getLogger(__name__)

RUN_JOB = "potok.run_job"
FIRE_TIMERS = "potok.fire_timers"
RETURN_IDLE_TASKS = "potok.return_idle_tasks"
SWEEP_JOBS = "potok.sweep_jobs"
DELIVER_OUTBOX = "potok.deliver_outbox"
RUN_PERIODIC = "potok.run_periodic"


def _send_later(app: PotokCelery, job_id: int, countdown: float) -> None:
    try:
        app.send_job(job_id, countdown=countdown)
    except Exception:  # the row says when it is due; the sweeper re-sends it
        log.warning("could not re-send job %s", job_id, exc_info=True)


def run_job(app: PotokCelery, job_id: int) -> str:
    """Run one job; send it again for a retry or if it arrived before it was due."""
    settings = app.worker_settings
    outcome = jobs.run_job(
        app.session_factory(),
        job_id,
        lease_seconds=settings.job_lease_seconds,
        backoff_cap_seconds=settings.job_backoff_cap_seconds,
    )
    if outcome.retry_in is not None:
        _send_later(app, job_id, outcome.retry_in)
    return outcome.status


def fire_timers(app: PotokCelery) -> int:
    """Fire every due timer (in batches, within the tick's time budget)."""
    settings = app.worker_settings
    return timers.fire_due_timers(
        app.session_factory(),
        limit=settings.timer_batch,
        lease_seconds=settings.timer_lease_seconds,
        budget_seconds=settings.timer_tick_budget_seconds,
    )


def sweep_jobs(app: PotokCelery) -> int:
    """Re-send jobs whose message was lost and jobs whose worker died."""
    with session_scope(app.session_factory()) as session:
        ids = jobs.sweep_jobs(
            session, now=utcnow(), grace_seconds=app.worker_settings.sweep_grace_seconds
        )
    for job_id in ids:
        _send_later(app, job_id, 0)
    if ids:
        log.info("sweeper re-sent %d jobs", len(ids))
    return len(ids)


def deliver_outbox(app: PotokCelery) -> int:
    """Deliver due outbox messages; returns how many were sent."""
    settings = app.worker_settings
    policy = outbox.OutboxPolicy(
        lease_seconds=settings.outbox_lease_seconds,
        max_attempts=settings.outbox_max_attempts,
        backoff_cap_seconds=settings.outbox_backoff_cap_seconds,
    )
    report = outbox.deliver_outbox(
        app.session_factory(), limit=settings.outbox_batch, policy=policy
    )
    return len(report.sent)


def return_idle_tasks(app: PotokCelery) -> int:
    """Unclaim tasks idle longer than their queue's return-to-queue rule allows."""
    with session_scope(app.session_factory()) as session:
        return len(queues.return_idle_tasks(session))


def run_periodic(app: PotokCelery) -> int:
    """Run the periodic duties other packages registered (engine.extensions)."""
    outcomes = extensions.run_periodic(app.session_factory())
    return sum(outcome == "ok" for outcome in outcomes.values())


def register_tasks(app: PotokCelery) -> None:
    """Register potok's tasks on `app` under stable names."""

    @app.task(name=RUN_JOB, shared=False)  # type: ignore[untyped-decorator]
    def run_job_task(job_id: int) -> str:
        return run_job(app, job_id)

    @app.task(name=FIRE_TIMERS, shared=False)  # type: ignore[untyped-decorator]
    def fire_timers_task() -> int:
        return fire_timers(app)

    @app.task(name=SWEEP_JOBS, shared=False)  # type: ignore[untyped-decorator]
    def sweep_jobs_task() -> int:
        return sweep_jobs(app)

    @app.task(name=RETURN_IDLE_TASKS, shared=False)  # type: ignore[untyped-decorator]
    def return_idle_tasks_task() -> int:
        return return_idle_tasks(app)

    @app.task(name=DELIVER_OUTBOX, shared=False)  # type: ignore[untyped-decorator]
    def deliver_outbox_task() -> int:
        return deliver_outbox(app)

    @app.task(name=RUN_PERIODIC, shared=False)  # type: ignore[untyped-decorator]
    def run_periodic_task() -> int:
        return run_periodic(app)
