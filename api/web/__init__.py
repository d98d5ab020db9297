"""The web UI: task inbox, task pages, admin pages (Jinja2 + htmx, server-rendered).

Importing the package builds nothing; `install_web(app)` (api.web.mount) mounts it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI


def install_web(app: FastAPI) -> None:
    """Mount the web UI on `app` (called by api.app.create_app)."""
    from api.web.mount import install_web as install

    install(app)
