"""``ConnectorSchedule``: the three levels on their cadence (accounts rule 45, §A8), against the
sandbox's demo company and the in-memory accounting system, with an injected clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from pleo_erp.accounting_system.sources import SourceReadError
from pleo_erp.client import InsufficientScope
from pleo_erp.orchestration import (
    ConnectorSchedule,
    ExportReport,
    LevelRun,
    ScheduleConfig,
    ScheduledLevel,
    SyncReport,
    sync_tags,
)
from pleo_erp.orchestration import schedule as schedule_module
from pleo_erp.testing import InMemoryAccountingSystem, InMemorySources, PleoSandbox

COA = ScheduledLevel.CHART_OF_ACCOUNTS
TAGS = ScheduledLevel.TAGS
EXPORT = ScheduledLevel.EXPORT
T0 = datetime(2024, 3, 1, 8, 0, tzinfo=timezone.utc)


class FakeClock:
    """A settable UTC clock: the schedule never sleeps, the test moves time."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


class Connection:
    """The demo company in a sandbox, its AS, and a schedule driven by a fake clock."""

    def __init__(self, **schedule_kwargs: Any) -> None:
        self.sandbox = PleoSandbox(seed=1)
        self.demo = self.sandbox.seed_demo()
        assert self.sandbox.demo_company_id is not None
        self.company = self.sandbox.demo_company_id
        self.system = InMemoryAccountingSystem.from_demo(self.demo)
        self.clock = FakeClock()
        options = {
            EXPORT: {"clock": self.sandbox.clock.now, "sleep": self.sandbox.clock.sleep},
            **schedule_kwargs.pop("level_options", {}),
        }
        self.schedule = ConnectorSchedule(
            self.sandbox.client(),
            self.system,
            company_id=self.company,
            clock=self.clock,
            level_options=options,
            **schedule_kwargs,
        )

    def families(self) -> set[str]:
        """The API families the sandbox was called on since the last clear."""
        found = set()
        for request in self.sandbox.requests:
            path = request.path
            if path.startswith("/v1/chart-of-accounts"):
                found.add("accounts")
            elif path.startswith("/v0/tax-codes"):
                found.add("tax_codes")
            elif path.startswith(("/v0/tag-groups", "/v0/tags")):
                found.add("tags")
            elif path.startswith(("/v3/", "/_sandbox/files/")):  # jobs, items, receipts
                found.add("export")
            else:
                found.add(path)
        return found


@pytest.fixture
def conn() -> Connection:
    return Connection()


def levels(runs: list[LevelRun]) -> list[ScheduledLevel]:
    return [run.level for run in runs]


# ----------------------------------------------------------------------------- cadence


def test_rule45_levels_follow_what_the_adapter_implements(conn: Connection) -> None:
    assert conn.schedule.levels == (COA, TAGS, EXPORT)
    only_tags = InMemorySources()
    schedule = ConnectorSchedule(
        conn.sandbox.client(), only_tags, company_id=conn.company, clock=conn.clock
    )
    # InMemorySources is an account/tax-code/dimension source, not an export target.
    assert schedule.levels == (COA, TAGS)
    with pytest.raises(ValueError, match="export"):
        schedule.sync_now(EXPORT)
    with pytest.raises(TypeError, match="export"):
        ConnectorSchedule(
            conn.sandbox.client(), only_tags, company_id=conn.company, levels=[EXPORT]
        )


@pytest.mark.rule("§A8", "accounts-45")
def test_rule45_initial_run_on_connect_runs_every_level(conn: Connection) -> None:
    """Rule 45 / §A8: an initial sync right after connecting: every level is due at once."""
    assert conn.schedule.next_due() == T0
    assert conn.schedule.due() == (COA, TAGS, EXPORT)
    runs = conn.schedule.run_pending()
    assert levels(runs) == [COA, TAGS, EXPORT]
    for run in runs:
        assert run.succeeded, run
        assert run.trigger == "schedule"
        assert run.started_at == T0
    coa, tags, export = runs
    assert isinstance(coa.report, SyncReport)
    assert coa.report.ok, coa.report.summary()
    assert coa.report.related["tax_codes"].ok  # tax codes went first, in the same level
    assert isinstance(tags.report, SyncReport)
    assert tags.report.ok, tags.report.summary()
    assert isinstance(export.report, ExportReport)
    assert export.report.successful > 0
    assert conn.system.entries  # the demo queue reached the AS
    assert conn.families() == {"accounts", "tax_codes", "tags", "export"}
    # Next due: 24 h / 1 h / 5 min after the run started.
    assert conn.schedule.next_due(COA) == T0 + timedelta(hours=24)
    assert conn.schedule.next_due(TAGS) == T0 + timedelta(hours=1)
    assert conn.schedule.next_due(EXPORT) == T0 + timedelta(minutes=5)
    assert conn.schedule.next_due() == T0 + timedelta(minutes=5)
    assert [run.next_due for run in runs] == [
        T0 + timedelta(hours=24),
        T0 + timedelta(hours=1),
        T0 + timedelta(minutes=5),
    ]


