"""Deterministic demo data for the Pleo sandbox: the company *Nordlys Studio ApS*.

Nordlys Studio ApS is a Copenhagen design-and-software studio with a **DKK** Pleo wallet,
four teams (Finance, Engineering, Marketing, Sales) and five employees in Denmark, Sweden,
the United Kingdom and Germany. It buys from merchants (``supplier``) and vendors (``vendor``,
with their own payable accounts in the ledger) in DK, SE, GB and DE, plus one JPY purchase
to exercise a zero-decimal currency.

The three scenario jobs are a data table, :data:`._demo_scenario.JOBS`: each item with its
expected outcome, each job with its expected status. ``build_demo`` renders that table (and the
static chart below) to JSON with one seeded RNG. ``build_demo(seed)`` returns two views of that
company:

* **The accounting system's truth** (:class:`DemoChart`, made of the domain records
  :class:`~pleo_erp.accounting_system.LedgerAccount`, ``LedgerTaxCode``, ``Dimension`` and
  ``DimensionValue`` that sources return): chart of accounts
  (one inactive account), tax codes (inclusive 25 %, EU reverse charge 25 %, non-EU reverse
  charge for services and for goods, exempt 0 % — type ``inclusive`` at rate 0 —, one
  inactive), dimensions Department, Project, Cost Centre and the *inactive* dimension Region,
  the accounts mapping (wallet per currency, out-of-pocket, balancing (contra), external
  reimbursement clearing, accounts payable (fallback), one AP account per vendor), vendors,
  and a period lock date (:attr:`DemoChart.closed_until`).
  A ledger created from it accepts every valid export item.
* **What Pleo holds** (spec-shaped JSON dicts, camelCase exactly as the OpenAPI specs):
  a few chart-of-accounts entries, tax codes and tag groups with tags, chosen so the first
  sync of each level shows every action. Accounts: ``ext-6010`` no-op, ``ext-6020`` unarchive,
  ``ext-6200`` update (renamed), ``ext-6400`` update (tax code), ``ext-6990`` archive
  (inactive in the AS), ``ext-9999`` archive (Pleo only), all others create. Tax codes:
  ``I25`` and ``RCS25`` no-op, ``RC25`` update (renamed), ``E0`` unarchive, ``RCG25`` create,
  ``SE12`` archive (Pleo only); the inactive ``I25OLD`` is never created. Tag groups: ``DEPT``
  and ``PROJ`` kept, ``CC`` unarchived, ``REGION`` archived (its dimension is inactive).
  Department tags: ``ENG`` kept, ``MKT`` unarchived, ``FIN`` renamed, ``SALES`` archived,
  ``OPS`` created (``LEGAL`` is inactive: never created). Project: ``P-GAMMA`` created.

Export jobs, all ``pending``, oldest first (``createdAt`` strictly increasing):

1. **September card spend** (``vendorBasedBookkeeping`` false, so ``bookkeeping`` and ``vendor``
   are null, the legacy path): card purchases in DKK, SEK, EUR, GBP and JPY, a three-line split
   with different accounts, taxes and tags per line, refund, chargeback, cashback, fees
   (one with subType ``interest``), ATM withdrawal, personal spend, wallet top-up and unload,
   out-of-pocket, mileage (no tax) and per diem (exempt). Expected outcome: ``completed``.
2. **Vendor bookkeeping** (``vendorBasedBookkeeping`` true; methods ``journal``,
   ``accounts_payable``, ``none`` and null): card purchases by journal and by AP with EU reverse
   charge and a service period (its ``supplier.code`` names another vendor: the ``vendor``
   object wins, rule C2), a GBP invoice with ``invoiceInformation`` and its payment in the
   same job, a EUR invoice whose payment arrives in job 3, a card invoice, a refund under AP
   (a credit note), a chargeback, a returned invoice payment, a wallet top-up (``none``), a wallet
   unload tagged ``accounts_payable`` (must still be a journal entry, rule C1), direct
   reimbursements both ways and external reimbursements whose ``reconciledEntries`` settle job-1
   expenses. Expected outcome: ``completed``.
3. **Month-end with problems**: the payment of job 2's EUR invoice, a few valid purchases
   (one legacy item matched through ``supplier.code``), and the deliberate failures listed in
   :attr:`DemoData.expected_failures`: a line without an account (``missing_configuration``,
   rule C5), an AP invoice from a vendor the AS does not know (``vendor_unknown``, decision 6),
   an account, a tax code and a tag the AS does not know (``account_unknown``,
   ``tax_code_unknown``, ``tag_unknown``), an expense dated in a closed period
   (``accounting_system_validation_failure``, rule C21 / B15) and an item of a type outside
   ``ExportItemTypeV3`` (``overdraft``, ``validation_failure``, rule C28). Expected outcome:
   ``completed_with_errors``.
4. With ``volume=N``: **Bulk export** of N realistic items (three lines each with account, two
   tags and tax; vendor, supplier, one receipt), all valid. Expected outcome: ``completed``.

Sign convention (DESIGN decision 11, erp-processing B11 and the B-derived table)
--------------------------------------------------------------------------------
Pleo does not document amount signs. By default every money value is a **non-negative
magnitude** and the direction of the posting follows from ``type`` and ``subType`` as in the
B-derived table (for example ``card_purchase``: debit line account, credit wallet; ``refund``:
debit wallet, credit line account). With ``build_demo(..., negative_inflows=True)`` the items
whose money flows *into* the company (:data:`INFLOW_TYPES` and :data:`INFLOW_SUB_TYPES`) carry
negative values instead (amount, line, net and tax amounts alike), so a domain can be tested
with both signs.

Amount rules that always hold
-----------------------------
* Money is ``{"currency", "value"}`` in integer minor units of the ISO 4217 exponent
  (JPY has none). ``amount.X == Σ accountingEntryLines[].lineAmount.X`` exactly, in both
  the wallet and the supplier currency.
* Wallet amounts are converted from supplier amounts per line at a fixed rate, rounded half up.
* ``lineAmount`` is the gross amount paid. Tax ``inclusive``: ``tax = round(gross·r/(1+r))``,
  ``netAmount = gross − tax``. Tax ``reverse``: no tax is in the price; ``tax = round(gross·r)``
  is the self-assessed VAT (equal input and output VAT) and ``netAmount = gross``. Exempt codes
  are ``inclusive`` with rate 0. Tax is computed separately in each currency.
* ``files[].url`` is the placeholder ``sandbox-file://<file id>``; the sandbox rewrites it to a
  URL it serves, from :attr:`DemoData.files`. Invoice-type date fields carry midnight UTC.

JSON dicts contain only types ``json.loads`` produces (tax rates are ``float`` such as 0.25,
exactly representable); the accounting-system view uses :class:`~decimal.Decimal`.
"""

from __future__ import annotations

import gc
import random
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Final, Literal, Protocol, TypeAlias, TypeVar

from attrs import define, field

