"""One export at a time per company: a small lock protocol and two implementations.

Pleo wants a single worker per company, oldest job first, never jobs in parallel (export-api.md
Part 3 rule 7). :func:`~pleo_erp.export_expenses` holds a :class:`CompanyLock` for the whole
run:

- :class:`InProcessLock` (the default) — threads of one process;
- :class:`SQLiteCompanyLock` — processes sharing a state database file, with a short lease
  (:data:`DEFAULT_LOCK_TTL`) that the export's heartbeat renews while it lives; a hold whose
  process on this machine is gone is taken over at once, so a killed worker does not block
  the company.

A vendor can back the protocol by their own store (Redis, a database row …): three methods.
New code should prefer a :class:`~pleo_erp.state.LeaseStore` (``lease_store=`` of
:func:`~pleo_erp.export_expenses`), which adds fencing generations; a ``CompanyLock`` given as
``lock=`` is adapted to one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timezone
from typing import Protocol, runtime_checkable

from pleo_erp.client.errors import PleoError
from pleo_erp.state._db import StateDB
from pleo_erp.state.lease import LeaseHolder, LeaseKeeper, SQLiteLeaseStore

__all__ = [
    "DEFAULT_LOCK_TTL",
    "LOCKS_FEATURE",
    "CompanyLock",
    "ExportAlreadyRunning",
    "InProcessLock",
    "SQLiteCompanyLock",
    "hold_company_lock",
]

LOCKS_FEATURE = "export_locks"
"""The state-database feature name of the table :class:`SQLiteCompanyLock` used before it moved
onto the lease table (:data:`~pleo_erp.state.LEASES_FEATURE`); no longer created."""


DEFAULT_LOCK_TTL = 60.0
"""Seconds a :class:`SQLiteCompanyLock` hold lasts without a renew (the export renews it every
third of that while it runs): the longest a dead holder on *another* machine blocks a company.
A dead holder on this machine is noticed at once."""


class ExportAlreadyRunning(PleoError):
    """Another worker holds the company's export lock; try again later.

    ``holder`` says who (host, pid) and until when, when the lock can tell.
    """

    def __init__(self, message: str, holder: LeaseHolder | None = None) -> None:
        """Describe the refusal; ``holder`` is the current hold, if known."""
        super().__init__(message)
        self.holder = holder

    @classmethod
    def for_holder(cls, company_id: str, holder: LeaseHolder | None) -> ExportAlreadyRunning:
        """The error for ``company_id`` held by ``holder``: who, until when, and when it frees."""
        if holder is None or holder.owner is None or holder.expires_at is None:
            return cls(
                f"an export for company {company_id} is already running (another run holds "
                "its lock); it frees itself when that run ends",
                holder,
            )
        who = (
            f"process {holder.pid} on {holder.host}"
            if holder.pid is not None and holder.host
            else holder.owner
        )
        until = holder.expires_at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        return cls(
            f"an export for company {company_id} is already running: {who} holds its lock "
            f"until {until} and renews it while it runs; the lock frees itself when that "
            "process stops (at once on this machine) or, if it died elsewhere, when the hold "
            "expires",
            holder,
        )


@runtime_checkable
class CompanyLock(Protocol):
    """A per-company mutual-exclusion lock (non-blocking)."""

    def acquire(self, company_id: str, owner: str) -> bool:
        """Take the lock for ``owner``; ``False`` if someone else holds it."""
        ...

    def renew(self, company_id: str, owner: str) -> None:
        """Extend ``owner``'s hold (a no-op for locks without leases)."""
        ...

    def release(self, company_id: str, owner: str) -> None:
        """Give the lock back (only if ``owner`` holds it)."""
        ...


