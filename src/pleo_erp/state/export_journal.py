"""The export journal: "posted in the AS, not yet reported to Pleo" (optional, SQLite).

Exactly-once posting rests on the AS: before posting, the export asks it for an entry with the
item's ``accountingEntryId`` (DESIGN decision 5). The journal adds a local record for ASs whose
lookup is slow, eventually consistent or missing: right after a post the entry is recorded as
``posted``; once Pleo accepted the item update it becomes ``reported``. When a run crashed in
between, the next run of the *same job* finds the ``posted`` row and reports the stored result
without calling the AS at all.

Rows are per ``accountingEntryId`` and keep the job id, so re-exporting an expense in a new
job (e.g. after it was deleted from the AS) is decided by the AS again, not by an old row.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime, timezone
from typing import Protocol, runtime_checkable
from uuid import UUID

from attrs import define

from pleo_erp.accounting_system.export import PostedEntry
from pleo_erp.state._db import StateDB

__all__ = [
    "EXPORT_JOURNAL_FEATURE",
    "ExportJournal",
    "JournalRecord",
    "SQLiteExportJournal",
]

EXPORT_JOURNAL_FEATURE = "export_journal"
"""The state-database feature name of the journal's table."""

_MIGRATIONS = (
    """
    CREATE TABLE export_journal (
        accounting_entry_id TEXT PRIMARY KEY,
        company_id TEXT NOT NULL,
        job_id TEXT NOT NULL,
        external_id TEXT NOT NULL,
        external_url TEXT,
        posting_date TEXT,
        attachment_keys TEXT NOT NULL DEFAULT '[]',
        status TEXT NOT NULL CHECK (status IN ('posted', 'reported')),
        posted_at TEXT NOT NULL,
        reported_at TEXT
    );
    CREATE INDEX export_journal_job ON export_journal (job_id, status);
    """,
)


@define(frozen=True, slots=True, kw_only=True)
class JournalRecord:
    """One journal row: the AS entry created for an item, and whether Pleo knows."""

    accounting_entry_id: UUID
    company_id: UUID
    job_id: UUID
    posted: PostedEntry
    reported: bool


@runtime_checkable
class ExportJournal(Protocol):
    """Where the export records posts until they are reported (see the module docstring)."""

    def record_posted(self, *, company_id: UUID, job_id: UUID, posted: PostedEntry) -> None:
        """Remember that ``posted`` was created for ``job_id`` (not yet reported)."""
        ...

    def mark_reported(self, accounting_entry_ids: Iterable[UUID]) -> None:
        """Pleo accepted these items' outcomes."""
        ...

    def lookup(self, accounting_entry_id: UUID) -> JournalRecord | None:
        """The record of one item, if any."""
        ...

    def unreported(self, job_id: UUID) -> list[JournalRecord]:
        """Posted-but-unreported records of a job."""
        ...


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


_JOURNAL_COLUMNS = (
    "accounting_entry_id, company_id, job_id, external_id, external_url, posting_date, "
    "attachment_keys, status"
)
"""What both dialects select for one :class:`JournalRecord` (constant: safe in SQL text)."""


class SQLiteExportJournal:
    """:class:`ExportJournal` on the connector's state database (:class:`StateDB`)."""

    def __init__(self, db: StateDB) -> None:
        """Use ``db``, creating the journal table if needed."""
        self._db = db
        db.apply_migrations(EXPORT_JOURNAL_FEATURE, _MIGRATIONS)

    @property
    def db(self) -> StateDB:
        """The state database the journal lives in (a lease in the same one can fence it)."""
        return self._db

    def record_posted(self, *, company_id: UUID, job_id: UUID, posted: PostedEntry) -> None:
        """See :meth:`ExportJournal.record_posted`."""
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO export_journal (accounting_entry_id, company_id, job_id, "
                "external_id, external_url, posting_date, attachment_keys, status, posted_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, 'posted', ?) "
                "ON CONFLICT (accounting_entry_id) DO UPDATE SET company_id = excluded.company_id, "
                "job_id = excluded.job_id, external_id = excluded.external_id, "
                "external_url = excluded.external_url, posting_date = excluded.posting_date, "
                "attachment_keys = excluded.attachment_keys, status = 'posted', "
                "posted_at = excluded.posted_at, reported_at = NULL",
                (
                    str(posted.accounting_entry_id),
                    str(company_id),
                    str(job_id),
                    posted.external_id,
                    posted.url,
                    posted.posting_date.isoformat() if posted.posting_date else None,
                    json.dumps(sorted(posted.attachment_keys)),
                    _now(),
                ),
            )

    def mark_reported(self, accounting_entry_ids: Iterable[UUID]) -> None:
        """See :meth:`ExportJournal.mark_reported`."""
        stamp = _now()
        rows = [(stamp, str(aeid)) for aeid in accounting_entry_ids]
        if not rows:
            return
        with self._db.transaction() as conn:
            conn.executemany(
                "UPDATE export_journal SET status = 'reported', reported_at = ? "
                "WHERE accounting_entry_id = ?",
                rows,
            )

    def lookup(self, accounting_entry_id: UUID) -> JournalRecord | None:
        """See :meth:`ExportJournal.lookup`."""
        row = self._db.fetch_one(
            f"SELECT {_JOURNAL_COLUMNS} FROM export_journal WHERE accounting_entry_id = ?",  # noqa: S608
            (str(accounting_entry_id),),
        )
        return None if row is None else _record(row)

    def unreported(self, job_id: UUID) -> list[JournalRecord]:
        """See :meth:`ExportJournal.unreported`."""
        rows = self._db.fetch_all(
            f"SELECT {_JOURNAL_COLUMNS} FROM export_journal "  # noqa: S608
            "WHERE job_id = ? AND status = 'posted' ORDER BY accounting_entry_id",
            (str(job_id),),
        )
        return [_record(row) for row in rows]

    def __repr__(self) -> str:
        return f"SQLiteExportJournal({self._db!r})"


def _record(row: tuple[object, ...]) -> JournalRecord:
    """A SQLite row (text columns) as a record."""
    aeid, company, job, external_id, url, posting_date, keys, status = row
    return _journal_record(
        UUID(str(aeid)),
        UUID(str(company)),
        UUID(str(job)),
        str(external_id),
        None if url is None else str(url),
        None if posting_date is None else date.fromisoformat(str(posting_date)),
        json.loads(str(keys)),
        str(status),
    )


def _journal_record(
    aeid: UUID,
    company: UUID,
    job: UUID,
    external_id: str,
    url: str | None,
    posting_date: date | None,
    keys: Iterable[str],
    status: str,
) -> JournalRecord:
    """A record from the typed values of a ``_JOURNAL_COLUMNS`` row (either dialect)."""
    return JournalRecord(
        accounting_entry_id=aeid,
        company_id=company,
        job_id=job,
        posted=PostedEntry(
            accounting_entry_id=aeid,
            external_id=external_id,
            url=url,
            posting_date=posting_date,
            attachment_keys=frozenset(keys),
        ),
        reported=status == "reported",
    )
