"""lead_qualification: chatbot questions, operator queue, routing by city, mandatory loss reason.

Operators the process calls (parameters as the handlers must accept them):

- notify.message   (job)    channel, contact, phone, text — a text to the customer in the
                            channel the lead came from; a channel without a messenger bot
                            ("sms", "call") goes out as SMS to `phone`.
- leads.route      (inline) city, part, routing — handlers/routing.py; `routing` is the admin
                            routing table, passed in message.settings.routing.

Messages: `inbound_message` starts the lead and carries every later customer message
(correlation channel + contact; variables text, name?, phone?, called_line? for calls,
settings? = admin data: routing, texts, timeouts). On convert the lead throws `deal_start`,
which the engine delivers: it starts deal_pipeline. The call task is assigned to the manager
the lead was routed to (assigneeVariable `manager`): only they or an admin complete it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from engine.errors import FormValidationError, PermissionDenied
from engine.models import utcnow
from tests.integration.processes.conftest import (
    MANAGER,
    OPERATOR,
    OTHER_MANAGER,
    Driver,
    FakeOperators,
    close_to,
)

ROUTING = {
    "cities": {"Новосибирск": "ivanov", "Москва": {"manager": "petrov"}},
    "fallback_manager": "head_of_sales",
    "product_groups": [
        {"group": "Кузов", "keywords": ["бампер", "капот"], "call_script": "Скрипт: кузов"}
    ],
}
TELEGRAM = {"channel": "telegram", "contact": "tg-42"}


def _start(driver: Driver, correlation: dict[str, str] = TELEGRAM, **variables: Any) -> str:
    driver.deploy("lead_qualification.bpmn", "lead")
    variables = {"text": "Здравствуйте", "settings": {"routing": ROUTING}, **variables}
    result = driver.deliver("inbound_message", correlation=correlation, variables=variables)
    assert result["delivered_to"] == [] and len(result["started"]) == 1
    return result["started"][0]


def _answer(driver: Driver, instance_id: str, *texts: str) -> None:
    for text in texts:
        result = driver.deliver("inbound_message", correlation=TELEGRAM, variables={"text": text})
        assert result == {"delivered_to": [instance_id], "started": []}


def test_four_answers_route_the_lead_to_the_city_manager(
    driver: Driver, fakes: FakeOperators
) -> None:
    lead = _start(driver)
    timers = driver.timers(lead)
    assert close_to(timers["remind"], utcnow() + timedelta(minutes=10))
    assert close_to(timers["give_up"], utcnow() + timedelta(hours=24))

    _answer(driver, lead, "Иван", "8 (913) 123-45-67", "г. Новосибирск", "Передний бампер")

    asked = fakes.of("notify.message")
    assert len(asked) == 4 and asked[0]["text"].startswith("Здравствуйте! Как к вам")
    assert {(a["channel"], a["contact"]) for a in asked} == {("telegram", "tg-42")}
    task = driver.task(lead, "call_task")
    assert (task.lane, task.candidate_groups) == ("managers", ["managers"])
    assert task.assignee == "ivanov"  # the manager of the customer's city
    assert task.data["call_script"] == "Скрипт: кузов" and task.data["product_group"] == "Кузов"
    variables = driver.variables(lead)
    assert variables["manager"] == "ivanov" and variables["routed_to_fallback"] is False
    assert variables["source"] == "telegram" and variables["lead_status"] == "qualified"
    assert (variables["contact_name"], variables["phone"]) == ("Иван", "+79131234567")
    assert driver.timers(lead) == {}  # no question waits any more

    # The customer writes again while the manager works: the same lead gets it.
    _answer(driver, lead, "Когда позвоните?")
    assert len(driver.instances("lead_qualification")) == 1

    with pytest.raises(PermissionDenied):  # another city's manager may not take it
        driver.complete(task, {**task.data, "call_result": "convert"}, OTHER_MANAGER)
    driver.deploy("deal_pipeline.bpmn", "deal")
    driver.complete(task, {**task.data, "source": "avito", "call_result": "convert"}, MANAGER)
    finished = driver.instance(lead)
    assert finished.status == "completed"
    assert finished.variables["lead_status"] == "converted"
    assert finished.variables["source"] == "telegram"  # read-only: the stored value wins
    # deal_start was delivered: it started one deal with the lead's data, for ivanov
    assert [name for name, _ in driver.messages_sent(lead)].count("deal_start") == 1
    [deal] = driver.instances("deal_pipeline")
    deal_start = deal.variables["request"]  # the message's payload, as the deal received it
    assert deal_start["customer"] == {
        "name": "Иван",
        "phone": "+79131234567",
        "city": "г. Новосибирск",
    }
    assert deal_start["manager"] == "ivanov"
    assert (deal.variables["responsible"], deal.variables["source"]) == ("ivanov", "telegram")
    assert driver.task(deal.id, "stage_task").assignee == "ivanov"


def test_a_reply_that_beats_the_question_job_reaches_the_same_lead(
    driver: Driver, fakes: FakeOperators
) -> None:
    """The question is a job; the lead already listens while it is being sent."""
    driver.deploy("lead_qualification.bpmn", "lead")
    first = driver.deliver("inbound_message", TELEGRAM, {"text": "Добрый день"}, run_jobs=False)
    [lead] = first["started"]
    second = driver.deliver("inbound_message", TELEGRAM, {"text": "Иван"}, run_jobs=False)
    assert second == {"delivered_to": [lead], "started": []}
    assert fakes.calls == []  # the first question is still on its way
    driver.run_jobs()
    asked = [call["text"] for call in fakes.of("notify.message")]
    assert asked[0].startswith("Здравствуйте! Как к вам") and "телефон" in asked[1]
    assert driver.variables(lead)["contact_name"] == "Иван"


def test_bad_phone_is_asked_again_and_unknown_city_goes_to_the_fallback(
    driver: Driver, fakes: FakeOperators
) -> None:
    lead = _start(driver)
    _answer(driver, lead, "Пётр", "позвоните мне", "+375 29 123 45 67", "Омск", "Фара")
    asked = [call["text"] for call in fakes.of("notify.message")]
    assert asked[2].startswith("Не получилось разобрать номер") and "телефон" in asked[2]
    assert len(asked) == 5
    variables = driver.variables(lead)
    assert variables["phone"] == "+375291234567"
    assert (variables["manager"], variables["routed_to_fallback"]) == ("head_of_sales", True)
    assert variables["product_group"] == "Общее"
    call_task = driver.task(lead, "call_task")
    assert call_task.candidate_groups == ["managers"]
    assert call_task.assignee == "head_of_sales"  # nobody for Омск: the fallback manager


def test_asking_for_an_operator_goes_to_the_operator_queue(
    driver: Driver, fakes: FakeOperators
) -> None:
    lead = _start(driver)
    _answer(driver, lead, "Иван", "Позовите ОПЕРАТОРА, пожалуйста")
    assert len(fakes.of("notify.message")) == 2  # no third question
    task = driver.task(lead, "operator_task")
    assert (task.lane, task.candidate_groups) == ("operators", ["operators"])
    assert task.data["contact_name"] == "Иван" and task.data["phone"] == ""
    assert driver.timers(lead) == {}

    with pytest.raises(FormValidationError) as refused:
        driver.complete(task, {**task.data, "operator_decision": "qualified"}, OPERATOR)
    assert {d["loc"][-1] for d in refused.value.details} == {"phone", "city", "part"}

    with pytest.raises(FormValidationError) as no_reason:
        driver.complete(task, {**task.data, "operator_decision": "lose"}, OPERATOR)
    assert [d["loc"] for d in no_reason.value.details] == [["data", "loss_reason"]]

    driver.complete(
        task, {**task.data, "operator_decision": "lose", "loss_reason": "spam"}, OPERATOR
    )
    finished = driver.instance(lead)
    assert finished.status == "completed"
    assert (finished.variables["lead_status"], finished.variables["loss_reason"]) == (
        "lost",
        "spam",
    )


def test_a_call_is_tagged_with_its_line_and_qualified_by_an_operator(
    driver: Driver, fakes: FakeOperators
) -> None:
    call = {"channel": "call", "contact": "+79990001122"}
    lead = _start(driver, correlation=call, text="", called_line="+73832000001")
    assert fakes.calls == []  # no chatbot on a phone call
    task = driver.task(lead, "operator_task")
    assert (task.data["source"], task.data["source_line"]) == ("call", "+73832000001")
    filled = {
        **task.data,
        "contact_name": "Анна",
        "phone": "+7 999 000-11-22",
        "city": "Москва",
        "part": "капот",
        "operator_decision": "qualified",
        "source_line": "+70000000000",
    }
    driver.complete(task, filled, OPERATOR)
    variables = driver.variables(lead)
    assert (variables["source"], variables["source_line"]) == ("call", "+73832000001")
    assert variables["manager"] == "petrov" and variables["product_group"] == "Кузов"
    assert variables["last_actor"] == "olya"  # the operator qualified it
    call_task = driver.task(lead, "call_task")
    assert call_task.assignee == "petrov"  # Москва's manager
    with pytest.raises(PermissionDenied):
        driver.complete(call_task, {**call_task.data, "call_result": "lose"}, MANAGER)

    with pytest.raises(FormValidationError) as no_reason:
        driver.complete(call_task, {**call_task.data, "call_result": "lose"}, OTHER_MANAGER)
    assert "loss_reason" in str(no_reason.value)
    driver.complete(
        call_task,
        {**call_task.data, "call_result": "lose", "loss_reason": "дорого"},
        OTHER_MANAGER,
    )
    assert driver.variables(lead)["lead_status"] == "lost"


def test_silence_gets_a_reminder_after_10_minutes_and_closes_after_24_hours(
    driver: Driver, fakes: FakeOperators
) -> None:
    lead = _start(driver)
    assert driver.fire_timers(after=timedelta(minutes=5)) == 0
    assert driver.fire_timers(after=timedelta(minutes=11)) == 1
    texts = [call["text"] for call in fakes.of("notify.message")]
    assert len(texts) == 2 and texts[1].startswith("Напоминаем")
    assert list(driver.timers(lead)) == ["give_up"]
    assert driver.instance(lead).status == "waiting"

    assert driver.fire_timers(after=timedelta(hours=25)) == 1
    closed = driver.instance(lead)
    assert closed.status == "completed"
    assert (closed.variables["lead_status"], closed.variables["loss_reason"]) == (
        "no_answer",
        "no_answer",
    )
    # A later message starts a new lead: the closed one is not reopened.
    result = driver.deliver("inbound_message", correlation=TELEGRAM, variables={"text": "Алло"})
    assert result["delivered_to"] == [] and result["started"] != [lead]


def test_the_history_names_each_message_the_lead_sent_and_where_it_landed(
    driver: Driver, fakes: FakeOperators
) -> None:
    """A lost lead sent nothing; a converted one sent deal_start, which started the deal."""
    driver.deploy("deal_pipeline.bpmn", "deal")
    lost = _start(driver)
    _answer(driver, lost, "Иван", "оператора позовите")
    task = driver.task(lost, "operator_task")
    driver.complete(
        task, {**task.data, "operator_decision": "lose", "loss_reason": "спам"}, OPERATOR
    )
    assert driver.instance(lost).status == "completed"
    assert driver.messages_sent(lost) == []

    converted = _start(driver)
    _answer(driver, converted, "Иван", "+79131234567", "Новосибирск", "бампер")
    task = driver.task(converted, "call_task")
    driver.complete(task, {**task.data, "call_result": "convert"}, MANAGER)
    [deal] = driver.instances("deal_pipeline")
    assert driver.messages_sent(converted) == [
        ("deal_start", {"delivered_to": [], "started": [deal.id]})
    ]
