"""Directories: the admin data the shipped processes are started with, and its CSV import.

Tables (engine.models): cities (pickup address, responsible manager), loss reasons, settings
(fallback manager, order buffer seconds, bonus percent, product groups…), delivery-date rules
per carrier, products (synced from the warehouse), expense groups and articles, and the budget
lines (monthly plan / reserved / spent per article and per group, in kopecks).

The processes never read these tables themselves: `install_start_providers()` registers an
initial-variables provider per process key (`engine.extensions`), so every start — a webhook's
message start, a REST start, a message another process throws — carries the current data:

- lead_qualification:  settings.routing {cities: {name: {manager}}, fallback_manager,
                       product_groups}
- payment_to_shipment: settings.pickup_points {city: address}, bonus_percent, delivery_rules
- order_assignment:    settings.buffer_seconds, cooldown_seconds (the queue policy's)
- expense_approval:    budget {articles: {name: {group, plan, used}}, groups: {…}} in rubles

What a starter passes explicitly wins over the directory (tests, integrations).

Every function flushes, never commits: the caller's unit of work commits once.
"""

from __future__ import annotations

import csv
import io
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from engine.errors import NotFoundError, ValidationFailed
from engine.extensions import register_initial_variables
from engine.models import (
    BudgetLine,
    DeliveryRule,
    DirectoryCity,
    DirectoryLossReason,
    DirectoryProduct,
    DirectorySetting,
    ExpenseArticle,
    ExpenseGroup,
    User,
    utcnow,
)

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
KINDS = ("article", "group")
MAX_CSV_ROWS = 10_000


# --- settings -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SettingSpec:
    """One tunable: its key, label, kind ("int", "number", "text", "user", "json") and default."""

    key: str
    title: str
    kind: str
    default: Any = None
    help: str = ""


SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec(
        "fallback_manager",
        "Ответственный по умолчанию",
        "user",
        "",
        "Получает лиды из городов без своего менеджера.",
    ),
    SettingSpec(
        "order_buffer_seconds",
        "Невидимый буфер заказа, секунд",
        "int",
        60,
        "Сколько новый заказ никому не виден до предложения менеджерам.",
    ),
    SettingSpec(
        "bonus_percent",
        "Бонус за оплату, %",
        "number",
        3,
        "Процент от оплаченной суммы, начисляемый на бонусный счёт клиента.",
    ),
    SettingSpec(
        "review_url",
        "Ссылка для отзыва",
        "text",
        "",
        "Её получает клиент, когда заказ доставлен.",
    ),
    SettingSpec(
        "product_groups",
        "Группы товаров и скрипты звонка",
        "json",
        [],
        'Список {"group", "keywords": [...], "call_script"}: скрипт для звонка по лиду.',
    ),
)
SETTING_SPECS = {spec.key: spec for spec in SETTINGS}


Row = TypeVar("Row")


def _get_or_add(session: Session, model: type[Row], **key: Any) -> Row:
    """The row of `model` whose one-column primary key is `key` (e.g. name="Москва"), or a
    new one added to the session."""
    (value,) = key.values()
    row = session.get(model, value)
    if row is None:
        row = model(**key)
        session.add(row)
    return row


def get_setting(session: Session, key: str) -> Any:
    """The setting's value, or its default when the admin never set it."""
    row = session.get(DirectorySetting, key)
    if row is not None and row.value is not None:
        return row.value
    spec = SETTING_SPECS.get(key)
    return spec.default if spec else None


def is_set(session: Session, key: str) -> bool:
    """True when an admin stored a value for `key`."""
    row = session.get(DirectorySetting, key)
    return row is not None and row.value not in (None, "", [])


def _coerce_setting(spec: SettingSpec, value: Any) -> Any:
    if spec.kind == "int":
        number = int(str(value).strip())
        if number < 0 or number > 10_000_000:
            raise ValueError("0 or more")
        return number
    if spec.kind == "number":
        amount = float(str(value).strip().replace(",", "."))
        if amount < 0 or amount > 100:
            raise ValueError("0 to 100")
        return amount
    if spec.kind == "json":
        if isinstance(value, str):
            import json

            value = json.loads(value or "null")
        if value is not None and not isinstance(value, list | dict):
            raise ValueError("a JSON list or object")
        return value
    return str(value or "").strip()[:2000]


