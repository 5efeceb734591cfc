"""What a vendor's accounting system (AS) implements so that Level 1 can export into it.

The export orchestrator (:func:`pleo_erp.export_expenses`) turns each Pleo export item into
one balanced, typed *entry* and hands it to an :class:`ExportTarget`:

- :class:`JournalEntry` — a plain double-entry journal entry (``journal`` / ``none`` / legacy);
- :class:`SupplierInvoice` — an accounts-payable invoice (optionally settled at once, e.g. a
  card purchase tagged to a vendor);
- :class:`SupplierPayment` — the payment of an AP invoice (``invoice_payment``), which may
  arrive in a later export job than its invoice;
- :class:`CreditNote` — a refund / chargeback / cashback under accounts payable.

Every entry carries its lines in the *wallet currency*, in integer minor units, and balances
exactly (Σ debit = Σ credit) — the constructors refuse anything else. The AS never sees Pleo
JSON; amounts become ``Decimal`` major units only through :meth:`EntryLine.debit_major` /
:meth:`EntryLine.credit_major` (ISO 4217 exponent).

Errors: an implementation raises an :class:`AccountingSystemError` subclass; each one says
which Pleo item failure type it means (``failure_type``) and, for failures that stop the whole
job (outage, authentication …), which job failure type (``job_failure_type``). Anything else
the AS raises is reported as ``unexpected_failure`` for that item.

Exactly once: the AS must store the Pleo ``accountingEntryId`` with each entry (as its external
reference) and find it again in :meth:`ExportTarget.find_posted`; the orchestrator asks before
every post (DESIGN decision 5).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, TypeAlias, TypeVar, runtime_checkable
from uuid import UUID

from attrs import Factory, define, evolve, field

from pleo_erp.domain.failures import ItemFailureType, JobFailureType
from pleo_erp.domain.money import Money, minor_to_major

__all__ = [
    "ATTACHMENT_MAX_BYTES",
    "PLEO_ATTACHMENT_EXTENSIONS",
    "AccountingSystemAuthenticationError",
    "AccountingSystemAuthorizationError",
    "AccountingSystemError",
    "AccountingSystemNotReady",
    "AccountingSystemRateLimited",
    "AccountingSystemTimeout",
    "AccountingSystemUnavailable",
    "AccountsMapping",
    "AsyncExportTarget",
    "Attachment",
    "BankAccount",
    "BaseExportTarget",
    "BlockingExportTarget",
    "Capabilities",
    "ClosedPeriodError",
    "CreditNote",
    "Entry",
    "EntryDimension",
    "EntryLine",
    "EntryRejected",
    "ExportTarget",
    "InvoiceDetails",
    "JobContext",
    "JournalEntry",
    "LineRole",
    "PartyRef",
    "PostedEntry",
    "PostingMode",
    "ReceiptConversionError",
    "ReceiptTooLargeError",
    "ReceiptUploadError",
    "SupplierInvoice",
    "SupplierPayment",
    "SupportsAsyncJobSession",
    "SupportsJobSession",
    "UnbalancedEntryError",
    "UnknownAccountError",
    "UnknownDimensionError",
    "UnknownTaxCodeError",
    "UnknownVendorError",
    "VatTreatment",
    "VendorAccount",
    "VendorKey",
    "VendorKeyField",
    "blocking_export_target",
    "with_posting_date",
]

ATTACHMENT_MAX_BYTES = 30 * 1024 * 1024
"""Pleo's documented maximum receipt size (30 MB per file)."""

PLEO_ATTACHMENT_EXTENSIONS: frozenset[str] = frozenset(
    {"doc", "docx", "pdf", "txt", "jpg", "jpeg", "png", "xls", "xlsx"}
)
"""File types Pleo documents for receipts (erp-processing.md A8)."""

PostingMode = Literal["draft", "final"]
"""How the AS should create the entry: as a draft (default, C22) or finalised/posted."""

LineRole = Literal["expense", "tax", "counter", "payable"]
"""What a posting line stands for.

- ``expense``: one categorised Pleo line (``accountingEntryLines[i]``) with its tax code and
  dimensions;
- ``tax``: an explicit VAT posting (input VAT, or the output side of reverse charge);
- ``counter``: the money side — wallet (``contraAccount``), out-of-pocket or balancing account;
- ``payable``: the accounts-payable (vendor liability) side of an AP document.
"""


def _document_alias(alias: Any, doc: str) -> None:
    """Give a ``Literal`` alias the docstring ``help()`` shows (attribute docstrings only
    reach documentation generators)."""
    alias.__doc__ = doc


_document_alias(
    PostingMode,
    "How the AS should create the entry: 'draft' (the default, rule C22) or 'final' "
    "(finalised / posted). Read it as Entry.posting_mode; Entry.draft is the same as a "
    "bool. An AS without drafts (Capabilities.supports_drafts=False) always gets 'final'.",
)
_document_alias(
    LineRole,
    "What a posting line (EntryLine.role) stands for: 'expense' (one categorised Pleo line "
    "with its tax code and dimensions), 'tax' (an explicit VAT posting: input VAT, or the "
    "output side of reverse charge), 'counter' (the money side: wallet, out-of-pocket or "
    "balancing account) or 'payable' (the accounts-payable side of an AP document).",
)

