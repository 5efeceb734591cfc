"""Export Items v3 (``GET /v3/export-items``): the data-layer payload of one expense.

An ``ExportItemV3`` is one accounting entry ready to be posted: its amounts (integer minor
units, in supplier and wallet currency), its lines (account, tags, tax per split), and the
optional vendor / supplier / user / team / bookkeeping / contra-account / attachment data.

Every v3 "This can be one of XxxV3 values" string is an *open* enum here: a field typed
``XxxV3 | str`` holds the enum member for a known value and the raw string for a value Pleo
added later, so a new value never breaks a page. The known values come from the spec's
examples and from Pleo's export item pages (erp-processing A2/A7 in docs/rules.md).
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from decimal import Decimal
from typing import TypeAlias

from attrs import define, field

from pleo_erp.models._fields import NULLABLE, NULLABLE_ITEMS, WIRE_NAME
from pleo_erp.models.common import CursorPage, MoneyModel

__all__ = [
    "AccountV3",
    "BookkeepingMethodV3",
    "BookkeepingV3",
    "ContraAccount",
    "CountryCode",
    "CursorPaginatedResponseExportItemV3",
    "ExportItemAdditionalInformationV3",
    "ExportItemAmountV3",
    "ExportItemFile",
    "ExportItemLineAmountV3",
    "ExportItemLineV3",
    "ExportItemNetAmountV3",
    "ExportItemSubTypeV3",
    "ExportItemTypeV3",
    "ExportItemUserV3",
    "ExportItemV3",
    "InvoiceInformationStatusV3",
    "InvoiceInformationV3",
    "LinksResponse",
    "ServicePeriodV3",
    "SupplierBankAccount",
    "SupplierV3",
    "TagV3",
    "TaxAmountV3",
    "TaxTypeV3",
    "TaxV3",
    "TeamV3",
    "VendorV3",
]


class ExportItemTypeV3(str, enum.Enum):
    """Kind of expense (``ExportItemV3.type``). Open: Pleo may send values not listed here."""

    CARD_PURCHASE = "card_purchase"
    CARD_INVOICE = "card_invoice"
    OUT_OF_POCKET = "out_of_pocket"
    MILEAGE = "mileage"
    PER_DIEM = "per_diem"
    EXTERNAL_REIMBURSEMENT = "external_reimbursement"
    DIRECT_REIMBURSEMENT = "direct_reimbursement"
    INVOICE = "invoice"
    INVOICE_PAYMENT = "invoice_payment"
    CHARGEBACK = "chargeback"
    REFUND = "refund"
    CASHBACK = "cashback"
    ATM_WITHDRAWAL = "atm_withdrawal"
    WALLET_TOPUP = "wallet_topup"
    WALLET_UNLOAD = "wallet_unload"
    PERSONAL_SPEND = "personal_spend"
    FEE = "fee"
    OVERDRAFT = "overdraft"


class ExportItemSubTypeV3(str, enum.Enum):
    """Refinement of the type (``ExportItemV3.sub_type``). Open enum."""

    REIMBURSEMENT_TO_EMPLOYEE_REFUND = "reimbursement_to_employee_refund"
    REIMBURSEMENT_TO_COMPANY = "reimbursement_to_company"
    REIMBURSEMENT_TO_EMPLOYEE = "reimbursement_to_employee"
    INVOICE_PAYMENT_RETURNED = "invoice_payment_returned"
    INVOICE_PAYMENT_SENT = "invoice_payment_sent"
    INTEREST = "interest"


class BookkeepingMethodV3(str, enum.Enum):
    """How the entry is booked (``BookkeepingV3.method``). Open enum."""

    NONE = "none"
    JOURNAL = "journal"
    ACCOUNTS_PAYABLE = "accounts_payable"


class TaxTypeV3(str, enum.Enum):
    """Tax treatment of a line (``TaxV3.type``). Open enum.

    ``inclusive``: the net amount includes the tax; ``exclusive``: it excludes it;
    ``reverse``: EU reverse-charge VAT (ingoing and outgoing tax accounts).
    """

    INCLUSIVE = "inclusive"
    EXCLUSIVE = "exclusive"
    REVERSE = "reverse"


class InvoiceInformationStatusV3(str, enum.Enum):
    """Status of a supplier invoice (``InvoiceInformationV3.status``). Open enum."""

    PENDING_APPROVAL = "pending_approval"
    PARSED = "parsed"
    PREPARING = "preparing"
    PREPARED = "prepared"
    READY = "ready"
    REJECTED_BY_APPROVER = "rejected_by_approver"
    MARKED_AS_PAID = "marked_as_paid"
    SCHEDULED = "scheduled"
    PAYMENT_IN_PROGRESS = "payment_in_progress"
    PAID = "paid"
    VOIDED_BY_USER = "voided_by_user"
    REJECTED_BY_USER = "rejected_by_user"
    FAILED_PAYMENT = "failed_payment"


class CountryCode(str, enum.Enum):
    """ISO 3166-1 alpha-2 country code as Pleo lists it (incl. ``UNDEFINED`` and a few
    reserved codes). Fields using it are open: an unlisted code is kept as a string."""

    UNDEFINED = "UNDEFINED"
    AC = "AC"
    AD = "AD"
    AE = "AE"
    AF = "AF"
    AG = "AG"
    AI = "AI"
    AL = "AL"
    AM = "AM"
    AN = "AN"
    AO = "AO"
    AQ = "AQ"
    AR = "AR"
    AS = "AS"
    AT = "AT"
    AU = "AU"
    AW = "AW"
    AX = "AX"
    AZ = "AZ"
    BA = "BA"
    BB = "BB"
    BD = "BD"
    BE = "BE"
    BF = "BF"
    BG = "BG"
    BH = "BH"
    BI = "BI"
    BJ = "BJ"
    BL = "BL"
    BM = "BM"
    BN = "BN"
    BO = "BO"
    BQ = "BQ"
    BR = "BR"
    BS = "BS"
    BT = "BT"
    BU = "BU"
    BV = "BV"
    BW = "BW"
    BY = "BY"
    BZ = "BZ"
    CA = "CA"
    CC = "CC"
    CD = "CD"
    CF = "CF"
    CG = "CG"
    CH = "CH"
    CI = "CI"
    CK = "CK"
    CL = "CL"
    CM = "CM"
    CN = "CN"
    CO = "CO"
    CP = "CP"
    CR = "CR"
    CS = "CS"
    CU = "CU"
    CV = "CV"
    CW = "CW"
    CX = "CX"
    CY = "CY"
    CZ = "CZ"
    DE = "DE"
    DG = "DG"
    DJ = "DJ"
    DK = "DK"
    DM = "DM"
    DO = "DO"
    DZ = "DZ"
    EA = "EA"
    EC = "EC"
    EE = "EE"
    EG = "EG"
    EH = "EH"
    ER = "ER"
    ES = "ES"
    ET = "ET"
    EU = "EU"
    EZ = "EZ"
    FI = "FI"
    FJ = "FJ"
    FK = "FK"
    FM = "FM"
    FO = "FO"
    FR = "FR"
    FX = "FX"
    GA = "GA"
    GB = "GB"
    GD = "GD"
    GE = "GE"
    GF = "GF"
    GG = "GG"
    GH = "GH"
    GI = "GI"
    GL = "GL"
    GM = "GM"
    GN = "GN"
    GP = "GP"
    GQ = "GQ"
    GR = "GR"
    GS = "GS"
    GT = "GT"
    GU = "GU"
    GW = "GW"
    GY = "GY"
    HK = "HK"
    HM = "HM"
    HN = "HN"
    HR = "HR"
    HT = "HT"
    HU = "HU"
    IC = "IC"
    ID = "ID"
    IE = "IE"
    IL = "IL"
    IM = "IM"
    IN = "IN"
    IO = "IO"
    IQ = "IQ"
    IR = "IR"
    IS = "IS"
    IT = "IT"
    JE = "JE"
    JM = "JM"
    JO = "JO"
    JP = "JP"
    KE = "KE"
    KG = "KG"
    KH = "KH"
    KI = "KI"
    KM = "KM"
    KN = "KN"
    KP = "KP"
    KR = "KR"
    KW = "KW"
    KY = "KY"
    KZ = "KZ"
    LA = "LA"
    LB = "LB"
    LC = "LC"
    LI = "LI"
    LK = "LK"
    LR = "LR"
    LS = "LS"
    LT = "LT"
    LU = "LU"
    LV = "LV"
    LY = "LY"
    MA = "MA"
    MC = "MC"
    MD = "MD"
    ME = "ME"
    MF = "MF"
    MG = "MG"
    MH = "MH"
    MK = "MK"
    ML = "ML"
    MM = "MM"
    MN = "MN"
    MO = "MO"
    MP = "MP"
    MQ = "MQ"
    MR = "MR"
    MS = "MS"
    MT = "MT"
    MU = "MU"
    MV = "MV"
    MW = "MW"
    MX = "MX"
    MY = "MY"
    MZ = "MZ"
    NA = "NA"
    NC = "NC"
    NE = "NE"
    NF = "NF"
    NG = "NG"
    NI = "NI"
    NL = "NL"
    NO = "NO"
    NP = "NP"
    NR = "NR"
    NT = "NT"
    NU = "NU"
    NZ = "NZ"
    OM = "OM"
    PA = "PA"
    PE = "PE"
    PF = "PF"
    PG = "PG"
    PH = "PH"
    PK = "PK"
    PL = "PL"
    PM = "PM"
    PN = "PN"
    PR = "PR"
    PS = "PS"
    PT = "PT"
    PW = "PW"
    PY = "PY"
    QA = "QA"
    RE = "RE"
    RO = "RO"
    RS = "RS"
    RU = "RU"
    RW = "RW"
    SA = "SA"
    SB = "SB"
    SC = "SC"
    SD = "SD"
    SE = "SE"
    SF = "SF"
    SG = "SG"
    SH = "SH"
    SI = "SI"
    SJ = "SJ"
    SK = "SK"
    SL = "SL"
    SM = "SM"
    SN = "SN"
    SO = "SO"
    SR = "SR"
    SS = "SS"
    ST = "ST"
    SU = "SU"
    SV = "SV"
    SX = "SX"
    SY = "SY"
    SZ = "SZ"
    TA = "TA"
    TC = "TC"
    TD = "TD"
    TF = "TF"
    TG = "TG"
    TH = "TH"
    TJ = "TJ"
    TK = "TK"
    TL = "TL"
    TM = "TM"
    TN = "TN"
    TO = "TO"
    TP = "TP"
    TR = "TR"
    TT = "TT"
    TV = "TV"
    TW = "TW"
    TZ = "TZ"
    UA = "UA"
    UG = "UG"
    UK = "UK"
    UM = "UM"
    US = "US"
    UY = "UY"
    UZ = "UZ"
    VA = "VA"
    VC = "VC"
    VE = "VE"
    VG = "VG"
    VI = "VI"
    VN = "VN"
    VU = "VU"
    WF = "WF"
    WS = "WS"
    XI = "XI"
    XU = "XU"
    XK = "XK"
    YE = "YE"
    YT = "YT"
    YU = "YU"
    ZA = "ZA"
    ZM = "ZM"
    ZR = "ZR"
    ZW = "ZW"


@define(frozen=True)
class LinksResponse:
    """Links to the item in Pleo's web app, mobile app and API (``{"exportItem": url}`` maps)."""

    api: dict[str, str] | None = None
    mobile: dict[str, str] | None = None
    web: dict[str, str] | None = None


