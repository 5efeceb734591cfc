"""Entry builders: one Pleo export item → one balanced entry for the AS (C6–C17).

Pure functions. The caller resolves what needs the AS (the vendor, the AS's accounts mapping
and capabilities) and passes it in; :func:`build_entry` returns a :class:`JournalEntry`,
:class:`SupplierInvoice`, :class:`SupplierPayment` or :class:`CreditNote`, or raises
:class:`~pleo_erp.domain.outcomes.DomainFailure` with the item failure type and an actionable
message. Entries balance by construction and the value types check it again.

**Signs (DESIGN decision 11, B11).** Pleo does not document the sign of refunds, unloads and
the like. The direction comes from the item *type* (:mod:`pleo_erp.domain.mapping`); the sign
of ``amount.inWalletCurrency`` only normalises: when the total is negative every line is
multiplied by −1, so the item reads in its natural direction. A line that is still negative
afterwards (a split with a correction) is booked on the opposite side. Either convention for
Pleo's signs therefore produces the same entry.

**Amounts (C8, C9).** Postings are in the wallet currency. The lines must add up to the
item's total (Σ ``lineAmount.inWalletCurrency`` = ``amount.inWalletCurrency``); for
``exclusive`` tax lines whose line amount turns out to exclude the tax, Σ(line + tax) is
accepted instead. A difference of at most ``ExportConfig.fx_rounding_tolerance`` minor units
per line of a foreign-currency item (Pleo converts each line on its own) is posted to
``AccountsMapping.rounding``. Anything else fails the item (``validation_failure``).

**Dates (C21).** The posting date is the calendar date of Pleo's ``date`` as Pleo states it
(its own UTC offset), never shifted to UTC: Pleo does not change dates.

**Negative invoices under AP** become credit notes: money coming back never increases
payables.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Literal, TypedDict
from uuid import UUID

from attrs import define, field

from pleo_erp.domain.bookkeeping import BookkeepingMethod, enum_value
from pleo_erp.domain.config import ExportConfig
from pleo_erp.domain.descriptions import build_description, check_fits
from pleo_erp.domain.journal import (
    AccountsMapping,
    BankAccount,
    Capabilities,
    CreditNote,
    Entry,
    EntryDimension,
    EntryLine,
    InvoiceDetails,
    JournalEntry,
    LineRole,
    PartyRef,
    PostingMode,
    SupplierInvoice,
    SupplierPayment,
    UnbalancedEntryError,
    VatTreatment,
    VendorAccount,
)
from pleo_erp.domain.mapping import (
    PostingRule,
    Side,
    account_code,
    resolve_role_account,
    rule_for,
)
from pleo_erp.domain.money import Money, minor_to_major, minor_unit_exponent
from pleo_erp.domain.outcomes import DomainFailure
from pleo_erp.domain.vat import split_vat
from pleo_erp.models import ExportItemLineV3, ExportItemV3, MoneyModel, TaxV3

__all__ = [
    "EntryContext",
    "bookable_currency",
    "build_entry",
    "check_lines",
    "item_kind",
    "item_posting_date",
    "posting_rule",
]

_SideName = Literal["debit", "credit"]

_SETTLED_AP_TYPES = frozenset({"card_invoice", "card_purchase", "fee"})
_CREDIT_NOTE_TYPES = frozenset({"refund", "chargeback", "cashback"})


@define(frozen=True, slots=True, kw_only=True)
class EntryContext:
    """What the builders need besides the item; computed once per job."""

    mapping: AccountsMapping
    config: ExportConfig
    capabilities: Capabilities
    posting_mode: PostingMode
    explicit_vat: bool
    tax_accounts: Mapping[str, tuple[str | None, str | None]] = field(factory=dict)
    """AS tax code → (ingoing, outgoing) tax account, used when a line's tax names none."""
    _rules: dict[tuple[str, str | None], PostingRule | None] = field(
        init=False, factory=dict, eq=False, repr=False
    )
    """(type, subtype) → :func:`rule_for` result: looked up once per kind and job, not twice
    per item (the config's rules are fixed for the context's life)."""

    @classmethod
    def create(
        cls,
        config: ExportConfig,
        capabilities: Capabilities,
        as_mapping: AccountsMapping,
        tax_accounts: Mapping[str, tuple[str | None, str | None]] | None = None,
    ) -> EntryContext:
        """Combine the AS's mapping/capabilities (and tax codes) with the config's overrides."""
        return cls(
            mapping=config.effective_mapping(as_mapping),
            config=config,
            capabilities=capabilities,
            posting_mode=config.effective_posting_mode(capabilities),
            explicit_vat=config.effective_explicit_vat(capabilities),
            tax_accounts=dict(tax_accounts or {}),
        )

    def vat_accounts(self, tax: TaxV3 | None) -> tuple[str | None, str | None]:
        """(input, output) VAT accounts of a line's tax: the tax's own, the AS tax code's,
        then the mapping's."""
        if tax is None:
            return self.mapping.vat_input, self.mapping.vat_output
        known = self.tax_accounts.get(tax.code or "", (None, None))
        return (
            tax.ingoing_tax_account or known[0] or self.mapping.vat_input,
            tax.outgoing_tax_account or known[1] or self.mapping.vat_output,
        )


