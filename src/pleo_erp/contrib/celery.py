"""Run the pleo-erp runtime on Celery (the ``pleo-erp[celery]`` extra; Redis as the broker only).

:func:`install` registers two tasks on the vendor's Celery app and returns the beat entry::

    app = Celery("erp", broker="redis://…")
    beat = install(app, MyFactory(), "postgresql://…")
    app.conf.beat_schedule = {"pleo-erp-tick": beat}

- ``pleo_erp.tick`` (queue ``pleo.tick``, every ``tick_every`` seconds from beat) claims due
  schedule rows in Postgres (``FOR UPDATE SKIP LOCKED``) and sends one ``pleo_erp.run_level``
  per row: exports to ``pleo.export``, tags and chart of accounts to ``pleo.sync``.
- ``pleo_erp.run_level(company_id, level, trigger)`` runs one level under the company lease
  (:func:`pleo_erp.runtime.run.run_level`).

The queue is only a transport. A lost message (Redis restarted, a worker SIGKILLed before
acking) is re-triggered by the schedule: the row is due again after its cadence, or sooner
when the stale-claim sweep sees it was never started. A duplicated message (redelivery after
``visibility_timeout``, two beats) finds the lease held and ends as ``busy`` without a retry:
the holder drains due levels before releasing. Transient failures (Pleo 429/5xx, network, an
unavailable AS or database) are retried with exponential backoff and jitter.

:data:`RECOMMENDED_SETTINGS` (applied by ``install(configure=True)``) sets late acks,
reject-on-worker-lost, prefetch 1, no result backend, the routes, and a visibility timeout
longer than the hard time limit. Run I/O-bound workers with a thread pool::

    celery -A erp worker -Q pleo.export,pleo.sync,pleo.tick --pool threads -c 16
    celery -A erp beat
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Mapping
from typing import Any
from uuid import UUID

from pleo_erp.accounting_system.export import (
    AccountingSystemRateLimited,
    AccountingSystemUnavailable,
)
from pleo_erp.client.errors import PleoError
from pleo_erp.orchestration.schedule import ScheduledLevel
from pleo_erp.runtime.factory import ConnectionFactory
from pleo_erp.runtime.run import LevelResult, RuntimeConfig, run_level
from pleo_erp.runtime.state import open_state
from pleo_erp.runtime.stores import RunOutcome, RuntimeState
from pleo_erp.runtime.tick import DEFAULT_TICK_LIMIT, tick
from pleo_erp.state._db import StateError

__all__ = [
    "EXPORT_QUEUE",
    "RECOMMENDED_SETTINGS",
    "RUN_LEVEL_TASK",
    "SYNC_QUEUE",
    "TICK_QUEUE",
    "TICK_TASK",
    "backoff",
    "enqueue_run",
    "install",
    "is_transient",
    "queue_for",
]

logger = logging.getLogger("pleo_erp.celery")

EXPORT_QUEUE = "pleo.export"
"""Exports (polls and webhook triggers): give them their own workers so syncs never delay them."""
SYNC_QUEUE = "pleo.sync"
"""Tags and chart-of-accounts syncs."""
TICK_QUEUE = "pleo.tick"
"""The scheduler tick (short, frequent)."""
RUN_LEVEL_TASK = "pleo_erp.run_level"
TICK_TASK = "pleo_erp.tick"

HARD_TIME_LIMIT = 3600
"""Seconds before a prefork worker kills a run (an export resumes from where it stopped)."""

RECOMMENDED_SETTINGS: Mapping[str, Any] = {
    # At-least-once: ack after the run, give the message back when the worker process dies.
    "task_acks_late": True,
    "task_reject_on_worker_lost": True,
    # One message at a time per worker slot: a slow company never hides others' messages.
    "worker_prefetch_multiplier": 1,
    # Outcomes live in the schedule table, not in a result backend.
    "task_ignore_result": True,
    "task_store_errors_even_if_ignored": False,
    # Redis redelivers unacked messages after this; it must exceed the longest run, and a
    # redelivery of a still-running task is absorbed by the lease anyway.
    "broker_transport_options": {"visibility_timeout": 2 * HARD_TIME_LIMIT},
    "task_time_limit": HARD_TIME_LIMIT,
    "task_soft_time_limit": HARD_TIME_LIMIT - 600,
    "broker_connection_retry_on_startup": True,
    "task_default_queue": SYNC_QUEUE,
    "task_routes": {TICK_TASK: {"queue": TICK_QUEUE}},
    "worker_cancel_long_running_tasks_on_connection_loss": False,
}
"""Celery settings for the runtime; see the module docstring (documented in the ops guide)."""

_TRANSIENT: tuple[type[BaseException], ...] = (
    AccountingSystemUnavailable,
    AccountingSystemRateLimited,
    StateError,
    ConnectionError,
    TimeoutError,
)


def is_transient(error: BaseException | None) -> bool:
    """Whether trying the run again later can help: Pleo 429/5xx/network, AS or DB outages."""
    if error is None:
        return False
    if isinstance(error, PleoError):
        return bool(getattr(error, "retryable", False))
    if isinstance(error, _TRANSIENT):
        return True
    try:
        import psycopg
    except ImportError:  # pragma: no cover - without the Postgres extra
        return False
    return isinstance(error, psycopg.OperationalError)


def queue_for(level: ScheduledLevel | str) -> str:
    """The queue of a level's runs: exports on :data:`EXPORT_QUEUE`, syncs on :data:`SYNC_QUEUE`."""
    return EXPORT_QUEUE if ScheduledLevel(level) is ScheduledLevel.EXPORT else SYNC_QUEUE


