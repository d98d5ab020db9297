"""Turn every failure into the one error body `{"error": {"code", "message", "details"}}`.

Domain errors (engine.errors.PotokError) map to 4xx by class; FastAPI's own validation
errors, unknown routes and wrong methods are rewritten into the same body; database races
become 409/503; anything else is a logged 500 whose body says nothing about the internals.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from engine.errors import PotokError

logger = logging.getLogger("potok.api")

# Walked along the exception's MRO, so new subclasses inherit their family's status.
# Connector errors are matched by name: api must not need connectors importable to start.
_STATUS_BY_CLASS: dict[str, int] = {
    "NotFoundError": 404,
    "ConflictError": 409,
    "PermissionDenied": 403,
    "ValidationFailed": 422,
    "ScriptError": 422,
    "TransientConnectorError": 503,
    "ConnectorError": 502,
}

_CODE_BY_STATUS: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    500: "internal_error",
    503: "service_unavailable",
}


class ApiError(Exception):
    """An HTTP-level refusal that is not a domain error (bad token, reused idempotency key)."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        *,
        details: list[Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.details = details or []
        self.headers = headers


def error_response(
    status_code: int,
    code: str,
    message: str,
    details: list[Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The one error body, as a response."""
    body = {"error": {"code": code, "message": message, "details": details or []}}
    return JSONResponse(jsonable_encoder(body), status_code=status_code, headers=headers)


def status_for(exc: PotokError) -> int:
    """HTTP status of a domain error, by the nearest known class in its hierarchy."""
    for cls in type(exc).__mro__:
        if cls.__name__ in _STATUS_BY_CLASS:
            return _STATUS_BY_CLASS[cls.__name__]
    return 400


def _handle_api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status_code, exc.code, exc.message, exc.details, exc.headers)


def _handle_potok_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PotokError)
    return error_response(status_for(exc), exc.code, exc.message, exc.details)


def _handle_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Only loc and msg: pydantic's `ctx`/`input` may hold unserialisable or secret values.
    details = [{"loc": list(err.get("loc", ())), "msg": err.get("msg", "")} for err in exc.errors()]
    return error_response(422, "validation_error", "The request is invalid", details)


def _handle_http_exception(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _CODE_BY_STATUS.get(exc.status_code, f"http_{exc.status_code}")
    message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return error_response(exc.status_code, code, message, headers=exc.headers)


def _handle_stale_data(request: Request, exc: Exception) -> JSONResponse:
    logger.info("lost a concurrent update on %s %s: %s", request.method, request.url.path, exc)
    return error_response(
        409, "concurrent_update", "Someone else changed this at the same time; try again"
    )


def _handle_integrity_error(request: Request, exc: Exception) -> JSONResponse:
    # A unique constraint that lost a race: the other request's row is already there.
    logger.warning("integrity error on %s %s: %s", request.method, request.url.path, exc)
    return error_response(409, "conflict", "The request conflicts with the current state")


def _handle_data_error(request: Request, exc: Exception) -> JSONResponse:
    # The database refused a value the request carried (a NUL byte in text on PostgreSQL,
    # a number out of its column's range): the input is at fault, not the server.
    logger.warning("unstorable value on %s %s: %s", request.method, request.url.path, exc)
    return error_response(
        422, "unstorable_value", "The request contains a value the database cannot store"
    )


def _handle_operational_error(request: Request, exc: Exception) -> JSONResponse:
    logger.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    if "database is locked" in str(exc):
        return error_response(
            503, "database_busy", "The database is busy; try again", headers={"Retry-After": "1"}
        )
    return error_response(503, "database_unavailable", "The database is unavailable")


def _handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "Internal server error")


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that give every error the same body."""
    app.add_exception_handler(ApiError, _handle_api_error)
    app.add_exception_handler(PotokError, _handle_potok_error)
    app.add_exception_handler(RequestValidationError, _handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, _handle_http_exception)
    app.add_exception_handler(StaleDataError, _handle_stale_data)
    app.add_exception_handler(IntegrityError, _handle_integrity_error)
    app.add_exception_handler(DataError, _handle_data_error)
    app.add_exception_handler(OperationalError, _handle_operational_error)
    app.add_exception_handler(Exception, _handle_unexpected)
