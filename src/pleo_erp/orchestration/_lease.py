"""The export's company lease: one run per company, freed soon after its holder dies.

:func:`~pleo_erp.export_expenses` holds the lease ``export:<company_id>`` from a
:class:`~pleo_erp.state.LeaseStore` for the whole run, with a heartbeat
(:class:`~pleo_erp.state.LeaseKeeper`). Before each side effect — posting an item, each batch
of item updates — it calls :meth:`~pleo_erp.state.LeaseKeeper.check`, and before the final job
event :meth:`~pleo_erp.state.LeaseKeeper.verify`: a run that lost its lease (paused past its
ttl, taken over) stops with :class:`~pleo_erp.state.LeaseLost` before touching anything more.
The job stays ``in_progress`` and the holder resumes it; exactly-once rests on the AS lookup.

A legacy :class:`~pleo_erp.orchestration.locks.CompanyLock` (``lock=``) is adapted by
:class:`CompanyLockLeaseStore`. Journal writes are fenced (:class:`FencedJournal`) when the
journal lives in the lease's own SQLite database: the lease check and the write commit in one
transaction, so a stale holder's write is refused.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from uuid import UUID

from pleo_erp.accounting_system.export import PostedEntry
from pleo_erp.orchestration.locks import CompanyLock, ExportAlreadyRunning, SQLiteCompanyLock
from pleo_erp.state.export_journal import ExportJournal, JournalRecord, SQLiteExportJournal
from pleo_erp.state.lease import (
    DEFAULT_LEASE_TTL,
    Lease,
    LeaseHolder,
    LeaseKeeper,
    LeaseStore,
    SQLiteLeaseStore,
)

__all__ = [
    "EXPORT_LEASE_PREFIX",
    "CompanyLockLeaseStore",
    "FencedJournal",
    "export_lease",
    "export_lease_key",
    "fenced_journal",
    "resolve_lease_store",
]

EXPORT_LEASE_PREFIX = "export:"
"""Export leases are keyed ``export:<company_id>``."""

_NEVER = 10.0**9  # seconds: the ttl of a lock that does not expire (threads of one process)


def export_lease_key(company_id: UUID | str) -> str:
    """The lease key of a company's export."""
    return f"{EXPORT_LEASE_PREFIX}{company_id}"


def _lock_key(key: str) -> str:
    # Legacy locks are keyed by the bare company id: keep that, so an older process holding
    # the same lock still excludes this one.
    return key.removeprefix(EXPORT_LEASE_PREFIX)


class CompanyLockLeaseStore:
    """A :class:`~pleo_erp.state.LeaseStore` over a legacy ``CompanyLock``.

    Leases expire after the lock's ``ttl`` (its attribute, when it has one) and are renewed
    through ``lock.renew``; a lock without a ttl (:class:`InProcessLock`) never expires.
    Generations count this adapter's acquisitions only: a legacy lock cannot fence.
    """

    def __init__(self, lock: CompanyLock) -> None:
        """Adapt ``lock``."""
        self.lock = lock
        ttl = getattr(lock, "ttl", None)
        self.ttl: float = float(ttl) if isinstance(ttl, (int, float)) and ttl > 0 else _NEVER
        self._generations = itertools.count(1)
        self._guard = threading.Lock()

    @property
    def expires(self) -> bool:
        """Whether holds expire (and so need a heartbeat)."""
        return self.ttl < _NEVER

    def acquire(self, key: str, owner: str, *, ttl: float) -> Lease | None:
        """Take the lock; the lease's ttl is the lock's (``ttl`` is ignored)."""
        del ttl
        if not self.lock.acquire(_lock_key(key), owner):
            return None
        with self._guard:
            generation = next(self._generations)
        return Lease(key=key, owner=owner, generation=generation, ttl=self.ttl)

    def renew(self, lease: Lease) -> bool:
        """Renew through the lock; ``False`` when the lock can tell it was taken over."""
        self.lock.renew(_lock_key(lease.key), lease.owner)
        return self.is_current(lease)

    def release(self, lease: Lease) -> None:
        """Release the lock (only if still ours: the lock checks the owner)."""
        self.lock.release(_lock_key(lease.key), lease.owner)

    def is_current(self, lease: Lease) -> bool:
        """Ask the lock when it can tell (``holds``); otherwise assume so."""
        holds = getattr(self.lock, "holds", None)
        return bool(holds(_lock_key(lease.key), lease.owner)) if callable(holds) else True

    def holder(self, key: str) -> LeaseHolder | None:
        """Who holds the lock, when it can tell."""
        holder_of = getattr(self.lock, "holder", None)
        found = holder_of(_lock_key(key)) if callable(holder_of) else None
        return found if isinstance(found, LeaseHolder) else None

    def __repr__(self) -> str:
        return f"CompanyLockLeaseStore({self.lock!r})"


