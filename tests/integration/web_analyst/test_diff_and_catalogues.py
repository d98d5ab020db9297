"""The version diff, and the texts of the workspace in both languages."""

from __future__ import annotations

import json
import re

import pytest

from api.web import i18n
from api.web.analyst import jsmessages
from api.web.analyst.diff import diff_diagrams
from tests.integration.web_analyst.conftest import FIXTURES, Browser, Deploy, Start

NOTICE = (FIXTURES / "order_notice.bpmn").read_text()
FULFILMENT = (FIXTURES / "order_fulfilment.bpmn").read_text()


def test_same_diagram_has_no_changes() -> None:
    assert diff_diagrams(NOTICE, NOTICE).empty


def test_moving_shapes_is_not_a_change() -> None:
    moved = NOTICE.replace('x="280" y="140"', 'x="300" y="160"')
    assert diff_diagrams(NOTICE, moved).empty


def test_added_removed_and_changed_elements() -> None:
    new = (
        NOTICE.replace('name="Готово"', 'name="Всё"')
        .replace(
            '<bpmn:sequenceFlow id="flow_start_notify"',
            '<bpmn:task id="extra" name="Ещё шаг" />\n'
            '    <bpmn:sequenceFlow id="flow_start_notify"',
        )
        .replace(
            '<bpmndi:BPMNShape id="end_di"',
            '<bpmndi:BPMNShape id="extra_di" bpmnElement="extra"><dc:Bounds x="1" y="1" '
            'width="100" height="80" /></bpmndi:BPMNShape>\n      <bpmndi:BPMNShape id="end_di"',
        )
    )
    diff = diff_diagrams(NOTICE, new)
    assert diff.as_dict() == {"added": ["extra"], "removed": [], "changed": ["end"]}
    assert diff.added[0].name == "Ещё шаг" and diff.added[0].kind == "task"
    assert diff_diagrams(new, NOTICE).as_dict() == {
        "added": [],
        "removed": ["extra"],
        "changed": ["end"],
    }


def test_extension_and_expression_changes_count() -> None:
    retry = FULFILMENT.replace('retries="3"', 'retries="5"')
    condition = FULFILMENT.replace("confirmed == True", "confirmed")
    assert diff_diagrams(FULFILMENT, retry).as_dict()["changed"] == ["charge"]
    assert diff_diagrams(FULFILMENT, condition).as_dict()["changed"] == ["f_yes"]


def test_a_renamed_message_changes_the_events_that_use_it() -> None:
    renamed = FULFILMENT.replace('name="shipment_delivered"', 'name="parcel_delivered"')
    assert diff_diagrams(FULFILMENT, renamed).as_dict()["changed"] == ["wait_delivered"]


def test_lane_membership_is_wiring_not_a_change() -> None:
    moved = FULFILMENT.replace("<bpmn:flowNodeRef>pack</bpmn:flowNodeRef>", "").replace(
        "<bpmn:flowNodeRef>end_cancelled</bpmn:flowNodeRef>",
        "<bpmn:flowNodeRef>end_cancelled</bpmn:flowNodeRef><bpmn:flowNodeRef>pack</bpmn:flowNodeRef>",
    )
    assert diff_diagrams(FULFILMENT, moved).empty


def test_every_analyst_text_is_translated_to_russian() -> None:
    assert i18n.missing("ru") == []


def test_script_texts_template_is_up_to_date() -> None:
    """`python -m api.web.analyst.jsmessages` was run after the scripts last changed."""
    assert jsmessages.TEMPLATE.read_text(encoding="utf-8") == jsmessages.render_template()
    assert "Checking…" in jsmessages.messages()


@pytest.mark.parametrize(("locale", "word"), [("ru", "Процессы"), ("en", "Processes")])
def test_pages_render_in_both_languages(
    locale: str, word: str, analyst: Browser, deploy: Deploy, start: Start
) -> None:
    deploy("order_notice.bpmn", "card_payment.bpmn")
    instance_id = start("card_payment", order_id="P-1", amount="1.00")
    analyst.post("/locale", {"locale": locale})
    for url in (
        "/analyst/definitions",
        "/analyst/modeler",
        "/analyst/modeler?key=order_notice",
        "/analyst/instances",
        f"/analyst/instances/{instance_id}",
        "/analyst/incidents",
    ):
        page = analyst.get(url)
        assert page.status_code == 200 and f'<html lang="{locale}">' in page.text, url
    assert f"<h1>{word}</h1>" in analyst.get("/analyst/definitions").text
    modeler = analyst.get("/analyst/modeler?key=order_notice").text
    found = re.search(r'id="analyst-i18n">(.*?)</script>', modeler, re.S)
    assert found is not None
    expected = "Проверяем…" if locale == "ru" else "Checking…"
    assert json.loads(found.group(1))["Checking…"] == expected