def set_setting(session: Session, key: str, value: Any, *, actor: str | None = None) -> Any:
    """Store a setting (validated by its kind); ValidationFailed names the field."""
    spec = SETTING_SPECS.get(key)
    if spec is None:
        raise NotFoundError(f"no setting {key!r}")
    try:
        coerced = _coerce_setting(spec, value)
    except (ValueError, TypeError) as exc:
        raise ValidationFailed(
            f"setting {key!r} is invalid", details=[{"loc": [key], "msg": str(exc)}]
        ) from None
    row = _get_or_add(session, DirectorySetting, key=key)
    row.value, row.updated_at, row.updated_by = coerced, utcnow(), actor
    session.flush()
    return coerced


def settings_view(session: Session) -> list[tuple[SettingSpec, Any, bool]]:
    """Every setting with its current value and whether an admin set it."""
    return [(spec, get_setting(session, spec.key), is_set(session, spec.key)) for spec in SETTINGS]


# --- small helpers ------------------------------------------------------------------------


def _clean(value: Any, limit: int = 200) -> str:
    return " ".join(str(value or "").split())[:limit]


def _invalid(message: str, loc: list[Any], msg: str) -> ValidationFailed:
    return ValidationFailed(message, details=[{"loc": loc, "msg": msg}])


def parse_rubles(value: Any) -> int:
    """'100 000,50' / '100000.5' / 100000 → kopecks; ValueError for anything else."""
    text = str(value if value is not None else "").strip()
    text = text.replace("\u00a0", "").replace(" ", "").replace("₽", "").replace(",", ".")
    if not text:
        raise ValueError("empty amount")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not an amount: {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"not an amount: {value!r}")
    return int((amount * 100).to_integral_value())


def rubles(kopecks: int) -> float:
    """Kopecks → rubles as the processes see money (a float with two decimals)."""
    return round(kopecks / 100, 2)


def check_month(month: str) -> str:
    """`month` when it is 'YYYY-MM', else ValidationFailed."""
    if not isinstance(month, str) or not MONTH.match(month):
        raise _invalid("the month must be YYYY-MM", ["month"], "YYYY-MM")
    return month


def current_month(today: date | None = None) -> str:
    return (today or date.today()).strftime("%Y-%m")


# --- cities -------------------------------------------------------------------------------


def list_cities(session: Session) -> list[DirectoryCity]:
    return list(session.scalars(select(DirectoryCity).order_by(DirectoryCity.name)))


def save_city(
    session: Session, *, name: str, pickup_address: str = "", manager: str = ""
) -> DirectoryCity:
    """Create or replace a city (its manager must be a user, when given)."""
    name, manager = _clean(name), _clean(manager, 150)
    if not name:
        raise _invalid("the city needs a name", ["name"], "required")
    if manager and session.scalar(select(User.id).where(User.username == manager)) is None:
        raise _invalid(f"no user {manager!r}", ["manager"], "unknown user")
    city = _get_or_add(session, DirectoryCity, name=name)
    city.pickup_address, city.manager = _clean(pickup_address, 500), manager
    city.updated_at = utcnow()
    session.flush()
    return city


def delete_city(session: Session, *, name: str) -> None:
    session.execute(delete(DirectoryCity).where(DirectoryCity.name == name))


def routing_table(session: Session) -> dict[str, Any]:
    """The lead routing table (handlers.routing's shape) from the cities and settings."""
    table: dict[str, Any] = {}
    cities = {c.name: {"manager": c.manager} for c in list_cities(session) if c.manager}
    if cities:
        table["cities"] = cities
    fallback = get_setting(session, "fallback_manager")
    if fallback:
        table["fallback_manager"] = fallback
    groups = get_setting(session, "product_groups")
    if groups:
        table["product_groups"] = groups
    return table


def pickup_points(session: Session) -> dict[str, str]:
    """{city: pickup address} of the cities that have one."""
    return {c.name: c.pickup_address for c in list_cities(session) if c.pickup_address}


# --- loss reasons -------------------------------------------------------------------------


def list_loss_reasons(session: Session, *, active_only: bool = False) -> list[DirectoryLossReason]:
    stmt = select(DirectoryLossReason)
    if active_only:
        stmt = stmt.where(DirectoryLossReason.is_active.is_(True))
    return list(
        session.scalars(stmt.order_by(DirectoryLossReason.position, DirectoryLossReason.name))
    )


