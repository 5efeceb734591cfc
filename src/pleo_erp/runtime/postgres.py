"""The schedule, the webhook inbox and the connection registry on Postgres.

:class:`PostgresScheduleStore.claim_due` is one statement: it selects due rows ``FOR UPDATE
SKIP LOCKED`` (oldest first) and moves them to ``now + every`` (+ a deterministic jitter of at
most 10 % per company and level) in the same transaction, so any number of concurrent ticks --
two beats, a beat and a manual ``tick`` -- never claim one row twice. Run records are fenced by
the lease generation (a stale worker cannot overwrite a newer run's outcome).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

from pleo_erp.orchestration.schedule import ScheduleConfig, ScheduledLevel
from pleo_erp.runtime.state import redact_url
from pleo_erp.runtime.stores import Connection, DueRun, RuntimeState, ScheduleRow
from pleo_erp.state.postgres import (
    PostgresExportJournal,
    PostgresLeaseStore,
    PostgresSelectionStore,
    PostgresTokenStore,
)
from pleo_erp.state.postgres._db import PgMigration, PostgresStateDB

__all__ = [
    "CONNECTIONS_FEATURE",
    "SCHEDULE_FEATURE",
    "WEBHOOK_INBOX_FEATURE",
    "PostgresConnectionRegistry",
    "PostgresScheduleStore",
    "PostgresWebhookInbox",
]

SCHEDULE_FEATURE = "connector_schedule"
WEBHOOK_INBOX_FEATURE = "webhook_inbox"
CONNECTIONS_FEATURE = "connections"

_ORDER = {level: n for n, level in enumerate(ScheduledLevel)}

_SCHEDULE_MIGRATIONS: tuple[PgMigration, ...] = (
    """
    CREATE TABLE IF NOT EXISTS connector_schedule (
        company_id       UUID NOT NULL,
        level            TEXT NOT NULL,
        next_due         TIMESTAMPTZ NOT NULL,
        every            INTERVAL NOT NULL CHECK (every > interval '0'),
        enabled          BOOLEAN NOT NULL DEFAULT TRUE,
        claimed_at       TIMESTAMPTZ,
        claim_id         TEXT,
        last_generation  BIGINT,
        last_started_at  TIMESTAMPTZ,
        last_finished_at TIMESTAMPTZ,
        last_outcome     TEXT,
        last_error       TEXT,
        PRIMARY KEY (company_id, level)
    );
    CREATE INDEX IF NOT EXISTS connector_schedule_due
        ON connector_schedule (next_due) WHERE enabled;
    """,
)

# The per-(company, level) jitter factor in [0, 0.1): spreads thousands of polls over the interval.
_JITTER = "(1 + (abs(hashtext(s.company_id::text || s.level)::bigint) %% 1000) / 10000.0)"

_CLAIM = f"""
WITH due AS (
    SELECT company_id, level, next_due FROM connector_schedule
     WHERE enabled AND next_due <= %(now)s
     ORDER BY next_due, company_id, level
     LIMIT %(limit)s
       FOR UPDATE SKIP LOCKED
)
UPDATE connector_schedule s
   SET next_due = %(now)s + s.every * {_JITTER},
       claimed_at = %(now)s,
       claim_id = %(prefix)s || md5(s.company_id::text || s.level)
  FROM due
 WHERE s.company_id = due.company_id AND s.level = due.level
