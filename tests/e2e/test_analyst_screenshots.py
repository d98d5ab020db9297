"""Screenshots of the modeler and the instance viewer, taken from the real pages.

They go to tmp (the pages must render without errors every run); with
POTOK_UPDATE_SCREENSHOTS=1 they replace docs/modeler*.png and docs/instance-viewer*.png.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.web_analyst.live import PASSWORD, LiveServer
from tests.live_server import CHROMIUM, CHROMIUM_ARGS, ROOT

pytestmark = pytest.mark.browser

playwright_api = pytest.importorskip("playwright.sync_api")
FULFILMENT = ("order_fulfilment.bpmn", "order-confirm-schema.json", "order-confirm-uischema.json")


@pytest.fixture(scope="module")
def server(analyst_live: LiveServer) -> LiveServer:
    analyst_live.flaky.broken = False
    assert analyst_live.deploy(*FULFILMENT).status_code == 201
    return analyst_live


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    return ROOT / "docs" if os.environ.get("POTOK_UPDATE_SCREENSHOTS") == "1" else tmp_path


@pytest.fixture
def page(server: LiveServer) -> Iterator[Any]:
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(
            viewport={"width": 1440, "height": 900}, device_scale_factor=1, locale="ru-RU"
        )
        page = context.new_page()
        page.goto(f"{server.url}/login")
        page.fill("#username", "anna")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/inbox*")
        yield page
        browser.close()


def test_modeler_screenshots(page: Any, server: LiveServer, out_dir: Path) -> None:
    page.goto(f"{server.url}/analyst/modeler?key=order_fulfilment")
    page.wait_for_selector("body[data-modeler-ready=true]")
    page.wait_for_selector("#validation-state[data-state=valid]")
    page.click('.djs-element[data-element-id="charge"]')
    page.mouse.move(5, 890)
    page.screenshot(path=str(out_dir / "modeler.png"))

    page.evaluate(
        """() => {
      const m = window.potokModeler.modeler;
      const registry = m.get("elementRegistry"), modeling = m.get("modeling");
      const pack = registry.get("pack"), ship = registry.get("ship");
      modeling.removeElements([registry.get("f_pack_ship")]);
      const tail = [ship, registry.get("wait_delivered"), registry.get("end")];
      modeling.moveElements(tail, { x: 40, y: 0 });
      const shape = m.get("elementFactory").createShape({ type: "bpmn:ExclusiveGateway" });
      const gw = modeling.appendShape(pack, shape, { x: pack.x + 155, y: pack.y + 40 });
      modeling.updateProperties(gw, { id: "gw_stock", name: "Всё в наличии?" });
      const toShip = modeling.connect(gw, ship);
      const condition = m.get("bpmnFactory").create("bpmn:FormalExpression", { body: "in_stock" });
      modeling.updateProperties(toShip, { name: "да", conditionExpression: condition });
      const fallback = m.get("elementFactory").createShape({ type: "bpmn:ExclusiveGateway" });
      const dead = modeling.appendShape(gw, fallback, { x: gw.x + 25, y: gw.y + 110 });
      modeling.updateProperties(dead, { id: "gw_supplier", name: "Заказать у поставщика?" });
      modeling.updateProperties(dead.incoming[0], { name: "нет" });
      modeling.updateProperties(gw, { default: dead.incoming[0].businessObject });
      m.get("selection").select(dead);
    }"""
    )
    page.wait_for_selector("#validation-state[data-state=invalid]")
    page.hover('.problem-badge[data-element-id="gw_supplier"] .problem-icon')
    page.screenshot(path=str(out_dir / "modeler-validation.png"))
    assert (out_dir / "modeler.png").stat().st_size > 20_000


def _complete_call(server: LiveServer, instance_id: str) -> None:
    with server.api("root") as client:
        tasks = client.get("/api/tasks", params={"instance_id": instance_id}).json()["items"]
        data = {"confirmed": True, "address": "Москва, Тверская 7"}
        done = client.post(f"/api/tasks/{tasks[0]['id']}/complete", json={"data": data})
        done.raise_for_status()
    deadline = time.monotonic() + 20
    with server.api() as client:
        while time.monotonic() < deadline:
            active = client.get(f"/api/instances/{instance_id}").json()["active"]
            if [a["element_id"] for a in active] == ["pack"]:
                return
            time.sleep(0.2)
    raise AssertionError("the instance did not reach 'pack'")


def test_instance_viewer_screenshot(page: Any, server: LiveServer, out_dir: Path) -> None:
    body = {"variables": {"order_id": "A-1042", "amount": "4980.00"}, "business_key": "A-1042"}
    with server.api() as client:
        instance = client.post("/api/processes/order_fulfilment/instances", json=body).json()
    _complete_call(server, instance["id"])
    page.goto(f"{server.url}/analyst/instances/{instance['id']}")
    page.wait_for_selector("body[data-viewer-ready=true]")
    assert page.locator('.potok-token[data-element-id="pack"]').is_visible()
    page.mouse.move(5, 890)
    page.screenshot(path=str(out_dir / "instance-viewer.png"), full_page=True)


def test_instance_with_an_incident_screenshot(page: Any, server: LiveServer, out_dir: Path) -> None:
    server.flaky.broken = True
    try:
        body = {"variables": {"order_id": "A-1043", "amount": "1290.00"}, "business_key": "A-1043"}
        with server.api() as client:
            instance = client.post("/api/processes/order_fulfilment/instances", json=body).json()
        with server.api("root") as client:
            tasks = client.get("/api/tasks", params={"instance_id": instance["id"]}).json()
            client.post(
                f"/api/tasks/{tasks['items'][0]['id']}/complete", json={"data": {"confirmed": True}}
            ).raise_for_status()
        page.goto(f"{server.url}/analyst/instances/{instance['id']}")
        page.wait_for_selector("body[data-viewer-ready=true]")
        page.wait_for_selector('.djs-element[data-element-id="charge"].potok-incident')
        page.wait_for_selector("#instance-incidents")
    finally:
        server.flaky.broken = False
    page.mouse.move(5, 890)
    page.screenshot(path=str(out_dir / "instance-viewer-incident.png"), full_page=True)
