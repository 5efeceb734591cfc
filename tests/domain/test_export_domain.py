"""Level 1 domain rules, one test (or a few) per rule of erp-processing.md Section C.

Pure functions only: no client, no sandbox. Orchestration-level rules (C4, C5's "never reaches
the AS", C17, C24, C26, C27) are in ``test_export_orchestrator.py``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

import pytest

from pleo_erp.accounting_system import (
    AccountsMapping,
    Capabilities,
    CreditNote,
    EntryLine,
    JournalEntry,
    PostedEntry,
    SupplierInvoice,
    SupplierPayment,
    UnbalancedEntryError,
    VendorAccount,
)
from pleo_erp.client.serialization import structure
from pleo_erp.domain.bookkeeping import BookkeepingMethod, resolve_method, vendor_match_keys
from pleo_erp.domain.config import ExportConfig
from pleo_erp.domain.descriptions import build_description, initials
from pleo_erp.domain.entries import EntryContext, build_entry
from pleo_erp.domain.mapping import DEFAULT_POSTING_RULES, FixedAccount, PostingRule, rule_for
from pleo_erp.domain.money import Money, minor_to_major, minor_unit_exponent
from pleo_erp.domain.outcomes import (
    DomainFailure,
    ItemFailure,
    ItemOutcome,
    JobFailure,
    job_outcome,
)
from pleo_erp.domain.periods import resolve_posting_date
from pleo_erp.domain.receipts import plan_receipts
from pleo_erp.domain.validation import validate_item
from pleo_erp.domain.vat import split_vat
from pleo_erp.models import ExportItemV3
from tests.helpers.export import invoice_info, item_json, line, make_item, tax, vendor

MAPPING = AccountsMapping(
    wallet="1930",
    out_of_pocket="2890",
    balancing="1999",
    accounts_payable="2440",
    vat_input="2640",
    vat_output="2614",
)
CFG = ExportConfig()


def ctx(
    config: ExportConfig = CFG,
    capabilities: Capabilities | None = None,
    mapping: AccountsMapping = MAPPING,
) -> EntryContext:
    return EntryContext.create(config, capabilities or Capabilities(), mapping)


def build(item: ExportItemV3, config: ExportConfig = CFG, **kwargs: object):  # type: ignore[no-untyped-def]
    c = kwargs.pop("context", None) or ctx(config)
    return build_entry(item, resolve_method(item, config), c, **kwargs)  # type: ignore[arg-type]


def postings(
    entry: JournalEntry | SupplierInvoice | SupplierPayment | CreditNote,
) -> list[tuple[str, int]]:
    """(account, signed amount) pairs: + debit, − credit."""
    return [(ln.account, ln.debit - ln.credit) for ln in entry.lines]


def failure_of(fn, *args, **kwargs) -> DomainFailure:  # type: ignore[no-untyped-def]
    with pytest.raises(DomainFailure) as info:
        fn(*args, **kwargs)
    return info.value


# ----------------------------------------------------------------------------- C1


@pytest.mark.rule("C1")
@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("accounts_payable", BookkeepingMethod.ACCOUNTS_PAYABLE),
        ("journal", BookkeepingMethod.JOURNAL),
        ("none", BookkeepingMethod.JOURNAL),
    ],
)
def test_c1_method_from_bookkeeping(method: str, expected: BookkeepingMethod) -> None:
    item = make_item(bookkeeping=method, vendor=vendor())
    assert resolve_method(item, CFG) is expected


@pytest.mark.rule("C1")
@pytest.mark.parametrize("item_type", ["wallet_topup", "wallet_unload"])
def test_c1_wallet_loads_are_always_journal(item_type: str) -> None:
    item = make_item(type=item_type, bookkeeping="accounts_payable", vendor=vendor())
    assert resolve_method(item, CFG) is BookkeepingMethod.JOURNAL


@pytest.mark.rule("C1")
def test_c1_null_bookkeeping_follows_policy() -> None:
    item = make_item(bookkeeping=None)
    assert resolve_method(item, CFG) is BookkeepingMethod.JOURNAL
    ap = ExportConfig(null_bookkeeping="accounts_payable")
    assert resolve_method(item, ap) is BookkeepingMethod.ACCOUNTS_PAYABLE


@pytest.mark.rule("C1")
def test_c1_unknown_method_is_a_typed_failure() -> None:
    item = make_item(bookkeeping="factoring")
    failure = failure_of(resolve_method, item, CFG)
    assert failure.failure_type == "validation_failure"
    assert "factoring" in failure.message


# ----------------------------------------------------------------------------- C2, C3


@pytest.mark.rule("C2")
def test_c2_vendor_present_ignores_supplier() -> None:
    item = make_item(
        vendor=vendor(code="V1", externalId="EXT1"),
        supplier={"name": "S", "code": "SUP", "account": "ACC", "taxIdentifier": "TAX"},
    )
    keys = vendor_match_keys(item, CFG)
    assert [k.field for k in keys] == ["vendor.code", "vendor.externalId"]
    assert all(not k.field.startswith("supplier") for k in keys)


@pytest.mark.rule("C3")
def test_c3_vendor_match_order_and_empty_keys_skipped() -> None:
    item = make_item(
        vendor=vendor(code=" ", externalId="E", taxRegistrationNumber="T", registrationNumber="R")
    )
    assert [(k.field, k.value) for k in vendor_match_keys(item, CFG)] == [
        ("vendor.externalId", "E"),
        ("vendor.taxRegistrationNumber", "T"),
        ("vendor.registrationNumber", "R"),
    ]


@pytest.mark.rule("C3")
def test_c3_legacy_supplier_order() -> None:
    item = make_item(supplier={"name": "S", "code": None, "account": "ACC", "taxIdentifier": "TAX"})
    assert [(k.field, k.value) for k in vendor_match_keys(item, CFG)] == [
        ("supplier.account", "ACC"),
        ("supplier.taxIdentifier", "TAX"),
    ]


# ----------------------------------------------------------------------------- C5


@pytest.mark.rule("C5")
def test_c5_line_without_account_is_missing_configuration() -> None:
    item = make_item(lines=[line(10000, no_account=True)])
    failure = failure_of(validate_item, item, BookkeepingMethod.JOURNAL, ctx())
    assert failure.failure_type == "missing_configuration"
    assert failure.message.startswith("Line 1 has no account – choose a category")


@pytest.mark.rule("C5")
def test_c5_account_with_neither_code_nor_identifier_is_missing() -> None:
    item = make_item(lines=[line(10000, account=None, identifier=None)])
    failure = failure_of(validate_item, item, BookkeepingMethod.JOURNAL, ctx())
    assert failure.failure_type == "missing_configuration"
    assert "Account None" in failure.message


@pytest.mark.rule("C5")
def test_c5_required_configured_account_absent() -> None:
    item = make_item(type="out_of_pocket", contra=None)
    failure = failure_of(
        validate_item, item, BookkeepingMethod.JOURNAL, ctx(mapping=AccountsMapping(wallet="1930"))
    )
    assert failure.failure_type == "missing_configuration"
    assert "Out-of-Pocket" in failure.message


@pytest.mark.rule("C5")
def test_c5_wallet_needed_without_contra_account_or_mapping() -> None:
    item = make_item(contra=None)
    failure = failure_of(
        validate_item, item, BookkeepingMethod.JOURNAL, ctx(mapping=AccountsMapping())
    )
    assert failure.failure_type == "missing_configuration"
    assert "SEK" in failure.message


@pytest.mark.rule("C5")
def test_c5_types_without_line_side_need_no_line_account() -> None:
    item = make_item(type="wallet_topup", value=50000, lines=[line(50000, no_account=True)])
    validate_item(item, BookkeepingMethod.JOURNAL, ctx())
    entry = build(item)
    assert postings(entry) == [("1930", 50000), ("1999", -50000)]


# ----------------------------------------------------------------------------- C6


@pytest.mark.rule("C6")
def test_c6_debit_is_line_account_code_else_identifier() -> None:
    item = make_item(
        value=300,
        lines=[line(100, account="6010"), line(200, account=None, identifier="ERP-6020")],
    )
    entry = build(item)
    assert postings(entry)[:2] == [("6010", 100), ("ERP-6020", 200)]


@pytest.mark.rule("C6")
def test_c6_account_key_preference_is_configurable() -> None:
    item = make_item(lines=[line(10000, account="6010", identifier="ERP-1")])
    entry = build(item, ExportConfig(account_key="identifier"))
    assert entry.lines[0].account == "ERP-1"


# ----------------------------------------------------------------------------- C7


@pytest.mark.rule("C7")
def test_c7_journal_rules_never_use_accounts_payable() -> None:
    assert all(not rule.uses("accounts_payable") for rule in DEFAULT_POSTING_RULES.values())


@pytest.mark.rule("C7")
@pytest.mark.parametrize(
    ("item_type", "sub_type", "expected"),
    [
        ("card_purchase", None, [("6000", 1000), ("1930", -1000)]),
        ("fee", None, [("6000", 1000), ("1930", -1000)]),
        ("refund", None, [("6000", -1000), ("1930", 1000)]),
        ("atm_withdrawal", None, [("2890", 1000), ("1930", -1000)]),
        ("personal_spend", None, [("2890", 1000), ("1930", -1000)]),
        ("out_of_pocket", None, [("6000", 1000), ("2890", -1000)]),
        ("mileage", None, [("6000", 1000), ("2890", -1000)]),
        ("per_diem", None, [("6000", 1000), ("2890", -1000)]),
        ("direct_reimbursement", None, [("2890", 1000), ("1930", -1000)]),
        ("direct_reimbursement", "reimbursement_to_company", [("1930", 1000), ("2890", -1000)]),
        ("external_reimbursement", None, [("2890", 1000), ("1999", -1000)]),
        ("wallet_topup", None, [("1930", 1000), ("1999", -1000)]),
        ("wallet_unload", None, [("1999", 1000), ("1930", -1000)]),
        ("invoice", None, [("6000", 1000), ("1999", -1000)]),
        ("invoice_payment", None, [("1999", 1000), ("1930", -1000)]),
        ("invoice_payment", "invoice_payment_returned", [("1930", 1000), ("1999", -1000)]),
    ],
)
def test_c7_counter_account_per_type(
    item_type: str, sub_type: str | None, expected: list[tuple[str, int]]
) -> None:
    item = make_item(type=item_type, sub_type=sub_type, value=1000)
    entry = build(item)
    assert isinstance(entry, JournalEntry)
    assert sorted(postings(entry)) == sorted(expected)


@pytest.mark.rule("C7")
def test_c7_contra_account_from_item_wins_over_mapping() -> None:
    item = make_item(contra="1931")
    assert ("1931", -10000) in postings(build(item))


@pytest.mark.rule("C7")
def test_c7_per_currency_wallet_when_item_has_no_contra() -> None:
    mapping = AccountsMapping(wallet="1930", wallet_by_currency={"EUR": "1940"})
    item = make_item(currency="EUR", contra=None, lines=[line(10000, currency="EUR")])
    entry = build(item, context=ctx(mapping=mapping))
    assert ("1940", -10000) in postings(entry)


@pytest.mark.rule("C7")
def test_c7_config_overrides_mapping_and_rules() -> None:
    config = ExportConfig(
        accounts=AccountsMapping(out_of_pocket="2899"),
        posting_rules={"mileage": PostingRule("lines", FixedAccount("7000"))},
    )
    oop = build(make_item(type="out_of_pocket", value=500), config)
    assert ("2899", -500) in postings(oop)
    mileage = build(make_item(type="mileage", value=500), config)
    assert ("7000", -500) in postings(mileage)


@pytest.mark.rule("C7")
def test_c7_ap_uses_vendor_ap_account_else_fallback() -> None:
    item = make_item(
        type="invoice", bookkeeping="accounts_payable", vendor=vendor(), invoice=invoice_info()
    )
    own = build(item, vendor=VendorAccount(vendor_id="V100", name="ACME", ap_account="2441"))
    assert ("2441", -10000) in postings(own)
    shared = build(item, vendor=VendorAccount(vendor_id="V100", name="ACME"))
    assert ("2440", -10000) in postings(shared)


# ----------------------------------------------------------------------------- C8


@pytest.mark.rule("C8")
def test_c8_multi_line_one_debit_per_line_credit_is_sum() -> None:
    item = make_item(
        value=600,
        lines=[line(100, account="6010"), line(200, account="6020"), line(300, account="6030")],
    )
    entry = build(item)
    assert postings(entry) == [("6010", 100), ("6020", 200), ("6030", 300), ("1930", -600)]
    assert entry.total == 600


@pytest.mark.rule("C8")
def test_c8_lines_not_adding_up_fail() -> None:
    item = make_item(value=600, lines=[line(100), line(200)])
    failure = failure_of(build, item)
    assert failure.failure_type == "validation_failure"
    assert "add up" in failure.message


@pytest.mark.rule("C8")
def test_c8_unbalanced_entry_cannot_be_constructed() -> None:
    with pytest.raises(UnbalancedEntryError):
        JournalEntry(
            accounting_entry_id=UUID(int=1),
            posting_date=date(2024, 1, 1),
            currency="SEK",
            lines=[EntryLine(account="1", debit=5, currency="SEK", role="expense")],
            description="x",
            reference="r",
        )


# ----------------------------------------------------------------------------- C9, C10


@pytest.mark.rule("C9")
def test_c9_postings_in_wallet_currency_invoice_amount_in_supplier_currency() -> None:
    item = make_item(
        type="invoice",
        bookkeeping="accounts_payable",
        vendor=vendor(),
        invoice=invoice_info(),
        value=11000,
        supplier_amount=(1000, "EUR"),
    )
    entry = build(item, vendor=VendorAccount(vendor_id="V", name="V"))
    assert isinstance(entry, SupplierInvoice)
    assert {ln.currency for ln in entry.lines} == {"SEK"}
    assert entry.supplier_amount == Money("EUR", 1000)


@pytest.mark.rule("C9")
def test_c9_undefined_supplier_currency_falls_back_to_wallet() -> None:
    item = make_item(
        type="invoice",
        bookkeeping="accounts_payable",
        vendor=vendor(),
        supplier_amount=(0, "UNDEFINED"),
    )
    entry = build(item, vendor=VendorAccount(vendor_id="V", name="V"))
    assert isinstance(entry, SupplierInvoice)
    assert entry.supplier_amount == Money("SEK", 10000)


@pytest.mark.rule("C10", "export-14")
@pytest.mark.parametrize(
    ("value", "currency", "major"),
    [(89696, "SEK", "896.96"), (500, "JPY", "500"), (1234, "KWD", "1.234"), (7, "CLF", "0.0007")],
)
def test_c10_iso_4217_exponents(value: int, currency: str, major: str) -> None:
    """C10 and export-api Part 3 rule 14: minor units with the real exponent, never /100."""
    assert minor_to_major(value, currency) == Decimal(major)


@pytest.mark.rule("C10")
def test_c10_floats_and_undefined_refused() -> None:
    with pytest.raises(TypeError):
        minor_to_major(1.5, "EUR")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money("EUR", 1.0)  # the converter takes any object and refuses floats at runtime
    assert minor_unit_exponent("UNDEFINED") is None
    with pytest.raises(ValueError, match="no minor unit"):
        minor_to_major(1, "UNDEFINED")


@pytest.mark.rule("C10")
def test_c10_line_major_amounts_use_exponent() -> None:
    item = make_item(currency="JPY", value=1500, lines=[line(1500, currency="JPY")], contra="1930")
    entry = build(item)
    assert entry.lines[0].debit_major() == Decimal(1500)


@pytest.mark.rule("C10")
def test_c10_undefined_wallet_currency_fails_item() -> None:
    item = make_item(currency="UNDEFINED", lines=[line(100, currency="UNDEFINED")], value=100)
    assert failure_of(build, item).failure_type == "validation_failure"


# ----------------------------------------------------------------------------- C11


@pytest.mark.rule("C11")
def test_c11_inclusive_vat_explicit_splits_net_and_input_vat() -> None:
    item = make_item(value=12500, lines=[line(12500, tax=tax(2500, type="inclusive"))])
    assert postings(build(item)) == [("6000", 10000), ("2640", 2500), ("1930", -12500)]


@pytest.mark.rule("C11")
def test_c11_exclusive_vat_with_gross_line_amount() -> None:
    item = make_item(value=12000, lines=[line(12000, tax=tax(2000, type="exclusive", rate=0.2))])
    assert postings(build(item)) == [("6000", 10000), ("2640", 2000), ("1930", -12000)]


@pytest.mark.rule("C11")
def test_c11_exclusive_vat_when_line_amount_excludes_tax() -> None:
    item = make_item(value=12000, lines=[line(10000, tax=tax(2000, type="exclusive", rate=0.2))])
    assert postings(build(item)) == [("6000", 10000), ("2640", 2000), ("1930", -12000)]


@pytest.mark.rule("C11")
def test_c11_reverse_charge_equal_and_opposite_to_tax_accounts() -> None:
    item = make_item(
        value=10000,
        lines=[line(10000, tax=tax(2500, type="reverse", ingoing="2645", outgoing="2615"))],
    )
    assert postings(build(item)) == [
        ("6000", 10000),
        ("2645", 2500),
        ("2615", -2500),
        ("1930", -10000),
    ]


@pytest.mark.rule("C11")
def test_c11_reverse_charge_tax_computed_from_rate_when_zero() -> None:
    split = split_vat(
        1001, tax_type="reverse", tax_amount=0, rate=Decimal("0.25"), tax_code="RC",
        explicit=True, input_account="I", output_account="O",
    )  # fmt: skip
    assert [(t.account, t.amount) for t in split.taxes] == [("I", 250), ("O", -250)]


@pytest.mark.rule("C11")
def test_c11_implicit_vat_leaves_split_to_the_as() -> None:
    item = make_item(value=12500, lines=[line(12500, tax=tax(2500))])
    entry = build(item, ExportConfig(explicit_vat=False))
    assert postings(entry) == [("6000", 12500), ("1930", -12500)]
    assert entry.lines[0].tax_code == "VAT25"
    assert entry.lines[0].tax_amount == 2500


@pytest.mark.rule("C11")
def test_c11_unknown_tax_type_fails_item() -> None:
    item = make_item(value=100, lines=[line(100, tax=tax(10, type="sales_tax"))])
    failure = failure_of(build, item)
    assert failure.failure_type == "validation_failure"
    assert "sales_tax" in failure.message


@pytest.mark.rule("C11")
def test_c11_missing_vat_account_is_missing_configuration() -> None:
    item = make_item(value=125, lines=[line(125, tax=tax(25))])
    failure = failure_of(build, item, context=ctx(mapping=AccountsMapping(wallet="1930")))
    assert failure.failure_type == "missing_configuration"


# ----------------------------------------------------------------------------- C12


@pytest.mark.rule("C12")
def test_c12_dimensions_from_tags_and_team() -> None:
    item = make_item(
        lines=[line(10000, tags=[("DEPT", "D1"), ("PROJ", "P9"), ("DEPT", "D1")])],
        team=("Sales", "T-SALES"),
    )
    entry = build(item, ExportConfig(team_dimension="TEAM"))
    dims = [(d.dimension, d.value) for d in entry.lines[0].dimensions]
    assert dims == [("DEPT", "D1"), ("PROJ", "P9"), ("TEAM", "T-SALES")]


# ----------------------------------------------------------------------------- C13, C14


@pytest.mark.rule("C13")
def test_c13_description_concatenates_and_uses_initials_when_short() -> None:
    assert build_description("Noma", "Jane Mary Doe", "Lunch") == "Noma - Jane Mary Doe - Lunch"
    assert (
        build_description("Noma", "Jane Mary Doe", "Lunch", max_length=20) == "Noma - JMD - Lunch"
    )
    short = build_description("Noma", "Jane Mary Doe", "Team lunch with clients", max_length=20)
    assert short == "Noma - JMD - Team l…"
    assert len(short) <= 20
    assert build_description(None, None, None) == ""
    assert initials("Anne-Li van Dijk") == "ALVD"


@pytest.mark.rule("C13")
def test_c13_description_skips_missing_parts_and_respects_capability() -> None:
    item = make_item(user=None, note="Taxi")
    assert build(item).description == "Noma Restaurant - Taxi"
    entry = build(item, context=ctx(capabilities=Capabilities(description_max_length=10)))
    assert len(entry.description) <= 10


@pytest.mark.rule("C14")
def test_c14_reference_never_truncated_fails_as_configuration() -> None:
    item = make_item(reconciliation_id="R" * 60, reconciled=["A" * 10])
    entry = build(item)
    assert entry.reference == "R" * 60
    assert entry.reconciled_entries == ("A" * 10,)
    failure = failure_of(
        build, item, context=ctx(capabilities=Capabilities(reference_max_length=50))
    )
    assert failure.failure_type == "invalid_configuration"
    attendees = make_item(attendees=["x" * 80, "y" * 30])
    failure = failure_of(
        build, attendees, context=ctx(capabilities=Capabilities(comment_max_length=100))
    )
    assert failure.failure_type == "invalid_configuration"


# ----------------------------------------------------------------------------- C15, C16


@pytest.mark.rule("C15")
def test_c15_ap_document_carries_vendor_and_invoice_information() -> None:
    item = make_item(
        type="invoice",
        bookkeeping="accounts_payable",
        vendor=vendor(code="V7", name="ACME"),
        invoice=invoice_info("INV-9", "paid"),
    )
    entry = build(item, vendor=VendorAccount(vendor_id="AS-7", name="Acme AB"))
    assert isinstance(entry, SupplierInvoice)
    assert (entry.vendor_name, entry.vendor_code) == ("ACME", "V7")
    assert entry.invoice is not None
    assert entry.invoice.number == "INV-9"
    assert entry.invoice.invoice_date == date(2024, 3, 1)
    assert entry.invoice.due_date == date(2024, 3, 31)
    assert entry.invoice.supplier_bank_account is not None
    assert entry.invoice.supplier_bank_account.iban == "SE00"
    assert entry.settled_from is None


@pytest.mark.rule("C16")
@pytest.mark.parametrize("item_type", ["refund", "chargeback", "cashback"])
def test_c16_refund_under_ap_is_a_credit_note(item_type: str) -> None:
    item = make_item(type=item_type, bookkeeping="accounts_payable", vendor=vendor(), value=1000)
    entry = build(item, vendor=VendorAccount(vendor_id="V", name="V"))
    assert isinstance(entry, CreditNote)
    assert entry.refunded_to == "1930"
    assert sorted(postings(entry)) == sorted(
        [("6000", -1000), ("2440", 1000), ("1930", 1000), ("2440", -1000)]
    )


@pytest.mark.rule("C16")
def test_c16_refund_under_journal_reverses_purchase() -> None:
    purchase = postings(build(make_item(value=1000)))
    refund = postings(build(make_item(type="refund", value=1000)))
    assert sorted(refund) == sorted((a, -v) for a, v in purchase)


@pytest.mark.rule("C16")
def test_c16_card_purchase_under_ap_is_settled_invoice() -> None:
    item = make_item(bookkeeping="accounts_payable", vendor=vendor(), value=1000)
    entry = build(item, vendor=VendorAccount(vendor_id="V", name="V"))
    assert isinstance(entry, SupplierInvoice)
    assert entry.settled_from == "1930"


@pytest.mark.rule("C17")
def test_c17_invoice_payment_under_ap_is_a_payment_referencing_the_invoice() -> None:
    item = make_item(
        type="invoice_payment",
        bookkeeping="accounts_payable",
        vendor=vendor(),
        invoice=invoice_info("INV-3"),
        value=1000,
    )
    entry = build(item, vendor=VendorAccount(vendor_id="V", name="V"))
    assert isinstance(entry, SupplierPayment)
    assert entry.invoice_number == "INV-3"
    assert postings(entry) == [("2440", 1000), ("1930", -1000)]


# ----------------------------------------------------------------------------- C18–C20


def _files(*specs: tuple[str, int]) -> list[dict[str, object]]:
    return [
        {"url": f"https://files.example/{i}", "type": t, "size": s}
        for i, (t, s) in enumerate(specs)
    ]


@pytest.mark.rule("C18")
def test_c18_no_files_nothing_to_do() -> None:
    assert plan_receipts(make_item(files=None), Capabilities()).receipts == ()
    assert plan_receipts(make_item(files=[]), Capabilities()).receipts == ()


@pytest.mark.rule("C18")
def test_c18_order_keys_and_generated_names() -> None:
    item = make_item(files=_files(("application/pdf", 10), ("image/png", 20), ("jpeg", 30)))
    plan = plan_receipts(item, Capabilities())
    aeid = item.accounting_entry_id
    assert [r.key for r in plan.receipts] == [f"{aeid}:0", f"{aeid}:1", f"{aeid}:2"]
    assert [r.filename for r in plan.receipts] == [
        f"{aeid}-1.pdf",
        f"{aeid}-2.png",
        f"{aeid}-3.jpg",
    ]
    assert [r.url for r in plan.receipts] == [f"https://files.example/{i}" for i in range(3)]


@pytest.mark.rule("C18")
def test_c18_too_large_and_unsupported_types() -> None:
    big = make_item(files=_files(("application/pdf", 30 * 1024 * 1024 + 1)))
    assert (
        failure_of(plan_receipts, big, Capabilities()).failure_type
        == "receipt_file_size_limit_exceeded"
    )
    exe = make_item(files=_files(("application/x-msdownload", 10)))
    assert (
        failure_of(plan_receipts, exe, Capabilities()).failure_type == "receipt_conversion_failure"
    )
    # A format Pleo allows but the AS does not accept.
    docx = make_item(files=_files(("docx", 10)))
    caps = Capabilities(attachment_formats={"pdf"})
    assert failure_of(plan_receipts, docx, caps).failure_type == "receipt_conversion_failure"


@pytest.mark.rule("C19")
def test_c19_merge_when_as_takes_one_file() -> None:
    item = make_item(files=_files(("application/pdf", 10), ("image/png", 20)))
    plan = plan_receipts(item, Capabilities(max_attachments_per_entry=1))
    assert plan.merge
    assert plan.keys == {f"{item.accounting_entry_id}:0"}
    assert not plan_receipts(item, Capabilities()).merge
    assert plan_receipts(item, Capabilities(max_attachments_per_entry=0)).receipts == ()


# ----------------------------------------------------------------------------- C21, C22


@pytest.mark.rule("C21")
def test_c21_posting_date_is_item_date_never_service_period() -> None:
    data = item_json(date="2024-02-29T23:30:00Z")
    data["servicePeriod"] = {"from": "2024-01-01T00:00:00Z", "to": "2024-01-31T00:00:00Z"}
    entry = build(structure(data, ExportItemV3))
    assert entry.posting_date == date(2024, 2, 29)
    assert entry.service_period == (date(2024, 1, 1), date(2024, 1, 31))


@pytest.mark.rule("C21")
def test_c21_closed_period_policies() -> None:
    closed = {date(2024, 1, 15)}

    def is_open(d: date) -> bool:
        return d not in closed and d.month != 1

    def next_open(d: date) -> date:
        return date(2024, 2, 1)

    kwargs = {"today": date(2024, 3, 10), "is_open": is_open, "next_open": next_open}
    original = date(2024, 1, 15)
    assert resolve_posting_date(date(2024, 2, 2), policy="fail", **kwargs) == date(2024, 2, 2)  # type: ignore[arg-type]
    failure = failure_of(resolve_posting_date, original, policy="fail", **kwargs)
    assert failure.failure_type == "accounting_system_validation_failure"
    assert "closed" in failure.message
    assert resolve_posting_date(original, policy="today", **kwargs) == date(2024, 3, 10)  # type: ignore[arg-type]
    assert resolve_posting_date(original, policy="next_open", **kwargs) == date(2024, 2, 1)  # type: ignore[arg-type]


@pytest.mark.rule("C22")
def test_c22_draft_by_default_final_when_configured() -> None:
    item = make_item()
    assert build(item).posting_mode == "draft"
    assert build(item, ExportConfig(posting_mode="final")).posting_mode == "final"
    no_drafts = ctx(capabilities=Capabilities(supports_drafts=False))
    assert build(item, context=no_drafts).posting_mode == "final"


# ----------------------------------------------------------------------------- C23, C25


@pytest.mark.rule("C23")
def test_c23_outcomes_are_exactly_successful_or_failed_with_reason() -> None:
    aeid = UUID(int=5)
    ok = ItemOutcome.success(
        aeid,
        PostedEntry(accounting_entry_id=aeid, external_id="JE-1"),
        exported_at=datetime(2024, 1, 1),
    )
    assert (ok.status, ok.external_id, ok.failure_type) == ("successful", "JE-1", None)
    bad = ItemOutcome.failure(aeid, ItemFailure("vendor_unknown", "no such vendor"))
    assert (bad.status, bad.failure_type) == ("failed", "vendor_unknown")
    with pytest.raises(ValueError):
        ItemOutcome(accounting_entry_id=aeid, status="failed")
    with pytest.raises(ValueError):
        ItemFailure("job_expired", "job-only value")  # type: ignore[arg-type]


@pytest.mark.rule("C25", "export-22")
def test_c25_job_outcome_decision_3() -> None:
    """C25, export-api Part 3 rule 22 (all failed without a job-level cause: decision 3)."""
    assert job_outcome(["successful", "successful"]).event == "completed"
    assert job_outcome([]).event == "completed"
    mixed = job_outcome(["successful", "failed"])
    assert (mixed.event, mixed.failure_type, mixed.failure_reason) == (
        "completed_with_errors",
        None,
        None,
    )
    # All failed but no job-level cause: still completed_with_errors (decision 3).
    assert job_outcome(["failed", "failed"]).event == "completed_with_errors"
    failed = job_outcome(
        ["failed"], job_failure=JobFailure("accounting_system_unreachable", "down")
    )
    assert (failed.event, failed.failure_type) == ("failed", "accounting_system_unreachable")
    with pytest.raises(ValueError):
        JobFailure("vendor_unknown", "item-only value")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- C28


@pytest.mark.rule("C28")
def test_c28_unknown_type_is_a_configurable_failure_never_an_exception() -> None:
    item = make_item(type="crypto_purchase")
    failure = failure_of(build, item)
    assert failure.failure_type == "validation_failure"
    assert "crypto_purchase" in failure.message
    other = failure_of(build, item, ExportConfig(unknown_type_failure="invalid_configuration"))
    assert other.failure_type == "invalid_configuration"
    # ... and a posting rule makes it supported.
    supported = build(
        item, ExportConfig(posting_rules={"crypto_purchase": PostingRule("lines", "wallet")})
    )
    assert isinstance(supported, JournalEntry)


def test_rule_lookup_prefers_subtype_then_type() -> None:
    assert rule_for("direct_reimbursement", "reimbursement_to_company") == PostingRule(
        "wallet", "out_of_pocket"
    )
    assert rule_for("direct_reimbursement", "something_new") == PostingRule(
        "out_of_pocket", "wallet"
    )
    assert rule_for("nope", None) is None


# ----------------------------------------------------------------------------- decision 11: signs


@pytest.mark.parametrize("item_type", ["card_purchase", "refund", "wallet_topup", "out_of_pocket"])
def test_decision_11_both_sign_conventions_give_the_same_entry(item_type: str) -> None:
    positive = make_item(type=item_type, value=1000, lines=[line(1000, tax=tax(200))])
    negative = make_item(type=item_type, value=-1000, lines=[line(-1000, tax=tax(-200))])
    assert postings(build(positive)) == postings(build(negative))


def test_decision_11_negative_split_line_goes_to_the_other_side() -> None:
    item = make_item(value=800, lines=[line(1000, account="6010"), line(-200, account="6020")])
    assert postings(build(item)) == [("6010", 1000), ("6020", -200), ("1930", -800)]


def test_zero_amount_item_fails() -> None:
    item = make_item(value=0, lines=[line(0)])
    assert failure_of(build, item).failure_type == "validation_failure"