def save_loss_reason(
    session: Session, *, name: str, position: int = 0, is_active: bool = True
) -> DirectoryLossReason:
    name = _clean(name)
    if not name:
        raise _invalid("the reason needs a name", ["name"], "required")
    reason = _get_or_add(session, DirectoryLossReason, name=name)
    reason.position, reason.is_active = position, is_active
    session.flush()
    return reason


def delete_loss_reason(session: Session, *, name: str) -> None:
    session.execute(delete(DirectoryLossReason).where(DirectoryLossReason.name == name))


# --- delivery-date rules ------------------------------------------------------------------


def list_delivery_rules(session: Session) -> list[DeliveryRule]:
    return list(session.scalars(select(DeliveryRule).order_by(DeliveryRule.carrier)))


def save_delivery_rule(
    session: Session, *, carrier: str, title: str = "", min_days: int = 0, window_days: int = 1
) -> DeliveryRule:
    """Create or replace a carrier's rule: deliveries from `min_days` ahead, `window_days` long."""
    carrier = _clean(carrier, 50)
    if not carrier:
        raise _invalid("the rule needs a carrier", ["carrier"], "required")
    if not 0 <= min_days <= 365:
        raise _invalid("min_days is 0 to 365", ["min_days"], "0 to 365")
    if not 1 <= window_days <= 60:
        raise _invalid("window_days is 1 to 60", ["window_days"], "1 to 60")
    rule = _get_or_add(session, DeliveryRule, carrier=carrier)
    rule.title, rule.min_days, rule.window_days = _clean(title), min_days, window_days
    session.flush()
    return rule


def delete_delivery_rule(session: Session, *, carrier: str) -> None:
    session.execute(delete(DeliveryRule).where(DeliveryRule.carrier == carrier))


def delivery_rules(session: Session) -> dict[str, dict[str, Any]]:
    """{carrier: {title, min_days, window_days}} for the processes."""
    return {
        r.carrier: {"title": r.title, "min_days": r.min_days, "window_days": r.window_days}
        for r in list_delivery_rules(session)
    }


# --- products (from the warehouse) --------------------------------------------------------


def list_products(session: Session) -> list[DirectoryProduct]:
    return list(session.scalars(select(DirectoryProduct).order_by(DirectoryProduct.name)))


def sync_products(session: Session, rows: list[dict[str, Any]]) -> int:
    """Replace the products with MoySklad stock-report rows (`meta.href`, name, code, article,
    salePrice in kopecks, quantity); returns how many there are now."""
    now = utcnow()
    seen: set[str] = set()
    for row in rows:
        href = str(((row.get("meta") or {}).get("href")) or "")
        product_id = href.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        if not product_id:
            continue
        seen.add(product_id)
        product = _get_or_add(session, DirectoryProduct, id=product_id)
        product.name = _clean(row.get("name"), 500)
        product.code = _clean(row.get("code"), 100)
        product.article = _clean(row.get("article"), 100)
        product.price_kopecks = int(row.get("salePrice") or 0)
        product.stock = float(row.get("quantity") or 0)
        product.updated_at = now
    if seen:
        session.execute(delete(DirectoryProduct).where(DirectoryProduct.id.not_in(seen)))
    session.flush()
    return len(seen)


# --- expense articles, groups and their monthly plans -------------------------------------


def list_groups(session: Session) -> list[ExpenseGroup]:
    return list(session.scalars(select(ExpenseGroup).order_by(ExpenseGroup.name)))


def list_articles(session: Session) -> list[ExpenseArticle]:
    return list(session.scalars(select(ExpenseArticle).order_by(ExpenseArticle.name)))


def save_group(session: Session, *, name: str) -> ExpenseGroup:
    name = _clean(name)
    if not name:
        raise _invalid("the group needs a name", ["group"], "required")
    group = _get_or_add(session, ExpenseGroup, name=name)
    session.flush()
    return group


def save_article(session: Session, *, name: str, group: str) -> ExpenseArticle:
    """Create or move an article (its group is created when new)."""
    name = _clean(name)
    if not name:
        raise _invalid("the article needs a name", ["article"], "required")
    group_row = save_group(session, name=group)
    article = _get_or_add(session, ExpenseArticle, name=name)
    article.group_name = group_row.name
    session.flush()
    return article


