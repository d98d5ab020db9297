"""`python -m engine.workers worker|beat|embedded [celery options]`.

- worker:   a Celery worker for this installation, prefork pool with POTOK_WORKER_CONCURRENCY
            processes (extra arguments go to Celery, e.g. `-c 4` or `--loglevel INFO`).
- beat:     the periodic scheduler (timers, sweeper, outbox); run exactly one per install.
- embedded: worker and beat in one process, for a single box without a broker server.
"""

from __future__ import annotations

import signal
import sys
import threading

from engine.workers.app import make_celery
from engine.workers.embedded import start_embedded

USAGE = "usage: python -m engine.workers worker|beat|embedded [celery options]"


def _embedded() -> int:
    handle = start_embedded()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    handle.stop()
    return 0


def main(argv: list[str]) -> int:
    """Dispatch the sub-command."""
    if not argv or argv[0] not in ("worker", "beat", "embedded"):
        print(USAGE, file=sys.stderr)
        return 2
    if argv[0] == "embedded":
        return _embedded()
    app = make_celery()
    # Celery's default prefork pool: acknowledgements stay in the consumer process. With the
    # threads (or solo) pool on RabbitMQ, a broker restart left workers unable to ack and
    # idle for up to 30 s, once with interleaved AMQP frames (py-amqp is not thread-safe).
    concurrency = str(app.worker_settings.worker_concurrency)
    defaults = ["--concurrency", concurrency] if argv[0] == "worker" else []
    app.start([argv[0], *defaults, *argv[1:]])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
