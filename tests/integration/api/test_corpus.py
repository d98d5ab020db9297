"""Every third-party file of ../shared/corpus through validate and deploy: never a 5xx.

Files raw SpiffWorkflow parses deploy (201, or 200 when identical content is already the
latest version); the rest are refused with 422 and element-level details. One deliberate
difference: potok also refuses service tasks whose operator no handler implements (raw
SpiffWorkflow never looks), since an instance could never get past them. The oracle and the
form stubs are those of tests/unit/test_corpus_parsing.py (parser parity lives there).
"""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from tests.integration.api.helpers import TestUser
from tests.unit.test_corpus_parsing import FILES, raw_process_ids, with_forms

DETAIL_KEYS = {"file", "element_id", "line", "msg"}
UNKNOWN_OPERATOR = "unknown service task operator"


def _upload(files: list[tuple[str, bytes]]) -> list[tuple[str, tuple[str, bytes]]]:
    return [("files", (name, content)) for name, content in files]


def _validate_problem(path: Path, response: httpx.Response) -> str | None:
    if response.status_code != 200:
        return f"validate {path.name}: {response.status_code} {response.text[:200]}"
    body = response.json()
    issues = body["errors"] + body["warnings"]
    if body["ok"] == bool(body["errors"]) or any(set(i) != DETAIL_KEYS for i in issues):
        return f"validate {path.name}: inconsistent verdict {body}"
    return None


def _only_unknown_operators(response: httpx.Response) -> bool:
    details = response.json()["error"]["details"] if response.status_code == 422 else []
    return bool(details) and all(d["msg"].startswith(UNKNOWN_OPERATOR) for d in details)


def _deploy_problem(path: Path, response: httpx.Response) -> str | None:
    parses = raw_process_ids(path.read_bytes()) is not None
    status = response.status_code
    if parses and not _only_unknown_operators(response):
        unchanged = status == 200 and not any(d["created"] for d in response.json()["deployed"])
        return None if status == 201 or unchanged else f"deploy {path.name}: {status}, want 201"
    if status != 422:
        return f"deploy {path.name}: {status}, want 422: {response.text[:200]}"
    details = response.json()["error"]["details"]
    if not details or any(set(d) != DETAIL_KEYS or not d["msg"] for d in details):
        return f"deploy {path.name}: 422 without element-level details: {details}"
    return None


def test_corpus_validate_and_deploy(client: TestClient, admin: TestUser) -> None:
    """No corpus file makes the API answer 5xx, and each gets the verdict raw Spiff implies."""
    problems: list[str] = []
    statuses: list[int] = []
    for path in FILES:
        raw = _upload([(path.name, path.read_bytes())])
        checked = client.post("/api/definitions/validate", files=raw, headers=admin.headers)
        deployed = client.post(
            "/api/definitions", files=_upload(with_forms(path)), headers=admin.headers
        )
        problems += filter(
            None, [_validate_problem(path, checked), _deploy_problem(path, deployed)]
        )
        statuses.append(deployed.status_code)
    assert not problems, "\n".join(problems)
    # The corpus holds both kinds; a run where everything went one way would prove little.
    assert statuses.count(201) > 50 and statuses.count(422) > 20, sorted(set(statuses))
