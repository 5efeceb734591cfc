"""The Beancount adapter in its default (paranoid) mode passes the kit's export checks.

``test_beancount_conformance.py`` runs the whole ``ConformanceSuite`` in the adapter's fast
mode; this file runs the checks that write the most through :func:`run_conformance` (the
CLI/CI entry point) with the adapter exactly as users construct it, and requires the ledger
to stay ``bean-check`` clean.
"""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

from beancount import loader
from beancount.core import data

from pleo_erp.accounting_system import ExportTarget
from pleo_erp.adapters.beancount import (
    ENTRY_ID_KEY,
    BeancountAccountingSystem,
    create_ledger,
    entry_link,
)
from pleo_erp.testing.conformance import (
    AdapterSetup,
    ConformanceFailure,
    LedgerEntry,
    LedgerPosting,
    run_conformance,
)


def make_ledger(setup: AdapterSetup) -> BeancountAccountingSystem:
    """A fresh ledger for the kit's chart, opened with the default (paranoid) settings."""
    path = create_ledger(
        setup.workdir / "books.beancount",
        setup.chart,
        currency=setup.currency,
        company_id=str(setup.company_id),
    )
    return BeancountAccountingSystem(path)


def reopen(adapter: ExportTarget, setup: AdapterSetup) -> ExportTarget:
    """A new instance on the same file: what a restarted process sees."""
    assert isinstance(adapter, BeancountAccountingSystem)
    return BeancountAccountingSystem(adapter.path)


def read_ledger(adapter: ExportTarget) -> Iterator[LedgerEntry]:
    """Every exported transaction, loaded by Beancount itself (errors fail the check)."""
    assert isinstance(adapter, BeancountAccountingSystem)
    entries, errors, _ = loader.load_file(str(adapter.path))
    if errors:
        raise ConformanceFailure(f"bean-check finds {len(errors)} error(s): {errors[0].message}")
    documents: dict[str, int] = {}
    for entry in entries:
        if isinstance(entry, data.Document):
            owner = str((entry.meta or {}).get(ENTRY_ID_KEY, ""))
            documents[owner] = documents.get(owner, 0) + 1
    for entry in entries:
        entry_id = (entry.meta or {}).get(ENTRY_ID_KEY)
        if not isinstance(entry, data.Transaction) or not isinstance(entry_id, str):
            continue
        yield LedgerEntry(
            accounting_entry_id=UUID(entry_id),
            external_id=entry_link(entry_id),
            postings=[
                LedgerPosting(
                    account=p.account,
                    amount=p.units.number,  # type: ignore[union-attr,arg-type]
                    currency=p.units.currency,  # type: ignore[union-attr]
                )
                for p in entry.postings
            ],
            posting_date=entry.date,
            attachment_count=documents.get(entry_id, 0),
        )


def test_paranoid_beancount_passes_the_export_checks() -> None:
    """Demo queue, reruns/re-exports, receipts and money: every check passes, none skipped."""
    report = run_conformance(
        make_ledger,
        reopen_adapter=reopen,
        read_entries=read_ledger,
        checks=["protocol", "demo_export", "exactly_once_rerun", "attachments", "failure_mapping"],
        max_examples=5,
    )
    assert report.ok, report.summary()
    assert not report.skipped, report.summary()
