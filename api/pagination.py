"""Keyset (cursor) pagination: `limit` + an opaque `cursor` holding the last row's sort key.

A cursor is base64url of the JSON list of the last item's sort values (datetimes tagged), so
a page never skips or repeats rows when others are inserted meanwhile, unlike OFFSET.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query
from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.elements import ColumnElement

from api.errors import ApiError

# The widest integer both databases store (BIGINT); larger values are a driver error.
MAX_DB_INT = 2**63 - 1
DEFAULT_LIMIT = 50
MAX_LIMIT = 500

T = TypeVar("T")


@dataclass(frozen=True)
class PageParams:
    """What the client asked for: how many items, after which sort key."""

    limit: int = DEFAULT_LIMIT
    after: tuple[Any, ...] | None = None


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"$dt"}:
        return datetime.fromisoformat(value["$dt"])
    return value


def encode_cursor(values: Sequence[Any]) -> str:
    """The opaque cursor for a sort key."""
    raw = json.dumps([_encode_value(v) for v in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii").rstrip("=")


def _invalid_cursor() -> ApiError:
    details = [{"loc": ["query", "cursor"], "msg": "not a cursor returned by this API"}]
    return ApiError(422, "invalid_cursor", "The cursor is invalid", details=details)


def decode_cursor(cursor: str) -> tuple[Any, ...]:
    """The sort key inside a cursor; 422 `invalid_cursor` for anything we did not issue."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or not values:
            raise ValueError("cursor is not a non-empty list")
        return tuple(_decode_value(v) for v in values)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise _invalid_cursor() from exc


def page_params(
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="Items per page (1–500)", examples=[50])
    ] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Query(max_length=2000, description="`next_cursor` of the previous page"),
    ] = None,
) -> PageParams:
    """Read `limit` and `cursor` from the query string."""
    return PageParams(limit=limit, after=decode_cursor(cursor) if cursor else None)


PageDep = Annotated[PageParams, Depends(page_params)]


def _after(columns: Sequence[InstrumentedAttribute[Any]], values: tuple[Any, ...], desc: bool):
    # (a, b) > (x, y) spelled out as a > x OR (a = x AND b > y): portable across databases
    # and lets each value bind with its column's type (tz-aware datetimes on SQLite).
    clauses: list[ColumnElement[bool]] = []
    for i, column in enumerate(columns):
        beyond = column < values[i] if desc else column > values[i]
        equal_prefix = [columns[j] == values[j] for j in range(i)]
        clauses.append(and_(*equal_prefix, beyond))
    return or_(*clauses)


def _check_types(columns: Sequence[InstrumentedAttribute[Any]], values: tuple[Any, ...]) -> None:
    # A forged cursor must be a 422, not a database type error (a 500) on PostgreSQL.
    if len(values) != len(columns):
        raise _invalid_cursor()
    for column, value in zip(columns, values, strict=True):
        try:
            expected = column.type.python_type
        except NotImplementedError:
            continue
        if isinstance(value, bool) or not isinstance(value, expected):
            raise _invalid_cursor()
        if isinstance(value, int) and not -MAX_DB_INT <= value <= MAX_DB_INT:
            raise _invalid_cursor()


def paginate_query(
    session: Session,
    stmt: Select[Any],
    *,
    order_by: Sequence[InstrumentedAttribute[Any]],
    page: PageParams,
    descending: bool = False,
) -> tuple[list[Any], str | None]:
    """One page of the entities selected by `stmt`, ordered by unique key `order_by`."""
    if page.after is not None:
        _check_types(order_by, page.after)
        stmt = stmt.where(_after(order_by, page.after, descending))
    ordering = [c.desc() if descending else c.asc() for c in order_by]
    rows = list(session.scalars(stmt.order_by(*ordering).limit(page.limit + 1)))
    return _cut(rows, page.limit, lambda row: tuple(getattr(row, c.key) for c in order_by))


def paginate_items(
    items: Sequence[T], *, key: Callable[[T], tuple[Any, ...]], page: PageParams
) -> tuple[list[T], str | None]:
    """One page of an in-memory list, ordered by the unique `key` of each item."""
    ordered = sorted(items, key=key)
    if page.after is not None:
        after = page.after
        try:
            ordered = [item for item in ordered if key(item) > after]
        except TypeError as exc:
            raise _invalid_cursor() from exc
    return _cut(ordered, page.limit, key)


def _cut(
    rows: list[T], limit: int, key: Callable[[T], tuple[Any, ...]]
) -> tuple[list[T], str | None]:
    if len(rows) <= limit:
        return rows, None
    kept = rows[:limit]
    return kept, encode_cursor(key(kept[-1]))
