"""`Idempotency-Key` for creating POSTs: a repeat gets the first answer and creates nothing.

How it stays safe under concurrency: the request first inserts its (scope, key) row inside
its own unit of work (status 0 = in progress), then does the work, then writes the response
into that row; all of it commits together or not at all. The unique constraint makes a
concurrent twin's insert wait for the first transaction (PostgreSQL blocks on the index
entry; SQLite's BEGIN IMMEDIATE already serializes writers) and then fail, after which the
twin reads the committed row: a different body → 422 `idempotency_key_reused`, otherwise the
stored status and body are replayed. If the first request fails, its row is rolled back with
its work and the twin (or a retry) runs normally. Nothing is ever created twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy import update
from sqlalchemy.orm import Session

from api.auth.deps import CurrentUser
from api.deps import SessionDep
from api.errors import ApiError
from engine.idempotency import IN_PROGRESS, claim_key
from engine.models import IdempotencyRecord

REPLAY_HEADER = "Idempotent-Replayed"

Produce = Callable[[], tuple[int, Any]]


def request_hash(method: str, path: str, query: list[tuple[str, str]], body: Any) -> str:
    """sha256 of the canonical request: method, path, sorted query and canonical JSON body."""
    canonical = json.dumps(
        {"method": method, "path": path, "query": sorted(query), "body": jsonable_encoder(body)},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class IdempotencyGuard:
    """Runs a creating request at most once per (caller, route, key)."""

    def __init__(self, *, session: Session, request: Request, scope: str, key: str | None):
        self._session = session
        self._request = request
        self._scope = scope
        self._key = key

    def run(self, *, body: Any, produce: Produce) -> JSONResponse:
        """Replay the stored answer for a known key, or run `produce` and store its answer.

        `body` is the canonical request body (for multipart: whatever identifies the
        upload); `produce` does the work and returns (status code, response body).
        """
        if self._key is None:
            return _respond(*produce())
        digest = request_hash(
            self._request.method,
            self._request.url.path,
            list(self._request.query_params.multi_items()),
            body,
        )
        claimed = self._claim(self._key, digest)
        if isinstance(claimed, IdempotencyRecord):
            return _respond(claimed.status_code, claimed.response, replayed=True)
        status_code, result = produce()
        payload = jsonable_encoder(result)
        self._session.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.id == claimed)
            .values(status_code=status_code, response=payload)
        )
        return _respond(status_code, payload)

    def _claim(self, key: str, digest: str) -> int | IdempotencyRecord:
        """The id of our new claim, or the finished record of an earlier identical request."""
        existing = claim_key(self._session, scope=self._scope, key=key, request_hash=digest)
        if isinstance(existing, int):
            return existing
        if existing is None:  # the twin rolled back after our insert failed: let the client retry
            raise _in_progress()
        if existing.request_hash != digest:
            raise ApiError(
                422,
                "idempotency_key_reused",
                "This Idempotency-Key was already used with a different request",
            )
        if existing.status_code == IN_PROGRESS:
            raise _in_progress()
        return existing


def _in_progress() -> ApiError:
    return ApiError(
        409,
        "request_in_progress",
        "A request with this Idempotency-Key is being processed; retry later",
        headers={"Retry-After": "1"},
    )


def _respond(status_code: int, body: Any, *, replayed: bool = False) -> JSONResponse:
    headers = {REPLAY_HEADER: "true"} if replayed else None
    return JSONResponse(jsonable_encoder(body), status_code=status_code, headers=headers)


def idempotency(
    request: Request,
    session: SessionDep,
    principal: CurrentUser,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=255,
            description="Repeat-safe key: a repeat with the same body replays the first answer",
            examples=["order-A-17-start"],
        ),
    ] = None,
) -> IdempotencyGuard:
    """The guard for this request, scoped to the caller and the route template."""
    route = request.scope.get("route")
    template = getattr(route, "path", request.url.path)
    scope = f"{principal.user_id}:{request.method} {template}"[:255]
    return IdempotencyGuard(session=session, request=request, scope=scope, key=idempotency_key)


Idempotency = Annotated[IdempotencyGuard, Depends(idempotency)]
