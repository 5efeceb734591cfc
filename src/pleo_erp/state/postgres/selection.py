"""The Level 2 dimension selection on Postgres (same rules as the SQLite store)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from uuid import UUID

from pleo_erp.domain.reconcile.errors import SelectionError
from pleo_erp.domain.reconcile.tags import (
    MAX_SELECTED_DIMENSIONS,
    SourceDimension,
    validate_selection,
)
from pleo_erp.state.postgres._db import PgMigration, PostgresStateDB
from pleo_erp.state.selection import FEATURE, SelectionStore

__all__ = ["PostgresSelectionStore"]

_MIGRATIONS: tuple[PgMigration, ...] = (
    """
    CREATE TABLE IF NOT EXISTS dimension_selection (
        company_id UUID PRIMARY KEY,
        codes      JSONB NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL
    );
    """,
)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class PostgresSelectionStore(SelectionStore):
    """:class:`~pleo_erp.state.selection.SelectionState` on Postgres ("no row" ≠ "empty")."""

    def __init__(
        self,
        db: PostgresStateDB,
        *,
        limit: int = MAX_SELECTED_DIMENSIONS,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        """Bind to ``db`` and bring the selection table up to date (idempotent)."""
        self.pg = db
        self.limit = limit
        self._clock = clock
        db.apply_migrations(FEATURE, _MIGRATIONS)

    def load(self, company_id: UUID) -> tuple[str, ...] | None:
        """The stored selection for ``company_id``, or ``None`` if none was ever saved."""
        with self.pg.connection() as conn:
            row = conn.execute(
                "SELECT codes FROM dimension_selection WHERE company_id = %s", (company_id,)
            ).fetchone()
        if row is None:
            return None
        codes = row[0]
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
        """Validate and store the selection (tags rule 3); see :meth:`SelectionStore.save`."""
        if dimensions is not None:
            stored = validate_selection(codes, dimensions, limit=self.limit)
        else:
            stored = self._check_shape(codes)
        with self.pg.connection() as conn:
            conn.execute(
                "INSERT INTO dimension_selection (company_id, codes, updated_at) "
                "VALUES (%s, %s, %s) ON CONFLICT (company_id) DO UPDATE SET "
                "codes = excluded.codes, updated_at = excluded.updated_at",
                (company_id, json.dumps(list(stored)), self._clock()),
            )
        return stored

    def clear(self, company_id: UUID) -> None:
        """Forget the selection entirely (the next sync behaves as a first connection)."""
        with self.pg.connection() as conn:
            conn.execute("DELETE FROM dimension_selection WHERE company_id = %s", (company_id,))

    def __repr__(self) -> str:
        return f"PostgresSelectionStore({self.pg!r})"
