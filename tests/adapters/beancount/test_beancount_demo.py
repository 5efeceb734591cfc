"""The demo company's export items, built by the domain and booked into a Beancount ledger.

This drives the real entry builders (without HTTP) over every item of the sandbox demo and
checks what the adapter owns: the items the ledger must refuse fail with the expected Pleo
failure type (unknown account / tax code / tag, closed period), everything else is booked,
a second pass books nothing, and the ledger is bean-check clean afterwards.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from beancount import loader
from beancount.core import data

from pleo_erp.accounting_system import AccountingSystemError, VendorAccount
from pleo_erp.adapters.beancount import BeancountAccountingSystem, create_ledger
from pleo_erp.client.serialization import structure
from pleo_erp.domain.bookkeeping import BookkeepingMethod, resolve_method, vendor_match_keys
from pleo_erp.domain.config import ExportConfig
from pleo_erp.domain.entries import EntryContext, build_entry
from pleo_erp.domain.outcomes import DomainFailure
from pleo_erp.domain.validation import validate_item
from pleo_erp.models import ExportItemV3
from pleo_erp.testing.sandbox.demo import DemoData, build_demo

# Failure types decided by the accounting system (the rest are decided by the domain).
ADAPTER_FAILURES = {
    "account_unknown",
    "tax_code_unknown",
    "tag_unknown",
    "accounting_system_validation_failure",
}


@pytest.fixture(scope="module")
def demo() -> DemoData:
    return build_demo(1)


def _export_all(system: BeancountAccountingSystem, demo: DemoData) -> dict[str, str]:
    """Outcome per accounting entry id: ``posted``, or the failure type that stopped it."""
    config = ExportConfig()
    ctx = EntryContext.create(config, system.capabilities(), system.accounts_mapping())
    outcomes: dict[str, str] = {}
    for raw in demo.items():
        item: Any = structure(raw, ExportItemV3)
        try:
            method = resolve_method(item, config)
            vendor: VendorAccount | None = None
            if method is BookkeepingMethod.ACCOUNTS_PAYABLE:
                keys = vendor_match_keys(item, config)
                vendor = next(
                    (v for v in (system.find_vendor(k) for k in keys) if v is not None), None
                )
                if vendor is None:
                    raise DomainFailure("vendor_unknown", "vendor not in the ledger")
            validate_item(item, method, ctx)
            system.post(build_entry(item, method, ctx, vendor=vendor), [])
            outcomes[raw["accountingEntryId"]] = "posted"
        except DomainFailure as failure:
            outcomes[raw["accountingEntryId"]] = f"domain:{failure.failure_type}"
        except AccountingSystemError as error:
            outcomes[raw["accountingEntryId"]] = error.failure_type
    return outcomes


def test_demo_items_book_into_a_clean_ledger_exactly_once(tmp_path: Path, demo: DemoData) -> None:
    path = create_ledger(
        tmp_path / "ledger.beancount",
        demo.chart,
        currency=demo.currency,
        company_id=demo.company_id,
    )
    system = BeancountAccountingSystem(path)
    outcomes = _export_all(system, demo)

    refused = {k: v for k, v in outcomes.items() if v in ADAPTER_FAILURES}
    expected = {k: v for k, v in demo.expected_failures.items() if v in ADAPTER_FAILURES}
    assert refused == expected
    assert set(expected.values()) == ADAPTER_FAILURES  # the demo exercises all four
    posted = [k for k, v in outcomes.items() if v == "posted"]
    assert len(posted) >= 30

    entries, errors, _ = loader.load_file(str(path))
    assert errors == []
    booked = [e for e in entries if isinstance(e, data.Transaction)]
    assert sorted(t.meta["pleo-accounting-entry-id"] for t in booked) == sorted(posted)

    # A second pass (a resumed job) finds every booking and adds nothing.
    before = path.read_bytes()
    assert _export_all(BeancountAccountingSystem(path), demo) == outcomes
    assert path.read_bytes() == before
