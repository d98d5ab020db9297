"""Throw-away operators for worker tests; `register()` / `unregister()` them per fixture.

`test.effect` is what a real connector handler looks like to the engine: it does its side
effect at most once per idempotency key (as a vendor honouring an idempotency key would),
so a job re-run after a crash returns the first result instead of acting twice. Its files
live in $POTOK_TEST_EFFECT_DIR so a test can read what worker subprocesses did:
- calls.log: one line per handler call: "<key> <attempt> <pid>"
- effects/<key>: created (O_EXCL) by the one call that performed the effect
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from engine.operators import OPERATORS, HandlerContext

EFFECT = "test.effect"


def effect_dir() -> Path:
    return Path(os.environ["POTOK_TEST_EFFECT_DIR"])


def _log_call(ctx: HandlerContext) -> None:
    with (effect_dir() / "calls.log").open("a") as log:
        log.write(f"{ctx.idempotency_key} {ctx.attempt} {os.getpid()}\n")


def effect(ctx: HandlerContext, what: str) -> dict[str, Any]:
    """Do `what` once per idempotency key, slowly (POTOK_TEST_EFFECT_SLEEP seconds)."""
    _log_call(ctx)
    time.sleep(float(os.environ.get("POTOK_TEST_EFFECT_SLEEP", "0")))
    target = effect_dir() / "effects" / ctx.idempotency_key.replace(":", "_")
    target.parent.mkdir(exist_ok=True)
    try:
        fd = os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return {"what": what, "replayed": True}
    with os.fdopen(fd, "w") as out:
        out.write(f"{what} {os.getpid()}\n")
    return {"what": what, "replayed": False}


def register() -> None:
    OPERATORS.register(EFFECT, max_attempts=5, backoff_base=1.0)(effect)


def unregister() -> None:
    OPERATORS.unregister(EFFECT)


def read_calls() -> list[tuple[str, int, int]]:
    path = effect_dir() / "calls.log"
    if not path.exists():
        return []
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    return [(key, int(attempt), int(pid)) for key, attempt, pid in rows]


def read_effects() -> dict[str, str]:
    folder = effect_dir() / "effects"
    if not folder.exists():
        return {}
    return {path.name: path.read_text() for path in folder.iterdir()}
