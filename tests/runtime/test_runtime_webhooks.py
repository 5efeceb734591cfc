"""Export webhooks (verify, dedupe on webhook-id, mark due, enqueue) and ``tick``."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from pleo_erp.client.webhooks import (
    StandardWebhookVerifier,
    WebhookEvent,
    parse_event,
    signature_headers,
)
from pleo_erp.orchestration import ScheduledLevel
from pleo_erp.runtime import (
    RuntimeState,
    RuntimeWebhookReceiver,
    WebhookDisposition,
    handle_export_webhook,
    tick,
)
from pleo_erp.runtime.sqlite import open_sqlite_state
from tests.runtime._runtime_helpers import EXPORT, T0, TAGS, FakeClock, connection

SECRET = "whsec_" + "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"


class Recorder:
    """An engine that records what it was given (or refuses everything)."""

    def __init__(self, *, refuse: bool = False) -> None:
        self.calls: list[tuple[UUID, ScheduledLevel, str]] = []
        self.refuse = refuse

    def __call__(self, company: UUID, level: ScheduledLevel, trigger: str) -> None:
        if self.refuse:
            raise ConnectionError("broker down")
        self.calls.append((company, level, trigger))


def event_body(
    company: UUID, job: UUID | None = None, event_type: str = "v1.export-job.created"
) -> bytes:
    return json.dumps(
        {
            "eventType": event_type,
            "eventId": f"evt_{uuid4().hex}",
            "data": {"id": str(job or uuid4()), "companyId": str(company), "status": "pending"},
        }
    ).encode()


def export_event(company: UUID) -> WebhookEvent:
    return parse_event(event_body(company))


def _hold_rows(state: RuntimeState) -> None:
    state.schedule.claim_due(100)  # nothing due before the webhook


def test_accepted_marks_export_due_and_enqueues(state: RuntimeState) -> None:
    company = uuid4()
    state.registry.add(connection(company))
    _hold_rows(state)
    engine = Recorder()

    result = handle_export_webhook(
        export_event(company),
        webhook_id="msg_1",
        inbox=state.inbox,
        schedule=state.schedule,
        enqueue=engine,
        registry=state.registry,
    )

    assert result is WebhookDisposition.ACCEPTED
    assert engine.calls == [(company, EXPORT, "webhook")]
    assert [(r.company_id, r.level) for r in state.schedule.claim_due(10)] == [(company, EXPORT)]


def test_duplicate_delivery_is_acknowledged_once_even_after_restart(tmp_path: Any) -> None:
    clock = FakeClock()
    company = uuid4()
    first = open_sqlite_state(tmp_path / "s.db", clock=clock)
    first.registry.add(connection(company))
    engine = Recorder()
    event = export_event(company)
    args: dict[str, Any] = {"webhook_id": "msg_7", "enqueue": engine}

    assert (
        handle_export_webhook(event, inbox=first.inbox, schedule=first.schedule, **args)
        is WebhookDisposition.ACCEPTED
    )
    assert (
        handle_export_webhook(event, inbox=first.inbox, schedule=first.schedule, **args)
        is WebhookDisposition.DUPLICATE
    )
    first.close()
    restarted = open_sqlite_state(tmp_path / "s.db", clock=clock)
    assert (
        handle_export_webhook(event, inbox=restarted.inbox, schedule=restarted.schedule, **args)
        is WebhookDisposition.DUPLICATE
    )
    restarted.close()
    assert len(engine.calls) == 1


def test_unknown_company_and_other_events_are_acknowledged_not_run(state: RuntimeState) -> None:
    known, unknown = uuid4(), uuid4()
    state.registry.add(connection(known, levels=(TAGS,)))  # no export level
    engine = Recorder()
    common: dict[str, Any] = {
        "inbox": state.inbox,
        "schedule": state.schedule,
        "enqueue": engine,
        "registry": state.registry,
    }
    assert (
        handle_export_webhook(export_event(unknown), webhook_id="a", **common)
        is WebhookDisposition.UNKNOWN_COMPANY
    )
    assert (
        handle_export_webhook(export_event(known), webhook_id="b", **common)
        is WebhookDisposition.UNKNOWN_COMPANY
    )
    other = parse_event(event_body(known, event_type="v1.something.else"))
    assert handle_export_webhook(other, webhook_id="c", **common) is WebhookDisposition.IGNORED
    assert engine.calls == []


def test_refused_enqueue_leaves_the_export_due_for_the_tick(state: RuntimeState) -> None:
    company = uuid4()
    state.registry.add(connection(company))
    _hold_rows(state)

    result = handle_export_webhook(
        export_event(company),
        webhook_id="m",
        inbox=state.inbox,
        schedule=state.schedule,
        enqueue=Recorder(refuse=True),
    )

    assert result is WebhookDisposition.QUEUED_BY_SCHEDULE
    later = Recorder()
    assert tick(state.schedule, later).enqueued == 1
    assert later.calls == [(company, EXPORT, "schedule")]


# ---- the HTTP-free receiver -------------------------------------------------------------------


def _receiver(state: RuntimeState, engine: Recorder, clock: FakeClock) -> RuntimeWebhookReceiver:
    verifier = StandardWebhookVerifier(SECRET, clock=clock)
    return RuntimeWebhookReceiver(
        verifier,
        inbox=state.inbox,
        schedule=state.schedule,
        enqueue=engine,
        registry=state.registry,
        clock=clock,
    )


def test_receiver_verifies_before_anything_and_answers_at_once(
    state: RuntimeState, clock: FakeClock
) -> None:
    company = uuid4()
    state.registry.add(connection(company))
    engine = Recorder()
    receiver = _receiver(state, engine, clock)
    body = event_body(company)
    headers = signature_headers(SECRET, "msg_42", T0, body)

    forged = dict(headers, **{"webhook-signature": "v1,AAAA"})
    assert receiver.handle("POST", "/webhooks/pleo", forged, body).status == 401
    assert engine.calls == []
    clock.advance(seconds=1)

    assert receiver.handle("GET", "/webhooks/pleo", headers, body).status == 405
    assert receiver.handle("POST", "/other", headers, body).status == 404
    answer = receiver.handle("POST", "/webhooks/pleo?x=1", headers, body)
    assert answer.status == 202  # the forged delivery's id was not remembered
    assert answer.body["export"] == "accepted"
    again = receiver.handle("POST", "/webhooks/pleo", headers, body)
    assert (again.status, again.body["status"]) == (200, "duplicate")
    assert engine.calls == [(company, EXPORT, "webhook")]


def test_receiver_answers_503_when_the_state_store_fails(
    state: RuntimeState, clock: FakeClock
) -> None:
    class BrokenInbox:
        def record(self, *args: Any, **kwargs: Any) -> bool:
            raise OSError("disk full")

        def prune(self, older_than: timedelta) -> int:
            return 0

    receiver = _receiver(state, Recorder(), clock)
    receiver.inbox = BrokenInbox()
    body = event_body(uuid4())
    answer = receiver.handle(
        "POST", "/webhooks/pleo", signature_headers(SECRET, "m1", T0, body), body
    )
    assert answer.status == 503  # Pleo redelivers later


# ---- tick -----------------------------------------------------------------------------------


def test_tick_enqueues_due_rows_and_re_marks_refused_ones(
    state: RuntimeState, clock: FakeClock
) -> None:
    first, second = uuid4(), uuid4()
    state.registry.add(connection(first, levels=(EXPORT,)))
    state.registry.add(connection(second, levels=(EXPORT,)))

    class Flaky(Recorder):
        refused = False

        def __call__(self, company: UUID, level: ScheduledLevel, trigger: str) -> None:
            if company == second and not self.refused:
                self.refused = True
                raise ConnectionError("broker down")
            super().__call__(company, level, trigger)

    engine = Flaky()
    result = tick(state.schedule, engine, limit=10)
    assert (result.claimed, result.enqueued, result.failed) == (2, 1, 1)

    retry = tick(state.schedule, engine, limit=10)  # the refused one is due again
    assert (retry.claimed, retry.enqueued) == (1, 1)
    assert engine.calls[-1] == (second, EXPORT, "schedule")
    assert tick(state.schedule, engine).claimed == 0  # no duplicate beat


def test_tick_sweeps_claims_that_never_started(state: RuntimeState, clock: FakeClock) -> None:
    company = uuid4()
    state.registry.add(connection(company, levels=(EXPORT,), cadence={EXPORT: timedelta(hours=1)}))
    lost = Recorder()
    assert tick(state.schedule, lost).enqueued == 1  # ... and the message is lost
    clock.advance(minutes=11)
    again = Recorder()
    result = tick(state.schedule, again, stale_after=timedelta(minutes=10))
    assert result.swept == 1
    assert again.calls == [(company, EXPORT, "schedule")]


def test_tick_limit_leaves_the_rest_due(state: RuntimeState) -> None:
    for _ in range(5):
        state.registry.add(connection(uuid4(), levels=(EXPORT,)))
    engine = Recorder()
    assert tick(state.schedule, engine, limit=3).claimed == 3
    assert tick(state.schedule, engine, limit=3).claimed == 2


@pytest.mark.parametrize("header_case", ["webhook-id", "Webhook-Id"])
def test_receiver_reads_the_webhook_id_header_case_insensitively(
    state: RuntimeState, clock: FakeClock, header_case: str
) -> None:
    company = uuid4()
    state.registry.add(connection(company))
    receiver = _receiver(state, Recorder(), clock)
    body = event_body(company)
    headers = signature_headers(SECRET, "msg_case", T0, body)
    headers[header_case] = headers.pop("webhook-id")
    assert receiver.handle("POST", "/webhooks/pleo", headers, body).status == 202
    assert not state.inbox.record("msg_case", company_id=None, received_at=T0)
