"""Balanced entries drawn from the chart (hypothesis), and checks of what the AS stored."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from hypothesis import strategies as st

from pleo_erp.accounting_system.export import (
    AccountsMapping,
    Capabilities,
    Entry,
    EntryDimension,
    JournalEntry,
    PostingMode,
)
from pleo_erp.client.serialization import structure
from pleo_erp.domain.bookkeeping import BookkeepingMethod
from pleo_erp.domain.config import ExportConfig
from pleo_erp.domain.entries import EntryContext, build_entry
from pleo_erp.domain.money import minor_to_major
from pleo_erp.domain.records import LedgerTaxCode
from pleo_erp.models import ExportItemV3
from pleo_erp.testing.conformance._types import ConformanceFailure, LedgerEntry, LedgerPosting
from pleo_erp.testing.sandbox.demo import DemoChart

__all__ = [
    "ENTRY_CURRENCIES",
    "check_balanced",
    "check_conserved",
    "check_ledger_matches",
    "entries_by_id",
    "entry_currencies",
    "first_open_date",
    "journal_entries",
    "simple_entry",
]

#: Currencies the generated entries may use: the demo wallet's, two other 2-decimal ones, and
#: JPY (no minor unit) so that an adapter dividing by 100 for every currency is caught. An entry
#: is only drawn in a currency the AS's accounts mapping has a wallet account *in that currency*
#: for (:meth:`AccountsMapping.wallet_account`), exactly as the exporter resolves it.
ENTRY_CURRENCIES: tuple[str, ...] = ("DKK", "EUR", "SEK", "JPY")

_COMPANY = "00000000-0000-4000-8000-00000000c0de"  # only shapes the item; never sent anywhere
_MAX_LINE = 10**10  # 100 million major units: well past float's exact range of cents sums


def first_open_date(chart: DemoChart) -> date:
    """The first date the chart's AS accepts postings on."""
    if chart.closed_until is None:
        return date(2026, 1, 1)
    return chart.closed_until + timedelta(days=1)


def entry_currencies(mapping: AccountsMapping, chart: DemoChart) -> tuple[str, ...]:
    """The :data:`ENTRY_CURRENCIES` the AS keeps a wallet account in (never borrowed)."""
    merged = _effective_mapping(mapping, chart)
    return tuple(c for c in ENTRY_CURRENCIES if merged.wallet_account(c))


def _effective_mapping(mapping: AccountsMapping, chart: DemoChart) -> AccountsMapping:
    """The AS's mapping, with the chart's accounts where the AS names none."""
    return chart.mapping.to_accounts_mapping().merged(mapping)


def _vat_split(gross: int, tax: LedgerTaxCode | None) -> int:
    """The VAT in ``gross`` (inclusive) or self-assessed on it (reverse), half up."""
    if tax is None or tax.rate == 0:
        return 0
    if tax.type == "reverse":
        exact = Decimal(gross) * tax.rate
    else:
        exact = Decimal(gross) * tax.rate / (1 + tax.rate)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _safe_text(max_size: int) -> st.SearchStrategy[str]:
    # Any printable text, quotes and backslashes included: the AS must store it safely.
    return st.text(
        st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=max_size
    ).filter(lambda s: s.strip() == s and s != "")


def _limit(text: str, limit: int | None) -> str:
    return text if limit is None else text[:limit]


def _money(value: int, currency: str) -> dict[str, Any]:
    return {"currency": currency, "value": value}


def _amount(value: int, currency: str) -> dict[str, Any]:
    return {
        "inWalletCurrency": _money(value, currency),
        "inSupplierCurrency": _money(value, currency),
    }


@st.composite
def _pleo_line(draw: st.DrawFn, chart: DemoChart, currency: str) -> dict[str, Any]:
    """One ``accountingEntryLines[]`` object as Pleo sends it (in the wallet currency)."""
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
    tags: list[dict[str, Any]] = []
    for dimension in chart.dimensions:
        values = [v for v in dimension.values if v.active]
        if dimension.active and values and draw(st.booleans()):
            value = draw(st.sampled_from(values))
            tags.append({"id": str(uuid.uuid4()), "groupCode": dimension.code, "code": value.code})
    line: dict[str, Any] = {
        "accountingEntryLineId": str(uuid.uuid4()),
        "lineAmount": _amount(gross, currency),
        "netAmount": _amount(gross, currency),
        "account": {"id": str(uuid.uuid4()), "name": account.name, "code": account.code},
        "tags": tags,
        "tax": None,
    }
    if tax is not None:
        line["tax"] = {
            "amount": _amount(_vat_split(gross, tax), currency),
            "id": str(uuid.uuid4()),
            "rate": str(tax.rate),
            "type": tax.type,
            "code": tax.code,
            "ingoingTaxAccount": tax.ingoing_tax_account,
            "outgoingTaxAccount": tax.outgoing_tax_account,
        }
    return line


def _exporter_context(
    chart: DemoChart,
    mapping: AccountsMapping,
    capabilities: Capabilities,
    posting_mode: PostingMode,
) -> EntryContext:
    """The context the exporter would build for this AS (same config defaults)."""
    return EntryContext.create(
        ExportConfig(posting_mode=posting_mode, accounts=mapping),
        capabilities,
        _effective_mapping(AccountsMapping(), chart),
        {t.code: (t.ingoing_tax_account, t.outgoing_tax_account) for t in chart.tax_codes},
    )


