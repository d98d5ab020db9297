"""expense_approval: budget check with numbers, reservation, accountant-only payment with date.

Operators the process calls (parameters as the handlers must accept them):

- budget.check   (inline) article, amount, month ("YYYY-MM"), budget — handlers/budget.py,
                          decides from the budget table passed at start (see its docstring).
- budget.reserve (job)    article, article_group, amount, month → {"reserved": bool,
                          "reservation_id"?, "reason"?}; atomic against the ledger (both the
                          article and the group), keyed by ctx.idempotency_key.
- budget.spend   (job)    article, article_group, amount, month, actual_payment_date,
                          reservation_id — turns the reservation into spending.

Start variables: budget (the month plans and used amounts, admin data), draft? (prefill).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from engine.errors import FormValidationError, PermissionDenied
from handlers.budget import check_budget, format_rub
from tests.integration.processes.conftest import (
    ACCOUNTANT,
    EMPLOYEE,
    MANAGER,
    Driver,
    FakeOperators,
)

MONTH = "2026-12"
BUDGET = {
    "articles": {
        "Реклама": {"group": "Маркетинг", "plan": {MONTH: 100000}, "used": {MONTH: 95000}},
        "Лицензии ПО": {"group": "Маркетинг", "plan": {MONTH: 80000}, "used": {MONTH: 10000}},
        "Упаковка": {"group": "Склад", "plan": {MONTH: 50000}, "used": {MONTH: 0}},
    },
    "groups": {
        "Маркетинг": {"plan": {MONTH: 200000}, "used": {MONTH: 150000}},
        "Склад": {"plan": {MONTH: 60000}, "used": {MONTH: 12500.5}},
    },
}


def _submit(driver: Driver, article: str, amount: float) -> str:
    driver.deploy("expense_approval.bpmn", "expense")
    flow = driver.start("expense_approval", {"budget": BUDGET}, actor=EMPLOYEE)
    task = driver.task(flow, "request_task")
    assert set(task.candidate_groups) >= {"managers", "warehouse", "operators", "accountants"}
    request = {
        "article": article,
        "amount": amount,
        "requester": "Отдел маркетинга",
        "pay_by": "2026-12-15",
        "comment": "Ноябрьская кампания",
        "attachments": ["https://files.example/invoice-17.pdf"],
    }
    driver.complete(task, {**task.data, **request}, EMPLOYEE)
    return flow


def test_over_the_article_budget_is_rejected_with_the_numbers(
    driver: Driver, fakes: FakeOperators
) -> None:
    flow = _submit(driver, "Реклама", 10000)
    finished = driver.instance(flow)
    assert finished.status == "completed"
    variables = finished.variables
    assert variables["expense_status"] == "rejected"
    assert variables["rejection_reason"] == (
        "Не хватает бюджета по статье «Реклама»: запрошено 10 000 ₽, свободно 5 000 ₽ "
        "(план 100 000 ₽, уже одобрено и оплачено 95 000 ₽)"
    )
    assert variables["budget_check"]["article"] == {
        "name": "Реклама",
        "plan": 100000.0,
        "used": 95000.0,
        "free": 5000.0,
    }
    assert fakes.calls == []  # nothing reserved


def test_over_the_group_budget_is_rejected_too(driver: Driver, fakes: FakeOperators) -> None:
    flow = _submit(driver, "Лицензии ПО", 60000)
    variables = driver.variables(flow)
    assert variables["expense_status"] == "rejected"
    assert variables["rejection_reason"].startswith(
        "Не хватает бюджета по группе статей «Маркетинг»"
    )
    assert "свободно 50 000 ₽" in variables["rejection_reason"]


def test_within_budget_is_reserved_and_only_an_accountant_pays_it_with_the_date(
    driver: Driver, fakes: FakeOperators
) -> None:
    fakes.answer("budget.reserve", {"reserved": True, "reservation_id": "R-1"})
    flow = _submit(driver, "Упаковка", 20000)
    assert fakes.of("budget.reserve") == [
        {"article": "Упаковка", "article_group": "Склад", "amount": 20000, "month": MONTH}
    ]
    assert driver.variables(flow)["expense_status"] == "approved"
    task = driver.task(flow, "pay_task")
    assert (task.lane, task.candidate_groups) == ("accountants", ["accountants"])
    assert task.data["budget_check"]["group"]["free"] == 47499.5

    with pytest.raises(PermissionDenied):
        driver.complete(task, {**task.data, "actual_payment_date": "2026-12-10"}, MANAGER)
    with pytest.raises(FormValidationError) as no_date:
        driver.complete(task, task.data, ACCOUNTANT)
    assert [d["loc"] for d in no_date.value.details] == [["data", "actual_payment_date"]]
    with pytest.raises(FormValidationError):
        driver.complete(task, {**task.data, "actual_payment_date": "10.12.2026"}, ACCOUNTANT)
    paid: dict[str, Any] = {**task.data, "actual_payment_date": "2026-12-10", "amount": 1}
    driver.complete(task, paid, ACCOUNTANT)

    assert fakes.of("budget.spend") == [
        {
            "article": "Упаковка",
            "article_group": "Склад",
            "amount": 20000,
            "month": MONTH,
            "actual_payment_date": "2026-12-10",
            "reservation_id": "R-1",
        }
    ]
    finished = driver.instance(flow)
    assert finished.status == "completed"
    assert finished.variables["expense_status"] == "paid"
    assert finished.variables["amount"] == 20000  # read-only for the accountant


def test_a_reservation_lost_to_a_concurrent_request_rejects(
    driver: Driver, fakes: FakeOperators
) -> None:
    reason = "Свободно по статье «Упаковка» 5 000 ₽: остальное зарезервировано заявкой R-7"
    fakes.answer("budget.reserve", {"reserved": False, "reason": reason})
    flow = _submit(driver, "Упаковка", 20000)
    variables = driver.variables(flow)
    assert (variables["expense_status"], variables["rejection_reason"]) == ("rejected", reason)
    assert driver.tasks(flow) == []


def test_the_budget_check_refuses_unknown_articles_and_bad_amounts() -> None:
    unknown = check_budget("Корпоратив", 1000, MONTH, BUDGET)
    assert (unknown["approved"], unknown["reason"]) == (
        False,
        "Статья расходов «Корпоратив» не найдена",
    )
    no_plan = check_budget("Упаковка", 1, "2027-01", BUDGET)
    assert no_plan["approved"] is False and "свободно 0 ₽" in no_plan["reason"]
    with pytest.raises(ValueError):
        check_budget("Упаковка", 0, MONTH, BUDGET)
    assert format_rub(Decimal("1234567.5")) == "1 234 567,50 ₽"
    assert format_rub(Decimal("5000")) == "5 000 ₽"
