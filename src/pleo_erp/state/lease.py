"""Company leases: one run per key at a time, freed soon after its holder dies.

A *lease* is a lock with an expiry and a **fencing generation**. Whoever holds the lease for a
key (``export:<company>``, ``connection:<company>``) may act for it; the hold lasts ``ttl``
seconds and a :class:`LeaseKeeper` renews it from a heartbeat thread every ``ttl / 3`` while
the run lives. When the holder dies the heartbeat stops, and the lease is free again after at
most ``ttl`` — at once where the store can see that the holder's process is gone
(:class:`SQLiteLeaseStore` checks the PID of a holder on the same host).

Every successful acquire increments the key's ``generation``. A holder that was paused past its
expiry (SIGSTOP, a long GC, a suspended VM) and comes back still believes it holds generation
*n* while the new holder has *n + 1*: :meth:`LeaseKeeper.check` notices locally (the last
successful renew is older than ``ttl``) and state we own refuses writes from a stale
generation (:meth:`SQLiteLeaseStore.fence`). See Kleppmann, "How to do distributed locking".

Two stores ship here: :class:`InMemoryLeaseStore` (threads of one process) and
:class:`SQLiteLeaseStore` (processes sharing a state database). ``pleo_erp.state.postgres``
adds one on the database clock for many machines; any store implementing :class:`LeaseStore`
works.
"""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Protocol, runtime_checkable

import attrs

from pleo_erp._closing import ClosesOnExit
from pleo_erp.state._db import Migration, StateDB, StateError

__all__ = [
    "DEFAULT_LEASE_TTL",
    "LEASES_FEATURE",
    "InMemoryLeaseStore",
    "Lease",
    "LeaseBusy",
    "LeaseHolder",
    "LeaseKeeper",
    "LeaseLost",
    "LeaseStore",
    "SQLiteLeaseStore",
    "hold_lease",
    "new_owner",
]

logger = logging.getLogger("pleo_erp.state")

DEFAULT_LEASE_TTL = 60.0
"""Seconds a lease lasts without a renew: the longest a dead remote holder can block a key."""

LEASES_FEATURE = "leases"
"""The state-database feature name of the lease table."""


class LeaseLost(StateError):
    """The lease expired or was taken over: the run stops before its next side effect.

    Nothing is lost: whatever the run did is idempotent, and the next holder resumes it.
    """


@attrs.frozen
class Lease:
    """A held lease: the key, who holds it, its fencing generation and its time to live."""

    key: str
    """What is locked, e.g. ``"export:<company_id>"``."""
    owner: str
    """The holder's unique name (:func:`new_owner`)."""
    generation: int
    """The fencing token: strictly increasing per key across all holders."""
    ttl: float
    """Seconds the lease lasts after each (re)new."""


@attrs.frozen
class LeaseHolder:
    """Who holds (or last held) a key, as a store reports it (for status pages and messages)."""

    key: str
    owner: str | None
    """The holder, or ``None`` when released."""
    generation: int
    expires_at: datetime | None
    """When the hold ends unless renewed (UTC), or ``None`` when released."""
    host: str | None = None
    pid: int | None = None

    def describe(self, now: datetime | None = None) -> str:
        """A one-line, human-readable account of the hold (no secrets: names and times only)."""
        if self.owner is None or self.expires_at is None:
            return f"{self.key} is free (generation {self.generation})"
        where = f"process {self.pid} on {self.host}" if self.pid is not None else self.owner
        moment = now or datetime.now(timezone.utc)
        left = max(0.0, (self.expires_at - moment).total_seconds())
        return (
            f"{self.key} is held by {where} until {self.expires_at:%Y-%m-%d %H:%M:%S} UTC "
            f"({left:.0f} s unless renewed); it frees itself when that process stops"
        )


@runtime_checkable
class LeaseStore(Protocol):
    """Where leases live. Implementations must make :meth:`acquire` atomic per key."""

    def acquire(self, key: str, owner: str, *, ttl: float) -> Lease | None:
        """Take ``key`` for ``owner`` if it is free, released or expired; else ``None``.

        A successful acquire returns the next generation for the key.
        """
        ...

    def renew(self, lease: Lease) -> bool:
        """Extend ``lease`` by its ttl; ``False`` if it is not current any more (lost)."""
        ...

    def release(self, lease: Lease) -> None:
        """Give ``lease`` back if it is still current (the generation is kept)."""
        ...

    def is_current(self, lease: Lease) -> bool:
        """Whether ``lease`` still holds: same owner and generation, not expired."""
        ...

    def holder(self, key: str) -> LeaseHolder | None:
        """Who holds ``key`` now (or held it last); ``None`` if it was never taken."""
        ...


