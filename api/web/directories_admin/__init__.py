"""Directories in the web app: the admin pages (`pages`), the REST reports (`reports`), and
the choices forms offer from them (`ui:options.directory`: loss_reasons, expense_articles,
cities, products).

`install_directories(app)` is called by api.app.create_app.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI
from sqlalchemy.orm import Session

from api.web.directories import register_directory
from engine import directories


def _loss_reasons(session: Session, _options: dict[str, Any]) -> list[tuple[str, str]]:
    return [(r.name, r.name) for r in directories.list_loss_reasons(session, active_only=True)]


def _expense_articles(session: Session, _options: dict[str, Any]) -> list[tuple[str, str]]:
    return [(a.name, f"{a.name} ({a.group_name})") for a in directories.list_articles(session)]


def _cities(session: Session, _options: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c.name, c.name) for c in directories.list_cities(session)]


def _products(session: Session, _options: dict[str, Any]) -> list[tuple[str, str]]:
    return [(p.code or p.id, f"{p.code} — {p.name}") for p in directories.list_products(session)]


FORM_DIRECTORIES = {
    "loss_reasons": _loss_reasons,
    "expense_articles": _expense_articles,
    "cities": _cities,
    "products": _products,
}


def install_directories(app: FastAPI, *, api_prefix: str, responses: dict[Any, Any]) -> None:
    """Mount the admin pages (CSRF-checked, like every page) and the REST reports."""
    from api.web.directories_admin import pages, reports
    from api.web.security import csrf_protect

    for name, directory in FORM_DIRECTORIES.items():
        register_directory(name, directory)
    app.include_router(pages.router, include_in_schema=False, dependencies=[Depends(csrf_protect)])
    app.include_router(reports.router, prefix=api_prefix, responses=responses)
