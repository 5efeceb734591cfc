"""The embedded runtime stores on SQLite (:class:`~pleo_erp.state.StateDB`): one machine, no setup.

Three features, each with its own migrations in the state file that already holds the OAuth
tokens, the export journal, the dimension selection and the leases:

* ``runtime_connections`` — :class:`SQLiteConnectionRegistry`;
* ``runtime_schedule`` — :class:`SQLiteScheduleStore`: one row per (company, level). Claims run
  inside ``BEGIN IMMEDIATE`` (SQLite's write lock on the file), so two threads or two processes
  can never claim the same row;
* ``webhook_inbox`` — :class:`SQLiteWebhookInbox` (``INSERT OR IGNORE`` on ``webhook-id``).

Times are stored as UNIX epoch seconds (``REAL``) so due-time comparisons are numeric.
:func:`open_sqlite_state` opens all of them (plus tokens, journal, selection, leases) as a
:class:`~pleo_erp.runtime.stores.RuntimeState`.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from uuid import UUID

from pleo_erp.client.auth import TokenStore
from pleo_erp.orchestration.schedule import ScheduleConfig, ScheduledLevel
from pleo_erp.runtime.stores import AuthKind, Connection, DueRun, RuntimeState, ScheduleRow
from pleo_erp.state._db import Migration, StateDB
from pleo_erp.state.export_journal import SQLiteExportJournal
from pleo_erp.state.lease import SQLiteLeaseStore
from pleo_erp.state.selection import SelectionStore
from pleo_erp.state.tokens import SQLiteTokenStore

__all__ = [
    "CONNECTIONS_FEATURE",
    "INBOX_FEATURE",
    "SCHEDULE_FEATURE",
    "SQLiteConnectionRegistry",
    "SQLiteScheduleStore",
    "SQLiteWebhookInbox",
    "jitter",
    "open_sqlite_state",
]

CONNECTIONS_FEATURE = "runtime_connections"
"""The state-database feature name of the connection registry."""
SCHEDULE_FEATURE = "runtime_schedule"
"""The state-database feature name of the schedule."""
INBOX_FEATURE = "webhook_inbox"
"""The state-database feature name of the webhook inbox."""

_CONNECTIONS_MIGRATIONS: tuple[Migration, ...] = (
    """
    CREATE TABLE runtime_connections (
        company_id TEXT PRIMARY KEY,
        auth_kind  TEXT NOT NULL CHECK (auth_kind IN ('api_key', 'oauth')),
        token_key  TEXT NOT NULL,
        adapter    TEXT NOT NULL,
        settings   TEXT NOT NULL,   -- JSON object of strings
        levels     TEXT NOT NULL,   -- JSON list of level names, in run order
        cadence    TEXT NOT NULL,   -- JSON object: level -> seconds
        enabled    INTEGER NOT NULL,
        created_at TEXT NOT NULL    -- ISO 8601, UTC
    );
    """,
)

_SCHEDULE_MIGRATIONS: tuple[Migration, ...] = (
    """
    CREATE TABLE runtime_schedule (
        company_id         TEXT NOT NULL,
        level              TEXT NOT NULL,
        rank               INTEGER NOT NULL,    -- run order of the level (ties on next_due)
        next_due           REAL NOT NULL,
        every              REAL NOT NULL,       -- seconds
        enabled            INTEGER NOT NULL,
        claim_id           TEXT,
        claimed_at         REAL,
        started_generation INTEGER NOT NULL DEFAULT 0,
        last_started_at    REAL,
        last_finished_at   REAL,
        last_outcome       TEXT,
        last_error         TEXT,
        PRIMARY KEY (company_id, level)
    );
    CREATE INDEX runtime_schedule_due ON runtime_schedule (enabled, next_due);
    """,
)

_INBOX_MIGRATIONS: tuple[Migration, ...] = (
    """
    CREATE TABLE webhook_inbox (
        webhook_id  TEXT PRIMARY KEY,
        company_id  TEXT,
        received_at REAL NOT NULL
    );
    CREATE INDEX webhook_inbox_received ON webhook_inbox (received_at);
    """,
)

_RANK = {level: rank for rank, level in enumerate(ScheduledLevel)}

_MAX_JITTER = 0.1
"""Largest share of a level's cadence added as per-company jitter when a claim moves it on."""


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _epoch(value: datetime) -> float:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("times must be timezone-aware")
    return value.timestamp()


