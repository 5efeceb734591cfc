"""Balanced entries drawn from the chart (hypothesis), and checks of what the AS stored."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from attrs import evolve
from hypothesis import strategies as st

from pleo_erp.accounting_system.export import (
    AccountsMapping,
    Capabilities,
    Entry,
    EntryDimension,
    EntryLine,
    JournalEntry,
)
from pleo_erp.domain.money import minor_to_major
from pleo_erp.testing.conformance._types import ConformanceFailure, LedgerEntry, LedgerPosting
from pleo_erp.testing.sandbox.demo import DemoChart, DemoTaxCode

__all__ = [
    "ENTRY_CURRENCIES",
    "check_balanced",
    "check_conserved",
    "check_ledger_matches",
    "entries_by_id",
    "first_open_date",
    "journal_entries",
    "simple_entry",
]

#: Currencies the generated entries use: the wallet's, two other 2-decimal ones, and JPY
#: (no minor unit) so that an adapter dividing by 100 for every currency is caught.
ENTRY_CURRENCIES: tuple[str, ...] = ("DKK", "EUR", "SEK", "JPY")

_MAX_LINE = 10**10  # 100 million major units: well past float's exact range of cents sums


def first_open_date(chart: DemoChart) -> date:
    """The first date the chart's AS accepts postings on."""
    if chart.closed_until is None:
        return date(2026, 1, 1)
    return chart.closed_until + timedelta(days=1)


def _wallet(mapping: AccountsMapping, chart: DemoChart, currency: str) -> str:
    return (
        mapping.wallet_for(currency)
        or chart.mapping.wallet_by_currency.get(currency)
        or chart.mapping.wallet
    )


def _vat_split(gross: int, tax: DemoTaxCode | None) -> int:
    """The VAT in ``gross`` (inclusive) or self-assessed on it (reverse), half up."""
    if tax is None or tax.rate == 0:
        return 0
    if tax.type == "reverse":
        exact = Decimal(gross) * tax.rate
    else:
        exact = Decimal(gross) * tax.rate / (1 + tax.rate)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _pleo_tax_type(tax: DemoTaxCode) -> str:
    return tax.pleo_type


def _safe_text(max_size: int) -> st.SearchStrategy[str]:
    # Any printable text, quotes and backslashes included: the AS must store it safely.
    return st.text(
        st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=max_size
    ).filter(lambda s: s.strip() == s and s != "")


def _limit(text: str, limit: int | None) -> str:
    return text if limit is None else text[:limit]


@st.composite
def _expense_line_postings(
    draw: st.DrawFn,
    chart: DemoChart,
    mapping: AccountsMapping,
    explicit_vat: bool,
    currency: str,
) -> list[EntryLine]:
    accounts = [a for a in chart.accounts if a.active and a.kind == "expense"]
    account = draw(st.sampled_from(accounts))
    taxes = {t.code: t for t in chart.tax_codes if t.active}
    choices: list[str | None] = [None, *sorted(taxes)]
    default = account.tax_code_external_id
    tax_code = draw(st.sampled_from([default, *choices])) if default in taxes else None
    if tax_code is None:
        tax_code = draw(st.sampled_from(choices))
    tax = taxes.get(tax_code) if tax_code is not None else None
    gross = draw(st.integers(min_value=1, max_value=_MAX_LINE))
    vat = _vat_split(gross, tax)
    dims: list[EntryDimension] = []
    for dimension in chart.dimensions:
        values = [v for v in dimension.values if v.active]
        if dimension.active and values and draw(st.booleans()):
            value = draw(st.sampled_from(values))
            dims.append(EntryDimension(dimension.code, value.code))
    common: dict[str, Any] = {"currency": currency, "dimensions": tuple(dims)}
    if tax is None or vat == 0 or not explicit_vat:
        implicit = 0 if tax is None or tax.type == "reverse" else vat
        return [
            EntryLine(
                account=account.code,
                debit=gross,
                role="expense",
                tax_code=tax.code if tax else None,
                tax_amount=implicit,
                **common,
            )
        ]
    vat_in = tax.ingoing_tax_account or mapping.vat_input or "7800"
    if tax.type == "reverse":
        vat_out = tax.outgoing_tax_account or mapping.vat_output or vat_in
        return [
            EntryLine(
                account=account.code, debit=gross, role="expense", tax_code=tax.code, **common
            ),
            EntryLine(account=vat_in, debit=vat, role="tax", tax_code=tax.code, currency=currency),
            EntryLine(
                account=vat_out, credit=vat, role="tax", tax_code=tax.code, currency=currency
            ),
        ]
    return [
        EntryLine(
            account=account.code, debit=gross - vat, role="expense", tax_code=tax.code, **common
        ),
        EntryLine(account=vat_in, debit=vat, role="tax", tax_code=tax.code, currency=currency),
    ]


