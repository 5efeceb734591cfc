"""``split_settled_invoice``: a SupplierInvoice as a bill and its payment (issue 11)."""

from __future__ import annotations

from collections import Counter
from datetime import date
from uuid import uuid4

import pytest

from pleo_erp.accounting_system import (
    AccountsMapping,
    Capabilities,
    EntryLine,
    InvoiceDetails,
    SupplierInvoice,
    UnbalancedEntryError,
    VendorAccount,
    split_settled_invoice,
)
from pleo_erp.domain.bookkeeping import resolve_method
from pleo_erp.domain.config import ExportConfig
from pleo_erp.domain.entries import EntryContext, build_entry
from pleo_erp.domain.money import Money
from pleo_erp.models import ExportItemV3
from tests.helpers.export import invoice_info, line, make_item, tax, vendor

MAPPING = AccountsMapping(
    wallet="1930", accounts_payable="2440", vat_input="2640", vat_output="2614"
)
VENDOR = VendorAccount(vendor_id="VEND-1", name="Staples")


def _invoice(item: ExportItemV3) -> SupplierInvoice:
    config = ExportConfig()
    ctx = EntryContext.create(config, Capabilities(), MAPPING)
    entry = build_entry(item, resolve_method(item, config), ctx, vendor=VENDOR)
    assert isinstance(entry, SupplierInvoice)
    return entry


def _signed(lines: tuple[EntryLine, ...]) -> Counter[tuple[str, int]]:
    return Counter((ln.account, ln.debit - ln.credit) for ln in lines)


@pytest.mark.parametrize("value", [1, 999, 12500, 1_000_000])
def test_settled_card_purchase_splits_into_a_bill_and_its_payment(value: int) -> None:
    vat = value // 5
    item = make_item(
        bookkeeping="accounts_payable",
        vendor=vendor(),
        value=value,
        lines=[line(value, net=value - vat, tax=tax(vat), tags=[("DEPT", "ENG")])],
    )
    entry = _invoice(item)
    assert entry.settled_from == "1930"
    split = split_settled_invoice(entry)
    document, payment = split.document, split.payment
    assert payment is not None
    assert split.settled
    # Every line lands in exactly one half; each half balances on its own.
    assert _signed(document.lines) + _signed(payment.lines) == _signed(entry.lines)
    assert sum(ln.debit - ln.credit for ln in document.lines) == 0
    assert sum(ln.debit - ln.credit for ln in payment.lines) == 0
    # The bill: expense (+ VAT) line items owed on the payable account.
    assert {ln.role for ln in document.items} <= {"expense", "tax"}
    assert [(ln.account, ln.credit) for ln in document.payable] == [("2440", value)]
    assert document.total == value
    assert document.vendor == VENDOR
    assert any(d.value == "ENG" for ln in document.items for d in ln.dimensions)
    # The payment: the whole amount from the wallet, settling the payable.
    assert payment.amount == Money(entry.currency, value)
    assert (payment.paid_from, payment.ap_account) == ("1930", "2440")
    assert _signed(payment.lines) == Counter({("2440", value): 1, ("1930", -value): 1})
    assert payment.payment_date == entry.posting_date
    assert payment.accounting_entry_id == document.accounting_entry_id


def test_unpaid_invoice_is_a_bill_without_payment() -> None:
    item = make_item(
        type="invoice",
        bookkeeping="accounts_payable",
        vendor=vendor(),
        invoice=invoice_info("INV-9", "pending"),
        value=5000,
    )
    entry = _invoice(item)
    split = split_settled_invoice(entry)
    assert split.payment is None
    assert not split.settled
    assert split.document.lines == entry.lines
    assert split.document.number == "INV-9"
    assert split.document.invoice_date == date(2024, 3, 1)
    assert split.document.due_date == date(2024, 3, 31)


def _line(account: str, role: str, debit: int = 0, credit: int = 0) -> EntryLine:
    return EntryLine(account=account, debit=debit, credit=credit, currency="SEK", role=role)  # type: ignore[arg-type]


def _manual(lines: list[EntryLine], **kwargs: object) -> SupplierInvoice:
    return SupplierInvoice(
        accounting_entry_id=uuid4(),
        posting_date=date(2024, 3, 15),
        currency="SEK",
        lines=lines,
        description="d",
        reference="R-1",
        vendor=None,
        vendor_name="Staples",
        ap_account="2440",
        supplier_amount=Money("SEK", 100),
        settled_from="1930",
        **kwargs,  # type: ignore[arg-type]
    )


def test_payment_date_comes_from_the_invoice_and_number_falls_back_to_reference() -> None:
    entry = _manual(
        [
            _line("6000", "expense", debit=100),
            _line("2440", "payable", credit=100),
            _line("2440", "payable", debit=100),
            _line("1930", "counter", credit=100),
        ],
        invoice=InvoiceDetails(
            number="", invoice_date=date(2024, 3, 1), status="paid", payment_date=date(2024, 3, 9)
        ),
    )
    split = split_settled_invoice(entry)
    assert split.payment is not None
    assert split.payment.payment_date == date(2024, 3, 9)
    assert split.document.number == "R-1"


def test_a_settlement_that_does_not_balance_on_its_own_is_refused() -> None:
    entry = _manual(
        [
            _line("6000", "expense", debit=140),
            _line("2440", "payable", credit=100),
            _line("2440", "payable", debit=100),
            _line("1930", "counter", credit=140),
        ]
    )
    with pytest.raises(UnbalancedEntryError):
        split_settled_invoice(entry)
