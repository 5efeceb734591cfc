"""The PostgreSQL database behind the distributed runtime's state (psycopg 3 + a pool).

The counterpart of :class:`~pleo_erp.state.StateDB`: one database holds every feature's
tables, each feature evolves them through numbered migrations recorded per feature in
``schema_version`` (the same feature names as on SQLite). Applying is idempotent and safe when
many workers start at once: each step runs in one transaction under a transaction-scoped
advisory lock (released at commit, so nothing can leak), with the version re-read inside.

Connections come from a :class:`psycopg_pool.ConnectionPool`; no connection is pinned for the
duration of a run (the lease is a row, not a session lock), so a few connections per worker
process serve any number of threads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeAlias

from pleo_erp._closing import ClosesOnExit
from pleo_erp.state._db import SqlParameters, StateError, checked_version
from pleo_erp.state.urls import redact_url

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

__all__ = ["PgMigration", "PostgresStateDB"]

PgMigration: TypeAlias = "str | Callable[[psycopg.Connection[Any]], None]"
"""One schema step: an SQL script (several statements allowed) or a function of the connection."""

_SCHEMA_VERSION_DDL = """
CREATE TABLE IF NOT EXISTS schema_version (
    feature TEXT PRIMARY KEY,
    version INTEGER NOT NULL CHECK (version >= 0)
)
"""

# pg_advisory_xact_lock key for migrations ("pleo" in ASCII): transaction-scoped, never leaks.
_MIGRATION_LOCK = 0x706C656F


def _import_psycopg() -> Any:
    try:
        import psycopg
        import psycopg_pool
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise StateError(
            "the Postgres state needs the extra: pip install 'pleo-erp[postgres]'"
        ) from exc
    return psycopg, psycopg_pool


class PostgresStateDB(ClosesOnExit):
    """An open Postgres state database: a connection pool plus migrations.

    ``PostgresStateDB("postgresql://user@host/db")`` opens a pool of ``min_size`` to
    ``max_size`` connections (opened lazily, checked on borrow). Thread-safe.
    """

    def __init__(
        self,
        url: str,
        *,
        min_size: int = 1,
        max_size: int = 8,
        timeout: float = 30.0,
        application_name: str = "pleo-erp",
        check_on_borrow: bool = False,
        max_idle: float = 300.0,
    ) -> None:
        """Open a pool to ``url`` (a libpq URL or DSN; a password in it is never shown).

        Args:
            url: ``postgresql://user[:password]@host[:port]/dbname``.
            min_size: connections kept open.
            max_size: the most connections this process uses at once.
            timeout: seconds to wait for a free connection before raising.
            application_name: shown in ``pg_stat_activity``.
            check_on_borrow: ping each connection before lending it (one more round trip per
                use; off by default: a broken connection is discarded when it fails, and the
                run that met it is retried as transient).
            max_idle: seconds an unused connection above ``min_size`` stays open.
        """
        _, psycopg_pool = _import_psycopg()
        self.url = url
        self.timeout = timeout
        self._pool: ConnectionPool[Any] = psycopg_pool.ConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
            kwargs={"autocommit": True, "application_name": application_name},
            check=psycopg_pool.ConnectionPool.check_connection if check_on_borrow else None,
            max_idle=max_idle,
            open=True,
            name="pleo-erp-state",
        )
        # Concurrent CREATE TABLE IF NOT EXISTS can still collide in the catalog: serialise
        # first-time setup of many workers starting at once under the migration lock.
        with self.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            conn.execute(_SCHEMA_VERSION_DDL)

    @property
    def pool(self) -> ConnectionPool[Any]:
        """The underlying connection pool (share it with your own code if you like)."""
        return self._pool

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection in autocommit mode for the block."""
        with self._pool.connection() as conn:
            yield conn

    def fetch_one(self, sql: str, parameters: SqlParameters = ()) -> tuple[Any, ...] | None:
        """The first row ``sql`` returns on a pooled connection, or ``None``."""
        with self.connection() as conn:
            return conn.execute(sql, parameters).fetchone()

    def fetch_all(self, sql: str, parameters: SqlParameters = ()) -> list[tuple[Any, ...]]:
        """Every row ``sql`` returns on a pooled connection."""
        with self.connection() as conn:
            return conn.execute(sql, parameters).fetchall()

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection inside one transaction: committed, or rolled back on error."""
        with self._pool.connection() as conn, conn.transaction():
            yield conn

    def schema_version(self, feature: str) -> int:
        """How many of ``feature``'s migrations have been applied (0 if none)."""
        with self.connection() as conn:
            row = conn.execute(
                "SELECT version FROM schema_version WHERE feature = %s", (feature,)
            ).fetchone()
        return int(row[0]) if row else 0

    def apply_migrations(self, feature: str, steps: Sequence[PgMigration]) -> int:
        """Bring ``feature``'s tables up to ``len(steps)``; returns the resulting version.

        Same rules as :meth:`StateDB.apply_migrations`: append-only steps, one transaction per
        step with its version bump, :class:`StateSchemaError` if the database is newer.
        """
        if not feature:
            raise ValueError("feature must not be empty")
        target = len(steps)
        if self.schema_version(feature) < target:
            for number, step in enumerate(steps, start=1):
                with self.transaction() as conn:
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
                    row = conn.execute(
                        "SELECT version FROM schema_version WHERE feature = %s", (feature,)
                    ).fetchone()
                    if (int(row[0]) if row else 0) >= number:
                        continue
                    if isinstance(step, str):
                        conn.execute(step)  # simple query protocol: several statements allowed
                    else:
                        step(conn)
                    conn.execute(
                        "INSERT INTO schema_version (feature, version) VALUES (%s, %s) "
                        "ON CONFLICT (feature) DO UPDATE SET version = excluded.version",
                        (feature, number),
                    )
        return checked_version(feature, self.schema_version(feature), target)

    def close(self) -> None:
        """Close every pooled connection."""
        self._pool.close()

    def __repr__(self) -> str:
        return f"PostgresStateDB(url={redact_url(self.url)!r})"
