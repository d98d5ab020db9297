"""REST benchmark: POST /api/processes/{key}/instances with 8 concurrent clients.

potok runs as a real server (uvicorn, 2 web workers) on a private PostgreSQL database; the
clients are threads with one keep-alive httpx client each. Raw SpiffWorkflow in memory on the
same process definition is measured in the same run for the ratio.

    python -m benchmarks.bench_http [--seconds S] [--clients N] [--web-workers W]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import make_url, text
from sqlalchemy.pool import NullPool

from benchmarks.bench_engine import DEFAULT_PG, raw_spiff
from benchmarks.common import FIXTURES, Measurement, table
from engine.db import make_engine, make_session_factory, session_scope
from engine.definitions import deploy
from engine.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _prepare_database(base_url: str) -> tuple[str, str]:
    """A private database with the 5-element process deployed and a token for the clients."""
    from api.auth.service import create_user, issue_token

    name = f"potok_bench_http_{uuid.uuid4().hex[:8]}"
    admin = make_engine(base_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base_url).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    engine = make_engine(url)
    with session_scope(make_session_factory(engine)) as session:
        files = [("five_elements.bpmn", (FIXTURES / "five_elements.bpmn").read_bytes())]
        deploy(session, files=files, deployed_by="bench")
        user = create_user(session, username="bench", password="bench-pass", roles=["admin"])
        token = issue_token(session, user=user, scopes=["*"], name="bench").token
    engine.dispose()
    return url, token


def _drop_database(base_url: str, url: str) -> None:
    admin = make_engine(base_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))


def _start_server(url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "POTOK_DATABASE_URL": url, "POTOK_BROKER_URL": "", "POTOK_ENV": "bench"}
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "api.app:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    server = subprocess.Popen(command, env=env, cwd=ROOT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("the server did not come up within 30 s")


def _client_loop(
    base: str, token: str, stop_at: float, out: list[float], errors: list[int]
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        i = 0
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            response = client.post(
                "/api/processes/five_elements/instances", json={"variables": {"amount": i}}
            )
            if response.status_code == 201:
                out.append(time.perf_counter() - t0)
            else:
                errors.append(response.status_code)
            i += 1


def http_starts(
    base: str, token: str, clients: int, seconds: float
) -> tuple[Measurement, list[int]]:
    """Start instances over HTTP from `clients` threads for `seconds`."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[int] = []
    started = time.perf_counter()
    stop_at = started + seconds
    threads = [
        threading.Thread(target=_client_loop, args=(base, token, stop_at, latencies[i], errors))
        for i in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    merged = [value for bucket in latencies for value in bucket]
    label = f"potok REST, PostgreSQL, {clients} clients"
    return Measurement(label, merged, time.perf_counter() - started), errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--pg-url", default=DEFAULT_PG)
    args = parser.parse_args()
    raw = raw_spiff(3000)
    url, token = _prepare_database(args.pg_url)
    port = _free_port()
    server = _start_server(url, port, args.web_workers)
    try:
        http_starts(f"http://127.0.0.1:{port}", token, args.clients, 2)  # warm-up
        run, errors = http_starts(f"http://127.0.0.1:{port}", token, args.clients, args.seconds)
    finally:
        server.terminate()
        server.wait(timeout=30)
        _drop_database(args.pg_url, url)
    print(f"## Start instances over REST ({args.web_workers} web workers, {args.seconds:.0f} s)\n")
    print(table([raw, run], raw))
    print(f"\nnon-201 responses: {len(errors)} {sorted(set(errors))}")


if __name__ == "__main__":
    main()