def delete_article(session: Session, *, name: str) -> None:
    session.execute(delete(ExpenseArticle).where(ExpenseArticle.name == name))


def delete_group(session: Session, *, name: str) -> None:
    """Remove a group that has no articles left."""
    used = session.scalar(select(ExpenseArticle.name).where(ExpenseArticle.group_name == name))
    if used is not None:
        raise _invalid(f"group {name!r} still has articles", ["group"], "has articles")
    session.execute(delete(ExpenseGroup).where(ExpenseGroup.name == name))


def _line(session: Session, month: str, kind: str, name: str, *, lock: bool) -> BudgetLine | None:
    stmt = select(BudgetLine).where(
        BudgetLine.month == month, BudgetLine.kind == kind, BudgetLine.name == name
    )
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt.execution_options(populate_existing=True)).first()


def ensure_line(session: Session, month: str, kind: str, name: str) -> BudgetLine:
    """The budget line (created with plan 0 when missing; a concurrent twin is tolerated)."""
    from sqlalchemy.exc import IntegrityError

    line = _line(session, month, kind, name, lock=False)
    if line is not None:
        return line
    try:
        with session.begin_nested():
            line = BudgetLine(month=month, kind=kind, name=name, plan=0, reserved=0, spent=0)
            session.add(line)
            session.flush()
        return line
    except IntegrityError:
        found = _line(session, month, kind, name, lock=False)
        assert found is not None
        return found


def set_plan(session: Session, *, month: str, kind: str, name: str, plan: int) -> BudgetLine:
    """The month's plan (kopecks) of an article or group; reservations stay as they are."""
    check_month(month)
    if kind not in KINDS:
        raise _invalid("kind is article or group", ["kind"], "article | group")
    name = _clean(name)
    if kind == "article" and session.get(ExpenseArticle, name) is None:
        raise _invalid(f"no expense article {name!r}", ["article"], "unknown article")
    if kind == "group" and session.get(ExpenseGroup, name) is None:
        raise _invalid(f"no expense group {name!r}", ["group"], "unknown group")
    if plan < 0:
        raise _invalid("the plan cannot be negative", ["plan"], "0 or more")
    line = ensure_line(session, month, kind, name)
    line.plan, line.updated_at = plan, utcnow()
    session.flush()
    return line


def budget_lines(session: Session, *, month: str | None = None) -> list[BudgetLine]:
    stmt = select(BudgetLine)
    if month is not None:
        stmt = stmt.where(BudgetLine.month == month)
    return list(session.scalars(stmt.order_by(BudgetLine.month, BudgetLine.kind, BudgetLine.name)))


def budget_table(session: Session, *, since: str | None = None) -> dict[str, Any]:
    """The budget as expense_approval's `budget.check` reads it (rubles; used = reserved +
    spent), for the months from `since` on (default: every month)."""
    articles: dict[str, dict[str, Any]] = {
        a.name: {"group": a.group_name, "plan": {}, "used": {}} for a in list_articles(session)
    }
    groups: dict[str, dict[str, Any]] = {
        g.name: {"plan": {}, "used": {}} for g in list_groups(session)
    }
    for line in budget_lines(session):
        if since is not None and line.month < since:
            continue
        target = (articles if line.kind == "article" else groups).get(line.name)
        if target is None:
            continue
        target["plan"][line.month] = rubles(line.plan)
        target["used"][line.month] = rubles(line.reserved + line.spent)
    return {"articles": articles, "groups": groups}


# --- CSV import ---------------------------------------------------------------------------


@dataclass
class ImportResult:
    """What an import did: rows applied, or the problems (nothing is applied then)."""

    imported: int = 0
    errors: list[str] = field(default_factory=list)


