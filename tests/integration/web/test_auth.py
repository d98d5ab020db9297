"""Sign-in, the session cookie, CSRF on every form, and where anonymous visitors are sent."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.auth.passwords import hash_password
from api.auth.service import get_user_or_raise
from engine.db import session_scope
from tests.integration.web.conftest import CSRF, Browser, MakeUser, OpenBrowser, StartTask, order


@pytest.fixture
def maria(make_user: MakeUser) -> str:
    return make_user("maria", display_name="Мария Петрова")


def test_pages_need_a_session(anonymous: TestClient) -> None:
    """Anonymous visitors are sent to the login page, keeping where they wanted to go."""
    assert anonymous.get("/inbox", follow_redirects=False).headers["location"] == "/login"
    target = anonymous.get("/tasks/abc", follow_redirects=False).headers["location"]
    assert target == "/login?next=/tasks/abc"
    assert anonymous.get("/admin/users", follow_redirects=False).status_code == 303
    fragment = anonymous.get("/inbox/rows", headers={"HX-Request": "true"})
    assert fragment.status_code == 401 and fragment.headers["HX-Redirect"] == "/login"
    assert anonymous.get("/inbox/events").status_code == 401


def test_login_sets_a_safe_session_cookie(anonymous: TestClient, maria: str) -> None:
    """HttpOnly, SameSite=Lax, signed; the login page has meta charset and a CSRF field."""
    page = anonymous.get("/login")
    assert '<meta charset="utf-8">' in page.text and 'name="csrf_token"' in page.text
    token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    response = anonymous.post(
        "/login",
        data={
            "username": "maria",
            "password": "correct horse battery staple",
            "csrf_token": token,
            "next": "/inbox?tab=mine",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/inbox?tab=mine"
    cookie = response.headers["set-cookie"].lower()
    assert "potok_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert "Мария Петрова" in anonymous.get("/inbox").text


def test_wrong_password_is_refused(anonymous: TestClient, maria: str) -> None:
    """401 with the form again, and no session."""
    person = Browser(anonymous, "maria")
    response = person.login(password="wrong")
    assert response.status_code == 401 and "Неверный логин или пароль" in response.text
    assert anonymous.get("/inbox", follow_redirects=False).status_code == 303


def test_next_never_leaves_the_site(anonymous: TestClient, maria: str) -> None:
    """An open redirect through ?next= is not possible."""
    for evil in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        # /login shows the form, or (signed in) the inbox: both carry this session's token.
        token = CSRF.search(anonymous.get("/login").text).group(1)  # type: ignore[union-attr]
        response = anonymous.post(
            "/login",
            data={
                "username": "maria",
                "password": "correct horse battery staple",
                "csrf_token": token,
                "next": evil,
            },
            follow_redirects=False,
        )
        assert response.headers["location"] == "/inbox"


def test_logout_ends_the_session(browser: OpenBrowser, maria: str) -> None:
    person = browser("maria")
    assert person.post("/logout").headers["location"] == "/login"
    assert person.get("/inbox", follow_redirects=False).status_code == 303


def test_a_forged_cookie_is_no_session(anonymous: TestClient, maria: str) -> None:
    """A cookie not signed with the server's secret is ignored."""
    anonymous.cookies.set("potok_session", "eyJ1aWQiOiAxfQ==.forged.signature")
    assert anonymous.get("/inbox", follow_redirects=False).status_code == 303


def test_changing_the_password_ends_other_sessions(
    browser: OpenBrowser, maria: str, session_factory: sessionmaker[Session]
) -> None:
    """The session carries a fingerprint of the password hash."""
    person = browser("maria")
    with session_scope(session_factory) as session:
        get_user_or_raise(session, username="maria").password_hash = hash_password("n3w-secret!")
    assert person.get("/inbox", follow_redirects=False).status_code == 303


def test_deactivated_users_are_signed_out(
    browser: OpenBrowser, maria: str, session_factory: sessionmaker[Session]
) -> None:
    person = browser("maria")
    with session_scope(session_factory) as session:
        get_user_or_raise(session, username="maria").is_active = False
    assert person.get("/inbox", follow_redirects=False).status_code == 303


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/logout", {}),
        ("/locale", {"locale": "en"}),
        ("/me/online", {"online": "1"}),
        ("/tasks/{task}/claim", {}),
        ("/tasks/{task}/unclaim", {}),
        ("/tasks/{task}/complete", {"quantity": "3"}),
        ("/admin/queues", {"name": "managers"}),
        ("/admin/users", {"username": "x", "password": "12345678"}),
        ("/admin/groups", {"name": "x"}),
    ],
)
def test_every_form_needs_the_csrf_token(
    browser: OpenBrowser,
    make_user: MakeUser,
    start_task: StartTask,
    path: str,
    data: dict[str, str],
) -> None:
    """A POST without the token, or with another session's token, is refused with 403."""
    make_user("boss", roles=("admin",), groups=("managers",))
    task_id = start_task(**order())
    boss = browser("boss")
    url = path.format(task=task_id)
    missing = boss.post(url, data, csrf=False)
    assert missing.status_code == 403 and "Форма устарела" in missing.text
    assert boss.post(url, data | {"csrf_token": "not-the-token"}, csrf=False).status_code == 403
    # Still signed in and nothing happened: the task is unclaimed and open.
    assert boss.get(f"/tasks/{task_id}").status_code == 200
    assert "Ждёт в очереди" in boss.get(f"/tasks/{task_id}").text


def test_login_itself_needs_the_csrf_token(anonymous: TestClient, maria: str) -> None:
    """No login CSRF: the form's token must come back."""
    anonymous.get("/login")
    response = anonymous.post(
        "/login", data={"username": "maria", "password": "correct horse battery staple"}
    )
    assert response.status_code == 403


def test_htmx_requests_carry_the_token_in_a_header(browser: OpenBrowser, maria: str) -> None:
    """X-CSRF-Token is accepted in place of the form field."""
    person = browser("maria")
    response = person.client.post(
        "/me/online",
        data={"online": "1"},
        headers={"X-CSRF-Token": person.token},
        follow_redirects=False,
    )
    assert response.status_code == 303