def test_rule45_nothing_runs_before_it_is_due(conn: Connection) -> None:
    conn.schedule.run_pending()
    conn.sandbox.clear_requests()
    conn.clock.advance(minutes=4, seconds=59)
    assert conn.schedule.run_pending() == []
    assert conn.sandbox.requests == []
    conn.clock.advance(seconds=1)
    assert levels(conn.schedule.run_pending()) == [EXPORT]
    assert conn.families() == {"export"}


def test_rule45_after_an_hour_tags_and_the_export_poll_run(conn: Connection) -> None:
    conn.schedule.run_pending()
    conn.sandbox.clear_requests()
    conn.clock.advance(hours=1)
    runs = conn.schedule.run_pending()
    assert levels(runs) == [TAGS, EXPORT]
    assert all(run.succeeded for run in runs)
    assert conn.families() == {"tags", "export"}  # no chart-of-accounts or tax-code call


def test_rule45_after_24_hours_the_chart_of_accounts_runs_again(conn: Connection) -> None:
    conn.schedule.run_pending()
    conn.clock.advance(hours=23)
    assert COA not in levels(conn.schedule.run_pending())
    conn.sandbox.clear_requests()
    conn.clock.advance(hours=1)
    runs = conn.schedule.run_pending()
    assert levels(runs) == [COA, TAGS, EXPORT]
    assert {"accounts", "tax_codes"} <= conn.families()
    # A re-sync of unchanged data writes nothing (rule 44's report counts).
    assert isinstance(runs[0].report, SyncReport)
    assert runs[0].report.write_requests == 0


def test_rule45_an_accounts_change_is_picked_up_on_the_daily_run(conn: Connection) -> None:
    conn.schedule.run_pending()
    conn.system.add_account("ext-new-9999", "9999", "Brand new account")
    conn.clock.advance(hours=1)
    conn.schedule.run_pending()
    assert "ext-new-9999" not in {a["externalId"] for a in conn.sandbox.accounts(conn.company)}
    conn.clock.advance(hours=23)
    conn.schedule.run_pending()
    assert "ext-new-9999" in {a["externalId"] for a in conn.sandbox.accounts(conn.company)}


def test_rule45_cadence_is_configurable() -> None:
    config = ScheduleConfig(
        chart_of_accounts_every=timedelta(hours=6),
        tags_every=timedelta(minutes=30),
        export_every=timedelta(minutes=2),
    )
    conn = Connection(config=config)
    conn.schedule.run_pending()
    conn.clock.advance(minutes=2)
    assert levels(conn.schedule.run_pending()) == [EXPORT]
    conn.clock.advance(minutes=28)
    assert levels(conn.schedule.run_pending()) == [TAGS, EXPORT]
    conn.clock.advance(hours=5, minutes=30)
    assert levels(conn.schedule.run_pending()) == [COA, TAGS, EXPORT]


def test_rule45_config_refuses_non_positive_intervals() -> None:
    with pytest.raises(ValueError, match="tags_every"):
        ScheduleConfig(tags_every=timedelta(0))
    with pytest.raises(ValueError, match="export_every"):
        ScheduleConfig(export_every=timedelta(minutes=-5))


def test_rule45_explicit_now_and_naive_times(conn: Connection) -> None:
    runs = conn.schedule.run_pending(now=T0 + timedelta(seconds=30))
    assert [run.started_at for run in runs] == [T0 + timedelta(seconds=30)] * 3
    with pytest.raises(ValueError, match="timezone-aware"):
        conn.schedule.run_pending(now=datetime(2024, 3, 1, 9, 0))
    assert conn.schedule.due(T0 + timedelta(hours=1, seconds=30)) == (TAGS, EXPORT)


# ----------------------------------------------------------------------------- sync_now


def test_rule45_sync_now_bypasses_the_cadence_and_restarts_it(conn: Connection) -> None:
    conn.schedule.run_pending()
    conn.clock.advance(minutes=10)
    conn.sandbox.clear_requests()
    run = conn.schedule.sync_now(TAGS)
    assert run.trigger == "manual"
    assert run.level is TAGS
    assert run.succeeded
    assert run.started_at == T0 + timedelta(minutes=10)
    assert conn.families() == {"tags"}
    # The ad-hoc run counts as the latest one: the next is an hour after it.
    assert conn.schedule.next_due(TAGS) == T0 + timedelta(minutes=70)
    assert conn.schedule.last_runs[TAGS] is run
    conn.clock.advance(minutes=50)  # T0 + 1 h: tags are not due (only the export)
    assert levels(conn.schedule.run_pending()) == [EXPORT]
    # Accepts the level's value too; the chart can be re-synced at any time.
    assert conn.schedule.sync_now("chart_of_accounts").succeeded


