"""Company leases as Postgres rows, timed by the database clock, with a fencing generation.

``acquire`` is one conditional ``UPDATE``: it succeeds only if the row is free, released or
expired by the *database's* ``now()``, and bumps ``generation`` (the fencing token), so clocks
of the worker machines never matter. No session advisory lock is used: those stay held behind
a backend busy in a query after its client died, pin one connection per running export and
break under transaction pooling (PgBouncer). A lease here pins nothing: a worker that dies
simply stops renewing and the row expires.

:meth:`PostgresLeaseStore.fence` checks, inside the caller's transaction, that a lease is still
current and holds the row ``FOR SHARE`` until commit, so a takeover waits for that transaction
and a stale holder's write is refused (CONTRACTS §1).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pleo_erp.state.lease import LEASES_FEATURE, Lease, LeaseHolder, LeaseLost
from pleo_erp.state.postgres._db import PgMigration, PostgresStateDB

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresLeaseStore"]

_MIGRATIONS: tuple[PgMigration, ...] = (
    """
    CREATE TABLE IF NOT EXISTS leases (
        key        TEXT PRIMARY KEY,
        owner      TEXT,
        generation BIGINT NOT NULL DEFAULT 0,
        expires_at TIMESTAMPTZ,
        host       TEXT,
        pid        INTEGER
    );
    """,
)

_ACQUIRE = """
UPDATE leases
   SET owner = %(owner)s, expires_at = now() + make_interval(secs => %(ttl)s),
       generation = generation + 1, host = %(host)s, pid = %(pid)s
 WHERE key = %(key)s AND (owner IS NULL OR expires_at IS NULL OR expires_at <= now())
RETURNING generation
"""

_CURRENT = (
    "key = %(key)s AND owner = %(owner)s AND generation = %(generation)s AND expires_at > now()"
)


def _owner_parts(owner: str) -> tuple[str | None, int | None]:
    """``"<host>:<pid>:<random>"`` → (host, pid); other shapes give (None, None)."""
    parts = owner.rsplit(":", 2)
    if len(parts) == 3 and parts[1].isdigit():
        return parts[0], int(parts[1])
    return None, None


class PostgresLeaseStore:
    """:class:`~pleo_erp.state.LeaseStore` on Postgres (any number of machines)."""

    def __init__(self, db: PostgresStateDB) -> None:
        """Use ``db``, creating the ``leases`` table if needed."""
        self.db = db
        db.apply_migrations(LEASES_FEATURE, _MIGRATIONS)

    def acquire(self, key: str, owner: str, *, ttl: float) -> Lease | None:
        """Take ``key`` if free, released or expired (database clock); else ``None``."""
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        host, pid = _owner_parts(owner)
        params = {"key": key, "owner": owner, "ttl": float(ttl), "host": host, "pid": pid}
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO leases (key, generation) VALUES (%s, 0) ON CONFLICT (key) DO NOTHING",
                (key,),
            )
            row = conn.execute(_ACQUIRE, params).fetchone()
        if row is None:
            return None
        return Lease(key=key, owner=owner, generation=int(row[0]), ttl=float(ttl))

    def renew(self, lease: Lease) -> bool:
        """Extend ``lease`` by its ttl from now; ``False`` if it is no longer current."""
        with self.db.connection() as conn:
            cur = conn.execute(
                "UPDATE leases SET expires_at = now() + make_interval(secs => %(ttl)s) "
                f"WHERE {_CURRENT}",
                _params(lease),
            )
            return cur.rowcount == 1

    def release(self, lease: Lease) -> None:
        """Free ``key`` if ``lease`` is still the holder (the generation is kept)."""
        with self.db.connection() as conn:
            conn.execute(
                "UPDATE leases SET owner = NULL, expires_at = NULL, host = NULL, pid = NULL "
                "WHERE key = %(key)s AND owner = %(owner)s AND generation = %(generation)s",
                _params(lease),
            )

    def is_current(self, lease: Lease) -> bool:
        """Whether ``lease`` still holds (owner and generation match, not expired)."""
        row = self.db.fetch_one(f"SELECT 1 FROM leases WHERE {_CURRENT}", _params(lease))
        return row is not None

    def holder(self, key: str) -> LeaseHolder | None:
        """Who holds ``key`` (``owner`` is ``None`` when free), or ``None`` if never taken."""
        row = self.db.fetch_one(
            "SELECT owner, generation, expires_at, host, pid, expires_at > now() "
            "FROM leases WHERE key = %s",
            (key,),
        )
        if row is None:
            return None
        owner, generation, expires_at, host, pid, live = row
        if not live:
            owner, expires_at, host, pid = None, None, None, None
        return LeaseHolder(
            key=key,
            owner=owner,
            generation=int(generation),
            expires_at=expires_at if isinstance(expires_at, datetime) else None,
            host=host,
            pid=pid,
        )

    def fence(self, conn: psycopg.Connection[Any], lease: Lease) -> None:
        """Inside the caller's transaction: raise :class:`LeaseLost` unless ``lease`` is current.

        The row is locked ``FOR SHARE`` until the caller commits, so nobody can take the lease
        over between this check and the caller's write.
        """
        row = conn.execute(
            f"SELECT 1 FROM leases WHERE {_CURRENT} FOR SHARE", _params(lease)
        ).fetchone()
        if row is None:
            raise LeaseLost(
                f"lease {lease.key!r} generation {lease.generation} is no longer current"
            )

    def __repr__(self) -> str:
        return f"PostgresLeaseStore({self.db!r})"


def _params(lease: Lease) -> dict[str, Any]:
    return {
        "key": lease.key,
        "owner": lease.owner,
        "generation": lease.generation,
        "ttl": float(lease.ttl),
    }