RETURNING s.company_id, s.level, due.next_due, s.claim_id
"""

_ROW_COLUMNS = (
    "company_id, level, next_due, every, last_started_at, last_finished_at, last_outcome, "
    "last_error, enabled"
)


class PostgresScheduleStore:
    """:class:`~pleo_erp.runtime.ScheduleStore` on Postgres (any number of ticks and workers)."""

    def __init__(self, db: PostgresStateDB) -> None:
        """Use ``db``, creating the schedule table if needed."""
        self.db = db
        db.apply_migrations(SCHEDULE_FEATURE, _SCHEDULE_MIGRATIONS)

    def ensure(
        self, company_id: UUID, level: ScheduledLevel, every: timedelta, *, due_now: bool = True
    ) -> None:
        """See :meth:`ScheduleStore.ensure`."""
        with self.db.connection() as conn:
            _ensure(conn, company_id, level, every, due_now=due_now)

    def claim_due(self, limit: int, *, now: datetime | None = None) -> list[DueRun]:
        """See :meth:`ScheduleStore.claim_due` (``FOR UPDATE SKIP LOCKED``)."""
        if limit <= 0:
            return []
        prefix = uuid.uuid4().hex[:12] + "-"
        with self.db.transaction() as conn:
            at = now if now is not None else conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
            rows = conn.execute(_CLAIM, {"now": at, "limit": limit, "prefix": prefix}).fetchall()
        runs = [
            DueRun(
                company_id=company_id,
                level=ScheduledLevel(level),
                due_at=due_at,
                claim_id=claim_id,
            )
            for company_id, level, due_at, claim_id in rows
        ]
        runs.sort(key=lambda r: (r.due_at, _ORDER[r.level]))
        return runs

    def mark_due(self, company_id: UUID, level: ScheduledLevel) -> None:
        """See :meth:`ScheduleStore.mark_due`."""
        with self.db.connection() as conn:
            conn.execute(
                "UPDATE connector_schedule SET next_due = LEAST(next_due, now()) "
                "WHERE company_id = %s AND level = %s",
                (company_id, ScheduledLevel(level).value),
            )

    def record_start(self, company_id: UUID, level: ScheduledLevel, *, generation: int) -> None:
        """See :meth:`ScheduleStore.record_start`."""
        with self.db.connection() as conn:
            conn.execute(
                "UPDATE connector_schedule SET last_started_at = now(), last_generation = %s, "
                "claimed_at = NULL, claim_id = NULL "
                "WHERE company_id = %s AND level = %s "
                "AND (last_generation IS NULL OR last_generation <= %s)",
                (generation, company_id, ScheduledLevel(level).value, generation),
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
        retry_s = None if retry_after is None else retry_after.total_seconds()
        with self.db.connection() as conn:
            conn.execute(
                "UPDATE connector_schedule SET last_finished_at = now(), last_outcome = %s, "
                "last_error = %s, next_due = CASE WHEN %s::float8 IS NULL THEN next_due "
                "ELSE LEAST(next_due, now() + make_interval(secs => %s::float8)) END "
                "WHERE company_id = %s AND level = %s "
                "AND (last_generation IS NULL OR last_generation <= %s)",
                (
                    str(outcome.value if hasattr(outcome, "value") else outcome),
                    None if error is None else error[:1000],
                    retry_s,
                    retry_s,
                    company_id,
                    ScheduledLevel(level).value,
                    generation,
                ),
            )

    def rows(self, company_id: UUID | None = None) -> list[ScheduleRow]:
        """See :meth:`ScheduleStore.rows`."""
        with self.db.connection() as conn:
            if company_id is None:
                found = conn.execute(f"SELECT {_ROW_COLUMNS} FROM connector_schedule").fetchall()
            else:
                found = conn.execute(
                    f"SELECT {_ROW_COLUMNS} FROM connector_schedule WHERE company_id = %s",
                    (company_id,),
                ).fetchall()
        rows = [_schedule_row(r) for r in found]
        rows.sort(key=lambda r: (str(r.company_id), _ORDER[r.level]))
        return rows

    def sweep_stale(self, older_than: timedelta) -> int:
        """See :meth:`ScheduleStore.sweep_stale`."""
        with self.db.connection() as conn:
            cur = conn.execute(
                "UPDATE connector_schedule SET next_due = LEAST(next_due, now()), "
                "claimed_at = NULL, claim_id = NULL "
                "WHERE enabled AND claimed_at IS NOT NULL "
                "AND claimed_at < now() - make_interval(secs => %s)",
                (older_than.total_seconds(),),
            )
            return cur.rowcount

    def __repr__(self) -> str:
        return f"PostgresScheduleStore({self.db!r})"


def _ensure(
    conn: Any, company_id: UUID, level: ScheduledLevel, every: timedelta, *, due_now: bool
) -> None:
    if every <= timedelta(0):
        raise ValueError("every must be positive")
    conn.execute(
        "INSERT INTO connector_schedule (company_id, level, next_due, every, enabled) "
        "VALUES (%(c)s, %(l)s, CASE WHEN %(now)s THEN now() ELSE now() + %(every)s END, "
        "%(every)s, TRUE) "
        "ON CONFLICT (company_id, level) DO UPDATE SET every = excluded.every, enabled = TRUE",
        {"c": company_id, "l": ScheduledLevel(level).value, "now": due_now, "every": every},
    )


def _schedule_row(row: tuple[Any, ...]) -> ScheduleRow:
    company_id, level, next_due, every, started, finished, outcome, error, enabled = row
    return ScheduleRow(
        company_id=company_id,
        level=ScheduledLevel(level),
        next_due=next_due,
        every=every,
        last_started_at=started,
        last_finished_at=finished,
        last_outcome=outcome,
        last_error=error,
        enabled=bool(enabled),
    )


_INBOX_MIGRATIONS: tuple[PgMigration, ...] = (
    """
    CREATE TABLE IF NOT EXISTS webhook_inbox (
        webhook_id  TEXT PRIMARY KEY,
        company_id  UUID,
        received_at TIMESTAMPTZ NOT NULL
    );
    CREATE INDEX IF NOT EXISTS webhook_inbox_received ON webhook_inbox (received_at);
    """,
)


class PostgresWebhookInbox:
    """:class:`~pleo_erp.runtime.WebhookInbox` on Postgres (``INSERT … ON CONFLICT DO NOTHING``)."""

    def __init__(self, db: PostgresStateDB) -> None:
        """Use ``db``, creating the inbox table if needed."""
        self.db = db
        db.apply_migrations(WEBHOOK_INBOX_FEATURE, _INBOX_MIGRATIONS)

    def record(self, webhook_id: str, *, company_id: UUID | None, received_at: datetime) -> bool:
        """See :meth:`WebhookInbox.record`."""
        if not webhook_id:
            raise ValueError("webhook_id must not be empty")
        with self.db.connection() as conn:
            cur = conn.execute(
                "INSERT INTO webhook_inbox (webhook_id, company_id, received_at) "
                "VALUES (%s, %s, %s) ON CONFLICT (webhook_id) DO NOTHING",
                (webhook_id, company_id, received_at),
            )
            return cur.rowcount == 1

    def prune(self, older_than: timedelta) -> int:
        """See :meth:`WebhookInbox.prune`."""
        with self.db.connection() as conn:
            cur = conn.execute(
                "DELETE FROM webhook_inbox WHERE received_at < now() - make_interval(secs => %s)",
                (older_than.total_seconds(),),
            )
            return cur.rowcount

    def __repr__(self) -> str:
        return f"PostgresWebhookInbox({self.db!r})"


_CONNECTION_MIGRATIONS: tuple[PgMigration, ...] = (
    """
    CREATE TABLE IF NOT EXISTS connections (
        company_id UUID PRIMARY KEY,
        auth_kind  TEXT NOT NULL CHECK (auth_kind IN ('api_key', 'oauth')),
        token_key  TEXT NOT NULL,
        adapter    TEXT NOT NULL,
        settings   JSONB NOT NULL,
        levels     JSONB NOT NULL,
        cadence    JSONB NOT NULL,
        enabled    BOOLEAN NOT NULL,
        created_at TIMESTAMPTZ NOT NULL
    );
    """,
)


class PostgresConnectionRegistry:
    """:class:`~pleo_erp.runtime.ConnectionRegistry` on Postgres, keeping the schedule in step.

    ``add`` writes the connection and its schedule rows in one transaction: each level gets a
    row (new ones due now, for the on-connect sync), levels it dropped -- or all, when the
    connection is disabled -- are disabled.
    """

    def __init__(self, db: PostgresStateDB, *, defaults: ScheduleConfig | None = None) -> None:
        """Use ``db``; ``defaults`` gives the cadence of levels a connection does not set."""
        self.db = db
        self.defaults = defaults or ScheduleConfig()
        db.apply_migrations(SCHEDULE_FEATURE, _SCHEDULE_MIGRATIONS)
        db.apply_migrations(CONNECTIONS_FEATURE, _CONNECTION_MIGRATIONS)

    def add(self, connection: Connection) -> None:
        """See :meth:`ConnectionRegistry.add`."""
        c = connection
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO connections (company_id, auth_kind, token_key, adapter, settings, "
                "levels, cadence, enabled, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (company_id) DO UPDATE SET auth_kind = excluded.auth_kind, "
                "token_key = excluded.token_key, adapter = excluded.adapter, "
                "settings = excluded.settings, levels = excluded.levels, "
                "cadence = excluded.cadence, enabled = excluded.enabled",
                (
                    c.company_id,
                    c.auth_kind,
                    c.token_key,
                    c.adapter,
                    json.dumps(dict(c.settings)),
                    json.dumps([ScheduledLevel(lv).value for lv in c.levels]),
                    json.dumps(
                        {ScheduledLevel(k).value: v.total_seconds() for k, v in c.cadence.items()}
                    ),
                    c.enabled,
                    c.created_at,
                ),
            )
            active = [ScheduledLevel(lv) for lv in c.levels] if c.enabled else []
            for level in active:
                every = c.cadence.get(level) or self.defaults.interval(level)
                _ensure(conn, c.company_id, level, every, due_now=True)
            conn.execute(
                "UPDATE connector_schedule SET enabled = FALSE "
                "WHERE company_id = %s AND NOT (level = ANY(%s))",
                (c.company_id, [lv.value for lv in active]),
            )

    def get(self, company_id: UUID) -> Connection | None:
        """See :meth:`ConnectionRegistry.get`."""
        row = self.db.fetch_one(
            f"SELECT {_CONNECTION_COLUMNS} FROM connections WHERE company_id = %s",
            (company_id,),
        )
        return None if row is None else _connection(row)

    def list(self) -> list[Connection]:
        """See :meth:`ConnectionRegistry.list`."""
        rows = self.db.fetch_all(
            f"SELECT {_CONNECTION_COLUMNS} FROM connections ORDER BY created_at, company_id"
        )
        return [_connection(r) for r in rows]

    def remove(self, company_id: UUID) -> bool:
        """See :meth:`ConnectionRegistry.remove`."""
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM connector_schedule WHERE company_id = %s", (company_id,))
            cur = conn.execute("DELETE FROM connections WHERE company_id = %s", (company_id,))
            return cur.rowcount == 1

    def __repr__(self) -> str:
        return f"PostgresConnectionRegistry({self.db!r})"


_CONNECTION_COLUMNS = (
    "company_id, auth_kind, token_key, adapter, settings, levels, cadence, enabled, created_at"
)


def _connection(row: tuple[Any, ...]) -> Connection:
    company_id, auth_kind, token_key, adapter, settings, levels, cadence, enabled, created = row
    return Connection(
        company_id=company_id,
        auth_kind=auth_kind,
        token_key=token_key,
        adapter=adapter,
        settings={str(k): str(v) for k, v in settings.items()},
        levels=tuple(ScheduledLevel(lv) for lv in levels),
        cadence={ScheduledLevel(k): timedelta(seconds=float(v)) for k, v in cadence.items()},
        enabled=bool(enabled),
        created_at=created.astimezone(timezone.utc),
    )


def open_runtime_state(url: str, *, max_size: int = 8) -> RuntimeState:
    """Every runtime store on the Postgres database at ``url`` (one shared pool).

    What :func:`pleo_erp.runtime.open_state` calls for ``postgresql://`` URLs.
    """
    db = PostgresStateDB(url, max_size=max_size)
    try:
        return RuntimeState(
            location=redact_url(url),
            registry=PostgresConnectionRegistry(db),
            schedule=PostgresScheduleStore(db),
            inbox=PostgresWebhookInbox(db),
            leases=PostgresLeaseStore(db),
            journal=PostgresExportJournal(db),
            selection=PostgresSelectionStore(db),
            token_store=lambda key: PostgresTokenStore(db, key),
            closer=db.close,
        )
    except BaseException:
        db.close()
        raise
