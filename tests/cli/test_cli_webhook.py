"""``pleo-erp webhook serve``: the receiver verifies before parsing, answers at once, and runs
one export per company at a time in the background (DESIGN decisions 10 and 13)."""

from __future__ import annotations

import base64
import threading
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from pleo_erp.cli import _serve
from pleo_erp.cli._webhook import (
    ExportDispatcher,
    RunOutcome,
    WebhookReceiver,
    WebhookResponse,
    make_server,
)
from pleo_erp.client.webhooks import ReplayGuard, StandardWebhookVerifier, signature_headers
from pleo_erp.testing.sandbox.webhook_delivery import build_export_job_created_event
from tests.helpers.cli import cli, make_ledger, served_demo

SECRET = "whsec_" + base64.b64encode(b"pleo-erp-test-webhook-secret-32b").decode()
NOW = datetime(2026, 10, 1, 9, 0, tzinfo=timezone.utc)
COMPANY = uuid.UUID("6f1c0000-0000-4000-8000-000000000001")
OTHER_COMPANY = uuid.UUID("6f1c0000-0000-4000-8000-000000000002")
PATH = "/webhooks/pleo"


class Recorder:
    """A run function that records companies and can hold the first run open."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.calls: list[uuid.UUID] = []
        self.started = threading.Event()
        self.gate = gate
        self.lock = threading.Lock()

    def __call__(self, company_id: uuid.UUID) -> str:
        with self.lock:
            self.calls.append(company_id)
        self.started.set()
        if self.gate is not None:
            assert self.gate.wait(5), "test gate never opened"
        return f"report for {company_id}"


def _delivery(
    company: uuid.UUID = COMPANY,
    *,
    msg_id: str | None = None,
    at: datetime = NOW,
    event_type: str | None = None,
) -> tuple[dict[str, str], bytes]:
    body = build_export_job_created_event(uuid.uuid4(), company, uuid.uuid4(), at)
    if event_type is not None:
        body = body.replace(b"v1.export-job.created", event_type.encode())
    headers = signature_headers(SECRET, msg_id or f"msg_{uuid.uuid4().hex}", at, body)
    headers["content-type"] = "application/json"
    return headers, body


def _receiver(
    run: Recorder, *, company_id: uuid.UUID | None = None, outcomes: list[RunOutcome] | None = None
) -> WebhookReceiver:
    dispatcher = ExportDispatcher(run, on_done=(outcomes.append if outcomes is not None else None))
    verifier = StandardWebhookVerifier(SECRET, clock=lambda: NOW)
    return WebhookReceiver(
        verifier,
        dispatcher,
        path=PATH,
        replay_guard=ReplayGuard(clock=lambda: NOW),
        company_id=company_id,
    )


def test_signed_delivery_is_accepted_and_exports_after_the_answer() -> None:
    """Decision 13: answer 2xx fast, run the export after (in a worker thread)."""
    gate = threading.Event()
    run = Recorder(gate)
    receiver = _receiver(run)
    headers, body = _delivery()
    response = receiver.handle("POST", PATH, headers, body)
    # The response exists while the export is still blocked: it did not wait for it.
    assert response.status == 202
    assert response.body["status"] == "accepted"
    assert response.body["export"] == "started"
    assert run.started.wait(5)
    assert receiver.dispatcher.busy()
    gate.set()
    assert receiver.dispatcher.wait_idle(5)
    assert run.calls == [COMPANY]


def test_tampered_delivery_is_refused_and_runs_nothing() -> None:
    run = Recorder()
    receiver = _receiver(run)
    headers, body = _delivery()
    tampered = body.replace(str(COMPANY).encode(), str(OTHER_COMPANY).encode())
    assert tampered != body
    response = receiver.handle("POST", PATH, headers, tampered)
    assert response.status == 401
    assert response.body == {"error": "verification failed"}
    missing = receiver.handle("POST", PATH, {"content-type": "application/json"}, body)
    assert missing.status == 401
    assert run.calls == []
    assert not receiver.dispatcher.busy()


def test_stale_or_future_timestamp_is_refused() -> None:
    run = Recorder()
    receiver = _receiver(run)
    for at in (NOW - timedelta(minutes=6), NOW + timedelta(minutes=6)):
        headers, body = _delivery(at=at)
        assert receiver.handle("POST", PATH, headers, body).status == 401
    assert run.calls == []


def test_replayed_delivery_is_acknowledged_but_not_run_twice() -> None:
    run = Recorder()
    receiver = _receiver(run)
    headers, body = _delivery(msg_id="msg_once")
    assert receiver.handle("POST", PATH, headers, body).status == 202
    assert receiver.dispatcher.wait_idle(5)
    again = receiver.handle("POST", PATH, headers, body)
    assert again == WebhookResponse(200, {"status": "duplicate"})
    assert receiver.dispatcher.wait_idle(5)
    assert run.calls == [COMPANY]


def test_verified_but_malformed_payload_is_400() -> None:
    run = Recorder()
    receiver = _receiver(run)
    body = b'{"eventType": "v1.export-job.created", "data": {"id": "nope"}}'
    headers = signature_headers(SECRET, "msg_bad", NOW, body)
    assert receiver.handle("POST", PATH, headers, body).status == 400
    assert run.calls == []


def test_other_events_and_other_companies_are_acknowledged_and_ignored() -> None:
    run = Recorder()
    receiver = _receiver(run, company_id=COMPANY)
    headers, body = _delivery(event_type="v1.expense.created")
    assert receiver.handle("POST", PATH, headers, body) == WebhookResponse(
        200, {"status": "ignored"}
    )
    headers, body = _delivery(OTHER_COMPANY)
    assert receiver.handle("POST", PATH, headers, body).body == {"status": "ignored"}
    assert run.calls == []


def test_path_method_and_size_checks_come_first() -> None:
    run = Recorder()
    receiver = _receiver(run)
    headers, body = _delivery()
    assert receiver.handle("POST", "/other", headers, body).status == 404
    assert receiver.handle("GET", PATH, headers, body).status == 405
    big = b"{" + b" " * (receiver.max_body_bytes + 1) + b"}"
    assert receiver.handle("POST", PATH, headers, big).status == 413
    # The query string does not change the path.
    assert receiver.handle("POST", PATH + "?x=1", headers, body).status == 202
    assert receiver.dispatcher.wait_idle(5)


def test_dispatcher_runs_one_export_per_company_and_coalesces_triggers() -> None:
    gate = threading.Event()
    run = Recorder(gate)
    outcomes: list[RunOutcome] = []
    dispatcher = ExportDispatcher(run, on_done=outcomes.append)
    assert dispatcher.submit(COMPANY) == "started"
    assert run.started.wait(5)
    # While it runs, any number of triggers add exactly one follow-up run.
    assert dispatcher.submit(COMPANY) == "queued"
    assert dispatcher.submit(COMPANY) == "already_queued"
    assert dispatcher.submit(COMPANY) == "already_queued"
    # Another company is independent.
    assert dispatcher.submit(OTHER_COMPANY) == "started"
    gate.set()
    assert dispatcher.wait_idle(5)
    assert sorted(run.calls) == sorted([COMPANY, COMPANY, OTHER_COMPANY])
    assert dispatcher.runs == 3
    assert [o.error for o in outcomes] == [None, None, None]


def test_dispatcher_reports_a_failed_run_and_keeps_working() -> None:
    outcomes: list[RunOutcome] = []
    calls: list[uuid.UUID] = []

    def failing(company_id: uuid.UUID) -> None:
        calls.append(company_id)
        if len(calls) == 1:
            raise RuntimeError("ledger locked")

    dispatcher = ExportDispatcher(failing, on_done=outcomes.append)
    dispatcher.submit(COMPANY)
    assert dispatcher.wait_idle(5)
    dispatcher.submit(COMPANY)
    assert dispatcher.wait_idle(5)
    assert isinstance(outcomes[0].error, RuntimeError)
    assert outcomes[1].error is None
    assert len(calls) == 2


def test_server_over_loopback_answers_and_caps_the_body() -> None:
    run = Recorder()
    receiver = _receiver(run)
    server = make_server(receiver, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}{PATH}"
        headers, body = _delivery()
        with httpx.Client(timeout=5) as http:
            ok = http.post(url, headers=headers, content=body)
            assert ok.status_code == 202
            assert ok.json()["status"] == "accepted"
            tampered = http.post(url, headers=headers, content=body + b" ")
            assert tampered.status_code == 401
            huge = http.post(url, headers=headers, content=b"x" * (receiver.max_body_bytes + 10))
            assert huge.status_code == 413
        assert receiver.dispatcher.wait_idle(5)
        assert run.calls == [COMPANY]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_receiver_refuses_a_bad_secret_at_startup() -> None:
    with pytest.raises(ValueError):
        StandardWebhookVerifier("whsec_not base64!!")


@pytest.mark.http
def test_webhook_serve_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``pleo-erp webhook serve``: a signed delivery is answered 202 and the export of the
    company's whole queue runs in the background into the ledger; a tampered one runs
    nothing."""
    responses: list[httpx.Response] = []
    errors: list[BaseException] = []

    with served_demo() as served:
        ledger = make_ledger(tmp_path, served.demo)
        company = uuid.UUID(served.company_id)
        first_job = served.demo.jobs[0].job["id"]

        def on_listening(server: Any, dispatcher: ExportDispatcher) -> None:
            host, port = server.server_address[:2]
            url = f"http://{host}:{port}{PATH}"

            def drive() -> None:
                try:
                    body = build_export_job_created_event(
                        first_job, company, uuid.uuid4(), datetime.now(timezone.utc)
                    )
                    headers = signature_headers(SECRET, "msg_e2e", datetime.now(timezone.utc), body)
                    with httpx.Client(timeout=10) as http:
                        responses.append(http.post(url, headers=headers, content=body + b" "))
                        responses.append(http.post(url, headers=headers, content=body))
                    assert dispatcher.wait_idle(60)
                except BaseException as exc:  # reported by the test thread
                    errors.append(exc)
                finally:
                    server.shutdown()

            threading.Thread(target=drive, daemon=True).start()

        monkeypatch.setattr(_serve, "on_listening", on_listening)
        result = cli(
            tmp_path,
            "webhook",
            "serve",
            "--port",
            "0",
            env=served.env(PLEO_WEBHOOK_SECRET=SECRET, PLEO_LEDGER=str(ledger)),
        )
        statuses = {job["id"]: job["status"] for job in served.sandbox.jobs(served.company_id)}

    assert errors == []
    assert result.code == 0, result.err
    assert [r.status_code for r in responses] == [401, 202]
    assert statuses == served.demo.expected_job_statuses
    assert "completed_with_errors" in result.err  # the worker logs each job's outcome
    assert SECRET not in result.text


def test_webhook_serve_needs_a_secret(tmp_path: Path) -> None:
    result = cli(tmp_path, "webhook", "serve", env={"PLEO_API_KEY": "k" * 20})
    assert result.code == 2
    assert "PLEO_WEBHOOK_SECRET" in result.err
    bad = cli(
        tmp_path, "webhook", "serve", env={"PLEO_WEBHOOK_SECRET": "whsec_***", "PLEO_LEDGER": "x"}
    )
    assert bad.code == 2
    assert "not a valid whsec_" in bad.err
