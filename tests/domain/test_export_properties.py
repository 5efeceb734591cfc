"""Property tests of the export domain (hypothesis).

For random *valid* items every built entry balances exactly, conserves the item's amount on
the money side, and converts to major units without loss; for random *malformed* items the
domain answers with exactly one typed failure — never another exception.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pleo_erp.accounting_system import AccountsMapping, Capabilities, VendorAccount
from pleo_erp.client.serialization import structure
from pleo_erp.domain.bookkeeping import resolve_method
from pleo_erp.domain.config import ExportConfig
from pleo_erp.domain.entries import EntryContext, build_entry
from pleo_erp.domain.mapping import DEFAULT_POSTING_RULES
from pleo_erp.domain.money import minor_to_major, minor_unit_exponent
from pleo_erp.domain.outcomes import DomainFailure
from pleo_erp.domain.receipts import plan_receipts
from pleo_erp.domain.validation import validate_item
from pleo_erp.models import ExportItemV3
from tests.helpers.export import item_json, line, tax, vendor

MAPPING = AccountsMapping(
    wallet="1930", out_of_pocket="2890", balancing="1999", accounts_payable="2440",
    vat_input="2640", vat_output="2614",
)  # fmt: skip
TYPES = sorted({key.split(":")[0] for key in DEFAULT_POSTING_RULES})
SUBTYPES = [
    None,
    "reimbursement_to_company",
    "reimbursement_to_employee",
    "invoice_payment_returned",
    "interest",
]
CURRENCIES = ["SEK", "EUR", "JPY", "KWD", "DKK"]
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def valid_items(draw: st.DrawFn) -> tuple[dict[str, Any], int]:
    """(item JSON, sign) for an item every rule can book."""
    currency = draw(st.sampled_from(CURRENCIES))
    n = draw(st.integers(1, 4))
    sign = draw(st.sampled_from([1, -1]))
    lines = []
    total = 0
    for _ in range(n):
        gross = draw(st.integers(1, 10_000_000))
        kind = draw(st.sampled_from([None, "inclusive", "exclusive", "reverse"]))
        line_tax = None
        if kind is not None:
            vat = draw(st.integers(0, gross // 2))
            line_tax = tax(sign * vat, type=kind, currency=currency)
        lines.append(line(sign * gross, currency=currency, tax=line_tax, tags=[("DEPT", "D1")]))
        total += gross
    item_type = draw(st.sampled_from(TYPES))
    ap = draw(st.booleans())
    data = item_json(
        type=item_type,
        sub_type=draw(st.sampled_from(SUBTYPES)),
        value=sign * total,
        currency=currency,
        lines=lines,
        bookkeeping="accounts_payable" if ap else draw(st.sampled_from([None, "journal", "none"])),
        vendor=vendor() if ap else None,
        supplier_amount=(sign * total, draw(st.sampled_from(["EUR", "UNDEFINED", currency]))),
        contra=draw(st.sampled_from([None, "1931"])),
    )
    return data, total


def _entry(data: dict[str, Any], explicit: bool) -> Any:
    item = structure(data, ExportItemV3)
    config = ExportConfig(explicit_vat=explicit)
    context = EntryContext.create(config, Capabilities(), MAPPING)
    method = resolve_method(item, config)
    validate_item(item, method, context)
    return build_entry(item, method, context, vendor=VendorAccount(vendor_id="V", name="V"))


@SETTINGS
@given(valid_items(), st.booleans())
def test_property_valid_items_balance_and_conserve(
    sample: tuple[dict[str, Any], int], explicit: bool
) -> None:
    data, total = sample
    entry = _entry(data, explicit)
    debit = sum(ln.debit for ln in entry.lines)
    credit = sum(ln.credit for ln in entry.lines)
    assert debit == credit
    assert all((ln.debit == 0) != (ln.credit == 0) for ln in entry.lines)
    # Conservation: the money side moves exactly the item's total.
    money_side = [ln for ln in entry.lines if ln.role in ("counter", "payable")]
    assert sum(abs(ln.debit - ln.credit) for ln in money_side) % total == 0
    # Explicit reverse-charge VAT nets to zero; expense + input VAT = what was paid.
    categorised = [ln for ln in entry.lines if ln.role in ("expense", "tax")]
    if categorised:
        assert abs(sum(ln.debit - ln.credit for ln in categorised)) == total
    else:  # account-to-account movements (wallet loads, reimbursements …)
        assert sum(ln.debit for ln in entry.lines) == total
    # Major units are exact.
    exponent = minor_unit_exponent(entry.currency)
    assert exponent is not None
    for ln in entry.lines:
        assert int(ln.debit_major().scaleb(exponent)) == ln.debit
    assert minor_to_major(debit, entry.currency) == sum(
        (ln.debit_major() for ln in entry.lines), start=minor_to_major(0, entry.currency)
    )


MUTATIONS = [
    "no_account",
    "sum_mismatch",
    "unknown_type",
    "unknown_tax_type",
    "currency_mismatch",
    "undefined_currency",
    "unknown_method",
    "zero",
    "tax_too_big",
    "no_lines",
    "bad_receipt_type",
    "huge_receipt",
]


def _mutate(data: dict[str, Any], mutation: str) -> dict[str, Any]:
    lines = data["accountingEntryLines"]
    if mutation == "no_account":
        lines[0]["account"] = None
        data["type"] = "card_purchase"
        data["bookkeeping"] = None
    elif mutation == "sum_mismatch":
        data["amount"]["inWalletCurrency"]["value"] += 7
        for ln in lines:
            ln["tax"] = None
    elif mutation == "unknown_type":
        data["type"] = "space_travel"
        data["bookkeeping"] = None
    elif mutation == "unknown_tax_type":
        lines[0]["tax"] = tax(
            1, type="mystery", currency=data["amount"]["inWalletCurrency"]["currency"]
        )
        data["type"] = "card_purchase"
        data["bookkeeping"] = None
    elif mutation == "currency_mismatch":
        lines[0]["lineAmount"]["inWalletCurrency"]["currency"] = "XXX"
    elif mutation == "undefined_currency":
        data["amount"]["inWalletCurrency"]["currency"] = "UNDEFINED"
    elif mutation == "unknown_method":
        data["bookkeeping"] = {"method": "barter"}
        data["type"] = "card_purchase"
    elif mutation == "zero":
        data["amount"]["inWalletCurrency"]["value"] = 0
        for ln in lines:
            ln["lineAmount"]["inWalletCurrency"]["value"] = 0
            ln["tax"] = None
    elif mutation == "tax_too_big":
        value = lines[0]["lineAmount"]["inWalletCurrency"]["value"]
        lines[0]["tax"] = tax(value * 3, currency=data["amount"]["inWalletCurrency"]["currency"])
        data["type"] = "card_purchase"
        data["bookkeeping"] = None
    elif mutation == "no_lines":
        data["accountingEntryLines"] = []
    elif mutation == "bad_receipt_type":
        data["files"] = [{"url": "https://f.example/1", "type": "application/x-sh", "size": 5}]
    elif mutation == "huge_receipt":
        data["files"] = [
            {"url": "https://f.example/1", "type": "application/pdf", "size": 2**31 - 1}
        ]
    return data


@SETTINGS
@given(valid_items(), st.sampled_from(MUTATIONS))
def test_property_malformed_items_fail_with_exactly_one_typed_reason(
    sample: tuple[dict[str, Any], int], mutation: str
) -> None:
    data, _ = sample
    data = _mutate(data, mutation)
    item = structure(data, ExportItemV3)
    failures: list[DomainFailure] = []
    try:
        _entry(data, explicit=True)
        plan_receipts(item, Capabilities())
    except DomainFailure as failure:
        failures.append(failure)
    assert len(failures) == 1, mutation
    (only,) = failures
    assert only.message
    if mutation.endswith("receipt") or mutation == "bad_receipt_type":
        assert only.failure_type.startswith("receipt_")
    else:
        assert only.failure_type in {"validation_failure", "missing_configuration"}