from pleo_erp.accounting_system.export import AccountsMapping
from pleo_erp.accounting_system.sources import (
    Dimension,
    DimensionValue,
    LedgerAccount,
    LedgerTaxCode,
    LedgerTaxType,
    parse_tax_type,
)
from pleo_erp.testing.sandbox._demo_scenario import BANKS, JOBS, Invoice, Item, Job, Line, sept
from pleo_erp.testing.sandbox.files import make_jpeg, make_pdf, make_png

__all__ = [
    "BASE_TIME",
    "INFLOW_SUB_TYPES",
    "INFLOW_TYPES",
    "AccountKind",
    "DemoAccount",
    "DemoAccountsMapping",
    "DemoChart",
    "DemoData",
    "DemoDimension",
    "DemoDimensionValue",
    "DemoEmployee",
    "DemoFile",
    "DemoJob",
    "DemoTaxCode",
    "DemoTeam",
    "DemoVendor",
    "build_demo",
]

JSON = dict[str, Any]
AccountKind = Literal["expense", "income", "asset", "liability"]
#: What :class:`DemoTaxCode` accepts: Pleo's types, plus the deprecated ``exempt``.
TaxKind = Literal["inclusive", "exclusive", "reverse", "exempt"]

#: The demo's "now": every job was created shortly before it (all within Pleo's one-hour
#: expiry window), so a sandbox whose clock starts here sees live pending jobs.
BASE_TIME: Final = datetime(2026, 10, 1, 9, 0, tzinfo=timezone.utc)

#: Types whose money flows into the company (wallet or employee debt goes down for Pleo's
#: customer); negated when ``negative_inflows=True``.
INFLOW_TYPES: Final = frozenset({"refund", "chargeback", "cashback", "wallet_topup"})
#: Sub-types that reverse the usual direction of their type.
INFLOW_SUB_TYPES: Final = frozenset(
    {"invoice_payment_returned", "reimbursement_to_company", "reimbursement_to_employee_refund"}
)

# ---------------------------------------------------------------------------------------------
# Public value types
# ---------------------------------------------------------------------------------------------


def DemoAccount(
    external_id: str,
    code: str,
    name: str,
    kind: AccountKind,
    active: bool = True,
    tax_code_external_id: str | None = None,
) -> LedgerAccount:
    """A ledger account of the demo chart: a :class:`~pleo_erp.domain.records.LedgerAccount`.

    Kept for its argument order (``kind`` fourth, as the demo chart lists it), which differs
    from :class:`LedgerAccount`'s (``kind`` last): the result *is* a ``LedgerAccount``, equal
    to what a source returns for the same account. Annotate with ``LedgerAccount``.
    """
    return LedgerAccount(external_id, code, name, active, tax_code_external_id, kind=kind)


def _chart_tax_type(value: TaxKind) -> LedgerTaxType:
    """A chart tax type; the old AS notion ``exempt`` becomes Pleo's ``inclusive`` (rate 0)."""
    if value == "exempt":
        warnings.warn(
            "DemoTaxCode type 'exempt' is deprecated: Pleo has no such type; use "
            "type='inclusive' with rate=Decimal('0')",
            DeprecationWarning,
            stacklevel=3,
        )
        return "inclusive"
    return parse_tax_type(value)


def DemoTaxCode(
    code: str,
    name: str,
    rate: Decimal,
    type: TaxKind,
    active: bool = True,
    ingoing_tax_account: str | None = None,
    outgoing_tax_account: str | None = None,
) -> LedgerTaxCode:
    """A tax code of the demo chart: a :class:`~pleo_erp.domain.records.LedgerTaxCode`.

    ``code`` is also its external id. ``type`` is one of the types Pleo allows
    (:data:`~pleo_erp.accounting_system.LedgerTaxType`: ``inclusive``, ``exclusive``,
    ``reverse``); an exempt code is ``inclusive`` with rate 0 (the chart's ``E0``). The old
    value ``exempt`` is still accepted (deprecated, with a ``DeprecationWarning``) and stored
    as ``inclusive``. ``rate`` is a fraction (25 % → ``Decimal("0.25")``). The result *is* a
    ``LedgerTaxCode``, equal to what a source returns for the same code; annotate with it.
    """
    return LedgerTaxCode(
        code,
        name,
        rate,
        _chart_tax_type(type),
        active,
        ingoing_tax_account,
        outgoing_tax_account,
    )


DemoDimensionValue: TypeAlias = DimensionValue
"""A value of an accounting dimension (becomes a Pleo tag): the record
:class:`~pleo_erp.domain.records.DimensionValue` (alias kept)."""


DemoDimension: TypeAlias = Dimension
"""An accounting dimension (becomes a Pleo tag group) with its values: the record
:class:`~pleo_erp.domain.records.Dimension` (alias kept)."""


@define(frozen=True)
class DemoVendor:
    """A vendor (supplier master record) in the AS with its payable account code."""

    code: str
    name: str
    country: str
    currency: str
    ap_account: str
    external_id: str
    registration_number: str | None = None
    tax_registration_number: str | None = None
    active: bool = True


_MAPPING_ALIASES: Final = {"contra": "balancing", "fallback_ap": "accounts_payable"}


