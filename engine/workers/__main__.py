"""`python -m engine.workers worker|beat|embedded [celery options]`.

- worker:   a Celery worker for this installation (extra arguments go to Celery, e.g.
            `-P threads -c 4` or `--loglevel INFO`).
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
    defaults = ["--pool", "threads", "--concurrency", "2"] if argv[0] == "worker" else []
    app.start([argv[0], *defaults, *argv[1:]])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