VendorKeyField = Literal[
    "vendor.code",
    "vendor.externalId",
    "vendor.taxRegistrationNumber",
    "vendor.registrationNumber",
    "supplier.code",
    "supplier.account",
    "supplier.taxIdentifier",
]
"""Which Pleo field a vendor lookup key comes from (C3 match order)."""


# --------------------------------------------------------------------------- value types


@define(frozen=True, slots=True)
class EntryDimension:
    """One accounting dimension value on a line: Pleo tag ``groupCode`` → ``code`` (C12)."""

    dimension: str
    value: str


def _non_negative(_instance: object, attribute: Any, value: int) -> None:
    if type(value) is int and value >= 0:  # the usual case, without isinstance calls
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{attribute.name} must be int minor units, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{attribute.name} must be >= 0 (got {value})")


VatTreatment = Literal["none", "included", "excluded", "reverse_charge"]
"""How the VAT of an expense line is to be read when VAT is *not* posted on separate lines.

- ``none``: the line carries no VAT for the AS to split (no tax, or VAT already posted on
  explicit ``tax`` lines);
- ``included``: ``tax_amount`` is inside the line's amount (amount = net + VAT);
- ``excluded``: ``tax_amount`` comes on top of the line's amount (informative for the AS);
- ``reverse_charge``: the line's amount is the full expense (nothing inside it is VAT);
  ``reverse_charge_tax`` is the VAT the buyer self-assesses: input VAT debited *and* output VAT
  credited by that amount (the two legs cancel, C11 / B14). ``tax_amount`` is 0, so an adapter
  that reads only ``amount`` / ``tax_amount`` still books the right expense.
"""

_VAT_TREATMENTS: frozenset[str] = frozenset({"none", "included", "excluded", "reverse_charge"})


def _default_tax_included(line: Any) -> bool:
    # attrs Factory(takes_self): vat_treatment / reverse_charge_tax are set before this field.
    treatment = line.vat_treatment
    if treatment is None:
        return not line.reverse_charge_tax
    return treatment not in ("excluded", "reverse_charge")


@define(frozen=True, slots=True, kw_only=True)
class EntryLine:
    """One posting: an AS account debited or credited by an amount in minor units.

    Exactly one of ``debit`` / ``credit`` is non-zero. ``tax_code`` is the AS tax code for
    expense lines. When VAT is *not* posted explicitly, :attr:`vat_treatment` says how to read
    the line's VAT (see :data:`VatTreatment`): ``tax_amount`` is the VAT contained in
    (``included``, ``tax_included=True``) or to be added to (``excluded``) the line's amount;
    for reverse charge the amount is the full expense and ``reverse_charge_tax`` the VAT to
    self-assess on both sides. ``vat_treatment`` left ``None`` is derived from the other
    fields; a contradiction (reverse charge with ``tax_included=True`` or a ``tax_amount``)
    is refused at construction.
    """

    account: str
    debit: int = field(default=0, validator=_non_negative)
    credit: int = field(default=0, validator=_non_negative)
    currency: str
    role: LineRole
    tax_code: str | None = None
    tax_amount: int = 0
    vat_treatment: VatTreatment | None = None
    reverse_charge_tax: int = field(default=0, validator=_non_negative)
    tax_included: bool = field(default=Factory(_default_tax_included, takes_self=True))
    dimensions: tuple[EntryDimension, ...] = ()
    description: str | None = None
    source_line_id: UUID | None = None

    def __attrs_post_init__(self) -> None:
        if (self.debit == 0) == (self.credit == 0):
            raise ValueError(
                f"a line debits or credits a non-zero amount, not both "
                f"(account {self.account}: debit {self.debit}, credit {self.credit})"
            )
        if not self.account:
            raise ValueError("a line needs an account")
        treatment = self.vat_treatment
        if treatment is None:
            treatment = self._derived_treatment()
            object.__setattr__(self, "vat_treatment", treatment)
        self._check_treatment(treatment)

    def _derived_treatment(self) -> VatTreatment:
        if self.reverse_charge_tax:
            return "reverse_charge"
        if not self.tax_amount:
            return "none"
        return "included" if self.tax_included else "excluded"

    def _check_treatment(self, treatment: str) -> None:
        where = f"line on account {self.account}"
        if treatment not in _VAT_TREATMENTS:
            raise ValueError(f"unknown vat_treatment {treatment!r} ({where})")
        if treatment == "reverse_charge":
            if self.tax_included:
                raise ValueError(
                    f"reverse charge cannot be tax_included: the line's amount is the full "
                    f"expense and no VAT is inside it ({where})"
                )
            if self.tax_amount:
                raise ValueError(
                    f"reverse charge carries its VAT in reverse_charge_tax, not tax_amount "
                    f"({where})"
                )
        elif self.reverse_charge_tax:
            raise ValueError(f"reverse_charge_tax needs vat_treatment 'reverse_charge' ({where})")
        if treatment == "none" and self.tax_amount:
            raise ValueError(
                f"vat_treatment 'none' with a tax_amount of {self.tax_amount} ({where})"
            )
        if treatment == "included" and not self.tax_included:
            raise ValueError(f"vat_treatment 'included' needs tax_included=True ({where})")
        if treatment == "excluded" and self.tax_included:
            raise ValueError(f"vat_treatment 'excluded' needs tax_included=False ({where})")

    @property
    def reverse_charge(self) -> bool:
        """Whether the buyer self-assesses this line's VAT (:attr:`reverse_charge_tax`)."""
        return self.vat_treatment == "reverse_charge"

    @property
    def amount(self) -> int:
        """The signed amount: positive for a debit, negative for a credit (minor units)."""
        return self.debit - self.credit

    def debit_major(self) -> Decimal:
        """The debit in major units as ``Decimal`` (ISO 4217 exponent of ``currency``)."""
        return minor_to_major(self.debit, self.currency)

    def credit_major(self) -> Decimal:
        """The credit in major units as ``Decimal`` (ISO 4217 exponent of ``currency``)."""
        return minor_to_major(self.credit, self.currency)


