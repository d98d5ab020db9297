"""Budget check of an expense request: free money of the month for its article and group.

Pure and inline (`budget.check`): it decides only from the budget table the process hands it
(admin data in the `budget` variable); the atomic reservation that stops two concurrent
requests spending the same money is `budget.reserve`, which runs against the ledger.

The budget table ("used" = already approved or paid; months are "YYYY-MM")::

    {
      "articles": {
        "Реклама": {"group": "Маркетинг", "plan": {"2026-12": 100000}, "used": {"2026-12": 30000}}
      },
      "groups": {
        "Маркетинг": {"plan": {"2026-12": 250000}, "used": {"2026-12": 200000}}
      }
    }
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from engine.operators import operator

_CENT = Decimal("0.01")


def _money(value: Any) -> Decimal:
    try:
        amount = Decimal(str(value if value is not None else 0))
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {value!r}") from exc
    if not amount.is_finite():
        raise ValueError(f"not an amount: {value!r}")
    return amount.quantize(_CENT)


def format_rub(amount: Decimal) -> str:
    """1234567.5 → '1 234 567,50 ₽' (whole amounts without kopecks)."""
    text = f"{amount:,.2f}".replace(",", " ").replace(".", ",")
    return (text[:-3] if text.endswith(",00") else text) + " ₽"


def _month_of(entry: dict[str, Any], key: str, month: str) -> Decimal:
    by_month = entry.get(key) or {}
    return _money(by_month.get(month, 0) if isinstance(by_month, dict) else by_month)


def _line(name: str, entry: dict[str, Any], month: str) -> dict[str, Any]:
    plan, used = _month_of(entry, "plan", month), _month_of(entry, "used", month)
    return {"name": name, "plan": float(plan), "used": float(used), "free": float(plan - used)}


def _reason(kind: str, line: dict[str, Any], amount: Decimal) -> str:
    return (
        f"Не хватает бюджета по {kind} «{line['name']}»: запрошено {format_rub(amount)}, "
        f"свободно {format_rub(_money(line['free']))} "
        f"(план {format_rub(_money(line['plan']))}, уже одобрено и оплачено "
        f"{format_rub(_money(line['used']))})"
    )


@operator("budget.check", inline=True)
def check_budget(
    article: str, amount: Any, month: str, budget: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Approve when both the article and its group have `amount` free in `month`."""
    budget = budget or {}
    wanted = _money(amount)
    if wanted <= 0:
        raise ValueError("the amount must be positive")
    article_entry = (budget.get("articles") or {}).get(article)
    result: dict[str, Any] = {"amount": float(wanted), "month": month}
    result.update(article=None, group=None)
    if article_entry is None:
        return {**result, "approved": False, "reason": f"Статья расходов «{article}» не найдена"}
    group_name = str(article_entry.get("group") or "")
    group_entry = (budget.get("groups") or {}).get(group_name) or {}
    result["article"] = _line(article, article_entry, month)
    result["group"] = _line(group_name, group_entry, month)
    for kind, line in (("статье", result["article"]), ("группе статей", result["group"])):
        if _money(line["free"]) < wanted:
            return {**result, "approved": False, "reason": _reason(kind, line, wanted)}
    return {**result, "approved": True, "reason": ""}
