"""Export preview (``dry_run``): writes nothing anywhere, predicts what the export then does.

Issue 11: ``export_expenses(..., dry_run=True)`` and ``pleo-erp export --dry-run`` build every
entry a job would post and ask the AS only read-only questions. The decisive tests run the
preview, then the real export on the same data, and compare per item.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from pleo_erp.accounting_system import AccountingSystemNotReady
from pleo_erp.orchestration.export import export_expenses, process_job
from pleo_erp.orchestration.report import ExportReport, ItemResult, ProgressEvent
from pleo_erp.testing.inmemory import InMemoryAccountingSystem
from pleo_erp.testing.sandbox import PleoSandbox
from tests.helpers.cli import cli, make_ledger, served_demo
from tests.helpers.export import sandbox_item

_READ_ONLY_AS_CALLS = {
    "check_ready",
    "capabilities",
    "accounts_mapping",
    "find_posted",
    "find_vendor",
    "is_period_open",
    "next_open_date",
}


def _run(sb: PleoSandbox, system: InMemoryAccountingSystem, **kwargs: Any) -> ExportReport:
    assert sb.demo_company_id is not None
    return export_expenses(
        sb.client(),
        system,
        company_id=sb.demo_company_id,
        clock=sb.clock.now,
        sleep=sb.clock.sleep,
        **kwargs,
    )


def _pleo_state(sb: PleoSandbox) -> Any:
    assert sb.demo_company_id is not None
    return [(job, sb.job_items(job["id"])) for job in sb.jobs(sb.demo_company_id)]


def _outcome(item: ItemResult) -> tuple[Any, ...]:
    return (
        item.status,
        item.item_type,
        item.failure_type,
        item.failure_reason,
        item.posting_date,
        item.entry_kind,
        item.attachments,
        item.warnings,
    )


def test_preview_of_the_demo_queue_writes_nothing_and_predicts_the_real_export() -> None:
    sb = PleoSandbox(seed=1)
    demo = sb.seed_demo()
    system = InMemoryAccountingSystem.from_demo(demo)
    before = _pleo_state(sb)
    sb.clear_requests()

    preview = _run(sb, system, dry_run=True)

    # Nothing written to Pleo: only reads in the request log, the jobs untouched.
    assert sb.requests
    assert {r.method for r in sb.requests} == {"GET"}
    assert _pleo_state(sb) == before
    # Nothing written to the AS: only read-only questions, no entry.
    assert set(system.calls) <= _READ_ONLY_AS_CALLS
    assert system.entries == []
    assert preview.dry_run
    assert [job.final_event for job in preview.jobs] == [None, None, None]
    assert {str(j.job_id): j.would_send for j in preview.jobs} == demo.expected_job_statuses

    real = _run(sb, system)

    assert [j.job_id for j in real.jobs] == [j.job_id for j in preview.jobs]
    predicted = {item.accounting_entry_id: item for item in preview.items}
    assert len(predicted) == len(real.items) == 44
    for item in real.items:
        guess = predicted[item.accounting_entry_id]
        assert _outcome(guess) == _outcome(item)
        if item.ok:
            stored = system.entry_for(item.accounting_entry_id)
            assert stored is not None
            assert guess.entry == stored.entry  # lines, accounts, VAT, dimensions, date
            assert len(guess.attachment_names) == len(stored.attachments)
        else:
            assert guess.entry is None
    failed = {str(i.accounting_entry_id): i.failure_type for i in preview.items if not i.ok}
    assert failed == demo.expected_failures


def test_preview_of_an_interrupted_job_shows_posted_items_as_already_posted() -> None:
    """A run stopped after posting one item (the progress callback aborts it before the
    outcome was reported): the preview of the in_progress job says "already posted" for it
    and would post only the other."""
    sb = PleoSandbox(seed=2)
    company = sb.add_company("Resume Co")
    job = sb.create_export_job(company, [sandbox_item(), sandbox_item()])
    system = InMemoryAccountingSystem()
    client = sb.client()

    def abort(event: ProgressEvent) -> None:
        if event.kind == "item_done":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        export_expenses(client, system, company_id=company, clock=sb.clock.now, progress=abort)
    assert sb.job_status(job) == "in_progress"
    assert len(system.entries) == 1
    sb.clear_requests()
    report = process_job(client, system, job, dry_run=True, clock=sb.clock.now)
    assert {r.method for r in sb.requests} == {"GET"}
    assert sorted(item.already_posted for item in report.items) == [False, True]
    assert report.jobs[0].initial_status == "in_progress"
    assert report.jobs[0].would_send == "completed"
    assert len(system.entries) == 1
    assert sb.job_status(job) == "in_progress"


def test_preview_predicts_a_job_level_failure_without_sending_it() -> None:
    sb = PleoSandbox(seed=2)
    company = sb.add_company("Config Co")
    job = sb.create_export_job(company, [sandbox_item()])
    system = InMemoryAccountingSystem()
    system.not_ready = AccountingSystemNotReady("Company is not mapped in the AS")
    report = export_expenses(sb.client(), system, company_id=company, dry_run=True)
    (job_report,) = report.jobs
    assert (job_report.would_send, job_report.failure_type) == ("failed", "invalid_configuration")
    assert job_report.final_event is None
    assert not report.ok
    assert sb.job_status(job) == "pending"
    assert all(r.method == "GET" for r in sb.requests)


def test_preview_predicts_a_deferral_of_a_pending_job() -> None:
    sb = PleoSandbox(seed=2)
    company = sb.add_company("Desk Co")
    job = sb.create_export_job(company, [sandbox_item()])
    sb.clock.advance(hours=3)  # an old pending job: starting it would restart the clock
    system = InMemoryAccountingSystem()
    system.not_ready = AccountingSystemNotReady("GnuCash is open", transient=True)
    report = export_expenses(
        sb.client(), system, company_id=company, dry_run=True, clock=sb.clock.now
    )
    (job_report,) = report.jobs
    assert job_report.outcome == "deferred"
    assert job_report.give_up_at is not None
    assert job_report.give_up_at > sb.clock.now()
    assert sb.job_status(job) == "pending"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _journal_rows(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as connection:
        tables = [
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        return sum(
            connection.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]
            for table in tables
            if "journal" in table or "lock" in table
        )


def test_cli_dry_run_writes_nothing_anywhere_then_matches_the_real_export(
    tmp_path: Path,
) -> None:
    """`pleo-erp export --dry-run` against the Beancount reference adapter: no Pleo write in
    the sandbox request log, the ledger file unchanged, no journal (or lock) row in the state
    database; the real export then produces exactly the predicted outcomes per item."""
    with served_demo() as served:
        ledger = make_ledger(tmp_path, served.demo)
        env = served.env(PLEO_LEDGER=str(ledger))
        state_db = tmp_path / "state" / "state.db"
        ledger_before = _digest(ledger)
        served.sandbox.clear_requests()

        preview = cli(tmp_path, "export", "--dry-run", "--json", env=env)

        assert preview.code == 1, preview.err  # job 3 would have failed items
        assert served.writes() == []
        assert _digest(ledger) == ledger_before
        assert _journal_rows(state_db) == 0
        document = preview.json()
        assert document["dry_run"] is True
        predicted = {
            item["accounting_entry_id"]: item for job in document["jobs"] for item in job["items"]
        }
        assert {job["would_send"] for job in document["jobs"]} == {
            "completed",
            "completed_with_errors",
        }
        some = next(i for i in predicted.values() if i["entry"] is not None)
        assert some["entry"]["lines"]
        assert "account" in some["entry"]["lines"][0]

        real = cli(tmp_path, "export", "--json", env=env)
        assert real.code == 1
        assert _journal_rows(state_db) > 0  # the real export does journal (the check can fail)
        assert _digest(ledger) != ledger_before
        outcomes = {
            item["accounting_entry_id"]: item
            for job in real.json()["jobs"]
            for item in job["items"]
        }
        assert outcomes.keys() == predicted.keys()
        for aeid, item in outcomes.items():
            guess = predicted[aeid]
            for key in ("status", "failure_type", "failure_reason", "posting_date", "entry_kind"):
                assert guess[key] == item[key], (aeid, key)


def test_cli_dry_run_table_shows_entries_lines_and_failures(tmp_path: Path) -> None:
    with served_demo() as served:
        ledger = make_ledger(tmp_path, served.demo)
        env = served.env(PLEO_LEDGER=str(ledger))
        result = cli(tmp_path, "export", "--dry-run", "--max-jobs", "1", env=env)
        assert result.code == 0, result.err
        out = result.out
        assert "Export preview (dry run" in out
        assert "would be completed" in out
        assert " Dr " in out
        assert " Cr " in out
        assert "VAT " in out
        assert "18 items would be exported, 0 would fail" in out
        assert served.writes() == []
        third = cli(tmp_path, "export", "--dry-run", env=env)
        assert "would fail: vendor_unknown" in third.out
        assert "Ghost Consulting" in third.out