@define(frozen=True, slots=True)
class PartyRef:
    """A person or team as Pleo names them (``user`` / ``team``): ``name`` and AS ``code``."""

    name: str
    code: str | None = None


@define(frozen=True, slots=True, kw_only=True)
class BankAccount:
    """The supplier's bank account from ``invoiceInformation.supplierBankAccount``."""

    bank_name: str
    country: str
    account_number: str | None = None
    bank_code: str | None = None
    bic: str | None = None
    iban: str | None = None


@define(frozen=True, slots=True, kw_only=True)
class InvoiceDetails:
    """Invoice datapoints (``invoiceInformation``), in the supplier's terms (C15)."""

    number: str
    invoice_date: date
    status: str
    due_date: date | None = None
    payment_date: date | None = None
    supplier_bank_account: BankAccount | None = None


@define(frozen=True, slots=True, kw_only=True)
class VendorKey:
    """One vendor lookup key: where it comes from in Pleo and its value."""

    field: VendorKeyField
    value: str


@define(frozen=True, slots=True, kw_only=True)
class VendorAccount:
    """A vendor (supplier / creditor) as the AS knows it.

    ``ap_account`` is the vendor-specific payables account (``None``: use the shared AP
    account of the :class:`AccountsMapping`). A ``blocked`` vendor cannot be booked against.
    """

    vendor_id: str
    name: str
    ap_account: str | None = None
    blocked: bool = False
    currency: str | None = None


class UnbalancedEntryError(ValueError):
    """An entry whose debits and credits differ (or that mixes currencies) was constructed."""


