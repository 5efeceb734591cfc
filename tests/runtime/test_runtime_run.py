"""``run_level``: one level under the company lease, recorded (and fenced) in the schedule."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest

from pleo_erp.client.auth import MemoryTokenStore, OAuth2Auth, TokenSet
from pleo_erp.orchestration import ExportReport, ScheduleConfig, SyncReport
from pleo_erp.runtime import RunOutcome, RuntimeConfig, RuntimeState, lease_key, run_level
from pleo_erp.testing import PleoSandbox
from tests.runtime._runtime_helpers import (
    ALL,
    COA,
    EXPORT,
    TAGS,
    FakeClock,
    FakeMonotonic,
    SandboxFactory,
    connection,
)

pytestmark = pytest.mark.sandbox(seed=3)


@pytest.fixture
def cfg(clock: FakeClock) -> RuntimeConfig:
    return RuntimeConfig(clock=clock)


@pytest.fixture
def factory(sandbox: PleoSandbox) -> SandboxFactory:
    return SandboxFactory(sandbox)


def _company(sandbox: PleoSandbox, state: RuntimeState, **kwargs: Any) -> UUID:
    company = UUID(sandbox.add_company())
    state.registry.add(connection(company, **kwargs))
    return company


def _row(state: RuntimeState, company: UUID, level: Any) -> Any:
    return next(row for row in state.schedule.rows(company) if row.level is level)


def test_each_level_runs_and_is_recorded(
    cfg: RuntimeConfig,
    sandbox: PleoSandbox,
    factory: SandboxFactory,
    state: RuntimeState,
    clock: FakeClock,
) -> None:
    company = _company(sandbox, state)
    job = sandbox.create_export_job(str(company), 4)

    results = [run_level(company, level, state=state, factory=factory, config=cfg) for level in ALL]

    assert [r.outcome for r in results] == [RunOutcome.OK] * 3
    assert isinstance(results[0].report, SyncReport)
    assert isinstance(results[2].report, ExportReport)
    assert sandbox.job_status(job) == "completed"
    assert len(factory.system(company).entries) == 4
    for level in ALL:
        row = _row(state, company, level)
        assert row.last_outcome == "ok"
        assert row.last_started_at == clock.now
        assert row.next_due > clock.now  # the run restarted the cadence
    # one lease key for every level, released after each run
    holder = state.leases.holder(lease_key(company))
    assert holder is not None
    assert holder.owner is None
    assert holder.generation == 3


def test_busy_when_another_worker_holds_the_company_lease(
    cfg: RuntimeConfig, sandbox: PleoSandbox, factory: SandboxFactory, state: RuntimeState
) -> None:
    company = _company(sandbox, state, levels=(EXPORT,))
    state.schedule.claim_due(5)  # the row is not due any more
    held = state.leases.acquire(lease_key(company), "other-host:1:abc", ttl=60)
    assert held is not None
    sandbox.clear_requests()

    result = run_level(company, EXPORT, "webhook", state=state, factory=factory, config=cfg)

    assert result.outcome is RunOutcome.BUSY
    assert not result.ok
    assert result.generation is None
    assert sandbox.requests == []  # nothing ran
    assert factory.builds == 0
    # marked due so the holder (or the next tick once it is free) runs it
    assert [run.level for run in state.schedule.claim_due(5)] == [EXPORT]
    assert _row(state, company, EXPORT).last_outcome is None  # busy is not recorded as a run


def test_skipped_for_unknown_company_or_level(
    cfg: RuntimeConfig, sandbox: PleoSandbox, factory: SandboxFactory, state: RuntimeState
) -> None:
    company = _company(sandbox, state, levels=(EXPORT,))
    assert run_level(UUID(int=5), EXPORT, state=state, factory=factory, config=cfg).outcome is (
        RunOutcome.SKIPPED
    )
    assert (
        run_level(company, TAGS, state=state, factory=factory, config=cfg).outcome
        is RunOutcome.SKIPPED
    )
    assert factory.builds == 0


def test_failure_is_recorded_with_a_safe_message_and_retried_sooner(
    cfg: RuntimeConfig,
    sandbox: PleoSandbox,
    factory: SandboxFactory,
    state: RuntimeState,
    clock: FakeClock,
) -> None:
    company = _company(sandbox, state, levels=(TAGS,))

    def broken() -> list[Any]:
        raise RuntimeError("db password=hunter2 refused")

    factory.system(company).list_dimensions = broken  # type: ignore[method-assign]

    result = run_level(company, TAGS, state=state, factory=factory, config=cfg)

    assert result.outcome is RunOutcome.FAILED
    row = _row(state, company, TAGS)
    assert row.last_outcome == "failed"
    assert "hunter2" not in (row.last_error or "")
    assert "hunter2" not in str(result)
    assert row.next_due == clock.now + ScheduleConfig().retry_failed_after
    assert result.error is not None  # kept for the host
    assert "RuntimeError" in (row.last_error or "")


def test_lost_lease_stops_the_export_before_its_next_side_effect(
    cfg: RuntimeConfig,
    sandbox: PleoSandbox,
    factory: SandboxFactory,
    state: RuntimeState,
    clock: FakeClock,
) -> None:
    company = _company(sandbox, state, levels=(EXPORT,))
    job = sandbox.create_export_job(str(company), 6)
    monotonic = FakeMonotonic()
    seen: list[str] = []

    def progress(event: Any) -> None:
        seen.append(event.kind)
        if event.kind == "item_done" and len(factory.system(company).entries) == 2:
            monotonic.value += 61  # paused past the ttl: the local deadline has passed
            clock.advance(seconds=61)  # ... and the store's expiry too

    factory.options[EXPORT] = {"progress": progress}
    config = RuntimeConfig(lease_ttl=60, monotonic=monotonic, clock=clock)

    result = run_level(company, EXPORT, state=state, factory=factory, config=config)

    assert result.outcome is RunOutcome.LEASE_LOST
    assert len(factory.system(company).entries) == 2  # stopped before posting the third
    assert sandbox.job_status(job) == "in_progress"  # left resumable, no final event
    row = _row(state, company, EXPORT)
    assert row.last_outcome == "lease_lost"
    assert row.next_due <= clock.now + ScheduleConfig().retry_failed_after

    factory.options.clear()
    again = run_level(company, EXPORT, state=state, factory=factory, config=cfg)
    assert again.outcome is RunOutcome.OK
    assert again.generation == (result.generation or 0) + 1
    assert sandbox.job_status(job) == "completed"
    assert len(factory.system(company).entries) == 6
    assert factory.system(company).duplicates() == []


def test_stale_worker_cannot_overwrite_the_newer_runs_record(
    cfg: RuntimeConfig,
    sandbox: PleoSandbox,
    factory: SandboxFactory,
    state: RuntimeState,
    clock: FakeClock,
) -> None:
    """Kleppmann's pause: A stalls past its ttl, B takes over and finishes, A wakes up."""
    company = _company(sandbox, state, levels=(EXPORT,))
    sandbox.create_export_job(str(company), 3)
    monotonic = FakeMonotonic()
    inner: list[Any] = []
    factory.fresh_locks = True  # A and B as if in two processes (no shared in-process lock)

    def pause_then_wake(event: Any) -> None:
        if inner or event.kind != "item_done":
            return
        monotonic.value += 61
        clock.advance(seconds=61)  # the store sees A's lease expired
        factory.options.clear()
        inner.append(run_level(company, EXPORT, state=state, factory=factory, config=cfg))

    factory.options[EXPORT] = {"progress": pause_then_wake}
    config = RuntimeConfig(lease_ttl=60, monotonic=monotonic, clock=clock)
    stale = run_level(company, EXPORT, state=state, factory=factory, config=config)

    (newer,) = inner
    assert newer.outcome is RunOutcome.OK
    assert newer.generation == 2
    assert stale.outcome is RunOutcome.LEASE_LOST
    assert stale.generation == 1
    row = _row(state, company, EXPORT)
    assert row.last_outcome == "ok"  # A's fenced write was ignored
    assert factory.system(company).duplicates() == []
    assert len(factory.system(company).entries) == 3


