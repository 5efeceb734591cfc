"""OAuth tokens on SQLite: the default :class:`~pleo_erp.client.auth.TokenStore`.

One row per connection ``key`` (one Pleo company ↔ one AS company; accounts rule 21).
``save`` replaces the row in one transaction, so a reader sees the old set or the new one,
never a mix.

``lock()`` is the cross-process refresh lock (rule 14): it opens a dedicated connection and
holds ``BEGIN IMMEDIATE`` (SQLite's write lock on the file) until the block ends, so a second
process calling ``lock()`` waits (up to ``busy_timeout``) and then reads the tokens the first
one saved. The OS drops the lock if the holder crashes; nothing stale is left behind. While
the lock is held, other writers to the same file wait too, which lasts one token request.
Threads of one process are serialised by a re-entrant lock before they reach SQLite.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime, timezone
from typing import Any

from pleo_erp._closing import ClosesOnExit
from pleo_erp.client.auth import TokenSet
from pleo_erp.state._db import Migration, StateDB, StateError

__all__ = ["TOKENS_FEATURE", "SQLiteTokenStore", "TokenLockTimeout"]

logger = logging.getLogger("pleo_erp.state")

TOKENS_FEATURE = "oauth_tokens"
"""The feature name under which the token table's migrations are versioned."""

_MIGRATIONS: tuple[Migration, ...] = (
    """
    CREATE TABLE IF NOT EXISTS oauth_tokens (
        key           TEXT PRIMARY KEY,
        access_token  TEXT NOT NULL,
        refresh_token TEXT,
        expires_at    TEXT NOT NULL,  -- ISO 8601, UTC
        scope         TEXT,
        token_type    TEXT NOT NULL DEFAULT 'Bearer',
        updated_at    TEXT NOT NULL   -- ISO 8601, UTC
    );
    """,
)

_TOKEN_COLUMNS = ("access_token", "refresh_token", "expires_at", "scope", "token_type")
"""The columns both dialects read and write, in ``_token_columns``/``_tokens_from_row`` order."""

_UPDATE_TOKENS = ", ".join(f"{column} = excluded.{column}" for column in _TOKEN_COLUMNS)
"""The ``ON CONFLICT (key) DO UPDATE SET`` part both dialects' upserts share."""

# S608: the f-strings below join constant column names; every value is a parameter.
_UPSERT = (
    f"INSERT INTO oauth_tokens (key, {', '.join(_TOKEN_COLUMNS)}, updated_at) "  # noqa: S608
    "VALUES (?, ?, ?, ?, ?, ?, ?) "
    f"ON CONFLICT (key) DO UPDATE SET {_UPDATE_TOKENS}, updated_at = excluded.updated_at"
)


class TokenLockTimeout(StateError):
    """Another process held the token refresh lock for longer than ``busy_timeout``."""


_SELECT_TOKENS = f"SELECT {', '.join(_TOKEN_COLUMNS)} FROM oauth_tokens WHERE key = {{}}"  # noqa: S608
"""Reads the row ``_tokens_from_row`` takes; ``{}`` is the dialect's parameter mark."""


def _tokens_from_row(
    row: Sequence[Any] | None, expires_at: Callable[[Any], datetime]
) -> TokenSet | None:
    """The :class:`TokenSet` of a ``_SELECT_TOKENS`` row (``None`` for no row).

    ``expires_at`` turns the stored expiry into an aware datetime (ISO text on SQLite).
    """
    if row is None:
        return None
    access, refresh, expiry, scope, token_type = row
    return TokenSet(
        access_token=access,
        refresh_token=refresh,
        expires_at=expires_at(expiry),
        scope=scope,
        token_type=token_type,
    )


def _token_columns(
    key: str, tokens: TokenSet, expires_at: Callable[[datetime], object]
) -> tuple[object, ...]:
    """``key``, the tokens and their expiry (UTC, stored by ``expires_at``) in column order."""
    expiry = expires_at(tokens.expires_at.astimezone(timezone.utc))
    return (key, tokens.access_token, tokens.refresh_token, expiry, tokens.scope, tokens.token_type)


