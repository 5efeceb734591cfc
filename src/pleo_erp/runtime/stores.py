"""What the production runtime stores, as protocols: connections, the schedule, the webhook inbox.

These are engine-neutral: the embedded runtime uses the SQLite implementations
(:mod:`pleo_erp.runtime.sqlite`, one file on one machine), a distributed deployment the Postgres
ones (``pleo_erp.state.postgres``, the ``pleo-erp[postgres]`` extra). Everything that decides
*what runs when* lives here, so the queue of a task engine is only a transport: a lost message
is re-triggered by the next :func:`~pleo_erp.runtime.tick`, a duplicated one is absorbed by the
company lease and the idempotent orchestrators.

Every time is an aware UTC ``datetime``; every company id a :class:`uuid.UUID`. Levels are the
:class:`~pleo_erp.orchestration.schedule.ScheduledLevel` values (chart_of_accounts, tags, export).

:class:`RuntimeState` bundles one deployment's stores; :func:`pleo_erp.runtime.open_state`
returns one for a SQLite path or a ``postgresql://`` URL.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol, runtime_checkable
from uuid import UUID

import attrs

from pleo_erp._closing import ClosesOnExit
from pleo_erp.client.auth import TokenStore
from pleo_erp.orchestration.schedule import ScheduledLevel
from pleo_erp.state.export_journal import ExportJournal
from pleo_erp.state.lease import LeaseStore
from pleo_erp.state.selection import SelectionState

__all__ = [
    "AuthKind",
    "Connection",
    "ConnectionRegistry",
    "DueRun",
    "RunOutcome",
    "RuntimeState",
    "ScheduleRow",
    "ScheduleStore",
    "WebhookInbox",
]

AuthKind = Literal["api_key", "oauth"]
"""How a connection authenticates to Pleo: an API key, or OAuth tokens in the token store."""


def _frozen_mapping(value: Mapping[Any, Any]) -> Mapping[Any, Any]:
    return dict(value)


@attrs.frozen(kw_only=True)
class Connection:
    """One installation the runtime serves: a Pleo company and the vendor's AS tenant.

    Attributes:
        company_id: the Pleo company.
        auth_kind: ``"api_key"`` or ``"oauth"``.
        token_key: where the credential lives: the key in the
            :class:`~pleo_erp.client.auth.TokenStore` (OAuth) or in the vendor's credential
            store (API key). Never the secret itself.
        adapter: the name of the adapter factory that builds the AS side (e.g. ``"beancount"``).
        settings: the adapter's settings (e.g. ``{"ledger": "/data/acme.beancount"}``); no
            secrets: they are shown by ``pleo-erp connections list``.
        levels: the levels this connection runs, in run order.
        cadence: how often each level runs (a level missing here uses the schedule default).
        enabled: a disabled connection keeps its row but nothing is scheduled for it.
        created_at: when the connection was first registered (aware UTC).
    """

    company_id: UUID
    auth_kind: AuthKind
    token_key: str
    adapter: str
    settings: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_mapping)
    levels: tuple[ScheduledLevel, ...]
    cadence: Mapping[ScheduledLevel, timedelta] = attrs.field(
        factory=dict, converter=_frozen_mapping
    )
    enabled: bool = True
    created_at: datetime


@runtime_checkable
class ConnectionRegistry(Protocol):
    """The connections the runtime serves (one per Pleo company)."""

    def add(self, connection: Connection) -> None:
        """Insert or replace ``connection``; its levels get schedule rows, new ones due now.

        Levels the connection no longer has are disabled in the schedule; a level whose
        cadence changed keeps its due time but runs on the new cadence afterwards.
        """
        ...

    def get(self, company_id: UUID) -> Connection | None:
        """The connection of ``company_id``, or ``None`` if none is registered."""
        ...

    def list(self) -> list[Connection]:
        """Every registered connection, ordered by ``created_at``."""
        ...

    def remove(self, company_id: UUID) -> bool:
        """Delete the connection and its schedule rows; ``False`` if there was none."""
        ...


@attrs.frozen(kw_only=True)
class DueRun:
    """A schedule row :meth:`ScheduleStore.claim_due` claimed: run ``level`` for the company.

    Attributes:
        company_id: the company.
        level: the level to run.
        due_at: when the row was due (before the claim moved it on).
        claim_id: unique per claim (for logs and the engine's message id).
    """

    company_id: UUID
    level: ScheduledLevel
    due_at: datetime
    claim_id: str


@attrs.frozen(kw_only=True)
class ScheduleRow:
    """One company's level in the schedule, as ``pleo-erp status`` shows it.

    Attributes:
        next_due: when the level is due next.
        every: its cadence.
        last_started_at / last_finished_at: of the latest run (``None`` before the first).
        last_outcome: a :class:`RunOutcome` value of the latest finished run.
        last_error: a one-line, secret-free description of its error, if any.
        enabled: ``False`` when the connection no longer runs this level.
    """

    company_id: UUID
    level: ScheduledLevel
    next_due: datetime
    every: timedelta
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_outcome: str | None
    last_error: str | None
    enabled: bool


class RunOutcome(str, enum.Enum):
    """How a run of one level ended (stored as ``last_outcome``)."""

    OK = "ok"
    """The orchestrator returned a report and every item/operation succeeded."""
    PARTIAL = "partial"
    """It returned a report, but some items or operations failed (they are in the report)."""
    FAILED = "failed"
    """It raised; the level is due again after ``retry_failed_after``."""
    BUSY = "busy"
    """Another worker holds the company lease; nothing ran (not an error, not retried)."""
    LEASE_LOST = "lease_lost"
    """The lease was lost mid-run; the run stopped before its next side effect."""
    SKIPPED = "skipped"
    """Nothing to run: the connection is gone, disabled, or does not run this level."""


@runtime_checkable
class ScheduleStore(Protocol):
    """When each company's levels are due, claimed atomically by :func:`~pleo_erp.runtime.tick`.

    One row per (company, level). Writes about a run are fenced by the lease generation the
    run holds, so a stale worker cannot overwrite what a newer one recorded.
    """

    def ensure(
        self,
        company_id: UUID,
        level: ScheduledLevel,
        every: timedelta,
        *,
        due_now: bool = True,
    ) -> None:
        """Create the row (due now if ``due_now``, else after ``every``) or update its cadence.

        An existing row keeps its due time and history, is re-enabled and takes ``every``.
        """
        ...

    def claim_due(self, limit: int, *, now: datetime | None = None) -> list[DueRun]:
        """Claim up to ``limit`` due rows, oldest ``next_due`` first.

        Atomically: rows that are enabled and have ``next_due <= now`` are moved to
        ``now + every`` (plus a deterministic per-company jitter of at most 10 % of ``every``,
        so thousands of companies do not fall due on the same second) in the same
        transaction that selects them. No row is claimed twice by concurrent callers, in
        threads or processes.
        """
        ...

    def mark_due(self, company_id: UUID, level: ScheduledLevel) -> None:
        """Make the row due now (a webhook, a "sync now"); no-op for an unknown row."""
        ...

    def record_start(self, company_id: UUID, level: ScheduledLevel, *, generation: int) -> None:
        """Record that a run holding lease ``generation`` started (clears the claim)."""
        ...

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
        """Record how the run ended; with ``retry_after`` the row is due again that soon.

        Fenced: ignored when a run with a newer generation has started this row since.
        ``retry_after`` only ever brings ``next_due`` forward, never pushes it back.
        """
        ...

    def rows(self, company_id: UUID | None = None) -> list[ScheduleRow]:
        """The rows of one company, or of all, ordered by company then level run order."""
        ...

    def sweep_stale(self, older_than: timedelta) -> int:
        """Make due again every row claimed more than ``older_than`` ago but never started.

        That is a trigger lost between claim and run (a dropped message, a worker that died
        before taking the lease). Returns how many rows were re-marked.
        """
        ...


@runtime_checkable
class WebhookInbox(Protocol):
    """The ``webhook-id`` of every delivery seen, so redeliveries are acknowledged, not rerun."""

    def record(self, webhook_id: str, *, company_id: UUID | None, received_at: datetime) -> bool:
        """``True`` the first time ``webhook_id`` is seen, ``False`` for a duplicate.

        Durable: a duplicate is recognised after a restart too (until :meth:`prune`).
        """
        ...

    def prune(self, older_than: timedelta) -> int:
        """Forget ids received more than ``older_than`` ago; returns how many."""
        ...


@attrs.frozen(kw_only=True)
class RuntimeState(ClosesOnExit):
    """One deployment's stores, opened together by :func:`pleo_erp.runtime.open_state`.

    Attributes:
        location: where the state lives, safe to print (a path, or a URL without password).
        registry: the connections.
        schedule: when each level is due.
        inbox: the webhook inbox.
        leases: the company leases (a :class:`pleo_erp.state.LeaseStore`).
        journal: the export journal shared by every company (rows carry the company id).
        selection: the dimension selection of every company.
        token_store: the OAuth token store of one connection, by its ``token_key``.
        closer: releases the database connections (called by :meth:`close`).
    """

    location: str
    registry: ConnectionRegistry
    schedule: ScheduleStore
    inbox: WebhookInbox
    leases: LeaseStore
    journal: ExportJournal
    selection: SelectionState
    token_store: Callable[[str], TokenStore]
    closer: Callable[[], None] = attrs.field(default=lambda: None, repr=False)

    def close(self) -> None:
        """Close the underlying database connections."""
        self.closer()
