"""The distributed state on PostgreSQL (the ``pleo-erp[postgres]`` extra: psycopg 3 + pool).

The same protocols as the embedded SQLite state, for any number of worker machines:

- :class:`PostgresLeaseStore` -- company leases as rows on the database clock, with a fencing
  generation (no session advisory locks);
- :class:`PostgresTokenStore` -- OAuth tokens, single-flight refresh via ``SELECT … FOR UPDATE``;
- :class:`PostgresExportJournal` -- the export journal, writes fenced by the run's lease;
- :class:`PostgresSelectionStore` -- the Level 2 dimension selection;
- :class:`PostgresScheduleStore` -- due times, claimed with ``FOR UPDATE SKIP LOCKED``;
- :class:`PostgresWebhookInbox`, :class:`PostgresConnectionRegistry`.

``open_runtime_state("postgresql://…")`` (what :func:`pleo_erp.runtime.open_state` calls for
such URLs) opens them all on one pool. Importing :mod:`pleo_erp` never imports psycopg.
"""

from __future__ import annotations

from pleo_erp.runtime.state import redact_url
from pleo_erp.runtime.stores import RuntimeState
from pleo_erp.state.postgres._db import PgMigration, PostgresStateDB
from pleo_erp.state.postgres.journal import PostgresExportJournal
from pleo_erp.state.postgres.leases import PostgresLeaseStore
from pleo_erp.state.postgres.schedule import (
    PostgresConnectionRegistry,
    PostgresScheduleStore,
    PostgresWebhookInbox,
)
from pleo_erp.state.postgres.selection import PostgresSelectionStore
from pleo_erp.state.postgres.tokens import PostgresTokenStore

__all__ = [
    "PgMigration",
    "PostgresConnectionRegistry",
    "PostgresExportJournal",
    "PostgresLeaseStore",
    "PostgresScheduleStore",
    "PostgresSelectionStore",
    "PostgresStateDB",
    "PostgresTokenStore",
    "PostgresWebhookInbox",
    "open_runtime_state",
]


def open_runtime_state(url: str, *, max_size: int = 8) -> RuntimeState:
    """Every runtime store on the Postgres database at ``url`` (one shared pool)."""
    db = PostgresStateDB(url, max_size=max_size)
    try:
        return RuntimeState(
            location=redact_url(url),
            registry=PostgresConnectionRegistry(db),
            schedule=PostgresScheduleStore(db),
            inbox=PostgresWebhookInbox(db),
            leases=PostgresLeaseStore(db),
            journal=PostgresExportJournal(db),
            selection=PostgresSelectionStore(db),
            token_store=lambda key: PostgresTokenStore(db, key),
            closer=db.close,
        )
    except BaseException:
        db.close()
        raise
