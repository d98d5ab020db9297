"""The analyst workspace in headless Chromium against a real server on a real SQLite file.

One server for the module (uvicorn in a thread, jobs run by a thread after commit):
- the modeler opens a deployed process, gets a user task added, deploys version 2, and
  the instance viewer shows the token on the new task;
- a broken diagram shows each error on its element and deploys nothing;
- retrying an incident from the incidents page completes the instance, live;
- a manager sees no link to any of it and gets 403.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.web_analyst.live import PASSWORD, LiveServer
from tests.live_server import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser

playwright_api = pytest.importorskip("playwright.sync_api")
Page = Any  # playwright.sync_api.Page


@pytest.fixture(scope="module")
def server(analyst_live: LiveServer) -> LiveServer:
    deployed = analyst_live.deploy("order_notice.bpmn", "card_payment.bpmn")
    assert deployed.status_code == 201, deployed.text
    return analyst_live


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Any) -> Iterator[Page]:
    context = chromium.new_context(viewport={"width": 1440, "height": 900}, locale="ru-RU")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


def sign_in(page: Page, server: LiveServer, username: str, next_url: str) -> None:
    page.goto(f"{server.url}/login?next={next_url}")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{next_url}*")


def open_modeler(page: Page, server: LiveServer, key: str) -> None:
    sign_in(page, server, "anna", f"/analyst/modeler?key={key}")
    page.wait_for_selector("body[data-modeler-ready=true]")
    page.wait_for_selector("#validation-state[data-state=valid]")


def classes_of(page: Page, element_id: str) -> list[str]:
    found: list[str] = page.eval_on_selector(
        f'.djs-element[data-element-id="{element_id}"]', "node => [...node.classList]"
    )
    return found


def definitions_count(server: LiveServer) -> int:
    with server.api() as client:
        items = client.get("/api/definitions", params={"all_versions": "true"}).json()["items"]
    return len(items)


ADD_USER_TASK = """() => {
  const m = window.potokModeler.modeler;
  const registry = m.get("elementRegistry"), modeling = m.get("modeling");
  const notify = registry.get("notify"), end = registry.get("end");
  modeling.removeElements([registry.get("flow_notify_end")]);
  const shape = m.get("elementFactory").createShape({ type: "bpmn:UserTask" });
  const task = modeling.appendShape(notify, shape, { x: notify.x + 300, y: notify.y + 40 });
  modeling.updateProperties(task, { id: "confirm", name: "Подтвердить заказ" });
  modeling.connect(task, end);
  m.get("selection").select(task);
}"""


def test_add_user_task_deploy_and_see_the_token(page: Page, server: LiveServer) -> None:
    open_modeler(page, server, "order_notice")
    page.evaluate(ADD_USER_TASK)
    # The properties panel edits what potok executes: who gets the task.
    groups = page.locator('[data-field="candidate-groups"]')
    groups.fill("managers")
    groups.press("Tab")
    page.wait_for_selector("#validation-state[data-state=valid]")

    page.click("#deploy")
    page.wait_for_selector("body[data-deployed-version='2']")
    assert "order_notice" in page.inner_text("#analyst-toast")
    with server.api() as client:
        xml = client.get("/api/definitions/order_notice/xml", params={"version": 2}).text
        assert 'id="confirm"' in xml and 'name="candidateGroups" value="managers"' in xml
        started = client.post(
            "/api/processes/order_notice/instances", json={"variables": {"order_id": "A-18"}}
        ).json()
    assert started["version"] == 2 and started["status"] == "waiting"
    assert [a["element_id"] for a in started["active"]] == ["confirm"]

    page.goto(f"{server.url}/analyst/instances/{started['id']}")
    page.wait_for_selector("body[data-viewer-ready=true]")
    assert "potok-active" in classes_of(page, "confirm")
    assert "potok-done" in classes_of(page, "notify")
    assert "potok-done" in classes_of(page, "flow_start_notify")
    assert page.locator('.potok-token[data-element-id="confirm"]').is_visible()
    assert "managers" in page.inner_text("#open-tasks")

    # The page stays live: the task is done elsewhere, the page follows without a reload.
    with server.api("root") as client:
        tasks = client.get("/api/tasks", params={"instance_id": started["id"]}).json()["items"]
        client.post(f"/api/tasks/{tasks[0]['id']}/complete", json={"data": {}}).raise_for_status()
    page.wait_for_selector('#instance-status [data-status="completed"]')
    page.wait_for_selector('.djs-element[data-element-id="confirm"].potok-done')
    assert page.locator(".potok-token").count() == 0


BREAK_DIAGRAM = """() => {
  const m = window.potokModeler.modeler;
  const registry = m.get("elementRegistry"), modeling = m.get("modeling");
  const start = registry.get("start"), charge = registry.get("charge");
  const shape = m.get("elementFactory").createShape({ type: "bpmn:ExclusiveGateway" });
  const gateway = modeling.appendShape(start, shape, { x: start.x + 110, y: start.y + 160 });
  modeling.updateProperties(gateway, { id: "gw_dead_end", name: "Куда?" });
  const operator = charge.businessObject.extensionElements.values[0];
  modeling.updateModdleProperties(charge, operator, { id: "shop.unknown" });
}"""


def test_broken_diagram_shows_errors_on_elements_and_deploys_nothing(
    page: Page, server: LiveServer
) -> None:
    before = definitions_count(server)
    open_modeler(page, server, "card_payment")
    page.evaluate(BREAK_DIAGRAM)
    page.wait_for_selector("#validation-state[data-state=invalid]")

    assert "potok-invalid" in classes_of(page, "gw_dead_end")
    assert "potok-invalid" in classes_of(page, "charge")
    gateway_badge = page.locator('.problem-badge[data-element-id="gw_dead_end"]')
    gateway_badge.hover()  # the message shows on the element itself
    assert "no outgoing sequence flow" in gateway_badge.locator(".problem-text").inner_text()
    operator_badge = page.locator('.problem-badge[data-element-id="charge"]')
    operator_badge.hover()
    assert "unknown service task operator 'shop.unknown'" in operator_badge.inner_text()
    # The same problems are listed under the canvas and in the selected element's panel.
    problems = page.inner_text("#problems-list")
    assert "gw_dead_end" in problems and "charge" in problems
    page.click('.djs-element[data-element-id="charge"]')
    assert "shop.unknown" in page.inner_text(".pproblems")

    page.click("#deploy")
    page.wait_for_selector(".toast-error")
    assert definitions_count(server) == before
    with server.api() as client:
        assert client.get("/api/definitions/card_payment").json()["version"] == 1


def wait_for_incident(server: LiveServer, instance_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    with server.api() as client:
        while time.monotonic() < deadline:
            params = {"instance_id": instance_id, "state": "open"}
            items = client.get("/api/incidents", params=params).json()["items"]
            if items:
                return dict(items[0])
            time.sleep(0.2)
    raise AssertionError("no incident was opened")


def test_retry_from_the_incidents_page_completes_the_instance(
    page: Page, server: LiveServer
) -> None:
    server.flaky.broken = True
    with server.api() as client:
        body = {"variables": {"order_id": "P-1", "amount": "990.00"}, "business_key": "P-1"}
        instance = client.post("/api/processes/card_payment/instances", json=body).json()
    incident = wait_for_incident(server, instance["id"])

    sign_in(page, server, "anna", "/analyst/incidents")
    row = page.locator(f'tr[data-incident-id="{incident["id"]}"]')
    assert "shop.charge" in row.inner_text()
    assert "card declined" in row.inner_text()

    server.flaky.broken = False  # the bank is fixed; now retry
    row.locator("button.retry-button").click()
    page.wait_for_selector(
        f'tr[data-incident-id="{incident["id"]}"][data-instance-status="completed"]'
    )
    with server.api() as client:
        finished = client.get(f"/api/instances/{instance['id']}").json()
    assert finished["status"] == "completed"
    assert finished["variables"]["payment"] == {"charged": "990.00"}
    assert [call["attempt"] for call in server.flaky.calls[-1:]] == [1]


def test_managers_see_no_link_and_get_403(page: Page, server: LiveServer) -> None:
    sign_in(page, server, "olga", "/inbox")
    assert page.locator('a[href^="/analyst"]').count() == 0
    for url in ("/analyst/definitions", "/analyst/modeler?key=order_notice", "/analyst/incidents"):
        response = page.goto(f"{server.url}{url}")
        assert response is not None and response.status == 403, url
    token = page.get_attribute('meta[name="csrf-token"]', "content")
    refused = page.request.post(
        f"{server.url}/analyst/api/deploy",
        headers={"X-CSRF-Token": token or ""},
        multipart={"files": {"name": "x.bpmn", "mimeType": "application/xml", "buffer": b"<x/>"}},
    )
    assert refused.status == 403


def test_instances_filter_by_business_key(page: Page, server: LiveServer) -> None:
    with server.api() as client:
        for key in ("F-1", "F-2"):
            body = {"variables": {"order_id": key}, "business_key": key}
            client.post("/api/processes/order_notice/instances", json=body).raise_for_status()
    sign_in(page, server, "anna", "/analyst/definitions")
    assert page.locator("#definitions tr[data-key=order_notice]").count() == 1
    page.click('a.tab[href="/analyst/instances"]')
    page.wait_for_selector("#instances")
    page.fill('input[name="business_key"]', "F-2")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#instances tbody tr')].length === 1"
    )
    assert "F-2" in page.inner_text("#instances tbody")
