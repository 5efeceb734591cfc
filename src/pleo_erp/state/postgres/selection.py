"""The Level 2 dimension selection on Postgres (same rules as the SQLite store).

Only the storage differs (``JSONB``, ``%s`` parameters, autocommit): validation, corrupt-row
detection and ``deselect`` are :class:`~pleo_erp.state.selection.SelectionStore`'s.
"""

from __future__ import annotations

import json
from uuid import UUID

from typing_extensions import Unpack

from pleo_erp.state.postgres._db import PgMigration, PostgresStateDB
from pleo_erp.state.selection import _NO_ROW, FEATURE, SelectionRules, SelectionStore

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


class PostgresSelectionStore(SelectionStore):
    """:class:`~pleo_erp.state.selection.SelectionState` on Postgres ("no row" ≠ "empty")."""

    def __init__(self, db: PostgresStateDB, **rules: Unpack[SelectionRules]) -> None:
        """Bind to ``db`` and bring the selection table up to date (idempotent).

        ``limit`` and ``clock`` as for :class:`~pleo_erp.state.selection.SelectionStore`.
        """
        self.pg = db
        self._set_rules(**rules)
        db.apply_migrations(FEATURE, _MIGRATIONS)

    def clear(self, company_id: UUID) -> None:
        """Forget the selection entirely (the next sync behaves as a first connection)."""
        with self.pg.connection() as conn:
            conn.execute("DELETE FROM dimension_selection WHERE company_id = %s", (company_id,))

    def _read(self, company_id: UUID) -> object:
        row = self.pg.fetch_one(
            "SELECT codes FROM dimension_selection WHERE company_id = %s", (company_id,)
        )
        return _NO_ROW if row is None else row[0]  # JSONB arrives decoded

    def _write(self, company_id: UUID, codes: tuple[str, ...]) -> None:
        with self.pg.connection() as conn:
            conn.execute(
                "INSERT INTO dimension_selection (company_id, codes, updated_at) "
                "VALUES (%s, %s, %s) ON CONFLICT (company_id) DO UPDATE SET "
                "codes = excluded.codes, updated_at = excluded.updated_at",
                (company_id, json.dumps(list(codes)), self._clock()),
            )

    def __repr__(self) -> str:
        return f"PostgresSelectionStore({self.pg!r})"
