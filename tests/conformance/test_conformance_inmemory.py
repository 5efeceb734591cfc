"""The conformance kit against ``InMemoryAccountingSystem`` (it must pass every check)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from pleo_erp.accounting_system import AccountsMapping, VendorAccount
from pleo_erp.testing.conformance import (
    AdapterSetup,
    ConformanceSuite,
    LedgerEntry,
    LedgerPosting,
)
from pleo_erp.testing.inmemory import InMemoryAccountingSystem


def inmemory_for(
    setup: AdapterSetup, cls: type[InMemoryAccountingSystem] = InMemoryAccountingSystem
) -> InMemoryAccountingSystem:
    """An in-memory AS (``cls``) holding ``setup.chart``, strict about everything it knows."""
    chart = setup.chart
    m = chart.mapping
    vat_input = next(
        (t.ingoing_tax_account for t in chart.tax_codes if t.ingoing_tax_account), None
    )
    system = cls(
        mapping=AccountsMapping(
            wallet=m.wallet,
            wallet_by_currency=m.wallet_by_currency,
            out_of_pocket=m.out_of_pocket,
            balancing=m.balancing,
            external_reimbursement=m.external_reimbursement,
            accounts_payable=m.accounts_payable,
            vat_input=vat_input,
        ),
        vendors=[
            VendorAccount(
                vendor_id=v.code,
                name=v.name,
                ap_account=v.ap_account,
                currency=v.currency,
                blocked=not v.active,
            )
            for v in chart.vendors
        ],
        auto_vendors=False,
        # The chart's lock date is inclusive; the in-memory AS closes dates *before* its own.
        closed_before=chart.closed_until + timedelta(days=1) if chart.closed_until else None,
        validate_accounts=True,
        validate_tax_codes=True,
        validate_dimensions=True,
    )
    for account in chart.accounts:
        system.add_account(
            account.external_id,
            account.code,
            account.name,
            active=account.active,
            tax_code_external_id=account.tax_code_external_id,
        )
    for tax in chart.tax_codes:
        system.add_tax_code(
            tax.code,
            tax.name,
            tax.rate,
            tax.type,
            active=tax.active,
            ingoing_tax_account=tax.ingoing_tax_account,
            outgoing_tax_account=tax.outgoing_tax_account,
        )
    for dimension in chart.dimensions:
        system.add_dimension(dimension.code, dimension.name, active=dimension.active)
        for value in dimension.values:
            system.add_value(dimension.code, value.code, value.name, active=value.active)
    return system


def inmemory_entries(system: InMemoryAccountingSystem) -> Iterator[LedgerEntry]:
    """Every stored entry as the kit's ``LedgerEntry`` (amounts in Decimal major units)."""
    for stored in system.entries:
        yield LedgerEntry(
            accounting_entry_id=stored.accounting_entry_id,
            external_id=stored.external_id,
            postings=[
                LedgerPosting(
                    account=line.account,
                    amount=line.debit_major() - line.credit_major(),
                    currency=line.currency,
                )
                for line in stored.entry.lines
            ],
            posting_date=stored.entry.posting_date,
            attachment_count=len(stored.attachments),
        )


class TestInMemoryConformance(ConformanceSuite):
    """Every conformance check passes for the in-memory AS (ledger read back exactly)."""

    def make_adapter(self, setup: AdapterSetup) -> InMemoryAccountingSystem:
        return inmemory_for(setup)

    def read_entries(self, adapter: InMemoryAccountingSystem) -> Iterator[LedgerEntry]:  # type: ignore[override]
        return inmemory_entries(adapter)