def item_posting_date(item: ExportItemV3) -> date:
    """The item's bookkeeping date: the calendar date of ``date`` as Pleo states it (C21).

    ``2026-04-01T00:30:00+02:00`` is booked on 2026-04-01, never converted to UTC first
    (that would move it into another month, maybe a closed period or another fiscal year).
    """
    return item.date.date()


class _Line:
    """One Pleo line, normalised to the item's natural direction (never mutated once built).

    A plain slotted class, not attrs: three of these per item on the export's hot path."""

    __slots__ = ("account", "gross", "index", "source", "tax_amount", "tax_type")

    def __init__(
        self,
        *,
        index: int,
        source: ExportItemLineV3,
        account: str | None,
        gross: int,
        tax_type: str | None,
        tax_amount: int,
    ) -> None:
        self.index = index
        self.source = source
        self.account = account
        self.gross = gross
        self.tax_type = tax_type
        self.tax_amount = tax_amount


@define(frozen=True, slots=True)
class _Prepared:
    """The normalised total and lines, and the FX rounding difference (lines side)."""

    total: int
    lines: list[_Line]
    rounding: int = 0


def _not_in_wallet_currency(money: MoneyModel, currency: str, label: str) -> DomainFailure:
    return DomainFailure(
        "validation_failure",
        f"{label} is in {money.currency} but the wallet currency is {currency}; "
        "re-save the expense in Pleo.",
    )


def _prepared_lines(
    item: ExportItemV3, ctx: EntryContext, currency: str
) -> tuple[int, list[_Line]]:
    """(normalised total, normalised lines) after the C8 sum check (rounding not posted)."""
    prepared = _prepare(item, ctx, currency)
    return prepared.total, prepared.lines


class _LastPrepared(threading.local):
    """The last successful :func:`_prepare` of this thread: ``check_lines`` (validation) and
    ``build_entry`` prepare the same item one after the other; the second call reuses it.
    Keyed by identity of the (immutable) item and context, so a hit is always the same input.
    """

    key: tuple[ExportItemV3, EntryContext, str] | None = None
    value: _Prepared | None = None


_last_prepared = _LastPrepared()


def _prepare(item: ExportItemV3, ctx: EntryContext, currency: str) -> _Prepared:
    """Normalised total and lines after the C8 sum check, with the FX rounding difference."""
    last = _last_prepared.key
    if last is not None and last[0] is item and last[1] is ctx and last[2] == currency:
        assert _last_prepared.value is not None
        return _last_prepared.value
    prepared = _prepare_uncached(item, ctx, currency)
    _last_prepared.key = (item, ctx, currency)
    _last_prepared.value = prepared
    return prepared


