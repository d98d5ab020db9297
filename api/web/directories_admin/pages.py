"""Admin pages of the directories: tables with add / change / delete and CSV import (admins).

/admin/directories                  the settings (fallback manager, bonus, product groups…)
/admin/directories/{cities|loss-reasons|delivery-rules}    a table each, with CSV import
/admin/directories/expenses?month=  articles, groups and their plans; CSV of articles, plans
/admin/directories/budget?month=    plan / reserved / spent (and .csv)
/admin/directories/products         the warehouse's products (synced from MoySklad)
/admin/directories/orders           order distribution: buffer, queue rules, Telegram chats
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from api.deps import SessionDep
from api.web.security import AdminDep, PageError, PostedForm
from api.web.templating import render
from connectors.base import ConnectorError
from engine import directories, queues
from engine.errors import PotokError
from engine.models import User, utcnow
from handlers.budget_ledger import report, report_csv
from handlers.clients import current_clients

router = APIRouter(prefix="/admin/directories")
MAX_UPLOAD = 2 * 1024 * 1024

# The tabs, in order (their titles, like every text of these pages, are in the templates:
# directories/_texts.html).
TABS = (
    "settings",
    "cities",
    "loss-reasons",
    "delivery-rules",
    "expenses",
    "budget",
    "products",
    "orders",
)


@dataclass(frozen=True)
class Column:
    name: str
    kind: str = "text"  # text | int | bool | user


@dataclass(frozen=True)
class Table:
    """A simple directory: its columns, rows, and how a posted row is saved or deleted."""

    key: str
    csv_kind: str
    columns: tuple[Column, ...]
    rows: Callable[[Session], list[Any]]
    save: Callable[[Session, dict[str, Any]], Any]
    delete: Callable[[Session, str], None]


def _int(value: Any, default: int = 0) -> int:
    text = str(value or "").strip()
    return int(text) if text else default


TABLES = {
    "cities": Table(
        key="cities",
        csv_kind="cities",
        columns=(Column("name"), Column("pickup_address"), Column("manager", "user")),
        rows=directories.list_cities,
        save=lambda s, f: directories.save_city(
            s, name=f["name"], pickup_address=f["pickup_address"], manager=f["manager"]
        ),
        delete=lambda s, key: directories.delete_city(s, name=key),
    ),
    "loss-reasons": Table(
        key="loss-reasons",
        csv_kind="loss_reasons",
        columns=(Column("name"), Column("position", "int"), Column("is_active", "bool")),
        rows=directories.list_loss_reasons,
        save=lambda s, f: directories.save_loss_reason(
            s, name=f["name"], position=_int(f["position"]), is_active=f["is_active"]
        ),
        delete=lambda s, key: directories.delete_loss_reason(s, name=key),
    ),
    "delivery-rules": Table(
        key="delivery-rules",
        csv_kind="delivery_rules",
        columns=(
            Column("carrier"),
            Column("title"),
            Column("min_days", "int"),
            Column("window_days", "int"),
        ),
        rows=directories.list_delivery_rules,
        save=lambda s, f: directories.save_delivery_rule(
            s,
            carrier=f["carrier"],
            title=f["title"],
            min_days=_int(f["min_days"]),
            window_days=_int(f["window_days"], 1),
        ),
        delete=lambda s, key: directories.delete_delivery_rule(s, carrier=key),
    ),
}


def _errors(exc: PotokError | ValueError) -> dict[str, str]:
    if isinstance(exc, ValueError):
        return {"_": str(exc)}
    found = {
        str(d["loc"][-1]): str(d.get("msg", "invalid"))
        for d in exc.details
        if isinstance(d, dict) and d.get("loc")
    }
    return found | {"_": exc.message}


def _text(posted: Any, name: str, limit: int = 500) -> str:
    value = posted.get(name)
    return str(value).strip()[:limit] if isinstance(value, str) else ""


def _upload(posted: Any) -> str:
    upload = posted.get("file")
    if not isinstance(upload, UploadFile):
        raise ValueError("no_file")
    raw = upload.file.read(MAX_UPLOAD + 1)
    if len(raw) > MAX_UPLOAD:
        raise ValueError("too_big")
    try:
        return str(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        return str(raw.decode("cp1251"))  # Excel's "CSV" on Russian Windows


def _users(session: Session) -> list[str]:
    stmt = select(User.username).where(User.is_active.is_(True)).order_by(User.username)
    return list(session.scalars(stmt))


def _page(
    request: Request, template: str, tab: str, status_code: int = 200, **context: Any
) -> Response:
    context.setdefault("errors", {})
    context.setdefault("notice", None)
    return render(
        request,
        f"directories/{template}",
        status_code=status_code,
        tabs=TABS,
        tab=tab,
        **context,
    )


def _done(request: Request, url: str, notice: str, **params: Any) -> Response:
    """Redirect to `url`, which shows the notice `notice` (a code the templates word)."""
    request.session["directories_notice"] = {"code": notice, **params}
    return RedirectResponse(url, status_code=303)


def _notice(request: Request) -> dict[str, Any] | None:
    value = request.session.pop("directories_notice", None)
    return value if isinstance(value, dict) else None


# --- settings -----------------------------------------------------------------------------


@router.get("")
def settings_page(request: Request, session: SessionDep, _admin: AdminDep) -> Response:
    """The tunables of the processes."""
    return _page(
        request,
        "settings.html",
        "settings",
        settings=directories.settings_view(session),
        users=_users(session),
        notice=_notice(request),
    )


@router.post("")
def save_settings(
    request: Request, session: SessionDep, admin: AdminDep, posted: PostedForm
) -> Response:
    """Store every setting of the form (all or none)."""
    try:
        with session.begin_nested():
            for spec in directories.SETTINGS:
                if spec.key in posted:
                    value = _text(posted, spec.key, 20_000)
                    directories.set_setting(session, spec.key, value, actor=admin.username)
    except PotokError as exc:
        return _page(
            request,
            "settings.html",
            "settings",
            422,
            settings=directories.settings_view(session),
            users=_users(session),
            errors=_errors(exc),
        )
    return _done(request, "/admin/directories", "settings_saved")


# --- the special pages --------------------------------------------------------------------


def _special(key: str, request: Request, session: Session) -> Response:
    month = request.query_params.get("month") or directories.current_month()
    if key == "expenses":
        return _expenses_page(request, session, month, notice=_notice(request))
    if key == "budget":
        return _budget_page(request, session, month)
    if key == "products":
        return _page(
            request,
            "products.html",
            "products",
            products=directories.list_products(session),
            notice=_notice(request),
        )
    if key == "orders":
        return _orders_page(request, session, notice=_notice(request))
    raise PageError(404, "not_found")


def _month(value: str) -> str:
    try:
        return directories.check_month(value)
    except PotokError:
        return directories.current_month()


def _expenses_page(
    request: Request, session: Session, month: str, status_code: int = 200, **context: Any
) -> Response:
    month = _month(month)
    lines = {(x.kind, x.name): x for x in directories.budget_lines(session, month=month)}
    return _page(
        request,
        "expenses.html",
        "expenses",
        status_code,
        month=month,
        articles=directories.list_articles(session),
        groups=directories.list_groups(session),
        plans={key: line.plan / 100 for key, line in lines.items()},
        examples=directories.CSV_EXAMPLES,
        **context,
    )


def _change_expenses(
    request: Request, session: Session, month: str, notice: str, change: Callable[[], None]
) -> Response:
    """Run `change` in a savepoint; a refusal re-renders the expenses page with its errors."""
    try:
        with session.begin_nested():
            change()
    except (PotokError, ValueError) as exc:
        return _expenses_page(request, session, month, 422, errors=_errors(exc))
    return _done(request, f"/admin/directories/expenses?month={month}", notice)


@router.post("/expenses/article")
def save_article(
    request: Request, session: SessionDep, _admin: AdminDep, posted: PostedForm
) -> Response:
    """Add an article (and its group, when new), with its plan for the month."""
    month = _month(_text(posted, "month"))

    def change() -> None:
        article = directories.save_article(
            session, name=_text(posted, "article"), group=_text(posted, "group")
        )
        if _text(posted, "plan"):
            plan = directories.parse_rubles(_text(posted, "plan"))
            directories.set_plan(session, month=month, kind="article", name=article.name, plan=plan)

    return _change_expenses(request, session, month, "article_saved", change)


@router.post("/expenses/plans")
def save_plans(
    request: Request, session: SessionDep, _admin: AdminDep, posted: PostedForm
) -> Response:
    """The month's plans of every article and group, from the plan table's inputs."""
    month = _month(_text(posted, "month"))

    def change() -> None:
        for field, value in posted.multi_items():
            if not field.startswith(("plan:article:", "plan:group:")) or not str(value).strip():
                continue
            _, kind, name = field.split(":", 2)
            plan = directories.parse_rubles(value)
            directories.set_plan(session, month=month, kind=kind, name=name, plan=plan)

    return _change_expenses(request, session, month, "plans_saved", change)


@router.post("/expenses/delete")
def delete_article(
    request: Request, session: SessionDep, _admin: AdminDep, posted: PostedForm
) -> Response:
    """Remove an article (or an empty group)."""
    month = _month(_text(posted, "month"))

    def change() -> None:
        if _text(posted, "group"):
            directories.delete_group(session, name=_text(posted, "group"))
        else:
            directories.delete_article(session, name=_text(posted, "article"))

    return _change_expenses(request, session, month, "deleted", change)


def _budget_page(request: Request, session: Session, month: str) -> Response:
    month = _month(month)
    if request.url.path.endswith(".csv"):
        raise PageError(404, "not_found")
    return _page(request, "budget.html", "budget", month=month, data=report(session, month=month))


@router.get("/budget.csv")
def budget_csv(
    request: Request, session: SessionDep, _admin: AdminDep, month: str = ""
) -> Response:
    """The month's budget report as CSV."""
    month = _month(month)
    body = report_csv(report(session, month=month))
    headers = {"Content-Disposition": f'attachment; filename="budget-{month}.csv"'}
    return Response(body, media_type="text/csv; charset=utf-8", headers=headers)


