"""OAuth tokens on Postgres: single-flight refresh across machines
(accounts rules 13, 14, 21).

Same contract as :class:`~pleo_erp.state.SQLiteTokenStore`. ``lock()`` borrows a dedicated
connection, opens a transaction and takes ``SELECT … FOR UPDATE`` on the key's row in
``oauth_token_locks`` (created on first use), held until the block ends: every other process,
on any machine, waits there and then reads the tokens the holder saved (``OAuth2Auth``
re-reads inside the lock and adopts them instead of presenting the spent refresh token).
``load``/``save`` run on other pooled connections in autocommit, so a save is durable the
moment it returns, while the lock is still held.

If the holder dies, Postgres ends its transaction when the connection drops (the backend is
idle in a transaction, so it notices at once) and the lock is free; a holder frozen for longer
than ``idle_timeout`` is cut off the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from pleo_erp.client.auth import TokenSet
from pleo_erp.state.postgres._db import PgMigration, PostgresStateDB
from pleo_erp.state.tokens import (
    _SELECT_TOKENS,
    _TOKEN_COLUMNS,
    _UPDATE_TOKENS,
    TOKENS_FEATURE,
    TokenLockTimeout,
    _SingleFlightLock,
    _token_columns,
    _tokens_from_row,
)

__all__ = ["PostgresTokenStore"]

_MIGRATIONS: tuple[PgMigration, ...] = (
    """
    CREATE TABLE IF NOT EXISTS oauth_tokens (
        key           TEXT PRIMARY KEY,
        access_token  TEXT NOT NULL,
        refresh_token TEXT,
        expires_at    TIMESTAMPTZ NOT NULL,
        scope         TEXT,
        token_type    TEXT NOT NULL DEFAULT 'Bearer',
        version       BIGINT NOT NULL DEFAULT 1,
        updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
    );
    CREATE TABLE IF NOT EXISTS oauth_token_locks (
        key TEXT PRIMARY KEY
    );
    """,
)

_UPSERT = f"""
INSERT INTO oauth_tokens (key, {", ".join(_TOKEN_COLUMNS)}, version, updated_at)
VALUES (%s, %s, %s, %s, %s, %s, 1, now())
ON CONFLICT (key) DO UPDATE SET {_UPDATE_TOKENS},
    version = oauth_tokens.version + 1, updated_at = now()
"""


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc)


class PostgresTokenStore(_SingleFlightLock):
    """A :class:`~pleo_erp.client.auth.TokenStore` for one connection ``key`` on Postgres.

    Safe from many threads, processes and machines at once. The secrets are stored as given:
    protect the database (and its backups) like the credentials they are.
    """

    def __init__(
        self,
        db: PostgresStateDB,
        key: str = "default",
        *,
        lock_timeout: float = 30.0,
        idle_timeout: float = 120.0,
    ) -> None:
        """Bind to ``db`` for ``key`` (migrating the tables if needed).

        Args:
            db: the state database.
            key: which connection's tokens (never the secret itself).
            lock_timeout: seconds to wait for another holder before :class:`TokenLockTimeout`.
            idle_timeout: a lock holder silent this long loses its connection (and the lock).
        """
        if not key:
            raise ValueError("key must not be empty")
        if lock_timeout <= 0 or idle_timeout <= 0:
            raise ValueError("timeouts must be positive")
        super().__init__()
        self.db = db
        self.key = key
        self.lock_timeout = lock_timeout
        self.idle_timeout = idle_timeout
        db.apply_migrations(TOKENS_FEATURE, _MIGRATIONS)

    def load(self) -> TokenSet | None:
        """The stored tokens for ``key``, or ``None``."""
        row = self.db.fetch_one(_SELECT_TOKENS.format("%s"), (self.key,))
        return _tokens_from_row(row, _utc)

    def version(self) -> int:
        """How many times the tokens were saved (0: never); tells a sibling's rotation apart."""
        row = self.db.fetch_one("SELECT version FROM oauth_tokens WHERE key = %s", (self.key,))
        return int(row[0]) if row else 0

    def save(self, tokens: TokenSet) -> None:
        """Replace the tokens for ``key`` atomically; committed (durable) when this returns."""
        with self.db.connection() as conn:
            conn.execute(_UPSERT, _token_columns(self.key, tokens, _utc))

    def clear(self) -> None:
        """Delete the tokens for ``key`` (after a disconnect or revocation)."""
        with self.db.connection() as conn:
            conn.execute("DELETE FROM oauth_tokens WHERE key = %s", (self.key,))

    @contextmanager
    def _process_lock(self) -> Iterator[None]:
        """``SELECT … FOR UPDATE`` on the key's lock row, held by an open transaction.

        Every process on every machine waits there (at most ``lock_timeout`` seconds).
        """
        with self.db.connection() as conn:
            conn.execute(
                "INSERT INTO oauth_token_locks (key) VALUES (%s) ON CONFLICT DO NOTHING",
                (self.key,),
            )
            with conn.transaction():
                self._take(conn)
                yield

    def _take(self, conn: Any) -> None:
        import psycopg

        conn.execute(f"SET LOCAL lock_timeout = {int(self.lock_timeout * 1000)}")
        conn.execute(
            f"SET LOCAL idle_in_transaction_session_timeout = {int(self.idle_timeout * 1000)}"
        )
        try:
            conn.execute("SELECT key FROM oauth_token_locks WHERE key = %s FOR UPDATE", (self.key,))
        except psycopg.errors.LockNotAvailable as exc:
            raise TokenLockTimeout(
                f"timed out after {self.lock_timeout:g} s waiting for the OAuth token lock "
                "held by another process"
            ) from exc

    def __repr__(self) -> str:
        return f"PostgresTokenStore({self.db!r}, key={self.key!r})"
