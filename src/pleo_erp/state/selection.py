"""The Level 2 dimension selection, persisted per company in the connector's SQLite state.

The selection is user configuration (tags-sync §1.2): which accounting dimensions are synced
as tag groups. It is the input of every sync cycle, so it lives in the state database rather
than being re-derived; Pleo's tag groups and tags themselves are re-read on every run.

"No row" and "an empty selection" are different things: no row means the connector was never
configured for that company (first connection → auto-selection, tags rule 4), an empty list
means the user chose nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Protocol, TypedDict, runtime_checkable
from uuid import UUID

from pleo_erp.domain.reconcile.errors import SelectionError
from pleo_erp.domain.reconcile.tags import (
    MAX_SELECTED_DIMENSIONS,
    SourceDimension,
    validate_selection,
)
from pleo_erp.state._db import Migration, StateDB

__all__ = ["FEATURE", "SelectionRules", "SelectionState", "SelectionStore"]

#: The feature name under which the selection's schema version is recorded.
FEATURE = "dimension_selection"

_MIGRATIONS: tuple[Migration, ...] = (
    """
    CREATE TABLE dimension_selection (
        company_id TEXT PRIMARY KEY,
        codes      TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    """,
)


class SelectionRules(TypedDict, total=False):
    """The keyword arguments of every selection store: ``limit`` and ``clock``."""

    limit: int
    """The most dimensions a selection may hold (default ``MAX_SELECTED_DIMENSIONS``)."""
    clock: Callable[[], datetime]
    """Gives ``updated_at`` (default: now, UTC)."""


@runtime_checkable
class SelectionState(Protocol):
    """Where ``sync_tags`` loads and saves the selection (``SelectionStore`` or a fake)."""

    def load(self, company_id: UUID) -> tuple[str, ...] | None:
        """The stored codes, or ``None`` if the company was never configured."""
        ...

    def save(
        self,
        company_id: UUID,
        codes: Sequence[str],
        *,
        dimensions: Sequence[SourceDimension] | None = None,
    ) -> tuple[str, ...]:
        """Validate and store ``codes``; return what was stored."""
        ...


#: What a store's ``_read`` returns when the company has no row (JSON ``null`` is corrupt data).
_NO_ROW = object()


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class SelectionStore:
    """Reads and writes the dimension selection in a :class:`~pleo_erp.state._db.StateDB`."""

    def __init__(
        self,
        db: StateDB,
        *,
        limit: int = MAX_SELECTED_DIMENSIONS,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        """Bind to ``db`` and bring the selection table up to date (idempotent)."""
        self.db = db
        self._set_rules(limit=limit, clock=clock)
        db.apply_migrations(FEATURE, _MIGRATIONS)

    def _set_rules(
        self, *, limit: int = MAX_SELECTED_DIMENSIONS, clock: Callable[[], datetime] = _utcnow
    ) -> None:
        self.limit = limit
        self._clock = clock

    def load(self, company_id: UUID) -> tuple[str, ...] | None:
        """The stored selection for ``company_id``, or ``None`` if none was ever saved."""
        codes = self._read(company_id)
        if codes is _NO_ROW:
            return None
        if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
            raise SelectionError(f"the stored selection of company {company_id} is corrupt")
        return tuple(codes)

    def save(
        self,
        company_id: UUID,
        codes: Sequence[str],
        *,
        dimensions: Sequence[SourceDimension] | None = None,
    ) -> tuple[str, ...]:
        """Validate and store the selection (tags rule 3); returns the stored codes.

        Always checked: at most ``limit`` codes, no empty code, no code twice (ignoring
        case). With ``dimensions`` (the AS's current list) every code must also be an
        active dimension, and is stored in the AS's spelling.

        Raises:
            SelectionError: the selection breaks a rule; nothing is stored.
        """
        if dimensions is not None:
            stored = validate_selection(codes, dimensions, limit=self.limit)
        else:
            stored = self._check_shape(codes)
        self._write(company_id, stored)
        return stored

    def deselect(self, company_id: UUID, code: str) -> tuple[str, ...]:
        """Remove one dimension (tags rule 27: its group is archived on the next sync)."""
        current = self.load(company_id) or ()
        remaining = [c for c in current if c.casefold() != code.casefold()]
        return self.save(company_id, remaining)

    def clear(self, company_id: UUID) -> None:
        """Forget the selection entirely (the next sync behaves as a first connection)."""
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM dimension_selection WHERE company_id = ?", (str(company_id),))

    # ---- storage: the SQL dialect (Postgres overrides these) ----------------------------------

    def _read(self, company_id: UUID) -> object:
        """The stored codes as decoded JSON, or ``_NO_ROW``."""
        row = self.db.fetch_one(
            "SELECT codes FROM dimension_selection WHERE company_id = ?", (str(company_id),)
        )
        return _NO_ROW if row is None else json.loads(row[0])

    def _write(self, company_id: UUID, codes: tuple[str, ...]) -> None:
        with self.db.transaction(immediate=True) as conn:
            conn.execute(
                "INSERT INTO dimension_selection (company_id, codes, updated_at) "
                "VALUES (?, ?, ?) ON CONFLICT (company_id) DO UPDATE SET "
                "codes = excluded.codes, updated_at = excluded.updated_at",
                (str(company_id), json.dumps(list(codes)), self._clock().isoformat()),
            )

    def _check_shape(self, codes: Sequence[str]) -> tuple[str, ...]:
        if isinstance(codes, str):
            raise SelectionError("a selection is a sequence of codes, not one string")
        if len(codes) > self.limit:
            raise SelectionError(
                f"at most {self.limit} dimensions can be selected, got {len(codes)}",
                candidates=codes,
            )
        seen: set[str] = set()
        for code in codes:
            if not code:
                raise SelectionError("a selected dimension code is empty")
            if code.casefold() in seen:
                raise SelectionError(f"dimension {code!r} is selected twice", candidates=[code])
            seen.add(code.casefold())
        return tuple(codes)

    def __repr__(self) -> str:
        return f"SelectionStore({self.db!r})"
