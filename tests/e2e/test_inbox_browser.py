"""The task inbox in headless Chromium against the real server on a real database.

- a task started while the inbox is open appears without a reload, in two browsers;
- one claims it (it vanishes live from the other), fills the form with an error, then
  correctly, completes it and sees it gone;
- two browsers clicking "claim" at the same moment: exactly one wins;
- the whole round trip by keyboard; read-only fields survive DOM tampering; HTML in data is
  text; another team's task is 403; a POST without the CSRF token is 403;
- screenshots of the inbox and a task page (ru) for docs/.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from engine.db import session_scope
from engine.models import HumanTask, InstanceEvent, ProcessInstance, User, utcnow
from tests.e2e.inbox_live import (
    PASSWORD,
    LiveServer,
    clean_postgres,
    ensure_bundles,
    live_server,
    sqlite_engine,
)
from tests.live_server import CHROMIUM, CHROMIUM_ARGS, ROOT, chromium_available

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
Page = Any  # playwright.sync_api.Page

SHOWCASE = ("showcase.bpmn", "showcase-schema.json", "showcase-uischema.json", "payment.bpmn")
ORDER = {
    "order_number": "A-1042",
    "customer_name": "Анна Смирнова",
    "customer_phone": "+7 (916) 123-45-67",
    "quantity": 2,
    "amount": "4980.00",
}
LIVE_TIMEOUT = 10_000  # ms: the stream polls every second


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not chromium_available():
        pytest.skip(f"{CHROMIUM} is missing: `make browser` installs it")
    ensure_bundles()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "postgres":
        yield clean_postgres(request.getfixturevalue("pg_engine"))
        return
    engine = sqlite_engine(tmp_path)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Engine]:
    engine = sqlite_engine(tmp_path)
    yield engine
    engine.dispose()


def _server(db: Engine) -> Iterator[LiveServer]:
    with live_server(db) as server:
        server.deploy(*SHOWCASE)
        server.user("maria", roles=("manager",), groups=("managers",), display_name="Мария Петрова")
        server.user("ivan", roles=("manager",), groups=("managers",), display_name="Иван Орлов")
        server.user("olga", roles=("accountant",), groups=("accountants",))
        server.user(
            "petr", roles=("warehouse",), groups=("warehouse",), display_name="Пётр Складов"
        )
        yield server


@pytest.fixture
def server(db: Engine) -> Iterator[LiveServer]:
    yield from _server(db)


@pytest.fixture
def sqlite_server(sqlite_db: Engine) -> Iterator[LiveServer]:
    yield from _server(sqlite_db)


class People:
    """Browser contexts (separate cookie jars) signed in as different users."""

    def __init__(self, chromium: Any, server: LiveServer) -> None:
        self.chromium = chromium
        self.server = server
        self.contexts: list[Any] = []
        self.errors: list[str] = []

    def open(self, username: str, path: str = "/inbox") -> Page:
        context = self.chromium.new_context(
            viewport={"width": 1360, "height": 860}, locale="ru-RU", timezone_id="Europe/Moscow"
        )
        self.contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: self.errors.append(f"{username}: {exc}"))
        page.goto(f"{self.server.url}/login?next={path}")
        page.fill("#username", username)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"**{path}*")
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def people(chromium: Any, server: LiveServer) -> Iterator[People]:
    crowd = People(chromium, server)
    yield crowd
    crowd.close()
    assert not crowd.errors, f"JavaScript errors: {crowd.errors}"


@pytest.fixture
def sqlite_people(chromium: Any, sqlite_server: LiveServer) -> Iterator[People]:
    crowd = People(chromium, sqlite_server)
    yield crowd
    crowd.close()
    assert not crowd.errors, f"JavaScript errors: {crowd.errors}"


def rows(page: Page) -> Any:
    return page.locator("#task-list tr.task-row")


def wait_live(page: Page) -> None:
    """The SSE stream is open and the page remembers it was never reloaded."""
    expect(page.locator("body.sse-open")).to_have_count(1, timeout=LIVE_TIMEOUT)
    page.evaluate("window.__notReloaded = true")


def not_reloaded(page: Page) -> bool:
    return bool(page.evaluate("window.__notReloaded === true"))


# --- the main round trip ------------------------------------------------------------------


def test_live_inbox_claim_fill_complete(server: LiveServer, people: People) -> None:
    """Appears live in two browsers, vanishes live from the other, form error, complete."""
    maria, ivan = people.open("maria"), people.open("ivan")
    for page in (maria, ivan):
        expect(rows(page)).to_have_count(0)
        wait_live(page)

    task_id = server.start(business_key="A-1042", **ORDER)
    for page in (maria, ivan):
        expect(rows(page)).to_have_count(1, timeout=LIVE_TIMEOUT)
        expect(page.locator("#count-queue")).to_have_text("1")
        assert not_reloaded(page)
    expect(rows(maria).first).to_contain_text("Подтвердить заказ")
    expect(rows(maria).first).to_contain_text("A-1042")
    # An open inbox is a presence heartbeat (what online-only queues look at).
    with session_scope(server.factory) as session:
        online = session.scalar(select(User.online_until).where(User.username == "maria"))
        assert online is not None and online > utcnow()
    ivan_task = ivan.context.new_page()  # Ivan also has the task itself open in a tab
    ivan_task.goto(f"{server.url}/tasks/{task_id}")
    expect(ivan_task.locator("#claim-button")).to_be_visible()
    wait_live(ivan_task)

    maria.click(f"#row-{task_id} .claim-form button")
    maria.wait_for_url(f"**/tasks/{task_id}")
    expect(maria.locator(".task-status .status")).to_have_text("Ваша")
    expect(rows(ivan)).to_have_count(0, timeout=LIVE_TIMEOUT)  # gone without a reload
    assert not_reloaded(ivan)
    expect(ivan_task.locator(".status-taken")).to_have_text("Взял(а) maria", timeout=LIVE_TIMEOUT)
    expect(ivan_task.locator("#claim-button")).to_have_count(0)
    assert not_reloaded(ivan_task)
    ivan_task.close()

    maria.fill("#f-quantity", "500")
    maria.click("#complete-button")
    expect(maria.locator('[data-field="quantity"] .field-error')).to_have_text("Не больше 100.")
    expect(maria.locator('[data-field="delivery_date"] .field-error')).to_have_text(
        "Заполните это поле."
    )
    expect(maria.locator("#f-quantity")).to_have_value("500")  # what was typed stays
    assert server.task(task_id).state == "open"

    maria.fill("#f-quantity", "3")
    maria.fill("#f-delivery_date", "2026-12-24")
    maria.select_option("#f-delivery", "courier")
    maria.check("#f-gift_wrap")
    maria.click("#complete-button")
    maria.wait_for_url("**/inbox")
    expect(maria.locator(".flash-ok")).to_contain_text("Готово: «Подтвердить заказ»")
    expect(rows(maria)).to_have_count(0)
    maria.click(".tabs a[data-key='3']")
    expect(rows(maria)).to_have_count(1)

    task = server.task(task_id)
    assert (task.state, task.completed_by) == ("completed", "maria")
    with session_scope(server.factory) as session:
        instance = session.get(ProcessInstance, task.instance_id)
        assert instance is not None
        assert instance.variables["quantity"] == 3 and instance.variables["gift_wrap"] is True


# --- first click wins, in two real browsers -----------------------------------------------

CLICK_AT = """(at) => setTimeout(
    () => document.getElementById('claim-form').requestSubmit(), Math.max(0, at - Date.now()))"""


def test_two_browsers_claim_at_once_one_wins(server: LiveServer, people: People) -> None:
    """Both press "claim" at the same instant, three times over: one winner each time."""
    maria, ivan = people.open("maria"), people.open("ivan")
    for round_ in range(3):
        task_id = server.start(business_key=f"R-{round_}", **ORDER)
        for page in (maria, ivan):
            page.goto(f"{server.url}/tasks/{task_id}")
            expect(page.locator("#claim-button")).to_be_visible()
        at = maria.evaluate("Date.now()") + 600
        with maria.expect_navigation(), ivan.expect_navigation():
            maria.evaluate(CLICK_AT, at)
            ivan.evaluate(CLICK_AT, at)
        mine = [p for p in (maria, ivan) if p.locator(".status-mine").count() == 1]
        assert len(mine) == 1, f"round {round_}: winners {len(mine)}"
        loser = ivan if mine[0] is maria else maria
        expect(loser.locator(".flash-error")).to_contain_text("Вас опередили")
        expect(loser.locator(".status-taken")).to_be_visible()
        with session_scope(server.factory) as session:
            claims = session.scalars(
                select(InstanceEvent).where(
                    InstanceEvent.type == "task_claimed",
                    InstanceEvent.instance_id == server.task(task_id).instance_id,
                )
            ).all()
            assert len(claims) == 1
        assert server.task(task_id).assignee == ("maria" if mine[0] is maria else "ivan")


# --- keyboard only ------------------------------------------------------------------------


def test_keyboard_only_round_trip(sqlite_server: LiveServer, sqlite_people: People) -> None:
    """Move with j/k, open with Enter, back with Esc, claim with c, complete with Ctrl+Enter."""
    ids = [sqlite_server.start(business_key=f"K-{n}", **ORDER) for n in range(3)]
    maria = sqlite_people.open("maria")
    keys = maria.keyboard
    expect(rows(maria)).to_have_count(3)
    selected = maria.locator("tr.task-row.is-selected")
    expect(selected).to_have_attribute("data-task-id", ids[0])
    keys.press("j")
    keys.press("j")
    keys.press("k")
    expect(selected).to_have_attribute("data-task-id", ids[1])
    keys.press("Enter")
    maria.wait_for_url(f"**/tasks/{ids[1]}")
    keys.press("Escape")
    maria.wait_for_url("**/inbox")

    keys.press("ArrowDown")
    keys.press("ArrowDown")
    expect(selected).to_have_attribute("data-task-id", ids[2])
    keys.press("c")  # claim the selected row: straight to its page
    maria.wait_for_url(f"**/tasks/{ids[2]}")
    expect(maria.locator(".status-mine")).to_be_visible()
    keys.press("u")  # give it back
    maria.wait_for_url("**/inbox")
    expect(maria.locator(".flash-ok")).to_contain_text("Задача возвращена в очередь")

    keys.press("Enter")  # the first row is selected on load
    maria.wait_for_url(f"**/tasks/{ids[0]}")
    keys.press("c")
    expect(maria.locator(".status-mine")).to_be_visible()
    maria.locator("#f-quantity").focus()
    keys.press("Control+A")
    keys.type("4")
    keys.press("Tab")  # weight
    keys.type("2,5")
    # A date input's typed order follows the OS locale; setting its value needs no mouse either.
    maria.locator("#f-delivery_date").fill("2026-12-24")
    maria.locator("#f-delivery").focus()
    keys.press("ArrowDown")
    keys.press("Control+Enter")
    maria.wait_for_url("**/inbox")
    expect(maria.locator(".flash-ok")).to_contain_text("Готово")
    task = sqlite_server.task(ids[0])
    assert (task.state, task.completed_by) == ("completed", "maria")

    keys.press("?")
    expect(maria.locator("dialog#shortcuts")).to_be_visible()
    keys.press("Escape")
    expect(maria.locator("dialog#shortcuts")).to_be_hidden()
    keys.press("1")
    maria.wait_for_url("**tab=mine*")


# --- the server's guarantees, seen from the browser ---------------------------------------


def test_readonly_field_survives_dom_tampering(
    sqlite_server: LiveServer, sqlite_people: People
) -> None:
    """Removing `readonly` in the page and typing a value changes nothing on the server."""
    task_id = sqlite_server.start(business_key="A-1", **ORDER)
    maria = sqlite_people.open("maria", f"/tasks/{task_id}")
    maria.click("#claim-button")
    expect(maria.locator(".status-mine")).to_be_visible()
    maria.evaluate(
        """() => { for (const id of ['f-accepted_by', 'f-order_number']) {
            const input = document.getElementById(id);
            input.removeAttribute('readonly'); input.value = 'hacked'; } }"""
    )
    maria.fill("#f-delivery_date", "2026-12-24")
    maria.select_option("#f-delivery", "pickup")
    maria.click("#complete-button")
    maria.wait_for_url("**/inbox")
    with session_scope(sqlite_server.factory) as session:
        instance = session.get(ProcessInstance, sqlite_server.task(task_id).instance_id)
        assert instance is not None
        assert instance.variables["accepted_by"] == "site"
        assert instance.variables["order_number"] == "A-1042"


def test_html_in_task_data_is_shown_as_text(
    sqlite_server: LiveServer, sqlite_people: People
) -> None:
    evil = '<img src=x onerror="window.__xss = 1">Иван'
    task_id = sqlite_server.start(business_key="<b>X-1</b>", **(ORDER | {"customer_name": evil}))
    maria = sqlite_people.open("maria")
    expect(rows(maria).first).to_contain_text('<img src=x onerror="window.__xss = 1">Иван')
    expect(rows(maria).first).to_contain_text("<b>X-1</b>")
    maria.goto(f"{sqlite_server.url}/tasks/{task_id}")
    maria.click("#claim-button")
    expect(maria.locator("#f-customer_name")).to_have_value(evil)
    assert maria.evaluate("window.__xss") is None
    assert maria.locator(".instructions script").count() == 0


def test_other_teams_task_and_csrf_less_posts_are_refused(
    sqlite_server: LiveServer, sqlite_people: People
) -> None:
    """A manager gets 403 for an accountant's task; a POST without the token gets 403."""
    payment = sqlite_server.start("payment_check", business_key="PAY-7", amount="1490.00")
    order = sqlite_server.start(business_key="A-1", **ORDER)
    maria = sqlite_people.open("maria")
    response = maria.goto(f"{sqlite_server.url}/tasks/{payment}")
    assert response is not None and response.status == 403
    expect(maria.locator("h1")).to_have_text("Нет доступа")
    forged = maria.request.post(f"{sqlite_server.url}/tasks/{order}/claim", form={"from": "inbox"})
    assert forged.status == 403
    assert sqlite_server.task(order).assignee is None
    olga = sqlite_people.open("olga")
    expect(rows(olga)).to_have_count(1)
    expect(rows(olga).first).to_contain_text("PAY-7")


