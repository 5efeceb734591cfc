"""The Celery app of the distributed chaos test (``celery -A chaos_app worker|beat``).

Configured from the environment the harness (``chaos.py``) sets: ``CHAOS_STATE`` (Postgres
URL), ``CHAOS_BROKER`` (Redis URL), ``CHAOS_SANDBOX`` (the sandbox's base URL),
``CHAOS_CLIENT_ID`` / ``CHAOS_CLIENT_SECRET`` (OAuth), ``CHAOS_LEASE_TTL``.

The accounting system is :class:`ChaosAS`: an in-memory AS whose posts go to an append-only
Postgres log (no unique constraint: a duplicate post would show as two rows), shared by every
worker process. Its dimensions and accounts depend on a per-company version the harness bumps
(tag/account changes mid-run). Every Pleo request carries the company and the lease
generation of the run in headers, so the harness can check that runs never overlapped.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from uuid import UUID

import attrs
import httpx
from celery import Celery

from pleo_erp.accounting_system.export import Attachment, Entry, PostedEntry
from pleo_erp.accounting_system.sources import Dimension, DimensionValue, LedgerAccount
from pleo_erp.client import PleoClient
from pleo_erp.client.auth import OAuth2Auth
from pleo_erp.contrib.celery import install
from pleo_erp.orchestration.schedule import ScheduleConfig
from pleo_erp.runtime.postgres import open_runtime_state
from pleo_erp.runtime.run import RuntimeConfig, lease_key
from pleo_erp.runtime.stores import Connection
from pleo_erp.state.postgres import PostgresStateDB, PostgresTokenStore
from pleo_erp.testing.inmemory import InMemoryAccountingSystem

AS_MIGRATIONS = (
    """
    CREATE TABLE IF NOT EXISTS chaos_posts (
        seq BIGSERIAL PRIMARY KEY,
        accounting_entry_id UUID NOT NULL,
        company_id UUID NOT NULL,
        posting_date DATE,
        generation BIGINT,
        pid INTEGER NOT NULL,
        posted_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
    );
    CREATE INDEX IF NOT EXISTS chaos_posts_entry ON chaos_posts (accounting_entry_id);
    CREATE TABLE IF NOT EXISTS chaos_attachments (
        accounting_entry_id UUID NOT NULL,
        key TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS chaos_as_version (
        company_id UUID PRIMARY KEY,
        version INTEGER NOT NULL
    );
    """,
)


def chart(version: int) -> dict[str, Any]:
    """The AS's dimensions and accounts at ``version`` (each version adds and retires one)."""
    values = [DimensionValue(f"D{n}", f"Department {n}", True) for n in range(1, 4)]
    values.append(DimensionValue(f"V{version}", f"Version {version}", True))
    if version > 0:
        values.append(DimensionValue(f"V{version - 1}", f"Version {version - 1}", False))
    accounts = [LedgerAccount(f"acc-{n}", str(6000 + n), f"Expense {n}", True) for n in range(5)]
    accounts.append(LedgerAccount(f"acc-v{version}", str(7000 + version), f"V{version}", True))
    return {
        "dimensions": [Dimension("DEPT", "Department", True)],
        "values": {"DEPT": values},
        "accounts": accounts,
    }


class ChaosAS(InMemoryAccountingSystem):
    """An AS whose ledger of posts is an append-only Postgres table shared by all workers."""

    def __init__(self, db: PostgresStateDB, company: UUID, generation: int | None) -> None:
        with db.connection() as conn:
            row = conn.execute(
                "SELECT version FROM chaos_as_version WHERE company_id = %s", (company,)
            ).fetchone()
        super().__init__(
            validate_accounts=False,
            validate_dimensions=False,
            validate_tax_codes=False,
            keep_attachment_data=False,
            **chart(int(row[0]) if row else 0),
        )
        self.db = db
        self.company = company
        self.generation = generation

    def find_posted(self, accounting_entry_id: UUID) -> PostedEntry | None:
        self._enter("find_posted")
        with self.db.connection() as conn:
            row = conn.execute(
                "SELECT seq, posting_date FROM chaos_posts WHERE accounting_entry_id = %s "
                "ORDER BY seq LIMIT 1",
                (accounting_entry_id,),
            ).fetchone()
            if row is None:
                return None
            keys = conn.execute(
                "SELECT key FROM chaos_attachments WHERE accounting_entry_id = %s",
                (accounting_entry_id,),
            ).fetchall()
        return PostedEntry(
            accounting_entry_id=accounting_entry_id,
            external_id=f"CH-{row[0]}",
            posting_date=row[1],
            attachment_keys=frozenset(k for (k,) in keys),
        )

    def post(self, entry: Entry, attachments: Sequence[Attachment]) -> PostedEntry:
        posted = super().post(entry, attachments)  # validation, receipts read
        with self.db.transaction() as conn:
            (seq,) = conn.execute(
                "INSERT INTO chaos_posts (accounting_entry_id, company_id, posting_date, "
                "generation, pid) VALUES (%s, %s, %s, %s, %s) RETURNING seq",
                (
                    entry.accounting_entry_id,
                    self.company,
                    entry.posting_date,
                    self.generation,
                    os.getpid(),
                ),
            ).fetchone()
            for key in posted.attachment_keys:
                conn.execute(
                    "INSERT INTO chaos_attachments (accounting_entry_id, key) VALUES (%s, %s)",
                    (entry.accounting_entry_id, key),
                )
        return attrs.evolve(posted, external_id=f"CH-{seq}")

    def attach(self, posted: PostedEntry, attachments: Sequence[Attachment]) -> PostedEntry:
        self._enter("attach")
        keys = set(posted.attachment_keys)
        with self.db.transaction() as conn:
            for attachment in attachments:
                if attachment.key not in keys:
                    attachment.read_bytes()
                    conn.execute(
                        "INSERT INTO chaos_attachments (accounting_entry_id, key) VALUES (%s, %s)",
                        (posted.accounting_entry_id, attachment.key),
                    )
                    keys.add(attachment.key)
        return attrs.evolve(posted, attachment_keys=frozenset(keys))


class ChaosFactory:
    """Builds each run's client (OAuth on the shared token store) and :class:`ChaosAS`."""

    def __init__(self) -> None:
        self._db: PostgresStateDB | None = None
        # One connection pool per worker process: a new httpx.Client loads the CA bundle.
        self.http = httpx.Client(follow_redirects=False, timeout=30)

    @property
    def db(self) -> PostgresStateDB:
        if self._db is None:
            self._db = PostgresStateDB(os.environ["CHAOS_STATE"], max_size=8)
            self._db.apply_migrations("chaos_as", AS_MIGRATIONS)
        return self._db

    def build(self, connection: Connection) -> tuple[PleoClient, object, dict[Any, Any]]:
        company = connection.company_id
        holder = STATE.get().leases.holder(lease_key(company))
        mine = holder is not None and holder.pid == os.getpid()
        generation = holder.generation if mine and holder is not None else -1
        auth = OAuth2Auth(
            os.environ["CHAOS_CLIENT_ID"],
            os.environ["CHAOS_CLIENT_SECRET"],
            PostgresTokenStore(self.db, connection.token_key),
            token_url=os.environ["CHAOS_SANDBOX"] + "/oauth/token",
            refresh_margin=timedelta(seconds=5),
        )
        client = PleoClient(
            auth,
            base_url=os.environ["CHAOS_SANDBOX"],
            default_headers={
                "X-Chaos-Company": str(company),
                "X-Chaos-Generation": str(generation),
            },
            max_retry_after=5,
            http_client=self.http,
        )
        return client, ChaosAS(self.db, company, generation), {}


class _State:
    def __init__(self) -> None:
        self._state: Any = None

    def get(self) -> Any:
        if self._state is None:
            self._state = open_runtime_state(os.environ["CHAOS_STATE"], max_size=12)
        return self._state


STATE = _State()
CADENCE = ScheduleConfig(
    chart_of_accounts_every=timedelta(seconds=60),
    tags_every=timedelta(seconds=30),
    export_every=timedelta(seconds=10),
    retry_failed_after=timedelta(seconds=5),
)

app = Celery("chaos_app", broker=os.environ.get("CHAOS_BROKER", "redis://127.0.0.1:6379/0"))
beat_entry = install(
    app,
    ChaosFactory(),
    STATE.get,
    config=RuntimeConfig(schedule=CADENCE, lease_ttl=float(os.environ.get("CHAOS_LEASE_TTL", "8"))),
    tick_every=1.0,
    max_retries=3,
)
app.conf.beat_schedule = {"pleo-erp-tick": beat_entry}
# Short, so messages of SIGKILLed workers come back within the test (the lease absorbs a
# redelivery of a run that is still going).
app.conf.broker_transport_options = {"visibility_timeout": 20}
app.conf.worker_hijack_root_logger = False
