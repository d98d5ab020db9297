"""What the browser tests share: the real app served by uvicorn in a thread, Chromium, bundles.

Used by tests/e2e/inbox_live.py (the inbox) and tests/integration/web_analyst/live.py (the
analyst workspace), which add their databases and seeding around it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "api" / "web" / "static" / "dist"
FRONTEND = ROOT / "api" / "web" / "frontend"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def chromium_available() -> bool:
    return os.access(CHROMIUM, os.X_OK)


def ensure_bundles(*bundles: str, node_module: str) -> None:
    """Build the front-end bundles when they are missing or older than their sources."""
    paths = [DIST / name for name in bundles]
    sources = [p for p in FRONTEND.iterdir() if p.suffix in (".js", ".css", ".mjs")]
    newest = max(p.stat().st_mtime for p in sources)
    if all(b.exists() and b.stat().st_mtime >= newest for b in paths):
        return
    if not (ROOT / "node_modules" / node_module).exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=ROOT, check=True)
    subprocess.run(["npm", "run", "--silent", "build"], cwd=ROOT, check=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(app: Any, **config: Any) -> Iterator[str]:
    """Serve `app` on a free 127.0.0.1 port until the block ends; yields its base URL.

    `config` adds uvicorn.Config options (e.g. timeout_graceful_shutdown).
    """
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", **config
        )
    )
    thread = threading.Thread(target=server.run, name="potok-live", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the live server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
