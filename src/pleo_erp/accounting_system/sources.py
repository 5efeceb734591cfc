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
from typing import Protocol, runtime_checkable

# The records live in the domain layer (:mod:`pleo_erp.domain.records`): one vocabulary for
# sources, planners, adapters and the demo. Re-exported (its ``__all__``) so these import
# paths keep working.
from pleo_erp.domain import records as _records
from pleo_erp.domain.records import *  # noqa: F403
from pleo_erp.domain.records import Dimension, DimensionValue, LedgerAccount, LedgerTaxCode

__all__ = [
    *_records.__all__,
    "AccountSource",
    "AsyncAccountSource",
    "AsyncDimensionSource",
    "AsyncTaxCodeSource",
    "DimensionSource",
    "SourceReadError",
    "TaxCodeSource",
]


class SourceReadError(Exception):
    """The accounting system could not be read (network, auth, timeout, incomplete paging).

    The syncs treat it as "unknown", never as "empty": the affected scope is skipped and
    nothing is archived because of it.
    """


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
