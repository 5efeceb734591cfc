"""``tick``: claim the due schedule rows and hand each to the task engine.

Call it every few seconds (embedded: the scheduler thread; Celery: a beat entry). It is
idempotent and safe to run concurrently (two beats, two schedulers): a row is claimed by one
caller only, and the claim moves its ``next_due`` on in the same transaction. The queue is a
transport only: a trigger lost after the claim is swept back by :meth:`ScheduleStore.sweep_stale`
(claimed, never started), a duplicated one is absorbed by the company lease.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import UUID

import attrs

from pleo_erp.orchestration.schedule import ScheduledLevel
from pleo_erp.runtime.stores import ScheduleStore

__all__ = ["DEFAULT_STALE_CLAIM", "DEFAULT_TICK_LIMIT", "Enqueue", "TickResult", "tick"]

logger = logging.getLogger("pleo_erp.runtime")

Enqueue = Callable[[UUID, ScheduledLevel, str], None]
"""Hands ``(company_id, level, trigger)`` to the engine, which later calls ``run_level``."""

DEFAULT_TICK_LIMIT = 500
"""Rows claimed per tick at most (the rest stay due for the next tick)."""

DEFAULT_STALE_CLAIM = timedelta(minutes=10)
"""A claim not started within this long is treated as a lost trigger."""


@attrs.frozen(kw_only=True)
class TickResult:
    """What one :func:`tick` did.

    Attributes:
        claimed: rows claimed.
        enqueued: triggers handed to the engine.
        failed: triggers the engine refused (their rows were marked due again).
        swept: stale claims made due again before claiming.
    """

    claimed: int = 0
    enqueued: int = 0
    failed: int = 0
    swept: int = 0


def tick(
    schedule: ScheduleStore,
    enqueue: Enqueue,
    *,
    limit: int = DEFAULT_TICK_LIMIT,
    now: datetime | None = None,
    stale_after: timedelta | None = DEFAULT_STALE_CLAIM,
) -> TickResult:
    """Claim up to ``limit`` due rows and ``enqueue`` each as a ``"schedule"`` trigger.

    ``stale_after`` first re-marks claims that never started (``None``: skip the sweep).
    If ``enqueue`` raises, that row is marked due again (the next tick retries it) and the
    tick goes on with the others.
    """
    swept = schedule.sweep_stale(stale_after) if stale_after is not None else 0
    if swept:
        logger.warning("%d scheduled runs were claimed but never started; due again", swept)
    runs = schedule.claim_due(limit, now=now)
    enqueued = failed = 0
    for run in runs:
        try:
            enqueue(run.company_id, run.level, "schedule")
        except Exception:
            failed += 1
            logger.warning(
                "could not enqueue %s of company %s; due again",
                run.level.value,
                run.company_id,
                exc_info=True,
            )
            schedule.mark_due(run.company_id, run.level)
        else:
            enqueued += 1
    return TickResult(claimed=len(runs), enqueued=enqueued, failed=failed, swept=swept)
