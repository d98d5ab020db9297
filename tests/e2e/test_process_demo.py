"""The customer simulator (/demo) in a real browser: a person plays the customer on Telegram,
sees the bot's questions, pays the link on the YooKassa double and reads the bonus SMS."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.test_process_payment import BUMPER
from tests.e2e.test_process_shop import (  # noqa: F401
    Shop,
    demo_database_fixture,
    shop_fixture,
    shop_port_fixture,
)
from tests.live_server import CHROMIUM, CHROMIUM_ARGS, chromium_available

pytestmark = pytest.mark.browser
sync_api = pytest.importorskip("playwright.sync_api")
WAIT = 20_000  # ms


@pytest.fixture
def page(shop: Shop) -> Iterator[Any]:
    if not chromium_available():
        pytest.skip(f"no chromium at {CHROMIUM} (make browser)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(locale="ru-RU")
        yield context.new_page()
        context.close()
        browser.close()


def _say(page: Any, text: str) -> None:
    page.fill("#demo-text", text)
    page.press("#demo-text", "Enter")


def test_a_person_plays_the_customer_from_the_first_message_to_the_bonus_sms(
    shop: Shop, page: Any
) -> None:
    expect = sync_api.expect
    page.goto(f"{shop.root}/demo")
    page.select_option("#demo-channel", "telegram")
    page.fill("#demo-contact", "720001")
    page.fill("#demo-name", "Иван")
    page.fill("#demo-phone", "+7 913 555-44-33")
    page.dispatch_event("#demo-phone", "change")
    chat = page.locator("#demo-messages")

    with shop.worker():
        _say(page, "Здравствуйте, нужен бампер")
        expect(chat.locator("li.from-me")).to_contain_text(["Здравствуйте, нужен бампер"])
        expect(chat.locator("li.from-shop").last).to_contain_text("номер телефона", timeout=WAIT)
        _say(page, "+7 913 555-44-33")
        expect(chat.locator("li.from-shop").last).to_contain_text("города", timeout=WAIT)
        _say(page, "Новосибирск")
        expect(chat.locator("li.from-shop").last).to_contain_text("запчасть", timeout=WAIT)
        _say(page, "Передний бампер")
        expect(chat.locator("li.from-me")).to_have_count(4, timeout=WAIT)

        # behind the scenes the manager converts the lead and leads the deal to payment
        [lead] = [
            i for i in shop.instances("lead_qualification") if i.variables["contact"] == "720001"
        ]
        _wait_for(lambda: shop.open_tasks("call_task"))
        shop.complete("ivan", shop.task("ivan", lead.id, "call_task"), call_result="convert")
        [deal] = [d for d in shop.instances("deal_pipeline") if d.variables["contact"] == "720001"]
        ready = {"items": [BUMPER], "amount": 7490.0, "delivery_method": "pickup"}
        stage = shop.task("ivan", deal.id, "stage_task")
        shop.complete("ivan", stage, next_stage="awaiting_payment", **ready)
        _wait_for(lambda: shop.open_tasks("confirm_task"))
        shop.complete("ivan", shop.task("ivan", deal.id, "confirm_task"), confirmation="confirmed")

        # the payment link arrives in the chat; the customer pays on YooKassa's page
        link = chat.locator("li.from-shop a").last
        expect(link).to_have_attribute(
            "href", re.compile("/sandbox/yookassa/checkout/"), timeout=WAIT
        )
        with page.context.expect_page() as opened:
            link.click()
        checkout = opened.value
        checkout.get_by_role("button", name="Оплатить").click()
        checkout.close()
        expect(chat.locator("li.from-shop").last).to_contain_text("получена", timeout=WAIT)
        sms = page.locator("#demo-sms li.sms")
        expect(sms).to_contain_text(["224.7"], timeout=WAIT)
        expect(sms.first).to_contain_text("баланс")


def _wait_for(check: Any, seconds: float = 20.0) -> None:
    import time

    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
