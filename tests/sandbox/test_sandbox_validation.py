"""PleoSandbox: request validation (400 naming the problem), strict responses, schema conversion."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pleo_erp.testing.sandbox import PleoSandbox, SandboxContractError
from pleo_erp.testing.sandbox._fastschema import compile_check
from pleo_erp.testing.sandbox._spec import convert_schema, load_spec_index
from pleo_erp.testing.sandbox._validation import (
    _FAST_FORMATS,
    schema_error,
    validator_for,
)
from pleo_erp.testing.sandbox.demo import build_demo

pytestmark = pytest.mark.sandbox(seed=23)


@pytest.fixture
def http(sandbox: PleoSandbox, company: str) -> Iterator[httpx.Client]:
    with sandbox.http_client(sandbox.issue_api_key(company)) as client:
        yield client


# -- requests ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "fragment"),
    [
        (
            "GET",
            "/v3/export-jobs",
            {"params": {"companyId": "x"}},
            "Unknown query parameter(s) 'companyId'",
        ),
        ("GET", "/v3/export-jobs", {"params": {"statuses": "running"}}, "'running' is not one of"),
        (
            "GET",
            "/v3/export-jobs",
            {"params": {"statuses": "pending,in_progress"}},
            "is not one of",
        ),
        ("GET", "/v3/export-jobs", {"params": {"company_id": "acme"}}, "'acme' is not a 'uuid'"),
        ("GET", "/v3/export-jobs/not-a-uuid", {}, "Path parameter 'jobId'"),
        ("GET", "/v0/tag-groups", {"params": {"include_archived": "yes"}}, "is not true or false"),
        (
            "GET",
            "/v3/export-jobs",
            {"params": [("company_id", "a"), ("company_id", "b")]},
            "given 2 times",
        ),
        (
            "POST",
            "/v3/export-job-events",
            {"json": {"event": "started", "exportJobId": "x"}},
            "'jobId' is a required property",
        ),
        (
            "POST",
            "/v3/export-job-events",
            {"json": {"event": "begun", "jobId": "00000000-0000-4000-8000-000000000000"}},
            "$.event",
        ),
        (
            "PUT",
            "/v3/export-jobs/00000000-0000-4000-8000-000000000000/items",
            {
                "json": [
                    {"accountingEntryId": "00000000-0000-4000-8000-000000000000", "status": "done"}
                ]
            },
            "$[0].status",
        ),
        (
            "PUT",
            "/v3/export-jobs/00000000-0000-4000-8000-000000000000/items",
            {
                "json": [
                    {
                        "accountingEntryId": "00000000-0000-4000-8000-000000000000",
                        "status": "failed",
                        "failureReasonType": "job_expired",
                    }
                ]
            },
            "$[0].failureReasonType",
        ),
        (
            "POST",
            "/v1/chart-of-accounts",
            {"json": {"externalId": "x", "name": "y", "archived": False}},
            "'companyId' is a required property",
        ),
        (
            "POST",
            "/v0/tax-codes",
            {
                "json": {
                    "companyId": "00000000-0000-4000-8000-000000000000",
                    "name": "n",
                    "rate": "0.25",
                    "type": "inclusive",
                    "archived": False,
                }
            },
            "$.rate",
        ),
        (
            "POST",
            "/v1/subscriptions",
            {"json": {"endpointUrl": "https://x", "eventTypes": ["a"], "secret": "no"}},
            "Additional properties are not allowed ('secret'",
        ),
        (
            "POST",
            "/v1/chart-of-accounts",
            {"content": b"{not json", "headers": {"Content-Type": "application/json"}},
            "not valid JSON",
        ),
        (
            "PUT",
            "/v1/chart-of-accounts/00000000-0000-4000-8000-000000000000",
            {},
            "requires a JSON request body",
        ),
    ],
)
def test_non_conforming_requests_get_a_400_naming_the_problem(
    http: httpx.Client, method: str, path: str, kwargs: dict[str, Any], fragment: str
) -> None:
    response = http.request(method, path, **kwargs)
    assert response.status_code == 400, response.text
    assert fragment in response.json()["message"]


def test_json_body_needs_a_json_content_type(http: httpx.Client, company: str) -> None:
    response = http.post(
        "/v1/chart-of-accounts",
        content=json.dumps(
            {"companyId": company, "externalId": "x", "name": "y", "archived": False}
        ),
        headers={"Content-Type": "text/plain"},
    )
    assert response.status_code == 415


def test_unknown_route_404_and_wrong_method_405(http: httpx.Client) -> None:
    assert http.get("/v2/export-jobs").status_code == 404
    wrong = http.delete("/v3/export-jobs")
    assert wrong.status_code == 405
    assert "GET, POST" in wrong.json()["message"]
    assert wrong.headers["Allow"] == "GET, POST"  # RFC 9110 §15.5.6: a 405 carries Allow


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PATCH", "/v3/export-jobs/00000000-0000-4000-8000-000000000000", "GET"),
        ("GET", "/v3/export-job-events", "POST"),
        ("OPTIONS", "/v0/tags", "DELETE, GET"),
        ("GET", "/_sandbox/clock:advance", "POST"),  # a sandbox-only route
        ("DELETE", "/v1/introspect", "GET"),  # a route outside the published specs
    ],
)
def test_every_405_names_the_allowed_methods_in_an_allow_header(
    http: httpx.Client, method: str, path: str, allow: str
) -> None:
    response = http.request(method, path)
    assert response.status_code == 405, response.text
    assert response.headers["Allow"] == allow
    body = response.json()
    assert body["type"] == "METHOD_NOT_ALLOWED"
    assert body["message"].startswith(f"{method} is not allowed on ")
    assert body["message"].endswith(f"(allowed: {allow})")


def test_unemulated_operations_are_501(http: httpx.Client) -> None:
    response = http.get("/v0/aggregations/tag-groups")
    assert response.status_code == 501
    assert "getAggregatedTagGroups" in response.json()["message"]


def test_request_validation_can_be_switched_off(company: str) -> None:
    sandbox = PleoSandbox(validate_requests=False)
    sandbox.add_company(company_id=company)
    with sandbox.http_client() as http:
        lenient = http.get(
            "/v3/export-jobs", params={"company_id": company, "companyId": "ignored"}
        )
    assert lenient.status_code == 200


# -- responses --------------------------------------------------------------------------


def test_a_response_breaking_the_spec_raises_in_strict_mode(
    sandbox: PleoSandbox, company: str
) -> None:
    job_id = sandbox.create_export_job(company, 1)
    sandbox.state.jobs[job_id].data["numberOfItems"] = "one"  # corrupt what the route will send
    with (
        sandbox.http_client() as http,
        pytest.raises(SandboxContractError, match=r"\$.data.numberOfItems"),
    ):
        http.get(f"/v3/export-jobs/{job_id}")
    assert len(sandbox.contract_violations) == 1


def test_non_strict_mode_records_the_violation_and_answers(company: str) -> None:
    sandbox = PleoSandbox(strict=False)
    sandbox.add_company(company_id=company)
    job_id = sandbox.create_export_job(company, 1)
    sandbox.state.jobs[job_id].data["surprise"] = True  # a key Pleo never sends
    with sandbox.http_client() as http:
        assert http.get(f"/v3/export-jobs/{job_id}").status_code == 200
    assert "surprise" in sandbox.contract_violations[0]


def test_sample_mode_checks_the_envelope_and_some_elements(company: str) -> None:
    sandbox = PleoSandbox(validate_responses="sample")
    sandbox.add_company(company_id=company)
    job_id = sandbox.create_export_job(company, 10)
    items = sandbox.state.jobs[job_id].items
    items[4]["status"] = 1  # not sampled: first, middle (5) and last are
    with sandbox.http_client() as http:
        assert http.get(f"/v3/export-jobs/{job_id}/items").status_code == 200
        items[9]["status"] = 1
        with pytest.raises(SandboxContractError):
            http.get(f"/v3/export-jobs/{job_id}/items")


# -- schema conversion ------------------------------------------------------------------


def test_conversion_of_openapi_idioms() -> None:
    components: dict[str, dict[str, Any]] = {
        "Nullable30": {"type": "string", "nullable": True, "enum": ["A", "B"]},
        "Date": {"type": "string", "format": "date-time", "pattern": "YYYY-MM-DDTHH:mi:ssZ"},
        "Ids": {"type": "array", "maxLength": 100, "minLength": 1, "items": {"type": "string"}},
        "Closed": {
            "type": "object",
            "properties": {"a": {"$ref": "#/components/schemas/Date"}},
            "description": "docs",
            "example": {"a": "x"},
            "x-internal": True,
        },
        "Map": {"type": "object", "additionalProperties": {"type": "string"}},
    }
    converted = {name: convert_schema(schema, components) for name, schema in components.items()}
    assert converted["Nullable30"] == {"type": ["string", "null"], "enum": ["A", "B", None]}
    assert converted["Date"] == {"type": "string", "format": "date-time"}
    assert converted["Ids"] == {
        "type": "array",
        "maxItems": 100,
        "minItems": 1,
        "items": {"type": "string"},
    }
    assert converted["Closed"] == {
        "type": "object",
        "properties": {"a": {"type": "string", "format": "date-time"}},
        "additionalProperties": False,
    }
    assert converted["Map"] == {"type": "object", "additionalProperties": {"type": "string"}}


def test_real_timestamps_pass_the_converted_date_time_fields() -> None:
    job_schema = load_spec_index().schema("ExportJobV3")
    job = {
        "id": "00000000-0000-4000-8000-000000000000",
        "companyId": "00000000-0000-4000-8000-000000000001",
        "status": "pending",
        "createdAt": "2026-10-01T09:00:00Z",
        "expiresIn": 3600,
        "numberOfItems": 1,
        "isInteractive": True,
        "vendorBasedBookkeeping": False,
    }
    assert schema_error(job_schema, job) is None
    assert schema_error(job_schema, {**job, "createdAt": "2026-13-01T09:00:00Z"}) is not None
    assert schema_error(job_schema, {**job, "createdAt": "yesterday"}) is not None


# -- the compiled fast check never accepts what jsonschema refuses -----------------------

_DEMO = build_demo(2, 5)
_CASES: list[tuple[str, Any]] = (
    [("ExportItemV3", item) for item in _DEMO.items()]
    + [("ExportJobV3", demo_job.job) for demo_job in _DEMO.jobs]
    + [("BookkeepingAccountRestModelV1", account) for account in _DEMO.accounts]
    + [("TaxCodeModel", tax) for tax in _DEMO.tax_codes]
    + [
        ("TagGroupModel", {k: v for k, v in group.items() if k != "tags"})
        for group in _DEMO.tag_groups
    ]
)
_WRONG_VALUES = [
    None,
    0,
    1.5,
    -1,
    True,
    "",
    "x",
    "2026-10-01T09:00:00Z",
    [],
    {},
    ["x"],
    {"k": "v"},
    "00000000-0000-4000-8000-000000000000",
    2**40,
]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found.extend(_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_paths(value, (*prefix, index)))
    return found


def _mutate(document: Any, path: tuple[Any, ...], action: str, key: str, value: Any) -> None:
    """Apply one mutation to ``document`` in place.

    ``value`` is copied: the samples of ``_WRONG_VALUES`` are shared by every example, and a
    later mutation inside an inserted ``[]`` / ``{}`` must change this document only (sharing
    them once built a self-referencing document and a ``RecursionError``).
    """
    parent = document
    for part in path[:-1]:
        parent = parent[part]
    if action == "replace":
        parent[path[-1]] = copy.deepcopy(value)
    elif action == "delete":
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent[key] = copy.deepcopy(value)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, Any]:
    name, original = draw(st.sampled_from(_CASES))
    document = copy.deepcopy(original)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(document)))
        if not path:
            continue
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        key = draw(st.sampled_from(["extra", "id", "note", "code"]))
        _mutate(document, path, action, key, draw(st.sampled_from(_WRONG_VALUES)))
    return name, document


def test_mutations_never_change_the_shared_wrong_values() -> None:
    """Regression: replace a field by the ``{}`` sample, then add into it, twice over: the
    sample stays ``{}`` and the document stays a finite tree (no ``RecursionError``)."""
    snapshot = copy.deepcopy(_WRONG_VALUES)
    empty_object = next(v for v in _WRONG_VALUES if v == {})
    document: dict[str, Any] = {"a": 1, "b": 2}
    _mutate(document, ("a",), "replace", "", empty_object)
    _mutate(document, ("a", "x"), "add", "extra", empty_object)
    _mutate(document, ("b",), "replace", "", empty_object)
    _mutate(document, ("b", "x"), "add", "extra", empty_object)
    _mutate(document, ("b", "extra", "x"), "add", "extra", ["x"])
    _mutate(document, ("b", "extra", "extra", 0), "delete", "", None)
    assert snapshot == _WRONG_VALUES
    assert document == {"a": {"extra": {}}, "b": {"extra": {"extra": []}}}
    assert json.dumps(document)  # finite: a self-referencing document raises here


@settings(max_examples=200, deadline=None)
@given(mutated())
def test_fast_check_agrees_with_jsonschema(case: tuple[str, Any]) -> None:
    name, document = case
    schema = load_spec_index().schema(name)
    fast = compile_check(schema, _FAST_FORMATS)
    assert fast is not None
    reference = validator_for(schema).is_valid(document)
    # Never more lenient than the reference; and no slower path for valid documents.
    assert fast(document) == reference


def test_fast_check_accepts_every_valid_demo_document() -> None:
    for name, document in _CASES:
        fast = compile_check(load_spec_index().schema(name), _FAST_FORMATS)
        assert fast is not None
        assert fast(document), name


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("2026-10-01T09:00:00Z", True),
        ("2026-10-01T09:00:00.5Z", True),
        ("2026-10-01T09:00:00.1234567891+02:00", True),
        ("2026-10-01t09:00:00z", True),
        ("2026-02-30T09:00:00Z", False),
        ("2026-10-01 09:00:00Z", False),
        ("2026-10-01T09:00:00", False),
    ],
)
def test_date_time_format_is_rfc_3339(value: str, valid: bool) -> None:
    schema = {"type": "string", "format": "date-time"}
    assert (schema_error(schema, value) is None) is valid
