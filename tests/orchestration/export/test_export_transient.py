"""Transient accounting-system trouble defers the job inside Pleo's one-hour expiry (issue 11).

Pleo expires a job one hour after ``lastUpdatedAt`` (export-api.md §5.2). A transient AS
condition (not ready, unreachable, timeout, rate limited) leaves the job ``in_progress`` for the
next run; past ``ExportConfig.transient_give_up_after`` (default 45 min) the job is failed with
the matching job reason. A configuration problem still fails at once. The clock is injected
(the sandbox's), nothing sleeps.
"""

from __future__ import annotations

import sys
import textwrap
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from pleo_erp.accounting_system import (
    AccountingSystemError,
    AccountingSystemNotReady,
    AccountingSystemRateLimited,
    AccountingSystemTimeout,
    AccountingSystemUnavailable,
    ClosedPeriodError,
    JournalEntry,
)
from pleo_erp.cli._commands import export_exit_code
from pleo_erp.cli._errors import ExitCode
from pleo_erp.cli._render import export_to_dict
from pleo_erp.domain.config import ExportConfig
from pleo_erp.orchestration import ConnectorSchedule, ScheduleConfig, ScheduledLevel
from pleo_erp.orchestration.export import export_expenses
from pleo_erp.orchestration.report import ExportReport
from pleo_erp.testing.inmemory import InMemoryAccountingSystem
from pleo_erp.testing.sandbox import PleoSandbox
from tests.helpers.cli import cli, served_demo
from tests.helpers.export import sandbox_item
from tests.helpers.export_drivers import export_driver  # noqa: F401 - the fixture, used below

pytestmark = pytest.mark.usefixtures("export_driver")  # every test: blocking and async driver

GNUCASH_OPEN = "The GnuCash book is open in GnuCash on the bookkeeper's desk; close GnuCash."


class Env:
    """One company in a sandbox, an in-memory AS, the sandbox's clock for both sides."""

    def __init__(self, system: InMemoryAccountingSystem | None = None) -> None:
        self.sb = PleoSandbox(seed=5)
        self.company = self.sb.add_company("Desk Co")
        self.client = self.sb.client()
        self.system = system if system is not None else InMemoryAccountingSystem()
        self.sleeps: list[float] = []

    def job(self, count: int | list[dict[str, Any]]) -> str:
        return self.sb.create_export_job(self.company, count)

    def run(self, **kwargs: Any) -> ExportReport:
        kwargs.setdefault("sleep", self.sleeps.append)
        kwargs.setdefault("clock", self.sb.clock.now)
        return export_expenses(self.client, self.system, company_id=self.company, **kwargs)

    def events(self) -> list[dict[str, Any]]:
        return [
            r.body
            for r in self.sb.requests
            if r.method == "POST" and r.path == "/v3/export-job-events" and r.status == 202
        ]


def test_transient_not_ready_defers_the_job_and_the_next_run_exports_it() -> None:
    """The GnuCash case: the book is open, the job waits; once closed, the next run exports
    all 18 items and nothing is abandoned."""
    env = Env()
    job = env.job(18)
    env.system.not_ready = AccountingSystemNotReady(GNUCASH_OPEN, transient=True)
    started = env.sb.clock.now()
    report = env.run()
    (job_report,) = report.jobs
    assert job_report.outcome == "deferred"
    assert job_report.final_event is None
    assert job_report.deferred == GNUCASH_OPEN
    assert job_report.deferred_failure_type == "accounting_system_unreachable"
    assert job_report.give_up_at == started + timedelta(minutes=45)
    assert report.deferred
    assert not report.ok
    assert not report.interrupted
    assert [e["event"] for e in env.events()] == ["started"]  # no failed event
    assert env.sb.job_status(job) == "in_progress"
    assert set(env.sb.item_statuses(job).values()) == {"pending"}
    assert export_exit_code(report) is ExitCode.DEFERRED
    document = export_to_dict(report)
    assert document["deferred"] is True
    assert document["jobs"][0]["outcome"] == "deferred"
    assert "deferred until the next run" in report.summary()

    env.sb.clock.advance(minutes=10)
    env.system.not_ready = None
    again = env.run()
    assert [j.final_event for j in again.jobs] == ["completed"]
    assert again.successful == 18
    assert set(env.sb.item_statuses(job).values()) == {"successful"}


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (AccountingSystemNotReady(GNUCASH_OPEN, transient=True), "accounting_system_unreachable"),
        (
            AccountingSystemNotReady(
                "Down for maintenance", job_failure_type="service_unreachable"
            ),
            "service_unreachable",
        ),
        (AccountingSystemUnavailable("Server not reachable"), "accounting_system_unreachable"),
        (AccountingSystemTimeout("The AS did not answer in 30 s"), "accounting_system_timeout"),
        (AccountingSystemRateLimited("Too many requests"), "accounting_system_rate_limit"),
    ],
)
def test_transient_condition_gives_up_after_the_window_with_the_matching_reason(
    error: AccountingSystemError, reason: str
) -> None:
    """Deferred at 0 and 30 minutes (reads do not refresh lastUpdatedAt); at 46 minutes the
    job is failed with the matching job reason, before Pleo's expiry (60 min) would."""
    env = Env()
    job = env.job(3)
    env.system.fail_next("check_ready", error, times=1000)
    assert env.run().jobs[0].outcome == "deferred"
    env.sb.clock.advance(minutes=30)
    second = env.run().jobs[0]
    assert second.outcome == "deferred"
    assert second.deferred_failure_type == reason
    assert env.sb.job_status(job) == "in_progress"
    env.sb.clock.advance(minutes=16)
    last = env.run()
    (job_report,) = last.jobs
    assert (job_report.final_event, job_report.failure_type) == ("failed", reason)
    assert job_report.failure_reason is not None
    assert error.message in job_report.failure_reason
    assert "46 minutes" in job_report.failure_reason
    pleo_job = env.sb.job(job)
    assert (pleo_job["status"], pleo_job["failureReasonType"]) == ("failed", reason)
    assert export_exit_code(last) is ExitCode.FAILURES


