"""Fixtures for engine tests: deploy the test processes into a real database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from engine import service
from engine.actor import Actor
from engine.db import session_scope

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
MANAGER = Actor("maria", groups=frozenset({"managers"}), roles=frozenset({"manager"}))
ACCOUNTANT = Actor("olga", groups=frozenset({"accountants"}), roles=frozenset({"accountant"}))


def fixture_files(*names: str) -> list[tuple[str, bytes]]:
    """(name, bytes) pairs of test fixture files, as an upload would carry them."""
    return [(name, (FIXTURES / name).read_bytes()) for name in names]


@pytest.fixture
def deploy(session_factory: sessionmaker[Session]) -> Callable[..., service.DeployOutcome]:
    """Deploy fixture files by name, committed."""

    def _deploy(*names: str) -> service.DeployOutcome:
        with session_scope(session_factory) as session:
            return service.deploy(session, files=fixture_files(*names), deployed_by="tests")

    return _deploy


REVIEW_FILES = ("review.bpmn", "review-schema.json", "review-uischema.json")
