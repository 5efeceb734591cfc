"""The values the export hands to an accounting system: entries, lines, receipts, settings.

The export orchestrator (:func:`pleo_erp.export_expenses`) turns each Pleo export item into
one balanced, typed *entry* and hands it to an export target
(:class:`~pleo_erp.accounting_system.ExportTarget`):

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

Besides the entries: :class:`Attachment` (a checked receipt), :class:`PostedEntry` (what the
AS holds for one entry), :class:`JobContext`, :class:`Capabilities` (what the AS supports),
:class:`AccountsMapping` and the vendor lookup values :class:`VendorKey` /
:class:`VendorAccount`.

These are pure values of the domain layer: the protocols and errors of
:mod:`pleo_erp.accounting_system` import them from here (one way), and
:mod:`pleo_erp.accounting_system.export` re-exports every name, so both import paths work.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeAlias, TypeVar
from uuid import UUID

from attrs import Factory, define, evolve, field

from pleo_erp.domain.money import Money, minor_to_major

__all__ = [
    "ATTACHMENT_MAX_BYTES",
    "PLEO_ATTACHMENT_EXTENSIONS",
    "AccountsMapping",
    "Attachment",
    "BankAccount",
    "Capabilities",
    "CreditNote",
    "Entry",
    "EntryDimension",
    "EntryLine",
    "InvoiceDetails",
    "JobContext",
    "JournalEntry",
    "LineRole",
    "PartyRef",
    "PostedEntry",
    "PostingMode",
    "SupplierInvoice",
    "SupplierPayment",
    "UnbalancedEntryError",
    "VatTreatment",
    "VendorAccount",
    "VendorKey",
    "VendorKeyField",
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

# Building a frozen slotted instance without its generated ``__init__`` (``EntryLine._trusted``).
_new_object = object.__new__
_set_slot = object.__setattr__


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

    @classmethod
    def _trusted(
        cls,
        account: str,
        debit: int,
        credit: int,
        currency: str,
        role: LineRole,
        tax_code: str | None,
        tax_amount: int,
        vat_treatment: VatTreatment,
        reverse_charge_tax: int,
        tax_included: bool,
        dimensions: tuple[EntryDimension, ...],
        description: str | None,
        source_line_id: UUID | None,
    ) -> EntryLine:
        """A line from values the export's builder derived itself (internal, hot path).

        The caller guarantees what the validators check (one non-zero ``int`` side, an
        account, a consistent VAT treatment), so none runs again; the result is equal to
        the one the public constructor builds (pinned by tests/domain/test_domain_fastpaths).
        """
        line = _new_object(cls)
        _set_slot(line, "account", account)
        _set_slot(line, "debit", debit)
        _set_slot(line, "credit", credit)
        _set_slot(line, "currency", currency)
        _set_slot(line, "role", role)
        _set_slot(line, "tax_code", tax_code)
        _set_slot(line, "tax_amount", tax_amount)
        _set_slot(line, "vat_treatment", vat_treatment)
        _set_slot(line, "reverse_charge_tax", reverse_charge_tax)
        _set_slot(line, "tax_included", tax_included)
        _set_slot(line, "dimensions", dimensions)
        _set_slot(line, "description", description)
        _set_slot(line, "source_line_id", source_line_id)
        return line

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
"""Any entry the export can hand to ``ExportTarget.post`` (:mod:`pleo_erp.accounting_system`)."""

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
      only if ``ExportTarget.post`` is safe to call from several threads at once.
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
