"""The webhook receiver example against a served sandbox: real signed deliveries over loopback.

Rules shown (DESIGN decision 13): verify before parsing, reject stale and replayed deliveries,
answer 2xx fast and export in the background, bind to loopback.
"""

from __future__ import annotations

import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from attrs import define

sys.path.insert(0, str(Path(__file__).parent))  # receiver.py sits beside this file

from receiver import WebhookServer, serve_receiver

from pleo_erp.client import ApiKeyAuth, PleoClient
from pleo_erp.client.webhooks import signature_headers
from pleo_erp.orchestration.export import export_expenses
from pleo_erp.testing.inmemory import InMemoryAccountingSystem
from pleo_erp.testing.sandbox import PleoSandbox
from pleo_erp.testing.sandbox.webhook_delivery import build_export_job_created_event


@define
class Setup:
    """A served sandbox subscribed to a running receiver that exports into ``ledger``."""

    sandbox: PleoSandbox
    company_id: str
    server: WebhookServer
    secret: str
    ledger: InMemoryAccountingSystem

    def delivery(
        self, *, msg_id: str | None = None, age: timedelta = timedelta(0)
    ) -> tuple[dict[str, str], bytes]:
        """A correctly signed ``v1.export-job.created`` delivery (headers, body)."""
        body = build_export_job_created_event(
            str(uuid.uuid4()), self.company_id, str(uuid.uuid4()), self.sandbox.clock.now()
        )
        sent = self.sandbox.clock.now() - age
        headers = signature_headers(self.secret, msg_id or f"msg_{uuid.uuid4().hex}", sent, body)
        return {**headers, "content-type": "application/json"}, body

    def post(self, headers: dict[str, str], body: bytes) -> httpx.Response:
        return httpx.post(self.server.url, headers=headers, content=body, timeout=10)


@pytest.fixture
def setup() -> Iterator[Setup]:
    sandbox = PleoSandbox(seed=3, deliver_webhooks=True)
    demo = sandbox.seed_demo()
    ledger = InMemoryAccountingSystem()
    with (
        sandbox.serve() as base_url,
        PleoClient(
            ApiKeyAuth(sandbox.api_key), base_url=base_url, sleep=sandbox.clock.sleep
        ) as client,
    ):

        def run(company: uuid.UUID) -> object:
            return export_expenses(client, ledger, company_id=company, sleep=sandbox.clock.sleep)

        # The sandbox signs with its own (frozen) clock, so the receiver checks against it.
        with serve_receiver(None, run, clock=sandbox.clock.now) as server:
            subscription = client.subscriptions.create(server.url, ["v1.export-job.created"])
            secret = client.subscriptions.secret(subscription.id).secret_key
            assert secret is not None
            server.set_secret(secret)
            yield Setup(sandbox, demo.company_id, server, secret, ledger)


def test_a_new_job_is_exported_after_the_signed_delivery(setup: Setup) -> None:
    """Pleo's delivery is accepted with 202; the worker then exports the whole queue."""
    job_id = setup.sandbox.create_export_job(setup.company_id, 2)
    delivery = setup.sandbox.webhook_deliveries[-1]
    assert (delivery.job_id, delivery.status_code) == (job_id, 202)
    setup.server.worker.join()
    assert [company for company, _ in setup.server.worker.completed] == [
        uuid.UUID(setup.company_id)
    ]
    statuses = [job["status"] for job in setup.sandbox.jobs(setup.company_id)]
    assert "pending" not in statuses
    assert "in_progress" not in statuses
    assert setup.sandbox.job_status(job_id) == "completed"
    assert setup.ledger.entries
    assert setup.ledger.is_balanced()


def test_tampered_body_is_rejected_and_nothing_runs(setup: Setup) -> None:
    """A body changed after signing gets 401; no export is started."""
    headers, body = setup.delivery()
    tampered = body.replace(setup.company_id.encode(), str(uuid.uuid4()).encode())
    assert setup.post(headers, tampered).status_code == 401
    setup.server.worker.join()
    assert setup.server.worker.completed == []


def test_signature_is_checked_before_the_body_is_parsed(setup: Setup) -> None:
    """Garbage with a wrong signature is 401 (not 400): the body is never parsed unverified."""
    headers, _ = setup.delivery()
    assert setup.post(headers, b"{not json").status_code == 401


def test_stale_delivery_is_rejected(setup: Setup) -> None:
    """A correctly signed delivery older than the 5-minute tolerance is refused."""
    headers, body = setup.delivery(age=timedelta(minutes=6))
    assert setup.post(headers, body).status_code == 401
    fresh_headers, fresh_body = setup.delivery(age=timedelta(minutes=4))
    assert setup.post(fresh_headers, fresh_body).status_code == 202


def test_replay_gets_2xx_but_exports_once(setup: Setup) -> None:
    """The same webhook-id twice: 202, then 200 "duplicate" so Pleo stops retrying; one run."""
    headers, body = setup.delivery(msg_id="msg_replayed")
    first = setup.post(headers, body)
    setup.server.worker.join()
    second = setup.post(headers, body)
    setup.server.worker.join()
    assert (first.status_code, second.status_code) == (202, 200)
    assert second.json() == {"status": "duplicate"}
    assert len(setup.server.worker.completed) == 1


def test_the_answer_does_not_wait_for_the_export() -> None:
    """202 comes back while the export is still running (it only starts after the answer)."""
    release, started = threading.Event(), threading.Event()

    def slow_export(company: uuid.UUID) -> object:
        started.set()
        release.wait(timeout=10)
        return company

    sandbox = PleoSandbox(seed=4)
    with serve_receiver("whsec_" + "QUJD" * 8, slow_export, clock=sandbox.clock.now) as server:
        body = build_export_job_created_event(
            str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4()), sandbox.clock.now()
        )
        headers = signature_headers("whsec_" + "QUJD" * 8, "msg_1", sandbox.clock.now(), body)
        response = httpx.post(server.url, headers=headers, content=body, timeout=10)
        assert response.status_code == 202
        assert started.wait(timeout=10)
        assert server.worker.completed == []  # still running after the answer was sent
        release.set()
        server.worker.join()
        assert len(server.worker.completed) == 1


def test_unconfigured_receiver_answers_503_and_bad_requests_are_refused() -> None:
    """Before a secret is set deliveries get 503 (Pleo retries); size, path and method checks."""
    sandbox = PleoSandbox(seed=5)
    with serve_receiver(None, lambda company: None, clock=sandbox.clock.now) as server:
        assert server.server_address[0] == "127.0.0.1"  # loopback unless told otherwise
        assert httpx.post(server.url, content=b"{}").status_code == 503
        server.set_secret("whsec_" + "QUJD" * 8)
        too_big = b"x" * (64 * 1024 + 1)
        assert httpx.post(server.url, content=too_big).status_code == 413
        assert httpx.post(server.url + "/other", content=b"{}").status_code == 404
        assert httpx.get(server.url).status_code == 405
