"""The worker layer's pure parts: error classification, backoff, broker and beat config."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import NotFoundError
from engine.jobs import backoff_delay, bpmn_error_code, is_transient
from engine.settings import Settings
from engine.workers.app import beat_schedule, broker_config, embedded_broker_path, make_celery
from engine.workers.broker import TRANSPORT_PATH
from engine.workers.settings import WorkerSettings


class TransientConnectorError(Exception):
    """Named like connectors.base's class: the engine recognises it by name."""


class VendorBusy(TransientConnectorError):
    retry_after = 30.0


class Declined(Exception):
    code = "card_declined"


class Rejected(Exception):
    vendor_code = "ORDER_EXISTS"


def test_transient_errors_by_contract() -> None:
    assert is_transient(TimeoutError())
    assert is_transient(ConnectionRefusedError())  # a ConnectionError
    assert is_transient(VendorBusy("s", "busy"))
    flagged = ValueError("flagged")
    flagged.transient = True  # type: ignore[attr-defined]
    assert is_transient(flagged)
    assert not is_transient(ValueError("bad input"))
    assert not is_transient(Declined())


def test_bpmn_error_codes() -> None:
    assert bpmn_error_code(Declined()) == "card_declined"
    assert bpmn_error_code(Rejected()) == "ORDER_EXISTS"
    assert bpmn_error_code(ValueError()) is None
    # the engine's own failures (unknown operator …) never reach a diagram's error path
    assert bpmn_error_code(NotFoundError("unknown operator")) is None


@pytest.mark.parametrize("attempt", [1, 2, 3, 6, 20])
def test_backoff_is_exponential_jittered_and_capped(attempt: int) -> None:
    delays = [backoff_delay(2.0, attempt, cap=60) for _ in range(200)]
    full = min(60.0, 2.0**attempt)
    assert all(full / 2 <= d <= full for d in delays)
    assert len(set(delays)) > 1  # jitter


def test_backoff_honours_retry_after_within_the_cap() -> None:
    assert backoff_delay(2.0, 1, cap=600, retry_after=30) == 30
    assert backoff_delay(2.0, 1, cap=10, retry_after=30) == 10


def test_embedded_broker_sits_next_to_the_sqlite_database(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'potok.sqlite3'}", broker_url="")
    worker_settings = WorkerSettings(embedded_polling_interval=0.15)
    assert embedded_broker_path(settings, worker_settings) == tmp_path / "potok-broker.sqlite3"
    config = broker_config(settings, worker_settings)
    assert config["broker_url"] == f"sqlite:///{tmp_path / 'potok-broker.sqlite3'}"
    assert config["broker_transport"] == TRANSPORT_PATH
    assert config["broker_transport_options"] == {"polling_interval": 0.15}


def test_scaled_broker_urls_pass_through() -> None:
    redis = broker_config(Settings(broker_url="redis://127.0.0.1:6379/0"), WorkerSettings())
    assert redis["broker_url"] == "redis://127.0.0.1:6379/0"
    assert "broker_transport" not in redis
    amqp = broker_config(Settings(broker_url="amqp://guest:guest@h//"), WorkerSettings())
    assert amqp["broker_url"] == "amqp://guest:guest@h//"


def test_app_settings_and_schedule(tmp_path: Path) -> None:
    app = make_celery(
        Settings(database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}", broker_url="redis://x/0"),
        WorkerSettings(queue="q1", worker_imports=["handlers"]),
    )
    conf = app.conf
    assert (conf.task_acks_late, conf.task_reject_on_worker_lost) == (True, True)
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_default_queue == "q1" and list(conf.imports) == ["handlers"]
    assert {"potok.run_job", "potok.fire_timers", "potok.sweep_jobs"} <= set(app.tasks)
    schedule = beat_schedule(WorkerSettings(timer_interval_seconds=1, sweep_interval_seconds=5))
    assert schedule["potok-fire-timers"]["schedule"] == 1
    assert schedule["potok-sweep-jobs"]["schedule"] == 5
    assert all(entry["options"]["expires"] >= 5 for entry in schedule.values())
