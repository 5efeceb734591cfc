"""The AP-documents example, end to end: Pleo sandbox → export → bills, payments and lots.

Also checks that the tutorial's section quotes ``ap_books.py`` verbatim, so the code a reader
copies is the code that ran here.
"""

from __future__ import annotations

import re
import sys
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))  # the example's module sits beside this file

from ap_books import APBooks

from pleo_erp.orchestration.export import export_expenses
from pleo_erp.testing.sandbox import PleoSandbox

HERE = Path(__file__).parent
TUTORIAL = HERE.parent.parent / "docs" / "tutorial-adapter.md"


def _money(value: int) -> dict[str, Any]:
    return {"currency": "SEK", "value": value}


def _item(item_type: str, value: int, *, invoice_number: str | None = None) -> dict[str, Any]:
    """A vendor-tagged export item under accounts payable: 80 % net on 5410, 25 % VAT."""
    vat = value // 5
    amount = {"inWalletCurrency": _money(value), "inSupplierCurrency": _money(value)}
    invoice = None
    if invoice_number is not None:
        invoice = {
            "invoiceDate": "2024-03-01T00:00:00Z",
            "invoiceNumber": invoice_number,
            "status": "pending",
            "dueDate": "2024-03-31T00:00:00Z",
            "paymentDate": None,
            "supplierBankAccount": None,
        }
    return {
        "_links": {"web": {"exportItem": "https://app.example/x"}},
        "accountingEntryId": str(uuid.uuid4()),
        "accountingEntryLines": [
            {
                "accountingEntryLineId": str(uuid.uuid4()),
                "lineAmount": amount,
                "netAmount": {
                    "inWalletCurrency": _money(value - vat),
                    "inSupplierCurrency": _money(value - vat),
                },
                "account": {"id": str(uuid.uuid4()), "name": "Office", "code": "5410"},
                "tax": {
                    "amount": {"inWalletCurrency": _money(vat), "inSupplierCurrency": _money(vat)},
                    "id": str(uuid.uuid4()),
                    "rate": 0.25,
                    "type": "inclusive",
                    "code": "VAT25",
                },
                "tags": [],
            }
        ],
        "additionalInformation": {"reconciliationId": "R-1", "invoiceInformation": invoice},
        "amount": amount,
        "date": "2024-03-15T10:00:00Z",
        "type": item_type,
        "bookkeeping": {"method": "accounts_payable"},
        "contraAccount": {"id": str(uuid.uuid4()), "name": "Pleo SEK", "code": "1930"},
        "vendor": {
            "id": str(uuid.uuid4()),
            "name": "Staples",
            "code": "V-STAPLES",
            "defaultCurrency": "SEK",
        },
        "supplier": {"name": "Staples", "code": None},
        "user": {"id": str(uuid.uuid4()), "name": "Jane Doe", "code": "E1"},
        "note": "Printer paper",
        "files": [],
    }


def test_settled_purchase_becomes_a_bill_a_payment_and_a_closed_lot() -> None:
    sandbox = PleoSandbox(seed=11)
    company = sandbox.add_company("AP Books AB")
    purchase = _item("card_purchase", 12500)
    unpaid = _item("invoice", 50000, invoice_number="INV-77")
    sandbox.create_export_job(company, [purchase, unpaid], vendor_based_bookkeeping=True)
    books = APBooks(vendors={"V-STAPLES": "VEND-1"})

    report = export_expenses(sandbox.client(), books, company_id=company)

    assert report.ok, report.summary()
    assert len(books.bills) == 2
    bills = {bill.reference: bill for bill in books.bills.values()}
    paid_bill = bills[purchase["accountingEntryId"]]
    assert paid_bill.vendor_id == "VEND-1"
    assert paid_bill.payable_account == "2440"
    assert paid_bill.total == Decimal("125.00")
    assert sorted(paid_bill.items) == [
        ("2640", Decimal("25.00"), "VAT25"),
        ("5410", Decimal("100.00"), "VAT25"),
    ]
    (payment,) = books.payments.values()
    assert (payment.paid_from, payment.amount) == ("1930", Decimal("125.00"))
    assert books.lots[paid_bill.bill_id].open_amount == 0  # the lot is closed
    open_bill = bills[unpaid["accountingEntryId"]]
    assert open_bill.number == "INV-77"
    assert books.lots[open_bill.bill_id].open_amount == Decimal("500.00")  # awaits its payment
    # Exactly once: a second run books nothing.
    again = export_expenses(sandbox.client(), books, company_id=company)
    assert again.jobs == ()
    assert len(books.bills) == 2


def test_the_tutorial_quotes_this_example_verbatim() -> None:
    tutorial = TUTORIAL.read_text(encoding="utf-8")
    section = tutorial[tutorial.index("## AP-native systems: bills, payments and lots") :]
    block = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert block is not None
    source = (HERE / "ap_books.py").read_text(encoding="utf-8")
    start = source.index("    # --8<-- [start:post]\n") + len("    # --8<-- [start:post]\n")
    end = source.index("    # --8<-- [end:post]")
    quoted = "\n".join(line[4:] if line.strip() else "" for line in source[start:end].splitlines())
    assert block.group(1).strip() == quoted.strip()
