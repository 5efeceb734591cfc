"""Exact money: integer minor units, ISO 4217 exponents, conversion at the AS boundary only.

Pleo sends ``{"currency": "SEK", "value": 89696}``: the value is in *minor units*. The docs
say "cents (amount/100)" for every currency, which is wrong for zero-decimal (JPY, KRW …)
and three-decimal (KWD, BHD …) currencies; we use the ISO 4217 exponent (DESIGN decision 11,
export-api.md Part 3 rule 14). Amounts stay ``int`` inside the SDK and become ``Decimal``
major units only when handed to an accounting system. Floats are refused everywhere.

``UNDEFINED`` (a value of Pleo's currency enum) is tolerated: it has no exponent, so it can
be carried around but not converted.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from attrs import define, field

__all__ = [
    "UNDEFINED_CURRENCY",
    "CurrencyError",
    "Money",
    "is_known_currency",
    "minor_to_major",
    "minor_unit_exponent",
]

UNDEFINED_CURRENCY: Final = "UNDEFINED"
"""Pleo's placeholder currency code (part of its ISO 4217 enum)."""

# ISO 4217 currencies whose minor unit is not 2 (list one, 2024 edition, plus historic codes
# still present in Pleo's enum). Every other three-letter code in Pleo's enum has 2 decimals.
_EXPONENTS: Final[dict[str, int]] = {
    # zero decimals
    "BIF": 0, "BYR": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
    "PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    # three decimals
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    # four decimals
    "CLF": 4, "UYW": 4,
}  # fmt: skip

# Codes with no minor unit at all (precious metals, testing, SDR …): "N.A." in ISO 4217.
_NO_MINOR_UNIT: Final[frozenset[str]] = frozenset(
    {"XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU", "XTS", "XUA", "XXX",
     "XAD", UNDEFINED_CURRENCY}
)  # fmt: skip


class CurrencyError(ValueError):
    """A currency cannot be used for the requested operation (unknown code, no minor unit)."""


def is_known_currency(code: str) -> bool:
    """Whether ``code`` looks like an ISO 4217 code with a defined minor unit."""
    return (
        len(code) == 3
        and code.isascii()
        and code.isalpha()
        and code.isupper()
        and code not in _NO_MINOR_UNIT
    )


def minor_unit_exponent(code: str) -> int | None:
    """The number of decimals of ``code`` (JPY → 0, EUR → 2, KWD → 3), or ``None``.

    ``None`` means the code has no minor unit (``UNDEFINED``, ``XAU`` …) or is not a currency
    code at all; such amounts cannot be converted to major units.
    """
    exponent = _EXPONENT_CACHE.get(code, _UNCACHED)
    if exponent != _UNCACHED:
        return exponent
    exponent = _EXPONENTS.get(code, 2) if is_known_currency(code) else None
    if len(_EXPONENT_CACHE) < _EXPONENT_CACHE_SIZE:  # bounded: codes come from the wire
        _EXPONENT_CACHE[code] = exponent
    return exponent


# ``minor_unit_exponent`` answers by code: asked several times per exported item.
_UNCACHED: Final = -1
_EXPONENT_CACHE: dict[str, int | None] = {}
_EXPONENT_CACHE_SIZE: Final = 1024


def minor_to_major(value: int, currency: str) -> Decimal:
    """Convert integer minor units to an exact ``Decimal`` in major units.

    ``minor_to_major(89696, "SEK") == Decimal("896.96")``; ``minor_to_major(500, "JPY") ==
    Decimal("500")``; ``minor_to_major(1234, "KWD") == Decimal("1.234")``.

    Raises:
        CurrencyError: ``currency`` has no minor unit (e.g. ``UNDEFINED``).
        TypeError: ``value`` is not an ``int`` (floats are refused).
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"minor units must be an int, got {type(value).__name__}")
    exponent = minor_unit_exponent(currency)
    if exponent is None:
        raise CurrencyError(f"currency {currency!r} has no minor unit; cannot convert amount")
    return Decimal(value).scaleb(-exponent)


def _int_minor(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"money values are int minor units, got {type(value).__name__}")
    return value


@define(frozen=True, slots=True)
class Money:
    """An amount in integer minor units of ``currency`` (``Money("SEK", 89696)`` = 896.96 SEK)."""

    currency: str
    value: int = field(converter=_int_minor)

    def to_major(self) -> Decimal:
        """The amount in major units as an exact ``Decimal`` (raises for ``UNDEFINED``)."""
        return minor_to_major(self.value, self.currency)

    def __neg__(self) -> Money:
        return Money(self.currency, -self.value)

    def __abs__(self) -> Money:
        return Money(self.currency, abs(self.value))

    def __str__(self) -> str:
        exponent = minor_unit_exponent(self.currency)
        if exponent is None:
            return f"{self.value} (minor units) {self.currency}"
        return f"{minor_to_major(self.value, self.currency):f} {self.currency}"
