"""Sandbox webhook delivery: ``v1.export-job.created`` body and Standard Webhooks signing.

The receiver here is an ``httpx.MockTransport`` that recomputes the HMAC-SHA256 signature
itself (``base64(hmac(key, f"{id}.{timestamp}.{body}"))`` with the base64 key after
``whsec_``), so the test does not trust the SDK's own ``sign`` (DESIGN decision 10,
export-api.md §7 and Part 2 item 6).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import datetime, timezone

import httpx
import pytest

from pleo_erp.testing.sandbox.demo import build_demo
from pleo_erp.testing.sandbox.webhook_delivery import (
    EXPORT_JOB_CREATED,
    build_export_job_created_event,
    deliver,
)

SECRET = "whsec_" + base64.b64encode(b"sandbox-webhook-key-0123456789ab").decode()
JOB_ID = "0b6f3c3e-1a56-4a8f-9d5b-2f1f0e6a9c10"
COMPANY_ID = "5f4d0c2a-8b1e-4e3c-a7d9-6c2b1a0f9e87"
EVENT_ID = "c7a1e5b2-3d4f-4a6b-8c9d-0e1f2a3b4c5d"
CREATED = datetime(2026, 10, 1, 8, 20, tzinfo=timezone.utc)
URL = "https://receiver.example/pleo/webhooks"


def _expected_signature(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


class Receiver:
    """Records deliveries and answers 204 if the signature checks out, else 401."""

    def __init__(self, secret: str = SECRET, status: int = 204) -> None:
        self.secret = secret
        self.status = status
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        body = request.read()
        expected = _expected_signature(
            self.secret,
            request.headers["webhook-id"],
            request.headers["webhook-timestamp"],
            body,
        )
        offered = request.headers["webhook-signature"].split()
        if not any(hmac.compare_digest(expected, candidate) for candidate in offered):
            return httpx.Response(401)
        return httpx.Response(self.status)


def _client(receiver: Receiver) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(receiver))


def test_event_body_has_the_documented_shape() -> None:
    body = build_export_job_created_event(
        uuid.UUID(JOB_ID), COMPANY_ID, EVENT_ID, CREATED, created_by=None, number_of_items=3
    )
    assert json.loads(body) == {
        "data": {
            "id": JOB_ID,
            "companyId": COMPANY_ID,
            "createdAt": "2026-10-01T08:20:00Z",
            "status": "pending",
            "expiresIn": 3600,
            "numberOfItems": 3,
        },
        "eventId": EVENT_ID,
        "eventType": "v1.export-job.created",
    }
    assert EXPORT_JOB_CREATED == "v1.export-job.created"
    # Compact, deterministic bytes: the exact bytes are what gets signed.
    assert body == build_export_job_created_event(
        JOB_ID, COMPANY_ID, EVENT_ID, "2026-10-01T08:20:00Z", number_of_items=3
    )


def test_event_data_is_the_job_snapshot_when_given() -> None:
    demo = build_demo(seed=1)
    job = demo.jobs[0].job
    body = build_export_job_created_event(
        job["id"], demo.company_id, EVENT_ID, job["createdAt"], job=job
    )
    assert json.loads(body)["data"] == job


def test_job_snapshot_must_match_the_ids() -> None:
    job = build_demo(seed=1).jobs[0].job
    with pytest.raises(ValueError, match="companyId"):
        build_export_job_created_event(job["id"], COMPANY_ID, EVENT_ID, CREATED, job=job)


def test_naive_created_at_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone"):
        build_export_job_created_event(JOB_ID, COMPANY_ID, EVENT_ID, datetime(2026, 10, 1))


def test_delivery_is_signed_standard_webhooks_style() -> None:
    receiver = Receiver()
    body = build_export_job_created_event(JOB_ID, COMPANY_ID, EVENT_ID, CREATED)
    with _client(receiver) as client:
        response = deliver(URL, SECRET, body, "msg_2mJ0example", 1_790_000_000, client)
    assert response.status_code == 204
    (request,) = receiver.requests
    assert request.method == "POST"
    assert str(request.url) == URL
    assert request.content == body
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-id"] == "msg_2mJ0example"
    assert request.headers["webhook-timestamp"] == "1790000000"
    assert request.headers["webhook-signature"] == _expected_signature(
        SECRET, "msg_2mJ0example", "1790000000", body
    )


def test_datetime_timestamp_is_sent_as_unix_seconds() -> None:
    receiver = Receiver()
    body = build_export_job_created_event(JOB_ID, COMPANY_ID, EVENT_ID, CREATED)
    with _client(receiver) as client:
        response = deliver(URL, SECRET, body, "msg_1", CREATED, client)
    assert response.status_code == 204
    assert receiver.requests[0].headers["webhook-timestamp"] == str(int(CREATED.timestamp()))


def test_receiver_with_another_secret_rejects_the_delivery() -> None:
    """Honesty check: the independent verification really depends on the key."""
    other = "whsec_" + base64.b64encode(b"another-key-another-key-0000").decode()
    receiver = Receiver(secret=other)
    body = build_export_job_created_event(JOB_ID, COMPANY_ID, EVENT_ID, CREATED)
    with _client(receiver) as client:
        assert deliver(URL, SECRET, body, "msg_1", 1_790_000_000, client).status_code == 401


def test_signature_covers_id_timestamp_and_body() -> None:
    body = build_export_job_created_event(JOB_ID, COMPANY_ID, EVENT_ID, CREATED)
    base = _expected_signature(SECRET, "msg_1", "1790000000", body)
    assert base != _expected_signature(SECRET, "msg_2", "1790000000", body)
    assert base != _expected_signature(SECRET, "msg_1", "1790000001", body)
    assert base != _expected_signature(SECRET, "msg_1", "1790000000", body + b" ")


def test_sdk_verifier_accepts_and_parses_the_delivery() -> None:
    """The SDK's own receiver side agrees with the sandbox's sender side."""
    webhooks = pytest.importorskip("pleo_erp.client.webhooks")
    receiver = Receiver()
    body = build_export_job_created_event(JOB_ID, COMPANY_ID, EVENT_ID, CREATED, number_of_items=2)
    now = datetime.now(timezone.utc)
    with _client(receiver) as client:
        deliver(URL, SECRET, body, "msg_sdk", now, client)
    request = receiver.requests[0]
    verifier = webhooks.StandardWebhookVerifier(SECRET)
    event = webhooks.verify_and_parse(dict(request.headers), request.content, verifier)
    assert isinstance(event, webhooks.ExportJobCreatedEvent)
    assert event.job_id == uuid.UUID(JOB_ID)
    assert event.company_id == uuid.UUID(COMPANY_ID)
    assert event.number_of_items == 2


def test_extra_headers_are_sent_but_cannot_replace_signature_headers() -> None:
    receiver = Receiver()
    body = build_export_job_created_event(JOB_ID, COMPANY_ID, EVENT_ID, CREATED)
    auth = "Basic " + base64.b64encode(b"pleo:hook-password").decode()
    with _client(receiver) as client:
        deliver(
            URL,
            SECRET,
            body,
            "msg_1",
            1,
            client,
            extra_headers={"Authorization": auth, "X-Tenant": "nordlys"},
        )
        assert receiver.requests[0].headers["authorization"] == auth
        assert receiver.requests[0].headers["x-tenant"] == "nordlys"
        with pytest.raises(ValueError, match=r"(?i)webhook-signature"):
            deliver(
                URL, SECRET, body, "msg_1", 1, client, extra_headers={"Webhook-Signature": "v1,x"}
            )
    assert len(receiver.requests) == 1


def test_error_status_is_returned_not_raised() -> None:
    receiver = Receiver(status=503)
    body = build_export_job_created_event(JOB_ID, COMPANY_ID, EVENT_ID, CREATED)
    with _client(receiver) as client:
        assert deliver(URL, SECRET, body, "msg_1", 1, client).status_code == 503


def test_secret_is_not_in_transport_errors() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    body = build_export_job_created_event(JOB_ID, COMPANY_ID, EVENT_ID, CREATED)
    with (
        httpx.Client(transport=httpx.MockTransport(refuse)) as client,
        pytest.raises(httpx.ConnectError) as caught,
    ):
        deliver(URL, SECRET, body, "msg_1", 1, client)
    assert SECRET not in str(caught.value)
    assert SECRET.removeprefix("whsec_") not in repr(caught.value)
