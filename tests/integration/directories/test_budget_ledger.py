"""The budget ledger on both databases: atomic reservations under real concurrency (threads,
one connection each), once per job key, spending, and the plan/reserved/spent report."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from engine.db import session_scope
from engine.directories import budget_lines, save_article, set_plan
from handlers.budget_ledger import report, report_csv, reserve, spend

MONTH = "2026-12"


@pytest.fixture
def ledger(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    """Marketing: Реклама plan 100 000, Лицензии plan 80 000, the group 150 000."""
    with session_scope(session_factory) as session:
        save_article(session, name="Реклама", group="Маркетинг")
        save_article(session, name="Лицензии", group="Маркетинг")
        set_plan(session, month=MONTH, kind="article", name="Реклама", plan=100_000_00)
        set_plan(session, month=MONTH, kind="article", name="Лицензии", plan=80_000_00)
        set_plan(session, month=MONTH, kind="group", name="Маркетинг", plan=150_000_00)
    return session_factory


def _concurrently(factory: sessionmaker[Session], requests: list[dict[str, Any]]) -> list[Any]:
    """Run each reservation in its own thread and transaction, all released at once."""
    barrier = threading.Barrier(len(requests))
    answers: list[Any] = [None] * len(requests)

    def run(position: int, request: dict[str, Any]) -> None:
        barrier.wait()
        try:
            with session_scope(factory) as session:
                answers[position] = reserve(session, month=MONTH, **request)
        except Exception as exc:  # surfaced by the assertion below
            answers[position] = exc

    threads = [
        threading.Thread(target=run, args=(i, request)) for i, request in enumerate(requests)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers


def _line(factory: sessionmaker[Session], kind: str, name: str) -> tuple[int, int, int]:
    with session_scope(factory) as session:
        [line] = [x for x in budget_lines(session, month=MONTH) if (x.kind, x.name) == (kind, name)]
        return line.plan, line.reserved, line.spent


def test_two_concurrent_requests_over_the_article_budget_one_wins(
    ledger: sessionmaker[Session],
) -> None:
    requests = [
        {"key": f"job-{i}", "article": "Реклама", "article_group": "Маркетинг", "amount": 60000}
        for i in range(2)
    ]
    answers = _concurrently(ledger, requests)
    assert not [a for a in answers if isinstance(a, Exception)], answers
    assert sorted(a["reserved"] for a in answers) == [False, True]
    [lost] = [a for a in answers if not a["reserved"]]
    assert lost["reason"] == (
        "Не хватает бюджета по статье «Реклама»: запрошено 60 000 ₽, свободно 40 000 ₽ "
        "(план 100 000 ₽, уже одобрено и оплачено 60 000 ₽)"
    )
    assert _line(ledger, "article", "Реклама") == (100_000_00, 60_000_00, 0)
    assert _line(ledger, "group", "Маркетинг") == (150_000_00, 60_000_00, 0)


def test_two_articles_racing_for_the_group_budget_one_wins_and_nothing_leaks(
    ledger: sessionmaker[Session],
) -> None:
    answers = _concurrently(
        ledger,
        [
            {"key": "a", "article": "Реклама", "article_group": "Маркетинг", "amount": 80000},
            {"key": "b", "article": "Лицензии", "article_group": "Маркетинг", "amount": 75000},
        ],
    )
    assert not [a for a in answers if isinstance(a, Exception)], answers
    assert sorted(a["reserved"] for a in answers) == [False, True]
    [lost] = [a for a in answers if not a["reserved"]]
    assert lost["reason"].startswith("Не хватает бюджета по группе статей «Маркетинг»")
    reserved = {name: _line(ledger, "article", name)[1] for name in ("Реклама", "Лицензии")}
    # the loser's article keeps nothing: its part was rolled back with the group's refusal
    assert sorted(reserved.values()) == [
        0,
        next(a for a in answers if a["reserved"])["amount"] * 100,
    ]
    assert _line(ledger, "group", "Маркетинг")[1] == sum(reserved.values())


def test_many_concurrent_small_requests_never_overspend(ledger: sessionmaker[Session]) -> None:
    requests = [
        {"key": f"k{i}", "article": "Лицензии", "article_group": "Маркетинг", "amount": 15000}
        for i in range(8)
    ]
    answers = _concurrently(ledger, requests)
    assert not [a for a in answers if isinstance(a, Exception)], answers
    assert sum(a["reserved"] for a in answers) == 5  # 5 × 15 000 ≤ 80 000 < 6 × 15 000
    assert _line(ledger, "article", "Лицензии") == (80_000_00, 75_000_00, 0)


def test_a_retried_job_gets_its_first_answer_and_spending_happens_once(
    ledger: sessionmaker[Session],
) -> None:
    request = {"article": "Реклама", "article_group": "Маркетинг", "amount": "20 000,50"}
    with session_scope(ledger) as session:
        first = reserve(session, key="job-1", month=MONTH, **request)
    with session_scope(ledger) as session:
        again = reserve(session, key="job-1", month=MONTH, **request)
    assert first == again and first["reserved"] is True and first["amount"] == 20000.5
    assert _line(ledger, "article", "Реклама") == (100_000_00, 20_000_50, 0)

    for _ in range(2):
        with session_scope(ledger) as session:
            spent = spend(
                session, reservation_id=first["reservation_id"], actual_payment_date="2026-12-10"
            )
    assert spent["actual_payment_date"] == "2026-12-10"
    assert _line(ledger, "article", "Реклама") == (100_000_00, 0, 20_000_50)
    assert _line(ledger, "group", "Маркетинг") == (150_000_00, 0, 20_000_50)

    with session_scope(ledger) as session:
        reserve(session, key="job-2", month=MONTH, **(request | {"amount": 30000}))
        data = report(session, month=MONTH)
    assert data["articles"][1] == {
        "name": "Реклама",
        "group": "Маркетинг",
        "plan": 100000.0,
        "reserved": 30000.0,
        "spent": 20000.5,
        "free": 49999.5,
    }
    assert data["groups"] == [
        {
            "name": "Маркетинг",
            "plan": 150000.0,
            "reserved": 30000.0,
            "spent": 20000.5,
            "free": 99999.5,
        }
    ]
    assert "2026-12;статья;Реклама;Маркетинг;100000.00;30000.00;20000.50;49999.50" in report_csv(
        data
    )
