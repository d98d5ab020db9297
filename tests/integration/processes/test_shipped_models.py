"""The shipped models as a whole: they deploy together cleanly and stay readable in bpmn-js.

Checked for every file in bpmn/: no deployment errors or warnings (XSD included), every flow
node, boundary event and sequence flow drawn in the diagram, lanes named after groups,
Russian names on the elements people read, a form and a UI schema for every user task, and
only the operator ids listed in the test modules' headers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from lxml import etree
from sqlalchemy.orm import Session, sessionmaker

from engine import service
from engine.db import session_scope
from engine.definitions import validate_files
from tests.integration.processes.conftest import BPMN_DIR, CONNECTOR_OPERATORS, FakeOperators

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
}
PROCESSES = [
    "lead_qualification",
    "deal_pipeline",
    "payment_to_shipment",
    "expense_approval",
    "order_assignment",
]
GROUPS = {"system", "employees", "operators", "managers", "warehouse", "accountants", "heads"}
PURE_OPERATORS = {"leads.route", "budget.check", "ids.new"}
NAMED = (
    "task",
    "userTask",
    "serviceTask",
    "scriptTask",
    "receiveTask",
    "startEvent",
    "endEvent",
    "intermediateThrowEvent",
    "intermediateCatchEvent",
    "boundaryEvent",
)
CYRILLIC = re.compile("[А-Яа-яЁё]")


def _all_files() -> list[tuple[str, bytes]]:
    paths = sorted(p for p in BPMN_DIR.rglob("*") if p.suffix in (".bpmn", ".dmn", ".json"))
    return [(p.name, p.read_bytes()) for p in paths]


def _trees() -> Iterator[tuple[str, etree._Element]]:
    for name in PROCESSES:
        yield name, etree.parse(str(BPMN_DIR / f"{name}.bpmn")).getroot()


def test_the_bpmn_directory_deploys_as_one_bundle_without_problems(
    fakes: FakeOperators, session_factory: sessionmaker[Session]
) -> None:
    result = validate_files(_all_files())
    assert [i.as_dict() for i in result.errors] == []
    assert [i.as_dict() for i in result.warnings] == []
    assert sorted(p.key for p in result.processes) == sorted(PROCESSES)
    with session_scope(session_factory) as session:
        outcome = service.deploy_directory(session, directory=BPMN_DIR, deployed_by="tests")
    assert sorted(d.key for d in outcome.deployed) == sorted(PROCESSES)


@pytest.mark.parametrize("name", PROCESSES)
def test_every_element_is_drawn_and_named_for_people(name: str) -> None:
    root = etree.parse(str(BPMN_DIR / f"{name}.bpmn")).getroot()
    process = root.find("bpmn:process", NS)
    drawn = set(
        root.xpath(
            "//bpmndi:BPMNShape/@bpmnElement | //bpmndi:BPMNEdge/@bpmnElement", namespaces=NS
        )
    )
    elements = [e for e in process if isinstance(e.tag, str) and e.get("id")]
    missing = [
        e.get("id")
        for e in elements
        if e.tag != f"{{{NS['bpmn']}}}laneSet" and e.get("id") not in drawn
    ]
    assert missing == []
    assert root.xpath("//bpmn:lane/@id", namespaces=NS)
    assert all(lane in drawn for lane in root.xpath("//bpmn:lane/@id", namespaces=NS))
    assert set(root.xpath("//bpmn:lane/@name", namespaces=NS)) <= GROUPS
    unnamed = [
        e.get("id")
        for tag in NAMED
        for e in process.findall(f"bpmn:{tag}", NS)
        if not CYRILLIC.search(e.get("name") or "")
    ]
    assert unnamed == []
    assert CYRILLIC.search(process.get("name") or "")


@pytest.mark.parametrize("name", PROCESSES)
def test_user_tasks_have_forms_and_services_use_known_operators(name: str) -> None:
    root = etree.parse(str(BPMN_DIR / f"{name}.bpmn")).getroot()
    for task in root.iterfind(".//bpmn:userTask", NS):
        props = {
            p.get("name"): p.get("value") for p in task.iterfind(".//spiffworkflow:property", NS)
        }
        for key in ("formJsonSchemaFilename", "formUiSchemaFilename"):
            assert (BPMN_DIR / "forms" / props[key]).is_file(), (task.get("id"), key)
    operators = set(root.xpath("//spiffworkflow:serviceTaskOperator/@id", namespaces=NS))
    assert operators <= set(CONNECTOR_OPERATORS) | PURE_OPERATORS


def test_forms_have_russian_titles() -> None:
    for path in sorted((BPMN_DIR / "forms").glob("*-schema.json")):
        text = path.read_text(encoding="utf-8")
        titles = re.findall(r'"title": "([^"]*)"', text)
        assert titles and all(CYRILLIC.search(t) for t in titles), path.name


def test_no_diagram_is_left_unlaid() -> None:
    """Every shape has a position inside its pool, so bpmn-js opens it without a jumble."""
    for name, root in _trees():
        pool = root.find(
            ".//bpmndi:BPMNShape[@isHorizontal='true']/dc:Bounds",
            {**NS, "dc": "http://www.omg.org/spec/DD/20100524/DC"},
        )
        assert pool is not None, name
        px, py = float(pool.get("x")), float(pool.get("y"))
        pw, ph = float(pool.get("width")), float(pool.get("height"))
        for bounds in root.iterfind(
            ".//bpmndi:BPMNShape/dc:Bounds", {**NS, "dc": "http://www.omg.org/spec/DD/20100524/DC"}
        ):
            x, y = float(bounds.get("x")), float(bounds.get("y"))
            assert px <= x <= px + pw and py <= y <= py + ph, (name, x, y)