@router.post("/products/sync")
def sync_products(request: Request, session: SessionDep, _admin: AdminDep) -> Response:
    """Re-read the products and their free stock from MoySklad."""
    try:
        rows = current_clients().moysklad().stock()
    except ConnectorError as exc:
        return _done(request, "/admin/directories/products", "moysklad_failed", detail=str(exc))
    count = directories.sync_products(session, rows)
    return _done(request, "/admin/directories/products", "products_synced", count=count)


def _orders_page(
    request: Request, session: Session, status_code: int = 200, **context: Any
) -> Response:
    managers = [
        user
        for user in session.scalars(
            select(User).where(User.is_active.is_(True)).order_by(User.username)
        )
        if "managers" in (user.groups or [])
    ]
    now = utcnow()
    return _page(
        request,
        "orders.html",
        "orders",
        status_code,
        buffer=directories.get_setting(session, "order_buffer_seconds"),
        policy=queues.get_policy(session, name=directories.ORDER_QUEUE),
        queue=directories.ORDER_QUEUE,
        managers=[(u, queues.is_online(u, now)) for u in managers],
        **context,
    )


@router.post("/orders")
def save_orders(
    request: Request, session: SessionDep, admin: AdminDep, posted: PostedForm
) -> Response:
    """The buffer seconds and every manager's Telegram chat id."""
    try:
        with session.begin_nested():
            directories.set_setting(
                session,
                "order_buffer_seconds",
                _text(posted, "buffer_seconds"),
                actor=admin.username,
            )
            for field, value in posted.multi_items():
                if not field.startswith("telegram:"):
                    continue
                username, chat = field.removeprefix("telegram:"), str(value).strip()
                if chat and not chat.lstrip("-").isdigit():
                    raise ValueError("telegram_not_a_number")
                user = session.scalar(select(User).where(User.username == username))
                if user is not None:
                    user.telegram_chat_id = chat or None
    except (PotokError, ValueError) as exc:
        return _orders_page(request, session, 422, errors=_errors(exc))
    return _done(request, "/admin/directories/orders", "orders_saved")