def test_a_fresh_connection_runs_its_chart_first_whichever_trigger_wins(
    cfg: RuntimeConfig, sandbox: PleoSandbox, factory: SandboxFactory, state: RuntimeState
) -> None:
    company = _company(sandbox, state)
    result = run_level(company, EXPORT, state=state, factory=factory, config=cfg)
    assert [r.level for r in (*result.followups[:2], result)] == [COA, TAGS, EXPORT]
    assert all(r.ok for r in (result, *result.followups))
    again = run_level(company, EXPORT, "webhook", state=state, factory=factory, config=cfg)
    assert again.followups == ()  # they have run now


def test_onboarding_trigger_chains_levels_in_order(
    cfg: RuntimeConfig, sandbox: PleoSandbox, factory: SandboxFactory, state: RuntimeState
) -> None:
    company = _company(sandbox, state)
    sandbox.create_export_job(str(company), 2)
    sandbox.clear_requests()

    result = run_level(company, COA, "onboarding", state=state, factory=factory, config=cfg)

    assert [result.level, *(r.level for r in result.followups)] == list(ALL)
    assert all(r.outcome is RunOutcome.OK for r in (result, *result.followups))
    assert {r.generation for r in (result, *result.followups)} == {1}  # one lease
    paths = [request.path for request in sandbox.requests]
    first_tags = next(i for i, p in enumerate(paths) if p.startswith("/v0/tag"))
    first_export = next(i for i, p in enumerate(paths) if p.startswith("/v3/"))
    last_accounts = max(i for i, p in enumerate(paths) if p.startswith("/v1/chart-of-accounts"))
    assert last_accounts < first_tags < first_export


