"""The distributed state on PostgreSQL (the ``pleo-erp[postgres]`` extra: psycopg 3 + pool).

The same protocols as the embedded SQLite state, for any number of worker machines:

- :class:`PostgresLeaseStore` -- company leases as rows on the database clock, with a fencing
  generation (no session advisory locks);
- :class:`PostgresTokenStore` -- OAuth tokens, single-flight refresh via ``SELECT … FOR UPDATE``;
- :class:`PostgresExportJournal` -- the export journal, writes fenced by the run's lease;
- :class:`PostgresSelectionStore` -- the Level 2 dimension selection;

The runtime's own stores on Postgres (schedule, webhook inbox, connection registry) and
``open_runtime_state("postgresql://…")``, which opens every store on one pool, live one layer
up in :mod:`pleo_erp.runtime.postgres`. Importing :mod:`pleo_erp` never imports psycopg.
"""

from __future__ import annotations

from pleo_erp.state.postgres._db import PgMigration, PostgresStateDB
from pleo_erp.state.postgres.journal import PostgresExportJournal
from pleo_erp.state.postgres.leases import PostgresLeaseStore
from pleo_erp.state.postgres.selection import PostgresSelectionStore
from pleo_erp.state.postgres.tokens import PostgresTokenStore

__all__ = [
    "PgMigration",
    "PostgresExportJournal",
    "PostgresLeaseStore",
    "PostgresSelectionStore",
    "PostgresStateDB",
    "PostgresTokenStore",
]