def resolve_lease_store(
    lease_store: LeaseStore | None, lock: CompanyLock | None, default: CompanyLock
) -> tuple[LeaseStore, float]:
    """The store to hold the export lease in, and the lease's ttl.

    ``lease_store`` as given; else a :class:`SQLiteCompanyLock`'s own lease store (fencing
    included); else the legacy ``lock`` (or ``default``) adapted.
    """
    if lease_store is not None:
        if lock is not None:
            raise ValueError("pass lock= or lease_store=, not both")
        return lease_store, DEFAULT_LEASE_TTL
    if isinstance(lock, SQLiteCompanyLock):
        return lock.store, lock.ttl
    adapted = CompanyLockLeaseStore(lock if lock is not None else default)
    return adapted, adapted.ttl


@contextmanager
def export_lease(
    store: LeaseStore,
    company_id: UUID | str,
    owner: str,
    *,
    ttl: float = DEFAULT_LEASE_TTL,
) -> Iterator[LeaseKeeper]:
    """Hold the company's export lease with a heartbeat, or raise ``ExportAlreadyRunning``."""
    key = export_lease_key(company_id)
    lease = store.acquire(key, owner, ttl=ttl)
    if lease is None:
        raise ExportAlreadyRunning.for_holder(str(company_id), store.holder(key))
    heartbeat = not isinstance(store, CompanyLockLeaseStore) or store.expires
    keeper = LeaseKeeper(store, lease, start=heartbeat)
    try:
        yield keeper
    finally:
        keeper.close()


class FencedJournal:
    """An :class:`SQLiteExportJournal` whose writes commit only while the lease is current.

    The lease row and the journal share one SQLite database: each write runs in a transaction
    that first checks the lease (:meth:`SQLiteLeaseStore.fence`), so a holder that lost its
    lease cannot overwrite the new holder's rows.
    """

    def __init__(
        self, journal: SQLiteExportJournal, store: SQLiteLeaseStore, lease: Callable[[], Lease]
    ) -> None:
        """Fence ``journal``'s writes with the lease ``lease()`` returns, in ``store``."""
        self._journal = journal
        self._store = store
        self._lease = lease

    def record_posted(self, *, company_id: UUID, job_id: UUID, posted: PostedEntry) -> None:
        """See :meth:`ExportJournal.record_posted` (fenced)."""
        with self._store.db.transaction(immediate=True) as conn:
            self._store.fence(conn, self._lease())
            self._journal.record_posted(company_id=company_id, job_id=job_id, posted=posted)

    def mark_reported(self, accounting_entry_ids: Iterable[UUID]) -> None:
        """See :meth:`ExportJournal.mark_reported` (fenced)."""
        ids = list(accounting_entry_ids)
        if not ids:
            return
        with self._store.db.transaction(immediate=True) as conn:
            self._store.fence(conn, self._lease())
            self._journal.mark_reported(ids)

    def lookup(self, accounting_entry_id: UUID) -> JournalRecord | None:
        """See :meth:`ExportJournal.lookup`."""
        return self._journal.lookup(accounting_entry_id)

    def unreported(self, job_id: UUID) -> list[JournalRecord]:
        """See :meth:`ExportJournal.unreported`."""
        return self._journal.unreported(job_id)

    def __repr__(self) -> str:
        return f"FencedJournal({self._journal!r})"


def fenced_journal(
    journal: ExportJournal | None, store: LeaseStore, keeper: LeaseKeeper
) -> ExportJournal | None:
    """``journal`` fenced by ``keeper``'s lease where both share a database, else as it is."""
    if (
        isinstance(journal, SQLiteExportJournal)
        and isinstance(store, SQLiteLeaseStore)
        and journal.db is store.db
    ):
        return FencedJournal(journal, store, lambda: keeper.lease)
    return journal
