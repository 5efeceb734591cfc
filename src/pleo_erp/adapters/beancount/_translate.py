"""Turning a balanced domain entry into a Beancount transaction draft.

The shape written for every kind of entry:

```beancount
2026-09-01 ! "Stockholm Cloud AB" "Stockholm Cloud AB · Lars Nielsen · Hosting" #pleo ^pleo-c979…
  pleo-accounting-entry-id: "c979cb06-…"      ; the exactly-once key
  pleo-kind: "supplier_invoice"
  pleo-reference: "NS-2026-000020"             ; reconciliation id (the "book ID")
  pleo-reconciled-entries: "NS-2026-000001, …" ; reimbursements only
  Expenses:Software            781.44 DKK
    pleo-dim-DEPT: "ENG"                       ; one key per dimension (Pleo tag group)
    pleo-tax-code: "RC25"
  Assets:VAT:Input             195.36 DKK
  Liabilities:VAT:EU          -195.36 DKK
  Liabilities:AP:Stockholm    -781.44 DKK
```

Flag ``!`` is a draft, ``*`` final. AP documents use the vendor as payee, carry the invoice
datapoints as metadata, and share a ``^inv-<vendor>-<number>`` link with their payment so the
two are reconciled in Fava even when they arrive in different export jobs (C17). Every entry
also carries ``^ref-<reconciliation id>``, and a reimbursement the ``^ref-…`` links of the
expenses it settles, so Fava shows an expense next to its reimbursement.

Every account, tax code and dimension is checked against the ledger's configuration first,
so an unknown one fails the item with Pleo's precise failure type instead of a generic
validation error from Beancount.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

from pleo_erp.accounting_system.export import (
    AccountingSystemError,
    CreditNote,
    Entry,
    EntryDimension,
    EntryLine,
    EntryRejected,
    JournalEntry,
    SupplierInvoice,
    SupplierPayment,
    UnknownAccountError,
    UnknownDimensionError,
    UnknownTaxCodeError,
)
from pleo_erp.adapters.beancount._config import AccountInfo, LedgerConfig
from pleo_erp.adapters.beancount._documents import safe_name
from pleo_erp.adapters.beancount._ledger import ENTRY_ID_KEY
from pleo_erp.adapters.beancount._render import Meta, PostingDraft, TransactionDraft
from pleo_erp.domain.money import minor_to_major, minor_unit_exponent

__all__ = [
    "EXPORT_TAG",
    "dimension_key",
    "entry_link",
    "invoice_link",
    "reference_link",
    "to_transaction",
]

EXPORT_TAG = "pleo"
_KEY_SAFE = re.compile(r"^[A-Za-z0-9_-]+$")
_LINK_UNSAFE = re.compile(r"[^A-Za-z0-9_/.-]+")


def _link_part(text: str, max_length: int = 80) -> str:
    """Text made valid inside a ``^link`` (Beancount allows ``[A-Za-z0-9_/.-]``)."""
    return _LINK_UNSAFE.sub("-", text).strip("-")[:max_length] or "x"


def entry_link(accounting_entry_id: object) -> str:
    """The ``^link`` (without ``^``) tying a transaction to its receipts: ``pleo-<uuid>``."""
    return f"pleo-{accounting_entry_id}"


def invoice_link(vendor: str, number: str) -> str:
    """The link shared by an AP invoice and its payment(s): ``inv-<vendor>-<number>``."""
    return f"inv-{_link_part(vendor, 40)}-{_link_part(number, 60)}"


def reference_link(reconciliation_id: str) -> str:
    """The link for a reconciliation id (``ref-<id>``).

    An expense carries its own; a reimbursement also carries those of the expenses it
    settles (``reconciledEntries``), so Fava shows them together.
    """
    return f"ref-{_link_part(reconciliation_id)}"


def dimension_key(code: str) -> str:
    """The posting metadata key for a dimension: ``pleo-dim-<code>``.

    Codes that are not valid in a key are made safe and suffixed with a hash of the exact
    code, so two different codes do not end up sharing a key.
    """
    if _KEY_SAFE.match(code):
        return f"pleo-dim-{code}"
    digest = hashlib.sha256(code.encode("utf-8")).hexdigest()[:12]
    return f"pleo-dim-{safe_name(code, max_length=30)}-{digest}"


def _resolve_account(config: LedgerConfig, reference: str, day: date) -> AccountInfo:
    account = config.find_account(reference)
    if account is None:
        raise UnknownAccountError(
            f"Account No. {reference} does not exist in the ledger; check the category's "
            "account in Pleo or open the account in the ledger.",
            account=reference,
        )
    if not account.is_open_on(day):
        state = (
            f"closed on {account.closed.isoformat()}"
            if account.closed is not None and day >= account.closed
            else f"opened only on {account.opened.isoformat()}"
        )
        raise UnknownAccountError(
            f"Account {account.name} ({reference}) is {state}; it cannot be booked on "
            f"{day.isoformat()}. Choose an active account in Pleo.",
            account=reference,
        )
    return account


def _check_currency(account: AccountInfo, currency: str) -> None:
    if account.currencies and currency not in account.currencies:
        allowed = ", ".join(account.currencies)
        raise EntryRejected(
            f"Account {account.name} only accepts {allowed}, not {currency}; "
            "map a wallet account for this currency."
        )


def _check_tax_code(config: LedgerConfig, code: str) -> None:
    tax = config.find_tax_code(code)
    if tax is None:
        raise UnknownTaxCodeError(
            f"Tax Code {code} does not exist in the ledger; check the tax code in Pleo.",
            tax_code=code,
        )
    if not tax.active:
        raise UnknownTaxCodeError(
            f"Tax Code {code} is inactive in the ledger; choose an active tax code in Pleo.",
            tax_code=code,
        )


def _dimension_meta(config: LedgerConfig, dimensions: tuple[EntryDimension, ...]) -> Meta:
    meta: list[tuple[str, str]] = []
    for wanted in dimensions:
        dimension = config.find_dimension(wanted.dimension)
        value = config.find_dimension_value(wanted.dimension, wanted.value)
        if dimension is None or value is None:
            raise UnknownDimensionError(
                f"Tag with code {wanted.value} (group {wanted.dimension}) does not exist in "
                "the ledger; check the tag in Pleo.",
                dimension=wanted,
            )
        if not (dimension.active and value.active):
            raise UnknownDimensionError(
                f"Tag with code {wanted.value} (group {wanted.dimension}) is inactive in the "
                "ledger; choose an active tag in Pleo.",
                dimension=wanted,
            )
        key = dimension_key(dimension.code)
        earlier = next((v for k, v in meta if k == key), None)
        if earlier is None:
            meta.append((key, value.code))
        elif earlier != value.code:
            raise EntryRejected(
                f"A line carries two tags of group {dimension.code} ({earlier} and "
                f"{value.code}); the ledger takes one value per dimension and line."
            )
    return tuple(meta)


def _signed(line: EntryLine, minor: int) -> Decimal:
    """``minor`` units on the line's side: positive for a debit line, negative for a credit."""
    major = minor_to_major(minor, line.currency)
    return major if line.debit else -major