def _prepare_uncached(item: ExportItemV3, ctx: EntryContext, currency: str) -> _Prepared:
    total = item.amount.in_wallet_currency.value
    sources = item.accounting_entry_lines
    raw: list[int] = []
    for i, line in enumerate(sources):  # every line amount is checked before any tax
        money = line.line_amount.in_wallet_currency
        if money.currency != currency:
            raise _not_in_wallet_currency(money, currency, f"Line {i + 1}")
        raw.append(money.value)
    if total != 0:
        sign = -1 if total < 0 else 1
    else:
        sign = next((-1 if v < 0 else 1 for v in raw if v != 0), 1)
    account_key = ctx.config.account_key
    lines: list[_Line] = []
    for i, line in enumerate(sources):
        tax_type: str | None = None
        tax_amount = 0
        tax = line.tax
        if tax is not None:
            tax_type = enum_value(tax.type)
            money = tax.amount.in_wallet_currency
            if money.currency != currency:
                raise _not_in_wallet_currency(money, currency, f"Tax of line {i + 1}")
            tax_amount = sign * money.value
        lines.append(
            _Line(
                index=i,
                source=line,
                account=account_code(line.account, account_key),
                gross=sign * raw[i],
                tax_type=tax_type,
                tax_amount=tax_amount,
            )
        )
    expected = sign * total
    if sum(line.gross for line in lines) != expected:
        exclusive = [line for line in lines if line.tax_type == "exclusive"]
        with_tax = sum(line.gross for line in lines) + sum(line.tax_amount for line in exclusive)
        if exclusive and with_tax == expected:
            # The exclusive lines' amounts were net of tax: the gross adds the tax.
            lines = [
                _replace_gross(line, line.gross + line.tax_amount)
                if line.tax_type == "exclusive"
                else line
                for line in lines
            ]
        else:
            difference = expected - sum(line.gross for line in lines)
            tolerance = ctx.config.fx_rounding_tolerance * len(lines) if _converted(item) else 0
            if abs(difference) > tolerance:
                raise DomainFailure(
                    "validation_failure",
                    f"The expense lines add up to {sum(v for v in raw)} but the expense total "
                    f"is {total} ({currency} minor units); re-save the split in Pleo.",
                )
            return _Prepared(expected, lines, difference)
    return _Prepared(expected, lines)


def _converted(item: ExportItemV3) -> bool:
    """Whether Pleo converted the item from another currency (so its lines may round)."""
    supplier = item.amount.in_supplier_currency.currency
    wallet = item.amount.in_wallet_currency.currency
    return supplier != wallet and minor_unit_exponent(supplier) is not None


def _replace_gross(line: _Line, gross: int) -> _Line:
    return _Line(
        index=line.index,
        source=line.source,
        account=line.account,
        gross=gross,
        tax_type=line.tax_type,
        tax_amount=line.tax_amount,
    )


def _require_account(line: _Line) -> str:
    """C5(b): a line booked on its own account needs one (``code`` or ``identifier``)."""
    if line.account is not None:
        return line.account
    label = f"line {line.index + 1}"
    name = line.source.account.name if line.source.account is not None else None
    what = (
        f"{label.capitalize()} has account {name!r} but no account code"
        if name
        else f"{label.capitalize()} has no account"
    )
    raise DomainFailure(
        "missing_configuration",
        f"{what} – choose a category with an account code for {label} of the "
        "expense in Pleo, or map the category to an account in Pleo's accounting settings.",
    )


def check_lines(item: ExportItemV3, ctx: EntryContext, *, require_accounts: bool) -> None:
    """Validate the lines without building: sums (C8), non-zero amount, accounts (C5b)."""
    currency = item.amount.in_wallet_currency.currency
    total, lines = _prepared_lines(item, ctx, currency)
    if total == 0 and all(line.gross == 0 for line in lines):
        raise _zero_amount()
    if require_accounts:
        for line in lines:
            _require_account(line)


