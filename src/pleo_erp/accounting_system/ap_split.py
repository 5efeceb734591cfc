"""Split a settled :class:`SupplierInvoice` into the documents an AP-native system books.

A card purchase booked under accounts payable (or a ``card_invoice``) reaches the adapter as
*one* balanced :class:`SupplierInvoice` whose ``lines`` carry both halves: the invoice
(expense and VAT debited, the payable credited) and its immediate settlement (the payable
debited, the wallet credited; ``settled_from`` names the wallet account). A plain journal takes
that as it is. A system with native bills, bill payments and lots (GnuCash through ``piecash``,
most ERPs) wants the halves apart: a vendor bill posted to the payable account, then a payment
that settles it. :func:`split_settled_invoice` gives exactly that, as data:

- :class:`InvoiceDocument` — the bill: vendor, number, dates, its line items (expense and VAT
  lines) and the payable line, balanced on its own;
- :class:`InvoiceSettlement` — the payment (``None`` for an unpaid invoice): from which account,
  how much, on which date, and its two lines, balanced on its own.

Both halves keep the entry's ``accounting_entry_id``: store it on both (e.g. the bill's and the
payment's external reference) so that ``find_posted`` still finds the pair exactly once.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

from attrs import define

from pleo_erp.accounting_system.export import (
    EntryLine,
    InvoiceDetails,
    SupplierInvoice,
    UnbalancedEntryError,
    VendorAccount,
)
from pleo_erp.domain.money import Money

__all__ = ["APDocumentSplit", "InvoiceDocument", "InvoiceSettlement", "split_settled_invoice"]


def _balanced(lines: tuple[EntryLine, ...], what: str) -> int:
    debit = sum(line.debit for line in lines)
    credit = sum(line.credit for line in lines)
    if not lines or debit != credit:
        raise UnbalancedEntryError(f"the {what} does not balance: debit {debit} != credit {credit}")
    return debit


@define(frozen=True, slots=True, kw_only=True)
class InvoiceDocument:
    """The vendor bill half of a :class:`SupplierInvoice` (balanced on its own).

    ``items`` are the bill's line items (``expense`` and ``tax`` lines, in the wallet
    currency, with accounts, tax codes and dimensions); ``payable`` is the credit to the AP
    account; ``lines`` is both together, as a journal would take them. ``number`` is the
    supplier's invoice number when Pleo has one, else the entry's reference.
    """

    accounting_entry_id: UUID
    vendor: VendorAccount | None
    vendor_name: str
    vendor_code: str | None
    ap_account: str
    number: str
    invoice_date: date
    due_date: date | None
    posting_date: date
    currency: str
    description: str
    reference: str
    items: tuple[EntryLine, ...]
    payable: tuple[EntryLine, ...]
    supplier_amount: Money
    invoice: InvoiceDetails | None

    @property
    def lines(self) -> tuple[EntryLine, ...]:
        """Line items, then the payable line(s)."""
        return (*self.items, *self.payable)

    @property
    def total(self) -> int:
        """The bill total in the wallet currency (minor units)."""
        return sum(line.credit - line.debit for line in self.payable)


@define(frozen=True, slots=True, kw_only=True)
class InvoiceSettlement:
    """The payment half: ``amount`` from ``paid_from`` settles the bill on ``ap_account``.

    ``lines`` are the payable debit and the wallet credit (balanced on their own).
    """

    accounting_entry_id: UUID
    paid_from: str
    ap_account: str
    amount: Money
    payment_date: date
    lines: tuple[EntryLine, ...]


@define(frozen=True, slots=True, kw_only=True)
class APDocumentSplit:
    """A :class:`SupplierInvoice` as a bill and (when settled at once) its payment."""

    document: InvoiceDocument
    payment: InvoiceSettlement | None = None

    @property
    def settled(self) -> bool:
        """Whether the invoice was paid at once (card purchase, ``card_invoice``)."""
        return self.payment is not None


def split_settled_invoice(invoice: SupplierInvoice) -> APDocumentSplit:
    """Split ``invoice`` into its bill and, when ``settled_from`` is set, its payment.

    The settlement is the ``counter`` lines (the wallet) and the ``payable`` lines on the
    opposite side of them; everything else is the bill. Both halves are checked to balance
    (:class:`UnbalancedEntryError` otherwise), so the sums an AP system books are exactly the
    entry's.
    """
    lines = invoice.lines
    in_settlement = [False] * len(lines)
    if invoice.settled_from is not None:
        counter_credits = sum(line.credit for line in lines if line.role == "counter") > 0
        in_settlement = [
            line.role == "counter"
            or (line.role == "payable" and (line.debit > 0) == counter_credits)
            for line in lines
        ]
    settlement = tuple(line for line, s in zip(lines, in_settlement, strict=True) if s)
    document_lines = tuple(line for line, s in zip(lines, in_settlement, strict=True) if not s)
    _balanced(document_lines, f"invoice document of {invoice.accounting_entry_id}")
    items = tuple(line for line in document_lines if line.role != "payable")
    payable = tuple(line for line in document_lines if line.role == "payable")
    details = invoice.invoice
    document = InvoiceDocument(
        accounting_entry_id=invoice.accounting_entry_id,
        vendor=invoice.vendor,
        vendor_name=invoice.vendor_name,
        vendor_code=invoice.vendor_code,
        ap_account=invoice.ap_account,
        number=details.number if details is not None and details.number else invoice.reference,
        invoice_date=details.invoice_date if details is not None else invoice.posting_date,
        due_date=details.due_date if details is not None else None,
        posting_date=invoice.posting_date,
        currency=invoice.currency,
        description=invoice.description,
        reference=invoice.reference,
        items=items,
        payable=payable,
        supplier_amount=invoice.supplier_amount,
        invoice=details,
    )
    if not settlement:
        return APDocumentSplit(document=document)
    amount = _balanced(settlement, f"settlement of {invoice.accounting_entry_id}")
    paid_on = details.payment_date if details is not None else None
    payment = InvoiceSettlement(
        accounting_entry_id=invoice.accounting_entry_id,
        paid_from=invoice.settled_from or "",
        ap_account=invoice.ap_account,
        amount=Money(invoice.currency, amount),
        payment_date=paid_on or invoice.posting_date,
        lines=settlement,
    )
    return APDocumentSplit(document=document, payment=payment)
