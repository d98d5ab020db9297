"""Definitions, version comparison, instances and incidents pages, and their live endpoints."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine import service
from engine.actor import SYSTEM_ACTOR
from engine.db import session_scope
from engine.models import HumanTask, Incident
from tests.integration.web_analyst.conftest import (
    FIXTURES,
    FULFILMENT,
    Browser,
    Deploy,
    Start,
    Switch,
    fixture_files,
)


def deploy_v2(factory: sessionmaker[Session]) -> None:
    """order_notice v2: the end event renamed, a user task inserted."""
    xml = (FIXTURES / "order_notice.bpmn").read_text()
    xml = xml.replace('name="Готово"', 'name="Всё"').replace(
        'value="&quot;Заказ %s принят&quot; % order_id"', 'value="&quot;Принят %s&quot; % order_id"'
    )
    with session_scope(factory) as session:
        service.deploy(session, files=[("order_notice.bpmn", xml.encode())], deployed_by="anna")


def test_definitions_list_versions_and_running_counts(
    analyst: Browser, deploy: Deploy, start: Start, session_factory: sessionmaker[Session]
) -> None:
    deploy(*FULFILMENT, by="boris")
    start("order_fulfilment", order_id="A-1")
    start("order_fulfilment", order_id="A-2")
    page = analyst.get("/analyst/definitions").text
    row = page.split('data-key="order_fulfilment"')[1].split("</tr>")[0]
    assert "Выполнение заказа" in row and "v1" in row and "boris" in row
    assert 'class="running-count">2</a>' in row

    deploy_v2_fulfilment = (
        (FIXTURES / "order_fulfilment.bpmn")
        .read_text()
        .replace('name="Собрать заказ"', 'name="Собрать и упаковать"')
    )
    files = [("order_fulfilment.bpmn", deploy_v2_fulfilment.encode())]
    files += fixture_files(*FULFILMENT[1:])
    with session_scope(session_factory) as session:
        service.deploy(session, files=files, deployed_by="anna")
    start("order_fulfilment", order_id="A-3")
    detail = analyst.get("/analyst/definitions/order_fulfilment").text
    v1 = detail.split('data-version="1"')[1].split("</tr>")[0]
    v2 = detail.split('data-version="2"')[1].split("</tr>")[0]
    assert ">2</a>" in v1 and ">1</a>" in v2 and "anna" in v2 and "boris" in v1


def test_compare_highlights_changed_elements(
    analyst: Browser, deploy: Deploy, session_factory: sessionmaker[Session]
) -> None:
    deploy("order_notice.bpmn")
    deploy_v2(session_factory)
    page = analyst.get("/analyst/definitions/order_notice/compare?a=1&b=2").text
    data = re.search(r'id="compare-data">(.*?)</script>', page, re.S)
    assert data is not None
    assert '"changed": ["notify", "end"]' in data.group(1)
    assert 'data-element-id="notify" data-change="changed"' in page
    download = analyst.get("/analyst/definitions/order_notice/xml?version=1")
    assert download.headers["content-disposition"].endswith("order_notice-v1.bpmn")
    assert download.text == (FIXTURES / "order_notice.bpmn").read_text()


def test_instances_filter_by_process_status_business_key_and_variable(
    analyst: Browser, deploy: Deploy, start: Start
) -> None:
    deploy("order_notice.bpmn", *FULFILMENT)
    a = start("order_fulfilment", business_key="A-1", order_id="A-1", city="Тверь")
    b = start("order_fulfilment", business_key="A-2", order_id="A-2", city="Омск")
    c = start("order_notice", business_key="N-1", order_id="N-1")

    def listed(query: str) -> set[str]:
        html = analyst.get(f"/analyst/instances?{query}").text
        return set(re.findall(r'data-instance-id="([^"]+)"', html))

    assert listed("") == {a, b, c}
    assert listed("key=order_fulfilment") == {a, b}
    assert listed("status=completed") == {c}
    assert listed("status=waiting&key=order_fulfilment") == {a, b}
    assert listed("business_key=A-2") == {b}
    assert listed("variable=city%3DТверь") == {a}
    assert listed("variable=city") == {a, b, c}  # not name=value: ignored, and said so
    fragment = analyst.get("/analyst/instances?key=order_notice", headers={"HX-Request": "true"})
    assert fragment.text.lstrip().startswith('<div id="instance-rows">')


def test_instance_page_shows_diagram_data_history_tasks_and_stays_live(
    analyst: Browser, deploy: Deploy, start: Start, session_factory: sessionmaker[Session]
) -> None:
    deploy(*FULFILMENT)
    instance_id = start("order_fulfilment", business_key="A-7", order_id="A-7", amount="990.00")
    page = analyst.get(f"/analyst/instances/{instance_id}").text
    assert f'data-instance-id="{instance_id}"' in page and 'data-final="false"' in page
    assert "A-7" in page and "990.00" in page
    assert 'id="open-tasks"' in page and "Подтвердить заказ по телефону" in page

    diagram = analyst.get(f"/analyst/instances/{instance_id}/diagram").json()
    assert diagram["active"] == ["call"] and "start" in diagram["completed"]
    assert diagram["incidents"] == [] and 'id="call"' in diagram["xml"]
    marker = analyst.get(f"/analyst/instances/{instance_id}/marker").json()
    assert marker["status"] == "waiting" and marker["final"] is False

    with session_scope(session_factory) as session:
        task = session.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id)).one()
        service.complete_task(
            session, task_id=task.id, data={"confirmed": False}, actor=SYSTEM_ACTOR
        )
    after = analyst.get(f"/analyst/instances/{instance_id}/marker").json()
    assert after["marker"] != marker["marker"] and after["final"] is True
    details = analyst.get(f"/analyst/instances/{instance_id}/details").text
    assert 'data-status="completed"' in details
    assert "confirmed" in details and 'class="new">' in details  # history: old → new
    diagram = analyst.get(f"/analyst/instances/{instance_id}/diagram").json()
    assert diagram["active"] == [] and "end_cancelled" in diagram["completed"]


def test_unknown_instance_is_a_404_page(analyst: Browser) -> None:
    assert analyst.get("/analyst/instances/nope").status_code == 404
    assert analyst.get("/analyst/instances/nope/marker").status_code == 404


def incident_of(factory: sessionmaker[Session], instance_id: str) -> Incident:
    with factory() as session:
        return session.scalars(select(Incident).where(Incident.instance_id == instance_id)).one()


def test_retry_from_the_incidents_page_continues_the_instance(
    analyst: Browser,
    deploy: Deploy,
    start: Start,
    switch: type[Switch],
    session_factory: sessionmaker[Session],
) -> None:
    deploy("card_payment.bpmn")
    instance_id = start("card_payment", business_key="P-1", order_id="P-1", amount="10.00")
    incident = incident_of(session_factory, instance_id)
    page = analyst.get("/analyst/incidents").text
    row = page.split(f'data-incident-id="{incident.id}"')[1].split("</tr>")[0]
    assert "charge" in row and "card declined (test)" in row and "P-1" in row

    switch.broken = False
    response = analyst.post(
        f"/analyst/incidents/{incident.id}/retry", headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert 'data-state="resolved"' in response.text
    assert 'data-instance-status="completed"' in response.text
    assert "hx-trigger" not in response.text  # settled: the row stops polling
    again = analyst.post(f"/analyst/incidents/{incident.id}/retry", headers={"HX-Request": "true"})
    assert "incident_resolved" in again.headers["HX-Trigger"]
    assert analyst.get("/analyst/incidents").text.count("data-incident-id=") == 0
    assert f'data-incident-id="{incident.id}"' in analyst.get("/analyst/incidents?state=all").text


def test_plain_form_retry_redirects_and_a_new_failure_is_shown(
    analyst: Browser,
    deploy: Deploy,
    start: Start,
    switch: type[Switch],
    session_factory: sessionmaker[Session],
) -> None:
    deploy("card_payment.bpmn")
    instance_id = start("card_payment", order_id="P-2", amount="10.00")
    first = incident_of(session_factory, instance_id)
    target = f"/analyst/instances/{instance_id}"
    response = analyst.post(f"/analyst/incidents/{first.id}/retry?next={target}")
    assert response.status_code == 303
    assert response.headers["location"] == f"{target}?retried={first.id}"
    with session_factory() as session:
        second = session.scalars(
            select(Incident).where(Incident.instance_id == instance_id, Incident.state == "open")
        ).one()
    assert second.id != first.id  # still broken: a new incident
    row = analyst.get(f"/analyst/incidents/{first.id}/row").text
    assert f'href="#incident-{second.id}"' in row
    evil = analyst.post(f"/analyst/incidents/{second.id}/retry?next=//evil.example/")
    assert evil.headers["location"].startswith("/analyst/incidents?")