def _vat_account(config: LedgerConfig, code: str, *, output: bool, fallback: str | None) -> str:
    tax = config.tax_codes[code]
    if output:
        account = tax.outgoing_tax_account
    else:
        account = config.tax_posting_accounts.get(code) or tax.ingoing_tax_account
    account = account or fallback
    if account is None:
        side = "outgoing" if output else "ingoing"
        raise AccountingSystemError(
            f"Tax Code {code} has no {side} tax account in the ledger; add one to its "
            "pleo-tax-code directive.",
            "invalid_configuration",
        )
    return account


def _implicit_vat(
    config: LedgerConfig, line: EntryLine, vat_input: str | None, vat_output: str | None
) -> Iterator[tuple[str, Decimal, Meta]]:
    """VAT the ledger splits out itself when the entry left it inside the expense line.

    Reverse charge (``vat_treatment == "reverse_charge"``): the expense stays the full line
    amount; input VAT on the line's side and output VAT on the other, both
    ``reverse_charge_tax`` (they cancel, the transaction stays balanced).
    """
    if line.role != "expense" or line.tax_code is None:
        return
    code_meta: Meta = (("pleo-tax-code", line.tax_code),)
    if line.reverse_charge and line.reverse_charge_tax > 0:
        ingoing = _vat_account(config, line.tax_code, output=False, fallback=vat_input)
        outgoing = _vat_account(config, line.tax_code, output=True, fallback=vat_output)
        yield ingoing, _signed(line, line.reverse_charge_tax), code_meta
        yield outgoing, -_signed(line, line.reverse_charge_tax), code_meta
        return
    if line.tax_amount <= 0:
        return
    if not line.tax_included:
        return  # tax on top of the line is informative only; the entry balances without it
    tax = config.tax_codes[line.tax_code]
    if tax.type == "reverse":  # entries built by hand in the older shape
        ingoing = _vat_account(config, line.tax_code, output=False, fallback=vat_input)
        outgoing = _vat_account(config, line.tax_code, output=True, fallback=vat_output)
        yield ingoing, _signed(line, line.tax_amount), code_meta
        yield outgoing, -_signed(line, line.tax_amount), code_meta
    else:
        account = _vat_account(config, line.tax_code, output=False, fallback=vat_input)
        yield account, _signed(line, line.tax_amount), code_meta


