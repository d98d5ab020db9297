"""The modeler page and its JSON endpoints: open, validate live, deploy, new from a template."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.web.analyst import catalog
from engine.models import ProcessDefinition
from engine.parsing import BPMN_NS, parse_xml
from tests.integration.web_analyst.conftest import FIXTURES, FULFILMENT, Browser, Deploy

CONFIG = re.compile(r'<script type="application/json" id="modeler-config">(.*?)</script>', re.S)


def page_config(html: str) -> dict[str, Any]:
    found = CONFIG.search(html)
    assert found, html[:300]
    config: dict[str, Any] = json.loads(found.group(1))
    return config


def upload(browser: Browser, url: str, files: list[tuple[str, str | bytes]]) -> httpx.Response:
    parts = [("files", (name, text, "application/octet-stream")) for name, text in files]
    return browser.client.post(url, files=parts, headers={"X-CSRF-Token": browser.token})


def versions(factory: sessionmaker[Session], key: str | None = None) -> int:
    with factory() as session:
        stmt = select(func.count()).select_from(ProcessDefinition)
        if key is not None:
            stmt = stmt.where(ProcessDefinition.key == key)
        return int(session.scalar(stmt) or 0)


def test_modeler_opens_a_version_with_its_forms_and_the_catalogues(
    analyst: Browser, deploy: Deploy
) -> None:
    deploy(*FULFILMENT)
    config = page_config(analyst.get("/analyst/modeler?key=order_fulfilment&version=1").text)
    opened = config["process"]
    assert (opened["key"], opened["version"], opened["file"]) == (
        "order_fulfilment",
        1,
        "order_fulfilment.bpmn",
    )
    assert 'id="charge"' in opened["xml"]
    assert set(opened["forms"]) == {"order-confirm-schema.json", "order-confirm-uischema.json"}
    assert config["versions"] == [1]
    charge = next(op for op in config["operators"] if op["id"] == "shop.charge")
    assert charge["parameters"] == [
        {"name": "amount", "type": "str", "required": True},
        {"name": "order_id", "type": "str | None", "required": False},
    ]
    assert "order-confirm-schema.json" in config["forms"]
    bundle = analyst.get("/analyst/api/definitions/order_fulfilment/bundle").json()
    assert bundle["forms"] == opened["forms"] and bundle["xml"] == opened["xml"]


def test_unknown_version_is_a_404_page(analyst: Browser, deploy: Deploy) -> None:
    deploy("order_notice.bpmn")
    assert analyst.get("/analyst/modeler?key=order_notice&version=9").status_code == 404
    assert analyst.get("/analyst/modeler?key=nothing").status_code == 404
    assert analyst.get("/analyst/api/definitions/nothing/bundle").status_code == 404


def test_validate_names_the_elements(analyst: Browser, deploy: Deploy) -> None:
    deploy("order_notice.bpmn")
    xml = (FIXTURES / "order_notice.bpmn").read_text()
    ok = upload(analyst, "/analyst/api/validate", [("order_notice.bpmn", xml)]).json()
    assert ok == {"ok": True, "errors": [], "warnings": []}
    broken = xml.replace('id="shop.notify"', 'id="shop.nowhere"')
    result = upload(analyst, "/analyst/api/validate", [("order_notice.bpmn", broken)]).json()
    assert result["ok"] is False
    assert [(e["element_id"], e["msg"]) for e in result["errors"]] == [
        ("notify", "unknown service task operator 'shop.nowhere'")
    ]
    garbage = upload(analyst, "/analyst/api/validate", [("x.bpmn", "<not xml")]).json()
    assert garbage["ok"] is False and garbage["errors"][0]["line"] == 1


def test_deploy_makes_a_version_and_a_broken_diagram_deploys_nothing(
    analyst: Browser, deploy: Deploy, session_factory: sessionmaker[Session]
) -> None:
    deploy("order_notice.bpmn")
    xml = (FIXTURES / "order_notice.bpmn").read_text()
    same = upload(analyst, "/analyst/api/deploy", [("order_notice.bpmn", xml)])
    assert same.status_code == 200 and same.json()["deployed"][0]["version"] == 1

    edited = xml.replace('name="Готово"', 'name="Заказ принят в работу"')
    created = upload(analyst, "/analyst/api/deploy", [("order_notice.bpmn", edited)])
    assert created.status_code == 201
    [deployed] = created.json()["deployed"]
    assert (deployed["key"], deployed["version"], deployed["created"]) == ("order_notice", 2, True)
    with session_factory() as session:
        latest = session.scalars(
            select(ProcessDefinition).where(ProcessDefinition.version == 2)
        ).one()
        assert latest.deployed_by == "anna"

    before = versions(session_factory)
    dead_end = edited.replace(
        '<bpmn:endEvent id="end"',
        '<bpmn:exclusiveGateway id="gw_dead" name="?" />\n    <bpmn:endEvent id="end"',
    ).replace(
        '<bpmn:sequenceFlow id="flow_notify_end"',
        '<bpmn:sequenceFlow id="flow_gw" sourceRef="start" targetRef="gw_dead" />\n'
        '    <bpmn:sequenceFlow id="flow_notify_end"',
    )
    refused = upload(analyst, "/analyst/api/deploy", [("order_notice.bpmn", dead_end)])
    assert refused.status_code == 422
    details = refused.json()["error"]["details"]
    assert any(d["element_id"] == "gw_dead" and "no outgoing" in d["msg"] for d in details)
    assert versions(session_factory) == before


def test_new_process_from_each_template_validates(analyst: Browser, deploy: Deploy) -> None:
    deploy("order_notice.bpmn")
    for template in catalog.TEMPLATES:
        page = analyst.get(f"/analyst/modeler?key=p_{template}&name=Тест&template={template}")
        assert page.status_code == 200
        opened = page_config(page.text)["process"]
        assert opened["version"] is None and f'id="p_{template}"' in opened["xml"]
        result = upload(analyst, "/analyst/api/validate", [(opened["file"], opened["xml"])])
        errors = result.json()["errors"]
        # The service template leaves the operator to choose: that is its one error.
        assert [e["element_id"] for e in errors] == (["call"] if template == "service" else [])


@pytest.mark.parametrize(
    ("key", "status"), [("order_notice", 409), ("9bad key", 422), ("<script>", 422)]
)
def test_new_process_needs_a_free_valid_key(
    analyst: Browser, deploy: Deploy, key: str, status: int
) -> None:
    deploy("order_notice.bpmn")
    page = analyst.get("/analyst/modeler", params={"key": key, "template": "blank"})
    assert page.status_code == status
    assert 'id="new-process"' in page.text
    if key == "<script>":
        assert 'value="&lt;script&gt;"' in page.text


def test_template_names_are_escaped() -> None:
    name = 'Возврат "<b>" & Co\''
    opened = catalog.new_process("approval", key="p1", name=name, locale="ru")
    process = parse_xml(opened["xml"]).find(f"{{{BPMN_NS}}}process")
    assert process is not None and process.get("name") == name
    assert "Рассмотреть заявку" in opened["xml"]
    with pytest.raises(ValueError):
        catalog.new_process("blank", key='x" onload="', name="")
