"""`import handlers` registers every operator the shipped processes call, with their parameters;
docs/operators.md is the registry's current reference."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

import handlers  # noqa: F401
from engine.operators import OPERATORS
from handlers.reference import operators_markdown, operators_text, shipped_operators

ROOT = Path(__file__).resolve().parents[3]
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
JOB_OPERATORS = {
    "warehouse.create_order",
    "warehouse.check_stock",
    "warehouse.write_off",
    "warehouse.register_payment",
    "warehouse.cancel_order",
    "payments.create_link",
    "payments.create_receipt",
    "courier.quote",
    "courier.create_shipment",
    "courier.track",
    "notify.sms",
    "notify.message",
    "loyalty.credit",
}


def _service_calls() -> list[tuple[str, str, set[str]]]:
    """(file, operator id, parameter names) of every service task in bpmn/."""
    calls = []
    for path in sorted((ROOT / "bpmn").glob("*.bpmn")):
        tree = etree.parse(str(path))
        for node in tree.iter(f"{{{SPIFF}}}serviceTaskOperator"):
            names = {p.get("id") for p in node.iter(f"{{{SPIFF}}}parameter")}
            calls.append((path.name, node.get("id"), {n for n in names if n}))
    return calls


def test_every_connector_operator_is_a_registered_job() -> None:
    for operator_id in JOB_OPERATORS:
        op = OPERATORS.get(operator_id)
        assert not op.inline, operator_id
        assert op.func.__module__.startswith("handlers."), operator_id
        assert op.description and op.description[0].isupper(), operator_id


def test_handlers_accept_exactly_what_the_processes_pass() -> None:
    checked = 0
    for file, operator_id, names in _service_calls():
        if operator_id not in JOB_OPERATORS:
            continue  # pure operators and budget.* belong to the processes' own modules
        signature = inspect.signature(OPERATORS.get(operator_id).func)
        params = {n: p for n, p in signature.parameters.items() if n != "ctx"}
        unknown = names - set(params)
        assert not unknown, f"{file}: {operator_id} does not take {sorted(unknown)}"
        required = {n for n, p in params.items() if p.default is inspect.Parameter.empty}
        missing = required - names
        assert not missing, f"{file}: {operator_id} needs {sorted(missing)}"
        checked += 1
    assert checked >= 5


def test_every_parameter_is_documented() -> None:
    for doc in shipped_operators():
        if doc.id not in JOB_OPERATORS:
            continue
        undocumented = [p.name for p in doc.parameters if not p.description]
        assert not undocumented, f"{doc.id}: {undocumented}"
        assert doc.returns, doc.id


def test_the_committed_reference_is_current() -> None:
    committed = (ROOT / "docs" / "operators.md").read_text(encoding="utf-8")
    assert committed == operators_markdown(), (
        "docs/operators.md is stale: run `potok operators --markdown > docs/operators.md`"
    )


def test_the_terminal_listing_names_every_operator() -> None:
    listing = operators_text()
    for operator_id in JOB_OPERATORS:
        assert operator_id in listing
    assert "(deal_id, customer, items, amount?, delivery?)" in listing


REGISTERED_BY = """
import json, sys
from engine.settings import Settings
settings = Settings(env="test", broker_url="", _env_file=None)
if sys.argv[1] == "app":
    from api.app import create_app
    from engine.db import make_engine, make_session_factory
    create_app(settings, make_session_factory(make_engine("sqlite:///" + sys.argv[2])))
else:
    from engine.workers.app import make_celery
    from engine.workers.settings import WorkerSettings
    worker = WorkerSettings(_env_file=None, embedded_broker_path=sys.argv[2])
    make_celery(settings, worker).loader.import_default_modules()
from engine.operators import OPERATORS
print(json.dumps(sorted(OPERATORS.ids())))
"""


@pytest.mark.parametrize("process", ["app", "worker"])
def test_the_web_app_and_the_worker_register_every_operator(process: str, tmp_path: Path) -> None:
    """A fresh interpreter: building the app (or the Celery worker) imports `handlers`."""
    target = tmp_path / f"{process}.sqlite3"
    found = subprocess.run(
        [sys.executable, "-c", REGISTERED_BY, process, str(target)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert set(json.loads(found.stdout.strip().splitlines()[-1])) >= JOB_OPERATORS