def _item(
    *,
    item_type: str,
    currency: str,
    lines: list[dict[str, Any]],
    total: int,
    posting_date: date,
    reference: str,
    note: str,
    contra: str,
) -> ExportItemV3:
    data: dict[str, Any] = {
        "_links": {"web": {"exportItem": "https://app.pleo.io/export"}},
        "accountingEntryId": str(uuid.uuid4()),
        "accountingEntryLines": lines,
        "additionalInformation": {"reconciliationId": reference},
        "amount": _amount(total, currency),
        "companyId": _COMPANY,
        "date": f"{posting_date.isoformat()}T12:00:00+00:00",
        "type": item_type,
        "bookkeeping": {"method": "journal"},
        "contraAccount": {"id": str(uuid.uuid4()), "name": f"Pleo {currency}", "code": contra},
        "note": note,
    }
    return structure(data, ExportItemV3)


def _build(item: ExportItemV3, ctx: EntryContext) -> JournalEntry:
    entry = build_entry(item, BookkeepingMethod.JOURNAL, ctx)
    assert isinstance(entry, JournalEntry)
    return entry


@st.composite
def journal_entries(
    draw: st.DrawFn,
    chart: DemoChart,
    mapping: AccountsMapping,
    capabilities: Capabilities,
) -> JournalEntry:
    """A valid, balanced journal entry the chart's AS must accept, built by the exporter.

    A Pleo card purchase (or, reversed, a refund) with one to four categorised lines (tax
    codes, dimensions), amounts up to 10^10 minor units, an open posting date and free text
    with quotes, backslashes and non-ASCII letters, turned into an entry by the exporter's own
    :func:`~pleo_erp.domain.entries.build_entry` with the AS's capabilities (VAT explicit or
    by tax code, reverse charge included). The entry is in one currency — one the AS keeps a
    wallet account in (:func:`entry_currencies`) — like every entry the exporter sends.
    """
    currency = draw(st.sampled_from(entry_currencies(mapping, chart)))
    lines = [
        draw(_pleo_line(chart, currency))
        for _ in range(draw(st.integers(min_value=1, max_value=4)))
    ]
    total = sum(line["lineAmount"]["inWalletCurrency"]["value"] for line in lines)
    start = first_open_date(chart)
    posting = start + timedelta(days=draw(st.integers(min_value=0, max_value=450)))
    note = draw(_safe_text(80))
    reference = _limit(
        f"PLEO-{draw(st.integers(min_value=1, max_value=10**8)):08d}",
        capabilities.reference_max_length,
    )
    mode: PostingMode = (
        draw(st.sampled_from(["draft", "final"])) if capabilities.supports_drafts else "final"
    )
    ctx = _exporter_context(chart, mapping, capabilities, mode)
    wallet = _effective_mapping(mapping, chart).wallet_account(currency)
    assert wallet is not None  # entry_currencies only offers currencies with a wallet
    return _build(
        _item(
            item_type="refund" if draw(st.booleans()) else "card_purchase",
            currency=currency,
            lines=lines,
            total=total,
            posting_date=posting,
            reference=reference,
            note=note,
            contra=wallet,
        ),
        ctx,
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
    """A one-line card purchase against the wallet, for targeted checks (rejections, receipts).

    Built by the exporter's :func:`~pleo_erp.domain.entries.build_entry` from a Pleo item, so
    deliberately faulty references (an unknown account, tax code or tag) reach the AS exactly
    as an export would send them. A tax code not in the chart is sent as a 0 % code.
    """
    expense = account or next(a.code for a in chart.accounts if a.active and a.kind == "expense")
    merged = _effective_mapping(mapping, chart)
    wallet = merged.wallet_account(currency)
    if wallet is None:
        raise ValueError(f"the accounts mapping has no {currency} wallet account")
    known = {t.code: t for t in chart.tax_codes}
    line: dict[str, Any] = {
        "accountingEntryLineId": str(uuid.uuid4()),
        "lineAmount": _amount(amount, currency),
        "netAmount": _amount(amount, currency),
        "account": {"id": str(uuid.uuid4()), "name": f"Account {expense}", "code": expense},
        "tags": [
            {"id": str(uuid.uuid4()), "groupCode": d.dimension, "code": d.value} for d in dimensions
        ],
        "tax": None,
    }
    if tax_code is not None:
        # No VAT amount: the line carries the code alone (a rejection test, not a VAT test).
        tax = known.get(tax_code)
        line["tax"] = {
            "amount": _amount(0, currency),
            "id": str(uuid.uuid4()),
            "rate": "0",
            "type": tax.type if tax is not None and tax.type != "reverse" else "inclusive",
            "code": tax_code,
        }
    item = _item(
        item_type="card_purchase",
        currency=currency,
        lines=[line],
        total=amount,
        posting_date=posting_date or first_open_date(chart) + timedelta(days=30),
        reference="PLEO-CONFORMANCE",
        note=description,
        contra=wallet,
    )
    ctx = _exporter_context(chart, mapping, Capabilities(), "draft")
    return _build(item, ctx)


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
    float-converted amount changes it. Reverse-charge lines (``reverse_charge_tax``) may be
    stored with their two self-assessed VAT legs (input and output VAT, which cancel) or
    without them (an AS that derives them from the tax code in its VAT report): both are right.
    """
    turnover = _turnover_minor((line.account, line.amount, line.currency) for line in sent.lines)
    expected = {c: minor_to_major(v, c) for c, v in turnover.items()}
    self_assessed: Counter[str] = Counter()
    for line in sent.lines:
        if line.reverse_charge:
            self_assessed[line.currency] += line.reverse_charge_tax
    with_legs = {c: minor_to_major(v + self_assessed[c], c) for c, v in turnover.items()}
    nets: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for posting in stored.postings:
        nets[(posting.account, posting.currency)] += posting.amount
    actual: dict[str, Decimal] = defaultdict(Decimal)
    for (_, currency), net in nets.items():
        if net > 0:
            actual[currency] += net
    if dict(actual) not in (expected, with_legs):
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
