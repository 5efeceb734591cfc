"""The SQLite database behind the connector's local state (stdlib ``sqlite3`` only).

One file holds every feature's tables: OAuth tokens, the dimension selection, the export
journal… Each feature owns its tables and evolves them through numbered migrations applied by
:meth:`StateDB.apply_migrations`; a ``schema_version`` table remembers, per feature, how many
steps ran. Applying is idempotent and safe when several processes open the same file at once
(the version is re-read inside a ``BEGIN IMMEDIATE`` transaction).

Connections run in autocommit mode (``isolation_level=None``) so transactions are explicit and
visible in the code: :meth:`StateDB.transaction` issues ``BEGIN``/``COMMIT`` itself. File
databases use WAL (readers never wait for a writer) and a busy timeout (writers wait for each
other instead of failing at once).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeAlias

from pleo_erp._closing import ClosesOnExit
from pleo_erp.client.errors import PleoError

__all__ = [
    "MEMORY",
    "Migration",
    "StateDB",
    "StateDatabaseDamaged",
    "StateError",
    "StateSchemaError",
]

MEMORY = ":memory:"
"""The path of a private, in-memory database (tests, dry runs)."""

Migration: TypeAlias = str | Callable[[sqlite3.Connection], None]
"""One schema step: an SQL script, or a function given the connection (inside a transaction)."""

SqlParameters: TypeAlias = "Sequence[object] | Mapping[str, object]"
"""The values of one statement's placeholders: positional, or by name."""

_SCHEMA_VERSION_DDL = """
CREATE TABLE IF NOT EXISTS schema_version (
    feature TEXT PRIMARY KEY,
    version INTEGER NOT NULL CHECK (version >= 0)
)
"""


class StateError(PleoError):
    """The local state database could not be used."""


class StateSchemaError(StateError):
    """The database was written by a newer pleo-erp (more migrations than this one knows)."""


class StateDatabaseDamaged(StateError):
    """The file is not a usable SQLite database (``file is not a database``, ``malformed``).

    Deleting it (with its ``-wal``/``-shm`` files) is safe for exports: the accounting system
    is the source of truth for what was booked, and a new file starts empty. Saved credentials
    and the dimension selection live in it too and must be set again.
    """

    def __init__(self, path: str, error: sqlite3.DatabaseError) -> None:
        """Describe the damaged file at ``path`` (``error`` is SQLite's own words)."""
        super().__init__(f"the state database {path} is damaged ({error})")
        self.path = path


def checked_version(feature: str, current: int, target: int) -> int:
    """``current``, or :class:`StateSchemaError` if a newer pleo-erp applied more steps."""
    if current > target:
        raise StateSchemaError(
            f"state database has {feature!r} schema version {current}, newer than this "
            f"pleo-erp knows ({target}); upgrade pleo-erp"
        )
    return current


def is_damage(error: BaseException) -> bool:
    """Whether an ``sqlite3`` error means the file itself is damaged (not locked, not denied)."""
    return isinstance(error, sqlite3.DatabaseError) and not isinstance(
        error, sqlite3.OperationalError
    )


