"""What a vendor's accounting system (AS) exposes so that Levels 2 and 3 can sync it into Pleo.

The AS is the source of truth; the syncs only ever read it. Three small protocols:

- :class:`DimensionSource` — accounting dimensions and their values (→ Pleo tag groups / tags);
- :class:`AccountSource` — the chart of accounts (→ Pleo accounts);
- :class:`TaxCodeSource` — tax codes (→ Pleo tax codes).

Each has an ``async`` twin (:class:`AsyncDimensionSource`, :class:`AsyncAccountSource`,
:class:`AsyncTaxCodeSource`) for the ``*_async`` syncs.

Implementations return **every** object they know, active or not, and mark inactive ones
(blocked, expired, archived, deleted …) with ``active=False``: the syncs decide what an
inactive object means. A read that fails must raise (ideally :class:`SourceReadError`),
never return an empty list: an empty list is a valid answer and archives everything in Pleo.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Final, Literal, Protocol, get_args, runtime_checkable

from attrs import define, field

from pleo_erp.models.tax_codes import TaxCodeTypeModel

__all__ = [
    "LEDGER_TAX_TYPES",
    "AccountSource",
    "AsyncAccountSource",
    "AsyncDimensionSource",
    "AsyncTaxCodeSource",
    "Dimension",
    "DimensionSource",
    "DimensionValue",
    "InvalidTaxCodeError",
    "LedgerAccount",
    "LedgerTaxCode",
    "LedgerTaxType",
    "SourceReadError",
    "TaxCodeSource",
    "parse_tax_type",
]

LedgerTaxType = Literal["inclusive", "exclusive", "reverse"]
"""The tax code types Pleo's ``TaxCodeTypeModel`` allows (``exclusive``: Pleo documents it as
not supported yet; the tax codes sync warns about it). An AS notion such as *exempt* or
*zero-rated* is ``inclusive`` with rate ``Decimal("0")``."""

#: Every :data:`LedgerTaxType`, in Pleo's order.
LEDGER_TAX_TYPES: Final[tuple[LedgerTaxType, ...]] = get_args(LedgerTaxType)


class SourceReadError(Exception):
    """The accounting system could not be read (network, auth, timeout, incomplete paging).

    The syncs treat it as "unknown", never as "empty": the affected scope is skipped and
    nothing is archived because of it.
    """


@define(frozen=True, slots=True)
class Dimension:
    """An accounting dimension (department, project, cost centre …) — a Pleo tag group.

    ``code`` is the AS's unique identifier for the dimension (matched case-insensitively
    against the tag group's ``code``); ``name`` is what users see.
    """

    code: str
    name: str
    active: bool = True


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
    default tax code (the ``code`` of a :class:`LedgerTaxCode`), if any.
    """

    external_id: str
    code: str | None
    name: str
    active: bool = True
    tax_code_external_id: str | None = None


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


@runtime_checkable
class DimensionSource(Protocol):
    """Reads accounting dimensions and their values from the AS (Level 2)."""

    def list_dimensions(self) -> Sequence[Dimension]:
        """Every dimension the AS has, active or not. Raises on a failed read."""
        ...

    def list_dimension_values(self, dimension_code: str) -> Sequence[DimensionValue]:
        """Every value of one dimension, active or not. Raises on a failed read."""
        ...


@runtime_checkable
class AccountSource(Protocol):
    """Reads the chart of accounts from the AS (Level 3)."""

    def list_accounts(self) -> Sequence[LedgerAccount]:
        """Every account, active or not. Raises on a failed read."""
        ...


@runtime_checkable
class TaxCodeSource(Protocol):
    """Reads tax codes from the AS (Level 3, synced before accounts)."""

    def list_tax_codes(self) -> Sequence[LedgerTaxCode]:
        """Every tax code, active or not. Raises on a failed read."""
        ...


# ----------------------------------------------------------------------------- async twins
# The same three protocols with ``async def`` methods, for the ``*_async`` syncs
# (``sync_tags_async`` …). Those syncs also accept the blocking protocols above and run their
# methods in a worker thread. The semantics are the same: every object, active or not; a
# failed read raises, never returns an empty list.


@runtime_checkable
class AsyncDimensionSource(Protocol):
    """The ``async`` twin of :class:`DimensionSource` (for :func:`~pleo_erp.sync_tags_async`)."""

    async def list_dimensions(self) -> Sequence[Dimension]:
        """Every dimension the AS has, active or not. Raises on a failed read."""
        ...

    async def list_dimension_values(self, dimension_code: str) -> Sequence[DimensionValue]:
        """Every value of one dimension, active or not. Raises on a failed read."""
        ...


@runtime_checkable
class AsyncAccountSource(Protocol):
    """The ``async`` twin of :class:`AccountSource` (for :func:`~pleo_erp.sync_accounts_async`)."""

    async def list_accounts(self) -> Sequence[LedgerAccount]:
        """Every account, active or not. Raises on a failed read."""
        ...


@runtime_checkable
class AsyncTaxCodeSource(Protocol):
    """The ``async`` twin of :class:`TaxCodeSource` (for :func:`~pleo_erp.sync_tax_codes_async`)."""

    async def list_tax_codes(self) -> Sequence[LedgerTaxCode]:
        """Every tax code, active or not. Raises on a failed read."""
        ...
