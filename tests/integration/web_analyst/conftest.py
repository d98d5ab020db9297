"""Fixtures of the analyst workspace tests: the web UI's app and browsers, plus processes.

The app, users and signed-in browsers are the web UI's own fixtures (tests/integration/web);
this adds the analyst's processes, instances and a failing operator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from engine import service
from engine.db import session_scope
from engine.models import ProcessInstance
from engine.operators import OPERATORS
from tests.integration.web.conftest import (  # noqa: F401 - fixtures pytest picks up here
    Browser,
    MakeUser,
    OpenBrowser,
    anonymous,
    api_token,
    app,
    browser,
    client,
    make_user,
    settings,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures"
NOTICE = ("order_notice.bpmn",)
FULFILMENT = ("order_fulfilment.bpmn", "order-confirm-schema.json", "order-confirm-uischema.json")


def fixture_files(*names: str) -> list[tuple[str, bytes]]:
    return [(name, (FIXTURES / name).read_bytes()) for name in names]


class Switch:
    """Whether the test operators fail."""

    broken = True


@pytest.fixture
def switch() -> Iterator[type[Switch]]:
    """`shop.notify` (inline) and `shop.charge` (inline here) fail while `broken` is set."""

    def notify(text: str, channel: str = "sms") -> dict[str, Any]:
        """Send a text to the customer."""
        return {"sent": text, "channel": channel}

    def charge(amount: str, order_id: str | None = None) -> dict[str, Any]:
        """Charge the customer's card for the order."""
        if Switch.broken:
            raise ValueError("card declined (test)")
        return {"charged": amount}

    Switch.broken = True
    OPERATORS.register("shop.notify", inline=True)(notify)
    OPERATORS.register("shop.charge", inline=True)(charge)
    yield Switch
    OPERATORS.unregister("shop.notify")
    OPERATORS.unregister("shop.charge")


@pytest.fixture
def analyst(make_user: MakeUser, browser: OpenBrowser) -> Browser:  # noqa: F811
    make_user("anna", roles=("analyst",), groups=("analysts",), display_name="Анна")
    return browser("anna")


@pytest.fixture
def manager(make_user: MakeUser, browser: OpenBrowser) -> Browser:  # noqa: F811
    make_user("olga", roles=("manager",), groups=("managers",))
    return browser("olga")


Deploy = Callable[..., None]


@pytest.fixture
def deploy(session_factory: sessionmaker[Session], switch: type[Switch]) -> Deploy:
    """Deploy fixture files as one bundle (as `tests`)."""

    def run(*names: str, by: str = "tests") -> None:
        with session_scope(session_factory) as session:
            service.deploy(session, files=fixture_files(*names), deployed_by=by)

    return run


Start = Callable[..., str]


@pytest.fixture
def start(session_factory: sessionmaker[Session]) -> Start:
    """Start an instance; returns its id."""

    def run(key: str, business_key: str | None = None, **variables: Any) -> str:
        with session_scope(session_factory) as session:
            instance: ProcessInstance = service.start_instance(
                session, key=key, variables=variables, business_key=business_key
            )
            return instance.id

    return run