class _SingleFlightLock:
    """The ``lock()`` of a token store: re-entrant, one holder across threads and processes.

    Threads of this process queue on a re-entrant lock; the outermost holder also takes the
    store's cross-process lock (:meth:`_process_lock`), so a refresh happens once (rule 14)
    and the others then read the tokens it saved.
    """

    def __init__(self) -> None:
        """Start unlocked."""
        # Serialises this process's threads; the holder re-enters it from save().
        self._holder = threading.RLock()
        self._depth = 0

    def _process_lock(self) -> AbstractContextManager[object]:
        """The cross-process lock the outermost holder takes (a no-op where none is needed)."""
        return nullcontext()

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the refresh lock for this store's ``key`` across threads and processes.

        Re-entrant for the holding thread. Raises :class:`TokenLockTimeout` if another process
        keeps it longer than the store's timeout.
        """
        with self._holder, nullcontext() if self._depth else self._process_lock():
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1


class SQLiteTokenStore(_SingleFlightLock, ClosesOnExit):
    """A :class:`~pleo_erp.client.auth.TokenStore` in the connector's SQLite state database.

    ``SQLiteTokenStore("state.db", key="acme")`` opens (and migrates) the file; pass a
    :class:`StateDB` instead to share one already open. Safe to use from several threads and
    several processes at once.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | StateDB,
        key: str = "default",
        *,
        busy_timeout: float = 30.0,
    ) -> None:
        """Open the store for connection ``key``.

        Args:
            path: the database file, ``":memory:"``, or an open :class:`StateDB`.
            key: which connection's tokens this store reads and writes.
            busy_timeout: seconds to wait for another process's lock (when ``path`` is not
                already a :class:`StateDB`, whose own timeout applies otherwise).
        """
        if not key:
            raise ValueError("key must not be empty")
        super().__init__()
        self._owns_db = not isinstance(path, StateDB)
        self._db = path if isinstance(path, StateDB) else StateDB(path, busy_timeout=busy_timeout)
        self.key = key
        self._db.apply_migrations(TOKENS_FEATURE, _MIGRATIONS)
        # The connection holding BEGIN IMMEDIATE while lock() is active (file databases only).
        self._lock_conn: sqlite3.Connection | None = None

    @property
    def db(self) -> StateDB:
        """The state database this store lives in."""
        return self._db

    def load(self) -> TokenSet | None:
        """The stored tokens for ``key``, or ``None``."""
        row = self._db.fetch_one(_SELECT_TOKENS.format("?"), (self.key,))
        return _tokens_from_row(row, datetime.fromisoformat)

    def save(self, tokens: TokenSet) -> None:
        """Replace the tokens for ``key`` in one committed transaction.

        Inside :meth:`lock` the row is written on the lock's connection and committed at
        once (durable when this returns); the lock is then taken again for the rest of the
        block.
        """
        values = (
            *_token_columns(self.key, tokens, datetime.isoformat),
            datetime.now(timezone.utc).isoformat(),
        )
        self._db.ensure_private()  # the row holds tokens: the file must not be 0644
        with self._holder:
            conn = self._lock_conn
            if conn is None:
                with self._db.transaction(immediate=True) as shared:
                    shared.execute(_UPSERT, values)
                self._db.ensure_private()  # -wal/-shm may have been created just now
                return
            conn.execute(_UPSERT, values)
            conn.execute("COMMIT")
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:
                # Another process took the lock in between; it will read what we just saved.
                logger.debug("token lock handed over after save")

    def clear(self) -> None:
        """Delete the tokens for ``key`` (after a disconnect or revocation)."""
        with self._holder:
            conn = self._lock_conn
            if conn is None:
                with self._db.transaction(immediate=True) as shared:
                    shared.execute("DELETE FROM oauth_tokens WHERE key = ?", (self.key,))
                return
            conn.execute("DELETE FROM oauth_tokens WHERE key = ?", (self.key,))
            conn.execute("COMMIT")
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:
                logger.debug("token lock handed over after clear")

    def _process_lock(self) -> AbstractContextManager[object]:
        # A private in-memory database no other process can open needs no file lock.
        return nullcontext() if self._db.is_memory else self._file_lock()

    @contextmanager
    def _file_lock(self) -> Iterator[None]:
        """``BEGIN IMMEDIATE`` on a dedicated connection (SQLite's write lock on the file)."""
        conn = self._db.connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            conn.close()
            raise TokenLockTimeout(
                f"timed out after {self._db.busy_timeout:g} s waiting for the OAuth token "
                f"lock held by another process ({exc})"
            ) from exc
        self._lock_conn = conn
        try:
            yield
        finally:
            self._lock_conn = None
            try:
                if conn.in_transaction:
                    # Nothing uncommitted is ours (save commits at once): just release.
                    conn.execute("COMMIT")
            finally:
                conn.close()

    def close(self) -> None:
        """Close the database if this store opened it."""
        if self._owns_db:
            self._db.close()

    def __repr__(self) -> str:
        return f"SQLiteTokenStore(path={self._db.path!r}, key={self.key!r})"