@define(frozen=True)
class AccountV3:
    """The GL account a line is booked on: Pleo's ``id`` and ``name``, the ERP ``code`` (account
    number) and/or ``identifier`` (the ERP's own id), when mapped."""

    id: uuid.UUID
    name: str
    code: str | None = field(default=None, metadata=NULLABLE)
    identifier: str | None = field(default=None, metadata=NULLABLE)


@define(frozen=True)
class ContraAccount:
    """The balance-sheet account in the AS that matches the Pleo wallet the money moved in."""

    id: uuid.UUID
    name: str
    code: str | None = field(default=None, metadata=NULLABLE)
    identifier: str | None = field(default=None, metadata=NULLABLE)


@define(frozen=True)
class TagV3:
    """A tag on a line: ``group_code`` is the dimension, ``code`` the dimension value."""

    code: str
    group_code: str
    id: uuid.UUID


@define(frozen=True)
class TaxAmountV3:
    """Tax amount of a line in supplier and wallet currency."""

    in_supplier_currency: MoneyModel
    in_wallet_currency: MoneyModel


@define(frozen=True)
class TaxV3:
    """Tax of a line. ``rate`` is a fraction (``Decimal("0.2")`` is 20 %); ``type`` says whether
    the net amount includes the tax or whether it is reverse charge."""

    amount: TaxAmountV3
    id: uuid.UUID
    rate: Decimal
    type: TaxTypeV3 | str
    code: str | None = field(default=None, metadata=NULLABLE)
    ingoing_tax_account: str | None = None
    outgoing_tax_account: str | None = None


