"""The Beancount adapter books the exporter's reverse-charge line shape (issue 9, C11 / B14).

With implicit VAT (``ExportConfig(explicit_vat=False)``) the exporter sends reverse charge as
one expense line of the full amount with ``vat_treatment="reverse_charge"`` and
``reverse_charge_tax``. The ledger must hold expense 100.00, input VAT 25.00 and output VAT
-25.00 against the wallet's -100.00: balanced, and both VAT legs on the tax code's accounts.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from beancount import loader
from beancount.core import data

from pleo_erp.accounting_system import (
    AccountsMapping,
    Capabilities,
    JournalEntry,
    SupplierPayment,
    VendorAccount,
)
from pleo_erp.adapters.beancount import BeancountAccountingSystem, create_ledger
from pleo_erp.domain.bookkeeping import BookkeepingMethod
from pleo_erp.domain.config import ExportConfig
from pleo_erp.domain.entries import EntryContext, build_entry
from pleo_erp.testing.sandbox.demo import build_demo
from tests.helpers.export import invoice_info, line, make_item, tax, vendor

COMPANY = uuid.UUID("cd613e30-d8f1-4adf-91b7-584a2265b1f5")


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    chart = build_demo(1).chart
    return create_ledger(
        tmp_path / "books" / "ledger.beancount", chart, currency="DKK", company_id=str(COMPANY)
    )


def _postings(path: Path, entry_id: uuid.UUID) -> list[tuple[str, Decimal]]:
    entries, errors, _ = loader.load_file(str(path))
    assert errors == [], [e.message for e in errors]
    (txn,) = [
        e
        for e in entries
        if isinstance(e, data.Transaction)
        and e.meta.get("pleo-accounting-entry-id") == str(entry_id)
    ]
    out = []
    for posting in txn.postings:
        assert posting.units is not None
        assert posting.units.number is not None
        out.append((posting.account, posting.units.number))
    return out


def _exported(value: int, item_type: str = "card_purchase") -> JournalEntry:
    """What the exporter sends for a DKK reverse-charge EU service with implicit VAT."""
    rc = tax(0, type="reverse", code="RC25", currency="DKK")  # Pleo may send 0: from the rate
    item = make_item(
        type=item_type,
        value=value,
        currency="DKK",
        contra="5810",
        date="2026-09-01T10:00:00+02:00",
        lines=[line(value, account="6100", currency="DKK", tax=rc)],
    )
    ctx = EntryContext.create(
        ExportConfig(explicit_vat=False), Capabilities(), AccountsMapping(wallet="5810")
    )
    entry = build_entry(item, BookkeepingMethod.JOURNAL, ctx)
    assert isinstance(entry, JournalEntry)
    assert entry.posting_date == date(2026, 9, 1)
    return entry


@pytest.mark.rule("C11", "B14")
def test_c11_b14_reverse_charge_books_full_expense_and_both_vat_legs(ledger: Path) -> None:
    entry = _exported(10000)
    BeancountAccountingSystem(ledger).post(entry, [])
    booked = _postings(ledger, entry.accounting_entry_id)
    amounts = sorted(amount for _, amount in booked)
    assert amounts == [Decimal("-100.00"), Decimal("-25.00"), Decimal("25.00"), Decimal("100.00")]
    assert sum(amount for _, amount in booked) == 0
    expense = [a for a, n in booked if n == Decimal("100.00")]
    assert len(expense) == 1
    assert expense[0].startswith("Expenses:")  # 100.00, not 75.00


@pytest.mark.rule("C11")
def test_c11_reverse_charge_refund_reverses_both_legs(ledger: Path) -> None:
    entry = _exported(-10000, item_type="refund")
    BeancountAccountingSystem(ledger).post(entry, [])
    booked = _postings(ledger, entry.accounting_entry_id)
    assert sum(amount for _, amount in booked) == 0
    expense = [n for a, n in booked if a.startswith("Expenses:")]
    assert expense == [Decimal("-100.00")]
    assert sorted(n for a, n in booked if not a.startswith(("Expenses:", "Assets:Pleo"))) == [
        Decimal("-25.00"),
        Decimal("25.00"),
    ]


@pytest.mark.rule("C11")
def test_c11_reverse_charge_legs_use_the_tax_codes_accounts(ledger: Path) -> None:
    entry = _exported(10000)
    system = BeancountAccountingSystem(ledger)
    system.post(entry, [])
    booked = dict(_postings(ledger, entry.accounting_entry_id))
    accounts = {code: system._config().find_account(code) for code in ("7800", "7820")}
    names = {code: account.name for code, account in accounts.items() if account is not None}
    assert booked[names["7800"]] == Decimal("25.00")  # RC25 ingoing (input VAT)
    assert booked[names["7820"]] == Decimal("-25.00")  # RC25 outgoing (output VAT)


@pytest.mark.rule("C17")
def test_c17_foreign_payment_keeps_supplier_amount_and_rate_as_metadata(ledger: Path) -> None:
    item = make_item(
        type="invoice_payment",
        bookkeeping="accounts_payable",
        vendor=vendor(code="V1004", name="Berlin Hardware GmbH"),
        value=74600,
        currency="DKK",
        contra="5810",
        date="2026-09-02T09:00:00+02:00",
        supplier_amount=(10000, "EUR"),
        invoice=invoice_info("B-77"),
        lines=[line(74600, account="6100", currency="DKK")],
    )
    ctx = EntryContext.create(ExportConfig(), Capabilities(), AccountsMapping(wallet="5810"))
    entry = build_entry(
        item,
        BookkeepingMethod.ACCOUNTS_PAYABLE,
        ctx,
        vendor=VendorAccount(vendor_id="V1004", name="Berlin Hardware GmbH", ap_account="7240"),
    )
    assert isinstance(entry, SupplierPayment)
    BeancountAccountingSystem(ledger).post(entry, [])
    entries, errors, _ = loader.load_file(str(ledger))
    assert errors == []
    (txn,) = [
        e
        for e in entries
        if isinstance(e, data.Transaction)
        and e.meta.get("pleo-accounting-entry-id") == str(entry.accounting_entry_id)
    ]
    assert txn.meta["pleo-supplier-amount"] == "100.00 EUR"
    assert txn.meta["pleo-exchange-rate"] == "7.46"
    assert {p.units.currency for p in txn.postings if p.units is not None} == {"DKK"}


@pytest.mark.rule("C8")
def test_c8_rounding_account_from_the_ledger_mapping(tmp_path: Path) -> None:
    path = tmp_path / "small.beancount"
    path.write_text(
        "2026-01-01 open Assets:Wallet SEK\n"
        "2026-01-01 open Expenses:Rounding\n"
        '2026-01-01 custom "pleo-mapping" "wallet" Assets:Wallet\n'
        '2026-01-01 custom "pleo-mapping" "rounding" Expenses:Rounding\n',
        encoding="utf-8",
    )
    mapping = BeancountAccountingSystem(path).accounts_mapping()
    assert (mapping.wallet, mapping.rounding) == ("Assets:Wallet", "Expenses:Rounding")
