"""The conformance kit sends what the exporter sends (issue 9, defects 2 and "currencies").

The kit's random entries are built by the exporter's own ``build_entry`` from Pleo items, so an
adapter the kit certifies has seen the real line shapes (reverse charge with implicit VAT, rule
C11 / B14), and each entry is in one currency with a wallet account kept in that currency
(accounts-mapping rule: currency-compatible or fail).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
from attrs import evolve
from hypothesis import HealthCheck, given, settings
from hypothesis import find as hypothesis_find

from pleo_erp.accounting_system import AccountsMapping, Capabilities, EntryDimension, JournalEntry
from pleo_erp.testing.conformance._entries import entry_currencies, journal_entries, simple_entry
from pleo_erp.testing.conformance._subject import DEMO_CHART, KIT_WALLETS

IMPLICIT = Capabilities(explicit_vat=False)
AS_MAPPING = AccountsMapping()  # the AS adds nothing: the chart's mapping applies
RC_CODES = {t.code: t for t in DEMO_CHART.tax_codes if t.type == "reverse" and t.active}


@pytest.mark.rule("C11")
def test_c11_kit_sends_implicit_reverse_charge_like_the_exporter() -> None:
    entry = hypothesis_find(
        journal_entries(DEMO_CHART, AS_MAPPING, IMPLICIT),
        lambda e: any(ln.tax_code in RC_CODES and ln.debit + ln.credit >= 2 for ln in e.lines),
        settings=settings(max_examples=2000, database=None),
    )
    for ln in entry.lines:
        if ln.tax_code not in RC_CODES or ln.debit + ln.credit < 2:
            continue
        gross = ln.debit or ln.credit
        rate = RC_CODES[ln.tax_code].rate
        expected = int((Decimal(gross) * rate).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        assert ln.vat_treatment == "reverse_charge"
        assert (ln.tax_amount, ln.tax_included, ln.reverse_charge_tax) == (0, False, expected)


@pytest.mark.rule("C11")
def test_c11_kit_explicit_reverse_charge_has_both_tax_lines() -> None:
    entry = hypothesis_find(
        journal_entries(DEMO_CHART, AS_MAPPING, Capabilities()),
        lambda e: any(ln.role == "tax" and ln.tax_code in RC_CODES for ln in e.lines),
        settings=settings(max_examples=2000, database=None),
    )
    rc_tax = [ln for ln in entry.lines if ln.role == "tax" and ln.tax_code in RC_CODES]
    assert sum(ln.debit - ln.credit for ln in rc_tax) == 0  # input and output cancel
    assert not any(ln.reverse_charge for ln in entry.lines)


def test_kit_chart_has_a_wallet_per_kit_currency_including_zero_decimal() -> None:
    assert entry_currencies(AS_MAPPING, DEMO_CHART) == ("DKK", "EUR", "SEK", "JPY")
    codes = {a.code for a in DEMO_CHART.accounts}
    assert {code for code, _ in KIT_WALLETS.values()} <= codes


@settings(max_examples=60, database=None, suppress_health_check=list(HealthCheck))
@given(entry=journal_entries(DEMO_CHART, AS_MAPPING, IMPLICIT))
def test_kit_entries_are_one_currency_on_that_currencys_wallet(entry: JournalEntry) -> None:
    assert {ln.currency for ln in entry.lines} == {entry.currency}
    (counter,) = [ln for ln in entry.lines if ln.role == "counter"]
    assert counter.account == DEMO_CHART.mapping.wallet_by_currency[entry.currency]


def test_kit_draws_no_currency_without_its_own_wallet() -> None:
    """An AS mapping that only knows a DKK wallet gets DKK entries only (never borrowed)."""
    chart = evolve(
        DEMO_CHART,
        # mypy's attrs plugin sees no fields in an init=False class (evolve works at runtime).
        mapping=evolve(DEMO_CHART.mapping, wallet_by_currency={"DKK": "5810"}),  # type: ignore[call-arg]
    )
    assert entry_currencies(AS_MAPPING, chart) == ("DKK",)


def test_kit_faulty_entries_are_built_by_the_exporter_too() -> None:
    """Rejection checks send an unknown account / tax code / tag in the exporter's shape."""
    entry = simple_entry(
        DEMO_CHART,
        AS_MAPPING,
        account="99999",
        tax_code="ZZ9",
        dimensions=[EntryDimension("DEPT", "NOPE")],
        currency="JPY",
        amount=1250,
    )
    expense, counter = entry.lines
    assert (expense.account, expense.debit, expense.tax_code) == ("99999", 1250, "ZZ9")
    assert expense.dimensions == (EntryDimension("DEPT", "NOPE"),)
    assert (counter.account, counter.credit, counter.currency) == ("5813", 1250, "JPY")
    assert (entry.description, entry.reference) == ("Conformance kit entry", "PLEO-CONFORMANCE")
