"""The canonical request hash behind Idempotency-Key."""

from __future__ import annotations

from api.idempotency import request_hash


def test_key_order_does_not_matter() -> None:
    """JSON objects with the same members hash the same."""
    a = request_hash("POST", "/api/x", [], {"a": 1, "b": {"c": 2, "d": 3}})
    b = request_hash("POST", "/api/x", [], {"b": {"d": 3, "c": 2}, "a": 1})
    assert a == b and len(a) == 64


def test_body_path_and_query_all_count() -> None:
    """Changing the body, the path or the query changes the hash."""
    base = request_hash("POST", "/api/x", [("version", "1")], {"a": 1})
    assert base != request_hash("POST", "/api/x", [("version", "1")], {"a": 2})
    assert base != request_hash("POST", "/api/y", [("version", "1")], {"a": 1})
    assert base != request_hash("POST", "/api/x", [("version", "2")], {"a": 1})
