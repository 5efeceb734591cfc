"""End to end: the sandbox's demo queue exported into the in-memory AS, in-process and over
loopback HTTP (issue 4, "Tests that must hold")."""

from __future__ import annotations

from typing import Any

import pytest

from pleo_erp.client import ApiKeyAuth, PleoClient
from pleo_erp.orchestration.export import export_expenses
from pleo_erp.orchestration.report import ExportReport
from pleo_erp.testing.inmemory import InMemoryAccountingSystem
from pleo_erp.testing.sandbox import PleoSandbox
from tests.helpers.export_drivers import export_driver  # noqa: F401 - the fixture, used below

pytestmark = pytest.mark.usefixtures("export_driver")  # every test: blocking and async driver


def export(sb: PleoSandbox, system: InMemoryAccountingSystem, client: Any = None) -> ExportReport:
    assert sb.demo_company_id is not None
    return export_expenses(
        client if client is not None else sb.client(),
        system,
        company_id=sb.demo_company_id,
        clock=sb.clock.now,
        sleep=sb.clock.sleep,
    )


def assert_pleo_final(sb: PleoSandbox) -> None:
    """Every job finished; every item successful or failed with a reason (C23)."""
    assert sb.demo_company_id is not None
    for job in sb.jobs(sb.demo_company_id):
        assert job["status"] in ("completed", "completed_with_errors")
        for item in sb.job_items(job["id"]):
            assert item["status"] in ("successful", "failed")
            if item["status"] == "failed":
                assert item["failureReason"]
                assert item["failureReasonType"]
            else:
                assert item["externalId"]


def test_demo_queue_exports_with_no_configuration_and_second_run_posts_nothing() -> None:
    sb = PleoSandbox(seed=1)
    sb.seed_demo()
    system = InMemoryAccountingSystem()
    report = export(sb, system)
    assert not report.interrupted
    assert len(report.jobs) == 3
    assert report.successful > 30
    assert_pleo_final(sb)
    assert system.is_balanced()
    assert system.duplicates() == []
    # Receipts made it into the ledger.
    assert sum(len(e.attachments) for e in system.entries) > 10
    entries = len(system.entries)
    sb.clear_requests()
    again = export(sb, system)
    assert again.jobs == ()
    assert len(system.entries) == entries
    assert {(r.method, r.path) for r in sb.requests} == {("GET", "/v3/export-jobs")}


def test_demo_against_its_own_chart_fails_exactly_the_expected_items() -> None:
    sb = PleoSandbox(seed=1)
    demo = sb.seed_demo()
    system = InMemoryAccountingSystem.from_demo(demo)
    report = export(sb, system)
    failed = {
        str(i.accounting_entry_id): i.failure_type for i in report.items if i.status == "failed"
    }
    assert failed == demo.expected_failures
    statuses = {job["id"]: job["status"] for job in sb.jobs(demo.company_id)}
    assert statuses == demo.expected_job_statuses
    assert_pleo_final(sb)
    assert system.is_balanced()
    assert system.open_invoices() == []  # job 2's EUR invoice was paid in job 3 (C17)
    # The EUR invoice of Berlin Hardware (job 2) and its payment (job 3) net to zero.
    assert system.balance(demo.chart.vendor("V1004").ap_account) == 0


def test_both_sign_conventions_give_the_same_ledger() -> None:
    """DESIGN decision 11: the demo with negative inflows books exactly the same entries."""
    ledgers = []
    for negative in (False, True):
        sb = PleoSandbox(seed=1)
        demo = sb.seed_demo(negative_inflows=negative)
        system = InMemoryAccountingSystem.from_demo(demo)
        export(sb, system)
        ledgers.append(
            sorted(
                (
                    str(e.accounting_entry_id),
                    tuple((ln.account, ln.debit, ln.credit) for ln in e.entry.lines),
                )
                for e in system.entries
            )
        )
    assert ledgers[0] == ledgers[1]


@pytest.mark.http
def test_demo_over_loopback_http() -> None:
    sb = PleoSandbox(seed=1)
    demo = sb.seed_demo()
    system = InMemoryAccountingSystem.from_demo(demo)
    with sb.serve() as base_url:
        with PleoClient(ApiKeyAuth(sb.api_key), base_url=base_url) as client:
            report = export(sb, system, client)
            assert not report.interrupted
            assert export(sb, system, client).jobs == ()
    failed = {
        str(i.accounting_entry_id): i.failure_type for i in report.items if i.status == "failed"
    }
    assert failed == demo.expected_failures
    assert_pleo_final(sb)
    assert sum(len(e.attachments) for e in system.entries) > 10
    assert system.duplicates() == []
