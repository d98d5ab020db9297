"""Settings: environment variables, and no default secret in production."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from engine.settings import DEVELOPMENT_SECRET, Settings


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POTOK_DATABASE_URL", "sqlite:////tmp/x.sqlite3")
    monkeypatch.setenv("POTOK_PORT", "8123")
    settings = Settings()
    assert (settings.database_url, settings.port, settings.is_sqlite) == (
        "sqlite:////tmp/x.sqlite3",
        8123,
        True,
    )


def test_production_refuses_the_development_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POTOK_ENV", "production")
    monkeypatch.delenv("POTOK_SECRET_KEY", raising=False)
    with pytest.raises(ValidationError, match="POTOK_SECRET_KEY"):
        Settings()
    monkeypatch.setenv("POTOK_SECRET_KEY", "a-real-secret-from-the-vault")
    assert Settings().secret_key != DEVELOPMENT_SECRET


def test_development_accepts_the_development_secret() -> None:
    assert Settings(env="development").secret_key == DEVELOPMENT_SECRET
