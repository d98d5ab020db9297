"""The modeler's properties panel writes what potok executes, and the result deploys.

Headless Chromium on a real server: every field is typed into the panel like an analyst
would, then the deployed XML (and the form files sent along) is checked.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.web_analyst.live import PASSWORD, LiveServer
from tests.live_server import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser

playwright_api = pytest.importorskip("playwright.sync_api")
FULFILMENT = ("order_fulfilment.bpmn", "order-confirm-schema.json", "order-confirm-uischema.json")


@pytest.fixture(scope="module")
def server(analyst_live: LiveServer) -> LiveServer:
    assert analyst_live.deploy(*FULFILMENT).status_code == 201
    return analyst_live


@pytest.fixture
def page(server: LiveServer) -> Iterator[Any]:
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{server.url}/login?next=/analyst/modeler?key=order_fulfilment")
        page.fill("#username", "anna")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("body[data-modeler-ready=true]")
        page.wait_for_selector("#validation-state[data-state=valid]")
        yield page
        browser.close()
        assert not errors, errors


def select(page: Any, element_id: str) -> None:
    page.evaluate(
        """(id) => {
      const m = window.potokModeler.modeler;
      m.get("selection").select(m.get("elementRegistry").get(id));
    }""",
        element_id,
    )


def commit(page: Any, field: str, value: str) -> None:
    """Type into a panel field and leave it (fields commit on change)."""
    control = page.locator(f'#properties [data-field="{field}"]')
    control.fill(value)
    control.press("Tab")


def saved_xml(page: Any) -> str:
    xml: str = page.evaluate("async () => (await window.potokModeler.modeler.saveXML()).xml")
    return xml


def test_panel_edits_what_potok_executes_and_it_deploys(page: Any, server: LiveServer) -> None:
    # Service task: operator from the registry, its documented parameters, retry policy.
    select(page, "charge")
    page.select_option('#properties [data-field="operator"]', "shop.notify")
    assert page.locator('#properties [data-field="param-text"]').count() == 1
    assert page.locator('#properties [data-field="param-amount"]').count() == 0
    commit(page, "param-text", '"Оплачен заказ %s" % order_id')
    commit(page, "retries", "4")
    commit(page, "result-variable", "receipt")

    # A gateway's outgoing flow: its condition.
    select(page, "f_yes")
    assert page.input_value('#properties [data-field="condition"]') == "confirmed == True"
    commit(page, "condition", "confirmed and amount")

    # Message catch: the message, a correlation key and the variable for the payload.
    select(page, "wait_delivered")
    assert page.input_value('#properties [data-field="message"]') == "msg_delivered"
    assert "order_id" in page.inner_text("#properties .pcorr")
    page.once("dialog", lambda dialog: dialog.accept("tracking_no"))
    page.click("#properties button:has-text('+')")
    commit(page, "message-variable", "delivery")

    # Error boundary: the code it catches.
    select(page, "on_declined")
    commit(page, "error-code", "card_rejected")

    # User task: who gets it, and a new form made in the form editor.
    select(page, "pack")
    commit(page, "candidate-groups", "warehouse, managers")
    page.click("#properties button:has-text('…')")
    page.fill("#fe-schema-name", "pack-schema.json")
    page.fill("#fe-ui-name", "pack-uischema.json")
    page.click("#form-editor [data-action=save]")
    assert page.input_value('#properties [data-field="form-schema"]') == "pack-schema.json"

    # A new timer: ISO 8601 typed, a Python string literal stored.
    page.evaluate(
        """() => {
      const m = window.potokModeler.modeler;
      const registry = m.get("elementRegistry"), modeling = m.get("modeling");
      modeling.removeElements([registry.get("f_ship_wait")]);
      const shape = m.get("elementFactory").createShape({
        type: "bpmn:IntermediateCatchEvent", eventDefinitionType: "bpmn:TimerEventDefinition" });
      const timer = modeling.appendShape(registry.get("ship"), shape,
        { x: registry.get("ship").x + 100, y: registry.get("ship").y + 140 });
      modeling.updateProperties(timer, { id: "cool_off", name: "Подождать" });
      modeling.connect(timer, registry.get("wait_delivered"));
      m.get("selection").select(timer);
    }"""
    )
    commit(page, "timer-value", "PT2H")
    assert "ISO 8601" in page.inner_text("#properties")

    page.wait_for_selector("#validation-state[data-state=valid]")
    xml = saved_xml(page)
    assert '<spiffworkflow:serviceTaskOperator id="shop.notify" resultVariable="receipt">' in xml
    assert '<spiffworkflow:parameter id="text" type="any"' in xml
    assert '<spiffworkflow:retry retries="4" backoff_base="2" />' in xml
    assert ">confirmed and amount</bpmn:conditionExpression>" in xml
    # bpmn-moddle alone would write <bpmn:formalExpression> here and lose the keys.
    assert "<bpmn:messagePath>order_id</bpmn:messagePath>" in xml
    assert 'name="tracking_no"' in xml and "<bpmn:messagePath>tracking_no</bpmn:messagePath>" in xml
    assert "<spiffworkflow:messageVariable>delivery</spiffworkflow:messageVariable>" in xml
    assert 'errorCode="card_rejected"' in xml
    assert '<spiffworkflow:property name="candidateGroups" value="warehouse,managers" />' in xml
    assert 'value="pack-schema.json"' in xml and 'value="pack-uischema.json"' in xml
    assert '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">"PT2H"</bpmn:timeDuration>' in xml

    page.click("#deploy")
    page.wait_for_selector("body[data-deployed-version='2']")
    with server.api() as client:
        deployed = client.get("/api/definitions/order_fulfilment/xml").text
        assert 'errorCode="card_rejected"' in deployed
        instance = client.post(
            "/api/processes/order_fulfilment/instances",
            json={"variables": {"order_id": "A-5", "amount": "10.00"}},
        ).json()
        assert instance["version"] == 2 and instance["status"] == "waiting"
    bundle = page.request.get(f"{server.url}/analyst/api/definitions/order_fulfilment/bundle")
    assert {"pack-schema.json", "pack-uischema.json"} <= set(bundle.json()["forms"])
    page.goto(f"{server.url}/analyst/definitions/order_fulfilment/compare?a=1&b=2")
    page.wait_for_selector("body[data-compare-ready=true]")
    changed = page.inner_text("#diff-list")
    for element_id in ("charge", "f_yes", "wait_delivered", "pack", "cool_off"):
        assert element_id in changed


def test_undo_restores_the_panel_edit(page: Any) -> None:
    select(page, "call")
    commit(page, "name", "Позвонить клиенту")
    assert "Позвонить клиенту" in saved_xml(page)
    page.click("#undo")
    assert 'name="Подтвердить заказ по телефону"' in saved_xml(page)
    assert page.input_value('#properties [data-field="name"]') == "Подтвердить заказ по телефону"
