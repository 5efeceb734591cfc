"""An in-memory accounting system for Levels 2 and 3: dimensions, accounts and tax codes.

:class:`InMemorySources` implements :class:`~pleo_erp.accounting_system.sources.DimensionSource`,
:class:`~pleo_erp.accounting_system.sources.AccountSource` and
:class:`~pleo_erp.accounting_system.sources.TaxCodeSource` over plain lists, with helpers to
edit them the way a bookkeeper would (add, rename, recode, deactivate, remove) and a switch
that makes reads fail, so tests can check that a failed read never looks like an empty one.

Duplicates are allowed on purpose (an AS with two values sharing a code is exactly what the
duplicate rules are tested with); the edit helpers act on the first object with the code.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, Literal

import attrs

from pleo_erp.accounting_system.sources import (
    Dimension,
    DimensionValue,
    LedgerAccount,
    LedgerTaxCode,
    SourceReadError,
    parse_tax_type,
)

__all__ = ["InMemorySources", "ReadScope"]

#: What :meth:`InMemorySources.fail_reads` can break.
ReadScope = Literal["dimensions", "values", "accounts", "tax_codes"]

_ALL_SCOPES: tuple[ReadScope, ...] = ("accounts", "dimensions", "tax_codes", "values")


class InMemorySources:
    """Dimensions, dimension values, accounts and tax codes held in memory.

    Every ``list_*`` call returns a snapshot (a new list) and bumps :attr:`reads`; a failing
    scope raises :class:`SourceReadError` instead. Safe to share between threads.
    """

    def __init__(
        self,
        *,
        dimensions: Iterable[Dimension] = (),
        values: dict[str, Iterable[DimensionValue]] | None = None,
        accounts: Iterable[LedgerAccount] = (),
        tax_codes: Iterable[LedgerTaxCode] = (),
    ) -> None:
        """Start with the given objects (``values`` maps a dimension code to its values)."""
        self._sources_lock = threading.RLock()
        self._dimensions: list[Dimension] = list(dimensions)
        self._values: dict[str, list[DimensionValue]] = {
            code: list(vals) for code, vals in (values or {}).items()
        }
        self._accounts: list[LedgerAccount] = list(accounts)
        self._tax_codes: list[LedgerTaxCode] = list(tax_codes)
        self._failing: dict[str, set[str] | None] = {}
        #: Number of successful and failed reads per scope.
        self.reads: dict[str, int] = dict.fromkeys(_ALL_SCOPES, 0)

    # ------------------------------------------------------------------ protocol methods

    def list_dimensions(self) -> list[Dimension]:
        """Every dimension, active or not (``DimensionSource``)."""
        with self._sources_lock:
            self._read("dimensions")
            return list(self._dimensions)

    def list_dimension_values(self, dimension_code: str) -> list[DimensionValue]:
        """Every value of ``dimension_code`` (exact code), active or not."""
        with self._sources_lock:
            self._read("values", dimension_code)
            return list(self._values.get(dimension_code, ()))

    def list_accounts(self) -> list[LedgerAccount]:
        """Every account, active or not (``AccountSource``)."""
        with self._sources_lock:
            self._read("accounts")
            return list(self._accounts)

    def list_tax_codes(self) -> list[LedgerTaxCode]:
        """Every tax code, active or not (``TaxCodeSource``)."""
        with self._sources_lock:
            self._read("tax_codes")
            return list(self._tax_codes)

    # ------------------------------------------------------------------ failure switch

    def fail_reads(self, *scopes: ReadScope, dimension: str | None = None) -> None:
        """Make reads raise :class:`SourceReadError` until :meth:`restore_reads`.

        No ``scopes`` means every scope. With ``dimension``, only that dimension's values
        fail (``scopes`` defaults to ``("values",)``).
        """
        with self._sources_lock:
            if dimension is not None:
                current = self._failing.get("values", set())
                if current is not None:
                    current.add(dimension)
                    self._failing["values"] = current
                return
            for scope in scopes or _ALL_SCOPES:
                if scope not in _ALL_SCOPES:
                    raise ValueError(f"unknown read scope {scope!r}")
                self._failing[scope] = None  # None = the whole scope fails

    def restore_reads(self) -> None:
        """Make every read succeed again."""
        with self._sources_lock:
            self._failing.clear()

    def _read(self, scope: str, dimension: str | None = None) -> None:
        self.reads[scope] += 1
        if scope not in self._failing:
            return
        which = self._failing[scope]
        if which is None or (dimension is not None and dimension in which):
            where = f" of {dimension!r}" if dimension is not None else ""
            raise SourceReadError(f"simulated failure reading {scope}{where}")

    # ------------------------------------------------------------------ dimensions

    def add_dimension(
        self, code: str, name: str | None = None, *, active: bool = True
    ) -> Dimension:
        """Add a dimension (and an empty value list for it)."""
        dim = Dimension(code, code if name is None else name, active)
        with self._sources_lock:
            self._dimensions.append(dim)
            self._values.setdefault(code, [])
        return dim

    def rename_dimension(self, code: str, name: str) -> None:
        """Change a dimension's name."""
        self._edit_dimension(code, name=name)

    def recode_dimension(self, code: str, new_code: str) -> None:
        """Change a dimension's code, moving its values along."""
        with self._sources_lock:
            self._edit_dimension(code, code=new_code)
            self._values[new_code] = self._values.pop(code, [])

    def deactivate_dimension(self, code: str) -> None:
        """Mark a dimension inactive."""
        self._edit_dimension(code, active=False)

    def activate_dimension(self, code: str) -> None:
        """Mark a dimension active again."""
        self._edit_dimension(code, active=True)

    def remove_dimension(self, code: str) -> None:
        """Delete a dimension and its values from the AS."""
        with self._sources_lock:
            self._remove(self._dimensions, "code", code)
            self._values.pop(code, None)

    def _edit_dimension(self, key: str, /, **changes: Any) -> None:
        self._edit(self._dimensions, "code", key, changes)

    # ------------------------------------------------------------------ dimension values

    def add_value(
        self, dimension: str, code: str, name: str | None = None, *, active: bool = True
    ) -> DimensionValue:
        """Add a value to ``dimension`` (duplicates allowed)."""
        value = DimensionValue(code, code if name is None else name, active)
        with self._sources_lock:
            self._values.setdefault(dimension, []).append(value)
        return value

    def rename_value(self, dimension: str, code: str, name: str) -> None:
        """Change a value's name."""
        self._edit_value(dimension, code, name=name)

    def recode_value(self, dimension: str, code: str, new_code: str) -> None:
        """Change a value's code (Pleo sees an archive of the old tag and a new tag)."""
        self._edit_value(dimension, code, code=new_code)

    def deactivate_value(self, dimension: str, code: str) -> None:
        """Mark a value inactive (blocked, expired …)."""
        self._edit_value(dimension, code, active=False)

    def activate_value(self, dimension: str, code: str) -> None:
        """Mark a value active again."""
        self._edit_value(dimension, code, active=True)

    def remove_value(self, dimension: str, code: str) -> None:
        """Delete a value from the AS."""
        with self._sources_lock:
            self._remove(self._values.get(dimension, []), "code", code)

    def values_of(self, dimension: str) -> tuple[DimensionValue, ...]:
        """The values of ``dimension`` without counting a read."""
        with self._sources_lock:
            return tuple(self._values.get(dimension, ()))

    def _edit_value(self, dimension: str, key: str, /, **changes: Any) -> None:
        with self._sources_lock:
            self._edit(self._values.get(dimension, []), "code", key, changes)

    # ------------------------------------------------------------------ accounts

    def add_account(
        self,
        external_id: str,
        code: str | None,
        name: str,
        *,
        active: bool = True,
        tax_code_external_id: str | None = None,
    ) -> LedgerAccount:
        """Add an account (duplicate external ids allowed, to test accounts rule 36)."""
        account = LedgerAccount(external_id, code, name, active, tax_code_external_id)
        with self._sources_lock:
            self._accounts.append(account)
        return account

    def rename_account(self, external_id: str, name: str) -> None:
        """Change an account's name."""
        self._edit_account(external_id, name=name)

    def recode_account(self, external_id: str, code: str | None) -> None:
        """Change an account's number (``code``); the external id stays."""
        self._edit_account(external_id, code=code)

    def set_account_tax_code(self, external_id: str, tax_code: str | None) -> None:
        """Change an account's default tax code reference."""
        self._edit_account(external_id, tax_code_external_id=tax_code)

    def deactivate_account(self, external_id: str) -> None:
        """Mark an account inactive (blocked, archived …)."""
        self._edit_account(external_id, active=False)

    def activate_account(self, external_id: str) -> None:
        """Mark an account active again."""
        self._edit_account(external_id, active=True)

    def remove_account(self, external_id: str) -> None:
        """Delete an account from the AS."""
        self._remove(self._accounts, "external_id", external_id)

    @property
    def accounts(self) -> tuple[LedgerAccount, ...]:
        """The accounts, without counting a read."""
        with self._sources_lock:
            return tuple(self._accounts)

    def _edit_account(self, key: str, /, **changes: Any) -> None:
        self._edit(self._accounts, "external_id", key, changes)

    # ------------------------------------------------------------------ tax codes

    def add_tax_code(
        self,
        code: str,
        name: str,
        rate: Decimal | int | str,
        type: str = "inclusive",
        *,
        active: bool = True,
        ingoing_tax_account: str | None = None,
        outgoing_tax_account: str | None = None,
    ) -> LedgerTaxCode:
        """Add a tax code (``rate`` is a fraction: 25 % → ``Decimal("0.25")``).

        Raises:
            InvalidTaxCodeError: ``type`` is not ``inclusive``, ``exclusive`` or ``reverse``.
        """
        tax_code = LedgerTaxCode(
            code,
            name,
            Decimal(rate),
            parse_tax_type(type),
            active,
            ingoing_tax_account,
            outgoing_tax_account,
        )
        with self._sources_lock:
            self._tax_codes.append(tax_code)
        return tax_code

    def update_tax_code(self, key: str, /, **changes: Any) -> None:
        """Change fields of tax code ``key`` (``name=``, ``rate=``, ``code=``, ``active=`` …)."""
        self._edit(self._tax_codes, "code", key, changes)

    def deactivate_tax_code(self, code: str) -> None:
        """Mark a tax code inactive."""
        self.update_tax_code(code, active=False)

    def remove_tax_code(self, code: str) -> None:
        """Delete a tax code from the AS."""
        self._remove(self._tax_codes, "code", code)

    @property
    def tax_codes(self) -> tuple[LedgerTaxCode, ...]:
        """The tax codes, without counting a read."""
        with self._sources_lock:
            return tuple(self._tax_codes)

    @property
    def dimensions(self) -> tuple[Dimension, ...]:
        """The dimensions, without counting a read."""
        with self._sources_lock:
            return tuple(self._dimensions)

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _index(items: Sequence[Any], attribute: str, key: str) -> int:
        for i, item in enumerate(items):
            if getattr(item, attribute) == key:
                return i
        raise KeyError(f"no object with {attribute} {key!r}")

    def _edit(self, items: list[Any], attribute: str, key: str, changes: dict[str, Any]) -> None:
        """Replace the object of ``items`` whose ``attribute`` is ``key`` by an edited copy."""
        with self._sources_lock:
            i = self._index(items, attribute, key)
            items[i] = attrs.evolve(items[i], **changes)

    def _remove(self, items: list[Any], attribute: str, key: str) -> None:
        """Delete the object of ``items`` whose ``attribute`` is ``key``."""
        with self._sources_lock:
            items.pop(self._index(items, attribute, key))

    def __repr__(self) -> str:
        with self._sources_lock:
            return (
                f"{type(self).__name__}(dimensions={len(self._dimensions)}, "
                f"values={sum(len(v) for v in self._values.values())}, "
                f"accounts={len(self._accounts)}, tax_codes={len(self._tax_codes)})"
            )
