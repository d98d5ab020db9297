"""The inbox: my tasks, the queue, done; filters, search, the live change marker."""

from __future__ import annotations

import re
from datetime import timedelta
from itertools import pairwise

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from api.web.inbox import change_marker
from engine.actor import Actor
from engine.db import session_scope
from engine.models import HumanTask, utcnow
from tests.integration.web.conftest import MakeUser, OpenBrowser, StartTask, order, valid_form

MARIA = Actor(username="maria", groups=frozenset({"managers"}), roles=frozenset({"manager"}))


@pytest.fixture(autouse=True)
def people(make_user: MakeUser) -> None:
    make_user("maria")
    make_user("ivan")
    make_user("olga", roles=("accountant",), groups=("accountants",))


def _rows(page: str) -> list[str]:
    return re.findall(r'data-task-id="([^"]+)"', page)


def test_tabs_split_my_work_the_queue_and_what_i_did(
    browser: OpenBrowser, start_task: StartTask
) -> None:
    """Queue = unclaimed tasks of my groups; mine = claimed by me; done = completed by me."""
    first = start_task(business_key="A-1", **order())
    second = start_task(business_key="A-2", **order())
    theirs = start_task("payment_check", business_key="PAY-1")
    maria = browser("maria")
    queue = maria.get("/inbox").text  # the queue is the default tab
    assert _rows(queue) == [first, second] and theirs not in queue
    assert 'id="count-queue">2<' in queue and 'id="count-mine">0<' in queue
    for header in ("Шаг", "Номер", "Возраст", "Срок"):
        assert f">{header}<" in queue
    assert "Заказ с сайта" in queue and "Подтвердить заказ" in queue  # process, step

    maria.post(f"/tasks/{first}/claim")
    assert _rows(maria.get("/inbox?tab=mine").text) == [first]
    assert _rows(maria.get("/inbox?tab=queue").text) == [second]
    assert _rows(browser("ivan").get("/inbox?tab=queue").text) == [second]

    maria.post(f"/tasks/{first}/complete", valid_form())
    assert _rows(maria.get("/inbox?tab=mine").text) == []
    assert _rows(maria.get("/inbox?tab=done").text) == [first]
    assert _rows(browser("olga").get("/inbox").text) == [theirs]


def test_rows_fragment_updates_the_counters_out_of_band(
    browser: OpenBrowser, start_task: StartTask
) -> None:
    """What htmx swaps in on `changed`: the rows, plus both tab counters."""
    start_task(**order())
    fragment = browser("maria").get("/inbox/rows?tab=queue", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert 'id="count-queue" hx-swap-oob="true">1<' in fragment.text
    assert 'id="count-mine" hx-swap-oob="true">0<' in fragment.text


def test_filters_by_process_step_and_due(
    browser: OpenBrowser, start_task: StartTask, session_factory: sessionmaker[Session]
) -> None:
    make = browser
    first = start_task(**order())
    late = start_task(**order(order_number="A-2"))
    with session_scope(session_factory) as session:
        session.execute(
            update(HumanTask)
            .where(HumanTask.id == late)
            .values(due_at=utcnow() - timedelta(hours=2))
        )
        session.execute(
            update(HumanTask)
            .where(HumanTask.id == first)
            .values(due_at=utcnow() + timedelta(days=3))
        )
    boss_groups = make("maria")
    assert _rows(boss_groups.get("/inbox?process=showcase").text) == [first, late]
    assert _rows(boss_groups.get("/inbox?process=payment_check").text) == []
    assert _rows(boss_groups.get("/inbox?step=check_order").text) == [first, late]
    assert _rows(boss_groups.get("/inbox?due=overdue").text) == [late]
    assert _rows(boss_groups.get("/inbox?due=week").text) == [first, late]
    assert _rows(boss_groups.get("/inbox?due=none").text) == []
    page = boss_groups.get("/inbox").text
    assert "is-overdue" in page
    assert '<option value="showcase"' in page and '<option value="check_order"' in page


@pytest.mark.parametrize(
    "query",
    ["A-1042", "a-10", "+7 916 123 45 67", "89161234567", "9161234567", "123-45-67"],
)
def test_search_by_business_key_or_customer_phone(
    browser: OpenBrowser, start_task: StartTask, query: str
) -> None:
    """The phone matches by its digits, however it was typed."""
    hit = start_task(business_key="A-1042", **order(customer_phone="+7 (916) 123-45-67"))
    start_task(business_key="B-7", **order(order_number="B-7", customer_phone="+7 999 000-00-00"))
    maria = browser("maria")
    assert _rows(maria.get("/inbox", params={"q": query}).text) == [hit]


def test_search_that_matches_nothing_says_so(browser: OpenBrowser, start_task: StartTask) -> None:
    start_task(business_key="A-1042", **order())
    page = browser("maria").get("/inbox", params={"q": "нет такого"}).text
    assert _rows(page) == [] and "Под фильтры ничего не подходит" in page


def test_change_marker_moves_on_every_inbox_change(
    session_factory: sessionmaker[Session], start_task: StartTask, browser: OpenBrowser
) -> None:
    """New task, claim, unclaim and completion each change the marker the SSE stream polls."""

    def marker() -> tuple[object, ...]:
        with session_scope(session_factory) as session:
            return change_marker(session, actor=MARIA, now=utcnow())

    seen = [marker()]
    task_id = start_task(**order())
    seen.append(marker())
    maria = browser("maria")
    maria.post(f"/tasks/{task_id}/claim")
    seen.append(marker())
    maria.post(f"/tasks/{task_id}/unclaim")
    seen.append(marker())
    maria.post(f"/tasks/{task_id}/claim")
    seen.append(marker())
    maria.post(f"/tasks/{task_id}/complete", valid_form())
    seen.append(marker())
    # Each step differs from the one before (equal states, e.g. before a claim and after its
    # unclaim, may share a marker: the inbox looks the same).
    assert all(a != b for a, b in pairwise(seen)), seen
    assert marker() == seen[-1]  # and stays put when nothing happens


def test_inbox_page_is_live_and_keyboard_ready(browser: OpenBrowser, start_task: StartTask) -> None:
    """The page subscribes to the SSE stream and names the keys."""
    start_task(**order())
    page = browser("maria").get("/inbox").text
    assert 'sse-connect="/inbox/events?since=' in page
    assert 'hx-trigger="sse:changed"' in page
    assert "/static/dist/htmx.entry.js" in page and "/static/dist/inbox.entry.js" in page
    assert 'data-page="inbox"' in page and "<kbd>j</kbd>" in page
