"""The records of an accounting system's chart: accounts, tax codes, dimensions and values.

One vocabulary for one thing: a source (:mod:`pleo_erp.accounting_system.sources`) returns
these records, the reconciliation planners (:mod:`pleo_erp.domain.reconcile`) plan from them,
the Beancount adapter renders a ledger from them (its ``Chart*`` names are aliases) and the
conformance kit compares Pleo against them.

- :class:`LedgerAccount` — an account of the chart of accounts (a Pleo account);
- :class:`LedgerTaxCode` — a tax (VAT) code (a Pleo tax code);
- :class:`Dimension` — an accounting dimension (a Pleo tag group), optionally with its values;
- :class:`DimensionValue` — one value of a dimension (a Pleo tag).

Pure values of the domain layer; :mod:`pleo_erp.accounting_system.sources` (and
:mod:`pleo_erp.accounting_system`) re-export every name, so both import paths work.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from decimal import Decimal
from typing import Final, Literal, get_args

from attrs import define, field

from pleo_erp.models.tax_codes import TaxCodeTypeModel

__all__ = [
    "LEDGER_ACCOUNT_KINDS",
    "LEDGER_TAX_TYPES",
    "Dimension",
    "DimensionValue",
    "InvalidTaxCodeError",
    "LedgerAccount",
    "LedgerAccountKind",
    "LedgerTaxCode",
    "LedgerTaxType",
    "parse_tax_type",
]

LedgerTaxType = Literal["inclusive", "exclusive", "reverse"]
"""The tax code types Pleo's ``TaxCodeTypeModel`` allows (``exclusive``: Pleo documents it as
not supported yet; the tax codes sync warns about it). An AS notion such as *exempt* or
*zero-rated* is ``inclusive`` with rate ``Decimal("0")``."""

#: Every :data:`LedgerTaxType`, in Pleo's order.
LEDGER_TAX_TYPES: Final[tuple[LedgerTaxType, ...]] = get_args(LedgerTaxType)

LedgerAccountKind = Literal["expense", "income", "asset", "liability", "equity"]
"""What an account is in the balance sheet / income statement (the Beancount adapter derives
the ledger root from it: ``expense`` → ``Expenses:…``). Optional on :class:`LedgerAccount`:
the syncs never read it."""

#: Every :data:`LedgerAccountKind`.
LEDGER_ACCOUNT_KINDS: Final[tuple[LedgerAccountKind, ...]] = get_args(LedgerAccountKind)


def _values_tuple(values: Iterable[DimensionValue]) -> tuple[DimensionValue, ...]:
    return tuple(values)


@define(frozen=True, slots=True)
class Dimension:
    """An accounting dimension (department, project, cost centre …) — a Pleo tag group.

    ``code`` is the AS's unique identifier for the dimension (matched case-insensitively
    against the tag group's ``code``); ``name`` is what users see. ``values`` optionally
    carries the dimension's values where a chart is described in one piece (the Beancount
    adapter's ``create_ledger``, the demo chart); a ``DimensionSource`` lists values
    separately (``list_dimension_values``) and the syncs read them only from there.
    """

    code: str
    name: str
    active: bool = True
    values: tuple[DimensionValue, ...] = field(default=(), converter=_values_tuple)


@define(frozen=True, slots=True)
class DimensionValue:
    """One value of a dimension (a department, a project …) — a Pleo tag.

    ``active`` is ``False`` for values the AS reports as archived, inactive, blocked,
    expired, deactivated or deleted: all of them count as "not present" for the sync.
    """

    code: str
    name: str
    active: bool = True


@define(frozen=True, slots=True)
class LedgerAccount:
    """An account of the AS's chart of accounts — a Pleo (bookkeeping) account.

    ``external_id`` is the AS's stable id (the matching key, compared exactly); ``code`` is
    the account number users see; ``tax_code_external_id`` is the AS id of the account's
    default tax code (the ``code`` of a :class:`LedgerTaxCode`), if any. ``kind``
    (:data:`LedgerAccountKind`) says where the account sits in the books; it is optional
    (the syncs never read it) and used where a ledger is created from a chart.
    """

    external_id: str
    code: str | None
    name: str
    active: bool = True
    tax_code_external_id: str | None = None
    kind: LedgerAccountKind | None = None


class InvalidTaxCodeError(TypeError, ValueError):
    """A :class:`LedgerTaxCode` was built with a type Pleo does not know or an inexact rate.

    Raised at construction, so a bad value fails where the adapter reads its AS, not later in
    the sync. It is both a ``TypeError`` (what a float rate raised before) and a
    ``ValueError``.
    """


def parse_tax_type(value: str | TaxCodeTypeModel) -> LedgerTaxType:
    """``value`` as a :data:`LedgerTaxType`, for types read from an AS as plain strings.

    Raises:
        InvalidTaxCodeError: ``value`` is not ``inclusive``, ``exclusive`` or ``reverse``
            (the message says how to express an exempt / zero-rated code).
    """
    text = value.value if isinstance(value, TaxCodeTypeModel) else value
    for known in LEDGER_TAX_TYPES:
        if text == known:
            return known
    hint = ""
    if isinstance(text, str) and text.strip().lower() in ("exempt", "zero", "zero-rated", "none"):
        hint = "; an exempt or zero-rated code is type='inclusive' with rate=Decimal('0')"
    raise InvalidTaxCodeError(
        f"tax code type {text!r} is not one of {', '.join(LEDGER_TAX_TYPES)}{hint}"
    )


def _tax_type(value: LedgerTaxType | TaxCodeTypeModel) -> LedgerTaxType:
    """The converter of ``LedgerTaxCode.type``: typed narrowly so mypy refuses ``"exempt"``."""
    return parse_tax_type(value)


def _exact_rate(value: Decimal | int | str) -> Decimal:
    """Rates are exact decimals: accept ``Decimal``/``int``/``str``, refuse ``float``."""
    if isinstance(value, (bool, float)):
        raise InvalidTaxCodeError("a tax rate must be a Decimal (or int/str), never a float")
    if not isinstance(value, (Decimal, int, str)):
        raise InvalidTaxCodeError(f"a tax rate must be a Decimal, got {type(value).__name__}")
    try:
        rate = Decimal(value)
    except ArithmeticError as error:  # decimal.InvalidOperation for "25 %"
        raise InvalidTaxCodeError(f"tax rate {value!r} is not a decimal number") from error
    if not rate.is_finite():
        raise InvalidTaxCodeError(f"tax rate {value!r} is not a finite number")
    return rate


@define(frozen=True, slots=True)
class LedgerTaxCode:
    """A tax (VAT) code of the AS — a Pleo tax code.

    ``code`` is the AS's identifier for the tax code (the matching key, compared exactly;
    accounts refer to it through ``tax_code_external_id``). ``rate`` is a fraction
    (25 % → ``Decimal("0.25")``; ``int`` and ``str`` are converted, a ``float`` is refused).
    ``type`` is one of Pleo's :data:`LedgerTaxType` values ``inclusive`` | ``exclusive`` |
    ``reverse`` (a :class:`~pleo_erp.models.TaxCodeTypeModel` member is accepted too); an
    exempt or zero-rated code is ``inclusive`` with rate 0. For a type read as a plain string
    use :func:`parse_tax_type`.

    Raises:
        InvalidTaxCodeError: an unknown ``type``, a ``float`` or non-finite ``rate``.
    """

    code: str
    name: str
    rate: Decimal = field(converter=_exact_rate)
    type: LedgerTaxType = field(default="inclusive", converter=_tax_type)
    active: bool = True
    ingoing_tax_account: str | None = None
    outgoing_tax_account: str | None = None

    @property
    def external_id(self) -> str:
        """The AS identifier of the tax code (same as ``code``)."""
        return self.code

    @property
    def pleo_type(self) -> LedgerTaxType:
        """Deprecated: the same as :attr:`type` (kept from the sandbox's old ``DemoTaxCode``)."""
        warnings.warn(
            "LedgerTaxCode.pleo_type (formerly DemoTaxCode.pleo_type) is deprecated; "
            "use .type, which is always one of Pleo's tax code types",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.type