def _flip(line: EntryLine) -> EntryLine:
    return evolve(line, debit=line.credit, credit=line.debit)


@st.composite
def journal_entries(
    draw: st.DrawFn,
    chart: DemoChart,
    mapping: AccountsMapping,
    capabilities: Capabilities,
) -> JournalEntry:
    """A valid, balanced journal entry the chart's AS must accept.

    One to four categorised lines (tax codes, VAT lines per ``capabilities.explicit_vat``,
    dimensions), the wallet as counter account, amounts up to 10^10 minor units, any of
    :data:`ENTRY_CURRENCIES`, an open posting date, and free text with quotes, backslashes
    and non-ASCII letters. Sometimes reversed (a refund: wallet debited).
    """
    currency = draw(st.sampled_from(ENTRY_CURRENCIES))
    lines: list[EntryLine] = []
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        lines.extend(
            draw(_expense_line_postings(chart, mapping, capabilities.explicit_vat, currency))
        )
    total = sum(line.debit for line in lines) - sum(line.credit for line in lines)
    lines.append(
        EntryLine(
            account=_wallet(mapping, chart, currency),
            credit=total,
            currency=currency,
            role="counter",
        )
    )
    if draw(st.booleans()):
        lines = [_flip(line) for line in lines]
    start = first_open_date(chart)
    posting = start + timedelta(days=draw(st.integers(min_value=0, max_value=450)))
    description = _limit(draw(_safe_text(80)), capabilities.description_max_length)
    reference = _limit(
        f"PLEO-{draw(st.integers(min_value=1, max_value=10**8)):08d}",
        capabilities.reference_max_length,
    )
    return JournalEntry(
        # Fresh per example (not drawn): the examples accumulate in one AS.
        accounting_entry_id=uuid.uuid4(),
        posting_date=posting,
        currency=currency,
        lines=lines,
        description=description,
        reference=reference,
        posting_mode=draw(st.sampled_from(["draft", "final"]))
        if capabilities.supports_drafts
        else "final",
        item_type="card_purchase",
    )


def simple_entry(
    chart: DemoChart,
    mapping: AccountsMapping,
    *,
    account: str | None = None,
    tax_code: str | None = None,
    dimensions: Sequence[EntryDimension] = (),
    posting_date: date | None = None,
    amount: int = 12_500,
    currency: str = "DKK",
    description: str = "Conformance kit entry",
) -> JournalEntry:
    """A one-line expense against the wallet, for targeted checks (rejections, receipts)."""
    expense = account or next(a.code for a in chart.accounts if a.active and a.kind == "expense")
    return JournalEntry(
        accounting_entry_id=uuid.uuid4(),
        posting_date=posting_date or first_open_date(chart) + timedelta(days=30),
        currency=currency,
        lines=[
            EntryLine(
                account=expense,
                debit=amount,
                currency=currency,
                role="expense",
                tax_code=tax_code,
                dimensions=tuple(dimensions),
            ),
            EntryLine(
                account=_wallet(mapping, chart, currency),
                credit=amount,
                currency=currency,
                role="counter",
            ),
        ],
        description=description,
        reference="PLEO-CONFORMANCE",
        item_type="card_purchase",
    )


# --------------------------------------------------------------------------- ledger checks


def entries_by_id(ledger: Iterable[LedgerEntry]) -> dict[uuid.UUID, list[LedgerEntry]]:
    """The AS's entries grouped by Pleo ``accountingEntryId``."""
    grouped: dict[uuid.UUID, list[LedgerEntry]] = defaultdict(list)
    for entry in ledger:
        grouped[entry.accounting_entry_id].append(entry)
    return dict(grouped)


