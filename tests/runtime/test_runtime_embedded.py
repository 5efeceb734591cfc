"""The embedded runtime: in-thread runs, queue collapse, a draining stop, and end to end over
loopback HTTP with three sandbox companies, a webhook and worker threads."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from pleo_erp.client import ApiKeyAuth, PleoClient
from pleo_erp.client.webhooks import StandardWebhookVerifier, signature_headers
from pleo_erp.orchestration import ScheduledLevel
from pleo_erp.runtime import (
    Connection,
    EmbeddedRuntime,
    LevelResult,
    RunOutcome,
    RuntimeConfig,
    RuntimeState,
    WebhookListener,
)
from pleo_erp.runtime.sqlite import open_sqlite_state
from pleo_erp.testing import InMemoryAccountingSystem, PleoSandbox
from tests.runtime._runtime_helpers import ALL, EXPORT, TAGS, FakeClock, SandboxFactory, connection

SECRET = "whsec_" + "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"


def test_run_pending_runs_every_due_level_in_this_thread(
    state: RuntimeState, clock: FakeClock
) -> None:
    sandbox = PleoSandbox(seed=4)
    factory = SandboxFactory(sandbox)
    companies = [UUID(sandbox.add_company()) for _ in range(3)]
    jobs = [sandbox.create_export_job(str(company), 2) for company in companies]
    for company in companies:
        state.registry.add(connection(company))
    runtime = EmbeddedRuntime(state, factory, config=RuntimeConfig(clock=clock))

    results = runtime.run_pending()

    assert len(results) == 9
    assert {r.outcome for r in results} == {RunOutcome.OK}
    assert all(sandbox.job_status(job) == "completed" for job in jobs)
    assert runtime.outcomes == {"ok": 9}
    assert runtime.run_pending() == []  # nothing due until the cadence comes round
    clock.advance(minutes=6)
    assert [r.level for r in runtime.run_pending()] == [EXPORT] * 3


def test_a_waiting_trigger_is_not_queued_twice(state: RuntimeState, clock: FakeClock) -> None:
    sandbox = PleoSandbox(seed=4)
    factory = SandboxFactory(sandbox)
    company = UUID(sandbox.add_company())
    state.registry.add(connection(company, levels=(EXPORT,)))
    state.schedule.claim_due(5)
    runtime = EmbeddedRuntime(state, factory, config=RuntimeConfig(clock=clock))
    for trigger in ("webhook", "webhook", "manual"):
        runtime.enqueue(company, EXPORT, trigger)

    results = runtime.run_pending()

    assert [r.trigger for r in results] == ["webhook"]
    assert factory.builds == 1


def test_stop_hands_queued_triggers_back_to_the_schedule(
    state: RuntimeState, clock: FakeClock
) -> None:
    company = uuid4()
    state.registry.add(connection(company, levels=(TAGS, EXPORT)))
    state.schedule.claim_due(5)  # claimed, enqueued ... and the process is stopped
    runtime = EmbeddedRuntime(state, SandboxFactory(PleoSandbox(seed=4)))
    runtime.enqueue(company, TAGS, "schedule")
    runtime.enqueue(company, EXPORT, "webhook")

    runtime.stop()

    assert {(r.company_id, r.level) for r in state.schedule.claim_due(5)} == {
        (company, TAGS),
        (company, EXPORT),
    }
    with pytest.raises(RuntimeError, match="stopping"):
        runtime.enqueue(company, TAGS, "manual")


def test_constructor_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="workers"):
        EmbeddedRuntime(None, None, workers=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="tick_interval"):
        EmbeddedRuntime(None, None, tick_interval=0)  # type: ignore[arg-type]


# ---- end to end over loopback HTTP ----------------------------------------------------------


class HttpFactory:
    """Real HTTP clients to the served sandbox; one in-memory AS per company."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url = base_url
        self.api_key = api_key
        self.systems: dict[UUID, InMemoryAccountingSystem] = {}
        self.lock = threading.Lock()

    def build(
        self, conn: Connection
    ) -> tuple[PleoClient, object, Mapping[ScheduledLevel, Mapping[str, Any]]]:
        with self.lock:
            system = self.systems.setdefault(conn.company_id, InMemoryAccountingSystem())
        client = PleoClient(ApiKeyAuth(self.api_key), base_url=self.base_url, max_retries=0)
        return client, system, {}


class Results:
    """Collects run results from worker threads; tests wait on a predicate, bounded."""

    def __init__(self) -> None:
        self.items: list[LevelResult] = []
        self.changed = threading.Condition()

    def __call__(self, result: LevelResult) -> None:
        with self.changed:
            self.items.extend((result, *result.followups))
            self.changed.notify_all()

    def wait_for(self, predicate: Any, timeout: float = 30.0) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: predicate(self.items), timeout=timeout)