# Column names accepted per directory (Russian or English), first = canonical.
CSV_COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    "cities": {
        "name": ("name", "город", "city"),
        "pickup_address": ("pickup_address", "адрес самовывоза", "адрес", "address"),
        "manager": ("manager", "менеджер", "ответственный"),
    },
    "loss_reasons": {
        "name": ("name", "причина", "reason"),
        "position": ("position", "порядок", "order"),
        "is_active": ("is_active", "активна", "active"),
    },
    "delivery_rules": {
        "carrier": ("carrier", "перевозчик", "способ"),
        "title": ("title", "название"),
        "min_days": ("min_days", "через дней", "от дней", "min"),
        "window_days": ("window_days", "дней в окне", "окно", "window"),
    },
    "articles": {
        "article": ("article", "статья"),
        "group": ("group", "группа"),
    },
    "plans": {
        "month": ("month", "месяц"),
        "article": ("article", "статья"),
        "group": ("group", "группа"),
        "plan": ("plan", "план", "сумма"),
    },
}
CSV_REQUIRED = {
    "cities": ("name",),
    "loss_reasons": ("name",),
    "delivery_rules": ("carrier",),
    "articles": ("article", "group"),
    "plans": ("month", "plan"),
}
CSV_EXAMPLES = {
    "cities": "город;адрес самовывоза;менеджер\nНовосибирск;ул. Ленина, 1;ivan\n",
    "loss_reasons": "причина;порядок;активна\nДорого;1;да\n",
    "delivery_rules": "перевозчик;название;через дней;дней в окне\ncourier;Курьер магазина;2;5\n",
    "articles": "статья;группа\nРеклама;Маркетинг\n",
    "plans": (
        "месяц;статья;группа;план\n2026-12;Реклама;Маркетинг;100000\n2026-12;;Маркетинг;250000\n"
    ),
}


def _rows(text: str, kind: str) -> Iterator[tuple[int, dict[str, str]]]:
    sample = text[:4096]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=";,\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    header = next(reader, None)
    if header is None:
        raise _invalid("the file is empty", ["file"], "empty")
    aliases = CSV_COLUMNS[kind]
    columns: dict[int, str] = {}
    for position, raw in enumerate(header):
        name = _clean(raw).lower().lstrip("\ufeff")
        for canonical, names in aliases.items():
            if name in names:
                columns[position] = canonical
    missing = [c for c in CSV_REQUIRED[kind] if c not in columns.values()]
    if missing:
        expected = ", ".join(f"«{aliases[c][1]}»" for c in missing)
        raise _invalid(f"missing columns: {expected}", ["file"], "missing columns")
    for number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        yield number, {columns[i]: cell.strip() for i, cell in enumerate(row) if i in columns}


def _flag(text: str) -> bool:
    return text.strip().lower() not in ("0", "нет", "no", "false", "-", "n")


def _int(text: str, default: int) -> int:
    return int(text) if text.strip() else default


def _apply(session: Session, kind: str, row: dict[str, str]) -> None:
    if kind == "cities":
        save_city(
            session,
            name=row.get("name", ""),
            pickup_address=row.get("pickup_address", ""),
            manager=row.get("manager", ""),
        )
    elif kind == "loss_reasons":
        save_loss_reason(
            session,
            name=row.get("name", ""),
            position=_int(row.get("position", ""), 0),
            is_active=_flag(row.get("is_active", "да")),
        )
    elif kind == "delivery_rules":
        save_delivery_rule(
            session,
            carrier=row.get("carrier", ""),
            title=row.get("title", ""),
            min_days=_int(row.get("min_days", ""), 0),
            window_days=_int(row.get("window_days", ""), 1),
        )
    elif kind == "articles":
        save_article(session, name=row.get("article", ""), group=row.get("group", ""))
    elif kind == "plans":
        article, group = _clean(row.get("article")), _clean(row.get("group"))
        month, plan = row.get("month", ""), parse_rubles(row.get("plan"))
        if article:
            if group:
                save_article(session, name=article, group=group)
            set_plan(session, month=month, kind="article", name=article, plan=plan)
        elif group:
            save_group(session, name=group)
            set_plan(session, month=month, kind="group", name=group, plan=plan)
        else:
            raise ValueError("name an article or a group")
    else:  # pragma: no cover - guarded by import_csv
        raise NotFoundError(f"no directory {kind!r}")


