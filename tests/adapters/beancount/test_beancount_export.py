"""Beancount adapter as ExportTarget: rendering, exactly-once, atomicity, periods, receipts.

Rule numbers refer to ``docs/rules.md`` (C…) and DESIGN.md decisions.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import re
import threading
import uuid
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from beancount import loader
from beancount.core import data

from pleo_erp.accounting_system import (
    AccountingSystemNotReady,
    AccountingSystemTimeout,
    AccountingSystemUnavailable,
    Attachment,
    ClosedPeriodError,
    CreditNote,
    EntryDimension,
    EntryLine,
    EntryRejected,
    ExportTarget,
    InvoiceDetails,
    JobContext,
    JournalEntry,
    PartyRef,
    ReceiptConversionError,
    ReceiptTooLargeError,
    ReceiptUploadError,
    SupplierInvoice,
    SupplierPayment,
    UnknownAccountError,
    UnknownDimensionError,
    UnknownTaxCodeError,
    VendorAccount,
    VendorKey,
)
from pleo_erp.adapters.beancount import (
    BeancountAccountingSystem,
    LedgerErrors,
    _atomic,
    create_ledger,
    dimension_key,
)
from pleo_erp.domain.money import Money
from pleo_erp.testing.sandbox.demo import DemoChart, build_demo
from pleo_erp.testing.sandbox.files import make_jpeg, make_pdf, make_png

# fork is much cheaper than spawn (no re-import of beancount and the test module per child).
PROCESSES = (
    multiprocessing.get_context("fork")
    if "fork" in multiprocessing.get_all_start_methods()
    else multiprocessing.get_context("spawn")
)
COMPANY = uuid.UUID("cd613e30-d8f1-4adf-91b7-584a2265b1f5")
DAY = date(2026, 9, 1)


@pytest.fixture(scope="module")
def chart() -> DemoChart:
    return build_demo(1).chart


@pytest.fixture
def ledger_path(tmp_path: Path, chart: DemoChart) -> Path:
    return create_ledger(
        tmp_path / "books" / "ledger.beancount", chart, currency="DKK", company_id=str(COMPANY)
    )


@pytest.fixture
def system(ledger_path: Path) -> BeancountAccountingSystem:
    return BeancountAccountingSystem(ledger_path)


def load_clean(path: Path) -> list[data.Directive]:
    """Load like bean-check does and insist on zero errors."""
    entries, errors, _ = loader.load_file(str(path))
    assert errors == [], [e.message for e in errors]
    return list(entries)


def transactions(path: Path) -> list[data.Transaction]:
    return [e for e in load_clean(path) if isinstance(e, data.Transaction)]


def txn_for(path: Path, entry_id: uuid.UUID) -> data.Transaction:
    found = [
        t for t in transactions(path) if t.meta.get("pleo-accounting-entry-id") == str(entry_id)
    ]
    assert len(found) == 1
    return found[0]


def postings(txn: data.Transaction) -> list[tuple[str, Decimal, str]]:
    out = []
    for posting in txn.postings:
        assert posting.units is not None
        assert isinstance(posting.units.number, Decimal)
        out.append((posting.account, posting.units.number, posting.units.currency))
    return out


def posting_meta(txn: data.Transaction, index: int) -> dict[str, Any]:
    return dict(txn.postings[index].meta or {})


def journal(
    *,
    entry_id: uuid.UUID | None = None,
    day: date = DAY,
    amount: int = 10000,
    vat: int = 2000,
    mode: str = "draft",
    account: str = "6010",
    dims: Sequence[EntryDimension] = (EntryDimension("DEPT", "ENG"),),
    tax_code: str | None = "I25",
    currency: str = "DKK",
    description: str = "Taxi Aps · Lars Nielsen · Airport",
) -> JournalEntry:
    lines = [
        EntryLine(
            account=account,
            debit=amount - vat,
            currency=currency,
            role="expense",
            tax_code=tax_code,
            dimensions=tuple(dims),
        ),
        EntryLine(account="5810", credit=amount, currency=currency, role="counter"),
    ]
    if vat:
        lines.insert(
            1,
            EntryLine(account="7800", debit=vat, currency=currency, role="tax", tax_code=tax_code),
        )
    return JournalEntry(
        accounting_entry_id=entry_id or uuid.uuid4(),
        posting_date=day,
        currency=currency,
        lines=lines,
        description=description,
        reference="NS-2026-000001",
        posting_mode=mode,  # type: ignore[arg-type]
        item_type="card_purchase",
        employee=PartyRef("Lars Nielsen", "E002"),
    )


def attachment(
    tmp_path: Path, entry_id: uuid.UUID, index: int, content: bytes, **kw: Any
) -> Attachment:
    path = tmp_path / f"download-{entry_id}-{index}"
    path.write_bytes(content)
    fields: dict[str, Any] = {
        "key": f"{entry_id}:{index}",
        "accounting_entry_id": entry_id,
        "index": index,
        "filename": f"receipt-{index + 1}.pdf",
        "content_type": "application/pdf",
        "size": len(content),
        "path": path,
        "sha256": hashlib.sha256(content).hexdigest(),
    }
    fields.update(kw)
    return Attachment(**fields)


# --- protocol and configuration -----------------------------------------------------------


def test_implements_the_export_protocol_with_expected_capabilities(
    system: BeancountAccountingSystem,
) -> None:
    assert isinstance(system, ExportTarget)
    caps = system.capabilities()
    assert caps.max_attachments_per_entry is None  # many receipts per entry
    assert {"pdf", "png", "jpg"} <= caps.attachment_formats
    assert caps.max_attachment_bytes == 30 * 1024 * 1024
    assert caps.supports_accounts_payable
    assert caps.supports_drafts
    assert caps.explicit_vat


def test_accounts_mapping_from_custom_directives(system: BeancountAccountingSystem) -> None:
    mapping = system.accounts_mapping()
    assert mapping.wallet == "Assets:Pleo-Wallet-DKK"
    assert mapping.wallet_for("EUR") == "Assets:Pleo-Wallet-EUR"
    assert mapping.out_of_pocket == "Liabilities:Employee-Out-of-Pocket"
    assert mapping.balancing == "Assets:Pleo-Clearing-Contra"
    assert mapping.accounts_payable == "Liabilities:Accounts-Payable"


@pytest.mark.rule("C3")
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("vendor.code", "v1002"),
        ("vendor.externalId", "vend-1002"),
        ("vendor.taxRegistrationNumber", "se 5566 7788 9901"),
        ("vendor.registrationNumber", "5566778899"),
        ("supplier.code", "V1002"),
    ],
)
def test_c3_vendor_found_by_each_key(
    system: BeancountAccountingSystem, field: Any, value: str
) -> None:
    vendor = system.find_vendor(VendorKey(field=field, value=value))
    assert vendor == VendorAccount(
        vendor_id="V1002",
        name="Stockholm Cloud AB",
        ap_account="Liabilities:AP:Stockholm-Cloud",
        blocked=False,
        currency="SEK",
    )


def test_unknown_vendor_is_none(system: BeancountAccountingSystem) -> None:
    assert system.find_vendor(VendorKey(field="vendor.code", value="V9999")) is None
    assert system.find_vendor(VendorKey(field="vendor.code", value="  ")) is None


def test_inactive_vendor_is_returned_blocked(ledger_path: Path) -> None:
    with ledger_path.open("a", encoding="utf-8") as fh:
        fh.write(
            '\n2026-07-01 custom "pleo-vendor" "V1001" "Nordic Office Supplies A/S" '
            "Liabilities:AP:Nordic-Office-Supplies FALSE\n"
        )
    vendor = BeancountAccountingSystem(ledger_path).find_vendor(
        VendorKey(field="vendor.code", value="V1001")
    )
    assert vendor is not None
    assert vendor.blocked


def test_check_ready_company_mismatch_and_missing_ledger(
    system: BeancountAccountingSystem, tmp_path: Path
) -> None:
    job = JobContext(
        job_id=uuid.uuid4(), company_id=COMPANY, vendor_based_bookkeeping=True, number_of_items=3
    )
    system.check_ready(job)  # the right company: ready
    other = JobContext(
        job_id=uuid.uuid4(),
        company_id=uuid.uuid4(),
        vendor_based_bookkeeping=False,
        number_of_items=1,
    )
    with pytest.raises(AccountingSystemNotReady) as info:
        system.check_ready(other)
    assert info.value.job_failure_type == "invalid_configuration"
    missing = BeancountAccountingSystem(tmp_path / "nope.beancount")
    with pytest.raises(AccountingSystemUnavailable) as down:
        missing.check_ready(job)
    assert down.value.job_failure_type == "accounting_system_unreachable"


def test_a_ledger_with_errors_stops_the_job(ledger_path: Path) -> None:
    with ledger_path.open("a", encoding="utf-8") as fh:
        fh.write(
            '\n2026-07-01 * "bad"\n  Expenses:Nowhere  1 DKK\n  Assets:Pleo-Wallet-DKK  -1 DKK\n'
        )
    system = BeancountAccountingSystem(ledger_path)
    with pytest.raises(AccountingSystemNotReady) as info:
        system.find_posted(uuid.uuid4())
    assert info.value.job_failure_type == "integration_unusable"


# --- rendering of each kind ---------------------------------------------------------------


def test_journal_entry_renders_with_metadata_dimensions_and_vat(
    system: BeancountAccountingSystem, ledger_path: Path
) -> None:
    entry = journal(mode="final")
    posted = system.post(entry, [])
    txn = txn_for(ledger_path, entry.accounting_entry_id)
    assert txn.flag == "*"
    assert txn.date == DAY
    assert txn.narration == "Taxi Aps · Lars Nielsen · Airport"
    assert txn.payee is None
    assert txn.meta["pleo-reference"] == "NS-2026-000001"  # C14
    assert txn.meta["pleo-employee"] == "Lars Nielsen (E002)"
    assert txn.links == {f"pleo-{entry.accounting_entry_id}", "ref-NS-2026-000001"}
    assert postings(txn) == [
        ("Expenses:Travel", Decimal("80.00"), "DKK"),
        ("Assets:Input-VAT", Decimal("20.00"), "DKK"),
        ("Assets:Pleo-Wallet-DKK", Decimal("-100.00"), "DKK"),
    ]
    assert posting_meta(txn, 0)["pleo-dim-DEPT"] == "ENG"  # C12: dimension on the posting
    assert posting_meta(txn, 0)["pleo-tax-code"] == "I25"
    assert posted.external_id == f"pleo-{entry.accounting_entry_id}"
    assert posted.draft is False
    assert posted.posting_date == DAY


@pytest.mark.rule("C14")
def test_c14_reimbursement_links_to_the_expenses_it_settles(
    system: BeancountAccountingSystem, ledger_path: Path
) -> None:
    expense = journal()  # reference NS-2026-000001
    system.post(expense, [])
    reimbursement = JournalEntry(
        accounting_entry_id=uuid.uuid4(),
        posting_date=DAY,
        currency="DKK",
        description="Reimbursement Lars Nielsen",
        reference="NS-2026-000090",
        reconciled_entries=("NS-2026-000001", "NS 2026/7"),
        item_type="external_reimbursement",
        lines=[
            EntryLine(account="5820", debit=10000, currency="DKK", role="counter"),
            EntryLine(account="5840", credit=10000, currency="DKK", role="counter"),
        ],
    )
    system.post(reimbursement, [])
    paid = txn_for(ledger_path, reimbursement.accounting_entry_id)
    assert paid.meta["pleo-reconciled-entries"] == "NS-2026-000001, NS 2026/7"
    assert {"ref-NS-2026-000090", "ref-NS-2026-000001", "ref-NS-2026/7"} <= set(paid.links or ())
    assert "ref-NS-2026-000001" in (txn_for(ledger_path, expense.accounting_entry_id).links or ())


def test_dimension_codes_that_are_not_key_safe_get_distinct_keys() -> None:
    keys = {dimension_key(code) for code in ["Cost Centre", "Cost-Centre", "Cost/Centre", "CC"]}
    assert len(keys) == 4
    assert "pleo-dim-CC" in keys
    assert all(re.fullmatch(r"[a-z][A-Za-z0-9_-]+", key) for key in keys)


SMALL_LEDGER = """\
2026-01-01 open Assets:Wallet EUR
2026-01-01 open Expenses:Travel
2026-01-01 open Liabilities:AP
2026-01-01 custom "pleo-dimension" "Cost Centre" "Cost centre"
2026-01-01 custom "pleo-dimension-value" "Cost Centre" "HQ 1" "Head office"
2026-01-01 custom "pleo-mapping" "accounts-payable" Liabilities:AP
"""


def test_awkward_dimension_codes_fallback_ap_and_currency_limits(tmp_path: Path) -> None:
    path = tmp_path / "small.beancount"
    path.write_text(SMALL_LEDGER, encoding="utf-8")
    system = BeancountAccountingSystem(path)
    invoice = SupplierInvoice(
        accounting_entry_id=uuid.uuid4(),
        posting_date=DAY,
        currency="EUR",
        description="Unknown supplier",
        reference="R-1",
        lines=[
            EntryLine(
                account="Expenses:Travel",
                debit=1000,
                currency="EUR",
                role="expense",
                dimensions=(EntryDimension("cost centre", "hq 1"),),
            ),
            EntryLine(account="Liabilities:AP", credit=1000, currency="EUR", role="payable"),
        ],
        vendor=None,  # booked on the fallback AP account (decision 6)
        vendor_name="Unknown supplier",
        ap_account="Liabilities:AP",
        supplier_amount=Money("EUR", 1000),
    )
    system.post(invoice, [])
    txn = txn_for(path, invoice.accounting_entry_id)
    assert txn.meta["pleo-fallback-ap"] == "true"
    assert posting_meta(txn, 0)[dimension_key("Cost Centre")] == "HQ 1"
    # Assets:Wallet only takes EUR: a DKK entry is refused before Beancount would be.
    dkk = JournalEntry(
        accounting_entry_id=uuid.uuid4(),
        posting_date=DAY,
        currency="DKK",
        description="x",
        reference="R-2",
        lines=[
            EntryLine(account="Expenses:Travel", debit=100, currency="DKK", role="expense"),
            EntryLine(account="Assets:Wallet", credit=100, currency="DKK", role="counter"),
        ],
    )
    with pytest.raises(EntryRejected, match="only accepts EUR"):
        system.post(dkk, [])
    load_clean(path)


@pytest.mark.rule("C22")
def test_c22_draft_is_flag_bang_and_final_is_star(
    system: BeancountAccountingSystem, ledger_path: Path
) -> None:
    draft, final = journal(mode="draft"), journal(mode="final")
    assert system.post(draft, []).draft is True
    assert system.post(final, []).draft is False
    assert txn_for(ledger_path, draft.accounting_entry_id).flag == "!"
    assert txn_for(ledger_path, final.accounting_entry_id).flag == "*"


@pytest.mark.rule("C10")
def test_c10_minor_units_use_the_currency_exponent(
    system: BeancountAccountingSystem, ledger_path: Path
) -> None:
    jpy = journal(amount=1234, vat=0, currency="JPY", tax_code=None)
    kwd = journal(amount=1234, vat=0, currency="KWD", tax_code=None)
    system.post(jpy, [])
    system.post(kwd, [])
    assert postings(txn_for(ledger_path, jpy.accounting_entry_id))[0][1:] == (
        Decimal("1234"),
        "JPY",
    )
    assert postings(txn_for(ledger_path, kwd.accounting_entry_id))[0][1:] == (
        Decimal("1.234"),
        "KWD",
    )


@pytest.mark.rule("C11")
def test_c11_reverse_charge_posts_equal_input_and_output_vat(
    system: BeancountAccountingSystem, ledger_path: Path
) -> None:
    entry_id = uuid.uuid4()
    vendor = system.find_vendor(VendorKey(field="vendor.code", value="V1002"))
    assert vendor is not None
    invoice = SupplierInvoice(
        accounting_entry_id=entry_id,
        posting_date=DAY,
        currency="DKK",
        description="Stockholm Cloud AB · Lars Nielsen · hosting",
        reference="NS-2026-000020",
        lines=[
            EntryLine(account="6100", debit=78144, currency="DKK", role="expense", tax_code="RC25"),
            EntryLine(account="7800", debit=19536, currency="DKK", role="tax", tax_code="RC25"),
            EntryLine(account="7820", credit=19536, currency="DKK", role="tax", tax_code="RC25"),
            EntryLine(
                account=vendor.ap_account or "", credit=78144, currency="DKK", role="payable"
            ),
            EntryLine(account=vendor.ap_account or "", debit=78144, currency="DKK", role="payable"),
            EntryLine(account="5810", credit=78144, currency="DKK", role="counter"),
        ],
        vendor=vendor,
        vendor_name="Stockholm Cloud AB",
        vendor_code="V1002",
        ap_account=vendor.ap_account or "",
        supplier_amount=Money("SEK", 120000),
        settled_from="5810",
        service_period=(date(2026, 9, 1), date(2026, 9, 30)),
    )
    system.post(invoice, [])
    txn = txn_for(ledger_path, entry_id)
    amounts = {(a, n) for a, n, _ in postings(txn)}
    assert ("Assets:Input-VAT", Decimal("195.36")) in amounts
    assert ("Liabilities:VAT-on-EU-Purchases", Decimal("-195.36")) in amounts
    assert txn.payee == "Stockholm Cloud AB"
    assert txn.meta["pleo-kind"] == "supplier_invoice"
    assert txn.meta["pleo-vendor-id"] == "V1002"
    assert txn.meta["pleo-supplier-amount"] == "1200.00 SEK"
    assert txn.meta["pleo-service-period"] == "2026-09-01..2026-09-30"


def _ap_invoice(entry_id: uuid.UUID, vendor: VendorAccount, number: str) -> SupplierInvoice:
    ap = vendor.ap_account or ""
    return SupplierInvoice(
        accounting_entry_id=entry_id,
        posting_date=DAY,
        currency="DKK",
        description="London Design Studio Ltd · invoice",
        reference="NS-2026-000030",
        lines=[
            EntryLine(account="6300", debit=50000, currency="DKK", role="expense", tax_code="E0"),
            EntryLine(account=ap, credit=50000, currency="DKK", role="payable"),
        ],
        vendor=vendor,
        vendor_name=vendor.name,
        vendor_code=vendor.vendor_id,
        ap_account=ap,
        supplier_amount=Money("GBP", 5800),
        invoice=InvoiceDetails(
            number=number,
            invoice_date=date(2026, 8, 25),
            status="pending_approval",
            due_date=date(2026, 9, 24),
        ),
    )


@pytest.mark.rule("C17")
def test_c17_invoice_and_later_payment_share_a_link(
    system: BeancountAccountingSystem, ledger_path: Path
) -> None:
    vendor = system.find_vendor(VendorKey(field="vendor.code", value="V1003"))
    assert vendor is not None
    invoice = _ap_invoice(uuid.uuid4(), vendor, "INV-2026/0042")
    system.post(invoice, [])
    payment = SupplierPayment(
        accounting_entry_id=uuid.uuid4(),
        posting_date=date(2026, 9, 20),
        currency="DKK",
        description="London Design Studio Ltd · payment",
        reference="NS-2026-000031",
        lines=[
            EntryLine(account=vendor.ap_account or "", debit=50000, currency="DKK", role="payable"),
            EntryLine(account="5810", credit=50000, currency="DKK", role="counter"),
        ],
        vendor=vendor,
        vendor_name=vendor.name,
        vendor_code="V1003",
        ap_account=vendor.ap_account or "",
        paid_from="5810",
        amount=Money("DKK", 50000),
        invoice_number="INV-2026/0042",
    )
    system.post(payment, [])
    inv_txn = txn_for(ledger_path, invoice.accounting_entry_id)
    pay_txn = txn_for(ledger_path, payment.accounting_entry_id)
    shared: set[str] = set(inv_txn.links or ()) & set(pay_txn.links or ())
    assert shared == {"inv-V1003-INV-2026/0042"}
    assert inv_txn.meta["pleo-invoice-number"] == "INV-2026/0042"
    assert inv_txn.meta["pleo-invoice-due-date"] == "2026-09-24"
    assert pay_txn.meta["pleo-kind"] == "supplier_payment"
    # The vendor's payable is settled: its balance over both transactions is zero.
    ap = vendor.ap_account
    total = sum(n for t in (inv_txn, pay_txn) for a, n, _ in postings(t) if a == ap)
    assert total == 0


@pytest.mark.rule("C16")
def test_c16_credit_note_renders(system: BeancountAccountingSystem, ledger_path: Path) -> None:
    vendor = system.find_vendor(VendorKey(field="vendor.code", value="V1001"))
    assert vendor is not None
    ap = vendor.ap_account or ""
    note = CreditNote(
        accounting_entry_id=uuid.uuid4(),
        posting_date=DAY,
        currency="DKK",
        description="Nordic Office Supplies A/S · refund",
        reference="NS-2026-000040",
        lines=[
            EntryLine(account="6110", credit=8000, currency="DKK", role="expense", tax_code="I25"),
            EntryLine(account="7800", credit=2000, currency="DKK", role="tax", tax_code="I25"),
            EntryLine(account=ap, debit=10000, currency="DKK", role="payable"),
            EntryLine(account="5810", debit=10000, currency="DKK", role="counter"),
            EntryLine(account=ap, credit=10000, currency="DKK", role="payable"),
        ],
        vendor=vendor,
        vendor_name=vendor.name,
        vendor_code="V1001",
        ap_account=ap,
        supplier_amount=Money("DKK", 10000),
        refunded_to="5810",
    )
    system.post(note, [])
    txn = txn_for(ledger_path, note.accounting_entry_id)
    assert txn.meta["pleo-kind"] == "credit_note"
    assert ("Expenses:Office-Supplies", Decimal("-80.00"), "DKK") in postings(txn)
    assert ("Assets:Pleo-Wallet-DKK", Decimal("100.00"), "DKK") in postings(txn)


def test_implicit_vat_is_split_by_the_ledger_tax_code(
    system: BeancountAccountingSystem, ledger_path: Path
) -> None:
    entry = JournalEntry(
        accounting_entry_id=uuid.uuid4(),
        posting_date=DAY,
        currency="DKK",
        description="implicit VAT",
        reference="NS-1",
        lines=[
            EntryLine(
                account="6010",
                debit=12500,
                currency="DKK",
                role="expense",
                tax_code="I25",
                tax_amount=2500,
            ),
            EntryLine(account="5810", credit=12500, currency="DKK", role="counter"),
        ],
    )
    system.post(entry, [])
    assert postings(txn_for(ledger_path, entry.accounting_entry_id)) == [
        ("Expenses:Travel", Decimal("100.00"), "DKK"),
        ("Assets:Input-VAT", Decimal("25.00"), "DKK"),
        ("Assets:Pleo-Wallet-DKK", Decimal("-125.00"), "DKK"),
    ]


def test_hostile_text_stays_inside_strings(
    system: BeancountAccountingSystem, ledger_path: Path
) -> None:
    evil = 'x"\n2026-01-01 open Assets:Evil\n; \\ \t\x00 ünï ^link #tag'
    entry = journal(description=evil)
    system.post(entry, [])
    entries = load_clean(ledger_path)
    assert not any(isinstance(e, data.Open) and e.account == "Assets:Evil" for e in entries)
    assert txn_for(ledger_path, entry.accounting_entry_id).narration == evil.replace("\x00", " ")


# --- validation against the ledger --------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "failure_type"),
    [
        ({"account": "9999"}, UnknownAccountError, "account_unknown"),
        ({"account": "6990"}, UnknownAccountError, "account_unknown"),  # closed account
        ({"tax_code": "SE12"}, UnknownTaxCodeError, "tax_code_unknown"),
        ({"tax_code": "I25OLD"}, UnknownTaxCodeError, "tax_code_unknown"),  # inactive
        ({"dims": [EntryDimension("DEPT", "SALES")]}, UnknownDimensionError, "tag_unknown"),
        ({"dims": [EntryDimension("DEPT", "LEGAL")]}, UnknownDimensionError, "tag_unknown"),
        ({"dims": [EntryDimension("REGION", "DACH")]}, UnknownDimensionError, "tag_unknown"),
    ],
)
def test_unknown_or_inactive_references_fail_with_their_type(
    system: BeancountAccountingSystem,
    ledger_path: Path,
    kwargs: dict[str, Any],
    error: type[Exception],
    failure_type: str,
) -> None:
    before = ledger_path.read_bytes()
    with pytest.raises(error) as info:
        system.post(journal(**kwargs), [])
    assert info.value.failure_type == failure_type  # type: ignore[attr-defined]
    assert ledger_path.read_bytes() == before


def test_two_values_of_one_dimension_on_a_line_are_refused(
    system: BeancountAccountingSystem, ledger_path: Path
) -> None:
    before = ledger_path.read_bytes()
    dims = [EntryDimension("DEPT", "ENG"), EntryDimension("dept", "MKT")]
    with pytest.raises(EntryRejected, match="two tags of group DEPT"):
        system.post(journal(dims=dims), [])
    assert ledger_path.read_bytes() == before
    # The same value twice (different case) is one dimension value, not a conflict.
    entry = journal(dims=[EntryDimension("DEPT", "ENG"), EntryDimension("dept", "eng")])
    system.post(entry, [])
    assert (
        posting_meta(txn_for(ledger_path, entry.accounting_entry_id), 0)["pleo-dim-DEPT"] == "ENG"
    )


@pytest.mark.rule("C21")
def test_c21_closed_period_refused_with_validation_failure(
    system: BeancountAccountingSystem, ledger_path: Path
) -> None:
    before = ledger_path.read_bytes()
    assert not system.is_period_open(date(2026, 6, 30))  # the lock date itself is closed
    assert system.is_period_open(date(2026, 7, 1))
    assert system.next_open_date(date(2026, 5, 20)) == date(2026, 7, 1)
    assert system.next_open_date(date(2026, 8, 1)) == date(2026, 8, 1)
    with pytest.raises(ClosedPeriodError) as info:
        system.post(journal(day=date(2026, 5, 20)), [])
    assert info.value.failure_type == "accounting_system_validation_failure"  # B15
    assert info.value.next_open == date(2026, 7, 1)
    assert "2026-06-30" in info.value.message
    assert ledger_path.read_bytes() == before


def test_paranoid_mode_refuses_an_entry_beancount_rejects(
    ledger_path: Path, tmp_path: Path
) -> None:
    # A balance assertion the new posting would break: only Beancount itself can tell.
    with ledger_path.open("a", encoding="utf-8") as fh:
        fh.write("\n2026-12-31 balance Assets:Pleo-Wallet-DKK  0 DKK\n")
    system = BeancountAccountingSystem(ledger_path)
    before = ledger_path.read_bytes()
    entry = journal()
    receipt = attachment(tmp_path, entry.accounting_entry_id, 0, make_pdf("r"))
    with pytest.raises(EntryRejected) as info:
        system.post(entry, [receipt])
    assert info.value.failure_type == "accounting_system_validation_failure"
    assert "Balance failed" in info.value.message or "balance" in info.value.message.lower()
    assert ledger_path.read_bytes() == before
    assert list((ledger_path.parent / "documents").rglob("*.pdf")) == []  # receipt removed
    assert system.find_posted(entry.accounting_entry_id) is None


# --- exactly once -------------------------------------------------------------------------


def test_decision5_post_twice_books_once(
    system: BeancountAccountingSystem, ledger_path: Path
) -> None:
    entry = journal()
    assert system.find_posted(entry.accounting_entry_id) is None
    first = system.post(entry, [])
    again = BeancountAccountingSystem(ledger_path).post(entry, [])  # a fresh process's view
    assert first == again
    assert system.find_posted(entry.accounting_entry_id) == first
    assert len(transactions(ledger_path)) == 1


def test_fast_mode_books_once_and_sees_edits_made_without_the_lock(ledger_path: Path) -> None:
    """paranoid=False parses only the new text; the index stays right across appends."""
    system = BeancountAccountingSystem(ledger_path, paranoid=False)
    first, second = journal(), journal()
    system.post(first, [])
    system.post(first, [])
    # Someone appends by hand (no lock): the cached index must notice, not get stale.
    with ledger_path.open("a", encoding="utf-8") as fh:
        fh.write('\n2026-09-02 * "manual"\n  Expenses:Travel  1 DKK\n  Assets:Pleo-Wallet-DKK\n')
    system.post(second, [])
    system.post(second, [])
    assert system.find_posted(second.accounting_entry_id) is not None
    txns = transactions(ledger_path)
    assert len(txns) == 3
    assert sum("pleo-accounting-entry-id" in (t.meta or {}) for t in txns) == 2


def test_fast_mode_still_refuses_text_that_does_not_parse(ledger_path: Path) -> None:
    system = BeancountAccountingSystem(ledger_path, paranoid=False)
    before = ledger_path.read_bytes()
    with system.ledger.exclusive(), pytest.raises(LedgerErrors, match="does not parse"):
        system.ledger.append('2026-09-01 * "unterminated\n')
    assert ledger_path.read_bytes() == before


def test_concurrent_threads_book_once(ledger_path: Path) -> None:
    entry = journal()
    results: list[object] = []
    barrier = threading.Barrier(6)

    def worker() -> None:
        own = BeancountAccountingSystem(ledger_path)  # separate instances, shared file
        barrier.wait(5)
        results.append(own.post(entry, []))

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == 6
    assert len(set(map(repr, results))) == 1
    assert len(transactions(ledger_path)) == 1


def _post_in_child(path: str, entry_id: str, extra: int) -> None:
    system = BeancountAccountingSystem(path)
    system.post(journal(entry_id=uuid.UUID(entry_id)), [])
    system.post(journal(amount=5000 + extra, vat=0), [])  # one distinct entry per process


def test_concurrent_processes_book_once(ledger_path: Path) -> None:
    entry_id = str(uuid.uuid4())
    procs = [
        PROCESSES.Process(target=_post_in_child, args=(str(ledger_path), entry_id, n))
        for n in range(3)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    txns = transactions(ledger_path)
    assert sum(1 for t in txns if t.meta["pleo-accounting-entry-id"] == entry_id) == 1
    assert len(txns) == 4  # the shared entry once + one distinct entry per process


# --- atomicity ----------------------------------------------------------------------------


def _crash_during_replace(path: str, entry_id: str) -> None:
    """Die (no cleanup, like a power cut) after the temp file is written, before the rename."""
    with mock.patch.object(os, "replace", side_effect=lambda *_a: os._exit(17)):
        BeancountAccountingSystem(path).post(journal(entry_id=uuid.UUID(entry_id)), [])


def test_crash_between_temp_write_and_replace_leaves_the_ledger_intact(
    ledger_path: Path,
) -> None:
    before = ledger_path.read_bytes()
    entry_id = str(uuid.uuid4())
    proc = PROCESSES.Process(target=_crash_during_replace, args=(str(ledger_path), entry_id))
    proc.start()
    proc.join(60)
    assert proc.exitcode == 17
    assert ledger_path.read_bytes() == before  # the original, byte for byte
    leftovers = [p for p in ledger_path.parent.iterdir() if p.name.endswith(_atomic.TEMP_SUFFIX)]
    assert leftovers, "the crashed writer's temp file is still there"
    # The retry after the crash books the entry once and sweeps the leftover.
    system = BeancountAccountingSystem(ledger_path)
    assert system.find_posted(uuid.UUID(entry_id)) is None
    system.post(journal(entry_id=uuid.UUID(entry_id)), [])
    assert len(transactions(ledger_path)) == 1
    assert not any(p.name.endswith(_atomic.TEMP_SUFFIX) for p in ledger_path.parent.iterdir())


def test_failed_write_leaves_ledger_and_documents_untouched(
    system: BeancountAccountingSystem,
    ledger_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = ledger_path.read_bytes()
    entry = journal()
    receipt = attachment(tmp_path, entry.accounting_entry_id, 0, make_pdf("r"))
    original_replace = os.replace

    def failing_replace(src: Any, dst: Any) -> None:
        if str(dst) == str(ledger_path):
            raise OSError(28, "No space left on device")
        original_replace(src, dst)  # receipts still land

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(AccountingSystemUnavailable):
        system.post(entry, [receipt])
    monkeypatch.undo()
    assert ledger_path.read_bytes() == before
    assert list((ledger_path.parent / "documents").rglob("*.pdf")) == []
    assert sorted(p.name for p in ledger_path.parent.iterdir()) == [
        "documents",
        "ledger.beancount",
        "ledger.beancount.lock",
    ]


def test_lock_held_elsewhere_times_out_as_accounting_system_timeout(ledger_path: Path) -> None:
    now = [0.0]

    def fake_sleep(seconds: float) -> None:
        now[0] += seconds

    holder = BeancountAccountingSystem(ledger_path)
    waiter = BeancountAccountingSystem(
        str(ledger_path), lock_timeout=2.0, clock=lambda: now[0], sleep=fake_sleep
    )
    with holder.ledger.exclusive():
        # Same path → same in-process lock; the waiter gives up on the injected clock.
        done: list[BaseException] = []

        def attempt() -> None:
            try:
                waiter.post(journal(), [])
            except BaseException as error:
                done.append(error)

        thread = threading.Thread(target=attempt)
        thread.start()
        thread.join(10)
    assert done
    assert isinstance(done[0], AccountingSystemTimeout)
    assert done[0].failure_type == "accounting_system_timeout"


# --- receipts -----------------------------------------------------------------------------


def test_receipts_stored_with_generated_names_and_linked(
    system: BeancountAccountingSystem, ledger_path: Path, tmp_path: Path
) -> None:
    entry = journal()
    eid = entry.accounting_entry_id
    files = [
        attachment(tmp_path, eid, 0, make_pdf("one"), filename="../../../etc/passwd"),
        attachment(tmp_path, eid, 1, make_png(4, 4, (1, 2, 3)), content_type="image/png"),
        attachment(tmp_path, eid, 2, make_jpeg(8, 8), content_type="image/jpeg; q=1"),
    ]
    posted = system.post(entry, files)
    assert posted.attachment_keys == {f"{eid}:0", f"{eid}:1", f"{eid}:2"}
    docs = [e for e in load_clean(ledger_path) if isinstance(e, data.Document)]
    assert len(docs) == 3
    root = (ledger_path.parent / "documents").resolve()
    for doc, extension in zip(
        sorted(docs, key=lambda d: d.filename), ["pdf", "png", "jpg"], strict=True
    ):
        stored = Path(doc.filename).resolve()
        assert root in stored.parents  # never outside documents/
        assert stored.parent == root / "Expenses" / "Travel"
        assert stored.name.startswith("2026-09-01.pleo-")
        assert stored.suffix == f".{extension}"
        assert "passwd" not in stored.name
        assert f"pleo-{eid}" in (doc.links or frozenset())
    assert not (tmp_path / "etc").exists()


def test_attach_adds_only_missing_receipts(
    system: BeancountAccountingSystem, ledger_path: Path, tmp_path: Path
) -> None:
    entry = journal()
    eid = entry.accounting_entry_id
    first = attachment(tmp_path, eid, 0, make_pdf("one"))
    posted = system.post(entry, [first])
    second = attachment(tmp_path, eid, 1, make_pdf("two"))
    updated = system.attach(posted, [first, second])
    assert updated.attachment_keys == {f"{eid}:0", f"{eid}:1"}
    again = system.attach(updated, [first, second])
    assert again == updated
    assert sum(isinstance(e, data.Document) for e in load_clean(ledger_path)) == 2


@pytest.mark.parametrize(
    ("content", "overrides", "error", "failure_type"),
    [
        (
            b"<html>hi</html>",
            {"content_type": "text/html"},
            ReceiptConversionError,
            "receipt_conversion_failure",
        ),
        (
            make_pdf("x"),
            {"size": 31 * 1024 * 1024},
            ReceiptTooLargeError,
            "receipt_file_size_limit_exceeded",
        ),
        (make_pdf("x"), {"sha256": "0" * 64}, ReceiptUploadError, "receipt_upload_failure"),
    ],
)
def test_bad_receipts_fail_the_item_and_write_nothing(
    system: BeancountAccountingSystem,
    ledger_path: Path,
    tmp_path: Path,
    content: bytes,
    overrides: dict[str, Any],
    error: type[Exception],
    failure_type: str,
) -> None:
    before = ledger_path.read_bytes()
    entry = journal()
    bad = attachment(tmp_path, entry.accounting_entry_id, 0, content, **overrides)
    with pytest.raises(error) as info:
        system.post(entry, [bad])
    assert info.value.failure_type == failure_type  # type: ignore[attr-defined]
    assert ledger_path.read_bytes() == before
    assert not (ledger_path.parent / "documents").exists()


def test_fava_url_is_reported(ledger_path: Path) -> None:
    system = BeancountAccountingSystem(ledger_path, fava_url="http://127.0.0.1:5000/books/")
    posted = system.post(journal(), [])
    assert posted.url == (
        f"http://127.0.0.1:5000/books/journal/?filter=%5Epleo-{posted.accounting_entry_id}"
    )


def test_receipt_temp_files_of_a_killed_writer_are_swept_on_the_next_run(
    ledger_path: Path,
) -> None:
    """A kill while a receipt is written leaves ``documents/…/.<name>.<random>.pleo-tmp``; the
    next run's first write (under the ledger lock) removes it, and nothing else."""
    folder = ledger_path.parent / "documents" / "Expenses" / "Food"
    folder.mkdir(parents=True)
    receipt = folder / "2024-03-15.pleo-x-1.pdf"
    receipt.write_bytes(b"%PDF-1.4 kept")
    hidden = folder / ".notes.txt"  # someone else's hidden file: not ours to delete
    hidden.write_text("kept")
    leftover = _atomic.write_temp(folder / "2024-03-16.pleo-y-1.pdf", b"%PDF-1.4 half")
    assert leftover.name.endswith(_atomic.TEMP_SUFFIX)
    system = BeancountAccountingSystem(ledger_path)
    system.post(journal(), [])
    assert not leftover.exists()
    assert receipt.read_bytes() == b"%PDF-1.4 kept"
    assert hidden.read_text() == "kept"
