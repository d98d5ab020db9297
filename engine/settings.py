"""One pydantic Settings object for the whole process; read lazily via get_settings()."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_SECRET = "development-only-secret-change-me"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Runtime configuration; every field can be set as POTOK_<NAME> in the environment."""

    model_config = SettingsConfigDict(env_prefix="POTOK_", env_file=".env", extra="ignore")

    env: str = Field(default="development", description="development | test | production")
    database_url: str = f"sqlite:///{PROJECT_ROOT / 'var' / 'potok.sqlite3'}"
    broker_url: str = ""  # empty: the embedded broker on the database file
    secret_key: str = DEVELOPMENT_SECRET
    port: int = 8000
    host: str = "127.0.0.1"
    bpmn_dir: Path = PROJECT_ROOT / "bpmn"
    # Limits that keep a single deploy or script from taking the process down.
    max_upload_bytes: int = 5 * 1024 * 1024
    script_cpu_seconds: float = 1.0
    script_max_sequence: int = 1_000_000
    # Unit-of-work retries after a lost compare-and-swap race before answering "conflict".
    max_cas_retries: int = 5
    token_ttl_minutes: int = 12 * 60

    @model_validator(mode="after")
    def _refuse_default_secret_in_production(self) -> Settings:
        if self.env == "production" and self.secret_key == DEVELOPMENT_SECRET:
            raise ValueError("POTOK_SECRET_KEY must be set to a real secret in production")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests clear the cache to change them)."""
    return Settings()
