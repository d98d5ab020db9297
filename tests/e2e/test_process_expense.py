"""expense_approval end to end: employees file requests over REST; the budget check reads the
plans and the ledger (directories), the reservation is atomic, only an accountant pays, and
the month's report shows plan / reserved / spent (JSON and CSV)."""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

from sqlalchemy import select

from engine.db import session_scope
from engine.jobs import run_job
from engine.models import Job
from tests.e2e.test_process_shop import (  # noqa: F401
    Shop,
    demo_database_fixture,
    shop_fixture,
    shop_port_fixture,
)

MONTH = date.today().strftime("%Y-%m")
PAY_BY = f"{MONTH}-28"


def _request(shop: Shop, who: str, article: str, amount: float, run: bool = True) -> str:
    flow = shop.start(who, "expense_approval")
    task = shop.task(who, flow, "request_task")
    shop.complete(
        who,
        task,
        run=run,
        article=article,
        amount=amount,
        requester="Отдел маркетинга",
        pay_by=PAY_BY,
        comment="Счёт №17",
        attachments=["https://files.example/invoice-17.pdf"],
    )
    return flow


def _line(shop: Shop, name: str) -> dict[str, Any]:
    report = shop.api("olga", "GET", "/reports/budget", params={"month": MONTH}).json()
    [line] = [x for x in report["articles"] + report["groups"] if x["name"] == name]
    return dict(line)


def test_over_budget_is_rejected_with_numbers_and_within_is_reserved_then_paid(
    shop: Shop,
) -> None:
    over = _request(shop, "maria", "Реклама", 120000)
    rejected = shop.instance(over)["variables"]
    assert rejected["expense_status"] == "rejected"
    assert rejected["rejection_reason"] == (
        "Не хватает бюджета по статье «Реклама»: запрошено 120 000 ₽, свободно 100 000 ₽ "
        "(план 100 000 ₽, уже одобрено и оплачено 0 ₽)"
    )

    within = _request(shop, "pavel", "Упаковка", 20000)
    approved = shop.instance(within)["variables"]
    assert approved["expense_status"] == "approved" and approved["reservation"]["reserved"]
    assert _line(shop, "Упаковка") | {"name": "Упаковка"} == {
        "name": "Упаковка",
        "group": "Склад",
        "plan": 50000.0,
        "reserved": 20000.0,
        "spent": 0.0,
        "free": 30000.0,
    }

    pay = shop.task("olga", within, "pay_task")
    assert (
        shop.api(
            "maria", "POST", f"/tasks/{pay['id']}/complete", json={"data": pay["data"]}
        ).status_code
        == 403
    )
    no_date = shop.complete("olga", pay, 422)
    assert [d["loc"] for d in no_date.json()["error"]["details"]] == [
        ["data", "actual_payment_date"]
    ]
    shop.complete("olga", pay, actual_payment_date=f"{MONTH}-10")
    paid = shop.instance(within)
    assert (paid["status"], paid["variables"]["expense_status"]) == ("completed", "paid")
    assert (
        _line(shop, "Упаковка")["reserved"] == 0.0 and _line(shop, "Упаковка")["spent"] == 20000.0
    )
    assert _line(shop, "Склад")["spent"] == 20000.0

    csv = shop.api(
        "olga", "GET", "/reports/budget", params={"month": MONTH}, headers={"Accept": "text/csv"}
    )
    assert csv.headers["content-type"].startswith("text/csv")
    assert f"{MONTH};статья;Упаковка;Склад;50000.00;0.00;20000.00;30000.00" in csv.text
    assert shop.api("maria", "GET", "/reports/budget", params={"month": MONTH}).status_code == 403


def test_two_concurrent_requests_that_together_exceed_the_budget_one_is_rejected(
    shop: Shop,
) -> None:
    # both pass the budget check (80 000 free each time), then reserve at the same moment
    flows = [_request(shop, who, "Лицензии ПО", 50000, run=False) for who in ("maria", "ivan")]
    with session_scope(shop.factory) as session:
        jobs = list(
            session.scalars(
                select(Job.id).where(Job.operator == "budget.reserve", Job.instance_id.in_(flows))
            )
        )
    assert len(jobs) == 2
    shop.sent[:] = [job for job in shop.sent if job not in jobs]
    barrier = threading.Barrier(2)

    def reserve(job_id: int) -> None:
        barrier.wait()
        assert run_job(shop.factory, job_id).status == "done"

    threads = [threading.Thread(target=reserve, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    shop.run_jobs()
    outcomes = sorted(shop.instance(flow)["variables"]["expense_status"] for flow in flows)
    assert outcomes == ["approved", "rejected"]
    [loser] = [f for f in flows if shop.instance(f)["variables"]["expense_status"] == "rejected"]
    assert shop.instance(loser)["variables"]["rejection_reason"] == (
        "Не хватает бюджета по статье «Лицензии ПО»: запрошено 50 000 ₽, свободно 30 000 ₽ "
        "(план 80 000 ₽, уже одобрено и оплачено 50 000 ₽)"
    )
    assert _line(shop, "Лицензии ПО")["reserved"] == 50000.0

    # the next request is checked against the ledger at once: the reservation counts as used
    third = _request(shop, "boss", "Лицензии ПО", 40000)
    assert shop.instance(third)["variables"]["rejection_reason"].endswith(
        "свободно 30 000 ₽ (план 80 000 ₽, уже одобрено и оплачено 50 000 ₽)"
    )