def test_give_up_window_is_configurable() -> None:
    env = Env()
    job = env.job(1)
    env.system.fail_next("check_ready", AccountingSystemUnavailable("offline"), times=100)
    config = ExportConfig(transient_give_up_after=600)
    assert env.run(config=config).jobs[0].give_up_at == env.sb.clock.now() + timedelta(minutes=10)
    env.sb.clock.advance(minutes=10)
    assert env.run(config=config).jobs[0].failure_type == "accounting_system_unreachable"
    assert env.sb.job_status(job) == "failed"


def test_give_up_window_must_stay_inside_pleos_expiry() -> None:
    with pytest.raises(ValueError):
        ExportConfig(transient_give_up_after=3600)
    with pytest.raises(ValueError):
        ExportConfig(transient_give_up_after=-1)


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (AccountingSystemNotReady("Company 42 is not mapped"), "invalid_configuration"),
        (
            AccountingSystemNotReady(
                "No journal configured", job_failure_type="missing_configuration"
            ),
            "missing_configuration",
        ),
        (
            AccountingSystemNotReady(
                "Token revoked", job_failure_type="accounting_system_authentication_failure"
            ),
            "accounting_system_authentication_failure",
        ),
    ],
)
def test_configuration_problem_still_fails_the_job_at_once(
    error: AccountingSystemError, reason: str
) -> None:
    env = Env()
    job = env.job(2)
    env.system.not_ready = error
    report = env.run()
    (job_report,) = report.jobs
    assert (job_report.final_event, job_report.failure_type) == ("failed", reason)
    assert job_report.failure_reason == error.message
    assert job_report.deferred is None
    assert env.sb.job_status(job) == "failed"


def test_outage_mid_job_defers_with_progress_reported_and_resumes_without_duplicates() -> None:
    env = Env()
    job = env.job(4)

    def outage(entry: JournalEntry) -> None:
        if len(env.system.entries) == 2:
            env.system.outage = True

    env.system.crash_after_post = outage  # type: ignore[assignment]
    report = env.run()
    (job_report,) = report.jobs
    assert job_report.outcome == "deferred"
    assert [i.status for i in job_report.items] == ["successful", "successful"]
    statuses = sorted(env.sb.item_statuses(job).values())
    assert statuses == ["pending", "pending", "successful", "successful"]  # progress reported
    assert env.sb.job_status(job) == "in_progress"

    env.system.clear_failures()
    env.system.crash_after_post = None
    env.sb.clock.advance(minutes=5)
    again = env.run()
    assert again.jobs[0].final_event == "completed"
    assert set(env.sb.item_statuses(job).values()) == {"successful"}
    assert env.system.duplicates() == []
    assert len(env.system.entries) == 4


def test_deferral_stops_the_queue_and_leaves_later_jobs_pending() -> None:
    env = Env()
    env.system.not_ready = AccountingSystemNotReady(GNUCASH_OPEN, transient=True)
    first = env.job(1)
    env.sb.clock.advance(minutes=1)
    second = env.job(1)
    report = env.run()
    assert [j.outcome for j in report.jobs] == ["deferred"]
    assert (env.sb.job_status(first), env.sb.job_status(second)) == ("in_progress", "pending")


