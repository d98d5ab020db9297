"""The directories' admin pages and REST reports, on both databases, through the real app."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from api.auth.service import create_user, get_user_or_raise, issue_token
from api.web.directories import options
from engine import directories
from engine.db import session_scope
from engine.models import User
from engine.settings import Settings
from tests.integration.web.conftest import PASSWORD, Browser


@pytest.fixture
def client(session_factory: sessionmaker[Session]) -> Iterator[TestClient]:
    settings = Settings(env="test", broker_url="", _env_file=None)  # type: ignore[call-arg]
    with session_scope(session_factory) as session:
        for name, roles, groups in (
            ("root", ("admin",), ()),
            ("ivan", ("manager",), ("managers",)),
            ("olga", ("accountant",), ("accountants",)),
        ):
            create_user(session, username=name, password=PASSWORD, roles=roles, groups=groups)
    with TestClient(create_app(settings=settings, session_factory=session_factory)) as client:
        yield client


@pytest.fixture
def admin(client: TestClient) -> Browser:
    person = Browser(client, "root")
    assert person.login().status_code == 303
    return person


def _bearer(factory: sessionmaker[Session], username: str) -> dict[str, str]:
    with session_scope(factory) as session:
        issued = issue_token(session, user=get_user_or_raise(session, username=username), name="t")
    return {"Authorization": f"Bearer {issued.token}"}


def test_only_admins_see_the_directories(client: TestClient) -> None:
    assert client.get("/admin/directories", follow_redirects=False).status_code == 303
    manager = Browser(client, "ivan")
    manager.login()
    assert manager.get("/admin/directories/cities").status_code == 403


def test_every_tab_renders(admin: Browser) -> None:
    for path in (
        "",
        "/cities",
        "/loss-reasons",
        "/delivery-rules",
        "/expenses",
        "/budget?month=2026-12",
        "/products",
        "/orders",
    ):
        page = admin.get(f"/admin/directories{path}")
        assert page.status_code == 200, (path, page.text[:300])
        assert "Справочники" in page.text
    assert admin.get("/admin/directories/nothing").status_code == 404


def test_cities_are_added_refused_imported_and_deleted(
    admin: Browser, session_factory: sessionmaker[Session]
) -> None:
    refused = admin.post("/admin/directories/cities", {"name": "Омск", "manager": "nobody"})
    assert refused.status_code == 422 and "no user" in refused.text
    saved = admin.post(
        "/admin/directories/cities",
        {"name": "Омск", "pickup_address": "ул. Ленина, 2", "manager": "ivan"},
    )
    assert saved.status_code == 303
    assert "ул. Ленина, 2" in admin.get("/admin/directories/cities").text

    bad = "город;менеджер\nТомск;ivan\nКазань;ghost\n".encode()
    answer = admin.post(
        "/admin/directories/cities/import", files={"file": ("cities.csv", bad, "text/csv")}
    )
    assert answer.status_code == 422 and "строка 3" in answer.text
    good = "город;адрес самовывоза;менеджер\nТомск;пр. Ленина, 5;ivan\n".encode("cp1251")
    answer = admin.post(
        "/admin/directories/cities/import", files={"file": ("cities.csv", good, "text/csv")}
    )
    assert answer.status_code == 303
    assert "Импортировано строк: 1" in admin.get("/admin/directories/cities").text
    assert admin.post("/admin/directories/cities/delete", {"key": "Омск"}).status_code == 303
    with session_scope(session_factory) as session:
        assert [c.name for c in directories.list_cities(session)] == ["Томск"]
        assert directories.routing_table(session) == {"cities": {"Томск": {"manager": "ivan"}}}
    no_csrf = admin.post("/admin/directories/cities", {"name": "X"}, csrf=False)
    assert no_csrf.status_code == 403


def test_settings_loss_reasons_and_the_forms_choices(
    admin: Browser, session_factory: sessionmaker[Session]
) -> None:
    assert admin.post("/admin/directories", {"bonus_percent": "сто"}).status_code == 422
    saved = admin.post(
        "/admin/directories",
        {
            "bonus_percent": "5",
            "fallback_manager": "ivan",
            "product_groups": '[{"group": "Кузов"}]',
        },
    )
    assert saved.status_code == 303
    for name, position, active in (("Дорого", "2", "on"), ("Спам", "1", ""), ("Долго", "3", "on")):
        data = {"name": name, "position": position} | ({"is_active": active} if active else {})
        assert admin.post("/admin/directories/loss-reasons", data).status_code == 303
    with session_scope(session_factory) as session:
        assert directories.get_setting(session, "bonus_percent") == 5.0
        assert options(session, "loss_reasons", {}) == [("Дорого", "Дорого"), ("Долго", "Долго")]


def test_expense_plans_the_budget_page_and_the_rest_report(
    admin: Browser, client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    added = admin.post(
        "/admin/directories/expenses/article",
        {"article": "Реклама", "group": "Маркетинг", "plan": "100 000", "month": "2026-12"},
    )
    assert added.status_code == 303
    plans = admin.post(
        "/admin/directories/expenses/plans",
        {"month": "2026-12", "plan:group:Маркетинг": "150000", "plan:article:Реклама": "90000,5"},
    )
    assert plans.status_code == 303
    page = admin.get("/admin/directories/budget?month=2026-12")
    assert "Маркетинг" in page.text and "90" in page.text
    csv = admin.get("/admin/directories/budget.csv?month=2026-12")
    assert "2026-12;статья;Реклама;Маркетинг;90000.50;0.00;0.00;90000.50" in csv.text

    report = client.get(
        "/api/reports/budget?month=2026-12", headers=_bearer(session_factory, "olga")
    )
    assert report.status_code == 200 and report.json()["totals"]["plan"] == 150000.0
    assert (
        client.get(
            "/api/reports/budget?month=12.2026", headers=_bearer(session_factory, "olga")
        ).status_code
        == 422
    )
    assert (
        client.get(
            "/api/reports/budget?month=2026-12", headers=_bearer(session_factory, "ivan")
        ).status_code
        == 403
    )
    with session_scope(session_factory) as session:
        assert options(session, "expense_articles", {}) == [("Реклама", "Реклама (Маркетинг)")]


def test_order_distribution_maps_telegram_ids(
    admin: Browser, session_factory: sessionmaker[Session]
) -> None:
    refused = admin.post(
        "/admin/directories/orders", {"buffer_seconds": "30", "telegram:ivan": "@ivan"}
    )
    assert refused.status_code == 422
    saved = admin.post(
        "/admin/directories/orders", {"buffer_seconds": "30", "telegram:ivan": "123456"}
    )
    assert saved.status_code == 303
    with session_scope(session_factory) as session:
        assert session.query(User).filter_by(username="ivan").one().telegram_chat_id == "123456"
        assert directories.get_setting(session, "order_buffer_seconds") == 30
