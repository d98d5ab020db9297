"""Which scopes roles allow, and what a token really holds."""

from __future__ import annotations

from api.auth.scopes import effective_scopes, has_scope, scopes_for_roles


def test_admin_allows_everything() -> None:
    """The admin role allows the wildcard."""
    assert scopes_for_roles(["admin"]) == {"*"}


def test_unknown_role_allows_nothing() -> None:
    """A role we do not know grants no scope."""
    assert scopes_for_roles(["boss"]) == frozenset()


def test_token_is_capped_by_roles() -> None:
    """A manager's token asking for deploy only gets what managers may do."""
    assert effective_scopes(["tasks", "definitions:deploy"], ["manager"]) == {"tasks"}


def test_wildcard_token_gets_all_role_scopes() -> None:
    """A `*` token of an analyst is exactly the analyst's scopes."""
    assert effective_scopes(["*"], ["analyst"]) == scopes_for_roles(["analyst"])


def test_admin_token_keeps_its_own_scopes() -> None:
    """An admin's narrow integration token stays narrow."""
    assert effective_scopes(["messages:send"], ["admin"]) == {"messages:send"}


def test_has_scope_honours_wildcard() -> None:
    """`*` holds every scope; otherwise membership decides."""
    assert has_scope({"*"}, "admin") and has_scope({"tasks"}, "tasks")
    assert not has_scope({"tasks"}, "admin")
