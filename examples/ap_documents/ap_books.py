"""``APBooks``: an accounting system with native AP documents (bills, payments, lots).

The SDK hands an adapter one balanced :class:`~pleo_erp.accounting_system.SupplierInvoice` per
AP purchase. When the purchase was paid at once (a card purchase booked under accounts
payable, ``settled_from`` set), its lines carry the bill *and* its settlement. A system with
real AP documents books them apart: :func:`~pleo_erp.accounting_system.split_settled_invoice`
returns the bill (line items + payable) and the payment (amount, paying account, date), each
balanced on its own, and this adapter books a bill, a payment and the lot that links them.

Everything else an adapter needs is as in ``examples/custom_adapter``; this one keeps its
books in memory so that the example runs anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from uuid import UUID

from pleo_erp.accounting_system import (
    AccountsMapping,
    Attachment,
    BaseExportTarget,
    Capabilities,
    Entry,
    InvoiceDocument,
    InvoiceSettlement,
    PostedEntry,
    SupplierInvoice,
    VendorAccount,
    VendorKey,
    split_settled_invoice,
)


@dataclass
class Bill:
    """A vendor bill: line items (account, amount, tax code) owed to the vendor."""

    bill_id: str
    vendor_id: str | None
    number: str
    posted_on: date
    due_on: date | None
    payable_account: str
    items: list[tuple[str, Decimal, str | None]]
    total: Decimal
    reference: str


@dataclass
class Payment:
    """A payment from ``paid_from`` against one bill (its lot)."""

    payment_id: str
    lot: str
    paid_from: str
    amount: Decimal
    paid_on: date


@dataclass
class Lot:
    """Links a bill to the payments that settle it; closed when they cover its total."""

    lot_id: str
    bill_id: str
    payments: list[str] = field(default_factory=list)
    open_amount: Decimal = Decimal(0)


class APBooks(BaseExportTarget):
    """Bills, payments and lots, keyed by Pleo's ``accountingEntryId`` (exactly once)."""

    def __init__(self, vendors: dict[str, str]) -> None:
        self.vendors = vendors  # Pleo vendor code -> vendor id in the books
        self.bills: dict[str, Bill] = {}
        self.payments: dict[str, Payment] = {}
        self.lots: dict[str, Lot] = {}
        self.journal: dict[str, Entry] = {}
        self._by_entry: dict[UUID, str] = {}

    def capabilities(self) -> Capabilities:
        """AP supported; entries are booked final (the books have no drafts)."""
        return Capabilities(supports_accounts_payable=True, supports_drafts=False)

    def accounts_mapping(self) -> AccountsMapping:
        """The books' wallet, payable and VAT accounts."""
        return AccountsMapping(
            wallet="1930", accounts_payable="2440", vat_input="2640", vat_output="2614"
        )

    def find_vendor(self, key: VendorKey) -> VendorAccount | None:
        """A vendor by its Pleo code."""
        vendor_id = self.vendors.get(key.value)
        return None if vendor_id is None else VendorAccount(vendor_id=vendor_id, name=key.value)

    def find_posted(self, accounting_entry_id: UUID) -> PostedEntry | None:
        """The bill (or journal entry) stored under this ``accountingEntryId``."""
        external_id = self._by_entry.get(accounting_entry_id)
        if external_id is None:
            return None
        return PostedEntry(accounting_entry_id=accounting_entry_id, external_id=external_id)

    # --8<-- [start:post]
    def post(self, entry: Entry, attachments: Sequence[Attachment]) -> PostedEntry:
        """A supplier invoice becomes a bill, plus a payment when it was paid at once."""
        if not isinstance(entry, SupplierInvoice):
            self.journal[str(entry.accounting_entry_id)] = entry  # journal-style entries
            return self._posted(entry.accounting_entry_id, str(entry.accounting_entry_id))
        split = split_settled_invoice(entry)
        bill = self._book_bill(split.document)
        if split.payment is not None:
            self._pay(bill, split.payment)
        return self._posted(entry.accounting_entry_id, bill.bill_id)

    def _book_bill(self, document: InvoiceDocument) -> Bill:
        bill = Bill(
            bill_id=f"BILL-{len(self.bills) + 1}",
            vendor_id=document.vendor.vendor_id if document.vendor else None,
            number=document.number,
            posted_on=document.posting_date,
            due_on=document.due_date,
            payable_account=document.ap_account,
            items=[
                (line.account, line.debit_major() - line.credit_major(), line.tax_code)
                for line in document.items
            ],
            total=sum((line.credit_major() for line in document.payable), Decimal(0)),
            reference=str(document.accounting_entry_id),  # exactly once: Pleo's id
        )
        self.bills[bill.bill_id] = bill
        self.lots[bill.bill_id] = Lot(f"LOT-{bill.bill_id}", bill.bill_id, [], bill.total)
        return bill

    def _pay(self, bill: Bill, payment: InvoiceSettlement) -> None:
        lot = self.lots[bill.bill_id]
        amount = payment.amount.to_major()
        paid = Payment(f"PAY-{len(self.payments) + 1}", lot.lot_id, payment.paid_from,
                       amount, payment.payment_date)  # fmt: skip
        self.payments[paid.payment_id] = paid
        lot.payments.append(paid.payment_id)
        lot.open_amount -= amount

    # --8<-- [end:post]

    def _posted(self, accounting_entry_id: UUID, external_id: str) -> PostedEntry:
        self._by_entry[accounting_entry_id] = external_id
        return PostedEntry(
            accounting_entry_id=accounting_entry_id, external_id=external_id, draft=False
        )
