"""Run the three integration levels on their cadence: :class:`ConnectorSchedule` (accounts rule 45).

Pleo never triggers a sync: the integration owns the schedule (accounts §A8). The recommended
cadence is an initial run on connect, then

| level | orchestrator | default cadence |
|---|---|---|
| chart of accounts (Level 3) | :func:`sync_chart_of_accounts` (tax codes first) | every 24 h |
| tags (Level 2) | :func:`sync_tags` | every hour |
| export (Level 1) | :func:`export_expenses` (polling the queue) | every 5 minutes |

The schedule owns no thread and no timer. The host's loop, cron or task scheduler calls
:meth:`ConnectorSchedule.run_pending` (runs whatever is due) and
:meth:`ConnectorSchedule.sync_now` (one level ad hoc, e.g. from a "Sync now" button or an
export webhook). Both go through the same code path, so an ad-hoc run behaves exactly like a
scheduled one. A level that raises is recorded in its :class:`LevelRun` and retried sooner
(``retry_failed_after``); the other levels still run.

A minimal host loop:

```python
import time
from datetime import datetime, timezone

schedule = ConnectorSchedule(client, my_as, company_id=company)
while True:
    for run in schedule.run_pending():
        print(run)
    wait = (schedule.next_due() - datetime.now(timezone.utc)).total_seconds()
    time.sleep(min(max(wait, 1.0), 60.0))
```
"""

from __future__ import annotations

import enum
import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, Literal, TypeAlias

import attrs
from attrs import define, field

from pleo_erp.accounting_system.export import ExportTarget
from pleo_erp.accounting_system.sources import (
    AccountSource,
    DimensionSource,
    SourceReadError,
    TaxCodeSource,
)
from pleo_erp.client import scopes as _scopes
from pleo_erp.client._client import PleoClient
from pleo_erp.client.errors import PleoError
from pleo_erp.domain.reconcile.errors import ReconcileError
from pleo_erp.orchestration._failures import report_unexpected
from pleo_erp.orchestration.export import export_expenses
from pleo_erp.orchestration.report import ExportReport
from pleo_erp.orchestration.sync import sync_accounts, sync_chart_of_accounts, sync_tags
from pleo_erp.orchestration.sync_report import SyncReport

__all__ = [
    "ConnectorSchedule",
    "LevelReport",
    "LevelRun",
    "ScheduleConfig",
    "ScheduledLevel",
    "orchestrate_level",
]

logger = logging.getLogger("pleo_erp.schedule")

#: What one level's orchestrator returns.
LevelReport: TypeAlias = SyncReport | ExportReport


class ScheduledLevel(str, enum.Enum):
    """A unit the schedule runs, in the order a run of several goes."""

    CHART_OF_ACCOUNTS = "chart_of_accounts"
    """Level 3: tax codes (when the AS has them) then accounts."""
    TAGS = "tags"
    """Level 2: tag groups and tags."""
    EXPORT = "export"
    """Level 1: export the queue of export jobs (a poll)."""


# Accounts (and tax codes) first: a fresh connection gets its chart before anything else.
_ORDER = (ScheduledLevel.CHART_OF_ACCOUNTS, ScheduledLevel.TAGS, ScheduledLevel.EXPORT)


def _positive(_instance: object, attribute: attrs.Attribute[timedelta], value: timedelta) -> None:
    if value <= timedelta(0):
        raise ValueError(f"{attribute.name} must be a positive duration, not {value}")


@define(frozen=True, kw_only=True)
class ScheduleConfig:
    """The cadence of each level (rule 45; accounts §A8, tags periodicity).

    Attributes:
        chart_of_accounts_every: tax codes + accounts (default 24 h).
        tags_every: tag groups and tags (default 1 h).
        export_every: how often the export queue is polled (default 5 minutes; a started
            job must be worked on within an hour or Pleo expires it).
        retry_failed_after: a level whose run raised (or an export that deferred a job on a
            transient accounting-system condition) is due again after this long, or after its
            own cadence if that is shorter (default 15 minutes).
        tax_codes: sync tax codes before accounts when the AS implements ``TaxCodeSource``
            (default ``True``); ``False`` runs :func:`sync_accounts` alone.
    """

    chart_of_accounts_every: timedelta = field(default=timedelta(hours=24), validator=_positive)
    tags_every: timedelta = field(default=timedelta(hours=1), validator=_positive)
    export_every: timedelta = field(default=timedelta(minutes=5), validator=_positive)
    retry_failed_after: timedelta = field(default=timedelta(minutes=15), validator=_positive)
    tax_codes: bool = True

    def interval(self, level: ScheduledLevel) -> timedelta:
        """How long after a successful run ``level`` is due again."""
        return {
            ScheduledLevel.CHART_OF_ACCOUNTS: self.chart_of_accounts_every,
            ScheduledLevel.TAGS: self.tags_every,
            ScheduledLevel.EXPORT: self.export_every,
        }[level]