@define(frozen=True)
class ExportItemLineAmountV3:
    """Gross amount of one line in supplier and wallet currency."""

    in_supplier_currency: MoneyModel
    in_wallet_currency: MoneyModel


@define(frozen=True)
class ExportItemNetAmountV3:
    """Net amount of one line (with or without tax, depending on the tax type)."""

    in_supplier_currency: MoneyModel
    in_wallet_currency: MoneyModel


@define(frozen=True)
class ExportItemLineV3:
    """One split of the entry; an unsplit entry has exactly one line."""

    accounting_entry_line_id: uuid.UUID
    line_amount: ExportItemLineAmountV3
    net_amount: ExportItemNetAmountV3
    account: AccountV3 | None = field(default=None, metadata=NULLABLE)
    tags: tuple[TagV3, ...] | None = field(default=None, metadata=NULLABLE_ITEMS)
    tax: TaxV3 | None = field(default=None, metadata=NULLABLE)


@define(frozen=True)
class ExportItemAmountV3:
    """Total amount of the item in supplier and wallet currency."""

    in_supplier_currency: MoneyModel
    in_wallet_currency: MoneyModel


@define(frozen=True)
class BookkeepingV3:
    """The bookkeeping method assigned to the entry (present with vendor-based bookkeeping)."""

    method: BookkeepingMethodV3 | str