def _zero_amount() -> DomainFailure:
    return DomainFailure(
        "validation_failure",
        "The expense amount is zero; there is nothing to book. Remove it from the export "
        "queue or correct the amount in Pleo.",
    )


def _other(side: _SideName) -> _SideName:
    return "credit" if side == "debit" else "debit"


def _posting(
    account: str,
    signed: int,
    natural: _SideName,
    currency: str,
    role: LineRole,
    *,
    tax_code: str | None = None,
    tax_amount: int = 0,
    reverse_charge_tax: int = 0,
    dimensions: tuple[EntryDimension, ...] = (),
    source_line_id: UUID | None = None,
    description: str | None = None,
) -> EntryLine | None:
    """A line for ``signed`` minor units on ``natural`` (negative → the other side)."""
    if signed == 0:
        return None
    side = natural if signed > 0 else _other(natural)
    amount = abs(signed)
    treatment: VatTreatment = "none"
    if reverse_charge_tax:
        treatment = "reverse_charge"
    elif tax_amount:
        treatment = "included"
    if (
        account
        and type(amount) is int
        and type(reverse_charge_tax) is int
        and reverse_charge_tax >= 0
        and not (reverse_charge_tax and tax_amount)
    ):
        # What the validators check holds here (one non-zero int side, an account, a VAT
        # treatment derived from consistent amounts): skip re-checking it.
        return EntryLine._trusted(
            account,
            amount if side == "debit" else 0,
            amount if side == "credit" else 0,
            currency,
            role,
            tax_code,
            tax_amount,
            treatment,
            reverse_charge_tax,
            treatment != "reverse_charge",
            dimensions,
            description,
            source_line_id,
        )
    return EntryLine(  # anything unusual: the public constructor checks (and refuses) it
        account=account,
        debit=amount if side == "debit" else 0,
        credit=amount if side == "credit" else 0,
        currency=currency,
        role=role,
        tax_code=tax_code,
        tax_amount=tax_amount,
        vat_treatment=treatment,
        reverse_charge_tax=reverse_charge_tax,
        tax_included=treatment != "reverse_charge",
        dimensions=dimensions,
        source_line_id=source_line_id,
        description=description,
    )


_DimensionsKey = tuple[tuple[tuple[str, str], ...], str | None, str | None]

#: Built dimension tuples by (tag pairs, team dimension, team code): a company has few tag
#: combinations, and the values are immutable, so entries share them. Bounded: cleared when full.
_DIMENSIONS_CACHE: dict[_DimensionsKey, tuple[EntryDimension, ...]] = {}
_DIMENSIONS_CACHE_SIZE = 4096


def _dimensions(
    line: ExportItemLineV3, item: ExportItemV3, ctx: EntryContext
) -> tuple[EntryDimension, ...]:
    tags = line.tags
    team_dimension = ctx.config.team_dimension
    team = item.team
    team_code = team.code if team_dimension and team is not None else None
    if not tags and not team_code:
        return ()
    key = (
        tuple([(tag.group_code, tag.code) for tag in tags]) if tags else (),
        team_dimension,
        team_code,
    )
    dims = _DIMENSIONS_CACHE.get(key)
    if dims is None:
        dims = _build_dimensions(line, item, ctx)
        if len(_DIMENSIONS_CACHE) >= _DIMENSIONS_CACHE_SIZE:
            _DIMENSIONS_CACHE.clear()
        _DIMENSIONS_CACHE[key] = dims
    return dims


