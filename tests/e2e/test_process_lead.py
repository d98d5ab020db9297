"""lead_qualification end to end: a customer talks to the Telegram bot double; routing comes
from the cities directory; managers and operators act through REST."""

from __future__ import annotations

from datetime import timedelta

from tests.e2e.test_process_shop import Shop, demo_database_fixture, shop_fixture, shop_port_fixture  # noqa: F401


def _lead_of(shop: Shop, chat: int) -> str:
    leads = shop.instances("lead_qualification")
    [lead] = [i for i in leads if i.variables["contact"] == str(chat)]
    return lead.id


def test_four_answers_in_telegram_qualify_a_lead_for_the_city_manager(shop: Shop) -> None:
    chat = 700101
    shop.customer_writes(chat, "Здравствуйте, нужна запчасть", name="Иван")
    # Telegram told us the name: the bot asks for the phone first, then city and part
    assert shop.bot_said(chat) == ["Оставьте, пожалуйста, номер телефона для связи."]
    for answer in ("8 (913) 123-45-67", "Новосибирск", "Передний бампер"):
        shop.customer_writes(chat, answer)
    asked = shop.bot_said(chat)
    assert len(asked) == 3 and "город" in asked[1] and "запчасть" in asked[2]

    lead = shop.instance(_lead_of(shop, chat))
    variables = lead["variables"]
    assert (variables["source"], variables["lead_status"]) == ("telegram", "qualified")
    assert (variables["manager"], variables["routed_to_fallback"]) == ("ivan", False)
    assert variables["product_group"] == "Кузов"  # the product groups are directory data too
    call = shop.task("ivan", lead["id"], "call_task")
    assert call["assignee"] == "ivan" and "покраска" in call["data"]["call_script"]

    # another manager cannot take it; the source stays what the channel said
    body = {"data": call["data"]}
    refused = shop.api("maria", "POST", f"/tasks/{call['id']}/complete", json=body)
    assert refused.status_code == 403
    shop.complete("ivan", call, call_result="convert", source="avito")
    finished = shop.instance(lead["id"])
    assert finished["status"] == "completed" and finished["variables"]["source"] == "telegram"
    [deal] = [d for d in shop.instances("deal_pipeline") if d.variables.get("contact") == str(chat)]
    assert (deal.variables["responsible"], deal.variables["source"]) == ("ivan", "telegram")


def test_a_city_without_a_manager_goes_to_the_fallback_responsible(shop: Shop) -> None:
    chat = 700102
    for text in ("Добрый день", "+7 913 000-00-01", "Омск", "Колодки"):
        shop.customer_writes(chat, text, name="Пётр")
    lead = shop.instance(_lead_of(shop, chat))
    assert (lead["variables"]["manager"], lead["variables"]["routed_to_fallback"]) == ("boss", True)
    assert shop.task("boss", lead["id"], "call_task")["assignee"] == "boss"


def test_silence_is_reminded_after_10_minutes_and_closed_after_24_hours(shop: Shop) -> None:
    chat = 700103
    shop.customer_writes(chat, "Есть фары?")
    assert shop.fire(timedelta(minutes=5)) == 0
    assert shop.fire(timedelta(minutes=11)) == 1
    said = shop.bot_said(chat)
    assert len(said) == 2 and said[1].startswith("Напоминаем о вопросе выше")
    assert shop.fire(timedelta(hours=25)) == 1
    closed = shop.instance(_lead_of(shop, chat))
    assert closed["status"] == "completed"
    assert (closed["variables"]["lead_status"], closed["variables"]["loss_reason"]) == (
        "no_answer",
        "no_answer",
    )


def test_operator_queue_returns_a_silent_claim_and_a_loss_needs_a_reason(shop: Shop) -> None:
    chat = 700104
    shop.customer_writes(chat, "Здравствуйте", name="Мария")
    shop.customer_writes(chat, "+7 913 000-00-04")
    shop.customer_writes(chat, "Позовите оператора")
    assert len(shop.bot_said(chat)) == 2  # no more questions: a person takes over
    lead_id = _lead_of(shop, chat)
    [task] = [t for t in shop.tasks("olesya", candidate="me") if t["instance_id"] == lead_id]
    assert (task["element_id"], task["lane"]) == ("operator_task", "operators")

    claimed = shop.api("olesya", "POST", f"/tasks/{task['id']}/claim")
    assert claimed.status_code == 200 and claimed.json()["assignee"] == "olesya"
    assert shop.return_idle(timedelta(minutes=5)) == []
    assert shop.return_idle(timedelta(minutes=11)) == [task["id"]]  # silent 10 min: back
    back = shop.api("olesya", "GET", f"/tasks/{task['id']}").json()
    assert back["assignee"] is None

    refused = shop.complete("olesya", back, 422, operator_decision="lose")
    assert [d["loc"] for d in refused.json()["error"]["details"]] == [["data", "loss_reason"]]
    shop.complete("olesya", back, operator_decision="lose", loss_reason="Спам")
    lost = shop.instance(lead_id)
    assert (lost["variables"]["lead_status"], lost["variables"]["loss_reason"]) == ("lost", "Спам")
    report = shop.api("boss", "GET", "/reports/loss-reasons")
    assert report.status_code == 403  # a manager does not read reports
    counted = shop.api("analyst", "GET", "/reports/loss-reasons").json()["reasons"]
    assert {"reason": "Спам", "process": "lead_qualification", "count": 1} in counted
