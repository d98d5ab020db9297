"""Property-based fuzzing of every operation in /openapi.json against a real database.

For each operation schemathesis generates valid and invalid requests (bounded examples) as
an admin; every answer must be a non-5xx whose status, content type, headers and body match
what the schema documents. (Driven through `as_strategy` + hypothesis: schemathesis' pytest
integration does not run under this pytest version.)
"""

from __future__ import annotations

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode, checks
from schemathesis.core.result import Ok
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi import checks as openapi_checks

from tests.integration.api.conftest import REVIEW_FILES, Deploy
from tests.integration.api.helpers import TestUser

MAX_EXAMPLES = 20
CHECKS = [
    checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.response_schema_conformance,
]


def _fuzz(operation: APIOperation, mode: GenerationMode, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()


@pytest.mark.timeout(900)
def test_api_conforms_to_its_schema(app: FastAPI, deploy: Deploy, admin: TestUser) -> None:
    """No operation answers 5xx or anything its schema does not document."""
    deploy(*REVIEW_FILES)  # so some keys and ids exist
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    results = list(schema.get_all_operations())
    operations = [r.ok() for r in results if isinstance(r, Ok)]
    assert len(operations) == len(results), "the schema has operations schemathesis cannot read"
    assert len(operations) >= 17
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz(operation, mode, admin.headers)
            except Unsatisfiable:
                continue  # nothing to make invalid (e.g. no parameters at all)
            # Hypothesis raises failure groups; collect every operation's, not just the first.
            except (Exception, BaseExceptionGroup) as exc:
                failures.append(
                    f"{operation.method.upper()} {operation.path} [{mode.value}]: {exc}"
                )
    assert not failures, "\n\n".join(failures)