# --- screenshots for docs/ ----------------------------------------------------------------

CUSTOMERS = [
    ("A-1042", "Анна Смирнова", "+7 916 123-45-67", 2, "4980.00", 95, 3),
    ("A-1043", "Олег Кузнецов", "+7 903 555-01-22", 1, "1490.00", 64, None),
    ("A-1046", "Ирина Волкова", "+375 29 611-22-33", 4, "12 360.00", 41, -1),
    ("A-1047", "ООО «Ромашка»", "+7 495 700-10-10", 12, "58 900.00", 23, 8),
    ("A-1049", "Дмитрий Соколов", "+380 67 123 4567", 1, "2290.00", 9, None),
    ("A-1050", "Екатерина Морозова", "+7 921 404-40-40", 3, "7770.00", 2, 24),
]


def _backdate(server: LiveServer, task_id: str, minutes: int, due_hours: int | None) -> None:
    now = utcnow()
    with session_scope(server.factory) as session:
        session.execute(
            update(HumanTask)
            .where(HumanTask.id == task_id)
            .values(
                created_at=now - timedelta(minutes=minutes),
                due_at=now + timedelta(hours=due_hours) if due_hours is not None else None,
            )
        )


def test_screenshots_of_the_inbox_and_a_task_page(
    sqlite_server: LiveServer, sqlite_people: People, tmp_path: Path
) -> None:
    """PNGs of real pages; written to docs/screenshots/ with POTOK_UPDATE_SCREENSHOTS=1."""
    target = (
        ROOT / "docs" / "screenshots" if os.environ.get("POTOK_UPDATE_SCREENSHOTS") else tmp_path
    )
    target.mkdir(parents=True, exist_ok=True)
    ids = []
    for number, name, phone, quantity, amount, minutes, due in CUSTOMERS:
        variables = ORDER | {
            "order_number": number,
            "customer_name": name,
            "customer_phone": phone,
            "quantity": quantity,
            "amount": amount.replace(" ", ""),
        }
        task_id = sqlite_server.start(business_key=number, **variables)
        _backdate(sqlite_server, task_id, minutes, due)
        ids.append(task_id)
    sqlite_server.start("payment_check", business_key="PAY-7")
    ivan = sqlite_people.open("ivan", f"/tasks/{ids[1]}")
    ivan.click("#claim-button")
    maria = sqlite_people.open("maria", f"/tasks/{ids[0]}")
    maria.click("#claim-button")
    expect(maria.locator(".status-mine")).to_be_visible()
    maria.goto(f"{sqlite_server.url}/inbox")
    expect(rows(maria)).to_have_count(4)
    wait_live(maria)
    maria.keyboard.press("j")
    maria.screenshot(path=str(target / "inbox-ru.png"))

    maria.goto(f"{sqlite_server.url}/tasks/{ids[0]}")
    maria.fill("#f-quantity", "300")
    maria.fill("#f-comment", "Клиент просит позвонить за час до доставки")
    maria.click("#complete-button")
    expect(maria.locator('[data-field="quantity"] .field-error')).to_be_visible()
    maria.screenshot(path=str(target / "task-ru.png"), full_page=True)
    for name in ("inbox-ru.png", "task-ru.png"):
        assert (target / name).stat().st_size > 20_000