def _describe_postings(postings: Sequence[LedgerPosting]) -> str:
    return "; ".join(f"{p.account} {p.amount} {p.currency}" for p in postings)


def check_balanced(entry: LedgerEntry) -> None:
    """Σ debit = Σ credit per currency, exactly (``Decimal``), in what the AS stored."""
    if not entry.postings:
        raise ConformanceFailure(
            f"entry {entry.external_id} ({entry.accounting_entry_id}) has no postings in the AS"
        )
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for posting in entry.postings:
        if not isinstance(posting.amount, Decimal):
            raise ConformanceFailure(
                f"read_entries returned a {type(posting.amount).__name__} amount for "
                f"{entry.external_id}; amounts must be Decimal (never float)"
            )
        sums[posting.currency] += posting.amount
    unbalanced = {c: s for c, s in sums.items() if s != 0}
    if unbalanced:
        raise ConformanceFailure(
            f"entry {entry.external_id} ({entry.accounting_entry_id}) does not balance in the "
            f"AS: Σ debit − Σ credit = {unbalanced}; postings: "
            f"{_describe_postings(entry.postings)}"
        )


def _turnover_minor(lines: Iterable[tuple[str, int, str]]) -> Counter[str]:
    """Σ of the positive per-account nets, per currency (invariant under line splitting)."""
    nets: dict[tuple[str, str], int] = defaultdict(int)
    for account, amount, currency in lines:
        nets[(account, currency)] += amount
    out: Counter[str] = Counter()
    for (_, currency), net in nets.items():
        if net > 0:
            out[currency] += net
    return out


def check_conserved(sent: Entry, stored: LedgerEntry) -> None:
    """The AS stored the amounts it was given: same turnover per currency, exactly.

    Turnover = Σ of the positive per-account nets; it does not change when the AS merges
    lines on one account or splits a line's VAT to a tax account, but any lost, rounded or
    float-converted amount changes it.
    """
    expected = {
        currency: minor_to_major(value, currency)
        for currency, value in _turnover_minor(
            (line.account, line.amount, line.currency) for line in sent.lines
        ).items()
    }
    nets: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for posting in stored.postings:
        nets[(posting.account, posting.currency)] += posting.amount
    actual: dict[str, Decimal] = defaultdict(Decimal)
    for (_, currency), net in nets.items():
        if net > 0:
            actual[currency] += net
    if dict(actual) != expected:
        raise ConformanceFailure(
            f"entry {stored.external_id} ({sent.accounting_entry_id}) was stored with other "
            f"amounts than posted: expected turnover {expected}, the AS holds {dict(actual)}; "
            f"postings: {_describe_postings(stored.postings)}. Convert minor units with "
            "EntryLine.debit_major()/credit_major() (ISO 4217 exponent, Decimal, no float)."
        )


def check_ledger_matches(
    ledger: Mapping[uuid.UUID, list[LedgerEntry]],
    expected_posted: Mapping[uuid.UUID, str],
    *,
    forbidden: Iterable[uuid.UUID] = (),
) -> None:
    """Exactly one balanced AS entry per posted id (with Pleo's ``externalId``), none else."""
    for aeid, external_id in expected_posted.items():
        found = ledger.get(aeid, [])
        if len(found) != 1:
            ids = [e.external_id for e in found]
            raise ConformanceFailure(
                f"the AS holds {len(found)} entries for accountingEntryId {aeid} (ids {ids}); "
                "exactly one is required: store the accountingEntryId as the external "
                "reference and find it in find_posted before posting again"
            )
        if found[0].external_id != external_id:
            raise ConformanceFailure(
                f"Pleo shows externalId {external_id!r} for {aeid} but the AS entry is "
                f"{found[0].external_id!r}"
            )
        check_balanced(found[0])
    for aeid in forbidden:
        if ledger.get(aeid):
            raise ConformanceFailure(
                f"the AS holds an entry for {aeid}, which must not have been posted "
                f"({[e.external_id for e in ledger[aeid]]})"
            )
