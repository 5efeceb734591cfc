"""``run_level``: one level of one company, under the company lease, recorded in the schedule.

This is what a worker does with a queued trigger, whatever the engine (the embedded thread
pool, a Celery task). In order:

1. Look the connection up; a removed or disabled connection, or a level it does not run, is
   :attr:`~RunOutcome.SKIPPED`.
2. Take the company lease ``connection:<company_id>`` — one lease for all levels, so one run
   per company is in flight cluster-wide (its client's rate limiter is then the company's
   budget, and token refreshes per company are serialised). If another worker holds it the
   result is :attr:`~RunOutcome.BUSY`: not an error and not retried; the level is marked due
   and the holder runs it before it lets the lease go ("drain").
3. Record the start in the schedule with the lease generation; build the client and adapter
   with the vendor's :class:`~pleo_erp.runtime.factory.ConnectionFactory`; run the level
   through :func:`~pleo_erp.orchestration.schedule.orchestrate_level`, the code path of
   :class:`~pleo_erp.orchestration.schedule.ConnectorSchedule`.
4. Before every side effect the orchestrators call the progress callback, which checks the
   lease (:meth:`~pleo_erp.state.LeaseKeeper.check`, no I/O): a run whose lease was lost
   (expired while the process was paused, taken over) raises
   :class:`~pleo_erp.state.LeaseLost` there and stops; the export job stays resumable.
5. Record the outcome, fenced by the generation: a stale worker cannot overwrite what a newer
   one recorded. A failed level is due again after ``retry_failed_after``.
6. Order on connect: levels of the connection that never ran and come before the asked one
   run first (chart of accounts → tags → export), whichever first trigger took the lease; the
   ``"onboarding"`` trigger also runs every later level. After the first successful
   chart-of-accounts and tags runs of an OAuth connection, the installation is activated
   (accounts rule 24).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, Literal
from uuid import UUID

import attrs

from pleo_erp.client._client import PleoClient
from pleo_erp.models.installations import InstallationStatus
from pleo_erp.orchestration.locks import ExportAlreadyRunning
from pleo_erp.orchestration.schedule import (
    LevelReport,
    ScheduleConfig,
    ScheduledLevel,
    _safe_message,
    orchestrate_level,
)
from pleo_erp.orchestration.sync import SyncAlreadyRunning
from pleo_erp.runtime.factory import ConnectionFactory
from pleo_erp.runtime.stores import Connection, RunOutcome, RuntimeState
from pleo_erp.state.lease import DEFAULT_LEASE_TTL, LeaseKeeper, LeaseLost, new_owner

__all__ = [
    "LevelResult",
    "RuntimeConfig",
    "Trigger",
    "lease_key",
    "recover_interrupted",
    "run_level",
]

logger = logging.getLogger("pleo_erp.runtime")

Trigger = Literal["schedule", "webhook", "manual", "onboarding"]
"""Why a level runs: the tick, an export webhook, a user's "sync now", a new connection."""

_ORDER = tuple(ScheduledLevel)
_SYNC_LEVELS = (ScheduledLevel.CHART_OF_ACCOUNTS, ScheduledLevel.TAGS)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def lease_key(company_id: UUID) -> str:
    """The key of the company lease every level's run holds (``connection:<company_id>``)."""
    return f"connection:{company_id}"


@attrs.frozen(kw_only=True)
class RuntimeConfig:
    """How runs behave; the defaults suit production.

    Attributes:
        schedule: the default cadence of each level, ``retry_failed_after`` and ``tax_codes``
            (a connection's own cadence wins).
        lease_ttl: seconds the company lease lasts without a heartbeat (renewed every third).
        activate_installations: activate an OAuth connection's installation after its first
            successful chart-of-accounts and tags runs (accounts rule 24).
        clock: the current time as an aware ``datetime`` (inject one in tests).
        monotonic: the lease keeper's clock (inject one in tests).
    """

    schedule: ScheduleConfig = attrs.field(factory=ScheduleConfig)
    lease_ttl: float = DEFAULT_LEASE_TTL
    activate_installations: bool = True
    clock: Callable[[], datetime] = _utcnow
    monotonic: Callable[[], float] | None = None


