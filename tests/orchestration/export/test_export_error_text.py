"""Error text never leaves the building; the AS, not the journal, decides what is booked.

An exception nobody classified (an adapter's driver error) may quote a connection string with
its password. Pleo (where the customer's bookkeeper reads ``failureReason``) gets a generic,
actionable text and a correlation id; the full text and traceback go to the ``pleo_erp``
logger, redacted. ``AccountingSystemError`` messages are the adapter's words for the bookkeeper
and stay as they are.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from uuid import UUID

import pytest

from pleo_erp.accounting_system import EntryRejected, PostedEntry
from pleo_erp.accounting_system.sources import SourceReadError
from pleo_erp.orchestration._failures import new_reference, redact_text
from pleo_erp.orchestration.export import export_expenses
from pleo_erp.orchestration.report import ExportReport
from pleo_erp.orchestration.sync import sync_tags
from pleo_erp.state import StateDB
from pleo_erp.state.export_journal import SQLiteExportJournal
from pleo_erp.testing.inmemory import InMemoryAccountingSystem
from pleo_erp.testing.inmemory_sources import InMemorySources
from pleo_erp.testing.sandbox import PleoSandbox
from tests.helpers.export import sandbox_item
from tests.helpers.export_drivers import export_driver  # noqa: F401 - the fixture, used below

pytestmark = pytest.mark.usefixtures("export_driver")  # every test: blocking and async driver

SECRET = "s3cr3t-Pa55"
DRIVER_TEXT = f"could not connect to postgresql://ledger:{SECRET}@db.internal/books"
REFERENCE = re.compile(r"\berr-[0-9a-f]{8}\b")


class Env:
    """A sandbox company, a client, an in-memory AS (and optionally a journal)."""

    def __init__(self, *, journal: bool = False) -> None:
        self.sb = PleoSandbox(seed=11)
        self.company = self.sb.add_company("Leak Co")
        self.client = self.sb.client()
        self.system = InMemoryAccountingSystem()
        self.journal = SQLiteExportJournal(StateDB()) if journal else None

    def run(self) -> ExportReport:
        return export_expenses(
            self.client,
            self.system,
            company_id=self.company,
            journal=self.journal,
            clock=self.sb.clock.now,
            sleep=self.sb.clock.sleep,
        )

    def job_items(self, job: str) -> dict[str, dict[str, Any]]:
        return {i["accountingEntryId"]: i for i in self.sb.job_items(job)}

    def pleo_bodies(self) -> str:
        """Everything we sent to Pleo, as text."""
        return " ".join(repr(r.body) for r in self.sb.requests if r.body is not None)


def _log_text(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records)


# --------------------------------------------------------------------------- redaction


@pytest.mark.parametrize(
    "text",
    [
        DRIVER_TEXT,
        f"login failed: password={SECRET} user=ledger",
        f'config {{"api_key": "{SECRET}", "host": "x"}}',
        f"HTTP 401 for Authorization: Bearer {SECRET}0000",
        f"dsn=host=db user=ledger password='{SECRET}'",
        f"https://{SECRET}@erp.example/api",
    ],
)
def test_redact_text_removes_credentials(text: str) -> None:
    redacted = redact_text(text)
    assert SECRET not in redacted
    assert "[REDACTED]" in redacted


def test_redact_text_keeps_harmless_text() -> None:
    text = "could not connect to db.internal:5432 (connection refused)"
    assert redact_text(text) == text


def test_references_are_short_and_distinct() -> None:
    refs = {new_reference() for _ in range(200)}
    assert len(refs) == 200
    assert all(REFERENCE.fullmatch(r) for r in refs)


# --------------------------------------------------------------------------- items


def test_unclassified_item_error_reaches_pleo_as_generic_text_with_reference(
    caplog: pytest.LogCaptureFixture,
) -> None:
    env = Env()
    first, second = sandbox_item(value=1000), sandbox_item(value=2000)
    job = env.sb.create_export_job(env.company, [first, second])
    env.system.fail_next("post", RuntimeError(DRIVER_TEXT))
    with caplog.at_level(logging.ERROR, logger="pleo_erp"):
        report = env.run()
    failed = [i for i in report.items if i.status == "failed"]
    assert len(failed) == 1
    items = env.job_items(job)
    reason = items[str(failed[0].accounting_entry_id)]["failureReason"]
    assert items[str(failed[0].accounting_entry_id)]["failureReasonType"] == "unexpected_failure"
    # Nothing of the driver's text reaches Pleo, not even the host.
    assert SECRET not in env.pleo_bodies()
    assert "db.internal" not in env.pleo_bodies()
    assert "RuntimeError" not in reason
    assert "Export it again" in reason
    assert "support" in reason
    match = REFERENCE.search(reason)
    assert match is not None
    # The log carries the same reference, the (redacted) text and the traceback.
    logged = [r for r in caplog.records if match.group(0) in r.getMessage()]
    assert len(logged) == 1
    assert logged[0].name.startswith("pleo_erp")
    assert getattr(logged[0], "correlation_id", None) == match.group(0)
    message = logged[0].getMessage()
    assert "db.internal/books" in message
    assert "Traceback (most recent call last)" in message
    assert logged[0].exc_info is None  # a formatter would print the raw text
    assert SECRET not in _log_text(caplog)
    assert env.sb.job_status(job) == "completed_with_errors"


def test_accounting_system_error_messages_stay_as_written() -> None:
    env = Env()
    job = env.sb.create_export_job(env.company, [sandbox_item(value=1000)])
    text = "The ledger refused the entry: account Expenses:Food is closed."
    env.system.fail_next("post", EntryRejected(text))
    (item,) = env.run().items
    assert env.job_items(job)[str(item.accounting_entry_id)]["failureReason"] == text


def test_unclassified_readiness_error_fails_the_job_with_generic_text(
    caplog: pytest.LogCaptureFixture,
) -> None:
    env = Env()
    job = env.sb.create_export_job(env.company, [sandbox_item(value=1000)])
    env.system.fail_next("check_ready", OSError(DRIVER_TEXT))
    with caplog.at_level(logging.ERROR, logger="pleo_erp"):
        report = env.run()
    assert env.sb.job_status(job) == "failed"
    (event,) = [
        r.body
        for r in env.sb.requests
        if r.method == "POST" and r.body is not None and r.body.get("event") == "failed"
    ]
    reason = event["failureReason"]
    assert event["failureReasonType"] == "integration_unusable"
    assert SECRET not in env.pleo_bodies()
    assert "db.internal" not in reason
    match = REFERENCE.search(reason)
    assert match is not None
    assert report.jobs[0].failure_reason == reason
    assert any(match.group(0) in r.getMessage() for r in caplog.records)
    assert SECRET not in _log_text(caplog)


# --------------------------------------------------------------------------- syncs


def test_sync_report_gets_reference_and_log_gets_redacted_details(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sandbox = PleoSandbox(seed=2)
    company = sandbox.add_company("Sync Co")

    class Broken(InMemorySources):
        def list_dimensions(self) -> Any:
            raise ConnectionError(DRIVER_TEXT)

    with (
        caplog.at_level(logging.ERROR, logger="pleo_erp"),
        pytest.raises(SourceReadError) as info,
    ):
        sync_tags(sandbox.client(), Broken(), company_id=company, selection=[])
    message = str(info.value)
    assert SECRET not in message
    assert "db.internal" not in message
    match = REFERENCE.search(message)
    assert match is not None
    logged = [r.getMessage() for r in caplog.records if match.group(0) in r.getMessage()]
    assert len(logged) == 1
    assert "db.internal/books" in logged[0]
    assert SECRET not in _log_text(caplog)


# --------------------------------------------------------------------------- journal trust


def test_journal_posted_but_missing_in_the_as_is_posted_not_reported() -> None:
    """The ledger was restored from a backup after a crash: the journal's "posted" row is
    stale. The AS is the source of truth: the item is booked (once) before it is reported."""
    env = Env(journal=True)
    item = sandbox_item(value=1000)
    aeid = UUID(item["accountingEntryId"])
    job = env.sb.create_export_job(env.company, [item])
    assert env.journal is not None
    env.journal.record_posted(
        company_id=UUID(env.company),
        job_id=UUID(job),
        posted=PostedEntry(accounting_entry_id=aeid, external_id="GONE-1"),
    )
    (result,) = env.run().items
    assert result.status == "successful"
    assert env.system.post_count(aeid) == 1
    stored = env.system.entry_for(aeid)
    assert stored is not None
    assert env.job_items(job)[str(aeid)]["externalId"] == stored.external_id != "GONE-1"