def _build_dimensions(
    line: ExportItemLineV3, item: ExportItemV3, ctx: EntryContext
) -> tuple[EntryDimension, ...]:
    dims: list[EntryDimension] = []
    seen: set[tuple[str, str]] = set()
    for tag in line.tags or ():
        key = (tag.group_code, tag.code)
        if key not in seen:
            seen.add(key)
            dims.append(EntryDimension(tag.group_code, tag.code))
    team_dimension = ctx.config.team_dimension
    if team_dimension and item.team is not None and item.team.code:
        key = (team_dimension, item.team.code)
        if key not in seen:
            dims.append(EntryDimension(team_dimension, item.team.code))
    return tuple(dims)


def _expense_postings(
    item: ExportItemV3,
    lines: Sequence[_Line],
    ctx: EntryContext,
    currency: str,
    natural: _SideName,
    rounding: int = 0,
) -> list[EntryLine]:
    """The categorised lines (+ VAT, + FX rounding) on ``natural``; C5(b): every line needs
    an account."""
    out: list[EntryLine] = []
    explicit = ctx.explicit_vat
    for line in lines:
        account = _require_account(line)
        source = line.source
        tax = source.tax
        input_account, output_account = ctx.vat_accounts(tax)
        tax_code = tax.code if tax is not None else None
        split = split_vat(
            line.gross,
            tax_type=line.tax_type,
            tax_amount=line.tax_amount,
            rate=tax.rate if tax is not None else None,
            tax_code=tax_code,
            explicit=explicit,
            input_account=input_account,
            output_account=output_account,
            line_label=f"line {line.index + 1}",
        )
        line_id = source.accounting_entry_line_id
        expense = _posting(
            account,
            split.expense,
            natural,
            currency,
            "expense",
            tax_code=tax_code,
            tax_amount=abs(split.implicit_tax),
            reverse_charge_tax=abs(split.reverse_charge_tax),
            dimensions=_dimensions(source, item, ctx),
            source_line_id=line_id,
        )
        if expense is not None:
            out.append(expense)
        for posting in split.taxes:
            tax_line = _posting(
                posting.account,
                posting.amount,
                natural,
                currency,
                "tax",
                tax_code=tax_code,
                source_line_id=line_id,
            )
            if tax_line is not None:
                out.append(tax_line)
    if rounding:
        rounding_line = _posting(
            _rounding_account(ctx, currency, rounding),
            rounding,
            natural,
            currency,
            "expense",
            description="FX rounding (Pleo's per-line conversion)",
        )
        if rounding_line is not None:
            out.append(rounding_line)
    return out


def _rounding_account(ctx: EntryContext, currency: str, difference: int) -> str:
    if ctx.mapping.rounding:
        return ctx.mapping.rounding
    raise DomainFailure(
        "missing_configuration",
        f"The lines of this split differ from the expense total by {abs(difference)} "
        f"{currency} minor units (Pleo's currency conversion per line) and no rounding account "
        "is configured – set AccountsMapping.rounding in the integration configuration.",
    )


def _account_for(side: Side, item: ExportItemV3, ctx: EntryContext, currency: str) -> str:
    return resolve_role_account(
        side,
        mapping=ctx.mapping,
        currency=currency,
        contra_account=item.contra_account,
        prefer=ctx.config.account_key,
    )


def _journal_lines(
    item: ExportItemV3,
    rule: PostingRule,
    total: int,
    lines: Sequence[_Line],
    ctx: EntryContext,
    currency: str,
    rounding: int = 0,
) -> list[EntryLine]:
    lines_side = rule.lines_side
    if lines_side is None:
        debit_account = _account_for(rule.debit, item, ctx, currency)
        credit_account = _account_for(rule.credit, item, ctx, currency)
        postings = [
            _posting(debit_account, total, "debit", currency, "counter"),
            _posting(credit_account, total, "credit", currency, "counter"),
        ]
        return [p for p in postings if p is not None]
    counter_side = rule.credit if lines_side == "debit" else rule.debit
    counter_account = _account_for(counter_side, item, ctx, currency)
    role: LineRole = "payable" if counter_side == "accounts_payable" else "counter"
    out = _expense_postings(item, lines, ctx, currency, lines_side, rounding)
    counter = _posting(counter_account, total, _other(lines_side), currency, role)
    if counter is not None:
        out.append(counter)
    return out


