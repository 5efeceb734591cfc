"""Issue 9 ("Books you can trust"): posting defects and decisions, as an accountant checks them.

Each test cites the rule of ``erp-processing.md`` (C-rules, B-notes) or the accounts-mapping
rule it enforces; every number is hand-computed.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from pleo_erp.accounting_system import (
    AccountsMapping,
    Capabilities,
    CreditNote,
    EntryLine,
    JournalEntry,
    SupplierInvoice,
    SupplierPayment,
    VendorAccount,
)
from pleo_erp.client.serialization import structure, unstructure
from pleo_erp.domain.bookkeeping import resolve_method
from pleo_erp.domain.config import ExportConfig
from pleo_erp.domain.entries import EntryContext, build_entry
from pleo_erp.domain.money import Money
from pleo_erp.domain.outcomes import DomainFailure
from pleo_erp.models import ExportItemV3
from pleo_erp.orchestration.export import export_expenses
from pleo_erp.testing.inmemory import InMemoryAccountingSystem
from pleo_erp.testing.sandbox import PleoSandbox
from tests.helpers.export import amount, invoice_info, line, make_item, sandbox_item, tax, vendor

MAPPING = AccountsMapping(
    wallet="1930",
    out_of_pocket="2890",
    balancing="1999",
    accounts_payable="2440",
    vat_input="2640",
    vat_output="2614",
    rounding="3740",
)


def build(
    item: ExportItemV3,
    config: ExportConfig | None = None,
    mapping: AccountsMapping = MAPPING,
    vendor_account: VendorAccount | None = None,
) -> Any:
    config = config or ExportConfig()
    ctx = EntryContext.create(config, Capabilities(), mapping)
    return build_entry(item, resolve_method(item, config), ctx, vendor=vendor_account)


def postings(entry: Any) -> list[tuple[str, int]]:
    return [(ln.account, ln.debit - ln.credit) for ln in entry.lines]


def failure(item: ExportItemV3, **kwargs: Any) -> DomainFailure:
    with pytest.raises(DomainFailure) as info:
        build(item, **kwargs)
    return info.value


IMPLICIT = ExportConfig(explicit_vat=False)


def _rc_item(value: int = 10000, tax_value: int = 2500, sign: int = 1, **kw: Any) -> ExportItemV3:
    rc = tax(sign * tax_value, type="reverse", code="RC25", ingoing="2645", outgoing="2615")
    return make_item(value=sign * value, lines=[line(sign * value, tax=rc)], **kw)


# ------------------------------------------------------------ defect 1: reverse charge (C11)


@pytest.mark.rule("C11", "B14")
def test_c11_b14_implicit_reverse_charge_is_full_expense_with_self_assessed_vat() -> None:
    """SEK 100.00 EU service, reverse charge 25 %: 100.00 expense, 25.00 to self-assess."""
    entry = build(_rc_item(), IMPLICIT)
    assert postings(entry) == [("6000", 10000), ("1930", -10000)]
    expense = entry.lines[0]
    assert expense.vat_treatment == "reverse_charge"
    assert expense.reverse_charge is True
    assert expense.reverse_charge_tax == 2500
    # An adapter that reads only amount / tax_amount / tax_included books 100.00 expense and no
    # VAT inside it – never 75.00 + 25.00 input VAT.
    assert expense.tax_amount == 0
    assert expense.tax_included is False
    assert expense.tax_code == "RC25"


@pytest.mark.rule("C11")
def test_c11_implicit_reverse_charge_tax_from_rate_when_pleo_sends_zero() -> None:
    entry = build(_rc_item(value=1001, tax_value=0), IMPLICIT)
    assert entry.lines[0].reverse_charge_tax == 250  # 1001 × 0.25 = 250.25 → 250


@pytest.mark.rule("C11")
def test_c11_implicit_reverse_charge_refund_flips_side_not_tax_sign() -> None:
    entry = build(_rc_item(sign=-1, type="refund"), IMPLICIT)
    assert postings(entry) == [("1930", 10000), ("6000", -10000)] or postings(entry) == [
        ("6000", -10000),
        ("1930", 10000),
    ]
    expense = next(ln for ln in entry.lines if ln.role == "expense")
    assert (expense.credit, expense.reverse_charge_tax) == (10000, 2500)


@pytest.mark.rule("C11")
def test_c11_explicit_reverse_charge_unchanged() -> None:
    entry = build(_rc_item())
    assert postings(entry) == [("6000", 10000), ("2645", 2500), ("2615", -2500), ("1930", -10000)]
    assert all(not ln.reverse_charge for ln in entry.lines)


@pytest.mark.rule("C11")
def test_c11_implicit_inclusive_vat_still_included() -> None:
    entry = build(make_item(value=12500, lines=[line(12500, tax=tax(2500))]), IMPLICIT)
    assert (entry.lines[0].vat_treatment, entry.lines[0].tax_amount) == ("included", 2500)
    assert entry.lines[0].tax_included is True


@pytest.mark.rule("C11")
@pytest.mark.parametrize(
    "kwargs",
    [
        {"vat_treatment": "reverse_charge", "reverse_charge_tax": 2500, "tax_included": True},
        {"vat_treatment": "reverse_charge", "reverse_charge_tax": 2500, "tax_amount": 2500},
        {"reverse_charge_tax": 2500, "tax_included": True},
        {"vat_treatment": "included", "reverse_charge_tax": 2500},
        {"vat_treatment": "excluded", "tax_amount": 10, "tax_included": True},
        {"vat_treatment": "bogus"},
        {"vat_treatment": "none", "tax_amount": 2500},
    ],
)
def test_c11_entry_line_refuses_a_misreadable_reverse_charge(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        EntryLine(account="6000", debit=10000, currency="SEK", role="expense", **kwargs)


@pytest.mark.rule("C11")
def test_c11_entry_line_derives_treatment_and_keeps_old_fields_working() -> None:
    def make(**kw: Any) -> EntryLine:
        return EntryLine(account="6000", debit=10000, currency="SEK", role="expense", **kw)

    assert make().vat_treatment == "none"
    assert make(tax_amount=2000).vat_treatment == "included"
    assert make(tax_amount=2000, tax_included=False).vat_treatment == "excluded"
    rc = make(reverse_charge_tax=2500)
    assert (rc.vat_treatment, rc.tax_included) == ("reverse_charge", False)
    assert make(vat_treatment="reverse_charge", reverse_charge_tax=1).tax_included is False


# ------------------------------------------------------------ defect 3: posting date (C21)


@pytest.mark.rule("C21")
@pytest.mark.parametrize(
    ("stamp", "booked"),
    [
        ("2026-04-01T00:30:00+02:00", date(2026, 4, 1)),  # UTC would say 2026-03-31
        ("2026-03-31T23:30:00-05:00", date(2026, 3, 31)),  # UTC would say 2026-04-01
        ("2026-12-31T23:59:59+00:00", date(2026, 12, 31)),
    ],
)
def test_c21_posting_date_is_pleos_calendar_date_never_utc(stamp: str, booked: date) -> None:
    entry = build(make_item(date=stamp))
    assert entry.posting_date == booked


@pytest.mark.rule("C21")
def test_c21_period_check_uses_the_same_local_date() -> None:
    """March is closed: an item of 1 April 00:30 (+02:00) is booked in April, not failed."""
    sb = PleoSandbox(seed=3)
    company = sb.add_company("Test Co")
    system = InMemoryAccountingSystem(closed_before=date(2026, 4, 1))
    sb.create_export_job(company, [sandbox_item(date="2026-04-01T00:30:00+02:00")])
    report = export_expenses(
        sb.client(), system, company_id=company, sleep=lambda _s: None, clock=sb.clock.now
    )
    (item,) = report.items
    assert (item.status, item.posting_date, item.warnings) == ("successful", date(2026, 4, 1), ())
    assert system.entries[0].entry.posting_date == date(2026, 4, 1)


@pytest.mark.rule("C21")
def test_c21_invoice_dates_are_calendar_dates_too() -> None:
    info = invoice_info() | {"invoiceDate": "2026-04-01T00:30:00+02:00"}
    entry = build(
        make_item(type="invoice", bookkeeping="accounts_payable", vendor=vendor(), invoice=info),
        vendor_account=VendorAccount(vendor_id="V100", name="ACME"),
    )
    assert entry.invoice.invoice_date == date(2026, 4, 1)


# ------------------------------------------------ defect 4: currency-compatible wallet (erp-A6)


def test_accounts_mapping_foreign_wallet_never_falls_back_to_home_wallet() -> None:
    """A USD purchase, no contraAccount, no USD wallet: fail, never the SEK wallet account."""
    mapping = AccountsMapping(wallet="1930", wallet_by_currency={"SEK": "1930"})
    item = make_item(currency="USD", lines=[line(10000, currency="USD")], contra=None)
    found = failure(item, mapping=mapping)
    assert found.failure_type == "missing_configuration"
    assert "USD" in found.message
    assert "wallet_by_currency['USD']" in found.message
    assert "1930" in found.message


def test_accounts_mapping_declared_wallet_currency_is_respected() -> None:
    mapping = AccountsMapping(wallet="1930", wallet_currency="SEK")
    usd = make_item(currency="USD", lines=[line(10000, currency="USD")], contra=None)
    assert failure(usd, mapping=mapping).failure_type == "missing_configuration"
    sek = make_item(contra=None)
    assert postings(build(sek, mapping=mapping)) == [("6000", 10000), ("1930", -10000)]


def test_accounts_mapping_per_currency_wallet_and_contra_account_still_win() -> None:
    mapping = AccountsMapping(wallet="1930", wallet_by_currency={"SEK": "1930", "USD": "1932"})
    usd = make_item(currency="USD", lines=[line(10000, currency="USD")], contra=None)
    assert postings(build(usd, mapping=mapping)) == [("6000", 10000), ("1932", -10000)]
    given = make_item(currency="USD", lines=[line(10000, currency="USD")], contra="1933")
    assert postings(build(given, mapping=mapping))[-1] == ("1933", -10000)


def test_accounts_mapping_single_wallet_of_unknown_currency_is_kept() -> None:
    """Nothing says which currency ``wallet`` is in and no per-currency wallets: it serves."""
    mapping = AccountsMapping(wallet="1930")
    assert mapping.wallet_account("USD") == "1930"
    assert (
        AccountsMapping(wallet="1930", wallet_by_currency={"EUR": "1931"}).wallet_account("USD")
        is None
    )


# ------------------------------------------------------------ decision: FX split rounding (C8)

# EUR 30.00 split in three lines of EUR 10.00 at 11.4567 SEK/EUR: Pleo converts each line on
# its own (114.567 → 114.57 SEK) and the total on its own (343.701 → 343.70 SEK).
_FX_LINES = [line(11457) for _ in range(3)]


def _fx_item(total: int = 34370, lines: list[dict[str, Any]] | None = None) -> ExportItemV3:
    return make_item(value=total, lines=lines or _FX_LINES, supplier_amount=(3000, "EUR"))


@pytest.mark.rule("C8")
def test_c8_fx_split_rounding_goes_to_the_rounding_account() -> None:
    entry = build(_fx_item())
    assert postings(entry) == [
        ("6000", 11457),
        ("6000", 11457),
        ("6000", 11457),
        ("3740", -1),
        ("1930", -34370),
    ]
    assert entry.lines[3].description == "FX rounding (Pleo's per-line conversion)"


@pytest.mark.rule("C8")
def test_c8_fx_rounding_the_other_way_and_on_a_refund() -> None:
    entry = build(_fx_item(total=34372))
    assert postings(entry)[3] == ("3740", 1)
    refund = make_item(
        type="refund",
        value=-34370,
        lines=[line(-11457) for _ in range(3)],
        supplier_amount=(-3000, "EUR"),
    )
    assert ("3740", 1) in postings(build(refund))


@pytest.mark.rule("C8")
def test_c8_fx_rounding_above_the_cap_fails_as_before() -> None:
    found = failure(_fx_item(total=34367))  # 4 minor units off with three lines
    assert found.failure_type == "validation_failure"


@pytest.mark.rule("C8")
def test_c8_fx_rounding_without_account_names_the_setting() -> None:
    mapping = AccountsMapping(wallet="1930")
    found = failure(_fx_item(), mapping=mapping)
    assert found.failure_type == "missing_configuration"
    assert "AccountsMapping.rounding" in found.message


@pytest.mark.rule("C8")
def test_c8_same_currency_split_never_rounds() -> None:
    """No conversion, no rounding: a SEK split 0.01 off is a data error (re-save in Pleo)."""
    item = make_item(value=34370, lines=_FX_LINES)  # supplier currency SEK as well
    assert failure(item).failure_type == "validation_failure"


@pytest.mark.rule("C8")
def test_c8_fx_rounding_can_be_switched_off() -> None:
    found = failure(_fx_item(), config=ExportConfig(fx_rounding_tolerance=0))
    assert found.failure_type == "validation_failure"


@pytest.mark.rule("C8")
def test_c8_fx_rounding_under_accounts_payable() -> None:
    entry = build(
        make_item(
            type="invoice",
            bookkeeping="accounts_payable",
            vendor=vendor(),
            value=34370,
            lines=_FX_LINES,
            supplier_amount=(3000, "EUR"),
            invoice=invoice_info(),
        ),
        vendor_account=VendorAccount(vendor_id="V100", name="ACME"),
    )
    assert isinstance(entry, SupplierInvoice)
    assert ("3740", -1) in postings(entry)
    assert ("2440", -34370) in postings(entry)


# -------------------------------------------------- decision: negative AP invoice (C16)


def _ap(item_type: str, value: int, **kw: Any) -> Any:
    item = make_item(
        type=item_type,
        bookkeeping="accounts_payable",
        vendor=vendor(),
        value=value,
        lines=[line(value, tax=tax(value // 5))],
        **kw,
    )
    return build(item, vendor_account=VendorAccount(vendor_id="V100", name="ACME"))


@pytest.mark.rule("C16")
def test_c16_negative_invoice_is_a_credit_note_that_decreases_payables() -> None:
    entry = _ap("invoice", -12500, invoice=invoice_info())
    assert isinstance(entry, CreditNote)
    assert postings(entry) == [("6000", -10000), ("2640", -2500), ("2440", 12500)]
    payable = sum(ln.credit - ln.debit for ln in entry.lines if ln.account == "2440")
    assert payable == -12500  # payables go down, never up
    assert entry.refunded_to is None  # the supplier owes us: nothing came back yet


@pytest.mark.rule("C16")
def test_c16_positive_invoice_still_increases_payables() -> None:
    entry = _ap("invoice", 12500, invoice=invoice_info())
    assert isinstance(entry, SupplierInvoice)
    assert sum(ln.credit - ln.debit for ln in entry.lines if ln.account == "2440") == 12500


def test_decision_11_negative_settled_card_purchase_under_ap_is_unchanged() -> None:
    """A settled type nets to zero on the payable and keeps decision 11 (as the journal)."""
    entry = _ap("card_purchase", -12500)
    assert isinstance(entry, SupplierInvoice)
    assert sum(ln.credit - ln.debit for ln in entry.lines if ln.account == "2440") == 0


# -------------------------------------------------- decision: paying a foreign invoice (C17)


def _payment(wallet: int, supplier: tuple[int, str]) -> SupplierPayment:
    item = make_item(
        type="invoice_payment",
        bookkeeping="accounts_payable",
        vendor=vendor(),
        value=wallet,
        supplier_amount=supplier,
        invoice=invoice_info("INV-9"),
    )
    entry = build(item, vendor_account=VendorAccount(vendor_id="V100", name="ACME"))
    assert isinstance(entry, SupplierPayment)
    return entry


@pytest.mark.rule("C17")
def test_c17_foreign_invoice_payment_carries_supplier_amount_and_rate() -> None:
    """EUR 100.00 paid with SEK 1,145.67: the AS can book the realised FX difference."""
    entry = _payment(114567, (10000, "EUR"))
    assert entry.amount == Money("SEK", 114567)
    assert entry.supplier_amount == Money("EUR", 10000)
    assert entry.exchange_rate == Decimal("11.4567")


@pytest.mark.rule("C17")
def test_c17_zero_decimal_supplier_currency_rate() -> None:
    entry = _payment(80000, (11000, "JPY"))  # JPY 11,000 for SEK 800.00
    assert entry.supplier_amount == Money("JPY", 11000)
    assert entry.exchange_rate == Decimal("0.07272727273")


@pytest.mark.rule("C17")
def test_c17_same_currency_payment_has_no_rate() -> None:
    entry = _payment(12500, (12500, "SEK"))
    assert (entry.supplier_amount, entry.exchange_rate) == (Money("SEK", 12500), None)


@pytest.mark.rule("C17")
def test_c17_unknown_supplier_currency_leaves_fields_empty() -> None:
    item = make_item(
        type="invoice_payment",
        bookkeeping="accounts_payable",
        vendor=vendor(),
        value=12500,
        invoice=invoice_info("INV-9"),
    )
    item_json_amount = amount(12500, "SEK", (12500, "UNDEFINED"))
    data = unstructure(item)
    data["amount"] = item_json_amount
    entry = build(
        structure(data, ExportItemV3), vendor_account=VendorAccount(vendor_id="V100", name="X")
    )
    assert (entry.supplier_amount, entry.exchange_rate) == (None, None)


# ------------------------------------- defect 5: in-memory AS settles by (vendor, invoice no.)


def _doc(item_type: str, vendor_code: str, number: str) -> Any:
    item = make_item(
        type=item_type,
        bookkeeping="accounts_payable",
        vendor=vendor(code=vendor_code, name=vendor_code),
        invoice=invoice_info(number),
    )
    return build(item, vendor_account=VendorAccount(vendor_id=vendor_code, name=vendor_code))


@pytest.mark.rule("C17")
@pytest.mark.parametrize("payment_first", [False, True])
def test_c17_payment_settles_only_its_own_vendors_invoice(payment_first: bool) -> None:
    system = InMemoryAccountingSystem()
    invoice_a = _doc("invoice", "VA", "100")
    invoice_b = _doc("invoice", "VB", "100")
    payment_b = _doc("invoice_payment", "VB", "100")
    order = (
        [payment_b, invoice_a, invoice_b] if payment_first else [invoice_a, invoice_b, payment_b]
    )
    for entry in order:
        system.post(entry, [])
    open_ids = [e.accounting_entry_id for e in system.open_invoices()]
    assert open_ids == [invoice_a.accounting_entry_id]
    stored_b = system.entry_for(invoice_b.accounting_entry_id)
    assert stored_b is not None
    assert (stored_b.paid, stored_b.settled_by) == (True, payment_b.accounting_entry_id)


def test_journal_entry_still_plain() -> None:
    """Sanity: the default card purchase is untouched by all of the above."""
    entry = build(make_item())
    assert isinstance(entry, JournalEntry)
    assert postings(entry) == [("6000", 10000), ("1930", -10000)]


@pytest.mark.rule("C8")
def test_c8_fx_rounding_is_on_by_default_with_the_in_memory_as() -> None:
    """EUR 3 × 10.00 at 11.4567 → 3 × 114.57 SEK against 343.70: exported, 0.01 rounded."""
    sb = PleoSandbox(seed=3)
    company = sb.add_company("Test Co")
    system = InMemoryAccountingSystem()
    sb.create_export_job(
        company,
        [
            sandbox_item(
                value=34370, lines=[line(11457) for _ in range(3)], supplier_amount=(3000, "EUR")
            )
        ],
    )
    report = export_expenses(
        sb.client(), system, company_id=company, sleep=lambda _s: None, clock=sb.clock.now
    )
    (item,) = report.items
    assert item.status == "successful"
    assert system.balance("3740") == -1
    assert system.balance("6000") == 34371
    assert system.is_balanced()
