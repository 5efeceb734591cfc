"""PleoSandbox: fault injection per route and call number, and at a seeded random rate."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from pleo_erp.testing.sandbox import PleoSandbox
from pleo_erp.testing.sandbox._faults import FaultPlan, route_matches

pytestmark = pytest.mark.sandbox(seed=29)


@pytest.fixture
def http(sandbox: PleoSandbox, company: str) -> Iterator[httpx.Client]:
    with sandbox.http_client(sandbox.issue_api_key(company)) as client:
        yield client


@pytest.mark.parametrize(
    ("route", "method", "path", "expected"),
    [
        ("PUT /v3/export-jobs/*/items", "PUT", "/v3/export-jobs/abc/items", True),
        ("PUT /v3/export-jobs/*/items", "GET", "/v3/export-jobs/abc/items", False),
        ("PUT /v3/export-jobs/*/items", "PUT", "/v3/export-jobs/abc", False),
        ("/v3/export-jobs/*", "GET", "/v3/export-jobs/abc", True),
        ("/v3/export-jobs/*", "GET", "/v3/export-jobs/abc/items", False),
        ("GET /v3/**", "GET", "/v3/export-jobs/abc/items", True),
        ("* /v0/tags:*", "POST", "/v0/tags:search", True),
        (None, "DELETE", "/anything", True),
    ],
)
def test_route_patterns(route: str | None, method: str, path: str, expected: bool) -> None:
    assert route_matches(route, method, path) is expected


def test_rate_limited_on_chosen_calls_with_retry_after(
    sandbox: PleoSandbox, http: httpx.Client
) -> None:
    sandbox.faults.add("GET /v3/export-jobs", kind="rate_limited", on_calls={2, 3}, retry_after=7)
    statuses = [http.get("/v3/export-jobs") for _ in range(4)]
    assert [r.status_code for r in statuses] == [200, 429, 429, 200]
    assert statuses[1].headers["Retry-After"] == "7"
    assert statuses[1].json()["type"] == "TOO_MANY_REQUESTS"
    assert [r.fault for r in sandbox.requests] == [None, "rate_limited", "rate_limited", None]


@pytest.mark.parametrize(
    ("kind", "status", "status_override"),
    [
        ("server_error", 500, None),
        ("server_error", 504, 504),
        ("bad_gateway", 502, None),
        ("service_unavailable", 503, None),
    ],
)
def test_server_errors_do_not_apply_the_write(
    sandbox: PleoSandbox,
    company: str,
    http: httpx.Client,
    kind: str,
    status: int,
    status_override: int | None,
) -> None:
    job_id = sandbox.create_export_job(company, 1)
    sandbox.faults.add("POST /v3/export-job-events", kind=kind, times=1, status=status_override)  # type: ignore[arg-type]
    response = http.post("/v3/export-job-events", json={"event": "started", "jobId": job_id})
    assert response.status_code == status
    assert "type" in response.json()
    assert sandbox.job_status(job_id) == "pending"
    assert (
        http.post("/v3/export-job-events", json={"event": "started", "jobId": job_id}).status_code
        == 202
    )


def test_connection_reset_raises_connect_error_and_applies_nothing(
    sandbox: PleoSandbox, company: str, http: httpx.Client
) -> None:
    job_id = sandbox.create_export_job(company, 1)
    sandbox.faults.add("POST /v3/export-job-events", kind="connection_reset", times=1)
    with pytest.raises(httpx.ConnectError):
        http.post("/v3/export-job-events", json={"event": "started", "jobId": job_id})
    assert sandbox.job_status(job_id) == "pending"
    assert sandbox.requests[-1].status is None


def test_lost_response_applies_the_write_then_drops_the_answer(
    sandbox: PleoSandbox, company: str, http: httpx.Client
) -> None:
    """ "The write happens, the response is lost": a retry then sees the new state."""
    job_id = sandbox.create_export_job(company, 2, status="in_progress")
    first, second = sandbox.item_statuses(job_id)
    sandbox.faults.add("PUT /v3/export-jobs/*/items", kind="lost_response", on_calls={2})
    http.put(
        f"/v3/export-jobs/{job_id}/items",
        json=[{"accountingEntryId": first, "status": "successful"}],
    )
    with pytest.raises(httpx.ReadError):
        http.put(
            f"/v3/export-jobs/{job_id}/items",
            json=[{"accountingEntryId": second, "status": "successful"}],
        )
    assert sandbox.item_statuses(job_id)[second] == "successful"
    sandbox.faults.add("POST /v3/export-job-events", kind="lost_response", times=1)
    with pytest.raises(httpx.ReadError):
        http.post("/v3/export-job-events", json={"event": "completed", "jobId": job_id})
    assert sandbox.job_status(job_id) == "completed"
    # Re-sending the final event after a lost answer is a 422 (export-api.md Part 2 #28).
    assert (
        http.post("/v3/export-job-events", json={"event": "completed", "jobId": job_id}).status_code
        == 422
    )


def test_timeout_applies_the_write(sandbox: PleoSandbox, company: str, http: httpx.Client) -> None:
    job_id = sandbox.create_export_job(company, 1)
    sandbox.faults.add("POST /v3/export-job-events", kind="timeout", times=1)
    with pytest.raises(httpx.ReadTimeout):
        http.post("/v3/export-job-events", json={"event": "started", "jobId": job_id})
    assert sandbox.job_status(job_id) == "in_progress"


@pytest.mark.parametrize("kind", ["truncated_body", "malformed_json"])
def test_damaged_bodies_keep_the_status_but_are_not_json(
    sandbox: PleoSandbox, company: str, http: httpx.Client, kind: str
) -> None:
    sandbox.create_export_job(company, 5)
    sandbox.faults.add("GET /v3/export-jobs", kind=kind, times=1)  # type: ignore[arg-type]
    damaged = http.get("/v3/export-jobs")
    assert damaged.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(damaged.content)
    assert http.get("/v3/export-jobs").json()["data"]


def test_slow_responses_wait_on_the_sandbox_clock(sandbox: PleoSandbox, http: httpx.Client) -> None:
    before = sandbox.clock.now()
    sandbox.faults.add("GET /v3/export-jobs", kind="slow", delay=30, times=1)
    assert http.get("/v3/export-jobs").status_code == 200
    assert (sandbox.clock.now() - before).total_seconds() == 30


def test_faults_apply_to_receipt_downloads_too(
    sandbox: PleoSandbox, company: str, http: httpx.Client
) -> None:
    file_id = sandbox.add_file(b"%PDF-1.4", "application/pdf")
    job_id = sandbox.create_export_job(
        company,
        [
            {
                "files": [
                    {"url": sandbox.file_placeholder(file_id), "type": "application/pdf", "size": 8}
                ]
            }
        ],
    )
    url = http.get("/v3/export-items", params={"job_id": job_id}).json()["data"][0]["files"][0][
        "url"
    ]
    sandbox.faults.add("GET /_sandbox/files/*", kind="service_unavailable", times=1)
    assert http.get(url).status_code == 503
    assert http.get(url).content == b"%PDF-1.4"


def test_random_faults_are_reproducible_for_a_seed() -> None:
    def run(seed: int) -> list[int | str]:
        sandbox = PleoSandbox()
        company = sandbox.add_company()
        sandbox.faults.random(
            rate=0.3, seed=seed, kinds=["rate_limited", "connection_reset", "server_error"]
        )
        outcomes: list[int | str] = []
        with sandbox.http_client(sandbox.issue_api_key(company)) as http:
            for _ in range(60):
                try:
                    outcomes.append(http.get("/v3/export-jobs").status_code)
                except httpx.ConnectError:
                    outcomes.append("reset")
        return outcomes

    first = run(1)
    assert first == run(1)
    assert first != run(2)
    failures = [o for o in first if o != 200]
    assert 6 <= len(failures) <= 30
    assert {"reset", 429, 500} <= set(failures)


def test_first_matching_rule_wins_and_later_rules_still_count_calls() -> None:
    plan = FaultPlan()
    specific = plan.add("GET /v3/export-jobs", kind="rate_limited", on_calls={1})
    general = plan.add("GET /v3/**", kind="server_error", on_calls={2})
    first = plan.pick("GET", "/v3/export-jobs")
    second = plan.pick("GET", "/v3/export-jobs")
    third = plan.pick("GET", "/v3/export-jobs")
    assert (first and first.kind, second and second.kind, third) == (
        "rate_limited",
        "server_error",
        None,
    )
    assert (specific.calls, specific.fired, general.calls, general.fired) == (3, 1, 3, 1)
    assert [f.kind for f in plan.history] == ["rate_limited", "server_error"]
    plan.clear()
    assert plan.pick("GET", "/v3/export-jobs") is None


def test_unknown_fault_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        FaultPlan().add("GET /x", kind="explode")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        FaultPlan().random(rate=1.5)


def test_built_in_rate_limit_counts_per_credential_on_sandbox_time(company: str) -> None:
    sandbox = PleoSandbox(rate_limit_per_minute=3)
    sandbox.add_company(company_id=company)
    with sandbox.http_client(sandbox.issue_api_key(company)) as http:
        codes = [http.get("/v3/export-jobs").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        limited = http.get("/v3/export-jobs")
        assert limited.headers["Retry-After"] == "60"
        sandbox.clock.advance(seconds=60)
        assert http.get("/v3/export-jobs").status_code == 200
    with sandbox.http_client(sandbox.issue_api_key(company)) as other:
        assert other.get("/v3/export-jobs").status_code == 200