def _to_date(value: date | datetime | None) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()  # the calendar date as Pleo states it (C21), never UTC-shifted
    return value


def _invoice_details(item: ExportItemV3) -> InvoiceDetails | None:
    info = item.additional_information.invoice_information
    if info is None:
        return None
    bank = info.supplier_bank_account
    invoice_date = _to_date(info.invoice_date)
    assert invoice_date is not None  # required by the spec
    return InvoiceDetails(
        number=info.invoice_number,
        invoice_date=invoice_date,
        status=enum_value(info.status),
        due_date=_to_date(info.due_date),
        payment_date=_to_date(info.payment_date),
        supplier_bank_account=None
        if bank is None
        else BankAccount(
            bank_name=bank.bank_name,
            country=enum_value(bank.country),
            account_number=bank.account_number,
            bank_code=bank.bank_code,
            bic=bank.bic,
            iban=bank.iban,
        ),
    )


def _supplier_amount(item: ExportItemV3, total: int, currency: str) -> Money:
    supplier = item.amount.in_supplier_currency
    if minor_unit_exponent(supplier.currency) is None:
        return Money(currency, total)  # UNDEFINED supplier currency: the wallet amount
    return Money(supplier.currency, abs(supplier.value))


_RATE_CONTEXT = Context(prec=10, rounding=ROUND_HALF_UP)  # 10 significant digits


def _payment_fx(
    item: ExportItemV3, total: int, currency: str
) -> tuple[Money | None, Decimal | None]:
    """(supplier-currency amount, wallet per supplier unit) of an invoice payment."""
    supplier = item.amount.in_supplier_currency
    if minor_unit_exponent(supplier.currency) is None or supplier.value == 0:
        return None, None
    paid = Money(supplier.currency, abs(supplier.value))
    if supplier.currency == currency:
        return paid, None
    rate = _RATE_CONTEXT.divide(
        minor_to_major(total, currency), minor_to_major(paid.value, paid.currency)
    )
    return paid, rate.normalize(_RATE_CONTEXT)


class _Common(TypedDict):
    accounting_entry_id: UUID
    posting_date: date
    currency: str
    description: str
    reference: str
    posting_mode: PostingMode
    reconciled_entries: tuple[str, ...]
    attendees: tuple[str, ...]
    item_type: str
    item_sub_type: str | None
    employee: PartyRef | None
    team: PartyRef | None
    note: str | None
    service_period: tuple[date, date] | None


class _Party(TypedDict):
    vendor_name: str
    vendor_code: str | None
    ap_account: str


def _common(item: ExportItemV3, ctx: EntryContext, currency: str) -> _Common:
    info = item.additional_information
    caps = ctx.capabilities
    reference = info.reconciliation_id
    reconciled = tuple(info.reconciled_entries or ())
    attendees = tuple(a for a in (info.attendees or ()) if a)
    if caps.reference_max_length is not None:  # no limit (the usual case): nothing to check
        check_fits([reference], caps.reference_max_length, "reconciliation ID")
        if reconciled:
            check_fits([", ".join(reconciled)], caps.reference_max_length, "reconciled entries")
    if attendees and caps.comment_max_length is not None:
        check_fits(["; ".join(attendees)], caps.comment_max_length, "attendee list")
    supplier_name = item.supplier.name if item.supplier is not None else None
    if not supplier_name and item.vendor is not None:
        supplier_name = item.vendor.name
    description = build_description(
        supplier_name,
        item.user.name if item.user is not None else None,
        item.note,
        max_length=ctx.config.effective_description_length(caps),
        separator=ctx.config.description_separator,
    )
    period = item.service_period
    booked = item_posting_date(item)
    return {
        "accounting_entry_id": item.accounting_entry_id,
        "posting_date": booked,
        "currency": currency,
        "description": description,
        "reference": reference,
        "posting_mode": ctx.posting_mode,
        "reconciled_entries": reconciled,
        "attendees": attendees,
        "item_type": enum_value(item.type),
        "item_sub_type": enum_value(item.sub_type) if item.sub_type is not None else None,
        "employee": PartyRef(item.user.name, item.user.code) if item.user is not None else None,
        "team": PartyRef(item.team.name, item.team.code) if item.team is not None else None,
        "note": item.note,
        "service_period": None
        if period is None
        else (_to_date(period.from_) or booked, _to_date(period.to) or booked),
    }


