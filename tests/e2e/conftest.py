"""The analyst browser tests' server: one live workspace per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.web_analyst.live import LiveServer, ensure_bundles, live_server
from tests.live_server import CHROMIUM, chromium_available


@pytest.fixture(scope="module")
def analyst_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A live analyst workspace on a fresh SQLite file (skips without Chromium)."""
    if not chromium_available():
        pytest.skip(f"{CHROMIUM} is missing: `make browser` installs it")
    ensure_bundles()
    with live_server(tmp_path_factory.mktemp("analyst") / "potok.sqlite3") as live:
        yield live
