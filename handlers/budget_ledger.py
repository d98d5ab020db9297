"""The budget ledger: reservations and spending against the monthly plans (`budget_line`).

`budget.reserve` and `budget.spend` are the job operators of expense_approval; `reserve`,
`spend` and `report` are the same operations on a session (the REST report, tests).

Money is kopecks in the ledger, rubles at the operators' edges. A reservation raises
`reserved` of the article's and the group's line for the month with one conditional UPDATE
each — `SET reserved = reserved + a WHERE plan - reserved - spent >= a` — in one transaction.
On PostgreSQL the second of two concurrent requests waits on the first's row lock and then
re-evaluates the condition against the committed row; on SQLite every writing transaction
is BEGIN IMMEDIATE (engine.db). Either way two requests that together exceed the plan get
one approval and one rejection. Article before group, always, so no two requests lock in
opposite orders. The reservation row is keyed by the job's idempotency key: a retried job
gets the first answer back and never reserves twice.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.db import session_scope
from engine.directories import (
    check_month,
    database,
    ensure_line,
    list_articles,
    list_groups,
    parse_rubles,
    rubles,
)
from engine.models import BudgetLine, BudgetReservation, utcnow
from engine.operators import HandlerContext, operator
from handlers.base import HandlerRefusal
from handlers.budget import format_rub

_KIND_WORDS = {"article": "статье", "group": "группе статей"}


def _rub(kopecks: int) -> str:
    return format_rub(Decimal(kopecks) / 100)


def _amount(value: Any) -> int:
    try:
        amount = parse_rubles(value)
    except ValueError as exc:
        raise HandlerRefusal("bad_amount", str(exc)) from None
    if amount <= 0:
        raise HandlerRefusal("bad_amount", "the amount must be positive")
    return amount


def _take(session: Session, month: str, kind: str, name: str, amount: int) -> bool:
    """Reserve `amount` on one line if it has that much free; True when it did."""
    result = session.execute(
        update(BudgetLine)
        .where(
            BudgetLine.month == month,
            BudgetLine.kind == kind,
            BudgetLine.name == name,
            BudgetLine.plan - BudgetLine.reserved - BudgetLine.spent >= amount,
        )
        .values(reserved=BudgetLine.reserved + amount, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _shortage(session: Session, month: str, kind: str, name: str, amount: int) -> str:
    line = session.scalars(
        select(BudgetLine)
        .where(BudgetLine.month == month, BudgetLine.kind == kind, BudgetLine.name == name)
        .execution_options(populate_existing=True)
    ).one()
    used = line.reserved + line.spent
    return (
        f"Не хватает бюджета по {_KIND_WORDS[kind]} «{name}»: запрошено {_rub(amount)}, "
        f"свободно {_rub(max(line.plan - used, 0))} (план {_rub(line.plan)}, уже одобрено и "
        f"оплачено {_rub(used)})"
    )


def _answer(reservation: BudgetReservation) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "reserved": reservation.state in ("reserved", "spent"),
        "amount": rubles(reservation.amount),
        "month": reservation.month,
    }
    if answer["reserved"]:
        answer["reservation_id"] = reservation.id
    else:
        answer["reason"] = reservation.reason
    return answer


def _by_key(session: Session, key: str) -> BudgetReservation | None:
    return session.scalars(
        select(BudgetReservation)
        .where(BudgetReservation.idempotency_key == key)
        .execution_options(populate_existing=True)
    ).first()


def reserve(
    session: Session, *, key: str, article: str, article_group: str, amount: Any, month: str
) -> dict[str, Any]:
    """Reserve `amount` rubles against the article and its group for `month`, once per `key`.

    Returns {"reserved": True, "reservation_id", "amount", "month"} or {"reserved": False,
    "reason", …} with the numbers of the line that is short.
    """
    check_month(month)
    wanted = _amount(amount)
    existing = _by_key(session, key)
    if existing is not None:
        return _answer(existing)
    row = BudgetReservation(
        idempotency_key=key,
        month=month,
        article=article,
        article_group=article_group,
        amount=wanted,
        state="reserved",
    )
    try:
        with session.begin_nested():  # claims the key; a concurrent twin waits here, then fails
            session.add(row)
            session.flush()
    except IntegrityError:
        found = _by_key(session, key)
        assert found is not None
        return _answer(found)
    lines = (("article", article), ("group", article_group))
    for kind, name in lines:
        ensure_line(session, month, kind, name)
    taking = session.begin_nested()
    shortage = next(
        ((kind, name) for kind, name in lines if not _take(session, month, kind, name, wanted)),
        None,
    )
    if shortage is None:
        taking.commit()
    else:
        taking.rollback()  # the article's part of a reservation the group refused
        row.state, row.reason = "rejected", _shortage(session, month, *shortage, wanted)
    session.flush()
    return _answer(row)


def spend(
    session: Session, *, reservation_id: str | None, actual_payment_date: str
) -> dict[str, Any]:
    """Turn a reservation into spending (once): reserved → spent on both lines."""
    if not reservation_id:
        raise HandlerRefusal("no_reservation", "the request has no budget reservation")
    row = session.scalars(
        select(BudgetReservation).where(BudgetReservation.id == reservation_id).with_for_update()
    ).first()
    if row is None:
        raise HandlerRefusal("no_reservation", f"no budget reservation {reservation_id!r}")
    if row.state == "rejected":
        raise HandlerRefusal("not_reserved", f"reservation {reservation_id!r} was rejected")
    if row.state == "reserved":
        changed = session.execute(
            update(BudgetReservation)
            .where(BudgetReservation.id == row.id, BudgetReservation.state == "reserved")
            .values(state="spent", spent_at=utcnow(), actual_payment_date=actual_payment_date)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        if changed:
            for kind, name in (("article", row.article), ("group", row.article_group)):
                session.execute(
                    update(BudgetLine)
                    .where(
                        BudgetLine.month == row.month,
                        BudgetLine.kind == kind,
                        BudgetLine.name == name,
                    )
                    .values(
                        reserved=BudgetLine.reserved - row.amount,
                        spent=BudgetLine.spent + row.amount,
                        updated_at=utcnow(),
                    )
                    .execution_options(synchronize_session=False)
                )
        session.flush()
        session.refresh(row)
    return {
        "spent": True,
        "reservation_id": row.id,
        "amount": rubles(row.amount),
        "month": row.month,
        "actual_payment_date": row.actual_payment_date,
    }


@operator("budget.reserve", max_attempts=5)
def reserve_job(
    ctx: HandlerContext, article: str, article_group: str, amount: Any, month: str
) -> dict[str, Any]:
    """Reserve the amount against the article's and the group's plan for the month (atomic).

    Args:
        article: the expense article.
        article_group: its group.
        amount: rubles.
        month: "YYYY-MM".

    Returns:
        {"reserved": true, "reservation_id", "amount", "month"} or {"reserved": false,
        "reason"} naming the line that is short and its numbers. Once per task: a retried job
        gets the first answer.
    """
    with session_scope(database()) as session:
        return reserve(
            session,
            key=ctx.idempotency_key,
            article=article,
            article_group=article_group,
            amount=amount,
            month=month,
        )


@operator("budget.spend", max_attempts=5)
def spend_job(
    ctx: HandlerContext,
    article: str,
    article_group: str,
    amount: Any,
    month: str,
    actual_payment_date: str,
    reservation_id: str | None = None,
) -> dict[str, Any]:
    """Turn the request's reservation into spending on its actual payment date (once).

    Args:
        article, article_group, amount, month: the request (the reservation holds them too).
        actual_payment_date: "YYYY-MM-DD", entered by the accountant.
        reservation_id: what budget.reserve answered.

    Returns:
        {"spent": true, "reservation_id", "amount", "month", "actual_payment_date"}.
    """
    with session_scope(database()) as session:
        return spend(
            session, reservation_id=reservation_id, actual_payment_date=actual_payment_date
        )


# --- the report ---------------------------------------------------------------------------


def report(session: Session, *, month: str) -> dict[str, Any]:
    """Plan / reserved / spent / free per article and per group for `month`, in rubles."""
    check_month(month)
    lines = {
        (line.kind, line.name): line
        for line in session.scalars(select(BudgetLine).where(BudgetLine.month == month))
    }

    def numbers(kind: str, name: str) -> dict[str, float]:
        line = lines.get((kind, name))
        plan, reserved, spent = (line.plan, line.reserved, line.spent) if line else (0, 0, 0)
        return {
            "plan": rubles(plan),
            "reserved": rubles(reserved),
            "spent": rubles(spent),
            "free": rubles(plan - reserved - spent),
        }

    articles = [
        {"name": a.name, "group": a.group_name, **numbers("article", a.name)}
        for a in list_articles(session)
    ]
    group_numbers = {g.name: numbers("group", g.name) for g in list_groups(session)}
    groups = [{"name": name, **figures} for name, figures in group_numbers.items()]
    totals = {
        key: round(sum(figures[key] for figures in group_numbers.values()), 2)
        for key in ("plan", "reserved", "spent", "free")
    }
    return {"month": month, "articles": articles, "groups": groups, "totals": totals}


def report_csv(data: dict[str, Any]) -> str:
    """The report as CSV (`;`, header in Russian) for a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerow(["месяц", "вид", "название", "группа", "план", "резерв", "расход", "свободно"])
    for kind, rows in (("статья", data["articles"]), ("группа", data["groups"])):
        for row in rows:
            writer.writerow(
                [
                    data["month"],
                    kind,
                    row["name"],
                    row.get("group", row["name"]),
                    f"{row['plan']:.2f}",
                    f"{row['reserved']:.2f}",
                    f"{row['spent']:.2f}",
                    f"{row['free']:.2f}",
                ]
            )
    return out.getvalue()
