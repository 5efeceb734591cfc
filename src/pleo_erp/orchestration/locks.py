"""One export at a time per company: a small lock protocol and two implementations.

Pleo wants a single worker per company, oldest job first, never jobs in parallel (export-api.md
Part 3 rule 7). :func:`~pleo_erp.export_expenses` holds a :class:`CompanyLock` for the whole
run:

- :class:`InProcessLock` (the default) — threads of one process;
- :class:`SQLiteCompanyLock` — processes sharing a state database file, with a lease that
  expires (a crashed worker does not block the company forever) and is renewed while the
  export makes progress.

A vendor can back the protocol by their own store (Redis, a database row …): three methods.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol, runtime_checkable

from pleo_erp.client.errors import PleoError
from pleo_erp.state._db import StateDB

__all__ = [
    "LOCKS_FEATURE",
    "CompanyLock",
    "ExportAlreadyRunning",
    "InProcessLock",
    "SQLiteCompanyLock",
    "hold_company_lock",
]

LOCKS_FEATURE = "export_locks"
"""The state-database feature name of the SQLite lock's table."""


class ExportAlreadyRunning(PleoError):
    """Another worker holds the company's export lock; try again later."""


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


_LOCK_MIGRATIONS = (
    """
    CREATE TABLE export_locks (
        company_id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        expires_at REAL NOT NULL
    )
    """,
)


class SQLiteCompanyLock:
    """A per-company lease in the state database, safe across processes.

    A hold lasts ``ttl`` seconds and is renewed by the export after each batch; an expired
    hold may be taken over (its worker is presumed dead).
    """

    def __init__(
        self,
        db: StateDB,
        *,
        ttl: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        self._db = db
        self._ttl = ttl
        self._clock = clock
        db.apply_migrations(LOCKS_FEATURE, _LOCK_MIGRATIONS)

    def acquire(self, company_id: str, owner: str) -> bool:
        """See :meth:`CompanyLock.acquire`."""
        now = self._clock()
        with self._db.transaction(immediate=True) as conn:
            row = conn.execute(
                "SELECT owner, expires_at FROM export_locks WHERE company_id = ?", (company_id,)
            ).fetchone()
            if row is not None and row[0] != owner and float(row[1]) > now:
                return False
            conn.execute(
                "INSERT INTO export_locks (company_id, owner, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT (company_id) DO UPDATE SET owner = excluded.owner, "
                "expires_at = excluded.expires_at",
                (company_id, owner, now + self._ttl),
            )
            return True

    def renew(self, company_id: str, owner: str) -> None:
        """See :meth:`CompanyLock.renew`."""
        with self._db.transaction(immediate=True) as conn:
            conn.execute(
                "UPDATE export_locks SET expires_at = ? WHERE company_id = ? AND owner = ?",
                (self._clock() + self._ttl, company_id, owner),
            )

    def release(self, company_id: str, owner: str) -> None:
        """See :meth:`CompanyLock.release`."""
        with self._db.transaction(immediate=True) as conn:
            conn.execute(
                "DELETE FROM export_locks WHERE company_id = ? AND owner = ?", (company_id, owner)
            )


@contextmanager
def hold_company_lock(lock: CompanyLock, company_id: str, owner: str) -> Iterator[None]:
    """Hold ``lock`` for ``company_id`` during the block, or raise :class:`ExportAlreadyRunning`."""
    if not lock.acquire(company_id, owner):
        raise ExportAlreadyRunning(
            f"an export for company {company_id} is already running; try again later"
        )
    try:
        yield
    finally:
        lock.release(company_id, owner)
