"""Jinja2 environments (one per locale, autoescape on) and the page rendering helper."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_timedelta
from babel.numbers import format_currency, format_decimal, get_currency_symbol
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markdown_it import MarkdownIt
from markupsafe import Markup

from api.health import app_version
from api.web.i18n import TEMPLATE_DIR, negotiate, translations
from engine.models import utcnow

# The shops are in Russia, Ukraine and Belarus; times are shown in the shop's zone.
DISPLAY_TIMEZONE = "Europe/Moscow"
DEFAULT_CURRENCY = "RUB"


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    # "commonmark" with html=False: raw HTML in instructions is shown as text, never run;
    # markdown-it's link validation drops javascript:/vbscript:/data: links. No images:
    # instructions must not make the browser fetch third-party URLs.
    return MarkdownIt("commonmark", {"html": False}).disable("image")


def markdown(text: str | None) -> Markup:
    """Instructions (Markdown) as safe HTML."""
    if not text:
        return Markup("")
    return Markup(_markdown().render(str(text)))  # html=False: input is escaped


def short(value: Any, limit: int = 80) -> str:
    """A history value in a few characters: "—" for nothing, files by name, JSON otherwise."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        if value.startswith("data:") and ";base64," in value[:2000]:
            return "📎"
        text = value
    else:
        text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _zone() -> ZoneInfo:
    return ZoneInfo(DISPLAY_TIMEZONE)


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def _filters(locale: str) -> dict[str, Any]:
    def age(value: Any, now: datetime | None = None) -> str:
        moment = _as_datetime(value)
        if moment is None:
            return ""
        delta = (now or utcnow()) - moment
        return format_timedelta(
            max(delta, timedelta(0)), threshold=1.0, format="short", locale=locale
        )

    def until(value: Any, now: datetime | None = None) -> str:
        moment = _as_datetime(value)
        if moment is None:
            return ""
        return format_timedelta(
            moment - (now or utcnow()), add_direction=True, format="short", locale=locale
        )

    def when(value: Any, style: str = "d MMM, HH:mm") -> str:
        moment = _as_datetime(value)
        if moment is None:
            return "" if value is None else str(value)
        return format_datetime(moment, style, tzinfo=_zone(), locale=locale)

    def day(value: Any) -> str:
        if isinstance(value, str):
            try:
                value = date.fromisoformat(value)
            except ValueError:
                return value
        if isinstance(value, date):
            return format_date(value, "medium", locale=locale)
        return "" if value is None else str(value)

    def money(value: Any, currency: str | None = None) -> str:
        try:
            amount = Decimal(str(value))
        except (InvalidOperation, ValueError):
            return "" if value is None else str(value)
        if currency:
            return format_currency(amount, currency, locale=locale)
        return format_decimal(amount, format="#,##0.00", locale=locale)

    def currency_symbol(code: str | None) -> str:
        return get_currency_symbol(code or DEFAULT_CURRENCY, locale=locale)

    return {
        "short": short,
        "currency_symbol": currency_symbol,
        "age": age,
        "until": until,
        "when": when,
        "day": day,
        "money": money,
        "markdown": markdown,
    }


@lru_cache(maxsize=4)
def environment(locale: str) -> Environment:
    """The Jinja2 environment for `locale` (cached: templates compile once per locale)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(["html", "xml"], default=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(_filters(locale))
    env.globals.update(locale=locale, asset_version=app_version())
    return env


def request_locale(request: Request) -> str:
    """The locale this request is shown in (the session's choice, else the default)."""
    return negotiate(request.session.get("locale") if "session" in request.scope else None)


def render_text(request: Request, template: str, **context: Any) -> str:
    """A template rendered for this request's locale and user."""
    from api.web.security import csrf_token, pop_flashes

    env = environment(request_locale(request))
    context.setdefault("user", getattr(request.state, "web_user", None))
    context.setdefault("now", utcnow())
    # A callable: only full pages (base.html) take the flash messages out of the session.
    context.update(
        request=request, csrf_token=csrf_token(request), flashes=lambda: pop_flashes(request)
    )
    return env.get_template(template).render(context)


# Pages are never framed (a claim button must not be clickjacked) nor sniffed.
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def render(
    request: Request,
    template: str,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """A page or fragment as an HTML response."""
    return HTMLResponse(
        render_text(request, template, **context),
        status_code=status_code,
        headers=SECURITY_HEADERS | (headers or {}),
    )
