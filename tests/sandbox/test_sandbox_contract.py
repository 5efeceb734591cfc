"""Contract walk: every endpoint the sandbox emulates answers what Pleo's specs declare.

Two independent checks on every response of a scripted walk over all implemented operations:

* the sandbox's own strict validation (jsonschema only, on the converted schemas, in full);
* openapi-core on the published YAML itself (3.2.0 read as 3.1.0, as the spec README says,
  and with the display-format ``pattern`` on date-time fields removed, which no real
  timestamp can match, and with the length bounds of ``BookkeepingAccountBatchRequestItemV1``
  removed: the batch echoes a too-long item back in ``failed[].request`` with the reason
  ``NAME_TOO_LONG``, which the bounds would forbid), so a mistake in the sandbox's schema
  conversion cannot hide one in its responses.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from pleo_erp.testing.sandbox import PleoSandbox
from pleo_erp.testing.sandbox._spec import load_spec_index, spec_documents
from pleo_erp.testing.sandbox._validation import use_reference_validation

HOST = "https://external.pleo.io"


def _prepared(doc: dict[str, Any]) -> dict[str, Any]:
    prepared = copy.deepcopy(doc)
    if str(prepared["openapi"]).startswith("3.2"):
        prepared["openapi"] = "3.1.0"

    def drop(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("format") in ("date", "date-time"):
                node.pop("pattern", None)
            for value in node.values():
                drop(value)
        elif isinstance(node, list):
            for value in node:
                drop(value)

    drop(prepared)
    batch_item = (
        prepared.get("components", {})
        .get("schemas", {})
        .get("BookkeepingAccountBatchRequestItemV1")
    )
    for prop in (batch_item or {}).get("properties", {}).values():
        prop.pop("maxLength", None)
        prop.pop("minLength", None)
    return prepared


@pytest.fixture(scope="module")
def apis() -> dict[str, tuple[OpenAPI, dict[str, Any]]]:
    """Route template -> (openapi-core spec, raw path item) for every published path."""
    found: dict[str, tuple[OpenAPI, dict[str, Any]]] = {}
    for doc in spec_documents():
        # The specs' own validity is checked elsewhere; skipping it keeps this file fast.
        api = OpenAPI.from_dict(_prepared(doc), config=Config(spec_validator_cls=None))
        for template, item in doc["paths"].items():
            found[template] = (api, item)
    return found


@pytest.fixture(autouse=True)
def reference_validation() -> Iterator[None]:
    use_reference_validation(True)
    yield
    use_reference_validation(False)


class Recorder:
    """An httpx transport into the sandbox that keeps every exchange."""

    def __init__(self, sandbox: PleoSandbox) -> None:
        self.sandbox = sandbox
        self.exchanges: list[tuple[httpx.Request, int, dict[str, str], bytes]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        status, headers, body = self.sandbox.handle(
            request.method,
            request.url.path,
            request.url.params.multi_items(),
            request.headers.multi_items(),
            request.content,
            base_url=HOST,
        )
        self.exchanges.append((request, status, dict(headers), body))
        return httpx.Response(status, headers=headers, content=body)


def walk(http: httpx.Client, sandbox: PleoSandbox, company: str) -> None:
    """Call every emulated operation, successes and documented errors."""

    def ok(response: httpx.Response, *codes: int) -> Any:
        assert response.status_code in codes, (response.request.url, response.text)
        return response.json() if response.content else None

    missing = "00000000-0000-4000-8000-000000000000"
    # Export API
    entries = sandbox.add_export_items(company, 3)
    job = ok(
        http.post("/v3/export-jobs", json={"companyId": company, "accountingEntryIds": entries}),
        201,
    )["data"]
    ok(http.get("/v3/export-jobs", params={"company_id": company, "statuses": ["pending"]}), 200)
    ok(http.get(f"/v3/export-jobs/{job['id']}"), 200)
    ok(http.get(f"/v3/export-jobs/{missing}"), 404)
    ok(http.get("/v3/export-items", params={"job_id": job["id"]}), 200)
    ok(http.post("/v3/export-job-events", json={"event": "started", "jobId": job["id"]}), 202)
    ok(
        http.post("/v3/export-jobs", json={"companyId": company, "accountingEntryIds": entries}),
        409,
    )
    ok(http.post("/v3/export-job-events", json={"event": "started", "jobId": job["id"]}), 422)
    ok(
        http.get(f"/v3/export-jobs/{job['id']}/items", params={"status": "pending", "limit": 2}),
        200,
    )
    ok(http.get(f"/v3/export-jobs/{missing}/items"), 404)
    updates = [
        {
            "accountingEntryId": entries[0],
            "status": "successful",
            "externalId": "JE-1",
            "externalUrl": "https://erp/1",
            "exportedAt": "2026-10-01T09:00:00Z",
        },
        {
            "accountingEntryId": entries[1],
            "status": "failed",
            "failureReason": "No",
            "failureReasonType": "account_unknown",
        },
        {"accountingEntryId": missing, "status": "successful"},
    ]
    ok(http.put(f"/v3/export-jobs/{job['id']}/items", json=updates), 200)
    ok(http.put(f"/v3/export-jobs/{job['id']}/items", json=updates * 34), 413)
    ok(http.put(f"/v3/export-jobs/{missing}/items", json=updates[:1]), 404)
    ok(
        http.post(
            "/v3/export-job-events",
            json={
                "event": "failed",
                "jobId": job["id"],
                "failureReason": "x",
                "failureReasonType": "validation_failure",
            },
        ),
        202,
    )
    ok(http.get(f"/v3/export-jobs/{job['id']}"), 200)
    ok(http.put(f"/v3/export-jobs/{job['id']}/items", json=updates[:1]), 422)
    ok(http.get("/v3/export-items", params={"job_id": job["id"]}), 422)
    sandbox.set_missing_contra_accounts(company)
    ok(
        http.post("/v3/export-jobs", json={"companyId": company, "accountingEntryIds": entries}),
        400,
    )
    sandbox.set_missing_contra_accounts(company, False)
    # Tag groups and tags
    group = ok(
        http.post(
            "/v0/tag-groups",
            params={"company_id": company},
            json={"code": "DEPT", "name": "Department", "archived": False},
        ),
        200,
    )["data"]
    ok(
        http.get("/v0/tag-groups", params={"company_id": company, "include_tags_count": "true"}),
        200,
    )
    ok(http.get(f"/v0/tag-groups/{group['id']}"), 200)
    ok(
        http.put(
            f"/v0/tag-groups/{group['id']}",
            json={"code": "DEPT", "name": "Dept", "archived": False, "metadata": {"a": "b"}},
        ),
        200,
    )
    tag = ok(
        http.post(
            f"/v0/tag-groups/{group['id']}/tags",
            json={"code": "ENG", "name": "Eng", "archived": False},
        ),
        201,
    )["data"]
    ok(
        http.post(f"/v0/tag-groups/{group['id']}/tags", json={"code": "ENG", "archived": False}),
        409,
    )
    ok(http.get(f"/v0/tag-groups/{group['id']}/tags", params={"include_archived": "true"}), 200)
    ok(http.get(f"/v0/tags/{tag['id']}"), 200)
    ok(http.get(f"/v0/tags/{missing}"), 404)
    ok(http.put(f"/v0/tags/{tag['id']}", json={"code": "ENG", "archived": True}), 200)
    ok(
        http.post(
            "/v0/tags:search", params={"company_id": company}, json={"includeArchived": True}
        ),
        200,
    )
    ok(http.get("/v0/tags", params={"company_id": company}), 200)
    ok(
        http.post(
            "/v0/tags/archive",
            json={"archived": False, "companyId": company, "tagIds": [tag["id"]]},
        ),
        200,
    )
    ok(http.delete(f"/v0/tags/{tag['id']}"), 204)
    other = ok(
        http.post(f"/v0/tag-groups/{group['id']}/tags", json={"code": "X", "archived": False}), 201
    )["data"]
    ok(
        http.request("DELETE", "/v0/tags", json={"companyId": company, "tagIds": [other["id"]]}),
        204,
    )
    ok(http.delete(f"/v0/tag-groups/{group['id']}"), 204)
    # Tax codes
    tax = ok(
        http.post(
            "/v0/tax-codes",
            json={
                "companyId": company,
                "name": "VAT",
                "rate": 0.25,
                "type": "inclusive",
                "archived": False,
                "code": "V25",
            },
        ),
        200,
    )["data"]
    ok(http.get(f"/v0/tax-codes/{tax['id']}"), 200)
    ok(
        http.put(
            f"/v0/tax-codes/{tax['id']}",
            json={
                "companyId": company,
                "name": "VAT 25",
                "rate": 0.25,
                "type": "reverse",
                "archived": False,
                "code": "V25",
            },
        ),
        200,
    )
    ok(
        http.post("/v0/tax-codes:search", params={"company_id": company}, json={"archived": False}),
        200,
    )
    # Chart of accounts
    body = {
        "companyId": company,
        "externalId": "6010",
        "name": "Travel",
        "archived": False,
        "code": "6010",
        "taxCodeExternalId": "V25",
        "metadata": {"k": {"x": 1}},
    }
    account = ok(http.post("/v1/chart-of-accounts", json=body), 201)["data"]
    ok(http.post("/v1/chart-of-accounts", json=body), 200)
    ok(http.post("/v1/chart-of-accounts", json={**body, "name": "Other"}), 409)
    ok(
        http.post(
            "/v1/chart-of-accounts/batch",
            json={
                "companyId": company,
                "items": [
                    {"externalId": "6020", "name": "Meals", "archived": False},
                    {"externalId": "6010", "name": "x" * 300, "archived": False},
                ],
            },
        ),
        201,
    )
    ok(http.get(f"/v1/chart-of-accounts/{account['id']}"), 200)
    ok(http.get(f"/v1/chart-of-accounts/{missing}"), 404)
    ok(
        http.put(
            f"/v1/chart-of-accounts/{account['id']}", json={"name": "Travel", "archived": True}
        ),
        200,
    )
    ok(
        http.post(
            "/v1/chart-of-accounts:search",
            json={
                "companyId": company,
                "excludeIfAssignedToCategory": False,
                "excludeIfAssignedToContraAccount": False,
            },
        ),
        200,
    )
    ok(http.delete(f"/v1/chart-of-accounts/{account['id']}"), 204)
    ok(http.delete(f"/v0/tax-codes/{tax['id']}"), 204)
    # Installations, subscriptions
    ok(http.get("/v1/installations/me"), 404)
    ok(http.post("/v1/installations/me", json={"metadata": {"a": {}}}), 200)
    ok(http.get("/v1/installations/me"), 200)
    ok(http.put("/v1/installations/me", json={"status": "ERROR", "errorCode": "NOT_ENTITLED"}), 200)
    ok(http.post("/v1/installations/me:activate"), 200)
    ok(http.put("/v1/installations/completions"), 200)
    ok(http.delete("/v1/installations/me"), 204)
    sub = ok(
        http.post(
            "/v1/subscriptions",
            json={"endpointUrl": "https://x.example/h", "eventTypes": ["v1.export-job.created"]},
        ),
        200,
    )["data"]
    ok(http.get("/v1/subscriptions"), 200)
    ok(http.get(f"/v1/subscriptions/{sub['id']}"), 200)
    ok(
        http.put(
            f"/v1/subscriptions/{sub['id']}",
            json={
                "endpointUrl": "https://x.example/2",
                "eventTypes": ["v1.export-job.created"],
                "status": "INACTIVE",
            },
        ),
        200,
    )
    ok(http.get(f"/v1/subscriptions/{sub['id']}/activities"), 200)
    ok(http.get(f"/v1/subscriptions/{sub['id']}/secret"), 200)
    ok(http.delete(f"/v1/subscriptions/{sub['id']}"), 204)
    ok(http.get(f"/v1/subscriptions/{missing}"), 404)
    ok(http.get("/v1/introspect"), 200)
    # Unimplemented and unknown routes answer in ExceptionInfo shape too.
    ok(http.post("/v0/tax-codes:calculate-tax-amounts", json={"amountsByTaxCodeId": {}}), 501)
    ok(http.get("/v9/nothing"), 404)


def test_every_response_of_the_walk_conforms_to_the_published_specs(
    apis: dict[str, tuple[OpenAPI, dict[str, Any]]],
) -> None:
    sandbox = PleoSandbox(seed=21, validate_responses="full", strict=True)
    company = sandbox.add_company()
    recorder = Recorder(sandbox)
    key = base64.b64encode(f"{sandbox.issue_api_key(company)}:".encode()).decode()
    with httpx.Client(
        transport=httpx.MockTransport(recorder),
        base_url=HOST,
        headers={"Authorization": f"Basic {key}"},
    ) as http:
        walk(http, sandbox, company)
    assert sandbox.contract_violations == []
    index = load_spec_index()
    checked: set[tuple[str, str, int]] = set()
    for request, status, headers, body in recorder.exchanges:
        matched = index.match(request.url.path)
        if matched is None:
            continue
        template = matched[0]
        api, item = apis[template]
        responses = item[request.method.lower()]["responses"]
        declared = responses.get(str(status)) or (
            responses.get("default") if status < 400 else None
        )
        if declared is None or not declared.get("content"):
            # Error statuses the spec lists without a body (or not at all): Pleo's ExceptionInfo.
            if status >= 400:
                assert set(json.loads(body)) <= {"type", "message"}, body
            else:
                assert body == b"", (template, status, body)
            continue
        if not any((media or {}).get("schema") for media in declared["content"].values()):
            assert body == b"", (template, status, body)  # e.g. DELETE: a media type, no schema
            continue
        api.validate_response(
            MockRequest(HOST, request.method.lower(), request.url.path),
            MockResponse(body, status_code=status, content_type=headers["Content-Type"]),
        )
        checked.add((request.method, template, status))
    # Every operation the sandbox emulates was called, and every success body was checked.
    called = {(r.method, m[0]) for r, *_ in recorder.exchanges if (m := index.match(r.url.path))}
    emulated = set(sandbox.app.spec_routes)
    assert emulated <= called, sorted(emulated - called)
    assert len({(m, t) for m, t, status in checked if status < 300}) >= 35
