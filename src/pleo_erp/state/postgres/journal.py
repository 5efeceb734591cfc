"""The export journal on Postgres, fenced by the company lease.

Same semantics as :class:`~pleo_erp.state.export_journal.SQLiteExportJournal`. A journal
bound to a run's lease with :meth:`PostgresExportJournal.fenced` checks the lease in the same
transaction as every write (CONTRACTS §1): a worker that lost its lease (paused past its ttl,
taken over) gets :class:`~pleo_erp.state.LeaseLost` instead of writing, and stops before
reporting to Pleo. Each row keeps the generation that wrote it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from uuid import UUID

from pleo_erp.accounting_system.export import PostedEntry
from pleo_erp.state.export_journal import (
    _JOURNAL_COLUMNS,
    EXPORT_JOURNAL_FEATURE,
    JournalRecord,
    _journal_record,
)
from pleo_erp.state.postgres._db import PgMigration, PostgresStateDB

if TYPE_CHECKING:
    from pleo_erp.state.lease import Lease
    from pleo_erp.state.postgres.leases import PostgresLeaseStore

__all__ = ["PostgresExportJournal"]

_MIGRATIONS: tuple[PgMigration, ...] = (
    """
    CREATE TABLE IF NOT EXISTS export_journal (
        accounting_entry_id UUID PRIMARY KEY,
        company_id UUID NOT NULL,
        job_id UUID NOT NULL,
        external_id TEXT NOT NULL,
        external_url TEXT,
        posting_date DATE,
        attachment_keys JSONB NOT NULL DEFAULT '[]',
        status TEXT NOT NULL CHECK (status IN ('posted', 'reported')),
        lease_generation BIGINT,
        posted_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        reported_at TIMESTAMPTZ
    );
    CREATE INDEX IF NOT EXISTS export_journal_job ON export_journal (job_id, status);
    """,
)


class PostgresExportJournal:
    """:class:`~pleo_erp.state.export_journal.ExportJournal` on Postgres."""

    def __init__(
        self,
        db: PostgresStateDB,
        *,
        leases: PostgresLeaseStore | None = None,
        lease: Lease | None = None,
    ) -> None:
        """Use ``db`` (creating the table); with ``leases`` + ``lease`` every write is fenced."""
        if (leases is None) != (lease is None):
            raise ValueError("pass both leases and lease, or neither")
        self.db = db
        self._leases = leases
        self._lease = lease
        db.apply_migrations(EXPORT_JOURNAL_FEATURE, _MIGRATIONS)

    def fenced(self, leases: PostgresLeaseStore, lease: Lease) -> PostgresExportJournal:
        """This journal, writing only while ``lease`` is current (one per run)."""
        return PostgresExportJournal(self.db, leases=leases, lease=lease)

    def _fence(self, conn: Any) -> None:
        if self._leases is not None and self._lease is not None:
            self._leases.fence(conn, self._lease)

    def record_posted(self, *, company_id: UUID, job_id: UUID, posted: PostedEntry) -> None:
        """See :meth:`ExportJournal.record_posted`; raises ``LeaseLost`` when fenced out."""
        with self.db.transaction() as conn:
            self._fence(conn)
            conn.execute(
                "INSERT INTO export_journal (accounting_entry_id, company_id, job_id, "
                "external_id, external_url, posting_date, attachment_keys, status, "
                "lease_generation, posted_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, 'posted', %s, now()) "
                "ON CONFLICT (accounting_entry_id) DO UPDATE SET "
                "company_id = excluded.company_id, job_id = excluded.job_id, "
                "external_id = excluded.external_id, external_url = excluded.external_url, "
                "posting_date = excluded.posting_date, "
                "attachment_keys = excluded.attachment_keys, status = 'posted', "
                "lease_generation = excluded.lease_generation, "
                "posted_at = excluded.posted_at, reported_at = NULL",
                (
                    posted.accounting_entry_id,
                    company_id,
                    job_id,
                    posted.external_id,
                    posted.url,
                    posted.posting_date,
                    json.dumps(sorted(posted.attachment_keys)),
                    None if self._lease is None else self._lease.generation,
                ),
            )

    def mark_reported(self, accounting_entry_ids: Iterable[UUID]) -> None:
        """See :meth:`ExportJournal.mark_reported`."""
        ids = list(accounting_entry_ids)
        if not ids:
            return
        with self.db.transaction() as conn:
            self._fence(conn)
            conn.execute(
                "UPDATE export_journal SET status = 'reported', reported_at = now() "
                "WHERE accounting_entry_id = ANY(%s)",
                (ids,),
            )

    def lookup(self, accounting_entry_id: UUID) -> JournalRecord | None:
        """See :meth:`ExportJournal.lookup`."""
        row = self.db.fetch_one(
            f"SELECT {_JOURNAL_COLUMNS} FROM export_journal WHERE accounting_entry_id = %s",
            (accounting_entry_id,),
        )
        return None if row is None else _record(row)

    def unreported(self, job_id: UUID) -> list[JournalRecord]:
        """See :meth:`ExportJournal.unreported`."""
        rows = self.db.fetch_all(
            f"SELECT {_JOURNAL_COLUMNS} FROM export_journal "
            "WHERE job_id = %s AND status = 'posted' ORDER BY accounting_entry_id::text",
            (job_id,),
        )
        return [_record(row) for row in rows]

    def __repr__(self) -> str:
        return f"PostgresExportJournal({self.db!r}, fenced={self._lease is not None})"


def _record(row: tuple[Any, ...]) -> JournalRecord:
    """A Postgres row (UUID, DATE and JSONB arrive typed) as a record."""
    aeid, company, job, external_id, url, posting_date, keys, status = row
    return _journal_record(aeid, company, job, str(external_id), url, posting_date, keys, status)
