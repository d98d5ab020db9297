"""Demo data for `make run`: one user per role, the shipped processes, the shop's directories
(cities, loss reasons, budgets, products…) and the local doubles subscribed to our hooks.
Development only."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

import handlers  # noqa: F401  (registers the operators the shipped processes call)
from api.auth.service import create_user, get_user
from engine.definitions import DeployOutcome, deploy_directory
from engine.errors import PermissionDenied
from engine.settings import Settings


@dataclass(frozen=True)
class DemoUser:
    username: str
    display_name: str
    roles: tuple[str, ...]
    groups: tuple[str, ...]


DEMO_PASSWORD = "demo"
DEMO_USERS = (
    DemoUser("admin", "Администратор", ("admin",), ("heads",)),
    DemoUser("analyst", "Аналитик Анна", ("analyst",), ()),
    DemoUser("maria", "Мария, менеджер", ("manager",), ("managers",)),
    DemoUser("ivan", "Иван, менеджер", ("manager",), ("managers",)),
    DemoUser("olesya", "Олеся, оператор", ("manager",), ("operators",)),
    DemoUser("pavel", "Павел, склад", ("warehouse",), ("warehouse",)),
    DemoUser("olga", "Ольга, бухгалтер", ("accountant",), ("accountants",)),
    DemoUser("boss", "Руководитель", ("manager",), ("heads", "managers")),
)


def load_demo(session: Session, *, settings: Settings) -> tuple[list[str], DeployOutcome]:
    """Create the demo users that are missing, deploy every file in settings.bpmn_dir, fill
    the empty directories and prepare the local doubles (webhooks, the product catalog)."""
    if settings.env == "production":
        raise PermissionDenied("demo data is never loaded into a production database")
    from api.web.demo.data import load_demo_directories, prepare_doubles_for

    stock_rows = prepare_doubles_for(session, settings)  # before this session writes anything
    created = []
    for user in DEMO_USERS:
        if get_user(session, username=user.username) is None:
            create_user(
                session,
                username=user.username,
                password=DEMO_PASSWORD,
                roles=user.roles,
                groups=user.groups,
                display_name=user.display_name,
            )
            created.append(user.username)
    outcome = deploy_directory(session, directory=settings.bpmn_dir, deployed_by="demo")
    load_demo_directories(session, stock_rows=stock_rows)
    return created, outcome