def new_owner() -> str:
    """A holder name unique across hosts, processes and runs: ``"<host>:<pid>:<8 hex>"``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _check_ttl(ttl: float) -> None:
    if not ttl > 0:
        raise ValueError("ttl must be positive")


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=timezone.utc)


# ---------------------------------------------------------------------------- in memory


class InMemoryLeaseStore:
    """Leases shared by the threads of one process (the default where no state is given)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._guard = threading.Lock()
        # key -> (owner or None, generation, expires_at)
        self._rows: dict[str, tuple[str | None, int, float]] = {}

    def acquire(self, key: str, owner: str, *, ttl: float) -> Lease | None:
        """See :meth:`LeaseStore.acquire`."""
        _check_ttl(ttl)
        with self._guard:
            now = self._clock()
            current, generation, expires = self._rows.get(key, (None, 0, 0.0))
            if current is not None and expires > now:
                return None
            self._rows[key] = (owner, generation + 1, now + ttl)
            return Lease(key=key, owner=owner, generation=generation + 1, ttl=ttl)

    def renew(self, lease: Lease) -> bool:
        """See :meth:`LeaseStore.renew`."""
        with self._guard:
            if not self._holds(lease):
                return False
            self._rows[lease.key] = (lease.owner, lease.generation, self._clock() + lease.ttl)
            return True

    def release(self, lease: Lease) -> None:
        """See :meth:`LeaseStore.release`."""
        with self._guard:
            if self._holds(lease):
                self._rows[lease.key] = (None, lease.generation, 0.0)

    def is_current(self, lease: Lease) -> bool:
        """See :meth:`LeaseStore.is_current`."""
        with self._guard:
            return self._holds(lease)

    def holder(self, key: str) -> LeaseHolder | None:
        """See :meth:`LeaseStore.holder` (times are this process's monotonic clock, not UTC)."""
        with self._guard:
            row = self._rows.get(key)
        if row is None:
            return None
        owner, generation, expires = row
        if owner is None:
            return LeaseHolder(key=key, owner=None, generation=generation, expires_at=None)
        left = expires - self._clock()
        return LeaseHolder(
            key=key,
            owner=owner,
            generation=generation,
            expires_at=datetime.now(timezone.utc) + timedelta(seconds=left),
            pid=os.getpid(),
            host=socket.gethostname(),
        )

    def _holds(self, lease: Lease) -> bool:
        owner, generation, expires = self._rows.get(lease.key, (None, 0, 0.0))
        return owner == lease.owner and generation == lease.generation and expires > self._clock()

    def __repr__(self) -> str:
        return f"InMemoryLeaseStore(keys={len(self._rows)})"


# ---------------------------------------------------------------------------- SQLite

_MIGRATIONS: tuple[Migration, ...] = (
    """
    CREATE TABLE leases (
        key        TEXT PRIMARY KEY,
        owner      TEXT,             -- NULL once released
        generation INTEGER NOT NULL CHECK (generation >= 0),
        expires_at REAL NOT NULL,    -- seconds since the epoch (the store's clock)
        host       TEXT,
        pid        INTEGER
    )
    """,
)


def _pid_alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists on this host (signal 0 probes without sending)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    except OSError:
        return True
    return True


