"""PleoSandbox through the SDK's own client: ``sandbox.client()`` / ``sandbox.async_client()``."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import uuid

import httpx
import pytest

from pleo_erp.client import OAuth2Auth
from pleo_erp.client.auth import MemoryTokenStore
from pleo_erp.client.errors import Conflict, NotFound, Unprocessable
from pleo_erp.testing.sandbox import PleoSandbox


@pytest.fixture(scope="module")
def demo() -> PleoSandbox:
    sandbox = PleoSandbox(seed=31)
    sandbox.seed_demo()
    return sandbox


def test_the_client_reads_every_demo_job_item_and_payload(demo: PleoSandbox) -> None:
    """Every demo export item parses into the SDK's models (sandbox, data and models agree)."""
    assert demo.demo_company_id is not None
    with demo.client() as client:
        jobs = client.export_jobs.list(
            company_id=demo.demo_company_id, statuses=["pending"]
        ).to_list()
        assert len(jobs) == 3
        for job in jobs:
            items = client.export_jobs.list_items(job.id).to_list()
            payloads = client.export_items.list(job.id).to_list()
            assert len(items) == len(payloads) == job.number_of_items
            assert [p.accounting_entry_id for p in payloads] == [
                i.accounting_entry_id for i in items
            ]
        introspection = client.introspect()
    assert str(introspection.company_id) == demo.demo_company_id


def test_a_full_export_round_trip_through_the_client() -> None:
    sandbox = PleoSandbox(seed=32)
    company = sandbox.add_company()
    job_id = sandbox.create_export_job(company, 150)
    with sandbox.client(company_id=company) as client:
        client.export_jobs.send_event(job_id, "started")
        entries = [i.accounting_entry_id for i in client.export_jobs.list_items(job_id, "pending")]
        updates = [
            {"accountingEntryId": str(entry), "status": "successful", "externalId": f"JE-{n}"}
            for n, entry in enumerate(entries)
        ]
        stray = str(uuid.UUID(int=7, version=4))
        result = client.export_jobs.update_items(
            job_id, [*updates, {"accountingEntryId": stray, "status": "failed"}]
        )
        assert len(result.errors) == 1
        assert str(result.errors[0].accounting_entry_id) == stray
        client.export_jobs.send_event(job_id, "completed")
        assert client.export_jobs.get(job_id).status == "completed"
        with pytest.raises(Unprocessable):
            client.export_jobs.send_event(job_id, "completed")
        with pytest.raises(NotFound):
            client.export_jobs.get(uuid.UUID(int=1, version=4))
    puts = [r for r in sandbox.requests if r.method == "PUT"]
    assert [len(r.body) for r in puts] == [100, 51]  # chunks of at most 100
    assert set(sandbox.item_statuses(job_id).values()) == {"successful"}


def test_conflict_surfaces_as_a_typed_error() -> None:
    sandbox = PleoSandbox(seed=33)
    company = sandbox.add_company()
    sandbox.create_export_job(company, 1, status="in_progress")
    entries = sandbox.add_export_items(company, 1)
    with sandbox.client(company_id=company) as client, pytest.raises(Conflict):
        client.export_jobs.create(company, entries)


def test_retries_wait_on_sandbox_time_not_real_time() -> None:
    sandbox = PleoSandbox(seed=34)
    company = sandbox.add_company()
    job_id = sandbox.create_export_job(company, 3)
    sandbox.faults.add(
        f"GET /v3/export-jobs/{job_id}/items", kind="rate_limited", times=2, retry_after=5
    )
    sandbox.faults.add("GET /v3/export-items", kind="lost_response", times=1)
    before = sandbox.clock.now()
    with sandbox.client(company_id=company) as client:
        assert len(client.export_jobs.list_items(job_id).to_list()) == 3
        assert len(client.export_items.list(job_id).to_list()) == 3
    assert (sandbox.clock.now() - before).total_seconds() >= 10
    assert [r.fault for r in sandbox.requests][:3] == ["rate_limited", "rate_limited", None]


def test_async_client() -> None:
    sandbox = PleoSandbox(seed=35)
    company = sandbox.add_company()
    job_id = sandbox.create_export_job(company, 30)

    async def run() -> int:
        async with sandbox.async_client(company_id=company) as client:
            await client.export_jobs.send_event(job_id, "started")
            return len([item async for item in client.export_items.list(job_id)])

    assert asyncio.run(run()) == 30
    assert sandbox.job_status(job_id) == "in_progress"