class StateDB(ClosesOnExit):
    """An open state database: a path (or ``":memory:"``) plus one shared connection.

    The shared connection is guarded by a re-entrant lock, so one ``StateDB`` can be used from
    several threads. :meth:`connect` opens *additional* connections with the same settings, for
    work that must not share the main connection's transaction (e.g. a cross-process lock).
    """

    def __init__(
        self, path: str | os.PathLike[str] = MEMORY, *, busy_timeout: float = 30.0
    ) -> None:
        """Open (creating if needed) the database at ``path``.

        Args:
            path: a file path, or ``":memory:"`` for a private in-memory database.
            busy_timeout: seconds a writer waits for another connection's write lock before
                ``sqlite3.OperationalError: database is locked``.
        """
        if busy_timeout < 0:
            raise ValueError("busy_timeout must not be negative")
        self.path = os.fspath(path)
        self.busy_timeout = busy_timeout
        self.is_memory = self.path == MEMORY or self.path.startswith("file::memory:")
        if not self.is_memory:
            _create_private_file(Path(self.path))
        self._lock = threading.RLock()
        try:
            self._conn = self._open()
            with self._lock:
                self._conn.execute(_SCHEMA_VERSION_DDL)
        except sqlite3.DatabaseError as error:
            if not is_damage(error):
                raise
            raise StateDatabaseDamaged(self.path, error) from error

    # ---- connections ------------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path,
            timeout=self.busy_timeout,
            isolation_level=None,  # autocommit; BEGIN/COMMIT are explicit
            check_same_thread=False,  # guarded by self._lock (or owned by one caller)
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            conn.execute("PRAGMA foreign_keys = ON")
            if not self.is_memory:
                conn.execute("PRAGMA journal_mode = WAL")
        except BaseException:
            conn.close()
            raise
        return conn

    def connect(self) -> sqlite3.Connection:
        """A new connection to the same file with the same settings; the caller closes it.

        Not available for in-memory databases (another connection would see an empty one).
        """
        if self.is_memory:
            raise StateError("an in-memory state database has a single connection")
        return self._open()

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """The shared connection, held exclusively by this thread for the ``with`` block."""
        with self._lock:
            yield self._conn

    def fetch_one(self, sql: str, parameters: SqlParameters = ()) -> Any | None:
        """The first row ``sql`` returns on the shared connection, or ``None``."""
        with self.connection() as conn:
            return conn.execute(sql, parameters).fetchone()

    def fetch_all(self, sql: str, parameters: SqlParameters = ()) -> list[Any]:
        """Every row ``sql`` returns on the shared connection."""
        with self.connection() as conn:
            return conn.execute(sql, parameters).fetchall()

    @contextmanager
    def transaction(self, *, immediate: bool = False) -> Iterator[sqlite3.Connection]:
        """Run the block in one transaction on the shared connection: commit, or roll back.

        ``immediate=True`` takes the write lock up front (``BEGIN IMMEDIATE``), so a
        read-then-write cannot be interleaved with another process's write. Nested use in the
        same thread becomes a savepoint of the outer transaction.
        """
        with self._lock:
            conn = self._conn
            if conn.in_transaction:
                name = f"sp_{threading.get_ident()}_{id(conn)}"
                conn.execute(f"SAVEPOINT {name}")
                try:
                    yield conn
                except BaseException:
                    conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
                    conn.execute(f"RELEASE SAVEPOINT {name}")
                    raise
                conn.execute(f"RELEASE SAVEPOINT {name}")
                return
            conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # ---- migrations -------------------------------------------------------------------------

    def schema_version(self, feature: str) -> int:
        """How many of ``feature``'s migrations have been applied (0 if none)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT version FROM schema_version WHERE feature = ?", (feature,)
            ).fetchone()
        return int(row[0]) if row else 0

    def apply_migrations(self, feature: str, steps: Sequence[Migration]) -> int:
        """Bring ``feature``'s tables up to ``len(steps)``; returns the resulting version.

        Step *n* (1-based) runs only if the stored version is below *n*, each in its own
        ``BEGIN IMMEDIATE`` transaction together with the version bump, so a crash leaves the
        database at a whole step and a concurrent opener never applies a step twice. Steps are
        append-only: never edit or reorder a released one. Raises :class:`StateSchemaError` if
        the database already holds more steps than ``steps`` (a newer pleo-erp wrote it).
        """
        if not feature:
            raise ValueError("feature must not be empty")
        target = len(steps)
        # Fast path without the write lock: opening an up-to-date database must not wait for
        # another process's long write (e.g. a token refresh holding the lock).
        if self.schema_version(feature) >= target:
            return self._checked_version(feature, target)
        for number, step in enumerate(steps, start=1):
            with self.transaction(immediate=True) as conn:
                current = self._version_in(conn, feature)
                if current >= number:
                    continue
                if isinstance(step, str):
                    # executescript would COMMIT our transaction; run statements one by one.
                    for statement in _split_sql(step):
                        conn.execute(statement)
                else:
                    step(conn)
                conn.execute(
                    "INSERT INTO schema_version (feature, version) VALUES (?, ?) "
                    "ON CONFLICT (feature) DO UPDATE SET version = excluded.version",
                    (feature, number),
                )
        return self._checked_version(feature, target)

    def _checked_version(self, feature: str, target: int) -> int:
        return checked_version(feature, self.schema_version(feature), target)

    @staticmethod
    def _version_in(conn: sqlite3.Connection, feature: str) -> int:
        row = conn.execute(
            "SELECT version FROM schema_version WHERE feature = ?", (feature,)
        ).fetchone()
        return int(row[0]) if row else 0

    # ---- lifetime ---------------------------------------------------------------------------

    def close(self) -> None:
        """Close the shared connection."""
        with self._lock:
            self._conn.close()

    def __repr__(self) -> str:
        return f"StateDB(path={self.path!r})"

    def ensure_private(self) -> None:
        """Make the database files readable by their owner only (``0600``).

        Called whenever a secret (API key, client secret, OAuth tokens) is written: a file
        created earlier with a looser mode (``0644``, another tool, a restored backup) is
        tightened, and if that is impossible a warning says so. In-memory databases and
        platforms without POSIX modes are left alone.
        """
        if self.is_memory or os.name != "posix":
            return
        for suffix in ("", "-wal", "-shm", "-journal"):
            _tighten(Path(self.path + suffix))


_logger = logging.getLogger("pleo_erp.state")


def _tighten(path: Path) -> None:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    except OSError as error:
        _logger.warning("cannot check the mode of %s: %s", path, type(error).__name__)
        return
    if mode & 0o077 == 0:
        return
    try:
        os.chmod(path, mode & 0o700)
    except OSError as error:
        _logger.warning(
            "%s holds secrets but is readable by others (mode %o) and could not be made "
            "private: %s",
            path,
            mode,
            type(error).__name__,
        )
        return
    _logger.info("tightened %s from mode %o to %o: it holds secrets", path, mode, mode & 0o700)


def _create_private_file(path: Path) -> None:
    """Create the database file readable by its owner only: it holds OAuth tokens.

    SQLite gives its ``-wal``/``-shm`` files the main file's permissions, so they stay private
    too. An existing file is left as it is.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def _split_sql(script: str) -> list[str]:
    """Split an SQL script into single statements, honouring ``;`` inside literals/triggers."""
    statements: list[str] = []
    buffer = ""
    for part in script.split(";"):
        buffer += part + ";"
        if sqlite3.complete_statement(buffer):
            if buffer.strip().rstrip(";").strip():
                statements.append(buffer.strip())
            buffer = ""
    tail = buffer[:-1].strip()  # the split added one ';' too many at the end
    if tail:
        statements.append(tail)
    return statements