# --- simple tables (registered last: their paths are patterns) ------------------------


def _table(key: str) -> Table:
    table = TABLES.get(key)
    if table is None:
        raise PageError(404, "not_found")
    return table


def _table_page(
    request: Request, session: Session, table: Table, status_code: int = 200, **context: Any
) -> Response:
    return _page(
        request,
        "table.html",
        table.key,
        status_code,
        table=table,
        rows=table.rows(session),
        users=_users(session),
        example=directories.CSV_EXAMPLES[table.csv_kind],
        **context,
    )


@router.get("/{key}")
def table_page(key: str, request: Request, session: SessionDep, _admin: AdminDep) -> Response:
    """One directory: its rows, the row form, the CSV import."""
    if key not in TABLES:
        return _special(key, request, session)
    return _table_page(request, session, _table(key), notice=_notice(request))


@router.post("/{key}")
def save_row(
    key: str, request: Request, session: SessionDep, _admin: AdminDep, posted: PostedForm
) -> Response:
    """Add or change one row."""
    table = _table(key)
    fields: dict[str, Any] = {}
    for column in table.columns:
        fields[column.name] = (
            posted.get(column.name) == "on" if column.kind == "bool" else _text(posted, column.name)
        )
    try:
        with session.begin_nested():
            table.save(session, fields)
    except (PotokError, ValueError) as exc:
        return _table_page(request, session, table, 422, errors=_errors(exc), draft=fields)
    return _done(request, f"/admin/directories/{key}", "row_saved")


@router.post("/{key}/delete")
def delete_row(
    key: str, request: Request, session: SessionDep, _admin: AdminDep, posted: PostedForm
) -> Response:
    """Remove one row (by its first column)."""
    table = _table(key)
    try:
        with session.begin_nested():
            table.delete(session, _text(posted, "key"))
    except PotokError as exc:
        return _table_page(request, session, table, 422, errors=_errors(exc))
    return _done(request, f"/admin/directories/{key}", "row_deleted")


def _import(request: Request, session: Session, kind: str, posted: Any) -> directories.ImportResult:
    try:
        text = _upload(posted)
    except ValueError as exc:
        return directories.ImportResult(errors=[str(exc)])
    return directories.import_csv(session, kind, text)


@router.post("/{key}/import")
def import_rows(
    key: str, request: Request, session: SessionDep, _admin: AdminDep, posted: PostedForm
) -> Response:
    """Import a CSV file into one directory (all rows or none)."""
    if key == "expenses":
        kind = "plans" if _text(posted, "what") == "plans" else "articles"
        result = _import(request, session, kind, posted)
        if result.errors:
            return _expenses_page(request, session, _text(posted, "month"), 422, result=result)
        month = _text(posted, "month")
        return _done(
            request,
            f"/admin/directories/expenses?month={month}",
            "imported",
            count=result.imported,
        )
    table = _table(key)
    result = _import(request, session, table.csv_kind, posted)
    if result.errors:
        return _table_page(request, session, table, 422, result=result)
    return _done(request, f"/admin/directories/{key}", "imported", count=result.imported)