class SQLiteLeaseStore:
    """Leases in the state database, safe across the processes of one machine.

    Besides expiry, a lease held by a process on *this* host that no longer exists is free at
    once (``liveness=True``): a killed ``pleo-erp export`` does not block the next run for the
    rest of its ttl. A holder on another host (a shared network file) waits out the ttl.

    Args:
        db: the state database (the table is created on first use).
        clock: seconds since the epoch (injectable for tests).
        liveness: take over a lease whose local holder process is gone.
    """

    def __init__(
        self,
        db: StateDB,
        *,
        clock: Callable[[], float] = time.time,
        liveness: bool = True,
    ) -> None:
        self._db = db
        self._clock = clock
        self._liveness = liveness
        self._host = socket.gethostname()
        db.apply_migrations(LEASES_FEATURE, _MIGRATIONS)

    @property
    def db(self) -> StateDB:
        """The state database the leases live in."""
        return self._db

    def acquire(self, key: str, owner: str, *, ttl: float) -> Lease | None:
        """See :meth:`LeaseStore.acquire`; also takes a lease whose local holder is dead."""
        _check_ttl(ttl)
        now = self._clock()
        with self._db.transaction(immediate=True) as conn:
            row = conn.execute(
                "SELECT owner, generation, expires_at, host, pid FROM leases WHERE key = ?",
                (key,),
            ).fetchone()
            generation = 0
            if row is not None:
                holder, generation, expires_at, host, pid = row
                if holder is not None and float(expires_at) > now and not self._dead(host, pid):
                    return None
                if holder is not None and float(expires_at) > now:
                    logger.warning(
                        "lease %s: its holder (process %s on this host) is gone; taking over",
                        key,
                        pid,
                    )
            generation = int(generation) + 1
            conn.execute(
                "INSERT INTO leases (key, owner, generation, expires_at, host, pid) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
                "owner = excluded.owner, generation = excluded.generation, "
                "expires_at = excluded.expires_at, host = excluded.host, pid = excluded.pid",
                (key, owner, generation, now + ttl, self._host, os.getpid()),
            )
        return Lease(key=key, owner=owner, generation=generation, ttl=ttl)

    def renew(self, lease: Lease) -> bool:
        """See :meth:`LeaseStore.renew`."""
        now = self._clock()
        with self._db.transaction(immediate=True) as conn:
            cursor = conn.execute(
                "UPDATE leases SET expires_at = ? WHERE key = ? AND owner = ? "
                "AND generation = ? AND expires_at > ?",
                (now + lease.ttl, lease.key, lease.owner, lease.generation, now),
            )
            return cursor.rowcount == 1

    def release(self, lease: Lease) -> None:
        """See :meth:`LeaseStore.release`."""
        with self._db.transaction(immediate=True) as conn:
            conn.execute(
                "UPDATE leases SET owner = NULL, expires_at = 0, pid = NULL "
                "WHERE key = ? AND owner = ? AND generation = ?",
                (lease.key, lease.owner, lease.generation),
            )

    def is_current(self, lease: Lease) -> bool:
        """See :meth:`LeaseStore.is_current`."""
        with self._db.connection() as conn:
            return self._current(conn, lease)

    def fence(self, conn: sqlite3.Connection, lease: Lease) -> None:
        """Inside the caller's transaction on this database: raise :class:`LeaseLost` unless
        ``lease`` is current, so a write from a stale holder is refused with the check."""
        if not self._current(conn, lease):
            raise LeaseLost(
                f"lease {lease.key} (generation {lease.generation}) is no longer held; "
                "refusing a write from a stale holder"
            )

    def holder(self, key: str) -> LeaseHolder | None:
        """See :meth:`LeaseStore.holder`."""
        row = self._db.fetch_one(
            "SELECT owner, generation, expires_at, host, pid FROM leases WHERE key = ?",
            (key,),
        )
        if row is None:
            return None
        owner, generation, expires_at, host, pid = row
        if owner is None or float(expires_at) <= self._clock():
            return LeaseHolder(key=key, owner=None, generation=int(generation), expires_at=None)
        return LeaseHolder(
            key=key,
            owner=str(owner),
            generation=int(generation),
            expires_at=_utc(float(expires_at)),
            host=host,
            pid=None if pid is None else int(pid),
        )

    def _current(self, conn: sqlite3.Connection, lease: Lease) -> bool:
        row = conn.execute(
            "SELECT 1 FROM leases WHERE key = ? AND owner = ? AND generation = ? "
            "AND expires_at > ?",
            (lease.key, lease.owner, lease.generation, self._clock()),
        ).fetchone()
        return row is not None

    def _dead(self, host: object, pid: object) -> bool:
        if not self._liveness or host != self._host or pid is None:
            return False
        number = int(str(pid))
        return number != os.getpid() and not _pid_alive(number)

    def __repr__(self) -> str:
        return f"SQLiteLeaseStore(db={self._db!r})"


# ---------------------------------------------------------------------------- the keeper


