"""PleoSandbox: Export API v3 behaviour (export-api.md §4, §8), through raw httpx."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pleo_erp.testing.sandbox import PleoSandbox, SandboxError

pytestmark = pytest.mark.sandbox(seed=7, company="Acme ApS")

ExportItem = dict[str, Any]


@pytest.fixture
def http(sandbox: PleoSandbox, company: str) -> Iterator[httpx.Client]:
    # A key scoped to the one company, so company_id may be omitted.
    with sandbox.http_client(sandbox.issue_api_key(company)) as client:
        yield client


def start(http: httpx.Client, job_id: str) -> None:
    response = http.post("/v3/export-job-events", json={"event": "started", "jobId": job_id})
    assert response.status_code == 202


def all_pages(http: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        query = dict(params)
        if after:
            query["after"] = after
        body = http.get(path, params=query).json()
        found.extend(body["data"])
        if not body["pagination"]["hasNextPage"]:
            return found
        after = body["pagination"]["endCursor"]


# -- jobs -------------------------------------------------------------------------------


def test_list_jobs_filters_by_company_and_repeated_statuses(
    sandbox: PleoSandbox, company: str, http: httpx.Client
) -> None:
    first = sandbox.create_export_job(company, 2, status="completed")
    second = sandbox.create_export_job(company, 2, status="failed")
    third = sandbox.create_export_job(company, 2)
    other = sandbox.add_company("Other")
    sandbox.create_export_job(other, 1)
    with sandbox.http_client() as org:
        body = org.get(
            "/v3/export-jobs",
            params=[("company_id", company), ("statuses", "pending"), ("statuses", "failed")],
        ).json()
    assert [job["id"] for job in body["data"]] == [second, third]
    assert body["pagination"]["currentRequestPagination"]["parameters"] == {
        "company_id": [company],
        "statuses": ["pending", "failed"],
    }
    everything = http.get("/v3/export-jobs").json()["data"]
    assert [job["id"] for job in everything] == [first, second, third]


@pytest.mark.rule("export-5")
def test_org_key_must_name_the_company_when_it_covers_several(
    sandbox: PleoSandbox, company: str
) -> None:
    """Organisation credentials must pass company_id (export-api.md §3, rule 5)."""
    sandbox.add_company("Second")
    with sandbox.http_client() as org:
        response = org.get("/v3/export-jobs")
    assert response.status_code == 400
    assert response.json()["type"] == "REQUIRED_PARAMETER_MISSING"


def test_get_job_404_for_unknown_job_and_for_other_companies_jobs(
    sandbox: PleoSandbox, company: str, http: httpx.Client
) -> None:
    other = sandbox.add_company("Other")
    foreign = sandbox.create_export_job(other, 1)
    for job_id in (foreign, "00000000-0000-4000-8000-000000000000"):
        response = http.get(f"/v3/export-jobs/{job_id}")
        assert response.status_code == 404
        assert response.json() == {"type": "EXPORT_NOT_FOUND", "message": "Export job not found."}


def test_create_job_is_refused_with_409_while_one_is_in_progress(
    sandbox: PleoSandbox, company: str, http: httpx.Client
) -> None:
    entries = sandbox.add_export_items(company, 3)
    body = {"companyId": company, "accountingEntryIds": entries[:2]}
    created = http.post("/v3/export-jobs", json=body)
    assert created.status_code == 201
    job = created.json()["data"]
    assert job["status"] == "pending"
    assert job["numberOfItems"] == 2
    assert job["isInteractive"] is True
    assert job["vendorBasedBookkeeping"] is False
    # Several pending jobs may wait; only an in-progress one blocks creation.
    assert http.post("/v3/export-jobs", json=body).status_code == 201
    start(http, job["id"])
    conflict = http.post("/v3/export-jobs", json=body)
    assert conflict.status_code == 409
    assert conflict.json()["type"] == "EXPORT_ALREADY_IN_PROGRESS"
    with pytest.raises(SandboxError):
        sandbox.create_export_job(company, 1)


def test_create_job_400_missing_contra_accounts_and_unknown_entries(
    sandbox: PleoSandbox, company: str, http: httpx.Client
) -> None:
    entries = sandbox.add_export_items(company, 1)
    unknown = http.post(
        "/v3/export-jobs",
        json={"companyId": company, "accountingEntryIds": ["00000000-0000-4000-8000-000000000001"]},
    )
    assert unknown.status_code == 400
    assert unknown.json()["type"] == "ACCOUNTING_ENTRY_NOT_FOUND"
    sandbox.set_missing_contra_accounts(company)
    missing = http.post(
        "/v3/export-jobs", json={"companyId": company, "accountingEntryIds": entries}
    )
    assert missing.status_code == 400
    assert missing.json()["type"] == "MISSING_CONTRA_ACCOUNTS"


# -- events -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("events", "final"),
    [
        (["started", "completed"], "completed"),
        (["started", "completed_with_errors"], "completed_with_errors"),
        (["started", "failed"], "failed"),
    ],
)
def test_event_state_machine_accepts_the_documented_path(
    sandbox: PleoSandbox, company: str, http: httpx.Client, events: list[str], final: str
) -> None:
    job_id = sandbox.create_export_job(company, 1)
    for event in events:
        response = http.post("/v3/export-job-events", json={"event": event, "jobId": job_id})
        assert response.status_code == 202
        assert response.content == b""
    assert sandbox.job_status(job_id) == final


@pytest.mark.parametrize(
    ("status", "event"),
    [
        ("pending", "completed"),
        ("pending", "completed_with_errors"),
        ("pending", "failed"),
        ("in_progress", "started"),
        ("completed", "started"),
        ("completed", "failed"),
        ("failed", "completed"),
    ],
)
def test_invalid_transitions_are_422(
    sandbox: PleoSandbox, company: str, http: httpx.Client, status: str, event: str
) -> None:
    job_id = sandbox.create_export_job(company, 1, status=status)
    response = http.post("/v3/export-job-events", json={"event": event, "jobId": job_id})
    assert response.status_code == 422
    assert response.json() == {
        "type": "INVALID_EXPORT_JOB_STATUS_CHANGE",
        "message": "Export Job status change failed",
    }
    assert sandbox.job_status(job_id) == status


def test_failure_fields_only_on_failed_jobs_and_unfinished_items_abandoned(
    sandbox: PleoSandbox, company: str, http: httpx.Client
) -> None:
    completed = sandbox.create_export_job(company, 1, status="completed")
    job = http.get(f"/v3/export-jobs/{completed}").json()["data"]
    assert "failureReason" not in job
    assert "failureReasonType" not in job
    assert job["completedAt"] is not None
    failing = sandbox.create_export_job(company, 3)
    start(http, failing)
    first = next(iter(sandbox.item_statuses(failing)))
    http.put(
        f"/v3/export-jobs/{failing}/items",
        json=[{"accountingEntryId": first, "status": "successful"}],
    )
    response = http.post(
        "/v3/export-job-events",
        json={
            "event": "failed",
            "jobId": failing,
            "failureReason": "Accounting system unreachable",
            "failureReasonType": "accounting_system_unreachable",
        },
    )
    assert response.status_code == 202
    job = http.get(f"/v3/export-jobs/{failing}").json()["data"]
    assert job["status"] == "failed"
    assert job["failureReason"] == "Accounting system unreachable"
    assert job["failureReasonType"] == "accounting_system_unreachable"
    assert list(sandbox.item_statuses(failing).values()) == ["successful", "abandoned", "abandoned"]


@pytest.mark.rule("export-3")
def test_event_with_item_only_failure_type_is_400(
    sandbox: PleoSandbox, company: str, http: httpx.Client
) -> None:
    """vendor_unknown is an item-level reason, never a job one (export-api.md Part 3 #3)."""
    job_id = sandbox.create_export_job(company, 1, status="in_progress")
    response = http.post(
        "/v3/export-job-events",
        json={"event": "failed", "jobId": job_id, "failureReasonType": "vendor_unknown"},
    )
    assert response.status_code == 400
    assert "failureReasonType" in response.json()["message"]


def test_completion_with_failure_reason_or_unfinished_items_is_recorded_as_warning(
    sandbox: PleoSandbox, company: str, http: httpx.Client
) -> None:
    job_id = sandbox.create_export_job(company, 2, status="in_progress")
    http.post(
        "/v3/export-job-events",
        json={"event": "completed", "jobId": job_id, "failureReason": "nothing"},
    )
    warnings = sandbox.warnings
    assert any("failureReason" in w for w in warnings)
    assert any("unfinished" in w for w in warnings)
    assert set(sandbox.item_statuses(job_id).values()) == {"abandoned"}


# -- job items --------------------------------------------------------------------------


def test_job_items_list_with_status_filter(
    sandbox: PleoSandbox, company: str, http: httpx.Client
) -> None:
    job_id = sandbox.create_export_job(company, 30, status="in_progress")
    ids = list(sandbox.item_statuses(job_id))
    http.put(
        f"/v3/export-jobs/{job_id}/items",
        json=[{"accountingEntryId": i, "status": "successful"} for i in ids[::3]],
    )
    pending = all_pages(http, f"/v3/export-jobs/{job_id}/items", status="pending")
    successful = all_pages(http, f"/v3/export-jobs/{job_id}/items", status="successful")
    assert [i["accountingEntryId"] for i in successful] == ids[::3]
    assert len(pending) == 20
    assert all(i["status"] == "pending" and i["exportJobId"] == job_id for i in pending)
    page = http.get(f"/v3/export-jobs/{job_id}/items", params={"status": "pending"}).json()
    assert page["pagination"]["total"] == 20


def test_put_more_than_100_items_is_413(
    sandbox: PleoSandbox, company: str, http: httpx.Client
) -> None:
    job_id = sandbox.create_export_job(company, 101, status="in_progress")
    updates = [
        {"accountingEntryId": i, "status": "successful"} for i in sandbox.item_statuses(job_id)
    ]
    response = http.put(f"/v3/export-jobs/{job_id}/items", json=updates)
    assert response.status_code == 413
    assert response.json()["type"] == "EXPORT_JOB_ITEMS_UPDATE_LIMIT"
    assert set(sandbox.item_statuses(job_id).values()) == {"pending"}
    assert http.put(f"/v3/export-jobs/{job_id}/items", json=updates[:100]).status_code == 200


def test_put_unknown_entry_is_reported_in_errors_of_a_200(
    sandbox: PleoSandbox, company: str, http: httpx.Client
) -> None:
    """Decision 2: per-item errors come back inside a 200."""
    job_id = sandbox.create_export_job(company, 2, status="in_progress")
    known = next(iter(sandbox.item_statuses(job_id)))
    unknown = "00000000-0000-4000-8000-0000000000aa"
    response = http.put(
        f"/v3/export-jobs/{job_id}/items",
        json=[
            {
                "accountingEntryId": known,
                "status": "successful",
                "externalId": "JE-1",
                "externalUrl": "https://erp.example/je/1",
                "exportedAt": "2026-10-01T09:30:00Z",
            },
            {"accountingEntryId": unknown, "status": "successful"},
        ],
    )
    assert response.status_code == 200
    body = response.json()
    assert body["data"] == [
        {
            "accountingEntryId": known,
            "exportJobId": job_id,
            "status": "successful",
            "exportedAt": "2026-10-01T09:30:00Z",
            "externalId": "JE-1",
            "externalUrl": "https://erp.example/je/1",
            "failureReason": None,
        }
    ]
    assert body["errors"] == [
        {
            "accountingEntryId": unknown,
            "message": f"Accounting entry {unknown} is not part of export job {job_id}.",
            "type": "ACCOUNTING_ENTRY_DOES_NOT_EXIST",
        }
    ]


def test_failed_item_keeps_reason_and_type(
    sandbox: PleoSandbox, company: str, http: httpx.Client
) -> None:
    job_id = sandbox.create_export_job(company, 1, status="in_progress")
    entry = next(iter(sandbox.item_statuses(job_id)))
    http.put(
        f"/v3/export-jobs/{job_id}/items",
        json=[
            {
                "accountingEntryId": entry,
                "status": "failed",
                "failureReason": "Vendor V-9 is blocked",
                "failureReasonType": "vendor_unknown",
            }
        ],
    )
    [item] = sandbox.job_items(job_id)
    assert item["status"] == "failed"
    assert item["failureReason"] == "Vendor V-9 is blocked"
    assert item["failureReasonType"] == "vendor_unknown"
    assert sandbox.warnings == []


def test_put_on_finished_job_is_422(sandbox: PleoSandbox, company: str, http: httpx.Client) -> None:
    job_id = sandbox.create_export_job(company, 1, status="completed")
    entry = next(iter(sandbox.item_statuses(job_id)))
    response = http.put(
        f"/v3/export-jobs/{job_id}/items", json=[{"accountingEntryId": entry, "status": "failed"}]
    )
    assert response.status_code == 422
    assert response.json() == {
        "type": "EXPORT_JOB_STATUS_UNPROCESSABLE",
        "message": "Export job is finished.",
    }


def test_changing_a_final_item_status_is_a_warning(
    sandbox: PleoSandbox, company: str, http: httpx.Client
) -> None:
    job_id = sandbox.create_export_job(company, 1, status="in_progress")
    entry = next(iter(sandbox.item_statuses(job_id)))
    for status in ("successful", "successful", "failed"):
        http.put(
            f"/v3/export-jobs/{job_id}/items",
            json=[
                {
                    "accountingEntryId": entry,
                    "status": status,
                    "failureReasonType": "unexpected_failure",
                }
            ],
        )
    assert len(sandbox.warnings) == 1
    assert "successful to failed" in sandbox.warnings[0]


# -- export items -----------------------------------------------------------------------


def test_export_items_served_for_pending_and_in_progress_jobs_only(
    sandbox: PleoSandbox, company: str, http: httpx.Client
) -> None:
    job_id = sandbox.create_export_job(company, 3)
    pending = all_pages(http, "/v3/export-items", job_id=job_id)
    assert [i["accountingEntryId"] for i in pending] == list(sandbox.item_statuses(job_id))
    start(http, job_id)
    assert len(all_pages(http, "/v3/export-items", job_id=job_id)) == 3
    http.post("/v3/export-job-events", json={"event": "failed", "jobId": job_id})
    response = http.get("/v3/export-items", params={"job_id": job_id})
    assert response.status_code == 422
    assert response.json()["type"] == "EXPORT_JOB_STATUS_UNPROCESSABLE"


def test_export_items_400_when_contra_accounts_are_missing(
    sandbox: PleoSandbox, company: str, http: httpx.Client
) -> None:
    job_id = sandbox.create_export_job(company, 1, status="in_progress")
    sandbox.set_missing_contra_accounts(company)
    response = http.get("/v3/export-items", params={"job_id": job_id})
    assert response.status_code == 400
    assert response.json()["type"] == "MISSING_CONTRA_ACCOUNTS"
    sandbox.set_missing_contra_accounts(company, False)
    assert http.get("/v3/export-items", params={"job_id": job_id}).status_code == 200


def test_export_items_need_job_id(http: httpx.Client) -> None:
    response = http.get("/v3/export-items")
    assert response.status_code == 400
    assert response.json()["type"] == "REQUIRED_PARAMETER_MISSING"


def test_given_items_are_kept_and_completed_with_valid_defaults(
    sandbox: PleoSandbox, company: str, http: httpx.Client
) -> None:
    job_id = sandbox.create_export_job(
        company,
        [
            {
                "type": "mileage",
                "note": "Client visit",
                "amount": {
                    "inSupplierCurrency": {"currency": "DKK", "value": 4321},
                    "inWalletCurrency": {"currency": "DKK", "value": 4321},
                },
            }
        ],
    )
    [item] = all_pages(http, "/v3/export-items", job_id=job_id)
    assert item["type"] == "mileage"
    assert item["note"] == "Client visit"
    assert item["amount"]["inWalletCurrency"] == {"currency": "DKK", "value": 4321}
    assert item["companyId"] == company
    assert len(item["accountingEntryLines"]) == 1
    with pytest.raises(SandboxError, match="ExportItemV3"):
        sandbox.create_export_job(company, [{"amount": {"value": "12"}}])


# -- expiry -----------------------------------------------------------------------------


def test_started_job_expires_one_hour_after_last_update(
    sandbox: PleoSandbox, company: str, http: httpx.Client
) -> None:
    """Expiry: 1 h after lastUpdatedAt; item updates refresh it, reads do not (§8)."""
    job_id = sandbox.create_export_job(company, 3)
    start(http, job_id)
    first, *_ = sandbox.item_statuses(job_id)
    sandbox.clock.advance(minutes=50)
    assert http.get(f"/v3/export-jobs/{job_id}").json()["data"]["expiresIn"] == 600
    http.put(
        f"/v3/export-jobs/{job_id}/items",
        json=[{"accountingEntryId": first, "status": "successful"}],
    )
    job = http.get(f"/v3/export-jobs/{job_id}").json()["data"]
    assert job["expiresIn"] == 3600
    assert job["lastUpdatedAt"] == "2026-10-01T09:50:00Z"
    sandbox.clock.advance(minutes=59, seconds=59)
    assert http.get(f"/v3/export-jobs/{job_id}").json()["data"]["status"] == "in_progress"
    sandbox.clock.advance(seconds=1)
    job = http.get(f"/v3/export-jobs/{job_id}").json()["data"]
    assert job["status"] == "failed"
    assert job["failureReasonType"] == "job_expired"
    assert job["expiredAt"] == "2026-10-01T10:50:00Z"
    assert job["expiresIn"] == 0
    assert list(sandbox.item_statuses(job_id).values()) == ["successful", "abandoned", "abandoned"]
    late = http.put(
        f"/v3/export-jobs/{job_id}/items", json=[{"accountingEntryId": first, "status": "failed"}]
    )
    assert late.status_code == 422
    # An expired company job no longer blocks a new export.
    entries = sandbox.add_export_items(company, 1)
    assert (
        http.post(
            "/v3/export-jobs", json={"companyId": company, "accountingEntryIds": entries}
        ).status_code
        == 201
    )


def test_pending_jobs_do_not_expire_unless_configured() -> None:
    for expire_pending, expected in ((False, "pending"), (True, "failed")):
        sandbox = PleoSandbox(expire_pending_jobs=expire_pending)
        company_id = sandbox.add_company()
        job_id = sandbox.create_export_job(company_id, 1)
        sandbox.clock.advance(hours=2)
        assert sandbox.job_status(job_id) == expected


# -- receipts ---------------------------------------------------------------------------


def test_receipt_urls_point_at_the_sandbox_and_expire_after_24_hours(
    sandbox: PleoSandbox, company: str, http: httpx.Client
) -> None:
    content = b"%PDF-1.4 test receipt"
    file_id = sandbox.add_file(content, "application/pdf")
    job_id = sandbox.create_export_job(
        company,
        [
            {
                "files": [
                    {
                        "url": sandbox.file_placeholder(file_id),
                        "type": "application/pdf",
                        "size": len(content),
                    }
                ]
            }
        ],
    )
    [item] = all_pages(http, "/v3/export-items", job_id=job_id)
    url = item["files"][0]["url"]
    assert url.startswith(
        f"https://external.sandbox.pleo.invalid/_sandbox/files/{file_id}?expires="
    )
    assert sandbox.export_items(job_id)[0]["files"][0]["url"].startswith("sandbox-file://")
    with httpx.Client(transport=sandbox.transport()) as anonymous:  # presigned: no credentials
        download = anonymous.get(url)
        assert download.status_code == 200
        assert download.content == content
        assert download.headers["content-type"] == "application/pdf"
        assert anonymous.get(url.replace("signature=", "signature=0")).status_code == 403
        sandbox.clock.advance(hours=23, minutes=59)
        assert anonymous.get(url).status_code == 200
        sandbox.clock.advance(minutes=1)
        expired = anonymous.get(url)
        assert expired.status_code == 403
        assert "expired" in expired.json()["message"]
        # Fetching the item again gives a fresh link.
        fresh = all_pages(http, "/v3/export-items", job_id=job_id)[0]["files"][0]["url"]
        assert anonymous.get(fresh).status_code == 200


# -- demo and volume --------------------------------------------------------------------


def test_seed_demo_loads_pending_jobs_with_real_receipts() -> None:
    sandbox = PleoSandbox(seed=3)
    assert sandbox.company_ids == []
    demo = sandbox.seed_demo()
    assert sandbox.demo_company_id == demo.company_id
    jobs = sandbox.jobs(demo.company_id)
    assert [j["id"] for j in jobs] == [j.job["id"] for j in demo.jobs]
    assert {j["status"] for j in jobs} == {"pending"}
    with sandbox.http_client() as http:
        items = all_pages(http, "/v3/export-items", job_id=jobs[0]["id"], limit=100)
        urls = [f["url"] for item in items for f in item.get("files") or []]
        assert urls
        receipt = http.get(urls[0])
        assert receipt.status_code == 200
        assert receipt.headers["content-type"] in ("application/pdf", "image/png", "image/jpeg")
    with pytest.raises(SandboxError):
        sandbox.seed_demo()


def test_ten_thousand_item_job_pages_filters_and_updates_linearly() -> None:
    sandbox = PleoSandbox(validate_responses="sample", record_requests=False)
    company = sandbox.add_company()
    job_id = sandbox.create_export_job(company, 10_000, status="in_progress")
    ids = list(sandbox.item_statuses(job_id))
    with sandbox.http_client() as http:
        for start_at in range(0, 10_000, 100):
            chunk = ids[start_at : start_at + 100]
            status = "failed" if start_at % 1000 == 0 else "successful"
            response = http.put(
                f"/v3/export-jobs/{job_id}/items",
                json=[
                    {
                        "accountingEntryId": i,
                        "status": status,
                        "failureReasonType": "unexpected_failure",
                    }
                    for i in chunk
                ],
            )
            assert response.status_code == 200
        failed = all_pages(http, f"/v3/export-jobs/{job_id}/items", status="failed", limit=1000)
    assert len(failed) == 1000
    assert sandbox.state.jobs[job_id].counts["successful"] == 9000
