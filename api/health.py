"""Liveness checks of what potok depends on: the database and the Celery broker."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

logger = logging.getLogger("potok.api")

BROKER_TIMEOUT_SECONDS = 1.0


def app_version() -> str:
    """The installed potok version."""
    try:
        return package_version("potok")
    except PackageNotFoundError:
        return "0.0.0+unknown"


def check_database(factory: sessionmaker[Session]) -> str:
    """ "ok" if the database answers SELECT 1, else "down"."""
    try:
        with factory() as session:
            session.execute(text("SELECT 1"))
        return "ok"
    except Exception as exc:
        logger.warning("health: database down: %s", exc)
        return "down"


def _connect_broker(url: str) -> None:
    from kombu import Connection  # imported lazily: only the scaled mode has a broker

    with Connection(url, connect_timeout=BROKER_TIMEOUT_SECONDS) as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=BROKER_TIMEOUT_SECONDS)


def check_broker(url: str) -> str:
    """ "embedded" without a broker URL; else "ok"/"down" after at most about a second."""
    if not url:
        return "embedded"
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        # A thread bounds the wait even when a transport ignores its own timeout.
        pool.submit(_connect_broker, url).result(timeout=BROKER_TIMEOUT_SECONDS + 0.5)
        return "ok"
    except FutureTimeout:
        logger.warning("health: broker did not answer within %ss", BROKER_TIMEOUT_SECONDS)
        return "down"
    except Exception as exc:
        logger.warning("health: broker down: %s", exc)
        return "down"
    finally:
        pool.shutdown(wait=False)
