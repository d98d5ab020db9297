"""Sign in, sign out, and the language switch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from api.auth.service import authenticate
from api.deps import SessionDep
from api.web.i18n import LOCALES
from api.web.security import session_user, sign_in, sign_out
from api.web.templating import render
from engine.models import User

router = APIRouter()


def safe_next(target: str | None, default: str = "/inbox") -> str:
    """A local path to go to after a form (never another site: no scheme, no `//`)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


@router.get("/")
def home() -> RedirectResponse:
    """The inbox is the start page."""
    return RedirectResponse("/inbox", status_code=303)


@router.get("/login")
def login_page(request: Request, session: SessionDep, next: str | None = None) -> Response:
    """The sign-in form (or the inbox, for someone already signed in)."""
    if session_user(request, session) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "login.html", next=safe_next(next), username="")


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    username: Annotated[str, Form(max_length=150)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/inbox",
) -> Response:
    """Check the password; start a session or show the form again with 401."""
    user = authenticate(session, username=username.strip(), password=password)
    if user is None:
        return render(
            request,
            "login.html",
            status_code=401,
            next=safe_next(next),
            username=username,
            failed=True,
        )
    sign_in(request, user)
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout")
def logout(request: Request) -> RedirectResponse:
    """End the session."""
    sign_out(request)
    return RedirectResponse("/login", status_code=303)


@router.post("/locale")
def switch_locale(
    request: Request,
    session: SessionDep,
    locale: Annotated[str, Form(max_length=8)] = "ru",
    next: Annotated[str, Form(max_length=2000)] = "/inbox",
) -> RedirectResponse:
    """Show the UI in another language (remembered for the user, too)."""
    if locale in LOCALES:
        request.session["locale"] = locale
        user = session_user(request, session)
        if user is not None:
            row = session.get(User, user.id)
            if row is not None:
                row.locale = locale
    return RedirectResponse(safe_next(next), status_code=303)
