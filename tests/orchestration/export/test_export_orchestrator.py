"""``export_expenses`` / ``process_job`` against the in-process sandbox.

Orchestration rules of erp-processing.md (C4, C5, C17, C24, C26, C27, …) and the step rules of
export-api.md Part 3 (cited as "rule N").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pleo_erp.accounting_system import (
    AccountingSystemNotReady,
    AccountingSystemRateLimited,
    AccountsMapping,
    Capabilities,
    Entry,
    EntryRejected,
    JournalEntry,
    VendorAccount,
)
from pleo_erp.domain.config import ExportConfig
from pleo_erp.models import ExportJobItemUpdateErrorV3
from pleo_erp.orchestration.export import export_expenses, process_job
from pleo_erp.orchestration.locks import ExportAlreadyRunning, InProcessLock
from pleo_erp.orchestration.report import ExportReport, ProgressEvent
from pleo_erp.state import StateDB
from pleo_erp.state.export_journal import SQLiteExportJournal
from pleo_erp.testing.inmemory import InMemoryAccountingSystem
from pleo_erp.testing.sandbox import PleoSandbox
from pleo_erp.testing.sandbox.files import make_pdf, make_png
from tests.helpers.export import invoice_info, line, sandbox_item, tax, vendor
from tests.helpers.export_drivers import export_driver  # noqa: F401 - the fixture, used below

pytestmark = pytest.mark.usefixtures("export_driver")  # every test: blocking and async driver


class Env:
    """A sandbox with one empty company, a client and an in-memory AS."""

    def __init__(self, **as_kwargs: Any) -> None:
        self.sb = PleoSandbox(seed=3)
        self.company = self.sb.add_company("Test Co")
        self.client = self.sb.client()
        self.system = InMemoryAccountingSystem(**as_kwargs)
        self.sleeps: list[float] = []

    def job(self, items: Sequence[dict[str, Any]] | int, **kwargs: Any) -> str:
        return self.sb.create_export_job(self.company, items, **kwargs)

    def run(self, **kwargs: Any) -> ExportReport:
        kwargs.setdefault("sleep", self.sleeps.append)
        kwargs.setdefault("clock", self.sb.clock.now)
        return export_expenses(self.client, self.system, company_id=self.company, **kwargs)

    def statuses(self, job_id: str) -> dict[str, str]:
        return self.sb.item_statuses(job_id)

    def job_items(self, job_id: str) -> dict[str, dict[str, Any]]:
        return {i["accountingEntryId"]: i for i in self.sb.job_items(job_id)}

    def calls(self, method: str, path_part: str) -> list[Any]:
        return [r for r in self.sb.requests if r.method == method and path_part in r.path]


def events(env: Env) -> list[dict[str, Any]]:
    return [r.body for r in env.calls("POST", "/v3/export-job-events") if r.status == 202]


# --- happy path


def test_run_reports_every_item_and_completes_the_job() -> None:
    env = Env()
    job = env.job([sandbox_item(value=1000), sandbox_item(type="refund", value=500)])
    report = env.run()
    assert report.counts == {"successful": 2, "failed": 0}
    assert env.sb.job_status(job) == "completed"
    assert set(env.statuses(job).values()) == {"successful"}
    for aeid, item in env.job_items(job).items():
        stored = env.system.entry_for(UUID(aeid))
        assert stored is not None
        assert item["externalId"] == stored.external_id
        assert item["externalUrl"] == stored.posted.url
    assert env.system.is_balanced()
    (job_report,) = report.jobs
    assert job_report.final_event == "completed"
    assert job_report.requests == 5  # items + export items + 1 PUT + 2 events
    assert all(item.reported for item in job_report.items)


def test_no_job_no_requests_beyond_listing() -> None:
    env = Env()
    report = env.run()
    assert report.jobs == ()
    assert [r.path for r in env.sb.requests] == ["/v3/export-jobs"]


# --- C4, decision 6


@pytest.mark.rule("C4")
def test_c4_unknown_vendor_fails_item_without_entry() -> None:
    env = Env(auto_vendors=False)
    bad = sandbox_item(
        type="invoice",
        bookkeeping="accounts_payable",
        vendor=vendor(code="NOPE", name="Ghost"),
        invoice=invoice_info(),
    )
    job = env.job([bad], vendor_based_bookkeeping=True)
    report = env.run()
    (item,) = report.items
    assert (item.status, item.failure_type) == ("failed", "vendor_unknown")
    assert "Ghost" in (item.failure_reason or "")
    assert env.system.entries == []
    assert env.job_items(job)[bad["accountingEntryId"]]["failureReasonType"] == "vendor_unknown"
    assert env.sb.job_status(job) == "completed_with_errors"


@pytest.mark.rule("C4")
def test_c4_fallback_ap_only_when_configured_and_blocked_vendors_always_fail() -> None:
    env = Env(auto_vendors=False, vendors=[VendorAccount(vendor_id="BLK", name="Blocked AB")])
    env.system.blocked_vendors.add("BLK")
    unknown = sandbox_item(
        type="invoice",
        bookkeeping="accounts_payable",
        vendor=vendor(code="NOPE"),
        invoice=invoice_info(),
    )
    blocked = sandbox_item(
        type="invoice",
        bookkeeping="accounts_payable",
        vendor=vendor(code="BLK"),
        invoice=invoice_info("I2"),
    )
    env.job([unknown, blocked], vendor_based_bookkeeping=True)
    report = env.run(config=ExportConfig(fallback_ap=True))
    by_id = {str(i.accounting_entry_id): i for i in report.items}
    assert by_id[unknown["accountingEntryId"]].status == "successful"
    assert by_id[blocked["accountingEntryId"]].failure_type == "vendor_unknown"
    stored = env.system.entry_for(UUID(unknown["accountingEntryId"]))
    assert stored is not None
    assert any(ln.account == "2440" and ln.role == "payable" for ln in stored.entry.lines)


# --- C5


@pytest.mark.rule("C5")
def test_c5_invalid_items_fail_at_once_and_never_reach_the_as() -> None:
    env = Env()
    bad = sandbox_item(lines=[line(10000, no_account=True)])
    good = sandbox_item()
    env.job([bad, good])
    report = env.run()
    by_id = {str(i.accounting_entry_id): i for i in report.items}
    assert by_id[bad["accountingEntryId"]].failure_type == "missing_configuration"
    assert env.system.calls["find_posted"] == 1
    assert env.system.calls["post"] == 1


# --- C12, C21, C22


@pytest.mark.rule("C12")
def test_c12_unknown_tag_in_as_is_tag_unknown() -> None:
    env = Env()
    env.system.add_dimension("DEPT")
    env.system.add_value("DEPT", "ENG")
    env.job([sandbox_item(lines=[line(10000, tags=[("DEPT", "SALES")])])])
    (item,) = env.run().items
    assert item.failure_type == "tag_unknown"


@pytest.mark.rule("C21")
@pytest.mark.parametrize(
    ("policy", "expected"), [("today", date(2025, 1, 15)), ("next_open", date(2024, 4, 1))]
)
def test_c21_closed_period_moved_by_policy(policy: str, expected: date) -> None:
    env = Env(closed_before=date(2024, 4, 1))
    env.sb.clock.set(datetime.fromisoformat("2025-01-15T12:00:00+00:00"))
    env.job([sandbox_item(date="2024-03-15T10:00:00Z")])
    (item,) = env.run(config=ExportConfig(closed_period=policy)).items  # type: ignore[arg-type]
    assert (item.status, item.posting_date) == ("successful", expected)
    assert item.warnings
    stored = env.system.entries[0]
    assert stored.entry.original_date == date(2024, 3, 15)


@pytest.mark.rule("C21")
def test_c21_closed_period_rejected_by_post_is_retried_once_with_as_hint() -> None:
    env = Env()
    # The AS says the period is open, then refuses the post (a period closed meanwhile).
    env.system.close_period(2024, 3)
    env.system.is_period_open = lambda on: True  # type: ignore[method-assign]
    env.job([sandbox_item(date="2024-03-15T10:00:00Z")])
    (item,) = env.run(config=ExportConfig(closed_period="next_open")).items
    assert (item.status, item.posting_date) == ("successful", date(2024, 4, 1))
    assert env.system.calls["post"] == 2


@pytest.mark.rule("C21")
def test_c21_closed_period_fails_by_default() -> None:
    env = Env(closed_before=date(2024, 4, 1))
    env.job([sandbox_item(date="2024-03-15T10:00:00Z")])
    (item,) = env.run().items
    assert item.failure_type == "accounting_system_validation_failure"
    assert "2024-03-15" in (item.failure_reason or "")
    assert env.system.calls["post"] == 0


@pytest.mark.rule("C22")
def test_c22_posting_mode_reaches_the_as() -> None:
    env = Env()
    env.job([sandbox_item(), sandbox_item()])
    env.run(config=ExportConfig(posting_mode="final"))
    assert {e.entry.posting_mode for e in env.system.entries} == {"final"}
    assert {e.posted.draft for e in env.system.entries} == {False}


# --- C17


@pytest.mark.rule("C17")
def test_c17_invoice_and_payment_in_different_jobs() -> None:
    env = Env()
    inv = sandbox_item(
        type="invoice",
        bookkeeping="accounts_payable",
        vendor=vendor(),
        invoice=invoice_info("INV-42"),
        contra=None,
    )
    env.job([inv], vendor_based_bookkeeping=True)
    env.run()
    assert [e.accounting_entry_id for e in env.system.open_invoices()] == [
        UUID(inv["accountingEntryId"])
    ]
    pay = sandbox_item(
        type="invoice_payment",
        bookkeeping="accounts_payable",
        vendor=vendor(),
        invoice=invoice_info("INV-42"),
    )
    env.job([pay], vendor_based_bookkeeping=True)
    env.run()
    assert env.system.open_invoices() == []
    assert env.system.balance("2440") == 0


# --- C24, rule 10, rule 12


@pytest.mark.rule("C24")
def test_c24_outcomes_reported_in_batches_of_at_most_100() -> None:
    env = Env()
    job = env.job(230)
    report = env.run()
    puts = env.calls("PUT", "/items")
    assert [len(p.body) for p in puts] == [100, 100, 30]
    assert report.successful == 230
    assert env.sb.job_status(job) == "completed"


def test_rule12_outcomes_sent_as_they_complete_when_the_as_is_slow() -> None:
    env = Env()
    env.job(5)
    # Each post takes 40 s of sandbox time; report at least every 100 s.

    def slow_post(entry: Entry) -> None:
        env.sb.clock.advance(40)

    env.system.crash_before_post = slow_post
    env.run(config=ExportConfig(report_interval=100))
    assert [len(p.body) for p in env.calls("PUT", "/items")] == [3, 2]


def test_rule10_per_item_update_errors_are_surfaced_and_retryable_ones_retried() -> None:
    env = Env()
    job = env.job(3)
    real = env.client.export_jobs.update_items
    calls: list[int] = []

    def flaky_update(job_id: Any, updates: Sequence[Any]) -> Any:
        result = real(job_id, updates)
        calls.append(len(list(updates)))
        if len(calls) == 1:
            first, second = (u.accounting_entry_id for u in list(updates)[:2])
            return type(result)(
                result.items,
                (
                    ExportJobItemUpdateErrorV3(
                        accounting_entry_id=first,
                        message="busy",
                        type="EXPORT_ENTRY_STATUS_UPDATE_FAILED",
                    ),
                    ExportJobItemUpdateErrorV3(
                        accounting_entry_id=second,
                        message="gone",
                        type="ACCOUNTING_ENTRY_DOES_NOT_EXIST",
                    ),
                ),
                result.requests,
            )
        return result

    env.client.export_jobs.update_items = flaky_update  # type: ignore[method-assign, assignment]
    report = env.run()
    (job_report,) = report.jobs
    assert calls == [3, 1]  # the retryable one was re-sent once
    assert [(e.type, e.message) for e in job_report.update_errors] == [
        ("ACCOUNTING_ENTRY_DOES_NOT_EXIST", "gone")
    ]
    by_error = [i for i in job_report.items if i.report_error]
    assert len(by_error) == 1
    assert by_error[0].report_error == "ACCOUNTING_ENTRY_DOES_NOT_EXIST: gone"
    assert env.sb.job_status(job) == "completed"


# --- C26, rule 8


@pytest.mark.rule("C26")
def test_c26_rule8_resume_in_progress_job_without_started_only_open_items() -> None:
    env = Env()
    items = [sandbox_item(value=100 * (i + 1)) for i in range(4)]
    job = env.sb.create_export_job(env.company, items, status="in_progress")
    done = items[0]["accountingEntryId"]
    env.client.export_jobs.update_items(
        job,
        [
            {
                "accountingEntryId": done,
                "status": "failed",
                "failureReason": "earlier run",
                "failureReasonType": "validation_failure",
            }
        ],
    )
    env.sb.clear_requests()
    report = env.run()
    (job_report,) = report.jobs
    assert job_report.initial_status == "in_progress"
    assert job_report.skipped == 1
    assert {str(i.accounting_entry_id) for i in job_report.items} == {
        i["accountingEntryId"] for i in items[1:]
    }
    assert [e["event"] for e in events(env)] == ["completed_with_errors"]  # no second "started"
    assert env.system.entry_for(UUID(done)) is None


def test_rule8_already_posted_entry_is_reported_not_posted_again() -> None:
    env = Env()
    item = sandbox_item()
    job = env.job([item])
    # The AS already holds the entry (a crashed earlier run posted it).
    from pleo_erp.client.serialization import structure
    from pleo_erp.domain.bookkeeping import resolve_method
    from pleo_erp.domain.entries import EntryContext, build_entry
    from pleo_erp.models import ExportItemV3

    model = structure(env.sb.export_items(job)[0], ExportItemV3)
    ctx = EntryContext.create(ExportConfig(), Capabilities(), env.system.mapping)
    posted = env.system.post(build_entry(model, resolve_method(model, ExportConfig()), ctx), [])
    (result,) = env.run().items
    assert (result.status, result.already_posted, result.external_id) == (
        "successful",
        True,
        posted.external_id,
    )
    assert env.system.post_count(model.accounting_entry_id) == 1


# --- C27


@pytest.mark.rule("C27")
def test_c27_one_failing_item_never_changes_another() -> None:
    env = Env()
    items = [sandbox_item(value=100 * (i + 1)) for i in range(3)]
    job = env.job(items)
    env.system.fail_next("post", EntryRejected("Voucher series blocked"))
    report = env.run()
    failed = [i for i in report.items if i.status == "failed"]
    assert len(failed) == 1
    assert failed[0].failure_type == "accounting_system_validation_failure"
    assert failed[0].failure_reason == "Voucher series blocked"
    assert report.successful == 2
    assert env.sb.job_status(job) == "completed_with_errors"


# --- validation / job level


def test_rule2_rule3_not_ready_fails_job_with_job_enum_reason_only() -> None:
    env = Env()
    env.system.not_ready = AccountingSystemNotReady(
        "Company not mapped", job_failure_type="missing_configuration"
    )
    job = env.job(2)
    report = env.run()
    assert env.sb.job_status(job) == "failed"
    assert report.jobs[0].failure_type == "missing_configuration"
    final = events(env)[-1]
    assert final == {
        "event": "failed",
        "jobId": job,
        "failureReason": "Company not mapped",
        "failureReasonType": "missing_configuration",
    }
    assert events(env)[0] == {"event": "started", "jobId": job}
    assert env.system.calls["post"] == 0


def test_job_level_failure_stops_the_queue_and_leaves_later_jobs_pending() -> None:
    """One configuration problem must not fail every pending job behind it: the run stops
    after the first job that failed as a whole, and a later run exports the rest."""
    env = Env()
    env.system.not_ready = AccountingSystemNotReady("The company is not mapped in the AS")
    first = env.job(1)
    env.sb.clock.advance(minutes=1)  # strictly older: the queue is worked oldest first
    second = env.job(1)
    report = env.run()
    assert [job.final_event for job in report.jobs] == ["failed"]
    assert (env.sb.job_status(first), env.sb.job_status(second)) == ("failed", "pending")

    env.system.not_ready = None
    again = env.run()
    assert [job.final_event for job in again.jobs] == ["completed"]
    assert env.sb.job_status(second) == "completed"


def test_vendor_bookkeeping_job_needs_ap_support() -> None:
    env = Env(capabilities=Capabilities(supports_accounts_payable=False))
    job = env.job(1, vendor_based_bookkeeping=True)
    report = env.run()
    assert (env.sb.job_status(job), report.jobs[0].failure_type) == (
        "failed",
        "invalid_configuration",
    )


def test_rule2_completed_with_errors_carries_no_failure_fields() -> None:
    env = Env()
    env.job([sandbox_item(), sandbox_item(lines=[line(10000, no_account=True)])])
    env.run()
    assert events(env)[-1].keys() == {"event", "jobId"}


def test_as_outage_mid_job_fails_job_with_job_level_reason() -> None:
    env = Env()
    job = env.job(4)

    def outage(entry: JournalEntry) -> None:
        if len(env.system.entries) == 2:
            env.system.outage = True

    env.system.crash_after_post = outage  # type: ignore[assignment]
    report = env.run(config=ExportConfig(transient_give_up_after=0))  # fail at once
    (job_report,) = report.jobs
    assert (job_report.final_event, job_report.failure_type) == (
        "failed",
        "accounting_system_unreachable",
    )
    assert env.sb.job_status(job) == "failed"
    assert [i.status for i in job_report.items] == ["successful", "successful", "failed"]
    assert job_report.items[2].failure_type == "accounting_system_unreachable"
    assert len(env.sleeps) == 3  # bounded retries before giving up


def test_as_rate_limit_waited_out() -> None:
    env = Env()
    env.job(2)
    env.system.rate_limited_calls = 2
    env.system.rate_limit_retry_after = 7.0
    report = env.run()
    assert report.successful == 2
    assert env.sleeps == [7.0, 7.0]


def test_as_rate_limit_exhausted_fails_job() -> None:
    env = Env()
    job = env.job(2)
    env.system.fail_next("find_posted", AccountingSystemRateLimited("slow down"), times=10)
    report = env.run(config=ExportConfig(as_max_retries=2, transient_give_up_after=0))
    assert report.jobs[0].failure_type == "accounting_system_rate_limit"
    assert env.sb.job_status(job) == "failed"


def test_as_post_timeout_that_landed_counts_as_success() -> None:
    env = Env()
    env.job(1)
    original = env.system.post

    def post_then_time_out(entry: Any, attachments: Any) -> Any:
        original(entry, attachments)
        raise TimeoutError("read timed out")

    env.system.post = post_then_time_out  # type: ignore[method-assign]
    (item,) = env.run().items
    assert item.status == "successful"
    assert len(env.system.entries) == 1


def test_unexpected_exception_in_as_is_unexpected_failure() -> None:
    env = Env()
    env.job(2)
    env.system.fail_next("post", KeyError("bug"))
    report = env.run()
    assert sorted(i.failure_type or "" for i in report.items) == ["", "unexpected_failure"]


# --- Pleo side: rules 6, 7, 9, 11, 13


def test_rule6_every_page_followed_to_the_end() -> None:
    """export-6: every cursor page is fetched. Pages are streamed (processed as they arrive,
    see decisions "Processing order is per page"), so the only ordering that holds is that a
    job smaller than one outcome batch reports nothing before its last page was read."""
    env = Env()
    env.job(7)
    env.run(config=ExportConfig(page_size=2))
    paths = [(r.method, r.path) for r in env.sb.requests]
    gets = [i for i, (m, p) in enumerate(paths) if m == "GET" and p == "/v3/export-items"]
    first_put = next(i for i, (m, _) in enumerate(paths) if m == "PUT")
    assert len(gets) == 4
    assert max(gets) < first_put


def test_rule7_oldest_job_first_one_at_a_time() -> None:
    env = Env()
    first = env.job(1)
    env.sb.clock.advance(60)
    second = env.job(1)
    report = env.run(max_jobs=1)
    assert [str(j.job_id) for j in report.jobs] == [first]
    assert env.sb.job_status(second) == "pending"
    report = env.run()
    assert [str(j.job_id) for j in report.jobs] == [second]


def test_rule7_lock_refuses_a_second_worker() -> None:
    env = Env()
    env.job(1)
    lock = InProcessLock()
    assert lock.acquire(env.company, "other-worker")
    with pytest.raises(ExportAlreadyRunning):
        env.run(lock=lock)
    assert env.system.calls["post"] == 0


def test_rule9_lost_response_on_started_is_confirmed_not_resent() -> None:
    env = Env()
    job = env.job(1)
    env.sb.faults.add("POST /v3/export-job-events", kind="lost_response", on_calls={1})
    report = env.run()
    assert report.jobs[0].final_event == "completed"
    assert env.sb.job_status(job) == "completed"
    started = [
        r for r in env.calls("POST", "/v3/export-job-events") if r.body["event"] == "started"
    ]
    assert len(started) == 1


def test_rule9_lost_response_on_final_event_is_confirmed() -> None:
    env = Env()
    job = env.job(1)
    env.sb.faults.add("POST /v3/export-job-events", kind="lost_response", on_calls={2})
    report = env.run()
    assert report.jobs[0].final_event == "completed"
    assert env.sb.job_status(job) == "completed"
    finals = [
        r for r in env.calls("POST", "/v3/export-job-events") if r.body["event"] == "completed"
    ]
    assert len(finals) == 1


def test_rule11_rule12_job_expiring_mid_run_stops_cleanly() -> None:
    env = Env()
    job = env.job(3)

    def expire(event: ProgressEvent) -> None:
        if event.kind == "item_done" and event.done == 1:
            env.sb.clock.advance(hours=2)

    report = env.run(progress=expire, config=ExportConfig(batch_size=1))
    (job_report,) = report.jobs
    assert job_report.final_event is None
    assert job_report.interrupted is not None
    assert "no longer accepts" in job_report.interrupted
    assert env.sb.job_status(job) == "failed"
    assert report.interrupted


def test_rule13_missing_contra_accounts_fails_job_with_missing_configuration() -> None:
    env = Env()
    job = env.job(2)
    env.sb.set_missing_contra_accounts(env.company)
    report = env.run()
    assert report.jobs[0].failure_type == "missing_configuration"
    assert env.sb.job_status(job) == "failed"
    assert "Contra accounts" in (report.jobs[0].failure_reason or "")


def test_rule4_rule5_snake_case_query_with_company_id() -> None:
    env = Env()
    env.run()
    assert env.sb.requests[0].query == {
        "company_id": [env.company],
        "statuses": ["pending", "in_progress"],
    }


# --- receipts (rule 15, C18–C20)


def _receipt_item(env: Env, *contents: tuple[bytes, str]) -> dict[str, Any]:
    files = []
    for content, kind in contents:
        file_id = env.sb.add_file(content, kind)
        files.append({"url": env.sb.file_placeholder(file_id), "type": kind, "size": len(content)})
    return sandbox_item(files=files)


def test_rule15_receipts_downloaded_in_order_and_attached_once() -> None:
    env = Env()
    pdf, png = make_pdf("receipt one"), make_png(4, 4, (10, 20, 30))
    item = _receipt_item(env, (pdf, "application/pdf"), (png, "image/png"))
    env.job([item])
    (result,) = env.run().items
    assert result.attachments == 2
    stored = env.system.entry_for(UUID(item["accountingEntryId"]))
    assert stored is not None
    aeid = item["accountingEntryId"]
    assert [a.key for a in stored.attachments.values()] == [f"{aeid}:0", f"{aeid}:1"]
    assert [a.data for a in stored.attachments.values()] == [pdf, png]
    assert [a.filename for a in stored.attachments.values()] == [f"{aeid}-1.pdf", f"{aeid}-2.png"]
    assert len(env.calls("GET", "/_sandbox/files/")) == 2


@pytest.mark.rule("C19")
def test_c19_receipts_merged_for_a_one_file_as() -> None:
    env = Env(
        capabilities=Capabilities(
            max_attachments_per_entry=1, attachment_formats={"pdf", "png", "zip"}
        )
    )
    item = _receipt_item(
        env, (make_pdf("a"), "application/pdf"), (make_png(2, 2, (1, 2, 3)), "image/png")
    )
    env.job([item])
    (result,) = env.run().items
    assert result.status == "successful"
    (stored,) = env.system.entries
    (merged,) = stored.attachments.values()
    assert merged.content_type == "application/zip"
    assert merged.data.startswith(b"PK")


@pytest.mark.rule("C20")
def test_c20_receipt_download_failure_fails_item_or_warns() -> None:
    env = Env()
    bad = sandbox_item(
        files=[{"url": "https://files.invalid/x.pdf", "type": "application/pdf", "size": 10}]
    )
    env.job([bad])
    (item,) = env.run().items
    assert item.failure_type == "receipt_download_failure"
    assert env.system.entries == []

    env2 = Env()
    env2.job(
        [
            sandbox_item(
                files=[
                    {"url": "https://files.invalid/x.pdf", "type": "application/pdf", "size": 10}
                ]
            )
        ]
    )
    (warned,) = env2.run(config=ExportConfig(receipt_failure="warn")).items
    assert warned.status == "successful"
    assert warned.warnings
    assert "receipt" in warned.warnings[0]


@pytest.mark.rule("C20")
def test_c20_receipt_bytes_not_matching_type_fail() -> None:
    env = Env()
    item = _receipt_item(env, (b"not a pdf at all", "application/pdf"))
    env.job([item])
    (result,) = env.run().items
    assert result.failure_type == "receipt_download_failure"


@pytest.mark.rule("C18")
def test_c18_missing_receipts_attached_on_resume() -> None:
    env = Env()
    item = _receipt_item(env, (make_pdf("late"), "application/pdf"))
    job = env.job([item])
    # An earlier run created the entry but crashed before attaching the receipt.
    from pleo_erp.client.serialization import structure
    from pleo_erp.domain.bookkeeping import resolve_method
    from pleo_erp.domain.entries import EntryContext, build_entry
    from pleo_erp.models import ExportItemV3

    model = structure(env.sb.export_items(job)[0], ExportItemV3)
    ctx = EntryContext.create(ExportConfig(), Capabilities(), env.system.mapping)
    env.system.post(build_entry(model, resolve_method(model, ExportConfig()), ctx), [])
    (resumed,) = env.run().items
    assert (resumed.status, resumed.already_posted, resumed.attachments) == ("successful", True, 1)
    assert env.system.calls["attach"] == 1
    assert env.system.post_count(model.accounting_entry_id) == 1
    stored = env.system.entry_for(model.accounting_entry_id)
    assert stored is not None
    assert list(stored.attachments) == [f"{model.accounting_entry_id}:0"]


# --- journal, process_job, progress


def test_journal_repairs_posted_but_unreported_once_the_as_confirms() -> None:
    """The journal's "posted" rows are confirmed with one lookup each (the AS is the source of
    truth), then reported without posting again."""
    env = Env()
    job = env.job(2)
    journal = SQLiteExportJournal(StateDB())

    class Crash(BaseException):
        pass

    def crash(event: ProgressEvent) -> None:
        if event.kind == "item_done" and event.done == 2:
            raise Crash

    with pytest.raises(Crash):
        env.run(journal=journal, progress=crash)
    assert len(journal.unreported(UUID(job))) == 2
    lookups = env.system.calls["find_posted"]
    report = env.run(journal=journal)
    assert env.system.calls["find_posted"] == lookups + 2  # one confirmation per item
    assert env.system.calls["post"] == 2
    assert report.successful == 2
    assert env.sb.job_status(job) == "completed"
    assert journal.unreported(UUID(job)) == []
    assert len(env.system.entries) == 2


def test_process_job_by_id_and_finished_job_left_alone() -> None:
    env = Env()
    job = env.job(2)
    report = process_job(env.client, env.system, job, sleep=env.sleeps.append)
    assert report.jobs[0].final_event == "completed"
    again = process_job(env.client, env.system, job)
    assert again.jobs[0].interrupted == "job is already completed"
    assert len(env.system.entries) == 2


def test_progress_events_sequence() -> None:
    env = Env()
    env.job(2)
    seen: list[ProgressEvent] = []
    env.run(progress=seen.append)
    kinds = [e.kind for e in seen]
    assert kinds == [
        "job_started",
        "items_loaded",
        "item_done",
        "item_done",
        "batch_reported",
        "job_finished",
    ]
    assert [e.done for e in seen if e.kind == "item_done"] == [1, 2]
    assert seen[-1].job is not None
    assert seen[-1].job.final_event == "completed"


# --- hypothesis: malformed items


MALFORMED: list[Callable[[], dict[str, Any]]] = [
    lambda: sandbox_item(lines=[line(10000, no_account=True)]),
    lambda: sandbox_item(value=999, lines=[line(1000)]),
    lambda: sandbox_item(type="teleport"),
    lambda: sandbox_item(bookkeeping="barter"),
    lambda: sandbox_item(lines=[line(10000, tax=tax(100, type="mystery"))]),
    lambda: sandbox_item(value=0, lines=[line(0)]),
    lambda: sandbox_item(
        files=[{"url": "https://f.invalid/x", "type": "application/x-sh", "size": 3}]
    ),
    lambda: sandbox_item(contra=None, type="out_of_pocket"),
]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(range(len(MALFORMED))), min_size=1, max_size=5), st.integers(0, 3))
def test_property_malformed_items_fail_with_reason_and_job_completes(
    bad: list[int], good: int
) -> None:
    env = Env(mapping=AccountsMapping(wallet="1930"))
    items = [MALFORMED[i]() for i in bad] + [sandbox_item() for _ in range(good)]
    job = env.job(items)
    report = env.run()
    assert len(report.items) == len(items)
    failed = [i for i in report.items if i.status == "failed"]
    assert len(failed) == len(bad)
    assert all(i.failure_type and i.failure_reason for i in failed)
    statuses = env.statuses(job)
    assert sorted(statuses.values()) == sorted(["failed"] * len(bad) + ["successful"] * good)
    assert env.sb.job_status(job) == ("completed_with_errors" if bad else "completed")
    for item in env.job_items(job).values():
        if item["status"] == "failed":
            assert item["failureReason"]
            assert item["failureReasonType"]


def test_rule16_items_with_every_optional_object_null_are_booked() -> None:
    env = Env()
    bare = sandbox_item(value=5000, contra=None, user=None, note=None, files=None)
    for key in ("bookkeeping", "vendor", "supplier", "team"):
        bare[key] = None
    bare["accountingEntryLines"][0]["tags"] = None
    env.job([bare])
    (item,) = env.run().items
    assert item.status == "successful", item.failure_reason
    (stored,) = env.system.entries
    assert stored.entry.description == ""
    assert [(ln.account, ln.debit - ln.credit) for ln in stored.entry.lines] == [
        ("6000", 5000),
        ("1930", -5000),
    ]


def test_rule21_items_processed_in_date_then_id_order() -> None:
    env = Env()
    dates = [
        "2024-03-03T10:00:00Z",
        "2024-03-01T10:00:00Z",
        "2024-03-02T10:00:00Z",
        "2024-03-01T10:00:00Z",
    ]
    items = [sandbox_item(date=d) for d in dates]
    env.job(items)
    report = env.run()
    expected = sorted(items, key=lambda i: (i["date"], i["accountingEntryId"]))
    assert [str(e.accounting_entry_id) for e in env.system.entries] == [
        i["accountingEntryId"] for i in expected
    ]
    assert [str(i.accounting_entry_id) for i in report.items] == [
        i["accountingEntryId"] for i in expected
    ]


def test_rule18_pleo_throttling_beyond_retries_leaves_the_job_to_resume() -> None:
    env = Env()
    env.client = env.sb.client(max_retries=1)
    job = env.job(3)
    env.sb.faults.add("PUT /v3/export-jobs/*/items", kind="rate_limited", times=5)
    report = env.run()
    assert report.interrupted
    assert env.sb.job_status(job) == "in_progress"
    env.sb.faults.clear()
    again = env.run()
    assert again.jobs[0].final_event == "completed"
    assert all(i.already_posted for i in again.items)
    assert env.system.duplicates() == []
    assert set(env.statuses(job).values()) == {"successful"}


def test_readiness_check_bug_fails_the_job_instead_of_leaving_it_stuck() -> None:
    env = Env()
    job = env.job(1)
    env.system.fail_next("check_ready", KeyError("adapter bug"))
    report = env.run()
    assert report.jobs[0].failure_type == "integration_unusable"
    assert env.sb.job_status(job) == "failed"


def test_rule9_throttled_final_event_is_re_sent_only_if_not_applied() -> None:
    env = Env()
    env.client = env.sb.client(max_retries=0)
    job = env.job(1)
    env.sb.faults.add("POST /v3/export-job-events", kind="rate_limited", on_calls={2})
    report = env.run()
    assert report.jobs[0].final_event == "completed"
    assert env.sb.job_status(job) == "completed"
    completed = [
        r for r in env.calls("POST", "/v3/export-job-events") if r.body["event"] == "completed"
    ]
    assert [r.status for r in completed] == [429, 202]