def test_oauth2_auth_exchanges_refreshes_and_rotates_against_the_sandbox() -> None:
    sandbox = PleoSandbox(seed=36)
    company = sandbox.add_company()
    verifier = "k" * 64
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    redirect = "http://127.0.0.1:8000/callback"
    code = sandbox.authorization_code(company, redirect_uri=redirect, code_challenge=challenge)
    base_url = "https://external.sandbox.pleo.invalid"
    store = MemoryTokenStore()
    auth = OAuth2Auth(
        sandbox.oauth_client_id,
        sandbox.oauth_client_secret,
        store,
        token_url=f"{base_url}/oauth/token",
        clock=sandbox.clock.now,
    )
    with httpx.Client(transport=sandbox.transport(), base_url=base_url) as raw:
        first = auth.exchange_code(code, verifier, redirect, http_client=raw)
    with sandbox.client(auth=auth) as client:
        assert str(client.introspect().company_id) == company
        sandbox.clock.advance(hours=1)  # the access token is now expired
        assert client.export_jobs.list(company_id=company).to_list() == []
    assert auth.tokens is not None
    assert auth.tokens.refresh_token != first.refresh_token
    refreshes = [r for r in sandbox.requests if r.path == "/oauth/token"]
    assert [r.body["grant_type"] for r in refreshes] == ["authorization_code", "refresh_token"]


def test_every_client_resource_speaks_the_sandbox_contract() -> None:
    """A walk through each resource: any request the client builds that breaks the spec
    would come back as a 400 naming the problem (and fail this test)."""
    sandbox = PleoSandbox(seed=37)
    company = sandbox.add_company()
    with sandbox.client(company_id=company) as client:
        group = client.tag_groups.create(company, code="DEPT", name="Department")
        client.tag_groups.update(group.id, code="DEPT", name="Dept", archived=False, metadata={})
        assert [g.code for g in client.tag_groups.list(company, include_tags_count=True)] == [
            "DEPT"
        ]
        tag = client.tags.create(group.id, code="ENG", name="Engineering")
        client.tags.update(tag.id, code="ENG", archived=True, name="Engineering")
        assert client.tags.list(group.id, include_archived=True).to_list()[0].archived is True
        assert [t.code for t in client.tags.search(company, include_archived=True)] == ["ENG"]
        assert (
            client.tags.archive([tag.id], company_id=company, archived=False)[0].archived is False
        )
        tax = client.tax_codes.create(
            company, name="VAT 25", rate="0.25", type="inclusive", code="I25"
        )
        client.tax_codes.update(
            tax.id,
            company_id=company,
            name="VAT",
            rate="0.25",
            type="inclusive",
            archived=False,
            code="I25",
        )
        assert [t.code for t in client.tax_codes.search(company, archived=False)] == ["I25"]
        account = client.accounts.create(
            company, external_id="6010", name="Travel", tax_code_external_id="I25"
        )
        again = client.accounts.create(
            company, external_id="6010", name="Travel", tax_code_external_id="I25"
        )
        assert again.id == account.id
        batch = client.accounts.create_batch(
            company, [{"externalId": "6020", "name": "Meals", "archived": False}]
        )
        assert batch.ok
        client.accounts.update(account.id, name="Travel", archived=True)
        assert {a.external_id for a in client.accounts.search(company)} == {"6010", "6020"}
        client.accounts.delete(account.id)
        client.installations.create(status="PENDING_INTEGRATION")
        assert client.installations.activate().status == "ACTIVATED"
        assert client.installations.me().status == "ACTIVATED"
        subscription = client.subscriptions.create(
            "https://hooks.example/pleo", ["v1.export-job.created"]
        )
        secret = client.subscriptions.secret(subscription.id).secret_key
        assert secret is not None
        assert secret.startswith("whsec_")
        assert [s.id for s in client.subscriptions.list()] == [subscription.id]
        client.subscriptions.delete(subscription.id)
        client.installations.delete()
    assert [r for r in sandbox.requests if r.status is not None and r.status >= 400] == []
    assert sandbox.warnings == []