def _postings(
    entry: Entry, config: LedgerConfig, vat_input: str | None, vat_output: str | None
) -> list[PostingDraft]:
    postings: list[PostingDraft] = []
    day = entry.posting_date
    for line in entry.lines:
        account = _resolve_account(config, line.account, day)
        _check_currency(account, line.currency)
        if line.tax_code is not None:
            _check_tax_code(config, line.tax_code)
        meta: list[tuple[str, str]] = list(_dimension_meta(config, line.dimensions))
        if line.tax_code is not None:
            meta.append(("pleo-tax-code", line.tax_code))
        if line.description:
            meta.append(("pleo-description", line.description))
        if line.source_line_id is not None:
            meta.append(("pleo-line-id", str(line.source_line_id)))
        amount = _signed(line, line.debit or line.credit)
        vat = list(_implicit_vat(config, line, vat_input, vat_output))
        if (
            vat
            and not line.reverse_charge
            and config.tax_codes[line.tax_code or ""].type != "reverse"
        ):
            amount -= vat[0][1]  # inclusive: the expense is the gross minus its VAT
        if amount:
            postings.append(PostingDraft(account.name, amount, line.currency, tuple(meta)))
        for vat_account, vat_amount, vat_meta in vat:
            resolved = _resolve_account(config, vat_account, day)
            postings.append(PostingDraft(resolved.name, vat_amount, line.currency, vat_meta))
    return postings


def _party_meta(entry: SupplierInvoice | SupplierPayment | CreditNote) -> list[tuple[str, str]]:
    meta = [("pleo-vendor", entry.vendor_name)] if entry.vendor_name else []
    if entry.vendor_code:
        meta.append(("pleo-vendor-code", entry.vendor_code))
    if entry.vendor is not None:
        meta.append(("pleo-vendor-id", entry.vendor.vendor_id))
    else:
        meta.append(("pleo-fallback-ap", "true"))
    return meta


def _money_text(value: int, currency: str) -> str:
    if minor_unit_exponent(currency) is None:
        return f"{value} (minor units) {currency}"
    return f"{minor_to_major(value, currency):f} {currency}"


def _common_meta(entry: Entry) -> list[tuple[str, str]]:
    meta = [
        (ENTRY_ID_KEY, str(entry.accounting_entry_id)),
        ("pleo-kind", entry.kind),
        ("pleo-reference", entry.reference),
    ]
    if entry.item_type:
        meta.append(("pleo-item-type", entry.item_type))
    if entry.item_sub_type:
        meta.append(("pleo-item-sub-type", entry.item_sub_type))
    if entry.reconciled_entries:
        meta.append(("pleo-reconciled-entries", ", ".join(entry.reconciled_entries)))
    if entry.attendees:
        meta.append(("pleo-attendees", "; ".join(entry.attendees)))
    if entry.original_date is not None and entry.original_date != entry.posting_date:
        meta.append(("pleo-original-date", entry.original_date.isoformat()))
    if entry.employee is not None:
        code = f" ({entry.employee.code})" if entry.employee.code else ""
        meta.append(("pleo-employee", entry.employee.name + code))
    if entry.team is not None:
        code = f" ({entry.team.code})" if entry.team.code else ""
        meta.append(("pleo-team", entry.team.name + code))
    if entry.service_period is not None:
        start, end = entry.service_period
        meta.append(("pleo-service-period", f"{start.isoformat()}..{end.isoformat()}"))
    return meta