def _from_epoch(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(float(value), tz=timezone.utc)


def _at(value: float) -> datetime:
    return datetime.fromtimestamp(value, tz=timezone.utc)


def jitter(company_id: UUID, level: ScheduledLevel, every: timedelta) -> timedelta:
    """The deterministic delay added to ``every`` for this company and level (≤ 10 %).

    The same in every process and across restarts (a hash of the ids, not ``hash()``), so
    thousands of companies connected in the same minute spread over the interval.
    """
    digest = hashlib.blake2b(company_id.bytes + level.value.encode(), digest_size=8).digest()
    fraction = int.from_bytes(digest, "big") / 2**64
    return every * (fraction * _MAX_JITTER)


class SQLiteScheduleStore:
    """A :class:`~pleo_erp.runtime.stores.ScheduleStore` in the state database.

    Args:
        db: the state database (migrated on construction).
        clock: the current time as an aware ``datetime`` (inject one in tests).
    """

    def __init__(self, db: StateDB, *, clock: Callable[[], datetime] = _utcnow) -> None:
        self._db = db
        self._clock = clock
        db.apply_migrations(SCHEDULE_FEATURE, _SCHEDULE_MIGRATIONS)

    def _now(self, now: datetime | None = None) -> float:
        return _epoch(now if now is not None else self._clock())

    def ensure(
        self,
        company_id: UUID,
        level: ScheduledLevel,
        every: timedelta,
        *,
        due_now: bool = True,
    ) -> None:
        """See :meth:`ScheduleStore.ensure`."""
        seconds = _positive_seconds(every)
        level = ScheduledLevel(level)
        now = self._now()
        first_due = now if due_now else now + seconds
        with self._db.transaction(immediate=True) as conn:
            conn.execute(
                "INSERT INTO runtime_schedule (company_id, level, rank, next_due, every, enabled) "
                "VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT (company_id, level) DO UPDATE SET "
                "every = excluded.every, enabled = 1",
                (str(company_id), level.value, _RANK[level], first_due, seconds),
            )

    def disable_except(self, company_id: UUID, levels: Iterable[ScheduledLevel]) -> int:
        """Disable the company's rows whose level is not in ``levels``; returns how many."""
        keep = [ScheduledLevel(level).value for level in levels]
        marks = ",".join("?" * len(keep)) or "''"
        with self._db.transaction(immediate=True) as conn:
            cursor = conn.execute(
                f"UPDATE runtime_schedule SET enabled = 0 WHERE company_id = ? "  # noqa: S608 - placeholders only
                f"AND enabled = 1 AND level NOT IN ({marks})",
                (str(company_id), *keep),
            )
            return cursor.rowcount

    def delete(self, company_id: UUID) -> int:
        """Delete every row of the company; returns how many."""
        with self._db.transaction(immediate=True) as conn:
            return conn.execute(
                "DELETE FROM runtime_schedule WHERE company_id = ?", (str(company_id),)
            ).rowcount

    def claim_due(self, limit: int, *, now: datetime | None = None) -> list[DueRun]:
        """See :meth:`ScheduleStore.claim_due`."""
        if limit < 1:
            return []
        at = self._now(now)
        claimed: list[DueRun] = []
        # BEGIN IMMEDIATE: the select and the moves happen under the file's write lock, so no
        # other thread or process can claim the same rows in between.
        with self._db.transaction(immediate=True) as conn:
            rows = conn.execute(
                "SELECT company_id, level, next_due, every FROM runtime_schedule "
                "WHERE enabled = 1 AND next_due <= ? ORDER BY next_due, rank, company_id LIMIT ?",
                (at, limit),
            ).fetchall()
            for company_text, level_text, next_due, every in rows:
                company, level = UUID(company_text), ScheduledLevel(level_text)
                cadence = timedelta(seconds=float(every))
                moved = at + float(every) + jitter(company, level, cadence).total_seconds()
                claim_id = uuid.uuid4().hex
                conn.execute(
                    "UPDATE runtime_schedule SET next_due = ?, claim_id = ?, claimed_at = ? "
                    "WHERE company_id = ? AND level = ?",
                    (moved, claim_id, at, company_text, level_text),
                )
                due_at = _at(float(next_due))
                claimed.append(
                    DueRun(company_id=company, level=level, due_at=due_at, claim_id=claim_id)
                )
        return claimed

    def mark_due(self, company_id: UUID, level: ScheduledLevel) -> None:
        """See :meth:`ScheduleStore.mark_due`."""
        now = self._now()
        with self._db.transaction(immediate=True) as conn:
            conn.execute(
                "UPDATE runtime_schedule SET next_due = MIN(next_due, ?) "
                "WHERE company_id = ? AND level = ? AND enabled = 1",
                (now, str(company_id), ScheduledLevel(level).value),
            )

    def record_start(self, company_id: UUID, level: ScheduledLevel, *, generation: int) -> None:
        """See :meth:`ScheduleStore.record_start`; the level's cadence restarts now."""
        now = self._now()
        with self._db.transaction(immediate=True) as conn:
            conn.execute(
                "UPDATE runtime_schedule SET last_started_at = ?, started_generation = ?, "
                "claim_id = NULL, claimed_at = NULL, next_due = MAX(next_due, ? + every) "
                "WHERE company_id = ? AND level = ? AND started_generation <= ?",
                (now, generation, now, str(company_id), ScheduledLevel(level).value, generation),
            )

    def record_finish(
        self,
        company_id: UUID,
        level: ScheduledLevel,
        *,
        generation: int,
        outcome: str,
        error: str | None,
        retry_after: timedelta | None,
    ) -> None:
        """See :meth:`ScheduleStore.record_finish` (fenced by ``generation``)."""
        now = self._now()
        retry_at = None if retry_after is None else now + retry_after.total_seconds()
        with self._db.transaction(immediate=True) as conn:
            conn.execute(
                "UPDATE runtime_schedule SET last_finished_at = ?, last_outcome = ?, "
                "last_error = ?, next_due = CASE WHEN ? IS NULL THEN next_due "
                "ELSE MIN(next_due, ?) END "
                "WHERE company_id = ? AND level = ? AND started_generation <= ?",
                (
                    now,
                    str(getattr(outcome, "value", outcome)),
                    error,
                    retry_at,
                    retry_at,
                    str(company_id),
                    ScheduledLevel(level).value,
                    generation,
                ),
            )

    def rows(self, company_id: UUID | None = None) -> list[ScheduleRow]:
        """See :meth:`ScheduleStore.rows`."""
        query = (
            "SELECT company_id, level, next_due, every, last_started_at, last_finished_at, "
            "last_outcome, last_error, enabled FROM runtime_schedule"
        )
        params: tuple[str, ...] = ()
        if company_id is not None:
            query += " WHERE company_id = ?"
            params = (str(company_id),)
        with self._db.connection() as conn:
            found = conn.execute(query + " ORDER BY company_id, rank", params).fetchall()
        return [_schedule_row(row) for row in found]

    def sweep_stale(self, older_than: timedelta) -> int:
        """See :meth:`ScheduleStore.sweep_stale`."""
        now = self._now()
        horizon = now - older_than.total_seconds()
        with self._db.transaction(immediate=True) as conn:
            return conn.execute(
                "UPDATE runtime_schedule SET next_due = ?, claim_id = NULL, claimed_at = NULL "
                "WHERE claim_id IS NOT NULL AND claimed_at < ? AND enabled = 1",
                (now, horizon),
            ).rowcount

    def __repr__(self) -> str:
        return f"SQLiteScheduleStore({self._db!r})"


def _schedule_row(row: tuple[object, ...]) -> ScheduleRow:
    company, level, next_due, every, started, finished, outcome, error, enabled = row
    due = _at(float(str(next_due)))
    return ScheduleRow(
        company_id=UUID(str(company)),
        level=ScheduledLevel(str(level)),
        next_due=due,
        every=timedelta(seconds=float(str(every))),
        last_started_at=_from_epoch(None if started is None else float(str(started))),
        last_finished_at=_from_epoch(None if finished is None else float(str(finished))),
        last_outcome=None if outcome is None else str(outcome),
        last_error=None if error is None else str(error),
        enabled=bool(enabled),
    )


def _positive_seconds(every: timedelta) -> float:
    seconds = every.total_seconds()
    if seconds <= 0:
        raise ValueError(f"a cadence must be a positive duration, not {every}")
    return seconds


class SQLiteConnectionRegistry:
    """A :class:`~pleo_erp.runtime.stores.ConnectionRegistry` in the state database.

    Adding a connection also creates (or updates) its schedule rows in ``schedule``, in the
    same transaction; levels without an explicit cadence use ``defaults``.
    """

    def __init__(
        self,
        db: StateDB,
        schedule: SQLiteScheduleStore,
        *,
        defaults: ScheduleConfig | None = None,
    ) -> None:
        self._db = db
        self._schedule = schedule
        self._defaults = defaults if defaults is not None else ScheduleConfig()
        db.apply_migrations(CONNECTIONS_FEATURE, _CONNECTIONS_MIGRATIONS)

    def add(self, connection: Connection) -> None:
        """See :meth:`ConnectionRegistry.add`."""
        levels = [ScheduledLevel(level) for level in connection.levels]
        cadence = {
            ScheduledLevel(level).value: _positive_seconds(every)
            for level, every in connection.cadence.items()
        }
        with self._db.transaction(immediate=True) as conn:
            conn.execute(
                "INSERT INTO runtime_connections (company_id, auth_kind, token_key, adapter, "
                "settings, levels, cadence, enabled, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (company_id) DO UPDATE SET auth_kind = excluded.auth_kind, "
                "token_key = excluded.token_key, adapter = excluded.adapter, "
                "settings = excluded.settings, levels = excluded.levels, "
                "cadence = excluded.cadence, enabled = excluded.enabled",
                (
                    str(connection.company_id),
                    connection.auth_kind,
                    connection.token_key,
                    connection.adapter,
                    json.dumps(dict(connection.settings), sort_keys=True),
                    json.dumps([level.value for level in levels]),
                    json.dumps(cadence, sort_keys=True),
                    int(connection.enabled),
                    connection.created_at.astimezone(timezone.utc).isoformat(),
                ),
            )
            active = levels if connection.enabled else []
            for level in active:
                every = connection.cadence.get(level) or self._defaults.interval(level)
                self._schedule.ensure(connection.company_id, level, every, due_now=True)
            self._schedule.disable_except(connection.company_id, active)

    def get(self, company_id: UUID) -> Connection | None:
        """See :meth:`ConnectionRegistry.get`."""
        row = self._db.fetch_one(_SELECT + " WHERE company_id = ?", (str(company_id),))
        return None if row is None else _connection(row)

    def list(self) -> list[Connection]:
        """See :meth:`ConnectionRegistry.list`."""
        rows = self._db.fetch_all(_SELECT + " ORDER BY created_at, company_id")
        return [_connection(row) for row in rows]

    def remove(self, company_id: UUID) -> bool:
        """See :meth:`ConnectionRegistry.remove`."""
        with self._db.transaction(immediate=True) as conn:
            removed = conn.execute(
                "DELETE FROM runtime_connections WHERE company_id = ?", (str(company_id),)
            ).rowcount
            self._schedule.delete(company_id)
        return removed > 0

    def __repr__(self) -> str:
        return f"SQLiteConnectionRegistry({self._db!r})"


_SELECT = (
    "SELECT company_id, auth_kind, token_key, adapter, settings, levels, cadence, enabled, "
    "created_at FROM runtime_connections"
)


def _connection(row: tuple[object, ...]) -> Connection:
    company, auth_kind, token_key, adapter, settings, levels, cadence, enabled, created = row
    auth: AuthKind = "oauth" if auth_kind == "oauth" else "api_key"
    return Connection(
        company_id=UUID(str(company)),
        auth_kind=auth,
        token_key=str(token_key),
        adapter=str(adapter),
        settings={str(k): str(v) for k, v in json.loads(str(settings)).items()},
        levels=tuple(ScheduledLevel(level) for level in json.loads(str(levels))),
        cadence={
            ScheduledLevel(level): timedelta(seconds=float(seconds))
            for level, seconds in json.loads(str(cadence)).items()
        },
        enabled=bool(enabled),
        created_at=datetime.fromisoformat(str(created)),
    )


class SQLiteWebhookInbox:
    """A :class:`~pleo_erp.runtime.stores.WebhookInbox` in the state database.

    Also a :class:`~pleo_erp.client.webhooks.ReplayStore` (``add_if_absent``), so it can back a
    :class:`~pleo_erp.client.webhooks.ReplayGuard` as well.
    """

    def __init__(self, db: StateDB, *, clock: Callable[[], datetime] = _utcnow) -> None:
        self._db = db
        self._clock = clock
        db.apply_migrations(INBOX_FEATURE, _INBOX_MIGRATIONS)

    def record(self, webhook_id: str, *, company_id: UUID | None, received_at: datetime) -> bool:
        """See :meth:`WebhookInbox.record`."""
        if not webhook_id:
            raise ValueError("webhook_id must not be empty")
        with self._db.transaction(immediate=True) as conn:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO webhook_inbox (webhook_id, company_id, received_at) "
                "VALUES (?, ?, ?)",
                (webhook_id, None if company_id is None else str(company_id), _epoch(received_at)),
            )
            return cursor.rowcount == 1

    def add_if_absent(self, webhook_id: str, seen_at: datetime) -> bool:
        """:class:`~pleo_erp.client.webhooks.ReplayStore`: :meth:`record` without a company."""
        return self.record(webhook_id, company_id=None, received_at=seen_at)

    def prune(self, older_than: timedelta) -> int:
        """See :meth:`WebhookInbox.prune`."""
        horizon = _epoch(self._clock()) - older_than.total_seconds()
        with self._db.transaction(immediate=True) as conn:
            return conn.execute(
                "DELETE FROM webhook_inbox WHERE received_at < ?", (horizon,)
            ).rowcount

    def __repr__(self) -> str:
        return f"SQLiteWebhookInbox({self._db!r})"