@define(frozen=True, kw_only=True)
class LevelRun:
    """One run of one level, scheduled or ad hoc.

    Attributes:
        level: which level ran.
        trigger: ``"schedule"`` (from :meth:`ConnectorSchedule.run_pending`) or ``"manual"``
            (from :meth:`ConnectorSchedule.sync_now`).
        started_at / finished_at: by the schedule's clock.
        next_due: when the level is due again.
        report: the orchestrator's report, or ``None`` if it raised.
        error: what it raised (kept for the host to inspect; ``None`` on success).
        message: a one-line description of ``error`` that is safe to log (the type name only
            for exceptions that are not the SDK's own: a vendor error may hold connection
            details).
    """

    level: ScheduledLevel
    trigger: Literal["schedule", "manual"]
    started_at: datetime
    finished_at: datetime
    next_due: datetime
    report: LevelReport | None = None
    error: Exception | None = field(default=None, eq=False)
    message: str | None = None

    @property
    def succeeded(self) -> bool:
        """Whether the orchestrator returned a report (its items may still have failed)."""
        return self.error is None

    @property
    def ok(self) -> bool:
        """Whether it returned a report and that report is all ok."""
        return self.report is not None and self.report.ok

    def __str__(self) -> str:
        if self.report is None:
            outcome = f"failed: {self.message}"
        elif isinstance(self.report, SyncReport):
            outcome = self.report.summary()
        else:
            counts = self.report.counts
            outcome = (
                f"{len(self.report.jobs)} jobs, {counts['successful']} items exported, "
                f"{counts['failed']} failed"
            )
            if self.report.deferred:
                outcome += ", a job deferred (accounting system temporarily unavailable)"
        return (
            f"{self.level.value} ({self.trigger}, {self.started_at.isoformat()}): {outcome}; "
            f"next {self.next_due.isoformat()}"
        )


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _aware(value: datetime, what: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime")
    return value


def _safe_message(error: Exception) -> str:
    """The SDK's own errors say what happened without secrets; others: the type and a
    correlation id (their text, redacted, and traceback go to the log under that id)."""
    if isinstance(error, (PleoError, ReconcileError, SourceReadError)):
        return f"{type(error).__name__}: {error}"
    reference = report_unexpected(logger, error, "in a scheduled run")
    return f"{type(error).__name__} (reference {reference}; details in the pleo_erp log)"


def _supported(adapter: object) -> tuple[ScheduledLevel, ...]:
    supported: list[ScheduledLevel] = []
    if isinstance(adapter, AccountSource):
        supported.append(ScheduledLevel.CHART_OF_ACCOUNTS)
    if isinstance(adapter, DimensionSource):
        supported.append(ScheduledLevel.TAGS)
    if isinstance(adapter, ExportTarget):
        supported.append(ScheduledLevel.EXPORT)
    return tuple(supported)


class ConnectorSchedule:
    """Runs one connection's levels on their cadence; the host supplies the loop (rule 45).

    Every enabled level is due at once when the schedule is created ("on connect"), then
    again ``interval`` after the start of its last run (:class:`ScheduleConfig`; for
    :meth:`run_pending`, the time the call began), or after ``retry_failed_after`` when that
    run raised. :meth:`sync_now` runs a level at once,
    through the same code path as :meth:`run_pending`, and restarts its cadence.

    The state (when each level is due) lives in this object: keep one instance per
    connection in a long-lived process. From cron, where every invocation is a new process,
    let cron do the cadence and call :meth:`sync_now` (see ``docs/operating.md``).

    Args:
        client: the connection's :class:`~pleo_erp.PleoClient`.
        accounting_system: the vendor's adapter. Each level runs only if the adapter
            implements its protocol (``AccountSource`` [+ ``TaxCodeSource``],
            ``DimensionSource``, ``ExportTarget``).
        company_id: the Pleo company.
        config: the cadence (:class:`ScheduleConfig` defaults: 24 h / 1 h / 5 min).
        levels: the levels to run (default: every level the adapter supports). Asking for a
            level the adapter cannot serve raises ``TypeError``.
        granted_scopes: the credential's scopes if known (e.g. ``client.introspect().scope``):
            each level checks them locally before its first request and fails with
            :class:`~pleo_erp.client.errors.InsufficientScope` (rule 50). ``None``: no check.
        level_options: keyword arguments passed to each level's orchestrator, e.g.
            ``{ScheduledLevel.TAGS: {"state": state_db}, ScheduledLevel.EXPORT:
            {"config": export_config, "journal": journal}}``. The chart-of-accounts level
            calls :func:`sync_chart_of_accounts` (or :func:`sync_accounts` without tax codes).
        clock: the current time as an aware ``datetime`` (default: UTC now); inject one in
            tests.
    """

    def __init__(
        self,
        client: PleoClient,
        accounting_system: object,
        *,
        company_id: uuid.UUID | str,
        config: ScheduleConfig | None = None,
        levels: Iterable[ScheduledLevel | str] | None = None,
        granted_scopes: str | Iterable[str] | None = None,
        level_options: Mapping[ScheduledLevel | str, Mapping[str, Any]] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        try:
            self.company_id = uuid.UUID(str(company_id))
        except ValueError:
            raise ValueError("company_id must be a UUID") from None
        self.client = client
        self.accounting_system = accounting_system
        self.config = config if config is not None else ScheduleConfig()
        self._clock = clock if clock is not None else _utcnow
        supported = _supported(accounting_system)
        if levels is None:
            wanted = set(supported)
        else:
            wanted = {ScheduledLevel(level) for level in levels}
            unsupported = sorted(level.value for level in wanted - set(supported))
            if unsupported:
                raise TypeError(
                    f"the accounting system cannot serve {', '.join(unsupported)} "
                    "(it does not implement the protocol)"
                )
        self.levels: tuple[ScheduledLevel, ...] = tuple(lv for lv in _ORDER if lv in wanted)
        """The enabled levels, in run order."""
        self.granted_scopes: frozenset[str] | None = (
            None if granted_scopes is None else _scopes.parse_scopes(granted_scopes)
        )
        self._options: dict[ScheduledLevel, dict[str, Any]] = {
            ScheduledLevel(level): dict(options) for level, options in (level_options or {}).items()
        }
        connected = _aware(self._clock(), "the clock's time")
        self._due: dict[ScheduledLevel, datetime] = dict.fromkeys(self.levels, connected)
        self._last: dict[ScheduledLevel, LevelRun] = {}
        self._state_lock = threading.Lock()

    # ------------------------------------------------------------------ public API

    def due(self, now: datetime | None = None) -> tuple[ScheduledLevel, ...]:
        """The levels due at ``now`` (default: the clock), in run order."""
        at = self._now(now)
        with self._state_lock:
            return tuple(level for level in self.levels if self._due[level] <= at)

    def run_pending(self, now: datetime | None = None) -> list[LevelRun]:
        """Run every level that is due at ``now`` (default: the clock); return their runs.

        Runs them one after another in :class:`ScheduledLevel` order. A level that raises is
        recorded (:attr:`LevelRun.error`) and does not stop the others. Nothing due: ``[]``.
        """
        at = self._now(now)
        return [self._run(level, "schedule", at) for level in self.due(at)]

    def sync_now(self, level: ScheduledLevel | str) -> LevelRun:
        """Run ``level`` now, whatever its cadence, the way :meth:`run_pending` would.

        The run restarts the level's cadence. Raises ``ValueError`` for a level this schedule
        does not run; errors of the run itself are recorded in the returned :class:`LevelRun`.
        """
        chosen = ScheduledLevel(level)
        if chosen not in self.levels:
            raise ValueError(f"{chosen.value} is not a level of this schedule")
        return self._run(chosen, "manual", self._now(None))

    def next_due(self, level: ScheduledLevel | str | None = None) -> datetime:
        """When ``level`` is due next; without ``level``, the earliest of all levels.

        A level that has not run yet is due since the schedule was created. Raises
        ``ValueError`` for a level this schedule does not run, or if it runs none.
        """
        with self._state_lock:
            if level is None:
                if not self._due:
                    raise ValueError("this schedule runs no level")
                return min(self._due.values())
            chosen = ScheduledLevel(level)
            if chosen not in self._due:
                raise ValueError(f"{chosen.value} is not a level of this schedule")
            return self._due[chosen]

    @property
    def last_runs(self) -> dict[ScheduledLevel, LevelRun]:
        """The latest run of each level that has run (a copy)."""
        with self._state_lock:
            return dict(self._last)

    def __repr__(self) -> str:
        levels = ", ".join(level.value for level in self.levels)
        return f"ConnectorSchedule(company_id={self.company_id}, levels=[{levels}])"

    # ------------------------------------------------------------------ internals

    def _now(self, now: datetime | None) -> datetime:
        return _aware(now if now is not None else self._clock(), "now")

    def _run(
        self, level: ScheduledLevel, trigger: Literal["schedule", "manual"], started: datetime
    ) -> LevelRun:
        """The one code path of scheduled and ad-hoc runs."""
        logger.info("running %s (%s) for company %s", level.value, trigger, self.company_id)
        report: LevelReport | None = None
        error: Exception | None = None
        try:
            report = self._orchestrate(level)
        except Exception as exc:  # one level's failure must not stop the others
            error = exc
        finished = max(self._clock(), started)
        wait = self.config.interval(level)
        if error is not None or (isinstance(report, ExportReport) and report.deferred):
            # A deferred export job must be retried well inside Pleo's one-hour expiry.
            wait = min(wait, self.config.retry_failed_after)
        run = LevelRun(
            level=level,
            trigger=trigger,
            started_at=started,
            finished_at=finished,
            next_due=started + wait,
            report=report,
            error=error,
            message=None if error is None else _safe_message(error),
        )
        with self._state_lock:
            self._due[level] = run.next_due
            self._last[level] = run
        if error is not None:
            logger.warning(
                "%s failed for company %s: %s", level.value, self.company_id, run.message
            )
        else:
            logger.info("%s", run)
        return run

    def _orchestrate(self, level: ScheduledLevel) -> LevelReport:
        return orchestrate_level(
            self.client,
            self.accounting_system,
            company_id=self.company_id,
            level=level,
            options=self._options.get(level),
            granted_scopes=self.granted_scopes,
            tax_codes=self.config.tax_codes,
        )


def orchestrate_level(
    client: PleoClient,
    accounting_system: object,
    *,
    company_id: uuid.UUID,
    level: ScheduledLevel,
    options: Mapping[str, Any] | None = None,
    granted_scopes: frozenset[str] | None = None,
    tax_codes: bool = True,
) -> LevelReport:
    """Run one level's orchestrator: the one code path of :class:`ConnectorSchedule` runs and
    of the production runtime's ``run_level``.

    The chart-of-accounts level runs :func:`sync_chart_of_accounts` (tax codes first) when
    ``tax_codes`` and the adapter implements ``TaxCodeSource``, else :func:`sync_accounts`;
    ``options`` are passed to the orchestrator as keyword arguments. Raises what it raises.
    """
    level = ScheduledLevel(level)
    chosen = dict(options or {})
    adapter: Any = accounting_system
    granted = granted_scopes
    if level is ScheduledLevel.CHART_OF_ACCOUNTS:
        if tax_codes and isinstance(adapter, TaxCodeSource):
            return sync_chart_of_accounts(
                client, adapter, company_id=company_id, granted_scopes=granted, **chosen
            )
        return sync_accounts(
            client, adapter, company_id=company_id, granted_scopes=granted, **chosen
        )
    if level is ScheduledLevel.TAGS:
        return sync_tags(client, adapter, company_id=company_id, granted_scopes=granted, **chosen)
    # export_expenses takes no granted_scopes: the same preflight is done here (rule 50).
    if granted is not None:
        _scopes.check_scopes(granted, _scopes.EXPORT, operation="the export")
    return export_expenses(client, adapter, company_id=company_id, **chosen)
