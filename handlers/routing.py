"""Lead routing: which manager takes a qualified lead, and which call script they follow.

Pure and inline (`leads.route`): it reads only the routing table the process hands it (admin
data in the `lead_routing` variable), so an administrator changes routing without a deploy.

The routing table (every key optional)::

    {
      "cities": {"Новосибирск": "ivanov", "Москва": {"manager": "petrov"}},
      "salons": {"Салон на Ленина": "sidorov"},
      "fallback_manager": "head_of_sales",
      "product_groups": [
        {"group": "Кузов", "keywords": ["бампер", "капот", "крыло"], "call_script": "..."}
      ],
      "default_call_script": "..."
    }
"""

from __future__ import annotations

from typing import Any

from engine.operators import operator

DEFAULT_CALL_SCRIPT = (
    "Представьтесь и назовите магазин. Уточните марку, модель и год автомобиля, VIN, "
    "нужную деталь и город доставки. Предложите цену и срок, договоритесь о следующем шаге."
)
DEFAULT_GROUP = "Общее"


def normalize_place(name: str | None) -> str:
    """A city or salon name as a lookup key: no case, no 'г.' prefix, single spaces."""
    text = " ".join((name or "").replace("ё", "е").replace("Ё", "Е").split()).lower()
    for prefix in ("г. ", "г.", "город "):
        if text.startswith(prefix):
            text = text[len(prefix) :].strip()
    return text


def _manager_of(entry: Any) -> str | None:
    if isinstance(entry, dict):
        entry = entry.get("manager")
    return str(entry) if entry else None


def _lookup(table: dict[str, Any] | None, place: str | None) -> str | None:
    key = normalize_place(place)
    if not key:
        return None
    for name, entry in (table or {}).items():
        if normalize_place(name) == key:
            return _manager_of(entry)
    return None


def _product_group(part: str | None, routing: dict[str, Any]) -> tuple[str, str]:
    text = (part or "").lower()
    default_script = routing.get("default_call_script") or DEFAULT_CALL_SCRIPT
    for group in routing.get("product_groups") or []:
        keywords = [str(k).lower() for k in group.get("keywords") or [] if str(k).strip()]
        if any(keyword in text for keyword in keywords):
            script = group.get("call_script") or default_script
            return str(group.get("group") or DEFAULT_GROUP), str(script)
    return DEFAULT_GROUP, str(default_script)


@operator("leads.route", inline=True)
def route_lead(
    city: str | None = None,
    part: str | None = None,
    routing: dict[str, Any] | None = None,
    salon: str | None = None,
) -> dict[str, Any]:
    """Pick the lead's manager by salon, then city, else the fallback; pick the call script."""
    routing = routing or {}
    manager = _lookup(routing.get("salons"), salon) or _lookup(routing.get("cities"), city)
    fallback = manager is None
    if fallback:
        manager = _manager_of(routing.get("fallback_manager"))
    group, script = _product_group(part, routing)
    return {"manager": manager, "fallback": fallback, "product_group": group, "call_script": script}
