"""The OpenAPI document of the live gateway: what it declares, and a schemathesis run against the running
stack (real HTTP, gRPC and SQLite) that finds no 5xx and no response breaking the document."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.stack import Stack

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def tenant(stack: Stack) -> dict[str, Any]:
    tenant = stack.tenant(credits=120 * 1000)
    # A job and its container, so the job and content reads answer 200 for real ids too.
    with stack.http(tenant["apiKey"]) as client:
        job = client.post(
            f"/v1/projects/{tenant['projectId']}/content/ugc-remix", json={"influencerId": tenant["influencerId"]}
        ).json()
    return {**tenant, "jobId": job["jobId"], "containerId": job["containerIds"][0]}


@pytest.fixture(scope="module")
def document(stack: Stack) -> dict[str, Any]:
    response = httpx.get(f"{stack.base_url}/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


def test_every_operation_is_described(document: dict[str, Any]) -> None:
    paths = document["paths"]
    assert {
        "/v1/projects/{projectId}/content/ugc-remix",
        "/v1/projects/{projectId}/app-media",
        "/v1/projects/{projectId}/media",
        "/v1/projects/{projectId}/influencers",
        "/v1/projects/{projectId}/social-accounts",
        "/v1/jobs/{jobId}",
        "/v1/content/{containerId}",
        "/v1/credits",
        "/v1/whoami",
        "/v1/webhook-endpoints",
        "/v1/webhook-endpoints/{endpointId}",
        "/v1/webhook-endpoints/{endpointId}/rotate-secret",
        "/v1/webhook-endpoints/{endpointId}/test",
        "/v1/webhook-endpoints/{endpointId}/deliveries",
        "/v1/webhook-deliveries/{deliveryId}/replay",
        "/healthz",
        "/readyz",
    } <= set(paths)
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    envelope = {"$ref": "#/components/schemas/ErrorEnvelope"}
    not_ready = {"$ref": "#/components/schemas/NotReady"}
    for path, operations in paths.items():
        for method, operation in operations.items():
            responses = operation["responses"]
            success = [code for code in responses if code.startswith("2")]
            assert success, (method, path)
            errors = [code for code in responses if code[0] in "45"]
            assert {"500", "503"} <= set(errors), (method, path)
            if method == "head":  # headers only
                assert not any("content" in responses[code] for code in responses), path
                continue
            for code in success:
                if code == "204":  # no content, by definition
                    assert "content" not in responses[code], (method, path)
                    continue
                assert all(media["schema"] for media in responses[code]["content"].values()), (method, path, code)
            for code in errors:
                # Every error is the envelope, but for readyz's 503: the body that says what is not ready.
                body = not_ready if (path, code) == ("/readyz", "503") else envelope
                assert responses[code]["content"]["application/json"]["schema"] == body, (method, path, code)
            if "security" in operation:
                assert {"401", "429"} <= set(errors), (method, path)
                assert operation.get("x-required-scope") or path == "/v1/whoami", (method, path)
                assert "403" in errors or path == "/v1/whoami", (method, path)
                assert responses[success[0]]["headers"]["X-RateLimit-Remaining"]
            elif path.startswith("/v1/"):  # the signed download links: the signature is the authority
                assert "/assets/" in path and "403" in errors and "416" in errors, (method, path)
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_scopes_error_codes_and_seed_examples_are_documented(document: dict[str, Any]) -> None:
    remix = document["paths"]["/v1/projects/{projectId}/content/ugc-remix"]["post"]
    assert remix["x-required-scope"] == "content:write"
    assert remix["security"] == [{"HTTPBearer": ["content:write"]}]
    assert remix["requestBody"]["content"]["application/json"]["example"] == {"influencerId": "inf_4a8e1bc2..."}
    assert remix["responses"]["202"]["content"]["application/json"]["example"]["kind"] == "content_generate"
    assert {"402", "404", "409", "413", "422", "429"} <= set(remix["responses"])
    missing = remix["responses"]["422"]["content"]["application/json"]["examples"]["missingAppDemo"]["value"]
    assert missing["error"]["details"] == {"code": "MISSING_APP_DEMO", "format": "ugc-remix"}
    details = document["components"]["schemas"]["ErrorDetails"]["properties"]
    codes = next(s for s in details["code"]["anyOf"] if "enum" in s)["enum"]
    assert set(codes) == {
        "INFLUENCER_REQUIRED", "ACCOUNT_NOT_WIRED", "NO_CONTENT_LAYER_WIRED", "INFLUENCER_NOT_WIRED", "MISSING_APP_DEMO"
    }  # fmt: skip
    media = document["paths"]["/v1/projects/{projectId}/app-media"]["post"]
    assert media["x-required-scope"] == "projects:write"
    assert set(media["requestBody"]["content"]) == {"multipart/form-data", "application/json"}
    assert document["paths"]["/v1/projects/{projectId}/media"]["get"]["x-required-scope"] == "projects:read"
    assert document["paths"]["/v1/credits"]["get"]["x-required-scope"] == "credits:read"


def test_interactive_docs_and_health_are_served(stack: Stack) -> None:
    docs = httpx.get(f"{stack.base_url}/docs")
    assert docs.status_code == 200 and "swagger-ui" in docs.text and "/openapi.json" in docs.text
    # Everything the page loads is served here (works offline), not from a CDN.
    assets = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
    assert assets and all(a.startswith("/docs/assets/") for a in assets), assets
    for asset in assets:
        assert httpx.get(f"{stack.base_url}{asset}").status_code == 200, asset
    health = httpx.get(f"{stack.base_url}/healthz")
    assert health.status_code == 200 and health.json() == {"status": "ok"}


def test_schemathesis_finds_no_server_error_and_no_schema_violation(stack: Stack, tenant: dict[str, Any]) -> None:
    """Every operation, with generated requests (examples first), through the live stack."""
    schema = schemathesis.openapi.from_url(f"{stack.base_url}/openapi.json")
    # Aim most requests at real resources so they get past the 404 into the real work.
    real = {"projectId": tenant["projectId"], "jobId": tenant["jobId"], "containerId": tenant["containerId"]}
    headers = {"Authorization": f"Bearer {tenant['apiKey']}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 17

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=12,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def call(case: schemathesis.Case) -> None:
            for name in case.path_parameters or {}:
                if name in real and hash(str(case.path_parameters[name])) % 4:
                    case.path_parameters[name] = real[name]
            # A URL import fetches what it is given: keep generated URLs off the network (the guard
            # refuses loopback without connecting).
            if isinstance(case.body, dict) and isinstance(case.body.get("url"), str):
                case.body["url"] = "https://127.0.0.1/generated.mp4"
            case.call_and_validate(base_url=stack.base_url, headers=headers, checks=CHECKS)

        call()