def open_sqlite_state(
    path: str | os.PathLike[str],
    *,
    clock: Callable[[], datetime] = _utcnow,
    defaults: ScheduleConfig | None = None,
    lease_clock: Callable[[], float] | None = None,
) -> RuntimeState:
    """Every runtime store in one SQLite file (created owner-only and migrated on first use).

    Args:
        path: the database file (``":memory:"`` for a private in-memory one).
        clock: the schedule's and inbox's clock (aware ``datetime``; inject in tests).
        defaults: the cadence of levels a connection sets none for.
        lease_clock: the lease store's clock (epoch seconds; inject in tests).
    """
    db = StateDB(path)
    try:
        schedule = SQLiteScheduleStore(db, clock=clock)
        registry = SQLiteConnectionRegistry(db, schedule, defaults=defaults)
        inbox = SQLiteWebhookInbox(db, clock=clock)
        leases = (
            SQLiteLeaseStore(db) if lease_clock is None else SQLiteLeaseStore(db, clock=lease_clock)
        )
        journal = SQLiteExportJournal(db)
        selection = SelectionStore(db)
    except BaseException:
        db.close()
        raise

    token_stores: dict[str, SQLiteTokenStore] = {}
    guard = threading.Lock()

    def token_store(key: str) -> TokenStore:
        # One store per key and process, so its in-process refresh lock is shared.
        with guard:
            if key not in token_stores:
                token_stores[key] = SQLiteTokenStore(db, key=key)
            return token_stores[key]

    return RuntimeState(
        location=db.path,
        registry=registry,
        schedule=schedule,
        inbox=inbox,
        leases=leases,
        journal=journal,
        selection=selection,
        token_store=token_store,
        closer=db.close,
    )
