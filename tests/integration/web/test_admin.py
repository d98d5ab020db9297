"""Admin pages: users (roles, groups, password), groups, roles; only for admins."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from api.auth.service import authenticate, get_user_or_raise
from engine.db import session_scope
from engine.models import UserGroup
from tests.integration.web.conftest import Browser, MakeUser, OpenBrowser


@pytest.fixture
def boss(make_user: MakeUser, browser: OpenBrowser) -> Browser:
    make_user("boss", roles=("admin",), groups=("admins",), display_name="Начальник")
    make_user("maria")
    return browser("boss")


def test_admin_pages_list_users_groups_roles_queues(boss: Browser) -> None:
    users = boss.get("/admin/users").text
    assert "Начальник" in users and "maria" in users and "Новый пользователь" in users
    assert "managers" in boss.get("/admin/groups").text
    roles = boss.get("/admin/roles").text
    assert "accountant" in roles and "definitions:deploy" in roles
    assert "Правила для очереди" in boss.get("/admin/queues").text
    assert boss.get("/admin", follow_redirects=False).headers["location"] == "/admin/users"


def test_admin_creates_and_changes_a_user(
    boss: Browser, session_factory: sessionmaker[Session]
) -> None:
    created = boss.post(
        "/admin/users",
        {
            "username": "petr",
            "display_name": "Пётр",
            "password": "sklad-2024!",
            "roles": ["warehouse"],
            "groups": ["managers"],
            "new_groups": "warehouse, night",
            "is_active": "on",
            "locale": "ru",
        },
    )
    assert created.status_code == 303
    with session_scope(session_factory) as session:
        petr = get_user_or_raise(session, username="petr")
        assert (petr.roles, petr.groups) == (["warehouse"], ["managers", "night", "warehouse"])
        assert session.get(UserGroup, "night") is not None
        assert authenticate(session, username="petr", password="sklad-2024!") is not None

    changed = boss.post(
        "/admin/users/petr",
        {
            "display_name": "Пётр Иванов",
            "roles": ["warehouse", "accountant"],
            "groups": ["warehouse"],
            "is_active": "on",
            "locale": "en",
            "password": "",
        },
    )
    assert changed.status_code == 303
    with session_scope(session_factory) as session:
        petr = get_user_or_raise(session, username="petr")
        assert petr.display_name == "Пётр Иванов" and petr.locale == "en"
        assert (petr.roles, petr.groups) == (["accountant", "warehouse"], ["warehouse"])
        assert authenticate(session, username="petr", password="sklad-2024!") is not None


def test_bad_user_input_is_shown_next_to_the_fields(boss: Browser) -> None:
    taken = boss.post("/admin/users", {"username": "maria", "password": "12345678"})
    assert taken.status_code == 422 and "Такое имя пользователя уже занято" in taken.text
    short = boss.post("/admin/users", {"username": "new", "password": "123"})
    assert short.status_code == 422 and "Не короче 8 символов" in short.text
    odd = boss.post("/admin/users", {"username": "<script>", "password": "12345678"})
    assert odd.status_code == 422 and "<script>" not in odd.text.split("Новый пользователь")[1]


def test_admin_cannot_lock_themselves_out(boss: Browser) -> None:
    response = boss.post("/admin/users/boss", {"roles": ["manager"], "is_active": "on"})
    assert (
        response.status_code == 422 and "Нельзя снять с себя роль администратора" in response.text
    )


def test_groups_are_created_and_renamed(
    boss: Browser, session_factory: sessionmaker[Session]
) -> None:
    assert boss.post("/admin/groups", {"name": "warehouse", "title": "Склад"}).status_code == 303
    assert boss.post("/admin/groups", {"name": "warehouse", "title": "Склад №1"}).status_code == 303
    with session_scope(session_factory) as session:
        assert session.get(UserGroup, "warehouse").title == "Склад №1"  # type: ignore[union-attr]
    assert boss.post("/admin/groups", {"name": "с пробелом"}).status_code == 422


def test_non_admins_get_403_everywhere_in_admin(boss: Browser, browser: OpenBrowser) -> None:
    maria = browser("maria")
    for path in (
        "/admin/users",
        "/admin/users/boss",
        "/admin/groups",
        "/admin/roles",
        "/admin/queues",
    ):
        response = maria.get(path)
        assert response.status_code == 403 and "Нет доступа" in response.text
    assert (
        maria.post("/admin/users/maria", {"roles": ["admin"], "is_active": "on"}).status_code == 403
    )
    assert "Администрирование" not in maria.get("/inbox").text