def _ap_account(vendor: VendorAccount | None, ctx: EntryContext) -> str:
    if vendor is not None and vendor.ap_account:
        return vendor.ap_account
    if ctx.mapping.accounts_payable:
        return ctx.mapping.accounts_payable
    raise DomainFailure(
        "missing_configuration",
        "Accounts Payable account missing – set AccountsMapping.accounts_payable in the "
        "integration configuration, or give the vendor a payables account in the AS.",
    )


def _ap_entry(
    item: ExportItemV3,
    total: int,
    lines: Sequence[_Line],
    ctx: EntryContext,
    currency: str,
    vendor: VendorAccount | None,
    common: _Common,
    rounding: int = 0,
) -> Entry:
    item_type = enum_value(item.type)
    ap_account = _ap_account(vendor, ctx)
    vendor_name = item.vendor.name if item.vendor is not None else None
    if not vendor_name:
        vendor_name = (item.supplier.name if item.supplier is not None else None) or (
            vendor.name if vendor is not None else ""
        )
    vendor_code = item.vendor.code if item.vendor is not None else None
    if vendor_code is None and item.supplier is not None:
        vendor_code = item.supplier.code
    party: _Party = {
        "vendor_name": vendor_name,
        "vendor_code": vendor_code,
        "ap_account": ap_account,
    }
    if item_type == "invoice_payment":
        wallet = _account_for("wallet", item, ctx, currency)
        returned = (
            enum_value(item.sub_type) == "invoice_payment_returned" if item.sub_type else False
        )
        natural: _SideName = "credit" if returned else "debit"
        postings = [
            _posting(ap_account, total, natural, currency, "payable"),
            _posting(wallet, total, _other(natural), currency, "counter"),
        ]
        info = item.additional_information.invoice_information
        paid, rate = _payment_fx(item, total, currency)
        return SupplierPayment(
            **common,
            lines=[p for p in postings if p is not None],
            vendor=vendor,
            paid_from=wallet,
            amount=Money(currency, total),
            invoice_number=info.invoice_number if info is not None else None,
            returned=returned,
            supplier_amount=paid,
            exchange_rate=rate,
            **party,
        )
    # A negative ``invoice`` is money owed back by the supplier: a credit note that decreases
    # payables, never a positive supplier invoice (C16). Both sign conventions the SDK
    # supports send invoices positive. Settled types (card purchases …) net to zero on the
    # payable and follow decision 11 like the journal path.
    credit_invoice = item_type == "invoice" and item.amount.in_wallet_currency.value < 0
    if item_type in _CREDIT_NOTE_TYPES or credit_invoice:
        out = _expense_postings(item, lines, ctx, currency, "credit", rounding)
        payable = _posting(ap_account, total, "debit", currency, "payable")
        refunded_to: str | None = None
        settle: list[EntryLine | None] = []
        if not credit_invoice:  # refunds came back into the wallet
            refunded_to = _account_for("wallet", item, ctx, currency)
            settle = [
                _posting(refunded_to, total, "debit", currency, "counter"),
                _posting(ap_account, total, "credit", currency, "payable"),
            ]
        return CreditNote(
            **common,
            lines=[p for p in (*out, payable, *settle) if p is not None],
            vendor=vendor,
            supplier_amount=_supplier_amount(item, total, currency),
            refunded_to=refunded_to,
            **party,
        )
    out = _expense_postings(item, lines, ctx, currency, "debit", rounding)
    payable = _posting(ap_account, total, "credit", currency, "payable")
    postings = [*out, payable]
    settled_from: str | None = None
    if item_type in _SETTLED_AP_TYPES:
        settled_from = _account_for("wallet", item, ctx, currency)
        postings += [
            _posting(ap_account, total, "debit", currency, "payable"),
            _posting(settled_from, total, "credit", currency, "counter"),
        ]
    return SupplierInvoice(
        **common,
        lines=[p for p in postings if p is not None],
        vendor=vendor,
        supplier_amount=_supplier_amount(item, total, currency),
        invoice=_invoice_details(item),
        settled_from=settled_from,
        **party,
    )


