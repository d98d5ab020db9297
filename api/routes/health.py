"""GET /api/health (no auth)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import SessionFactoryDep, SettingsDep
from api.health import app_version, check_broker, check_database
from api.schemas.health import HealthRead

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthRead, summary="Is potok up?")
def health(settings: SettingsDep, factory: SessionFactoryDep) -> HealthRead:
    """Database and broker status; 200 even when degraded, so probes can read the body."""
    database = check_database(factory)
    broker = check_broker(settings.broker_url)
    status = "degraded" if "down" in (database, broker) else "ok"
    return HealthRead(status=status, database=database, broker=broker, version=app_version())