@attrs.frozen(kw_only=True)
class LevelResult:
    """How one :func:`run_level` call ended.

    Attributes:
        company_id / level / trigger: what was asked.
        outcome: a :class:`~pleo_erp.runtime.stores.RunOutcome`.
        generation: the company lease generation the run held (``None``: no lease taken).
        started_at / finished_at: by the runtime clock.
        report: the orchestrator's report (``None`` if it did not return one).
        error: what it raised, for the host to inspect (never sent anywhere).
        message: a one-line, secret-free description of ``error``.
        followups: further levels run under the same lease: earlier levels that had never
            run, the onboarding chain, and triggers that arrived while the lease was held.
    """

    company_id: UUID
    level: ScheduledLevel
    trigger: str
    outcome: RunOutcome
    generation: int | None = None
    started_at: datetime
    finished_at: datetime
    report: LevelReport | None = None
    error: BaseException | None = attrs.field(default=None, eq=False, repr=False)
    message: str | None = None
    followups: tuple[LevelResult, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether the level ran and everything in it succeeded."""
        return self.outcome is RunOutcome.OK

    def __str__(self) -> str:
        text = f"{self.level.value} of {self.company_id} ({self.trigger}): {self.outcome.value}"
        if self.message:
            text += f" — {self.message}"
        return text


def run_level(
    company_id: UUID | str,
    level: ScheduledLevel | str,
    trigger: Trigger | str = "schedule",
    *,
    state: RuntimeState,
    factory: ConnectionFactory,
    config: RuntimeConfig | None = None,
    owner: str | None = None,
) -> LevelResult:
    """Run ``level`` for ``company_id`` under the company lease (see the module docstring).

    Never raises for a failed run: the outcome, error and report are in the returned
    :class:`LevelResult` and in the schedule. Raises ``ValueError`` for bad arguments, and
    lets errors of the runtime's own stores through (the state database is unreachable: the
    engine retries the trigger, and a claim never started is swept back by the tick).
    """
    company = UUID(str(company_id))
    chosen = ScheduledLevel(level)
    cfg = config if config is not None else RuntimeConfig()
    started = cfg.clock()
    connection = state.registry.get(company)
    if connection is None or not connection.enabled or chosen not in connection.levels:
        logger.info(
            "%s of company %s skipped: not a level of an enabled connection", chosen.value, company
        )
        return _result(company, chosen, trigger, RunOutcome.SKIPPED, started, cfg)
    lease = state.leases.acquire(lease_key(company), owner or new_owner(), ttl=cfg.lease_ttl)
    if lease is None:
        # The holder drains due rows before it releases; marking due also covers a holder
        # that dies (the tick claims the row once the lease is free).
        state.schedule.mark_due(company, chosen)
        logger.info("%s of company %s: busy (another run holds the lease)", chosen.value, company)
        return _result(company, chosen, trigger, RunOutcome.BUSY, started, cfg)
    keeper_kwargs: dict[str, Any] = {}
    if cfg.monotonic is not None:
        keeper_kwargs["monotonic"] = cfg.monotonic
    with LeaseKeeper(state.leases, lease, **keeper_kwargs) as keeper:
        return _Run(state, factory, cfg, connection, keeper, trigger).run(chosen)


def recover_interrupted(state: RuntimeState, *, company_id: UUID | None = None) -> int:
    """Make due again every level whose last run started but never finished, when nobody runs it.

    That is a worker killed mid-run (SIGKILL, power loss, OOM): its claim was consumed and its
    row moved on by the cadence, so without this the level would wait a whole interval (24 h
    for the chart of accounts). A level whose company lease is still held by a live process is
    left alone (it is running); a holder on this host whose process is gone counts as dead.
    The embedded runtime calls this when it starts. Returns how many levels were marked due.
    """
    marked = 0
    holders: dict[UUID, bool] = {}
    for row in state.schedule.rows(company_id):
        started, finished = row.last_started_at, row.last_finished_at
        if not row.enabled or started is None or (finished is not None and finished >= started):
            continue
        if row.company_id not in holders:
            holders[row.company_id] = _lease_alive(state, row.company_id)
        if holders[row.company_id]:
            continue
        state.schedule.mark_due(row.company_id, row.level)
        logger.warning(
            "%s of company %s was interrupted (started %s, never finished): due again",
            row.level.value,
            row.company_id,
            started.isoformat(),
        )
        marked += 1
    return marked


def _lease_alive(state: RuntimeState, company: UUID) -> bool:
    holder = state.leases.holder(lease_key(company))
    if holder is None or holder.owner is None:
        return False
    if holder.pid is not None and holder.host == socket.gethostname():
        try:
            os.kill(holder.pid, 0)  # signal 0: a probe, nothing is sent
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
    return True


def _result(
    company: UUID,
    level: ScheduledLevel,
    trigger: str,
    outcome: RunOutcome,
    started: datetime,
    cfg: RuntimeConfig,
    **extra: Any,
) -> LevelResult:
    return LevelResult(
        company_id=company,
        level=level,
        trigger=trigger,
        outcome=outcome,
        started_at=started,
        finished_at=max(cfg.clock(), started),
        **extra,
    )


class _Run:
    """The levels run under one held lease: the asked one, its chain, then the drain."""

    def __init__(
        self,
        state: RuntimeState,
        factory: ConnectionFactory,
        cfg: RuntimeConfig,
        connection: Connection,
        keeper: LeaseKeeper,
        trigger: str,
    ) -> None:
        self.state = state
        self.factory = factory
        self.cfg = cfg
        self.connection = connection
        self.company = connection.company_id
        self.keeper = keeper
        self.trigger = trigger
        self.generation = keeper.lease.generation
        self._built: tuple[PleoClient, object, Mapping[ScheduledLevel, Mapping[str, Any]]] | None
        self._built = None
        self.activation_pending = False

    def run(self, level: ScheduledLevel) -> LevelResult:
        try:
            # A fresh connection gets its chart (then tags) before anything else, whichever
            # of its first triggers took the lease.
            before: list[LevelResult] = []
            never_ran = {
                row.level
                for row in self.state.schedule.rows(self.company)
                if row.enabled and row.last_started_at is None
            }
            for earlier in _ORDER[: _ORDER.index(level)]:
                if earlier in self.connection.levels and earlier in never_ran:
                    before.append(self._one(earlier, self.trigger))
            first = self._one(level, self.trigger)
            followups: list[LevelResult] = list(before)
            done = {level, *(r.level for r in before)}
            if self.trigger == "onboarding":
                for later in _ORDER[_ORDER.index(level) + 1 :]:
                    if later in self.connection.levels and not self._stopped(first, followups):
                        followups.append(self._one(later, "onboarding"))
                        done.add(later)
            followups.extend(self._drain(done, first, followups))
            self._maybe_activate()
            return attrs.evolve(first, followups=tuple(followups))
        finally:
            self._close()

    # ---- one level --------------------------------------------------------------------------

    def _one(self, level: ScheduledLevel, trigger: str) -> LevelResult:
        schedule = self.state.schedule
        started = self.cfg.clock()
        previous = next(
            (row.last_outcome for row in schedule.rows(self.company) if row.level is level), None
        )
        try:
            self.keeper.check()
        except LeaseLost as exc:
            return self._finish(level, trigger, started, RunOutcome.LEASE_LOST, error=exc)
        schedule.record_start(self.company, level, generation=self.generation)
        logger.info("running %s (%s) for company %s", level.value, trigger, self.company)
        try:
            client, adapter, options = self._build()
            report = orchestrate_level(
                client,
                adapter,
                company_id=self.company,
                level=level,
                options=self._options(level, options.get(level, {})),
                tax_codes=self.cfg.schedule.tax_codes,
            )
        except LeaseLost as exc:
            return self._finish(level, trigger, started, RunOutcome.LEASE_LOST, error=exc)
        except (ExportAlreadyRunning, SyncAlreadyRunning) as exc:
            return self._finish(level, trigger, started, RunOutcome.BUSY, error=exc)
        except Exception as exc:  # recorded and retried sooner; the worker must survive
            return self._finish(level, trigger, started, RunOutcome.FAILED, error=exc)
        outcome = RunOutcome.OK if report.ok else RunOutcome.PARTIAL
        if (
            outcome is RunOutcome.OK
            and level in _SYNC_LEVELS
            and previous != RunOutcome.OK.value
            and self.connection.auth_kind == "oauth"
        ):
            self.activation_pending = True
        return self._finish(level, trigger, started, outcome, report=report)

    def _options(self, level: ScheduledLevel, given: Mapping[str, Any]) -> dict[str, Any]:
        options = dict(given)
        keeper = self.keeper
        if level is ScheduledLevel.EXPORT:
            # The export also holds `export:<company>` in the same store (inside this
            # `connection:<company>` lease), checks it before every side effect and fences its
            # journal writes — unless the caller chose a legacy `lock`.
            if "lock" not in options:
                options.setdefault("lease_store", self.state.leases)
            journal = self.state.journal
            fenced = getattr(journal, "fenced", None)
            if callable(fenced):  # a journal that fences by our lease itself (Postgres)
                journal = fenced(self.state.leases, keeper.lease)
            options.setdefault("journal", journal)
        if level is ScheduledLevel.TAGS:
            options.setdefault("state", self.state.selection)
        # The orchestrators also call `progress` before every side effect: checking the
        # company lease there stops a run whose lease was lost before its next write.
        vendor_progress = options.get("progress")

        def progress(event: Any) -> None:
            keeper.check()
            if vendor_progress is not None:
                vendor_progress(event)
                keeper.check()  # the vendor's callback may have taken long

        options["progress"] = progress
        return options

    def _finish(
        self,
        level: ScheduledLevel,
        trigger: str,
        started: datetime,
        outcome: RunOutcome,
        *,
        report: LevelReport | None = None,
        error: BaseException | None = None,
    ) -> LevelResult:
        message = None
        retry_after: timedelta | None = None
        if error is not None:
            message = _safe_message(error) if isinstance(error, Exception) else type(error).__name__
        if outcome in (RunOutcome.FAILED, RunOutcome.LEASE_LOST):
            retry_after = self.cfg.schedule.retry_failed_after
        self.state.schedule.record_finish(
            self.company,
            level,
            generation=self.generation,
            outcome=outcome.value,
            error=message,
            retry_after=retry_after,
        )
        if outcome is RunOutcome.BUSY:
            self.state.schedule.mark_due(self.company, level)
        log = (
            logger.warning if outcome in (RunOutcome.FAILED, RunOutcome.LEASE_LOST) else logger.info
        )
        log(
            "%s (%s) for company %s: %s%s",
            level.value,
            trigger,
            self.company,
            outcome.value,
            f" — {message}" if message else "",
        )
        return _result(
            self.company,
            level,
            trigger,
            outcome,
            started,
            self.cfg,
            generation=self.generation,
            report=report,
            error=error,
            message=message,
        )

    # ---- chain, drain, activation -----------------------------------------------------------

    @staticmethod
    def _stopped(first: LevelResult, followups: list[LevelResult]) -> bool:
        last = followups[-1] if followups else first
        return last.outcome is RunOutcome.LEASE_LOST

    def _drain(
        self, done: set[ScheduledLevel], first: LevelResult, followups: list[LevelResult]
    ) -> list[LevelResult]:
        """Run the company's levels that fell due while this run held the lease (busy triggers)."""
        drained: list[LevelResult] = []
        for _ in range(len(_ORDER)):
            if self.keeper.lost or self._stopped(first, followups + drained):
                break
            now = self.cfg.clock()
            due = [
                row.level
                for row in self.state.schedule.rows(self.company)
                if row.enabled
                and row.level in self.connection.levels
                and row.level not in done
                and row.next_due <= now
            ]
            if not due:
                break
            level = min(due, key=_ORDER.index)
            done.add(level)
            drained.append(self._one(level, "schedule"))
        return drained

    def _maybe_activate(self) -> None:
        """Rule 24: activate once every sync level of the connection has succeeded."""
        if not (self.activation_pending and self.cfg.activate_installations):
            return
        wanted = [level for level in _SYNC_LEVELS if level in self.connection.levels]
        rows = {row.level: row for row in self.state.schedule.rows(self.company)}
        if any(
            rows.get(level) is None or rows[level].last_outcome != RunOutcome.OK.value
            for level in wanted
        ):
            return
        try:
            self.keeper.check()
            client = self._build()[0]
            installation = client.installations.me()
            if installation.status == InstallationStatus.ACTIVATED:
                return
            self.keeper.check()
            client.installations.activate()
            logger.info("installation of company %s activated (initial syncs done)", self.company)
        except Exception as exc:  # retried after the next successful sync
            logger.warning(
                "could not activate the installation of company %s: %s",
                self.company,
                _safe_message(exc),
            )

    # ---- the connection's objects -----------------------------------------------------------

    def _build(self) -> tuple[PleoClient, object, Mapping[ScheduledLevel, Mapping[str, Any]]]:
        if self._built is None:
            client, adapter, options = self.factory.build(self.connection)
            self._built = (client, adapter, {ScheduledLevel(k): v for k, v in options.items()})
        return self._built

    def _close(self) -> None:
        if self._built is None:
            return
        client, adapter, _ = self._built
        self._built = None
        for closeable in (adapter, client):
            close = getattr(closeable, "close", None)
            if callable(close):
                try:
                    close()
                except Exception:
                    logger.warning("closing %s failed", type(closeable).__name__, exc_info=True)
