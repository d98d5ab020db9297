"""Directories as admin data: CSV import (all or nothing), and what each process is started
with — through a message start (as a webhook delivers it) and a plain start."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

import handlers  # noqa: F401  (the operators and the start providers)
from api.auth.service import create_user
from engine import queues, service
from engine.actor import Actor
from engine.db import session_scope
from engine.directories import (
    budget_table,
    import_csv,
    list_cities,
    list_loss_reasons,
    routing_table,
    set_setting,
    sync_products,
)
from tests.integration.processes.conftest import process_files

ADMIN = Actor("admin", roles=frozenset({"admin"}))


def _users(factory: sessionmaker[Session], *names: str) -> None:
    with session_scope(factory) as session:
        for name in names:
            create_user(session, username=name, password="x" * 12, roles=("manager",))


def test_csv_import_takes_russian_headers_and_refuses_a_file_with_a_bad_row(
    session_factory: sessionmaker[Session],
) -> None:
    _users(session_factory, "ivan", "maria")
    good = "город;адрес самовывоза;менеджер\nНовосибирск;ул. Ленина, 1;ivan\nМосква;;maria\n"
    with session_scope(session_factory) as session:
        assert import_csv(session, "cities", good).imported == 2
    bad = "город,менеджер\nОмск,nobody\nТомск,ivan\n"
    with session_scope(session_factory) as session:
        result = import_csv(session, "cities", bad)
    assert (result.imported, result.errors) == (0, ["строка 2: no user 'nobody'"])
    with session_scope(session_factory) as session:
        assert [c.name for c in list_cities(session)] == ["Москва", "Новосибирск"]  # no Томск
        assert routing_table(session) == {
            "cities": {"Москва": {"manager": "maria"}, "Новосибирск": {"manager": "ivan"}}
        }
        missing = import_csv(session, "loss_reasons", "порядок\n1\n")
        assert missing.errors == ["missing columns: «причина»"]
        reasons = "причина;порядок;активна\nДорого;2;да\nНет в наличии;1;да\nСпам;3;нет\n"
        assert import_csv(session, "loss_reasons", reasons).imported == 3
        active = [r.name for r in list_loss_reasons(session, active_only=True)]
        assert active == ["Нет в наличии", "Дорого"]
        plans = (
            "месяц;статья;группа;план\n2026-12;Реклама;Маркетинг;100 000\n"
            "2026-12;;Маркетинг;250000,50\n"
        )
        assert import_csv(session, "plans", plans).imported == 2
        assert budget_table(session) == {
            "articles": {
                "Реклама": {
                    "group": "Маркетинг",
                    "plan": {"2026-12": 100000.0},
                    "used": {"2026-12": 0.0},
                }
            },
            "groups": {"Маркетинг": {"plan": {"2026-12": 250000.5}, "used": {"2026-12": 0.0}}},
        }
        assert import_csv(session, "plans", "месяц;статья;план\n2026-13;Реклама;1\n").errors == [
            "строка 2: the month must be YYYY-MM"
        ]


def test_products_are_synced_from_the_warehouse_stock_report(
    session_factory: sessionmaker[Session],
) -> None:
    row = {
        "meta": {"href": "https://sklad/api/remap/1.2/entity/product/p-1?expand=x"},
        "name": "Масло",
        "code": "SKU-003",
        "article": "OIL",
        "salePrice": 329000,
        "quantity": 4,
    }
    with session_scope(session_factory) as session:
        assert sync_products(session, [row, {**row, "meta": {"href": ".../product/p-2"}}]) == 2
        assert sync_products(session, [row | {"quantity": 3}]) == 1


def test_a_message_start_carries_the_routing_and_what_the_starter_gave_wins(
    session_factory: sessionmaker[Session],
) -> None:
    _users(session_factory, "ivan", "boss")
    with session_scope(session_factory) as session:
        import_csv(session, "cities", "город;менеджер\nНовосибирск;ivan\n")
        set_setting(session, "fallback_manager", "boss")
        service.deploy(session, files=process_files("lead_qualification.bpmn", "lead"))
    with session_scope(session_factory) as session:
        started = service.deliver_message(
            session,
            name="inbound_message",
            correlation={"channel": "call", "contact": "+79990001122"},
            variables={"text": ""},
        )["started"]
        lead = service.get_instance_or_raise(session, instance_id=started[0])
        assert lead.variables["lead_routing"] == {
            "cities": {"Новосибирск": {"manager": "ivan"}},
            "fallback_manager": "boss",
        }
        mine = {"routing": {"fallback_manager": "someone"}}
        other = service.deliver_message(
            session,
            name="inbound_message",
            correlation={"channel": "call", "contact": "+79990001133"},
            variables={"text": "", "settings": mine},
        )["started"]
        lead = service.get_instance_or_raise(session, instance_id=other[0])
        assert lead.variables["lead_routing"] == {"fallback_manager": "someone"}


def test_order_and_expense_starts_read_the_buffer_the_cooldown_and_the_budget(
    session_factory: sessionmaker[Session],
) -> None:
    with session_scope(session_factory) as session:
        set_setting(session, "order_buffer_seconds", "15")
        queues.save_policy(
            session, data=queues.PolicyInput(name="managers", cooldown_seconds=90), actor=ADMIN
        )
        import_csv(session, "plans", "месяц;статья;группа;план\n2026-12;Упаковка;Склад;50000\n")
        files = process_files("order_assignment.bpmn", "order") + process_files(
            "expense_approval.bpmn", "expense"
        )
        service.deploy(session, files=files)
    with session_scope(session_factory) as session:
        order = service.start_instance(session, key="order_assignment", variables={"order": {}})
        assert (order.variables["buffer_seconds"], order.variables["cooldown_seconds"]) == (15, 90)
        expense = service.start_instance(session, key="expense_approval", variables={})
        assert expense.variables["budget"]["articles"]["Упаковка"]["plan"] == {"2026-12": 50000.0}


def test_the_beat_runs_every_registered_periodic_duty(
    session_factory: sessionmaker[Session],
) -> None:
    from engine.extensions import register_periodic, run_periodic
    from engine.workers.app import beat_schedule, make_celery
    from engine.workers.settings import WorkerSettings
    from engine.workers.tasks import RUN_PERIODIC

    assert beat_schedule(WorkerSettings())["potok-periodic"]["task"] == RUN_PERIODIC
    assert RUN_PERIODIC in make_celery().tasks
    seen: list[object] = []

    def broken(_factory: object) -> None:
        raise RuntimeError("down")

    unregister = [register_periodic("test-seen", seen.append), register_periodic("test-x", broken)]
    try:
        outcomes = run_periodic(session_factory)
    finally:
        for undo in unregister:
            undo()
    assert seen == [session_factory]
    assert (outcomes["test-seen"], outcomes["test-x"]) == ("ok", "failed: down")
    assert outcomes["telegram_offers"] == "ok"  # handlers registered theirs