def bookable_currency(item: ExportItemV3) -> str:
    """The item's wallet currency; :class:`DomainFailure` if the item cannot be booked at all
    (a currency that is not usable ISO 4217, no accounting lines)."""
    currency = item.amount.in_wallet_currency.currency
    if minor_unit_exponent(currency) is None:
        raise DomainFailure(
            "validation_failure",
            f"Wallet currency {currency!r} is not a usable ISO 4217 currency; "
            "the expense cannot be booked.",
        )
    if not item.accounting_entry_lines:
        raise DomainFailure(
            "validation_failure", "The expense has no accounting lines; re-save it in Pleo."
        )
    return currency


def item_kind(item: ExportItemV3) -> tuple[str, str | None]:
    """The item's type and subtype as strings (unknown values kept as sent)."""
    sub_type = enum_value(item.sub_type) if item.sub_type is not None else None
    return enum_value(item.type), sub_type


# A sentinel for "not looked up yet": ``None`` (no rule) is a cached answer too.
_NOT_LOOKED_UP = PostingRule("balancing", "balancing")


def posting_rule(item_type: str, sub_type: str | None, ctx: EntryContext) -> PostingRule:
    """The configured posting rule for this type; :class:`DomainFailure` when there is none."""
    key = (item_type, sub_type)
    rule = ctx._rules.get(key, _NOT_LOOKED_UP)
    if rule is _NOT_LOOKED_UP:
        rule = ctx._rules[key] = rule_for(item_type, sub_type, ctx.config.posting_rules)
    if rule is None:
        kind = f"{item_type!r}" + (f" (subtype {sub_type!r})" if sub_type else "")
        raise DomainFailure(
            ctx.config.unknown_type_failure,
            f"Expense type {kind} is not supported by this integration yet; add a "
            "posting rule for it in the export configuration.",
        )
    return rule


def build_entry(
    item: ExportItemV3,
    method: BookkeepingMethod,
    ctx: EntryContext,
    *,
    vendor: VendorAccount | None = None,
) -> Entry:
    """Build the balanced entry for ``item`` (see the module docstring).

    ``vendor`` is the AS vendor resolved for an AP item (``None`` with the fallback AP
    account). Raises :class:`DomainFailure` for every problem of the item itself.
    """
    currency = bookable_currency(item)
    item_type, sub_type = item_kind(item)
    prepared = _prepare(item, ctx, currency)
    total, lines, rounding = prepared.total, prepared.lines, prepared.rounding
    if total == 0 and all(line.gross == 0 for line in lines):
        raise _zero_amount()
    common = _common(item, ctx, currency)
    try:
        if method is BookkeepingMethod.ACCOUNTS_PAYABLE:
            return _ap_entry(item, total, lines, ctx, currency, vendor, common, rounding)
        rule = posting_rule(item_type, sub_type, ctx)
        return JournalEntry(
            **common,
            lines=_journal_lines(item, rule, total, lines, ctx, currency, rounding),
        )
    except UnbalancedEntryError as error:  # pragma: no cover - construction guarantees balance
        raise DomainFailure("validation_failure", f"Entry does not balance: {error}") from error