def test_schedule_retries_a_deferred_export_soon() -> None:
    """`ConnectorSchedule` treats a deferral like a failed level: due after
    `retry_failed_after` instead of the full export cadence."""
    env = Env()
    env.job(1)
    env.system.not_ready = AccountingSystemNotReady(GNUCASH_OPEN, transient=True)
    now = datetime(2026, 10, 1, 9, 0, tzinfo=timezone.utc)
    schedule = ConnectorSchedule(
        env.client,
        env.system,
        company_id=env.company,
        clock=lambda: now,
        levels=[ScheduledLevel.EXPORT],
        config=ScheduleConfig(
            export_every=timedelta(hours=1), retry_failed_after=timedelta(minutes=10)
        ),
        level_options={
            ScheduledLevel.EXPORT: {"clock": env.sb.clock.now, "sleep": env.sleeps.append}
        },
    )
    (run,) = schedule.run_pending()
    assert run.succeeded
    assert not run.ok
    assert run.next_due == now + timedelta(minutes=10)
    assert "deferred" in str(run)


# ----------------------------------------------------------------------------- closed periods


class LockDateSystem(InMemoryAccountingSystem):
    """An AS whose period check says, in its own words, where the lock date lives."""

    def is_period_open(self, on: date) -> bool:
        if self._closed(on):
            raise ClosedPeriodError(
                f"GnuCash: the book is read-only before {self.closed_before}; change "
                "File > Properties > Accounts > Day threshold for read-only transactions",
                next_open=self.closed_before,
            )
        return True


@pytest.mark.rule("C21")
def test_adapters_closed_period_text_reaches_pleo() -> None:
    """Rule C21: under the default ``fail`` policy the item fails with the adapter's own
    ClosedPeriodError text, not only the generic sentence."""
    env = Env(LockDateSystem(closed_before=date(2099, 1, 1)))
    job = env.job(1)
    report = env.run()
    (item,) = report.items
    assert item.failure_type == "accounting_system_validation_failure"
    (pleo_item,) = env.sb.job_items(job)
    assert pleo_item["status"] == "failed"
    assert "Day threshold for read-only transactions" in pleo_item["failureReason"]
    assert "is closed in the accounting system" in pleo_item["failureReason"]


def test_adapters_next_open_hint_from_the_period_check_is_used() -> None:
    env = Env(LockDateSystem(closed_before=date(2099, 1, 1)))
    env.job(1)
    report = env.run(config=ExportConfig(closed_period="next_open"))
    (item,) = report.items
    assert item.ok
    assert item.posting_date == date(2099, 1, 1)
    stored = env.system.entry_for(UUID(str(item.accounting_entry_id)))
    assert stored is not None
    assert stored.entry.posting_date == date(2099, 1, 1)


def test_a_plain_false_keeps_the_generic_closed_period_text() -> None:
    env = Env(InMemoryAccountingSystem(closed_before=date(2099, 1, 1)))
    env.job([sandbox_item()])
    (item,) = env.run().items
    assert item.failure_reason is not None
    assert item.failure_reason.startswith("The accounting period of")
    assert "(" not in item.failure_reason


# ----------------------------------------------------------------------------- the CLI


def test_cli_export_exits_5_with_a_clear_message_when_the_job_is_deferred(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`pleo-erp export` against an adapter whose book is open: exit code 5 (not 1 = failed,
    not 0), a message saying when the export gives up, the job left in progress."""
    module = tmp_path / "desk_books.py"
    module.write_text(
        textwrap.dedent(
            """
            from pleo_erp.accounting_system import AccountingSystemNotReady
            from pleo_erp.testing.inmemory import InMemoryAccountingSystem

            def connect():
                system = InMemoryAccountingSystem()
                system.not_ready = AccountingSystemNotReady(
                    "The GnuCash book is open on the bookkeeper's desk", transient=True
                )
                return system
            """
        ),
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        with served_demo() as served:
            env = served.env(PLEO_ADAPTER="desk_books:connect")
            result = cli(tmp_path, "export", env=env)
            assert result.code == 5, result.err
            assert "deferred" in result.out
            assert "export deferred" in result.err
            assert "GnuCash book is open" in result.err
            assert "accounting_system_unreachable" in result.err
            statuses = [job["status"] for job in served.sandbox.jobs(served.company_id)]
            assert sorted(statuses) == ["in_progress", "pending", "pending"]
            as_json = cli(tmp_path, "export", "--json", env=env)
            assert as_json.code == 5
            document = as_json.json()
            assert document["deferred"] is True
            assert document["jobs"][0]["outcome"] == "deferred"
            assert document["jobs"][0]["give_up_at"]
    finally:
        sys.modules.pop("desk_books", None)
