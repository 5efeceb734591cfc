"""The demo scenario as data: the three export jobs of *Nordlys Studio ApS*, item by item.

Each :class:`Item` says what Pleo holds for one export item (type, date, lines with account,
gross amount, tax code and tags, merchant, vendor, employee, receipts, invoice information) and
what a correct integration does with it (:attr:`Item.expect`: ``None`` for success, else the
item ``failureReasonType`` it must report). Each :class:`Job` carries its expected final
status. :func:`pleo_erp.testing.sandbox.demo.build_demo` turns this table into spec-shaped JSON
(ids, amounts in both currencies, tax, receipts) with one seeded RNG; the table itself has no
randomness, so adding or changing an item is a one-place edit here. The module docstring of
:mod:`pleo_erp.testing.sandbox.demo` describes the company and what each job exercises.

Names refer to the demo's tables: account codes, tax codes and ``(dimension, value)`` tags of
the chart, vendor codes (``V1001``…), employee codes (``E001``…), merchant keys (``juice``…)
and bank keys (``GB``, ``DE``).
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Final

from attrs import Factory, define, field

__all__ = [
    "BANKS",
    "JOBS",
    "NO_FILES_LIST",
    "OFF_WALLET",
    "Invoice",
    "Item",
    "Job",
    "Line",
    "sept",
]

Tag = tuple[str, str]

#: Item types without a ``files`` list by default: Pleo's own charges and credits, wallet
#: transfers, mileage and payroll reimbursements have no receipt behind them.
NO_FILES_LIST: Final = frozenset(
    {"cashback", "fee", "wallet_topup", "wallet_unload", "mileage", "external_reimbursement",
     "overdraft"}
)  # fmt: skip
#: Item types paid outside the Pleo wallet: no balancing (contra) account by default.
OFF_WALLET: Final = frozenset(
    {"out_of_pocket", "mileage", "per_diem", "invoice", "external_reimbursement"}
)


@define(frozen=True)
class Line:
    """One accounting-entry line: account code (``None`` = missing), gross amount in supplier
    minor units, tax code and ``(dimension, value)`` tags."""

    account: str | None
    gross: int
    tax: str | None = None
    tags: tuple[Tag, ...] = ()


@define(frozen=True)
class Invoice:
    """``invoiceInformation`` of an invoice-type item; ``bank`` is a key of :data:`BANKS`."""

    number: str
    issued: date
    status: str
    due: date | None = None
    paid: date | None = None
    bank: str | None = None


@define(frozen=True)
class Item:
    """One export item of the scenario and its expected outcome.

    ``merchant`` is a key of the demo's merchants (the ``supplier`` object; ``supplier_code``
    sets its ``code``), ``user`` an employee code, ``files`` the number of receipts (``None``:
    the item has no ``files`` list at all; default: one receipt, and no list for the types in
    :data:`NO_FILES_LIST`), ``contra`` whether the item carries the balancing (contra) account
    (default: every type but those in :data:`OFF_WALLET`), ``reconciled`` the :attr:`name` of
    earlier items whose reconciliation ids this one settles. ``expect`` is the
    ``failureReasonType`` a correct integration reports with default configuration, ``None``
    when it must succeed. A row states only what differs from these defaults.
    """

    type: str
    when: datetime
    lines: tuple[Line, ...]
    name: str | None = None
    currency: str = "DKK"
    sub_type: str | None = None
    method: str | None = None
    vendor: str | None = None
    merchant: str | None = None
    supplier_code: str | None = None
    user: str | None = None
    note: str | None = None
    files: int | None = field(
        default=Factory(lambda self: None if self.type in NO_FILES_LIST else 1, takes_self=True)
    )
    contra: bool = field(default=Factory(lambda self: self.type not in OFF_WALLET, takes_self=True))
    invoice: Invoice | None = None
    reconciled: tuple[str, ...] | None = None
    attendees: tuple[str, ...] | None = None
    service_period: tuple[date, date] | None = None
    expect: str | None = None


@define(frozen=True)
class Job:
    """One ``pending`` export job: created ``minutes_before`` the demo's ``BASE_TIME`` by
    employee ``created_by`` (``None``: not interactive), with its expected final status."""

    title: str
    minutes_before: int
    vendor_based: bool
    created_by: str | None
    expected_status: str
    items: tuple[Item, ...]


def sept(day: int, hour: int = 10, minute: int = 0) -> datetime:
    """A moment in September 2026 (UTC), the month every scenario item falls in."""
    return datetime(2026, 9, day, hour, minute, tzinfo=timezone.utc)


BANKS: Final[dict[str, dict[str, str | None]]] = {
    "GB": {
        "bankName": "Barclays Bank UK",
        "country": "GB",
        "accountNumber": "55555555",
        "bankCode": "202015",
        "bic": "BUKBGB22",
        "iban": "GB33BUKB20201555555555",
    },
    "DE": {
        "bankName": "Deutsche Bank",
        "country": "DE",
        "accountNumber": None,
        "bankCode": "10070000",
        "bic": "DEUTDEBBXXX",
        "iban": "DE89370400440532013000",
    },
}

ENG: Final = (("DEPT", "ENG"),)
ENG_ALPHA: Final = (("DEPT", "ENG"), ("PROJ", "P-ALPHA"))

#: London Design Studio's invoice, paid within September: exported with its payment in job 2.
LDS_INVOICE: Final = Invoice(
    "LDS-2026-0912",
    date(2026, 9, 5),
    "paid",
    due=date(2026, 10, 5),
    paid=date(2026, 9, 20),
    bank="GB",
)
#: Berlin Hardware's invoice: exported scheduled in job 2, its payment arrives in job 3.
BERLIN_INVOICE: Final = Invoice(
    "BH-44821", date(2026, 9, 7), "scheduled", due=date(2026, 10, 7), bank="DE"
)
BERLIN_INVOICE_PAID: Final = Invoice(
    "BH-44821", date(2026, 9, 7), "paid", due=date(2026, 10, 7), paid=date(2026, 9, 29), bank="DE"
)

# Job 1: legacy (no vendor bookkeeping); every card and wallet type, all valid.
_CARD_SPEND: Final = (
    Item(
        name="lunch",
        type="card_purchase",
        when=sept(2, 12, 41),
        lines=(Line("6020", 18900, "I25", ENG_ALPHA),),
        merchant="juice",
        user="E002",
        note="Lunch with client",
        attendees=("Lars Nielsen", "Anna Berg (Fjord Media)"),
    ),
    Item(
        name="hotel_sek",
        type="card_purchase",
        when=sept(4, 7, 15),
        currency="SEK",
        lines=(Line("6030", 349600, "E0", (("CC", "CC200"), ("PROJ", "P-BETA"))),),
        merchant="scandic",
        user="E003",
        note="2 nights, Stockholm partner meetings (foreign VAT not deductible)",
    ),
    Item(
        name="hotel_eur",
        type="card_purchase",
        when=sept(15, 8, 2),
        currency="EUR",
        lines=(
            Line("6030", 38000, "E0", (("DEPT", "ENG"), ("CC", "CC400"))),
            Line("6020", 8650, "E0", (("DEPT", "ENG"), ("PROJ", "P-BETA"))),
        ),
        merchant="adlon",
        user="E005",
        files=2,
        note="Room and team dinner, Berlin workshop",
    ),
    Item(
        name="pret",
        type="card_purchase",
        when=sept(8, 12, 5),
        currency="GBP",
        lines=(Line("6020", 1245, "E0", (("DEPT", "MKT"), ("CC", "CC300"))),),
        merchant="pret",
        user="E004",
    ),
    Item(
        name="books_jpy",
        type="card_purchase",
        when=sept(9, 3, 30),
        currency="JPY",
        lines=(Line("6110", 4800, "E0", (("DEPT", "ENG"),)),),
        merchant="tokyo",
        user="E002",
        files=0,
        note="Reference books (JPY has no minor unit)",
    ),
    Item(
        name="laptop_split",
        type="card_purchase",
        when=sept(10, 14, 22),
        lines=(
            Line("6120", 1249900, "I25", (("DEPT", "ENG"), ("CC", "CC100"))),
            Line("6110", 29900, "I25", (("DEPT", "ENG"), ("PROJ", "P-ALPHA"))),
            Line("6500", 19900, "I25", (("DEPT", "FIN"), ("CC", "CC100"))),
        ),
        merchant="elgiganten",
        user="E002",
        files=3,
        note="New laptop, mouse and SIM plan for Lars",
    ),
    Item(
        name="refund",
        type="refund",
        when=sept(12, 11, 0),
        lines=(Line("6110", 29900, "I25", (("DEPT", "ENG"), ("PROJ", "P-ALPHA"))),),
        merchant="elgiganten",
        user="E002",
        note="Returned mouse",
    ),
    Item(
        name="chargeback",
        type="chargeback",
        when=sept(14, 9, 30),
        lines=(Line("6010", 24500, "I25", (("DEPT", "FIN"),)),),
        merchant="taxi",
        user="E001",
        files=0,
        note="Disputed duplicate taxi charge",
    ),
    Item(
        name="cashback",
        type="cashback",
        when=sept(30, 23, 0),
        lines=(Line("3900", 4312),),
        merchant="pleo",
        note="Pleo cashback September",
    ),
    Item(
        name="fx_fee",
        type="fee",
        when=sept(30, 23, 5),
        lines=(Line("6400", 1850, "E0"),),
        merchant="pleo",
        note="Foreign exchange fees September",
    ),
    Item(
        name="interest",
        type="fee",
        sub_type="interest",
        when=sept(30, 23, 10),
        lines=(Line("6410", 2375, "E0"),),
        merchant="pleo",
        note="Overdraft interest September",
    ),
    Item(
        name="atm",
        type="atm_withdrawal",
        when=sept(11, 17, 45),
        lines=(Line("5820", 100000),),
        merchant="atm",
        user="E001",
        files=0,
        note="Cash for team event float",
    ),
    Item(
        name="personal",
        type="personal_spend",
        when=sept(13, 18, 20),
        lines=(Line("5820", 8650),),
        merchant="netto",
        user="E002",
        files=0,
        note="Personal groceries paid with company card by mistake",
    ),
    Item(
        name="topup",
        type="wallet_topup",
        when=sept(1, 6, 0),
        lines=(Line("5830", 5000000),),
        note="Wallet top-up from Danske Bank operating account",
    ),
    Item(
        name="unload",
        type="wallet_unload",
        when=sept(29, 6, 0),
        lines=(Line("5830", 1000000),),
        note="Wallet unload to Danske Bank operating account",
    ),
    Item(
        name="taxi_oop",
        type="out_of_pocket",
        when=sept(3, 22, 10),
        lines=(Line("6010", 31200, "I25", (("DEPT", "FIN"), ("CC", "CC100"))),),
        merchant="taxi",
        user="E001",
        note="Taxi home after board meeting",
    ),
    Item(
        name="mileage",
        type="mileage",
        when=sept(16, 8, 0),
        lines=(Line("6040", 53818),),
        user="E002",
        note="Copenhagen - Odense client visit, 142 km at 3.79 DKK/km",
    ),
    Item(
        name="per_diem",
        type="per_diem",
        when=sept(15, 18, 0),
        lines=(Line("6050", 117000, "E0"),),
        user="E005",
        files=0,
        note="Per diem Berlin workshop 14-15 Sep, 2 days at 585 DKK",
    ),
)

# Job 2: vendor-based bookkeeping (journal / AP / none / null), all valid.
_VENDOR_BOOKKEEPING: Final = (
    Item(
        type="card_purchase",
        when=sept(5, 10, 12),
        method="journal",
        vendor="V1001",
        lines=(Line("6110", 84900, "I25", (("DEPT", "FIN"), ("CC", "CC100"))),),
        merchant="elgiganten",
        user="E001",
        note="Desk lamps and whiteboard markers",
    ),
    Item(
        type="card_purchase",
        when=sept(1, 0, 5),
        method="accounts_payable",
        vendor="V1002",
        currency="SEK",
        lines=(Line("6100", 120000, "RC25", (("PROJ", "P-ALPHA"), ("DEPT", "ENG"))),),
        merchant="cloud",
        supplier_code="V1001",
        user="E002",
        service_period=(date(2026, 9, 1), date(2026, 9, 30)),
        note="Cloud hosting September (EU reverse charge); supplier.code is stale (rule C2)",
    ),
    Item(
        type="invoice",
        when=sept(5, 9, 0),
        method="accounts_payable",
        vendor="V1003",
        currency="GBP",
        lines=(
            Line("6200", 240000, "RCS25", (("DEPT", "MKT"), ("PROJ", "P-ALPHA"))),
            Line("6300", 60000, "RCS25", (("DEPT", "MKT"), ("CC", "CC300"))),
        ),
        user="E004",
        invoice=LDS_INVOICE,
        note="Website design sprint and workshop facilitation",
    ),
    Item(
        type="invoice_payment",
        sub_type="invoice_payment_sent",
        when=sept(20, 9, 0),
        method="accounts_payable",
        vendor="V1003",
        currency="GBP",
        lines=(Line("7200", 300000),),
        files=0,
        invoice=LDS_INVOICE,
    ),
    Item(
        type="invoice",
        when=sept(7, 9, 0),
        method="accounts_payable",
        vendor="V1004",
        currency="EUR",
        lines=(Line("6120", 459000, "RC25", (("DEPT", "ENG"), ("CC", "CC400"))),),
        user="E005",
        files=2,
        invoice=BERLIN_INVOICE,
        note="Test devices for the Berlin office (paid in the next export)",
    ),
    Item(
        type="card_invoice",
        when=sept(18, 16, 0),
        method="accounts_payable",
        vendor="V1005",
        lines=(
            Line("6020", 540000, "I25", (("DEPT", "FIN"),)),
            Line("6020", 25000, "I25", (("DEPT", "FIN"), ("CC", "CC100"))),
        ),
        user="E001",
        invoice=Invoice("CC-7781", date(2026, 9, 18), "paid", paid=date(2026, 9, 18)),
        attendees=("All staff (23)",),
        note="Team offsite catering and delivery",
    ),
    Item(
        type="refund",
        when=sept(19, 10, 0),
        method="accounts_payable",
        vendor="V1001",
        lines=(Line("6110", 19900, "I25", (("DEPT", "FIN"), ("CC", "CC100"))),),
        merchant="elgiganten",
        user="E001",
        note="Credit note: returned whiteboard",
    ),
    Item(
        type="chargeback",
        when=sept(21, 9, 0),
        method="journal",
        lines=(Line("6010", 189500, "E0", (("DEPT", "MKT"), ("PROJ", "P-BETA"))),),
        merchant="sas",
        user="E004",
        files=0,
        note="Chargeback: flight cancelled by airline",
    ),
    Item(
        type="invoice_payment",
        sub_type="invoice_payment_returned",
        when=sept(22, 8, 0),
        method="accounts_payable",
        vendor="V1002",
        currency="SEK",
        lines=(Line("7200", 120000),),
        files=0,
        invoice=Invoice("SC-2026-118", date(2026, 8, 1), "failed_payment", due=date(2026, 8, 31)),
        note="Payment returned by the beneficiary bank (wrong IBAN)",
    ),
    Item(
        type="wallet_topup",
        when=sept(15, 6, 0),
        method="none",
        lines=(Line("5830", 2500000),),
        note="Wallet top-up from Danske Bank operating account",
    ),
    Item(
        type="wallet_unload",
        when=sept(28, 6, 0),
        method="accounts_payable",
        lines=(Line("5830", 500000),),
        note="Wallet unload (mis-tagged accounts_payable: still a journal entry, rule C1)",
    ),
    Item(
        type="direct_reimbursement",
        sub_type="reimbursement_to_employee",
        when=sept(24, 10, 0),
        lines=(Line("5820", 31200),),
        user="E001",
        files=0,
        reconciled=("taxi_oop",),
        note="Reimbursement of taxi expense",
    ),
    Item(
        type="direct_reimbursement",
        sub_type="reimbursement_to_company",
        when=sept(25, 10, 0),
        lines=(Line("5820", 8650),),
        user="E002",
        files=0,
        reconciled=("personal",),
        note="Lars paid back a personal purchase",
    ),
    Item(
        type="external_reimbursement",
        sub_type="reimbursement_to_employee",
        when=sept(30, 12, 0),
        lines=(Line("5820", 53818),),
        user="E002",
        reconciled=("mileage",),
        note="Mileage paid with September salary",
    ),
    Item(
        type="external_reimbursement",
        sub_type="reimbursement_to_employee_refund",
        when=sept(30, 12, 5),
        lines=(Line("5820", 100000),),
        user="E001",
        reconciled=("atm",),
        note="Unused cash float returned via payroll",
    ),
)

# Job 3: valid items plus the deliberate failures (``expect``).
_MONTH_END: Final = (
    Item(
        type="invoice_payment",
        sub_type="invoice_payment_sent",
        when=sept(29, 9, 0),
        method="accounts_payable",
        vendor="V1004",
        currency="EUR",
        lines=(Line("7200", 459000),),
        files=0,
        invoice=BERLIN_INVOICE_PAID,
        note="Payment of invoice BH-44821 (exported in the previous job)",
    ),
    Item(
        type="card_purchase",
        when=sept(26, 11, 0),
        method="journal",
        vendor="V1001",
        lines=(Line("6110", 45600, "I25", (("DEPT", "MKT"), ("CC", "CC100"))),),
        merchant="elgiganten",
        user="E004",
    ),
    Item(
        type="card_purchase",
        when=sept(26, 12, 30),
        lines=(Line("6020", 32000, "I25", (("DEPT", "FIN"),)),),
        merchant="lunch",
        supplier_code="V1005",
        user="E001",
        note="Legacy item: supplier.code names an AS vendor",
    ),
    Item(
        type="fee",
        when=sept(30, 23, 30),
        method="journal",
        lines=(Line("6100", 149900, "I25"),),
        merchant="pleo",
        files=1,
        note="Pleo Essential plan, October",
    ),
    Item(
        type="card_purchase",
        when=sept(27, 15, 0),
        method="journal",
        lines=(Line(None, 7500, "I25", ENG),),
        merchant="juice",
        user="E002",
        note="Category not set by the employee",
        expect="missing_configuration",
    ),
    Item(
        type="invoice",
        when=sept(27, 9, 0),
        method="accounts_payable",
        vendor="V9999",
        lines=(Line("6300", 1500000, "I25", ENG),),
        user="E002",
        invoice=Invoice("GC-001", date(2026, 9, 27), "paid", paid=date(2026, 9, 28)),
        note="Vendor not in the accounting system",
        expect="vendor_unknown",
    ),
    Item(
        type="card_purchase",
        when=sept(27, 16, 0),
        method="journal",
        lines=(Line("9999", 12500, "I25", ENG),),
        merchant="figma",
        user="E002",
        files=0,
        note="Booked on a Pleo-only account",
        expect="account_unknown",
    ),
    Item(
        type="card_purchase",
        when=sept(28, 7, 0),
        currency="SEK",
        method="journal",
        lines=(Line("6030", 189000, "SE12", (("CC", "CC200"),)),),
        merchant="scandic",
        user="E003",
        note="Tax code exists only in Pleo",
        expect="tax_code_unknown",
    ),
    Item(
        type="card_purchase",
        when=sept(28, 12, 0),
        method="journal",
        lines=(Line("6020", 42000, "I25", (("DEPT", "SALES"),)),),
        merchant="lunch",
        user="E003",
        attendees=("Sofia Lindqvist", "Prospect (2)"),
        note="Tagged with a department the AS does not have",
        expect="tag_unknown",
    ),
    Item(
        type="card_purchase",
        when=datetime(2026, 5, 20, 10, 0, tzinfo=timezone.utc),
        method="journal",
        lines=(Line("6200", 230000, "I25", (("DEPT", "MKT"),)),),
        merchant="google",
        user="E004",
        note="Late receipt: May is a closed period",
        expect="accounting_system_validation_failure",
    ),
    Item(
        type="overdraft",
        when=sept(30, 23, 45),
        method="journal",
        lines=(Line("6410", 980, "E0"),),
        merchant="pleo",
        note="Item type outside ExportItemTypeV3 (rule C28)",
        expect="validation_failure",
    ),
)

#: The scenario jobs, oldest first.
JOBS: Final = (
    Job("September card spend", 40, False, "E001", "completed", _CARD_SPEND),
    Job("Vendor bookkeeping", 30, True, "E001", "completed", _VENDOR_BOOKKEEPING),
    Job("Month-end with problems", 20, True, None, "completed_with_errors", _MONTH_END),
)