@pytest.mark.rule("accounts-45")
def test_rule45_sync_now_uses_exactly_the_same_code_path(
    conn: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rule 45: scheduled and ad-hoc runs call the orchestrator identically."""
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    real = sync_tags

    def spy(*args: Any, **kwargs: Any) -> SyncReport:
        calls.append((args, kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(schedule_module, "sync_tags", spy)
    scheduled = conn.schedule.run_pending()[1]
    manual = conn.schedule.sync_now(TAGS)
    assert len(calls) == 2
    assert calls[0] == calls[1]
    assert scheduled.level == manual.level == TAGS
    assert (scheduled.trigger, manual.trigger) == ("schedule", "manual")


def test_rule45_level_options_reach_the_orchestrator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: dict[str, Any] = {}
    real = sync_tags

    def spy(*args: Any, **kwargs: Any) -> SyncReport:
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(schedule_module, "sync_tags", spy)
    conn = Connection(level_options={TAGS: {"allow_group_renames": True, "page_size": 7}})
    conn.schedule.sync_now(TAGS)
    assert seen["allow_group_renames"] is True
    assert seen["page_size"] == 7
    assert seen["granted_scopes"] is None


# ----------------------------------------------------------------------------- failures


def test_rule45_a_failing_level_does_not_block_the_others(conn: Connection) -> None:
    """An AS outage on the accounts read fails Level 3 only; tags and the export still run,
    and Level 3 is retried after `retry_failed_after` instead of 24 h later."""
    conn.system.fail_reads("accounts")
    runs = conn.schedule.run_pending()
    assert levels(runs) == [COA, TAGS, EXPORT]
    coa, tags, export = runs
    assert not coa.succeeded
    assert not coa.ok
    assert coa.report is None
    assert isinstance(coa.error, SourceReadError)
    assert coa.message is not None
    assert coa.message.startswith("SourceReadError")
    assert "failed" in str(coa)
    assert tags.succeeded
    assert export.succeeded
    assert conn.system.entries
    assert conn.sandbox.accounts(conn.company)  # nothing was archived by the failed run
    assert coa.next_due == T0 + timedelta(minutes=15)
    # The outage ends; the retry 15 minutes later syncs the chart.
    conn.system.restore_reads()
    conn.clock.advance(minutes=15)
    retried = conn.schedule.run_pending()
    assert levels(retried) == [COA, EXPORT]
    assert retried[0].succeeded
    assert retried[0].next_due == T0 + timedelta(minutes=15, hours=24)


def test_rule45_an_unexpected_error_is_recorded_without_its_text(
    conn: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A non-SDK exception may carry connection details: the message keeps its type only."""

    def boom(*args: Any, **kwargs: Any) -> SyncReport:
        raise RuntimeError("postgres://admin:hunter2@db.internal/ledger unreachable")

    monkeypatch.setattr(schedule_module, "sync_tags", boom)
    runs = conn.schedule.run_pending()
    tags = runs[1]
    assert isinstance(tags.error, RuntimeError)
    assert tags.message is not None
    assert tags.message.startswith("RuntimeError (reference err-")
    assert "hunter2" not in str(tags)
    assert runs[0].succeeded
    assert runs[2].succeeded


def test_rule45_control_flow_exceptions_are_not_swallowed(
    conn: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: Any, **kwargs: Any) -> SyncReport:
        raise KeyboardInterrupt

    monkeypatch.setattr(schedule_module, "sync_tags", interrupted)
    with pytest.raises(KeyboardInterrupt):
        conn.schedule.run_pending()


@pytest.mark.rule("accounts-45", "accounts-50")
def test_rule50_schedule_preflight_fails_only_the_level_missing_a_scope() -> None:
    """Rules 45 + 50: granted scopes without `accounts:write` fail Level 3 locally (no
    chart-of-accounts or tax-code request); tags and the export run."""
    granted = (
        "tax-codes:read tax-codes:write accounts:read tag-groups:read tag-groups:write "
        "export-jobs:read export-jobs:write export-items:read"
    )
    conn = Connection(granted_scopes=granted)
    coa, tags, export = conn.schedule.run_pending()
    assert isinstance(coa.error, InsufficientScope)
    assert coa.error.missing == {"accounts:write"}
    assert "accounts:write" in (coa.message or "")
    assert tags.succeeded
    assert export.succeeded
    assert conn.families() == {"tags", "export"}


def test_rule50_schedule_checks_the_export_scopes_too() -> None:
    conn = Connection(granted_scopes=["export-jobs:read", "export-items:read"])
    run = conn.schedule.sync_now(EXPORT)
    assert isinstance(run.error, InsufficientScope)
    assert run.error.missing == {"export-jobs:write"}
    assert conn.sandbox.requests == []


def test_rule45_accounts_only_when_tax_codes_are_switched_off() -> None:
    conn = Connection(config=ScheduleConfig(tax_codes=False), levels=[COA])
    assert conn.schedule.levels == (COA,)
    run = conn.schedule.sync_now(COA)
    assert run.succeeded
    assert isinstance(run.report, SyncReport)
    assert "tax_codes" not in run.report.related
    assert conn.families() == {"accounts"}


def test_rule45_repr_and_str(conn: Connection) -> None:
    assert "chart_of_accounts, tags, export" in repr(conn.schedule)
    run = conn.schedule.sync_now(EXPORT)
    text = str(run)
    assert text.startswith("export (manual, 2024-03-01T08:00:00+00:00)")
    assert "items exported" in text