class InProcessLock:
    """A per-company lock shared by the threads of this process."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._owners: dict[str, str] = {}

    def acquire(self, company_id: str, owner: str) -> bool:
        """See :meth:`CompanyLock.acquire`."""
        with self._guard:
            current = self._owners.get(company_id)
            if current is not None and current != owner:
                return False
            self._owners[company_id] = owner
            return True

    def renew(self, company_id: str, owner: str) -> None:
        """Nothing to renew."""

    def release(self, company_id: str, owner: str) -> None:
        """See :meth:`CompanyLock.release`."""
        with self._guard:
            if self._owners.get(company_id) == owner:
                del self._owners[company_id]


class SQLiteCompanyLock:
    """A per-company lease in the state database, safe across processes.

    A hold is a lease of a :class:`~pleo_erp.state.SQLiteLeaseStore` on the same database —
    ``export:<company_id>`` for a bare company id, the key itself for a scoped key such as
    ``sync:tags:<company_id>`` — so this lock, :func:`~pleo_erp.export_expenses` given
    ``lease_store=SQLiteLeaseStore(db)`` and the ``pleo-erp`` CLI all exclude each other.

    A hold lasts ``ttl`` seconds (default :data:`DEFAULT_LOCK_TTL`) and is renewed by a
    heartbeat thread every third of that for as long as it is held, so a long run keeps it
    and a dead one loses it soon: at once when the holding process ran on this machine and is
    gone (``liveness=True``), else when the ttl runs out.
    """

    def __init__(
        self,
        db: StateDB,
        *,
        ttl: float = DEFAULT_LOCK_TTL,
        clock: Callable[[], float] = time.time,
        liveness: bool = True,
        heartbeat: bool = True,
    ) -> None:
        """Use ``db``; ``heartbeat=False`` leaves renewing to the caller (:meth:`renew`)."""
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        self._ttl = ttl
        self._heartbeat = heartbeat
        self._store = SQLiteLeaseStore(db, clock=clock, liveness=liveness)
        self._held: dict[tuple[str, str], LeaseKeeper] = {}
        self._guard = threading.Lock()

    @property
    def ttl(self) -> float:
        """Seconds a hold lasts without a renew."""
        return self._ttl

    @property
    def store(self) -> SQLiteLeaseStore:
        """The lease store holding this lock's rows."""
        return self._store

    @staticmethod
    def key(company_id: str) -> str:
        """The lease key of ``company_id`` (a key with a ``:`` is used as it is)."""
        return company_id if ":" in company_id else f"export:{company_id}"

    def acquire(self, company_id: str, owner: str) -> bool:
        """See :meth:`CompanyLock.acquire`; a dead local holder's hold is taken over."""
        with self._guard:
            mine = self._held.get((company_id, owner))
            if mine is not None and mine.renew_now():
                return True  # re-entrant for the same owner, as before
            lease = self._store.acquire(self.key(company_id), owner, ttl=self._ttl)
            if lease is None:
                return False
            self._held[(company_id, owner)] = LeaseKeeper(self._store, lease, start=self._heartbeat)
            return True

    def renew(self, company_id: str, owner: str) -> None:
        """See :meth:`CompanyLock.renew` (the heartbeat does it too)."""
        with self._guard:
            keeper = self._held.get((company_id, owner))
        if keeper is not None:
            keeper.renew_now()

    def release(self, company_id: str, owner: str) -> None:
        """See :meth:`CompanyLock.release`."""
        with self._guard:
            keeper = self._held.pop((company_id, owner), None)
        if keeper is not None:
            keeper.close()

    def holds(self, company_id: str, owner: str) -> bool:
        """Whether ``owner`` holds ``company_id`` now (not expired, not taken over)."""
        with self._guard:
            keeper = self._held.get((company_id, owner))
        return keeper is not None and not keeper.lost and self._store.is_current(keeper.lease)

    def holder(self, company_id: str) -> LeaseHolder | None:
        """Who holds ``company_id`` (host, pid) and until when; ``None`` if never taken."""
        return self._store.holder(self.key(company_id))

    def __repr__(self) -> str:
        return f"SQLiteCompanyLock({self._store.db!r}, ttl={self._ttl})"


@contextmanager
def hold_company_lock(lock: CompanyLock, company_id: str, owner: str) -> Iterator[None]:
    """Hold ``lock`` for ``company_id`` during the block, or raise :class:`ExportAlreadyRunning`."""
    if not lock.acquire(company_id, owner):
        holder_of = getattr(lock, "holder", None)
        holder = holder_of(company_id) if callable(holder_of) else None
        raise ExportAlreadyRunning.for_holder(company_id, holder)
    try:
        yield
    finally:
        lock.release(company_id, owner)