@define(frozen=True, init=False)
class DemoAccountsMapping:
    """The integration's accounts mapping (erp-processing A6); values are account codes.

    The field names are those of :class:`~pleo_erp.accounting_system.AccountsMapping`, so an
    adapter can copy them one to one: ``wallet`` (and ``wallet_by_currency``),
    ``out_of_pocket``, ``balancing`` (the Pleo contra account), ``external_reimbursement``
    and ``accounts_payable`` (the shared / fallback AP account). ``vendor_ap`` maps vendor
    codes to their own payable accounts. The old names ``contra`` and ``fallback_ap`` still
    work, as keyword arguments and attributes, with a ``DeprecationWarning``.
    """

    wallet: str
    wallet_by_currency: Mapping[str, str]
    out_of_pocket: str
    balancing: str
    external_reimbursement: str
    accounts_payable: str
    vendor_ap: Mapping[str, str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        for old, new in _MAPPING_ALIASES.items():
            if old in kwargs:
                warnings.warn(
                    f"DemoAccountsMapping({old}=...) is deprecated; use {new}=",
                    DeprecationWarning,
                    stacklevel=2,
                )
                if new in kwargs:
                    raise TypeError(f"pass {new}= or the deprecated {old}=, not both")
                kwargs[new] = kwargs.pop(old)
        self.__attrs_init__(*args, **kwargs)

    @property
    def contra(self) -> str:
        """Deprecated alias of :attr:`balancing`."""
        return self._renamed("contra")

    @property
    def fallback_ap(self) -> str:
        """Deprecated alias of :attr:`accounts_payable`."""
        return self._renamed("fallback_ap")

    def _renamed(self, old: str) -> str:
        # The value under the attribute's new name, with the deprecation warning at the caller.
        new = _MAPPING_ALIASES[old]
        warnings.warn(
            f"DemoAccountsMapping.{old} is deprecated; use .{new}", DeprecationWarning, stacklevel=3
        )
        value: str = getattr(self, new)
        return value

    def to_accounts_mapping(self) -> AccountsMapping:
        """The same accounts as an :class:`~pleo_erp.accounting_system.AccountsMapping`."""
        return AccountsMapping(
            wallet=self.wallet,
            wallet_by_currency=self.wallet_by_currency,
            out_of_pocket=self.out_of_pocket,
            balancing=self.balancing,
            external_reimbursement=self.external_reimbursement,
            accounts_payable=self.accounts_payable,
        )


class _Coded(Protocol):
    @property
    def code(self) -> str | None: ...


_CodedT = TypeVar("_CodedT", bound=_Coded)


def _by_code(items: Iterable[_CodedT], code: str) -> _CodedT:
    """The first of ``items`` with this ``code`` (``KeyError`` if none has it)."""
    for item in items:
        if item.code == code:
            return item
    raise KeyError(code)


@define(frozen=True)
class DemoChart:
    """Everything the accounting system knows: the source of truth for syncs and posting.

    ``closed_until`` is the period lock date: the AS refuses postings dated on or before it.
    Its ``repr`` is one line of counts (a chart is hundreds of lines); :meth:`describe`
    gives the full listing.
    """

    accounts: tuple[LedgerAccount, ...]
    tax_codes: tuple[LedgerTaxCode, ...]
    dimensions: tuple[Dimension, ...]
    mapping: DemoAccountsMapping
    vendors: tuple[DemoVendor, ...]
    closed_until: date | None = None

    def account(self, code: str) -> LedgerAccount:
        """The account with this code (``KeyError`` if absent)."""
        return _by_code(self.accounts, code)

    def tax_code(self, code: str) -> LedgerTaxCode:
        """The tax code with this code (``KeyError`` if absent)."""
        return _by_code(self.tax_codes, code)

    def dimension(self, code: str) -> Dimension:
        """The dimension with this code (``KeyError`` if absent)."""
        return _by_code(self.dimensions, code)

    def vendor(self, code: str) -> DemoVendor:
        """The vendor with this code (``KeyError`` if absent)."""
        return _by_code(self.vendors, code)

    def __repr__(self) -> str:
        return (
            f"DemoChart({len(self.accounts)} accounts, {len(self.tax_codes)} tax codes, "
            f"{len(self.dimensions)} dimensions, {len(self.vendors)} vendors, "
            f"closed_until={self.closed_until})"
        )

    def describe(self) -> str:
        """Every account, tax code, dimension, vendor and the mapping, one per line."""
        lines = [repr(self), f"  mapping: {self.mapping!r}"]
        lines += [f"  account {a!r}" for a in self.accounts]
        lines += [f"  tax code {t!r}" for t in self.tax_codes]
        lines += [f"  dimension {d!r}" for d in self.dimensions]
        lines += [f"  vendor {v!r}" for v in self.vendors]
        return "\n".join(lines)


@define(frozen=True)
class DemoEmployee:
    """An employee of the demo company (the ``user`` of an export item)."""

    id: str
    code: str
    name: str
    country: str
    team_code: str


@define(frozen=True)
class DemoTeam:
    """A team of the demo company (the ``team`` of an export item).

    ``key`` is the demo's short name (``FIN``, ``ENG``, …, used by
    :attr:`DemoEmployee.team_code`); ``code`` is the team's code in the accounting system,
    ``None`` for a team that has none (Sales), as ``TeamV3.code`` allows.
    """

    id: str
    code: str | None
    key: str
    name: str


@define(frozen=True)
class DemoFile:
    """A receipt file the sandbox serves for ``sandbox-file://<id>`` URLs."""

    content_type: str
    content: bytes = field(repr=lambda b: f"<{len(b)} bytes>")
    file_name: str


@define(frozen=True)
class DemoJob:
    """One export job (``ExportJobV3``-shaped, ``pending``) and its items (``ExportItemV3``)."""

    job: JSON
    items: list[JSON]


@define(frozen=True)
class DemoData:
    """The demo company: AS truth (:attr:`chart`) and Pleo's state as spec-shaped dicts.

    Treat it as read-only; every :func:`build_demo` call returns fresh objects.
    ``tag_groups`` are ``TagGroupModel`` dicts with one extra key ``"tags"`` holding the
    group's ``TagModel`` dicts. ``expected_failures`` maps the ``accountingEntryId`` of every
    deliberately bad item to the item ``failureReasonType`` a correct integration reports
    with default configuration; every other item is expected to succeed.
    ``expected_job_statuses`` maps job ids to their expected final status.
    """

    company_id: str
    company_name: str
    currency: str
    chart: DemoChart
    accounts: list[JSON]
    tax_codes: list[JSON]
    tag_groups: list[JSON]
    jobs: list[DemoJob]
    files: dict[str, DemoFile]
    expected_failures: dict[str, str] = field(factory=dict)
    expected_job_statuses: dict[str, str] = field(factory=dict)
    employees: tuple[DemoEmployee, ...] = ()
    teams: tuple[DemoTeam, ...] = ()
    reference_time: datetime = BASE_TIME

    def items(self) -> Iterator[JSON]:
        """Every export item of every job, in job order."""
        for job in self.jobs:
            yield from job.items


# ---------------------------------------------------------------------------------------------
# The accounting system's chart (static, independent of the seed)
# ---------------------------------------------------------------------------------------------

_ACCOUNTS: Final[tuple[LedgerAccount, ...]] = (
    DemoAccount("ext-3900", "3900", "Card Cashback", "income"),
    DemoAccount("ext-5810", "5810", "Pleo Wallet DKK", "asset"),
    DemoAccount("ext-5811", "5811", "Pleo Wallet EUR", "asset"),
    DemoAccount("ext-5820", "5820", "Employee Out-of-Pocket", "liability"),
    DemoAccount("ext-5830", "5830", "Pleo Clearing (Contra)", "asset"),
    DemoAccount("ext-5840", "5840", "Payroll Reimbursements Clearing", "liability"),
    DemoAccount("ext-6010", "6010", "Travel", "expense", True, "I25"),
    DemoAccount("ext-6020", "6020", "Meals and Entertainment", "expense", True, "I25"),
    DemoAccount("ext-6030", "6030", "Hotels and Accommodation", "expense", True, "I25"),
    DemoAccount("ext-6040", "6040", "Mileage Allowance", "expense", True, None),
    DemoAccount("ext-6050", "6050", "Per Diem Allowance", "expense", True, "E0"),
    DemoAccount("ext-6100", "6100", "Software and Subscriptions", "expense", True, "I25"),
    DemoAccount("ext-6110", "6110", "Office Supplies", "expense", True, "I25"),
    DemoAccount("ext-6120", "6120", "IT Equipment", "expense", True, "I25"),
    DemoAccount("ext-6200", "6200", "Marketing and Advertising", "expense", True, "I25"),
    DemoAccount("ext-6300", "6300", "Consultancy Services", "expense", True, "I25"),
    DemoAccount("ext-6400", "6400", "Bank and Card Fees", "expense", True, "E0"),
    DemoAccount("ext-6410", "6410", "Interest Expenses", "expense", True, "E0"),
    DemoAccount("ext-6500", "6500", "Phone and Internet", "expense", True, "I25"),
    DemoAccount("ext-6990", "6990", "Entertainment (old)", "expense", False, "I25"),
    DemoAccount("ext-7200", "7200", "Accounts Payable", "liability"),
    DemoAccount("ext-7210", "7210", "AP - Nordic Office Supplies", "liability"),
    DemoAccount("ext-7220", "7220", "AP - Stockholm Cloud", "liability"),
    DemoAccount("ext-7230", "7230", "AP - London Design Studio", "liability"),
    DemoAccount("ext-7240", "7240", "AP - Berlin Hardware", "liability"),
    DemoAccount("ext-7800", "7800", "Input VAT", "asset"),
    DemoAccount("ext-7820", "7820", "VAT on EU Purchases", "liability"),
    DemoAccount("ext-7830", "7830", "VAT on Services from Abroad", "liability"),
)


def _account_code(account: LedgerAccount) -> str:
    """The code of a demo account (every demo account has one; ``LedgerAccount`` allows none)."""
    if account.code is None:
        raise ValueError(f"demo account {account.external_id} has no code")
    return account.code


_TAX_CODES: Final[tuple[LedgerTaxCode, ...]] = (
    DemoTaxCode("I25", "Købsmoms 25 %", Decimal("0.25"), "inclusive", True, "7800", None),
    DemoTaxCode(
        "RC25", "Reverse charge 25 % (EU purchases)", Decimal("0.25"), "reverse", True,
        "7800", "7820",
    ),
    DemoTaxCode(
        "RCS25", "Reverse charge 25 % (services, non-EU)", Decimal("0.25"), "reverse", True,
        "7800", "7830",
    ),
    DemoTaxCode(
        "RCG25", "Reverse charge 25 % (goods, non-EU)", Decimal("0.25"), "reverse", True,
        "7800", "7830",
    ),
    DemoTaxCode("E0", "Exempt 0 %", Decimal("0"), "inclusive", True, None, None),
    DemoTaxCode("I25OLD", "Købsmoms 25 % (2019)", Decimal("0.25"), "inclusive", False, "7800"),
)  # fmt: skip

_DIMENSIONS: Final[tuple[Dimension, ...]] = (
    DemoDimension(
        "DEPT",
        "Department",
        True,
        (
            DemoDimensionValue("ENG", "Engineering"),
            DemoDimensionValue("MKT", "Marketing"),
            DemoDimensionValue("FIN", "Finance & Admin"),
            DemoDimensionValue("OPS", "Operations"),
            DemoDimensionValue("LEGAL", "Legal", active=False),
        ),
    ),
    DemoDimension(
        "PROJ",
        "Project",
        True,
        (
            DemoDimensionValue("P-ALPHA", "Website Relaunch"),
            DemoDimensionValue("P-BETA", "Nordic Expansion"),
            DemoDimensionValue("P-GAMMA", "ERP Integration"),
            DemoDimensionValue("P-OLD", "Brand Refresh 2024", active=False),
        ),
    ),
    DemoDimension(
        "CC",
        "Cost Centre",
        True,
        (
            DemoDimensionValue("CC100", "Copenhagen HQ"),
            DemoDimensionValue("CC200", "Stockholm Office"),
            DemoDimensionValue("CC300", "London Office"),
            DemoDimensionValue("CC400", "Berlin Office"),
        ),
    ),
    DemoDimension(
        "REGION",
        "Region",
        False,
        (DemoDimensionValue("NORDICS", "Nordics"), DemoDimensionValue("DACH", "DACH")),
    ),
)


def _vendor(
    code: str, name: str, country: str, currency: str, ap_account: str, reg: str, vat: str
) -> DemoVendor:
    """A demo vendor; its AS id is ``vend-`` and the digits of its code."""
    return DemoVendor(code, name, country, currency, ap_account, f"vend-{code[1:]}", reg, vat)


#: Vendors: code, name, country, currency, payable account, registration and VAT numbers.
_VENDORS: Final[tuple[DemoVendor, ...]] = (
    _vendor("V1001", "Nordic Office Supplies A/S", "DK", "DKK", "7210", "31415926", "DK31415926"),
    _vendor("V1002", "Stockholm Cloud AB", "SE", "SEK", "7220", "556677-8899", "SE556677889901"),
    _vendor("V1003", "London Design Studio Ltd", "GB", "GBP", "7230", "09876543", "GB123456789"),
    _vendor("V1004", "Berlin Hardware GmbH", "DE", "EUR", "7240", "HRB 123456", "DE298765432"),
    _vendor("V1005", "Copenhagen Catering ApS", "DK", "DKK", "7200", "27182818", "DK27182818"),
)

_MAPPING: Final = DemoAccountsMapping(
    wallet="5810",
    wallet_by_currency={"DKK": "5810", "EUR": "5811"},
    out_of_pocket="5820",
    balancing="5830",
    external_reimbursement="5840",
    accounts_payable="7200",
    vendor_ap={v.code: v.ap_account for v in _VENDORS},
)

_CLOSED_UNTIL: Final = date(2026, 6, 30)

# Pleo's side of the chart before the first sync (see the module docstring).
# code -> (Pleo name, archived, taxCodeExternalId); "9999" exists only in Pleo.
_PLEO_ACCOUNTS: Final[dict[str, tuple[str, bool, str | None]]] = {
    "6010": ("Travel", False, "I25"),
    "6020": ("Meals and Entertainment", True, "I25"),
    "6200": ("Advertising", False, "I25"),
    "6400": ("Bank and Card Fees", False, None),
    "6990": ("Entertainment (old)", False, "I25"),
    "9999": ("Suspense (created in Pleo)", False, None),
}
# code -> (Pleo name, archived); "SE12" exists only in Pleo.
_PLEO_TAX_CODES: Final[dict[str, tuple[str, bool]]] = {
    "I25": ("Købsmoms 25 %", False),
    "RC25": ("EU reverse charge", False),
    "RCS25": ("Reverse charge 25 % (services, non-EU)", False),
    "E0": ("Exempt 0 %", True),
    "SE12": ("Hotel VAT SE 12 %", False),
}
_PLEO_ONLY_TAX: Final[dict[str, tuple[Decimal, LedgerTaxType, str, str | None]]] = {
    "SE12": (Decimal("0.12"), "inclusive", "7800", None)
}
# group code -> (name, archived, [(tag code, tag name, archived)])
_PLEO_TAG_GROUPS: Final[dict[str, tuple[str, bool, list[tuple[str, str, bool]]]]] = {
    "DEPT": (
        "Department",
        False,
        [
            ("ENG", "Engineering", False),
            ("MKT", "Marketing", True),
            ("FIN", "Finance", False),
            ("SALES", "Sales", False),
        ],
    ),
    "PROJ": (
        "Project",
        False,
        [("P-ALPHA", "Website Relaunch", False), ("P-BETA", "Nordic Expansion", False)],
    ),
    "CC": (
        "Cost Centre",
        True,
        [
            ("CC100", "Copenhagen HQ", False),
            ("CC200", "Stockholm Office", False),
            ("CC300", "London Office", False),
            ("CC400", "Berlin Office", False),
        ],
    ),
    "REGION": ("Region", False, [("NORDICS", "Nordics", False), ("DACH", "DACH", False)]),
}

# Pleo-side vendor that the AS does not know (vendor_unknown).
_GHOST_VENDOR: Final = DemoVendor(
    "V9999", "Ghost Consulting ApS", "DK", "DKK", "7200", "vend-9999", "99999999", "DK99999999"
)

# team key -> (name, code in the AS or None)
_TEAMS: Final = (
    ("FIN", "Finance", "T-FIN"),
    ("ENG", "Engineering", "T-ENG"),
    ("MKT", "Marketing", "T-MKT"),
    ("SALES", "Sales", None),
)
_EMPLOYEES: Final = (
    ("E001", "Mette Hansen", "DK", "FIN"),
    ("E002", "Lars Nielsen", "DK", "ENG"),
    ("E003", "Sofia Lindqvist", "SE", "SALES"),
    ("E004", "Oliver Smith", "GB", "MKT"),
    ("E005", "Lukas Schneider", "DE", "ENG"),
)

# DKK per unit of currency (fixed demo rates) and ISO 4217 exponents.
_FX: Final = {
    "DKK": Decimal("1"),
    "SEK": Decimal("0.6512"),
    "EUR": Decimal("7.4604"),
    "GBP": Decimal("8.6420"),
    "JPY": Decimal("0.0452"),
}
_EXPONENT: Final = {"DKK": 2, "SEK": 2, "EUR": 2, "GBP": 2, "JPY": 0}

# Merchants: key -> (name, MCC, country, currency)
_MERCHANTS: Final = {
    "juice": ("Joe & The Juice Nørrebro", "5814", "DK", "DKK"),
    "scandic": ("Scandic Malmen Stockholm", "7011", "SE", "SEK"),
    "adlon": ("Hotel Adlon Kempinski Berlin", "7011", "DE", "EUR"),
    "pret": ("Pret A Manger Kings Cross", "5812", "GB", "GBP"),
    "tokyo": ("Maruzen Books Tokyo", "5942", "JP", "JPY"),
    "elgiganten": ("Elgiganten Fields", "5732", "DK", "DKK"),
    "taxi": ("Taxa 4x35", "4121", "DK", "DKK"),
    "sas": ("SAS Scandinavian Airlines", "4511", "DK", "DKK"),
    "pleo": ("Pleo Technologies A/S", "6012", "DK", "DKK"),
    "atm": ("Danske Bank ATM Vesterbro", "6011", "DK", "DKK"),
    "netto": ("Netto Frederiksberg", "5411", "DK", "DKK"),
    "google": ("GOOGLE*ADS8693645259", "7311", "IE", "EUR"),
    "figma": ("Figma UK Ltd", "5734", "GB", "GBP"),
    "lunch": ("Restaurant Höst", "5812", "DK", "DKK"),
    "cloud": ("STOCKHOLMCLOUD.SE", "5734", "SE", "SEK"),
}


# ---------------------------------------------------------------------------------------------
# Arithmetic helpers (integers only)
# ---------------------------------------------------------------------------------------------


def _round_div(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half up, for non-negative integers."""
    return (2 * numerator + denominator) // (2 * denominator)


def _ratio(value: Decimal) -> tuple[int, int]:
    numerator, denominator = value.as_integer_ratio()
    return numerator, denominator


_FX_RATIO: Final = {currency: _ratio(rate) for currency, rate in _FX.items()}
_TAX_RATIO: Final = {t.code: _ratio(t.rate) for t in _TAX_CODES} | {
    code: _ratio(spec[0]) for code, spec in _PLEO_ONLY_TAX.items()
}


def _to_wallet(value: int, currency: str, wallet_currency: str = "DKK") -> int:
    """Convert supplier minor units to wallet minor units at the demo rate, half up."""
    if currency == wallet_currency:
        return value
    num, den = _FX_RATIO[currency]
    shift = _EXPONENT[wallet_currency] - _EXPONENT[currency]
    if shift >= 0:
        return _round_div(value * num * 10**shift, den)
    return _round_div(value * num, den * 10**-shift)


def _tax_of(gross: int, tax_code: str, kind: str) -> int:
    """Tax for ``gross`` minor units: inclusive ``g·r/(1+r)``, reverse ``g·r``; half up."""
    num, den = _TAX_RATIO[tax_code]
    if num == 0:
        return 0
    if kind == "reverse":
        return _round_div(gross * num, den)
    return _round_div(gross * num, den + num)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _midnight(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def _money(currency: str, value: int) -> JSON:
    return {"currency": currency, "value": value}


def _format_amount(value: int, currency: str) -> str:
    exponent = _EXPONENT.get(currency, 2)
    if exponent == 0:
        return f"{value:,} {currency}"
    major, minor = divmod(value, 10**exponent)
    return f"{major:,}.{minor:0{exponent}d} {currency}"


# ---------------------------------------------------------------------------------------------
# Builder
# ---------------------------------------------------------------------------------------------


# Version 4 and RFC 4122 variant bits of a UUID, applied to a random 128-bit integer.
_UUID_CLEAR: Final = ~((0xF000 << 64) | (0xC000 << 48))
_UUID_SET: Final = (0x4000 << 64) | (0x8000 << 48)


@define
class _Refs:
    """Pleo-side ids of everything items point at (stable for a seed)."""

    account_ids: dict[str, str] = field(factory=dict)
    account_names: dict[str, str] = field(factory=dict)
    tax_ids: dict[str, str] = field(factory=dict)
    tag_ids: dict[tuple[str, str], str] = field(factory=dict)
    vendor_ids: dict[str, str] = field(factory=dict)
    employees: dict[str, DemoEmployee] = field(factory=dict)
    teams: dict[str, DemoTeam] = field(factory=dict)


class _Builder:
    """Builds the demo company from one seeded RNG, in a fixed order (hence deterministic)."""

    def __init__(self, seed: int, *, negative_inflows: bool) -> None:
        self.rng = random.Random(seed)
        self.negative_inflows = negative_inflows
        self.company_id = self.uid()
        self.refs = _Refs()
        self.files: dict[str, DemoFile] = {}
        self.expected_failures: dict[str, str] = {}
        self._book_number = 0
        self._chart_taxes = {t.code: t for t in _TAX_CODES}
        self._vendors = {v.code: v for v in (*_VENDORS, _GHOST_VENDOR)}

    # -- ids -----------------------------------------------------------------------------------

    def uid(self) -> str:
        """A version-4 UUID string drawn from the seeded RNG."""
        # Same result as str(uuid.UUID(int=bits, version=4)), several times faster, which
        # matters for the 10 000-item volume job (about 50 000 ids).
        bits = (self.rng.getrandbits(128) & _UUID_CLEAR) | _UUID_SET
        h = f"{bits:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def book_id(self) -> str:
        """Next Pleo reconciliation id ("book ID")."""
        self._book_number += 1
        return f"NS-2026-{self._book_number:06d}"

    # -- Pleo reference data ---------------------------------------------------------------------

    def people(self) -> None:
        for key, name, code in _TEAMS:
            self.refs.teams[key] = DemoTeam(id=self.uid(), code=code, key=key, name=name)
        for code, name, country, team in _EMPLOYEES:
            self.refs.employees[code] = DemoEmployee(self.uid(), code, name, country, team)

    def pleo_accounts(self) -> list[JSON]:
        created = _iso(datetime(2026, 1, 12, 10, 0, tzinfo=timezone.utc))
        for account in _ACCOUNTS:
            code = _account_code(account)
            self.refs.account_ids[code] = self.uid()
            self.refs.account_names[code] = account.name
        result: list[JSON] = []
        for code, (name, archived, tax_code) in _PLEO_ACCOUNTS.items():
            if code not in self.refs.account_ids:  # Pleo-only account
                self.refs.account_ids[code] = self.uid()
            account_id = self.refs.account_ids[code]
            self.refs.account_names[code] = name  # items show the name as set in Pleo
            result.append(
                {
                    "id": account_id,
                    "companyId": self.company_id,
                    "externalId": f"ext-{code}",
                    "code": code,
                    "name": name,
                    "archived": archived,
                    "taxCodeExternalId": tax_code,
                    "metadata": {"origin": {"createdIn": "Pleo web app", "at": created}}
                    if code == "9999"
                    else None,
                }
            )
        return result

    def pleo_tax_codes(self) -> list[JSON]:
        created = _iso(datetime(2026, 1, 12, 10, 5, tzinfo=timezone.utc))
        result: list[JSON] = []
        for code, (name, archived) in _PLEO_TAX_CODES.items():
            tax_id = self.uid()
            self.refs.tax_ids[code] = tax_id
            if code in self._chart_taxes:
                chart = self._chart_taxes[code]
                rate, kind = chart.rate, chart.type
                ingoing, outgoing = chart.ingoing_tax_account, chart.outgoing_tax_account
            else:
                rate, kind, ingoing, outgoing = _PLEO_ONLY_TAX[code]
            result.append(
                {
                    "id": tax_id,
                    "companyId": self.company_id,
                    "code": code,
                    "name": name,
                    "rate": float(rate),
                    "type": kind,
                    "archived": archived,
                    "ingoingTaxAccount": ingoing,
                    "outgoingTaxAccount": outgoing,
                    "accountingIntegrationSystem": None,
                    "createdAt": created,
                    "updatedAt": created,
                }
            )
        return result

    def pleo_tag_groups(self) -> list[JSON]:
        result: list[JSON] = []
        for index, (code, (name, archived, tags)) in enumerate(_PLEO_TAG_GROUPS.items()):
            created = _iso(datetime(2026, 2, 1 + index, 9, 0, tzinfo=timezone.utc))
            updated = _iso(datetime(2026, 8, 1 + index, 9, 0, tzinfo=timezone.utc))
            group_id = self.uid()
            tag_dicts: list[JSON] = []
            for tag_code, tag_name, tag_archived in tags:
                tag_id = self.uid()
                self.refs.tag_ids[(code, tag_code)] = tag_id
                tag_dicts.append(
                    {
                        "id": tag_id,
                        "groupId": group_id,
                        "code": tag_code,
                        "name": tag_name,
                        "archived": tag_archived,
                        "createdAt": created,
                        "updatedAt": updated if tag_archived else created,
                    }
                )
            result.append(
                {
                    "id": group_id,
                    "companyId": self.company_id,
                    "code": code,
                    "name": name,
                    "archived": archived,
                    "metadata": {},
                    "totalTagsCount": len(tag_dicts),
                    "createdAt": created,
                    "updatedAt": updated,
                    "tags": tag_dicts,
                }
            )
        return result

    def vendors(self) -> None:
        for code in self._vendors:
            self.refs.vendor_ids[code] = self.uid()

    # -- JSON fragments --------------------------------------------------------------------------

    def account_json(self, code: str) -> JSON:
        return {
            "id": self.refs.account_ids[code],
            "name": self.refs.account_names[code],
            "code": code,
            "identifier": f"ext-{code}",
        }

    def contra_json(self) -> JSON:
        code = _MAPPING.wallet
        return {
            "id": self.refs.account_ids[code],
            "name": self.refs.account_names[code],
            "code": code,
            "identifier": f"ext-{code}",
        }

    def vendor_json(self, code: str) -> JSON:
        vendor = self._vendors[code]
        result: JSON = {
            "id": self.refs.vendor_ids[code],
            "name": vendor.name,
            "code": vendor.code,
            "externalId": vendor.external_id,
            "country": vendor.country,
            "defaultCurrency": vendor.currency,
        }
        if vendor.registration_number is not None:
            result["registrationNumber"] = vendor.registration_number
        if vendor.tax_registration_number is not None:
            result["taxRegistrationNumber"] = vendor.tax_registration_number
        return result

    def supplier_json(self, key: str, *, code: str | None = None) -> JSON:
        name, mcc, country, _currency = _MERCHANTS[key]
        return {
            "name": name,
            "categoryCode": mcc,
            "country": country,
            "code": code,
            "account": None,
            "taxIdentifier": None,
        }

    def user_json(self, employee: str) -> JSON:
        person = self.refs.employees[employee]
        return {"id": person.id, "name": person.name, "code": person.code}

    def team_json(self, employee: str) -> JSON:
        team = self.refs.teams[self.refs.employees[employee].team_code]
        return {"id": team.id, "name": team.name, "code": team.code}

    def tax_json(self, code: str, tax_supplier: int, tax_wallet: int, sup: str, sign: int) -> JSON:
        chart = self._chart_taxes.get(code)
        if chart is not None:
            rate, kind = chart.rate, chart.type
            ingoing, outgoing = chart.ingoing_tax_account, chart.outgoing_tax_account
        else:
            rate, kind, ingoing, outgoing = _PLEO_ONLY_TAX[code]
        result: JSON = {
            "id": self.refs.tax_ids[code],
            "code": code,
            "rate": float(rate),
            "type": kind,
            "amount": {
                "inSupplierCurrency": _money(sup, sign * tax_supplier),
                "inWalletCurrency": _money("DKK", sign * tax_wallet),
            },
        }
        # Both keys are plain strings in TaxV3 (not nullable): omit rather than send null.
        if ingoing is not None:
            result["ingoingTaxAccount"] = ingoing
        if outgoing is not None:
            result["outgoingTaxAccount"] = outgoing
        return result

    def tax_kind(self, code: str) -> str:
        chart = self._chart_taxes.get(code)
        return chart.type if chart is not None else _PLEO_ONLY_TAX[code][1]

    # -- files ---------------------------------------------------------------------------------

    def receipt_files(self, count: int, title: str, lines: Sequence[str], ref: str) -> list[JSON]:
        kinds = ("pdf", "jpeg", "png")
        start = self.rng.randrange(3)
        result: list[JSON] = []
        for index in range(count):
            kind = kinds[(start + index) % 3]
            file_id = self.uid()
            if kind == "pdf":
                content = make_pdf("\n".join([title, *lines, f"Reference {ref}"]), title=title)
                demo = DemoFile("application/pdf", content, f"receipt-{ref}-{index + 1}.pdf")
            elif kind == "jpeg":
                shade = 200 + self.rng.randrange(56)
                content = make_jpeg(24, 32, (shade, shade, shade - 8), comment=f"receipt {ref}")
                demo = DemoFile("image/jpeg", content, f"receipt-{ref}-{index + 1}.jpg")
            else:
                content = make_png(12, 16, (250, 250, 245), text=f"receipt {ref}")
                demo = DemoFile("image/png", content, f"receipt-{ref}-{index + 1}.png")
            self.files[file_id] = demo
            result.append(
                {
                    "url": f"sandbox-file://{file_id}",
                    "type": demo.content_type,
                    "size": len(content),
                }
            )
        return result

    # -- items ---------------------------------------------------------------------------------

    def item(
        self,
        *,
        type: str,
        when: datetime,
        lines: Sequence[Line],
        currency: str = "DKK",
        sub_type: str | None = None,
        method: str | None = None,
        vendor: str | None = None,
        supplier: JSON | None = None,
        user: str | None = None,
        note: str | None = None,
        files: int | None = 0,
        contra: bool = False,
        invoice: JSON | None = None,
        reconciled: list[str] | None = None,
        attendees: list[str] | None = None,
        service_period: tuple[date, date] | None = None,
        book_id: str | None = None,
        expect: str | None = None,
    ) -> JSON:
        """One ``ExportItemV3`` dict; amounts are derived from ``lines`` (see module docs)."""
        entry_id = self.uid()
        sign = (
            -1
            if self.negative_inflows and (type in INFLOW_TYPES or sub_type in INFLOW_SUB_TYPES)
            else 1
        )
        line_dicts: list[JSON] = []
        total_supplier = total_wallet = total_tax = 0
        for spec in lines:
            gross_wallet = _to_wallet(spec.gross, currency)
            total_supplier += spec.gross
            total_wallet += gross_wallet
            tax_json: JSON | None = None
            net_supplier, net_wallet = spec.gross, gross_wallet
            if spec.tax is not None:
                kind = self.tax_kind(spec.tax)
                tax_supplier = _tax_of(spec.gross, spec.tax, kind)
                tax_wallet = _tax_of(gross_wallet, spec.tax, kind)
                total_tax += tax_wallet
                if kind == "inclusive":
                    net_supplier -= tax_supplier
                    net_wallet -= tax_wallet
                tax_json = self.tax_json(spec.tax, tax_supplier, tax_wallet, currency, sign)
            line_dicts.append(
                {
                    "accountingEntryLineId": self.uid(),
                    "account": None if spec.account is None else self.account_json(spec.account),
                    "lineAmount": {
                        "inSupplierCurrency": _money(currency, sign * spec.gross),
                        "inWalletCurrency": _money("DKK", sign * gross_wallet),
                    },
                    "netAmount": {
                        "inSupplierCurrency": _money(currency, sign * net_supplier),
                        "inWalletCurrency": _money("DKK", sign * net_wallet),
                    },
                    "tags": [
                        {"id": self.refs.tag_ids[tag], "code": tag[1], "groupCode": tag[0]}
                        for tag in spec.tags
                    ],
                    "tax": tax_json,
                }
            )
        ref = book_id or self.book_id()
        file_list: list[JSON] | None = None
        if files is not None:
            title = supplier["name"] if supplier else type.replace("_", " ").title()
            receipt_lines = [
                f"Date {when.date().isoformat()}",
                f"Total {_format_amount(total_supplier, currency)}",
                f"VAT {_format_amount(total_tax, 'DKK')} (DKK)",
            ]
            file_list = self.receipt_files(files, title, receipt_lines, ref)
        result: JSON = {
            "_links": {
                "web": {"exportItem": f"https://app.pleo.io/export/items/{entry_id}"},
                "mobile": {"exportItem": f"pleo://export/items/{entry_id}"},
                "api": {"exportItem": f"https://external.pleo.io/v3/export-items/{entry_id}"},
            },
            "accountingEntryId": entry_id,
            "companyId": self.company_id,
            "type": type,
            "date": _iso(when),
            "amount": {
                "inSupplierCurrency": _money(currency, sign * total_supplier),
                "inWalletCurrency": _money("DKK", sign * total_wallet),
            },
            "accountingEntryLines": line_dicts,
            "additionalInformation": {
                "reconciliationId": ref,
                "attendees": attendees,
                "reconciledEntries": reconciled,
                "invoiceInformation": invoice,
            },
            "bookkeeping": None if method is None else {"method": method},
            "contraAccount": self.contra_json() if contra else None,
            "files": file_list,
            "note": note,
            "servicePeriod": None
            if service_period is None
            else {"from": _midnight(service_period[0]), "to": _midnight(service_period[1])},
            "supplier": supplier,
            "team": self.team_json(user) if user else None,
            "user": self.user_json(user) if user else None,
            "vendor": None if vendor is None else self.vendor_json(vendor),
        }
        if sub_type is not None:  # subType is a plain string in the spec, never null
            result["subType"] = sub_type
        if expect is not None:
            self.expected_failures[entry_id] = expect
        return result

    def job(
        self, items: list[JSON], *, created: datetime, vendor_based: bool, by: str | None
    ) -> DemoJob:
        job: JSON = {
            "id": self.uid(),
            "companyId": self.company_id,
            "status": "pending",
            "createdAt": _iso(created),
            "createdBy": self.refs.employees[by].id if by else None,
            "startedAt": None,
            "completedAt": None,
            "lastUpdatedAt": _iso(created),
            "expiresIn": 3600,
            "expiredAt": None,
            "numberOfItems": len(items),
            "isInteractive": by is not None,
            "vendorBasedBookkeeping": vendor_based,
            "failureReason": None,
        }
        return DemoJob(job=job, items=items)


# ---------------------------------------------------------------------------------------------
# The three scenario jobs: the table in ``_demo_scenario`` rendered to JSON
# ---------------------------------------------------------------------------------------------


def _invoice_json(invoice: Invoice) -> JSON:
    return {
        "invoiceNumber": invoice.number,
        "invoiceDate": _midnight(invoice.issued),
        "dueDate": None if invoice.due is None else _midnight(invoice.due),
        "paymentDate": None if invoice.paid is None else _midnight(invoice.paid),
        "status": invoice.status,
        "supplierBankAccount": None if invoice.bank is None else dict(BANKS[invoice.bank]),
    }


def _scenario_item(b: _Builder, item: Item, book_ids: Mapping[str, str]) -> JSON:
    """One scenario :class:`~._demo_scenario.Item` as an ``ExportItemV3`` dict."""
    supplier = (
        None if item.merchant is None else b.supplier_json(item.merchant, code=item.supplier_code)
    )
    return b.item(
        type=item.type,
        when=item.when,
        lines=item.lines,
        currency=item.currency,
        sub_type=item.sub_type,
        method=item.method,
        vendor=item.vendor,
        supplier=supplier,
        user=item.user,
        note=item.note,
        files=item.files,
        contra=item.contra,
        invoice=None if item.invoice is None else _invoice_json(item.invoice),
        reconciled=None if item.reconciled is None else [book_ids[n] for n in item.reconciled],
        attendees=None if item.attendees is None else list(item.attendees),
        service_period=item.service_period,
        expect=item.expect,
    )


def _scenario_items(b: _Builder, jobs: Sequence[Job]) -> list[list[JSON]]:
    """The items of every scenario job, in table order (hence the same ids for a seed)."""
    book_ids: dict[str, str] = {}  # item name -> its reconciliation id, for ``reconciled``
    result: list[list[JSON]] = []
    for job in jobs:
        items: list[JSON] = []
        for item in job.items:
            rendered = _scenario_item(b, item, book_ids)
            if item.name is not None:
                book_ids[item.name] = rendered["additionalInformation"]["reconciliationId"]
            items.append(rendered)
        result.append(items)
    return result


# ---------------------------------------------------------------------------------------------
# Volume job
# ---------------------------------------------------------------------------------------------

_VOLUME_ACCOUNTS: Final = ("6010", "6020", "6030", "6100", "6110", "6120", "6200", "6300", "6500")
_VOLUME_CURRENCIES: Final = ("DKK",) * 7 + ("SEK", "EUR", "GBP")
_VOLUME_MERCHANTS: Final = ("juice", "elgiganten", "taxi", "sas", "lunch", "figma", "google")
_VOLUME_TAGS: Final = (
    (("DEPT", "ENG"), ("CC", "CC100")),
    (("DEPT", "MKT"), ("PROJ", "P-ALPHA")),
    (("DEPT", "FIN"), ("CC", "CC100")),
    (("DEPT", "ENG"), ("PROJ", "P-BETA")),
    (("DEPT", "MKT"), ("CC", "CC300")),
    (("PROJ", "P-ALPHA"), ("CC", "CC400")),
)
_VOLUME_FILE_POOL: Final = 32


class _Draw:
    """Takes small uniform-enough choices out of one big random integer (mixed radix)."""

    __slots__ = ("_value",)

    def __init__(self, value: int) -> None:
        self._value = value

    def pick(self, n: int) -> int:
        self._value, digit = divmod(self._value, n)
        return digit


def _volume_items(b: _Builder, count: int) -> list[JSON]:
    """``count`` valid items, three lines each; receipts come from a small shared pool."""
    rng = b.rng
    pool: list[tuple[str, DemoFile]] = []
    for index in range(_VOLUME_FILE_POOL):
        ref = f"BULK-{index:03d}"
        if index % 2:
            demo = DemoFile(
                "image/jpeg", make_jpeg(16, 24, (235, 235, 228), comment=ref), f"{ref}.jpg"
            )
        else:
            demo = DemoFile(
                "application/pdf", make_pdf(f"Receipt {ref}\nNordlys Studio ApS"), f"{ref}.pdf"
            )
        pool.append((ref, demo))
    employees = list(b.refs.employees)
    vendors = [v.code for v in _VENDORS]
    items: list[JSON] = []
    for _ in range(count):
        # One 256-bit draw per item, consumed digit by digit: random.choice() per field
        # would dominate the run time of a 10 000-item job.
        draw = _Draw(rng.getrandbits(256))
        roll = draw.pick(10)
        currency = _VOLUME_CURRENCIES[draw.pick(len(_VOLUME_CURRENCIES))]
        tax = "I25" if currency == "DKK" else "E0"
        lines = [
            Line(
                _VOLUME_ACCOUNTS[draw.pick(len(_VOLUME_ACCOUNTS))],
                2_000 + draw.pick(248_000),
                tax,
                _VOLUME_TAGS[draw.pick(len(_VOLUME_TAGS))],
            )
            for _ in range(3)
        ]
        when = sept(1 + draw.pick(30), 7 + draw.pick(15), draw.pick(60))
        employee = employees[draw.pick(len(employees))]
        vendor = vendors[draw.pick(len(vendors))]
        merchant = _VOLUME_MERCHANTS[draw.pick(len(_VOLUME_MERCHANTS))]
        if roll < 8:
            kind, method, contra, invoice = "card_purchase", "journal", True, None
        elif roll < 9:
            kind, method, contra, invoice = "card_purchase", "accounts_payable", True, None
        else:
            kind, method, contra = "invoice", "accounts_payable", False
            number = f"INV-{draw.pick(10**6):06d}"
            invoice = _invoice_json(Invoice(number, when.date(), "paid", paid=when.date()))
        item = b.item(
            type=kind, when=when, lines=lines, currency=currency, method=method, vendor=vendor,
            supplier=b.supplier_json(merchant), user=employee, files=None, contra=contra,
            invoice=invoice,
        )  # fmt: skip
        file_id = b.uid()
        ref, demo = pool[draw.pick(_VOLUME_FILE_POOL)]
        b.files[file_id] = demo
        item["files"] = [
            {
                "url": f"sandbox-file://{file_id}",
                "type": demo.content_type,
                "size": len(demo.content),
            }
        ]
        items.append(item)
    return items


# ---------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------


def build_demo(
    seed: int = 1, volume: int | None = None, *, negative_inflows: bool = False
) -> DemoData:
    """Build the demo company deterministically for ``seed``.

    ``volume`` adds a fourth, newest job with that many valid three-line items (for
    benchmarks; ``0`` or ``None`` adds no job); the first three jobs do not depend on it.
    ``negative_inflows`` switches the sign convention (see the module docstring).
    """
    if volume is not None and volume < 0:
        raise ValueError("volume must be non-negative")
    b = _Builder(seed, negative_inflows=negative_inflows)
    b.people()
    accounts = b.pleo_accounts()
    tax_codes = b.pleo_tax_codes()
    tag_groups = b.pleo_tag_groups()
    b.vendors()
    scenario_items = _scenario_items(b, JOBS)
    jobs = [
        b.job(
            items,
            created=BASE_TIME - timedelta(minutes=spec.minutes_before),
            vendor_based=spec.vendor_based,
            by=spec.created_by,
        )
        for spec, items in zip(JOBS, scenario_items, strict=True)
    ]
    statuses = {job.job["id"]: spec.expected_status for spec, job in zip(JOBS, jobs, strict=True)}
    if volume:
        # Tens of thousands of small dicts would trigger many full garbage-collection passes
        # (about a third of the run time); none of them can be garbage, so pause the GC.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            bulk_items = _volume_items(b, volume)
        finally:
            if gc_was_enabled:
                gc.enable()
        bulk = b.job(
            bulk_items,
            created=BASE_TIME - timedelta(minutes=10),
            vendor_based=True,
            by=None,
        )
        jobs.append(bulk)
        statuses[bulk.job["id"]] = "completed"

    chart = DemoChart(
        accounts=_ACCOUNTS,
        tax_codes=_TAX_CODES,
        dimensions=_DIMENSIONS,
        mapping=_MAPPING,
        vendors=_VENDORS,
        closed_until=_CLOSED_UNTIL,
    )
    return DemoData(
        company_id=b.company_id,
        company_name="Nordlys Studio ApS",
        currency="DKK",
        chart=chart,
        accounts=accounts,
        tax_codes=tax_codes,
        tag_groups=tag_groups,
        jobs=jobs,
        files=b.files,
        expected_failures=b.expected_failures,
        expected_job_statuses=statuses,
        employees=tuple(b.refs.employees.values()),
        teams=tuple(b.refs.teams.values()),
        reference_time=BASE_TIME,
    )
