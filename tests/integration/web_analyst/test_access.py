"""Only analysts and admins get into the workspace; the rest get 403, anonymous the login page."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.integration.web_analyst.conftest import Browser, Deploy, MakeUser, OpenBrowser, Start

PAGES = (
    "/analyst/definitions",
    "/analyst/definitions/order_notice",
    "/analyst/definitions/order_notice/compare",
    "/analyst/definitions/order_notice/xml",
    "/analyst/modeler",
    "/analyst/modeler?key=order_notice",
    "/analyst/modeler?key=new_one&template=approval",
    "/analyst/instances",
    "/analyst/incidents",
)
JSON_GETS = ("/analyst/api/definitions/order_notice/bundle",)
POSTS = ("/analyst/api/validate", "/analyst/api/deploy")


@pytest.fixture
def notice(deploy: Deploy) -> None:
    deploy("order_notice.bpmn")


def test_anonymous_visitors_are_sent_to_sign_in(anonymous: TestClient, notice: None) -> None:
    for url in PAGES:
        response = anonymous.get(url, follow_redirects=False)
        assert response.status_code == 303, url
        assert response.headers["location"].startswith("/login?next=/analyst/"), url
    for url in JSON_GETS:
        response = anonymous.get(url)
        assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"


def test_managers_get_403_everywhere_and_see_no_link(
    manager: Browser, notice: None, start: Start
) -> None:
    instance_id = start("order_notice", order_id="A-1")
    for url in (*PAGES, f"/analyst/instances/{instance_id}"):
        response = manager.get(url, follow_redirects=False)
        assert response.status_code == 403, url
    for url in JSON_GETS:
        assert manager.get(url).status_code == 403
    files = {"files": ("x.bpmn", b"<x/>", "application/xml")}
    headers = {"X-CSRF-Token": manager.token}
    for url in POSTS:
        response = manager.client.post(url, files=files, headers=headers)
        assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
    assert 'href="/analyst' not in manager.get("/inbox").text


@pytest.mark.parametrize("role", ["analyst", "admin"])
def test_analysts_and_admins_get_in(
    role: str, make_user: MakeUser, browser: OpenBrowser, notice: None, start: Start
) -> None:
    make_user("someone", roles=(role,), groups=("office",))
    person = browser("someone")
    instance_id = start("order_notice", order_id="A-1")
    for url in (*PAGES, f"/analyst/instances/{instance_id}", *JSON_GETS):
        assert person.get(url).status_code == 200, url
    assert 'href="/analyst/definitions"' in person.get("/inbox").text  # the top-bar link


def test_posts_need_the_csrf_token(analyst: Browser) -> None:
    files = {"files": ("x.bpmn", b"<x/>", "application/xml")}
    for url in POSTS:
        assert analyst.client.post(url, files=files).status_code == 403
    assert analyst.post("/analyst/incidents/1/retry", csrf=False).status_code == 403
