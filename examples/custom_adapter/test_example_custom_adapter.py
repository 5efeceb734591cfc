"""The AcmeLedger adapter passes the conformance kit (and behaves under failures).

Run it with ``pytest examples/custom_adapter``. The conformance suite needs two things from
us: ``make_adapter`` (a fresh AcmeLedger tenant holding the kit's chart) and, to unlock the
checks that look inside the ledger, ``read_entries``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from uuid import UUID

sys.path.insert(0, str(Path(__file__).parent))  # the example's modules sit beside this file

from erp_adapter import AcmeLedgerAdapter
from fake_acme import BASE_URL, FakeAcme

from pleo_erp.accounting_system import ExportTarget
from pleo_erp.orchestration.export import export_expenses
from pleo_erp.testing.conformance import (
    AdapterSetup,
    ConformanceSuite,
    LedgerEntry,
    LedgerPosting,
)
from pleo_erp.testing.sandbox import PleoSandbox


# --8<-- [start:suite]
def acme_for(setup: AdapterSetup) -> AcmeLedgerAdapter:
    """A fresh fake AcmeLedger tenant seeded with the kit's chart, and an adapter for it."""
    acme = FakeAcme.from_chart(setup.chart, base_currency=setup.currency)
    return AcmeLedgerAdapter.connect(BASE_URL, acme.token, transport=acme.transport())


class TestAcmeLedgerConformance(ConformanceSuite):
    """Every conformance check against the AcmeLedger adapter."""

    def make_adapter(self, setup: AdapterSetup) -> AcmeLedgerAdapter:
        return acme_for(setup)

    def reopen_adapter(self, adapter: ExportTarget, setup: AdapterSetup) -> ExportTarget:
        # The adapter keeps no state but its HTTP client: a new instance is a restart.
        assert isinstance(adapter, AcmeLedgerAdapter)
        return AcmeLedgerAdapter(adapter.http)

    def read_entries(self, adapter: ExportTarget) -> Iterator[LedgerEntry]:
        assert isinstance(adapter, AcmeLedgerAdapter)
        for entry in adapter.journal_entries():
            yield LedgerEntry(
                accounting_entry_id=UUID(entry["externalReference"]),
                external_id=entry["id"],
                postings=[
                    LedgerPosting(
                        account=line["account"],
                        amount=Decimal(line["debit"]) - Decimal(line["credit"]),
                        currency=line["currency"],
                    )
                    for line in entry["lines"]
                ],
                posting_date=date.fromisoformat(entry["date"]),
                attachment_count=len(entry["attachments"]),
            )


# --8<-- [end:suite]


def _demo_tenant() -> tuple[PleoSandbox, str, FakeAcme, AcmeLedgerAdapter]:
    """A sandbox with the demo company and an AcmeLedger tenant holding the demo's chart."""
    sandbox = PleoSandbox(seed=1)
    demo = sandbox.seed_demo()
    acme = FakeAcme.from_chart(demo.chart)
    adapter = AcmeLedgerAdapter.connect(BASE_URL, acme.token, transport=acme.transport())
    return sandbox, demo.company_id, acme, adapter


def test_outage_defers_the_job_and_the_next_run_converges() -> None:
    """An AcmeLedger outage is transient: the job is deferred (left in progress, nothing
    abandoned) and the next run, once AcmeLedger is back, exports every job."""
    sandbox, company, acme, adapter = _demo_tenant()
    acme.outage = True
    with sandbox.client() as client:
        first = export_expenses(
            client, adapter, company_id=company, max_jobs=1, sleep=sandbox.clock.sleep
        )
        assert first.jobs[0].outcome == "deferred"
        assert first.jobs[0].deferred_failure_type == "accounting_system_unreachable"
        assert acme.entries == []
        assert sandbox.jobs(company)[0]["status"] == "in_progress"
        acme.outage = False
        export_expenses(client, adapter, company_id=company, sleep=sandbox.clock.sleep)
    statuses = [job["status"] for job in sandbox.jobs(company)]
    assert statuses == ["completed", "completed", "completed_with_errors"]


def test_rate_limit_is_retried_without_duplicates() -> None:
    """429 answers are waited out (sandbox time) and never cause a second entry."""
    sandbox, company, acme, adapter = _demo_tenant()
    acme.throttle_next = 2
    with sandbox.client() as client:
        report = export_expenses(client, adapter, company_id=company, sleep=sandbox.clock.sleep)
    assert [job.final_event for job in report.jobs] == [
        "completed",
        "completed",
        "completed_with_errors",
    ]
    references = [entry["externalReference"] for entry in acme.entries]
    assert len(references) == len(set(references)) == report.successful


def test_a_revoked_token_is_a_job_level_authentication_failure() -> None:
    """401 from AcmeLedger fails the job with accounting_system_authentication_failure."""
    sandbox, company, acme, _ = _demo_tenant()
    stale = AcmeLedgerAdapter.connect(BASE_URL, "revoked-token", transport=acme.transport())
    with sandbox.client() as client:
        report = export_expenses(client, stale, company_id=company, max_jobs=1)
    assert report.jobs[0].final_event == "failed"
    assert report.jobs[0].failure_type == "accounting_system_authentication_failure"


def test_job_session_reads_the_lock_date_once_per_job() -> None:
    """Inside ``job_session`` the adapter asks AcmeLedger for the lock date once per job."""
    sandbox, company, acme, adapter = _demo_tenant()
    with sandbox.client() as client:
        report = export_expenses(client, adapter, company_id=company, sleep=sandbox.clock.sleep)
    jobs = len(report.jobs)
    company_reads = sum(1 for method, path in acme.requests if path.endswith("/company"))
    # One read per job for check_ready, one for the session: not one per item.
    assert company_reads == 2 * jobs
    assert len(report.items) > 2 * jobs
    assert adapter._job_lock_date is None  # closed after each job


def test_without_a_session_every_period_check_asks_acmeledger() -> None:
    """The contrast: called directly, ``is_period_open`` reads the company every time."""
    _, _, acme, adapter = _demo_tenant()
    before = len(acme.requests)
    for _ in range(3):
        adapter.is_period_open(date(2026, 1, 1))
    assert len(acme.requests) - before == 3