def _at_least_one(_instance: object, attribute: Any, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{attribute.name} must be a whole number >= 1, got {value!r}")


def _str_set(value: Iterable[str]) -> frozenset[str]:
    return frozenset(value)


def _lines_tuple(value: Sequence[EntryLine]) -> tuple[EntryLine, ...]:
    return tuple(value)


def _str_tuple(value: Sequence[str]) -> tuple[str, ...]:
    return tuple(value)


@define(frozen=True, slots=True, kw_only=True)
class _Entry:
    """Fields every entry has. Construction checks the balance."""

    kind: ClassVar[str] = "entry"

    accounting_entry_id: UUID
    """Pleo's id of the expense; the AS stores it as the external reference (exactly once)."""
    posting_date: date
    """The date to book on: the item date, or the date chosen for a closed period (C21)."""
    currency: str
    """The wallet currency of every line (C9)."""
    lines: tuple[EntryLine, ...] = field(converter=_lines_tuple)
    description: str
    reference: str
    """``additionalInformation.reconciliationId`` (the "book ID"), for the reference field (C14)."""
    posting_mode: PostingMode = "draft"
    original_date: date | None = None
    """The item's own date when ``posting_date`` was moved out of a closed period."""
    reconciled_entries: tuple[str, ...] = field(default=(), converter=_str_tuple)
    attendees: tuple[str, ...] = field(default=(), converter=_str_tuple)
    item_type: str = ""
    item_sub_type: str | None = None
    employee: PartyRef | None = None
    team: PartyRef | None = None
    note: str | None = None
    service_period: tuple[date, date] | None = None

    def __attrs_post_init__(self) -> None:
        if not self.lines:
            raise UnbalancedEntryError("an entry needs at least one line")
        debit = credit = 0
        for line in self.lines:
            if line.currency != self.currency:
                raise UnbalancedEntryError(
                    f"line in {line.currency} on an entry in {self.currency}: "
                    "every posting must be in the wallet currency"
                )
            debit += line.debit
            credit += line.credit
        if debit != credit:
            raise UnbalancedEntryError(
                f"entry {self.accounting_entry_id} does not balance: "
                f"debit {debit} != credit {credit} ({self.currency} minor units)"
            )

    @property
    def total(self) -> int:
        """Σ debit (= Σ credit), minor units."""
        return sum(line.debit for line in self.lines)

    @property
    def draft(self) -> bool:
        """Whether the entry is to be created as a draft."""
        return self.posting_mode == "draft"

    def total_major(self) -> Decimal:
        """Σ debit in major units (``Decimal``)."""
        return minor_to_major(self.total, self.currency)


@define(frozen=True, slots=True, kw_only=True)
class JournalEntry(_Entry):
    """A general-ledger journal entry (bookkeeping ``journal``, ``none`` or legacy ``null``)."""

    kind: ClassVar[str] = "journal_entry"


@define(frozen=True, slots=True, kw_only=True)
class SupplierInvoice(_Entry):
    """An accounts-payable invoice: expense (and VAT) lines debited, the payable credited.

    When ``settled_from`` is set the invoice was paid at once from that account (a card
    purchase or ``card_invoice`` under AP), and ``lines`` also carry the settlement (payable
    debited, wallet credited). ``supplier_amount`` is the invoice total in the supplier's
    currency (invoice datapoints, C9); the lines stay in the wallet currency. ``vendor`` is
    the AS vendor, or ``None`` when the item was booked on the fallback AP account.
    """

    kind: ClassVar[str] = "supplier_invoice"

    vendor: VendorAccount | None
    vendor_name: str
    vendor_code: str | None = None
    ap_account: str
    supplier_amount: Money
    invoice: InvoiceDetails | None = None
    settled_from: str | None = None


@define(frozen=True, slots=True, kw_only=True)
class SupplierPayment(_Entry):
    """The payment of an AP invoice (``invoice_payment``): payable debited, wallet credited.

    The invoice may have been exported in an earlier job, or not yet: the AS reconciles by
    ``invoice_number`` / ``reconciled_entries`` when both exist and leaves it open otherwise
    (C17). ``returned`` marks a payment that came back (lines reversed).
    """

    kind: ClassVar[str] = "supplier_payment"

    vendor: VendorAccount | None
    vendor_name: str
    vendor_code: str | None = None
    ap_account: str
    paid_from: str
    amount: Money
    invoice_number: str | None = None
    returned: bool = False
    supplier_amount: Money | None = None
    """What was paid in the supplier's (invoice) currency; ``None`` when Pleo does not say.

    With ``amount`` (the wallet currency) it lets the AS book the realised exchange
    difference against the invoice it settles: the invoice was booked at the invoice-date
    rate, the payment clears ``supplier_amount`` of it at :attr:`exchange_rate`.
    """
    exchange_rate: Decimal | None = None
    """Wallet-currency major units per supplier-currency major unit, as paid (``amount`` /
    ``supplier_amount``, 10 significant digits); ``None`` when the currencies are equal or the
    supplier amount is unknown."""


@define(frozen=True, slots=True, kw_only=True)
class CreditNote(_Entry):
    """A credit note under AP (refund / chargeback / cashback, C16): the inverse of an invoice.

    When ``refunded_to`` is set the money already came back into that account, and the lines
    carry that settlement too.
    """

    kind: ClassVar[str] = "credit_note"

    vendor: VendorAccount | None
    vendor_name: str
    vendor_code: str | None = None
    ap_account: str
    supplier_amount: Money
    refunded_to: str | None = None


Entry: TypeAlias = JournalEntry | SupplierInvoice | SupplierPayment | CreditNote
"""Any entry the export can hand to :meth:`ExportTarget.post`."""

_E = TypeVar("_E", bound=_Entry)


def with_posting_date(entry: _E, posting_date: date) -> _E:
    """A copy of ``entry`` booked on ``posting_date`` (the original date is kept)."""
    original = entry.original_date or entry.posting_date
    return evolve(entry, posting_date=posting_date, original_date=original)


@define(frozen=True, slots=True, kw_only=True)
class Attachment:
    """A downloaded, checked receipt ready to upload.

    ``key`` (``"{accountingEntryId}:{index}"``) identifies it across retries: an AS must never
    upload a key it already holds for that entry (C18). ``filename`` is generated by the SDK,
    never taken from the URL or headers. The bytes are in ``data`` (small files) or in the
    private temporary file ``path``: use :meth:`read_bytes` (or :meth:`save_to`).
    """

    key: str
    accounting_entry_id: UUID
    index: int
    filename: str
    content_type: str
    size: int
    sha256: str
    path: Path | None = None
    data: bytes | None = field(default=None, repr=False)

    def __attrs_post_init__(self) -> None:
        if (self.path is None) == (self.data is None):
            raise ValueError("an attachment has either data or a path")

    def read_bytes(self) -> bytes:
        """The file's content."""
        if self.data is not None:
            return self.data
        assert self.path is not None
        return self.path.read_bytes()

    def save_to(self, target: Path) -> None:
        """Write the content to ``target`` (the caller picks a safe location and name)."""
        target.write_bytes(self.read_bytes())


@define(frozen=True, slots=True, kw_only=True)
class PostedEntry:
    """What the AS holds for one Pleo ``accountingEntryId``.

    ``external_id`` / ``url`` are reported to Pleo (``externalId`` / ``externalUrl``);
    ``attachment_keys`` are the :attr:`Attachment.key` values already attached, so a resumed
    export only uploads what is missing.
    """

    accounting_entry_id: UUID
    external_id: str
    url: str | None = None
    posting_date: date | None = None
    draft: bool | None = None
    attachment_keys: frozenset[str] = field(default=frozenset(), converter=_str_set)


@define(frozen=True, slots=True, kw_only=True)
class JobContext:
    """The export job a readiness check is about (never the raw Pleo payload)."""

    job_id: UUID
    company_id: UUID
    vendor_based_bookkeeping: bool
    number_of_items: int
    created_at: datetime | None = None
    is_interactive: bool = True


@define(frozen=True, slots=True, kw_only=True)
class Capabilities:
    """What the AS can do; the export adapts to it.

    - ``max_attachments_per_entry``: ``None`` = unlimited, ``1`` = merge receipts into one
      file (C19), ``0`` = no attachments at all;
    - ``attachment_formats``: file extensions the AS accepts (lower case, no dot);
    - ``max_attachment_bytes``: the AS's per-file limit (Pleo's is 30 MB);
    - ``supports_accounts_payable``: AP documents (supplier invoices, payments, credit notes);
      without it a vendor-based-bookkeeping job fails its readiness check;
    - ``supports_drafts``: whether draft posting exists (if not, entries are created final);
    - ``explicit_vat``: post VAT as separate tax lines (``True``) or leave the split to the AS
      through the line's tax code (``False``);
    - ``description_max_length`` / ``reference_max_length`` / ``comment_max_length``: field
      sizes (``None`` = unlimited). Descriptions are shortened with initials; a reference or
      attendee list that does not fit fails the item instead of being cut (C13, C14);
    - ``max_concurrent_posts``: how many posts the AS takes at once (default ``1``: one at a
      time, as before). The export never runs more posts in parallel than this; declare more
      only if :meth:`ExportTarget.post` is safe to call from several threads at once.
    """

    max_attachments_per_entry: int | None = None
    attachment_formats: frozenset[str] = field(
        default=PLEO_ATTACHMENT_EXTENSIONS, converter=_str_set
    )
    max_attachment_bytes: int = ATTACHMENT_MAX_BYTES
    supports_accounts_payable: bool = True
    supports_drafts: bool = True
    explicit_vat: bool = True
    description_max_length: int | None = None
    reference_max_length: int | None = None
    comment_max_length: int | None = None
    max_concurrent_posts: int = field(default=1, validator=_at_least_one)


def _str_map(value: Mapping[str, str] | None) -> Mapping[str, str]:
    return dict(value or {})


@define(frozen=True, slots=True, kw_only=True)
class AccountsMapping:
    """The accounts the export books against besides each line's own account (erp-processing A6).

    - ``wallet``: Pleo Wallet account (bank/clearing) when the item has no ``contraAccount``;
      ``wallet_by_currency`` per wallet currency (multi-currency wallets);
    - ``out_of_pocket``: the liability to employees until reimbursed;
    - ``balancing``: the "Pleo Contra Account" — intermediate balancing account (wallet loads /
      unloads, journal invoices);
    - ``external_reimbursement``: where reimbursements paid outside Pleo come from (defaults to
      ``balancing``);
    - ``accounts_payable``: the shared / fallback AP account;
    - ``vat_input`` / ``vat_output``: tax accounts when a tax line names none (explicit VAT);
    - ``wallet_currency``: the currency of the default ``wallet`` account. A wallet in another
      currency is never booked on it (:meth:`wallet_account`); when unset it is inferred from
      ``wallet_by_currency`` (the currency mapped to the same account);
    - ``rounding``: where the export posts the minor-unit difference between the wallet-currency
      lines of a split and the wallet total (Pleo's own conversion, ``ExportConfig``
      ``fx_rounding_tolerance``).

    ``None`` means "not configured". :meth:`merged` lays an override over this mapping.
    """

    wallet: str | None = None
    wallet_by_currency: Mapping[str, str] = field(factory=dict, converter=_str_map)
    out_of_pocket: str | None = None
    balancing: str | None = None
    external_reimbursement: str | None = None
    accounts_payable: str | None = None
    vat_input: str | None = None
    vat_output: str | None = None
    wallet_currency: str | None = None
    rounding: str | None = None

    def merged(self, override: AccountsMapping | None) -> AccountsMapping:
        """This mapping with every field ``override`` sets taking precedence."""
        if override is None:
            return self
        by_currency = dict(self.wallet_by_currency)
        by_currency.update(override.wallet_by_currency)
        return AccountsMapping(
            wallet=override.wallet or self.wallet,
            wallet_by_currency=by_currency,
            out_of_pocket=override.out_of_pocket or self.out_of_pocket,
            balancing=override.balancing or self.balancing,
            external_reimbursement=override.external_reimbursement or self.external_reimbursement,
            accounts_payable=override.accounts_payable or self.accounts_payable,
            vat_input=override.vat_input or self.vat_input,
            vat_output=override.vat_output or self.vat_output,
            wallet_currency=override.wallet_currency or self.wallet_currency,
            rounding=override.rounding or self.rounding,
        )

    def wallet_for(self, currency: str) -> str | None:
        """The wallet account for ``currency``: per-currency first, then the default.

        Lenient (any currency falls back to ``wallet``); the export uses the
        currency-checked :meth:`wallet_account`.
        """
        return self.wallet_by_currency.get(currency) or self.wallet

    def default_wallet_currency(self) -> str | None:
        """The currency of ``wallet``: ``wallet_currency``, else the one mapped to the same
        account in ``wallet_by_currency`` (``None``: unknown)."""
        if self.wallet_currency:
            return self.wallet_currency
        if self.wallet:
            for currency, account in self.wallet_by_currency.items():
                if account == self.wallet:
                    return currency
        return None

    def wallet_account(self, currency: str) -> str | None:
        """The wallet account for ``currency``, only if it is kept in that currency.

        ``wallet_by_currency[currency]`` first; then ``wallet`` when its currency is
        ``currency`` — or unknown while no per-currency wallet is configured at all (a
        single-wallet setup). ``None`` otherwise: a USD wallet is never booked on the SEK
        wallet account.
        """
        account = self.wallet_by_currency.get(currency)
        if account:
            return account
        if not self.wallet:
            return None
        home = self.default_wallet_currency()
        if home is None:
            return None if self.wallet_by_currency else self.wallet
        return self.wallet if home == currency else None


# --------------------------------------------------------------------------- errors


class AccountingSystemError(Exception):
    """An AS failure, carrying the Pleo failure type it means.

    ``failure_type`` is the item failure type reported when this stops one item.
    ``job_failure_type`` is set when the failure makes the whole job impossible (outage,
    authentication, lost authorisation, exhausted rate limit): the orchestrator then stops the
    job and sends ``failed`` with that job-enum reason. ``retryable`` says whether trying the
    same call again later can help. ``message`` is shown to the bookkeeper in Pleo: make it
    actionable and free of secrets. Subclasses set the defaults; both types can be overridden
    per instance (``AccountingSystemError("…", "tax_code_unknown")``).
    """

    failure_type: ItemFailureType = "accounting_system_validation_failure"
    job_failure_type: JobFailureType | None = None
    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        failure_type: ItemFailureType | None = None,
        *,
        job_failure_type: JobFailureType | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if failure_type is not None:
            self.failure_type = failure_type
        if job_failure_type is not None:
            self.job_failure_type = job_failure_type

    @property
    def job_level(self) -> bool:
        """Whether this failure stops the whole job."""
        return self.job_failure_type is not None


class AccountingSystemUnavailable(AccountingSystemError):
    """The AS cannot be reached (network, maintenance, read-only lock). Stops the job."""

    failure_type: ItemFailureType = "accounting_system_unreachable"
    job_failure_type: JobFailureType | None = "accounting_system_unreachable"
    retryable: ClassVar[bool] = True


class AccountingSystemAuthenticationError(AccountingSystemError):
    """The AS rejected the integration's credentials. Stops the job."""

    failure_type: ItemFailureType = "accounting_system_authentication_failure"
    job_failure_type: JobFailureType | None = "accounting_system_authentication_failure"


class AccountingSystemAuthorizationError(AccountingSystemError):
    """The integration lost access / permissions in the AS. Stops the job."""

    failure_type: ItemFailureType = "authorization_failure"
    job_failure_type: JobFailureType | None = "authorization_failure"


class AccountingSystemRateLimited(AccountingSystemError):
    """The AS throttled the integration; ``retry_after`` seconds is its hint, if any.

    The orchestrator waits and retries a bounded number of times, then stops the job with
    ``accounting_system_rate_limit``.
    """

    failure_type: ItemFailureType = "accounting_system_rate_limit"
    job_failure_type: JobFailureType | None = "accounting_system_rate_limit"
    retryable: ClassVar[bool] = True

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AccountingSystemTimeout(AccountingSystemError):
    """One AS call timed out. Fails that item (after checking whether the post landed)."""

    failure_type: ItemFailureType = "accounting_system_timeout"
    retryable: ClassVar[bool] = True


class AccountingSystemNotReady(AccountingSystemError):
    """Pre-export validation failed (company not mapped, workflow unsupported …). Stops the job.

    ``job_failure_type`` says why (default ``invalid_configuration``; e.g.
    ``missing_configuration``, ``integration_unusable``).

    ``transient=True`` marks a condition that passes by itself (the book is open in the
    desktop application, a maintenance window): the job is then left for the next run instead
    of failing, and is failed with ``job_failure_type`` (default
    ``accounting_system_unreachable``) only if the condition outlasts
    ``ExportConfig.transient_give_up_after`` (see ``docs/export.md``).
    """

    failure_type: ItemFailureType = "invalid_configuration"
    job_failure_type: JobFailureType | None = "invalid_configuration"

    def __init__(
        self,
        message: str,
        *,
        job_failure_type: JobFailureType | None = None,
        transient: bool = False,
    ) -> None:
        if job_failure_type is None:
            job_failure_type = (
                "accounting_system_unreachable" if transient else "invalid_configuration"
            )
        super().__init__(message, job_failure_type=job_failure_type)
        self.transient = transient


class EntryRejected(AccountingSystemError):
    """The AS refused the entry for a business reason (its validation message is shown)."""


class ClosedPeriodError(EntryRejected):
    """The posting date falls in a closed accounting period.

    ``next_open`` is the first open date the AS knows, if any; the orchestrator moves the
    entry there or to today when configured (C21), else fails the item with this message.
    """

    def __init__(self, message: str, *, next_open: date | None = None) -> None:
        super().__init__(message)
        self.next_open = next_open


class UnknownVendorError(AccountingSystemError):
    """The vendor does not exist in the AS or is blocked (``vendor_unknown``)."""

    failure_type: ItemFailureType = "vendor_unknown"


class UnknownAccountError(AccountingSystemError):
    """A GL account on the entry does not exist in the AS (``account_unknown``)."""

    failure_type: ItemFailureType = "account_unknown"

    def __init__(self, message: str, *, account: str | None = None) -> None:
        super().__init__(message)
        self.account = account


class UnknownTaxCodeError(AccountingSystemError):
    """A tax code on the entry does not exist in the AS (``tax_code_unknown``)."""

    failure_type: ItemFailureType = "tax_code_unknown"

    def __init__(self, message: str, *, tax_code: str | None = None) -> None:
        super().__init__(message)
        self.tax_code = tax_code


class UnknownDimensionError(AccountingSystemError):
    """A dimension value (Pleo tag) on the entry does not exist in the AS (``tag_unknown``)."""

    failure_type: ItemFailureType = "tag_unknown"

    def __init__(self, message: str, *, dimension: EntryDimension | None = None) -> None:
        super().__init__(message)
        self.dimension = dimension


class ReceiptUploadError(AccountingSystemError):
    """Attaching a receipt to the created entry failed (``receipt_upload_failure``)."""

    failure_type: ItemFailureType = "receipt_upload_failure"
    retryable: ClassVar[bool] = True


class ReceiptTooLargeError(AccountingSystemError):
    """A receipt exceeds what the AS accepts (``receipt_file_size_limit_exceeded``)."""

    failure_type: ItemFailureType = "receipt_file_size_limit_exceeded"


class ReceiptConversionError(AccountingSystemError):
    """A receipt could not be converted or merged (``receipt_conversion_failure``)."""

    failure_type: ItemFailureType = "receipt_conversion_failure"


# --------------------------------------------------------------------------- protocols


@runtime_checkable
class ExportTarget(Protocol):
    """The accounting system as the Level 1 export sees it (synchronous).

    Calls arrive from one thread per company at a time (``post`` from up to
    :attr:`Capabilities.max_concurrent_posts` threads). Implementations raise
    :class:`AccountingSystemError` subclasses; see the module docstring.

    Optional: a ``job_session(job)`` method returning a context manager (see
    :class:`SupportsJobSession`); the export opens it once around each job's items.
    """

    def capabilities(self) -> Capabilities:
        """What this AS supports (attachments, AP, drafts, field sizes, VAT style)."""
        ...

    def accounts_mapping(self) -> AccountsMapping:
        """The accounts mapping configured in the AS integration (config may override it)."""
        ...

    def check_ready(self, job: JobContext) -> None:
        """Pre-export validation: reachable, authenticated, company mapped, workflow supported.

        Raise :class:`AccountingSystemNotReady` (or another job-level error) to fail the job.
        """
        ...

    def find_vendor(self, key: VendorKey) -> VendorAccount | None:
        """The AS vendor matching one key, or ``None``. Blocked vendors are returned as such."""
        ...

    def is_period_open(self, on: date) -> bool:
        """Whether entries may be booked on ``on``.

        Instead of returning ``False`` an implementation may raise :class:`ClosedPeriodError`
        saying, in this AS's words, where the lock date lives (and ``next_open``): the date
        then counts as closed and the message reaches the bookkeeper in the item's failure.
        """
        ...

    def next_open_date(self, after: date) -> date | None:
        """The first bookable date after a closed ``after`` (start of the next open period)."""
        ...

    def find_posted(self, accounting_entry_id: UUID) -> PostedEntry | None:
        """The entry already created for this Pleo ``accountingEntryId``, if any."""
        ...

    def post(self, entry: Entry, attachments: Sequence[Attachment]) -> PostedEntry:
        """Create ``entry`` (draft or final per ``entry.posting_mode``) with its receipts.

        Must store ``entry.accounting_entry_id`` so :meth:`find_posted` finds it afterwards.
        """
        ...

    def attach(self, posted: PostedEntry, attachments: Sequence[Attachment]) -> PostedEntry:
        """Attach receipts to an existing entry; keys already attached are skipped."""
        ...


class BaseExportTarget:
    """A convenient base: permissive defaults for everything but lookup and posting.

    Subclasses implement :meth:`find_posted` and :meth:`post` (and :meth:`attach` if they take
    receipts) and override the rest as their AS allows: every period open, no vendor lookup
    (AP items then fail with ``vendor_unknown`` unless a fallback AP account is allowed),
    default :class:`Capabilities`, an empty :class:`AccountsMapping`.
    """

    def capabilities(self) -> Capabilities:
        """Default capabilities."""
        return Capabilities()

    def accounts_mapping(self) -> AccountsMapping:
        """No accounts configured on the AS side."""
        return AccountsMapping()

    def check_ready(self, job: JobContext) -> None:
        """Always ready."""

    def find_vendor(self, key: VendorKey) -> VendorAccount | None:
        """No vendor lookup."""
        return None

    def is_period_open(self, on: date) -> bool:
        """Every period is open."""
        return True

    def next_open_date(self, after: date) -> date | None:
        """No period rules: ``after`` itself."""
        return after

    def find_posted(self, accounting_entry_id: UUID) -> PostedEntry | None:
        """Subclasses must look entries up by ``accountingEntryId``."""
        raise NotImplementedError

    def post(self, entry: Entry, attachments: Sequence[Attachment]) -> PostedEntry:
        """Subclasses must create entries."""
        raise NotImplementedError

    def attach(self, posted: PostedEntry, attachments: Sequence[Attachment]) -> PostedEntry:
        """Receipts are not supported unless a subclass overrides this."""
        if attachments:
            raise ReceiptUploadError("this accounting system does not accept attachments")
        return posted

    def job_session(self, job: JobContext) -> AbstractContextManager[None]:
        """Nothing to open per job (see :class:`SupportsJobSession`); override to open your
        database or book once per job."""
        return contextlib.nullcontext()


@runtime_checkable
class SupportsJobSession(Protocol):
    """An :class:`ExportTarget` that wants to know when a job's items start and end (optional).

    ``job_session(job)`` returns a context manager the export enters once before a job's
    first item and leaves after its last one, also when the job fails or an exception
    escapes mid-job. Use it to open a database connection or load a book once per job,
    keep a cache or hold a lock, and close it at the end.

    Every ``post`` must still be durable when it returns: the export reports each item to
    Pleo as exported right away, so do not defer commits to the end of the session.
    Raising an :class:`AccountingSystemError` on entry fails the job with its
    ``job_failure_type`` (default ``integration_unusable``); an error on exit is logged.
    Adapters without the method keep working (the export uses a null context).
    """

    def job_session(self, job: JobContext) -> AbstractContextManager[None]:
        """A context manager around one job's items."""
        ...


@runtime_checkable
class SupportsAsyncJobSession(Protocol):
    """The asynchronous twin of :class:`SupportsJobSession` for an :class:`AsyncExportTarget`:
    ``job_session(job)`` returns an async context manager; :class:`BlockingExportTarget`
    enters it on its loop."""

    def job_session(self, job: JobContext) -> AbstractAsyncContextManager[None]:
        """An async context manager around one job's items."""
        ...


@runtime_checkable
class AsyncExportTarget(Protocol):
    """The asynchronous twin of :class:`ExportTarget` (same methods, awaitable).

    Wrap one with :func:`blocking_export_target` to run the (synchronous) export against it.
    """

    async def capabilities(self) -> Capabilities:
        """See :meth:`ExportTarget.capabilities`."""
        ...

    async def accounts_mapping(self) -> AccountsMapping:
        """See :meth:`ExportTarget.accounts_mapping`."""
        ...

    async def check_ready(self, job: JobContext) -> None:
        """See :meth:`ExportTarget.check_ready`."""
        ...

    async def find_vendor(self, key: VendorKey) -> VendorAccount | None:
        """See :meth:`ExportTarget.find_vendor`."""
        ...

    async def is_period_open(self, on: date) -> bool:
        """See :meth:`ExportTarget.is_period_open`."""
        ...

    async def next_open_date(self, after: date) -> date | None:
        """See :meth:`ExportTarget.next_open_date`."""
        ...

    async def find_posted(self, accounting_entry_id: UUID) -> PostedEntry | None:
        """See :meth:`ExportTarget.find_posted`."""
        ...

    async def post(self, entry: Entry, attachments: Sequence[Attachment]) -> PostedEntry:
        """See :meth:`ExportTarget.post`."""
        ...

    async def attach(self, posted: PostedEntry, attachments: Sequence[Attachment]) -> PostedEntry:
        """See :meth:`ExportTarget.attach`."""
        ...


_T = TypeVar("_T")


class BlockingExportTarget:
    """An :class:`ExportTarget` running an :class:`AsyncExportTarget` on a private event loop
    in a daemon thread (see :func:`blocking_export_target`); ``close()`` stops the loop."""

    def __init__(self, target: AsyncExportTarget) -> None:
        self._target = target
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="pleo-erp-async-target", daemon=True
        )
        self._thread.start()

    def _run(self, coro: Coroutine[Any, Any, _T]) -> _T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    @contextlib.contextmanager
    def job_session(self, job: JobContext) -> Iterator[None]:
        """Enter the wrapped target's async ``job_session`` on the private loop, if it has one."""
        if not isinstance(self._target, SupportsAsyncJobSession):
            yield
            return
        session = self._target.job_session(job)
        self._run(session.__aenter__())
        try:
            yield
        except BaseException as error:
            if not self._run(session.__aexit__(type(error), error, error.__traceback__)):
                raise
        else:
            self._run(session.__aexit__(None, None, None))

    def close(self) -> None:
        """Stop the private loop (the wrapped target is not closed)."""
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()

    def capabilities(self) -> Capabilities:
        """See :meth:`ExportTarget.capabilities`."""
        return self._run(self._target.capabilities())

    def accounts_mapping(self) -> AccountsMapping:
        """See :meth:`ExportTarget.accounts_mapping`."""
        return self._run(self._target.accounts_mapping())

    def check_ready(self, job: JobContext) -> None:
        """See :meth:`ExportTarget.check_ready`."""
        self._run(self._target.check_ready(job))

    def find_vendor(self, key: VendorKey) -> VendorAccount | None:
        """See :meth:`ExportTarget.find_vendor`."""
        return self._run(self._target.find_vendor(key))

    def is_period_open(self, on: date) -> bool:
        """See :meth:`ExportTarget.is_period_open`."""
        return self._run(self._target.is_period_open(on))

    def next_open_date(self, after: date) -> date | None:
        """See :meth:`ExportTarget.next_open_date`."""
        return self._run(self._target.next_open_date(after))

    def find_posted(self, accounting_entry_id: UUID) -> PostedEntry | None:
        """See :meth:`ExportTarget.find_posted`."""
        return self._run(self._target.find_posted(accounting_entry_id))

    def post(self, entry: Entry, attachments: Sequence[Attachment]) -> PostedEntry:
        """See :meth:`ExportTarget.post`."""
        return self._run(self._target.post(entry, attachments))

    def attach(self, posted: PostedEntry, attachments: Sequence[Attachment]) -> PostedEntry:
        """See :meth:`ExportTarget.attach`."""
        return self._run(self._target.attach(posted, attachments))


def blocking_export_target(target: AsyncExportTarget) -> BlockingExportTarget:
    """Adapt an :class:`AsyncExportTarget` to the synchronous :class:`ExportTarget`.

    The coroutines run on a private event loop in a daemon thread (so this works from inside a
    running loop too); call ``.close()`` on the result when done.
    """
    return BlockingExportTarget(target)