def import_csv(session: Session, kind: str, text: str) -> ImportResult:
    """Import a CSV (`;`, `,` or tab; header row in Russian or English) into directory `kind`.

    All or nothing: any bad row rolls the whole file back (a savepoint) and is reported as
    "line N: why".
    """
    if kind not in CSV_COLUMNS:
        raise NotFoundError(f"no directory {kind!r}")
    result = ImportResult()
    try:
        rows = list(_rows(text, kind))
    except ValidationFailed as exc:
        return ImportResult(errors=[exc.message])
    if len(rows) > MAX_CSV_ROWS:
        return ImportResult(errors=[f"at most {MAX_CSV_ROWS} rows per file"])
    savepoint = session.begin_nested()
    for number, row in rows:
        try:
            with session.begin_nested():
                _apply(session, kind, row)
            result.imported += 1
        except (ValidationFailed, ValueError) as exc:
            message = exc.message if isinstance(exc, ValidationFailed) else str(exc)
            result.errors.append(f"строка {number}: {message}")
    if result.errors:
        savepoint.rollback()
        result.imported = 0
    else:
        savepoint.commit()
    return result


# --- what the processes are started with --------------------------------------------------


def _merged_settings(given: dict[str, Any], ours: dict[str, Any]) -> dict[str, Any]:
    """`ours` under the settings the starter gave (theirs win key by key)."""
    theirs = given.get("settings")
    return {**ours, **(theirs if isinstance(theirs, dict) else {})}


def lead_variables(session: Session, given: dict[str, Any]) -> dict[str, Any]:
    """lead_qualification: settings.routing from the cities, fallback and product groups."""
    routing = routing_table(session)
    if not routing:
        return {}
    return {"settings": _merged_settings(given, {"routing": routing})}


def payment_variables(session: Session, given: dict[str, Any]) -> dict[str, Any]:
    """payment_to_shipment: pickup addresses by city, bonus percent, delivery rules, review."""
    ours: dict[str, Any] = {}
    points = pickup_points(session)
    if points:
        ours["pickup_points"] = points
    if is_set(session, "bonus_percent"):
        ours["bonus_percent"] = get_setting(session, "bonus_percent")
    if is_set(session, "review_url"):
        ours["review_url"] = get_setting(session, "review_url")
    rules = delivery_rules(session)
    if rules:
        ours["delivery_rules"] = rules
    return {"settings": _merged_settings(given, ours)} if ours else {}


def order_variables(session: Session, given: dict[str, Any]) -> dict[str, Any]:
    """order_assignment: the buffer from the settings, the cool-down from the queue policy."""
    from engine.queues import get_policy

    ours: dict[str, Any] = {}
    if is_set(session, "order_buffer_seconds"):
        ours["buffer_seconds"] = int(get_setting(session, "order_buffer_seconds"))
    policy = get_policy(session, name=ORDER_QUEUE)
    if policy is not None and policy.cooldown_seconds > 0:
        ours["cooldown_seconds"] = policy.cooldown_seconds
    return {"settings": _merged_settings(given, ours)} if ours else {}


def expense_variables(session: Session, given: dict[str, Any]) -> dict[str, Any]:
    """expense_approval: the budget table (unless the starter gave one)."""
    if given.get("budget"):
        return {}
    table = budget_table(session)
    return {"budget": table} if table["articles"] else {}


# The queue the orders' take task waits in (its lane): where the blind/FIFO policy lives.
ORDER_QUEUE = "managers"
START_PROVIDERS: dict[str, Callable[[Session, dict[str, Any]], dict[str, Any]]] = {
    "lead_qualification": lead_variables,
    "payment_to_shipment": payment_variables,
    "order_assignment": order_variables,
    "expense_approval": expense_variables,
}
_installed: list[Callable[[], None]] = []
_install_lock = threading.Lock()


def install_start_providers() -> None:
    """Register the providers above with the engine (once per process)."""
    with _install_lock:
        if _installed:
            return
        for key, provider in START_PROVIDERS.items():
            _installed.append(register_initial_variables(key, provider))


def uninstall_start_providers() -> None:
    """Forget the providers (tests of the bare processes)."""
    with _install_lock:
        while _installed:
            _installed.pop()()


# --- the database operators use outside a unit of work ------------------------------------

_database_override: list[sessionmaker[Session]] = []


def database() -> sessionmaker[Session]:
    """Where the budget ledger and the Telegram offers keep their rows: a test's override, or
    the configured database."""
    if _database_override:
        return _database_override[-1]
    from engine.db import get_engine, make_session_factory

    return make_session_factory(get_engine())


@contextmanager
def use_database(factory: sessionmaker[Session]) -> Iterator[sessionmaker[Session]]:
    """Make `factory` the operators' database inside the block (tests, embedded demos)."""
    _database_override.append(factory)
    try:
        yield factory
    finally:
        _database_override.remove(factory)