def _kind_meta_and_links(entry: Entry) -> tuple[list[tuple[str, str]], list[str]]:
    """Metadata and extra links specific to each kind of entry."""
    meta: list[tuple[str, str]] = []
    links: list[str] = []
    vendor_key = ""
    if isinstance(entry, (SupplierInvoice, SupplierPayment, CreditNote)):
        meta += _party_meta(entry)
        vendor_key = entry.vendor.vendor_id if entry.vendor is not None else entry.vendor_name
    if isinstance(entry, SupplierInvoice):
        supplier = entry.supplier_amount
        meta.append(("pleo-supplier-amount", _money_text(supplier.value, supplier.currency)))
        if entry.invoice is not None:
            invoice = entry.invoice
            meta += [
                ("pleo-invoice-number", invoice.number),
                ("pleo-invoice-date", invoice.invoice_date.isoformat()),
                ("pleo-invoice-status", invoice.status),
            ]
            if invoice.due_date is not None:
                meta.append(("pleo-invoice-due-date", invoice.due_date.isoformat()))
            if invoice.payment_date is not None:
                meta.append(("pleo-invoice-payment-date", invoice.payment_date.isoformat()))
            bank = invoice.supplier_bank_account
            if bank is not None and (bank.iban or bank.account_number):
                meta.append(("pleo-supplier-bank-account", bank.iban or bank.account_number or ""))
            links.append(invoice_link(vendor_key, invoice.number))
        if entry.settled_from is not None:
            meta.append(("pleo-settled", "true"))
    elif isinstance(entry, SupplierPayment):
        if entry.returned:
            meta.append(("pleo-returned", "true"))
        if entry.invoice_number:
            meta.append(("pleo-invoice-number", entry.invoice_number))
            links.append(invoice_link(vendor_key, entry.invoice_number))
        paid = entry.supplier_amount
        if paid is not None and paid.currency != entry.currency:
            # Kept for the realised FX difference; the postings stay in the wallet currency.
            meta.append(("pleo-supplier-amount", _money_text(paid.value, paid.currency)))
            if entry.exchange_rate is not None:
                meta.append(("pleo-exchange-rate", f"{entry.exchange_rate:f}"))
    elif isinstance(entry, CreditNote):
        supplier = entry.supplier_amount
        meta.append(("pleo-supplier-amount", _money_text(supplier.value, supplier.currency)))
        if entry.refunded_to is not None:
            meta.append(("pleo-settled", "true"))
    else:
        assert isinstance(entry, JournalEntry)
    return meta, links


def to_transaction(
    entry: Entry,
    config: LedgerConfig,
    *,
    vat_input: str | None = None,
    vat_output: str | None = None,
) -> TransactionDraft:
    """The transaction for ``entry``, validated against the ledger's configuration.

    Raises the :class:`AccountingSystemError` subclass naming Pleo's failure type for an
    unknown/inactive account, tax code or tag, or a wallet currency an account refuses.
    """
    postings = _postings(entry, config, vat_input, vat_output)
    kind_meta, extra_links = _kind_meta_and_links(entry)
    payee = entry.vendor_name if not isinstance(entry, JournalEntry) else None
    return TransactionDraft(
        day=entry.posting_date,
        flag="!" if entry.draft else "*",
        payee=payee or None,
        narration=entry.description or entry.reference,
        meta=(*_common_meta(entry), *kind_meta),
        links=tuple(
            dict.fromkeys(
                [
                    entry_link(entry.accounting_entry_id),
                    reference_link(entry.reference),
                    *(reference_link(r) for r in entry.reconciled_entries if r.strip()),
                    *extra_links,
                ]
            )
        ),
        tags=(EXPORT_TAG,),
        postings=tuple(postings),
    )
