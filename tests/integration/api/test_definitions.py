"""Definitions: deploy (201 / 200 same content / 422), validate, list, read, XML."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.integration.api.conftest import REVIEW_FILES, Deploy, multipart, review_v2_files
from tests.integration.api.helpers import TestUser, assert_error

BROKEN = [("files", ("broken.bpmn", b"<bpmn:definitions"))]


def test_deploy_creates_version_1(client: TestClient, analyst: TestUser) -> None:
    """A new process is stored as version 1 and answered with 201."""
    response = client.post(
        "/api/definitions", files=multipart(*REVIEW_FILES), headers=analyst.headers
    )
    assert response.status_code == 201, response.text
    [deployed] = response.json()["deployed"]
    assert (deployed["key"], deployed["version"], deployed["created"]) == ("review", 1, True)
    assert len(deployed["content_hash"]) == 64


def test_deploy_same_content_is_200_without_new_version(
    client: TestClient, analyst: TestUser
) -> None:
    """Deploying unchanged content answers 200 with the existing version."""
    first = client.post("/api/definitions", files=multipart(*REVIEW_FILES), headers=analyst.headers)
    again = client.post("/api/definitions", files=multipart(*REVIEW_FILES), headers=analyst.headers)
    assert again.status_code == 200
    assert again.json() == {"deployed": [{**first.json()["deployed"][0], "created": False}]}


def test_deploy_invalid_is_422_with_element_details(client: TestClient, analyst: TestUser) -> None:
    """Broken XML is refused with file/element/line details."""
    response = client.post("/api/definitions", files=BROKEN, headers=analyst.headers)
    error = assert_error(response, 422, "bpmn_invalid")
    [detail] = error["details"]
    assert set(detail) == {"file", "element_id", "line", "msg"}
    assert detail["file"] == "broken.bpmn" and "XML" in detail["msg"]


def test_deploy_without_files_is_422(client: TestClient, analyst: TestUser) -> None:
    """The multipart `files` field is required."""
    error = assert_error(
        client.post("/api/definitions", headers=analyst.headers), 422, "validation_error"
    )
    assert error["details"][0]["loc"] == ["body", "files"]


def test_deploy_needs_deploy_scope(client: TestClient, manager: TestUser) -> None:
    """A manager may not deploy."""
    response = client.post(
        "/api/definitions", files=multipart(*REVIEW_FILES), headers=manager.headers
    )
    assert_error(response, 403, "forbidden")


def test_deploy_needs_a_token(client: TestClient) -> None:
    """Deploying anonymously is a 401."""
    response = client.post("/api/definitions", files=multipart(*REVIEW_FILES))
    assert_error(response, 401, "unauthorized")


def test_deploy_too_large_is_413(client: TestClient, analyst: TestUser) -> None:
    """Uploads beyond max_upload_bytes are refused before parsing."""
    client.app.state.settings = client.app.state.settings.model_copy(  # type: ignore[attr-defined]
        update={"max_upload_bytes": 100}
    )
    response = client.post(
        "/api/definitions", files=multipart(*REVIEW_FILES), headers=analyst.headers
    )
    assert_error(response, 413, "payload_too_large")


def test_deploy_with_idempotency_key_replays(client: TestClient, analyst: TestUser) -> None:
    """The same upload under the same key replays the first 201 instead of answering 200."""
    headers = {**analyst.headers, "Idempotency-Key": "deploy-1"}
    first = client.post("/api/definitions", files=multipart(*REVIEW_FILES), headers=headers)
    again = client.post("/api/definitions", files=multipart(*REVIEW_FILES), headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    other = client.post("/api/definitions", files=multipart("messages.bpmn"), headers=headers)
    assert_error(other, 422, "idempotency_key_reused")


def test_validate_ok(client: TestClient, analyst: TestUser) -> None:
    """Valid files: ok with no errors; nothing is stored."""
    response = client.post(
        "/api/definitions/validate", files=multipart(*REVIEW_FILES), headers=analyst.headers
    )
    assert response.status_code == 200
    assert response.json() == {"ok": True, "errors": [], "warnings": []}
    assert client.get("/api/definitions", headers=analyst.headers).json()["items"] == []


def test_validate_broken_is_200_with_errors(client: TestClient, analyst: TestUser) -> None:
    """Invalid files are a 200 verdict listing the errors."""
    response = client.post("/api/definitions/validate", files=BROKEN, headers=analyst.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is False and body["errors"][0]["file"] == "broken.bpmn"


def test_list_latest_and_all_versions(
    client: TestClient, analyst: TestUser, deploy: Deploy
) -> None:
    """The list shows the latest of each key; all_versions shows every version."""
    deploy(*REVIEW_FILES)
    deploy(files=review_v2_files())
    deploy("messages.bpmn")
    latest = client.get("/api/definitions", headers=analyst.headers).json()
    assert [(d["key"], d["version"]) for d in latest["items"]] == [
        ("await_payment", 1),
        ("inbound_start", 1),
        ("review", 2),
    ]
    assert set(latest["items"][0]) == {
        "key",
        "name",
        "version",
        "deployed_at",
        "content_hash",
        "deployed_by",
    }
    every = client.get(
        "/api/definitions", params={"all_versions": "true", "limit": 3}, headers=analyst.headers
    )
    body = every.json()
    assert [(d["key"], d["version"]) for d in body["items"]] == [
        ("await_payment", 1),
        ("inbound_start", 1),
        ("review", 1),
    ]
    rest = client.get(
        "/api/definitions",
        params={"all_versions": "true", "cursor": body["next_cursor"]},
        headers=analyst.headers,
    ).json()
    assert [(d["key"], d["version"]) for d in rest["items"]] == [("review", 2)]
    assert rest["next_cursor"] is None


def test_read_definition_with_versions(
    client: TestClient, analyst: TestUser, deploy: Deploy
) -> None:
    """One key: the latest version and the list of all versions; ?version picks one."""
    deploy(*REVIEW_FILES)
    deploy(files=review_v2_files())
    latest = client.get("/api/definitions/review", headers=analyst.headers).json()
    assert latest["version"] == 2 and latest["name"] == "Order review"
    assert [v["version"] for v in latest["versions"]] == [1, 2]
    assert latest["deployed_by"] == "tests"
    first = client.get("/api/definitions/review", params={"version": 1}, headers=analyst.headers)
    assert first.json()["version"] == 1


def test_unknown_definition_is_404(client: TestClient, analyst: TestUser) -> None:
    """Unknown keys and versions are 404s."""
    assert_error(client.get("/api/definitions/nope", headers=analyst.headers), 404, "not_found")
    assert_error(client.get("/api/definitions/nope/xml", headers=analyst.headers), 404, "not_found")


def test_unknown_version_is_404(client: TestClient, analyst: TestUser, deploy: Deploy) -> None:
    """A version that was never deployed is a 404."""
    deploy(*REVIEW_FILES)
    response = client.get("/api/definitions/review", params={"version": 9}, headers=analyst.headers)
    assert_error(response, 404, "not_found")


def test_version_zero_is_422(client: TestClient, analyst: TestUser) -> None:
    """Versions start at 1."""
    response = client.get("/api/definitions/review", params={"version": 0}, headers=analyst.headers)
    error = assert_error(response, 422, "validation_error")
    assert error["details"][0]["loc"] == ["query", "version"]


def test_xml_is_served_as_application_xml(
    client: TestClient, analyst: TestUser, deploy: Deploy
) -> None:
    """The stored BPMN XML comes back byte for byte as application/xml."""
    deploy(*REVIEW_FILES)
    response = client.get("/api/definitions/review/xml", headers=analyst.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    assert 'id="review"' in response.text and "<bpmn:userTask" in response.text
