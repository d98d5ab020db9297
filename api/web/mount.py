"""Mounting the web UI on the FastAPI app.

`install_web(app)` adds the session middleware, the static files, the pages and the handlers
that turn "not signed in", "no CSRF token" and "not for you" into pages instead of JSON.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from api.web.security import CsrfRefused, LoginRequired, PageError, session_secret
from api.web.templating import render

STATIC_DIR = Path(__file__).resolve().parent / "static"
SESSION_COOKIE = "potok_session"
SESSION_SECONDS = 12 * 3600


def _wants_fragment(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _login_required(request: Request, _exc: Exception) -> Response:
    if _wants_fragment(request):
        return Response(status_code=401, headers={"HX-Redirect": "/login"})
    target = request.url.path
    if request.url.query:
        target += f"?{request.url.query}"
    login = "/login" if target in ("/", "/inbox") else f"/login?next={_quote(target)}"
    return RedirectResponse(login, status_code=303)


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")


def _csrf_refused(request: Request, _exc: Exception) -> Response:
    return render(request, "error.html", status_code=403, code="csrf")


def _page_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageError)
    return render(request, "error.html", status_code=exc.status, code=exc.code)


def install_web(app: FastAPI) -> None:
    """Mount the web UI on `app` (built by api.app.create_app)."""
    from api.web.routes import router

    settings = app.state.settings
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(settings.secret_key),
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_SECONDS,
        same_site="lax",
        https_only=settings.env == "production",
    )
    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")
    app.include_router(router, include_in_schema=False)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(CsrfRefused, _csrf_refused)
    app.add_exception_handler(PageError, _page_error)