def test_holder_drains_a_level_that_was_busy_meanwhile(
    cfg: RuntimeConfig,
    sandbox: PleoSandbox,
    factory: SandboxFactory,
    state: RuntimeState,
    clock: FakeClock,
) -> None:
    company = _company(sandbox, state, levels=(TAGS, EXPORT))
    assert run_level(company, TAGS, state=state, factory=factory, config=cfg).ok
    state.schedule.claim_due(5)
    sandbox.create_export_job(str(company), 2)
    busy: list[Any] = []

    def webhook_arrives(event: Any) -> None:
        if not busy:
            busy.append(
                run_level(company, TAGS, "manual", state=state, factory=factory, config=cfg)
            )

    factory.options[EXPORT] = {"progress": webhook_arrives}
    result = run_level(company, EXPORT, state=state, factory=factory, config=cfg)

    assert busy[0].outcome is RunOutcome.BUSY
    assert [r.level for r in result.followups] == [TAGS]
    assert result.followups[0].outcome is RunOutcome.OK
    assert _row(state, company, TAGS).last_outcome == "ok"
    assert state.schedule.claim_due(5) == []  # nothing left due


def test_oauth_installation_activated_only_after_syncs_succeed(
    cfg: RuntimeConfig, sandbox: PleoSandbox, factory: SandboxFactory, state: RuntimeState
) -> None:
    """Accounts rule 24: activate after the first CoA and tags syncs, only if they worked."""
    company = UUID(sandbox.add_company())
    tokens = sandbox.issue_oauth_grant(str(company))
    store = MemoryTokenStore(
        TokenSet(
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            expires_at=datetime.now(timezone.utc) + timedelta(hours=1),
        )
    )
    factory.auth[company] = OAuth2Auth(
        sandbox.oauth_client_id, sandbox.oauth_client_secret, store, token_url="https://x/t"
    )
    state.registry.add(connection(company, auth_kind="oauth", levels=(COA, TAGS)))
    state.schedule.claim_due(10)  # tick claimed both: nothing left for a drain

    def status() -> str:
        (installation,) = [
            i for i in sandbox.installations() if i["resource"].endswith(str(company))
        ]
        return str(installation["status"])

    assert run_level(company, COA, state=state, factory=factory, config=cfg).ok
    assert status() == "AUTHORIZED"  # tags have not run yet
    factory.system(company).fail_reads("dimensions")
    failed = run_level(company, TAGS, state=state, factory=factory, config=cfg)
    assert failed.outcome in (RunOutcome.FAILED, RunOutcome.PARTIAL)
    assert status() == "AUTHORIZED"
    factory.system(company).restore_reads()
    assert run_level(company, TAGS, state=state, factory=factory, config=cfg).ok
    assert status() == "ACTIVATED"


_DIE_HOLDING = """
import os, sys
from pleo_erp.runtime.sqlite import open_sqlite_state
state = open_sqlite_state(sys.argv[1])
assert state.leases.acquire(sys.argv[2], "doomed:1:x", ttl=600) is not None
os._exit(0)  # gone without releasing: the lease row names a dead process
"""


def test_recover_interrupted_marks_levels_of_dead_runs_due(
    sandbox: PleoSandbox, state: RuntimeState, clock: FakeClock, tmp_path: Any
) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    from pleo_erp.runtime import recover_interrupted

    company = _company(sandbox, state, levels=(COA, EXPORT))
    finished = _company(sandbox, state, levels=(COA,))
    state.schedule.claim_due(10)
    for level in (COA, EXPORT):
        state.schedule.record_start(company, level, generation=1)  # ... then SIGKILL
    state.schedule.record_start(finished, COA, generation=1)
    state.schedule.record_finish(
        finished, COA, generation=1, outcome="ok", error=None, retry_after=None
    )

    live = state.leases.acquire(lease_key(company), "alive-here", ttl=600)  # this process
    assert live is not None
    assert recover_interrupted(state) == 0  # it is still running
    state.leases.release(live)

    src = str(Path(__file__).resolve().parents[2] / "src")
    subprocess.run(
        [sys.executable, "-c", _DIE_HOLDING, str(tmp_path / "state.db"), lease_key(company)],
        check=True,
        env={**os.environ, "PYTHONPATH": src},
        timeout=60,
    )
    holder = state.leases.holder(lease_key(company))
    assert holder is not None
    assert holder.owner == "doomed:1:x"
    assert recover_interrupted(state) == 2
    assert {(r.company_id, r.level) for r in state.schedule.claim_due(10)} == {
        (company, COA),
        (company, EXPORT),
    }