def backoff(retries: int, *, base: float = 5.0, cap: float = 600.0) -> float:
    """Seconds before retry number ``retries + 1``: exponential, capped, full jitter."""
    return random.uniform(0, min(cap, base * 2**retries))


class _LazyState:
    """Opens the state on first use in each worker process (never before a prefork fork)."""

    def __init__(self, source: RuntimeState | str | Callable[[], RuntimeState]) -> None:
        self._source = source
        self._state: RuntimeState | None = source if isinstance(source, RuntimeState) else None
        self._lock = threading.Lock()

    def get(self) -> RuntimeState:
        if self._state is None:
            with self._lock:
                if self._state is None:
                    source = self._source
                    self._state = open_state(source) if isinstance(source, str) else source()  # type: ignore[operator]
        return self._state


def enqueue_run(
    app: Any, company_id: UUID | str, level: ScheduledLevel | str, trigger: str = "manual"
) -> None:
    """Send one ``pleo_erp.run_level`` message to the level's queue (webhooks, "sync now").

    A webhook receiver calls ``enqueue_run(app, company, "export", "webhook")`` after
    ``schedule.mark_due``: if the message is lost, the next tick runs the due row anyway.
    """
    app.send_task(
        RUN_LEVEL_TASK,
        args=(str(company_id), ScheduledLevel(level).value, trigger),
        queue=queue_for(level),
    )


def install(
    app: Any,
    factory: ConnectionFactory,
    state: RuntimeState | str | Callable[[], RuntimeState],
    *,
    config: RuntimeConfig | None = None,
    configure: bool = True,
    tick_every: float = 30.0,
    tick_limit: int = DEFAULT_TICK_LIMIT,
    max_retries: int = 5,
) -> dict[str, Any]:
    """Register ``pleo_erp.run_level`` and ``pleo_erp.tick`` on ``app``; return the beat entry.

    Args:
        app: the vendor's ``celery.Celery`` application.
        factory: builds each connection's client and AS adapter (the vendor's code).
        state: the runtime stores, a ``postgresql://`` URL, or a function returning them;
            URLs and functions are opened lazily, once per worker process.
        config: lease ttl, default cadence, retry delay (:class:`RuntimeConfig`).
        configure: apply :data:`RECOMMENDED_SETTINGS` to ``app.conf``.
        tick_every: seconds between ticks in the returned beat entry.
        tick_limit: schedule rows claimed per tick at most.
        max_retries: retries of a run that failed transiently (then the schedule's
            ``retry_failed_after`` takes over).

    Returns:
        ``{"task": "pleo_erp.tick", "schedule": tick_every, "options": {...}}`` for
        ``app.conf.beat_schedule``.
    """
    if tick_every <= 0:
        raise ValueError("tick_every must be positive")
    if configure:
        app.conf.update(dict(RECOMMENDED_SETTINGS))
    lazy = _LazyState(state)
    cfg = config if config is not None else RuntimeConfig()

    @app.task(  # type: ignore[untyped-decorator]
        name=RUN_LEVEL_TASK,
        shared=False,
        bind=True,
        acks_late=True,
        reject_on_worker_lost=True,
        ignore_result=True,
        max_retries=max_retries,
    )
    def run_level_task(self: Any, company_id: str, level: str, trigger: str = "schedule") -> str:
        """Run one level of one company under the company lease (see the module docstring)."""
        try:
            result: LevelResult = run_level(
                UUID(company_id), level, trigger, state=lazy.get(), factory=factory, config=cfg
            )
        except Exception as exc:
            # The stores themselves failed (database down): nothing ran; retry later.
            if is_transient(exc) and self.request.retries < max_retries:
                raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from exc
            raise
        if (
            result.outcome is RunOutcome.FAILED
            and is_transient(result.error)
            and self.request.retries < max_retries
        ):
            logger.info("retrying %s after a transient failure", result)
            raise self.retry(countdown=backoff(self.request.retries))
        # BUSY (lease held elsewhere) is not retried: the holder drains the level.
        return result.outcome.value

    def enqueue(company_id: UUID, level: ScheduledLevel, trigger: str) -> None:
        enqueue_run(app, company_id, level, trigger)

    @app.task(  # type: ignore[untyped-decorator]
        name=TICK_TASK,
        shared=False,
        ignore_result=True,
        acks_late=False,
        expires=max(tick_every, 1.0) * 2,
    )
    def tick_task() -> int:
        """Claim due rows and enqueue their runs (idempotent; concurrent ticks are safe)."""
        done = tick(lazy.get().schedule, enqueue, limit=tick_limit)
        return done.enqueued

    return {
        "task": TICK_TASK,
        "schedule": tick_every,
        "options": {"queue": TICK_QUEUE, "expires": tick_every},
    }