@define(frozen=True)
class ExportItemFile:
    """An attachment: a time-limited download ``url`` (24 h), MIME-like ``type``, ``size`` in
    bytes. The URL is untrusted input (see DESIGN.md decision 12)."""

    size: int
    type: str
    url: str


@define(frozen=True)
class SupplierBankAccount:
    """Bank account of an invoice's supplier."""

    bank_name: str
    country: CountryCode | str
    account_number: str | None = field(default=None, metadata=NULLABLE)
    bank_code: str | None = field(default=None, metadata=NULLABLE)
    bic: str | None = field(default=None, metadata=NULLABLE)
    iban: str | None = field(default=None, metadata=NULLABLE)


@define(frozen=True)
class InvoiceInformationV3:
    """Invoice details of an ``invoice`` item.

    The spec gives these dates ``format: date-time`` with the pattern ``YYYY-MM-DD``; they are
    calendar dates, so they are ``datetime.date`` here (a date-time string is also accepted).
    """

    invoice_date: dt.date
    invoice_number: str
    status: InvoiceInformationStatusV3 | str
    due_date: dt.date | None = field(default=None, metadata=NULLABLE)
    payment_date: dt.date | None = field(default=None, metadata=NULLABLE)
    supplier_bank_account: SupplierBankAccount | None = field(default=None, metadata=NULLABLE)


