"""The Beancount adapter runs the SDK's conformance kit (issue 6: it must pass in CI)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar
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
    ConformanceSuite,
    LedgerEntry,
    LedgerPosting,
)


def _system(adapter: ExportTarget) -> BeancountAccountingSystem:
    assert isinstance(adapter, BeancountAccountingSystem)
    return adapter


class TestBeancountConformance(ConformanceSuite):
    """Every conformance check against a fresh demo ledger per adapter.

    The kit replays whole export queues many times (crash at every step), so the adapter runs
    in its linear fast mode (``paranoid=False``) to keep this file quick; ``read_entries``
    loads the ledger with Beancount whenever the kit reads it back and fails on any error,
    and the paranoid mode has its own tests (``test_beancount_export``/``_property``/``_demo``).
    """

    max_examples: ClassVar[int] = 5

    def make_adapter(self, setup: AdapterSetup) -> BeancountAccountingSystem:
        path = create_ledger(
            setup.workdir / "ledger.beancount",
            setup.chart,
            currency=setup.currency,
            company_id=str(setup.company_id),
            overwrite=True,
        )
        return BeancountAccountingSystem(path, paranoid=False)

    def make_sources(self, setup: AdapterSetup) -> BeancountAccountingSystem:
        return self.make_adapter(setup)

    def reopen_adapter(self, adapter: ExportTarget, setup: AdapterSetup) -> ExportTarget:
        return BeancountAccountingSystem(_system(adapter).path)

    def read_entries(self, adapter: ExportTarget) -> Iterable[LedgerEntry]:
        entries, errors, _ = loader.load_file(str(_system(adapter).path))
        if errors:  # the ledger must always be bean-check clean
            raise ConformanceFailure(f"ledger has {len(errors)} Beancount error(s)")
        documents: dict[str, int] = {}
        for entry in entries:
            if isinstance(entry, data.Document):
                owner = str((entry.meta or {}).get(ENTRY_ID_KEY, ""))
                documents[owner] = documents.get(owner, 0) + 1
        for entry in entries:
            if not isinstance(entry, data.Transaction):
                continue
            entry_id = (entry.meta or {}).get(ENTRY_ID_KEY)
            if not isinstance(entry_id, str):
                continue
            postings = []
            for posting in entry.postings:
                assert posting.units is not None
                assert posting.units.number is not None
                postings.append(
                    LedgerPosting(
                        account=posting.account,
                        amount=posting.units.number,
                        currency=posting.units.currency,
                    )
                )
            yield LedgerEntry(
                accounting_entry_id=UUID(entry_id),
                external_id=entry_link(entry_id),
                postings=postings,
                posting_date=entry.date,
                attachment_count=documents.get(entry_id, 0),
            )
