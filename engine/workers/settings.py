"""Knobs of the worker layer (leases, intervals, batch sizes), read from POTOK_* variables.

Kept beside the worker code rather than in `engine.settings` so the web process, which only
enqueues, never needs them; both read the same environment.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class WorkerSettings(BaseSettings):
    """How workers claim, retry and poll; every field is POTOK_<NAME> in the environment."""

    model_config = SettingsConfigDict(env_prefix="POTOK_", env_file=".env", extra="ignore")

    # Modules a worker imports at start so their @operator handlers are registered.
    worker_imports: list[str] = ["handlers"]
    queue: str = "potok"
    # A running job's lease: past it the job is presumed lost (worker killed) and re-run.
    # Handlers are idempotent on ctx.idempotency_key, so a slow handler overtaken is safe.
    job_lease_seconds: float = 300.0
    job_backoff_cap_seconds: float = 600.0
    # The sweeper re-sends a pending job this long past due (its broker message was lost).
    sweep_grace_seconds: float = 10.0
    sweep_interval_seconds: float = 5.0
    timer_interval_seconds: float = 1.0
    timer_batch: int = 200
    timer_lease_seconds: float = 60.0
    # One beat tick keeps firing batches while timers are due, up to this long.
    timer_tick_budget_seconds: float = 20.0
    outbox_interval_seconds: float = 1.0
    outbox_batch: int = 100
    outbox_lease_seconds: float = 60.0
    outbox_max_attempts: int = 20
    outbox_backoff_cap_seconds: float = 3600.0
    # Embedded broker (kombu's SQLAlchemy transport) polls; low keeps jobs snappy.
    embedded_polling_interval: float = 0.1
    embedded_broker_path: Path | None = None
    worker_concurrency: int = 2


@lru_cache(maxsize=1)
def get_worker_settings() -> WorkerSettings:
    """The process-wide worker settings (tests build their own WorkerSettings instead)."""
    return WorkerSettings()