@define(frozen=True)
class ExportItemAdditionalInformationV3:
    """Reconciliation data: ``reconciliation_id`` (Pleo's "book ID"), the reconciliation ids a
    reimbursement settles, attendees, and invoice information."""

    reconciliation_id: str
    attendees: tuple[str, ...] | None = field(default=None, metadata=NULLABLE_ITEMS)
    invoice_information: InvoiceInformationV3 | None = field(default=None, metadata=NULLABLE)
    reconciled_entries: tuple[str, ...] | None = field(default=None, metadata=NULLABLE_ITEMS)


@define(frozen=True)
class ServicePeriodV3:
    """Period the service was provided or goods delivered (for accruals)."""

    from_: dt.datetime = field(metadata={WIRE_NAME: "from"})
    to: dt.datetime


@define(frozen=True)
class SupplierV3:
    """The merchant / supplier as Pleo knows it; every field may be null."""

    account: str | None = field(default=None, metadata=NULLABLE)
    category_code: str | None = field(default=None, metadata=NULLABLE)
    code: str | None = field(default=None, metadata=NULLABLE)
    # Nullable, but the spec's enum lacks null, so a strict validator rejects null: omit.
    country: CountryCode | str | None = None
    name: str | None = field(default=None, metadata=NULLABLE)
    tax_identifier: str | None = field(default=None, metadata=NULLABLE)


@define(frozen=True)
class TeamV3:
    """The team the spend belongs to; ``code`` is its id in the AS."""

    id: uuid.UUID
    name: str
    code: str | None = field(default=None, metadata=NULLABLE)


@define(frozen=True)
class ExportItemUserV3:
    """The person who made the spend; ``code`` is usually the employee code."""

    id: uuid.UUID
    name: str
    code: str | None = field(default=None, metadata=NULLABLE)


@define(frozen=True)
class VendorV3:
    """The vendor synced from the AS (present when the job has vendor-based bookkeeping)."""

    default_currency: str
    id: uuid.UUID
    name: str
    code: str | None = None
    country: CountryCode | str | None = None
    external_id: str | None = None
    registration_number: str | None = None
    tax_registration_number: str | None = None


@define(frozen=True)
class ExportItemV3:
    """One export item: an accounting entry ready to be posted to the AS.

    ``accounting_entry_id`` is the key for item updates and the AS-side external reference.
    Amounts are integer minor units; ``date`` is the bookkeeping date (UTC).
    """

    links: LinksResponse = field(metadata={WIRE_NAME: "_links"})
    accounting_entry_id: uuid.UUID
    accounting_entry_lines: tuple[ExportItemLineV3, ...]
    additional_information: ExportItemAdditionalInformationV3
    amount: ExportItemAmountV3
    company_id: uuid.UUID
    date: dt.datetime
    type: ExportItemTypeV3 | str
    bookkeeping: BookkeepingV3 | None = field(default=None, metadata=NULLABLE)
    contra_account: ContraAccount | None = field(default=None, metadata=NULLABLE)
    files: tuple[ExportItemFile, ...] | None = field(default=None, metadata=NULLABLE_ITEMS)
    note: str | None = field(default=None, metadata=NULLABLE)
    service_period: ServicePeriodV3 | None = field(default=None, metadata=NULLABLE)
    sub_type: ExportItemSubTypeV3 | str | None = None
    supplier: SupplierV3 | None = field(default=None, metadata=NULLABLE)
    team: TeamV3 | None = field(default=None, metadata=NULLABLE)
    user: ExportItemUserV3 | None = field(default=None, metadata=NULLABLE)
    vendor: VendorV3 | None = field(default=None, metadata=NULLABLE)


CursorPaginatedResponseExportItemV3: TypeAlias = CursorPage[ExportItemV3]
"""``GET /v3/export-items`` response: a page of export items."""