class LeaseKeeper(ClosesOnExit):
    """Keeps a held lease alive from a daemon heartbeat thread and tells the run if it is lost.

    The heartbeat renews every ``interval`` seconds (default ``ttl / 3``). :meth:`check` costs
    no I/O and is meant to be called before every side effect: it raises :class:`LeaseLost`
    when a renew failed, or when the last successful renew *started* more than ``ttl`` ago by
    this process's monotonic clock — which also covers a process that was paused (SIGSTOP,
    swap, GC) while another one took over. :meth:`verify` adds one round trip to the store.

    Use it as a context manager (or call :meth:`close`): the heartbeat stops and the lease is
    released.
    """

    def __init__(
        self,
        store: LeaseStore,
        lease: Lease,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        interval: float | None = None,
        start: bool = True,
    ) -> None:
        self.store = store
        self.lease = lease
        self.lost = False
        self._monotonic = monotonic
        self._interval = interval if interval is not None else lease.ttl / 3
        if not self._interval > 0:
            raise ValueError("interval must be positive")
        self._valid_until = monotonic() + lease.ttl
        self._stop = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        if start:
            self._thread = threading.Thread(
                target=self._beat, name=f"lease-heartbeat:{lease.key}", daemon=True
            )
            self._thread.start()

    @property
    def generation(self) -> int:
        """The fencing generation of the held lease."""
        return self.lease.generation

    def renew_now(self) -> bool:
        """Renew once, now (the heartbeat does this by itself); ``False`` if lost."""
        if self.lost:
            return False
        started = self._monotonic()
        try:
            held = self.store.renew(self.lease)
        except Exception:  # a store hiccup is not a loss yet: the local deadline decides
            logger.warning("could not renew lease %s; will retry", self.lease.key, exc_info=True)
            return not self.lost
        if held:
            self._valid_until = started + self.lease.ttl
        else:
            self.lost = True
            logger.warning(
                "lease %s (generation %d) was lost", self.lease.key, self.lease.generation
            )
        return held

    def check(self) -> None:
        """Raise :class:`LeaseLost` if the lease is known lost or may have expired (no I/O)."""
        if not self.lost and self._monotonic() >= self._valid_until:
            self.lost = True
        if self.lost:
            raise LeaseLost(
                f"lease {self.lease.key} (generation {self.lease.generation}) expired or was "
                "taken over; stopping before the next side effect"
            )

    def verify(self) -> None:
        """:meth:`check`, then ask the store that the lease is still current."""
        self.check()
        if not self.store.is_current(self.lease):
            self.lost = True
            self.check()

    def close(self) -> None:
        """Stop the heartbeat and release the lease (if still held)."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)
        if not self.lost:
            try:
                self.store.release(self.lease)
            except Exception:  # it expires by itself; never mask the run's own outcome
                logger.warning("could not release lease %s", self.lease.key, exc_info=True)

    def _beat(self) -> None:
        while not self._stop.wait(self._interval):
            if not self.renew_now() and self.lost:
                return

    def __repr__(self) -> str:
        state = "lost" if self.lost else "held"
        return f"LeaseKeeper(key={self.lease.key!r}, generation={self.lease.generation}, {state})"


@contextmanager
def hold_lease(
    store: LeaseStore,
    key: str,
    owner: str | None = None,
    *,
    ttl: float = DEFAULT_LEASE_TTL,
    busy: Callable[[LeaseHolder | None], Exception] | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    heartbeat: bool = True,
) -> Iterator[LeaseKeeper]:
    """Hold ``key`` for the block with a heartbeat; raise ``busy(holder)`` if it is taken.

    Args:
        store: where the lease lives.
        key: what to lock.
        owner: the holder's name (default: :func:`new_owner`).
        ttl: seconds a hold lasts without a renew.
        busy: builds the exception raised when someone else holds the key (default:
            :class:`LeaseBusy` describing the holder).
        monotonic: the keeper's clock (injectable for tests).
        heartbeat: renew from a background thread (``False``: the caller renews).
    """
    lease = store.acquire(key, owner or new_owner(), ttl=ttl)
    if lease is None:
        holder = store.holder(key)
        raise (busy or LeaseBusy.for_holder)(holder)
    keeper = LeaseKeeper(store, lease, monotonic=monotonic, start=heartbeat)
    try:
        yield keeper
    finally:
        keeper.close()


class LeaseBusy(StateError):
    """Someone else holds the lease; the message says who and until when."""

    def __init__(self, message: str, holder: LeaseHolder | None = None) -> None:
        super().__init__(message)
        self.holder = holder

    @classmethod
    def for_holder(cls, holder: LeaseHolder | None) -> LeaseBusy:
        """The default error for a taken key."""
        text = holder.describe() if holder is not None else "the lease is held by another run"
        return cls(text, holder)
