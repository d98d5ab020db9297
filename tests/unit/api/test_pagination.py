"""Cursor encoding and in-memory pagination."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from api.errors import ApiError
from api.pagination import PageParams, decode_cursor, encode_cursor, paginate_items


def test_cursor_round_trips_datetimes_and_scalars() -> None:
    """A cursor decodes back to the exact sort key, tz-aware datetimes included."""
    key = (datetime(2025, 3, 1, 12, 30, tzinfo=UTC), "a/b", 7)
    cursor = encode_cursor(key)
    assert "=" not in cursor and "/" not in cursor
    assert decode_cursor(cursor) == key


@pytest.mark.parametrize("cursor", ["!!", "bm90IGpzb24", "e30", "W10", "InMi"])
def test_bad_cursor_is_invalid_cursor(cursor: str) -> None:
    """Garbage, non-lists and empty lists are all rejected with invalid_cursor."""
    with pytest.raises(ApiError) as caught:
        decode_cursor(cursor)
    assert (caught.value.status_code, caught.value.code) == (422, "invalid_cursor")


def test_paginate_items_walks_in_key_order() -> None:
    """Pages follow the key order and end with a null cursor."""
    items = [{"k": k, "v": v} for k, v in [("b", 1), ("a", 1), ("a", 2), ("c", 0)]]

    def key(item: dict[str, object]) -> tuple[object, ...]:
        return (item["k"], item["v"])

    first, cursor = paginate_items(items, key=key, page=PageParams(limit=3))
    assert [key(i) for i in first] == [("a", 1), ("a", 2), ("b", 1)] and cursor
    rest, end = paginate_items(
        items, key=key, page=PageParams(limit=3, after=decode_cursor(cursor))
    )
    assert [key(i) for i in rest] == [("c", 0)] and end is None


def test_paginate_items_exact_fit_has_no_next_page() -> None:
    """A page that holds exactly the remaining items says there is no next page."""
    page, cursor = paginate_items([1, 2], key=lambda i: (i,), page=PageParams(limit=2))
    assert page == [1, 2] and cursor is None


def test_paginate_items_rejects_cursor_of_other_type() -> None:
    """A cursor whose values do not compare with the keys is invalid."""
    with pytest.raises(ApiError) as caught:
        paginate_items([1, 2], key=lambda i: (i,), page=PageParams(limit=1, after=("x",)))
    assert caught.value.code == "invalid_cursor"
