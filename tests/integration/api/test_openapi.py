"""The OpenAPI schema and Swagger UI are served and describe our error body."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_openapi_json_lists_routes(client: TestClient) -> None:
    """/openapi.json is public and names the platform routes."""
    response = client.get("/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["info"]["title"] == "potok"
    assert {"/api/health", "/api/auth/token", "/api/auth/me"} <= set(schema["paths"])


def test_openapi_errors_use_the_error_body(client: TestClient) -> None:
    """422s are documented as our error body, not FastAPI's HTTPValidationError."""
    schema = client.get("/openapi.json").json()
    login = schema["paths"]["/api/auth/token"]["post"]["responses"]
    assert login["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorRead"
    }
    assert "HTTPValidationError" not in schema["components"]["schemas"]


def test_openapi_schemas_have_examples(client: TestClient) -> None:
    """Request and response schemas carry examples for integrators."""
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    for name in ("TokenCreate", "TokenRead", "HealthRead", "ErrorRead", "MeRead"):
        assert schemas[name]["examples"], name


def test_openapi_declares_bearer_auth(client: TestClient) -> None:
    """Swagger's Authorize button knows the bearer scheme."""
    schema = client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_swagger_ui_is_served(client: TestClient) -> None:
    """/docs renders Swagger UI pointing at /openapi.json."""
    response = client.get("/docs")
    assert response.status_code == 200
    assert "swagger-ui" in response.text and "/openapi.json" in response.text
