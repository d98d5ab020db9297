"""The doubles' store on a real SQLite file and PostgreSQL: keys, faults, concurrency."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine

from connectors.sandbox_store import SandboxBase, SandboxStore
from engine.db import make_session_factory


@pytest.fixture
def store(db_engine: Engine) -> Iterator[SandboxStore]:
    SandboxBase.metadata.create_all(db_engine)
    store = SandboxStore(make_session_factory(db_engine))
    store.reset()
    yield store
    store.reset()


def test_records_by_key_kind_and_system(store: SandboxStore) -> None:
    store.add("cdek", "order", "u-1", {"number": "A"})
    store.add("cdek", "order", "u-2", {"number": "B"})
    store.add("sms", "order", "u-1", {"number": "other system"})
    store.put("cdek", "order", "u-1", {"number": "A2"})
    store.put("cdek", "webhook", "w", {"url": "x"})
    assert store.get("cdek", "order", "u-1") == {"number": "A2"}
    assert store.get("cdek", "order", "nope") is None
    assert store.find("cdek", "order", number="B") == [{"number": "B"}]
    assert store.snapshot("cdek") == {
        "order": [{"number": "A2"}, {"number": "B"}],
        "webhook": [{"url": "x"}],
    }
    store.clear("cdek", "order", "u-2")
    assert store.records("cdek", "order") == [{"number": "A2"}]
    store.reset("cdek")
    assert store.snapshot("cdek") == {}
    assert store.records("sms", "order") == [{"number": "other system"}]


def test_add_once_has_one_winner_under_concurrency(store: SandboxStore) -> None:
    def create(i: int) -> bool:
        return store.add_once("yookassa", "payment", "p-1", {"by": i})[1]

    with ThreadPoolExecutor(8) as pool:
        created = list(pool.map(create, range(16)))
    assert created.count(True) == 1
    assert len(store.records("yookassa", "payment")) == 1


def test_armed_faults_are_consumed_exactly_count_times(store: SandboxStore) -> None:
    store.arm_fault("moysklad", "500", 5)
    assert store.fault("moysklad") == {"mode": "500", "remaining": 5}
    with ThreadPoolExecutor(8) as pool:
        taken = list(pool.map(lambda _: store.take_fault("moysklad"), range(20)))
    assert taken.count("500") == 5 and taken.count(None) == 15
    assert store.fault("moysklad") is None
    assert store.take_fault("cdek") is None
    with pytest.raises(ValueError, match="mode must be one of"):
        store.arm_fault("cdek", "explode", 1)