@pytest.mark.http
def test_serve_end_to_end_three_companies_webhook_and_clean_stop(tmp_path: Path) -> None:
    sandbox = PleoSandbox(seed=6)
    companies = [UUID(sandbox.add_company()) for _ in range(3)]
    first_job = sandbox.create_export_job(str(companies[0]), 3)
    state = open_sqlite_state(tmp_path / "state.db")
    hourly = dict.fromkeys(ALL, timedelta(hours=1))
    for company in companies:
        state.registry.add(connection(company, cadence=hourly))
    results = Results()
    with sandbox.serve() as base_url:
        factory = HttpFactory(base_url, sandbox.api_key)
        runtime = EmbeddedRuntime(
            state,
            factory,
            workers=3,
            tick_interval=0.05,
            webhook=WebhookListener(verifier=StandardWebhookVerifier(SECRET), port=0),
            on_result=results,
        )
        runtime.start()
        try:
            # the initial sync of every connection: 3 companies x 3 levels
            results.wait_for(
                lambda items: len({(r.company_id, r.level) for r in items if r.ok}) == 9
            )
            assert sandbox.job_status(first_job) == "completed"

            # a bookkeeper clicks Export for the second company: Pleo sends the webhook
            job = sandbox.create_export_job(str(companies[1]), 2)
            body = json.dumps(
                {
                    "eventType": "v1.export-job.created",
                    "eventId": "evt_1",
                    "data": {"id": job, "companyId": str(companies[1]), "status": "pending"},
                }
            ).encode()
            headers = signature_headers(SECRET, "msg_e2e", datetime.now(timezone.utc), body)
            assert runtime.webhook_url is not None
            started = time.monotonic()
            answer = httpx.post(runtime.webhook_url, content=body, headers=headers, timeout=5)
            assert answer.status_code == 202
            assert time.monotonic() - started < 1.0  # answered at once; the export runs later
            # run by the webhook's trigger, or by the tick that saw the row marked due
            results.wait_for(lambda _: sandbox.job_status(job) == "completed")
            assert sandbox.job_status(job) == "completed"
            duplicate = httpx.post(runtime.webhook_url, content=body, headers=headers, timeout=5)
            assert (duplicate.status_code, duplicate.json()["status"]) == (200, "duplicate")
        finally:
            runtime.stop(timeout=30)
    assert not [t for t in threading.enumerate() if t.name.startswith("pleo-")]
    assert all(r.outcome in (RunOutcome.OK, RunOutcome.BUSY) for r in results.items)
    assert [len(factory.systems[c].entries) for c in companies] == [3, 2, 0]
    assert all(factory.systems[c].duplicates() == [] for c in companies)
    rows = state.schedule.rows()
    assert len(rows) == 9
    assert all(row.last_outcome == "ok" for row in rows)
    state.close()


def test_triggers_for_a_running_company_wait_for_it_instead_of_spinning_busy(
    state: RuntimeState, clock: FakeClock
) -> None:
    sandbox = PleoSandbox(seed=4)
    factory = SandboxFactory(sandbox)
    company = UUID(sandbox.add_company())
    state.registry.add(connection(company, levels=(TAGS, EXPORT)))
    runtime = EmbeddedRuntime(
        state, factory, workers=3, tick_interval=3600, config=RuntimeConfig(clock=clock)
    )
    assert len(runtime.run_pending()) == 2  # the initial sync; nothing due any more
    gate, inside = threading.Event(), threading.Event()

    def hold(event: Any) -> None:
        inside.set()
        assert gate.wait(30)

    factory.options[EXPORT] = {"progress": hold}
    sandbox.create_export_job(str(company), 1)
    runtime.start()
    try:
        runtime.enqueue(company, EXPORT, "webhook")
        assert inside.wait(30)  # the export holds the company
        runtime.enqueue(company, TAGS, "manual")  # a second worker is free ...
        runtime.enqueue(company, EXPORT, "webhook")  # ... and a new trigger arrives
        time.sleep(0.2)  # give the free workers the chance to (wrongly) pick them up
        assert runtime.outcomes.get("busy", 0) == 0
        gate.set()
        assert runtime.wait_idle(timeout=30)
    finally:
        gate.set()
        runtime.stop(timeout=30)
    assert runtime.outcomes.get("busy", 0) == 0
    assert runtime.outcomes["ok"] >= 4  # 2 initial + the export + tags (+ the later export)
    rows = {row.level: row for row in state.schedule.rows(company)}
    assert rows[TAGS].last_outcome == "ok"
    assert rows[EXPORT].last_outcome == "ok"
