"""Transient accounting-system trouble: leave the job for a later run, within Pleo's expiry.

Pleo expires an export job one hour after its ``lastUpdatedAt`` (events and item updates
refresh it; reads do not). An AS that is only *temporarily* unable to take entries (a desktop
book open in its application, a maintenance window, a timeout, an exhausted rate limit) must
not cost the bookkeeper a manual re-export, so such a job is *deferred*: left ``in_progress``
with its unfinished items ``pending``, for the next run to resume. Only when the job has gone
``ExportConfig.transient_give_up_after`` without an update (default 45 minutes, well inside
the hour) is it failed with the job reason matching the condition, so that the bookkeeper sees
why rather than a bare ``job_expired``.

A configuration problem (``invalid_configuration``, ``missing_configuration``, lost
authentication or authorisation …) is not transient: it fails the job at once, as before.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from attrs import define

from pleo_erp.accounting_system.export import (
    AccountingSystemError,
    AccountingSystemNotReady,
    AccountingSystemTimeout,
)
from pleo_erp.domain.config import ExportConfig
from pleo_erp.domain.failures import JobFailureType
from pleo_erp.domain.outcomes import JobFailure, clean_message
from pleo_erp.models import ExportJobV3

__all__ = [
    "PLEO_JOB_EXPIRY_SECONDS",
    "TRANSIENT_JOB_FAILURE_TYPES",
    "JobDeferral",
    "JobDeferred",
    "deferral_for",
    "give_up_message",
    "is_transient",
    "job_failure_type_for",
    "last_update",
    "seconds_since_update",
    "transient_give_up",
]

TRANSIENT_JOB_FAILURE_TYPES: frozenset[JobFailureType] = frozenset(
    {
        "accounting_system_unreachable",
        "accounting_system_timeout",
        "accounting_system_rate_limit",
        "service_unreachable",
        "service_timeout",
    }
)
"""Job failure reasons that describe a condition which may pass by itself."""


def is_transient(error: AccountingSystemError) -> bool:
    """Whether ``error`` is a condition a later run may not meet (see the module docstring).

    Errors marked ``transient`` (``AccountingSystemNotReady(..., transient=True)``), retryable
    errors (unavailable, rate limited, timeout) and errors whose job reason is one of
    :data:`TRANSIENT_JOB_FAILURE_TYPES` are transient.
    """
    if getattr(error, "transient", False) is True:
        return True
    if error.retryable or isinstance(error, AccountingSystemTimeout):
        return True
    return error.job_failure_type in TRANSIENT_JOB_FAILURE_TYPES


def job_failure_type_for(error: AccountingSystemError, default: JobFailureType) -> JobFailureType:
    """The job reason for ``error``: its own, else the one its transient kind means."""
    if error.job_failure_type is not None:
        return error.job_failure_type
    if isinstance(error, AccountingSystemTimeout):
        return "accounting_system_timeout"
    if isinstance(error, AccountingSystemNotReady) or is_transient(error):
        return "accounting_system_unreachable"
    return default


@define(frozen=True, slots=True, kw_only=True)
class JobDeferral:
    """Why a job was left for a later run, and until when it will be retried.

    ``failure_type`` is the job reason it will be failed with if the condition lasts past
    ``give_up_at``; ``message`` is the accounting system's own (cleaned) words.
    """

    failure_type: JobFailureType
    message: str
    last_updated_at: datetime
    give_up_at: datetime


class JobDeferred(Exception):
    """Raised inside the exporter to leave the job ``in_progress`` for the next run."""

    def __init__(self, deferral: JobDeferral) -> None:
        super().__init__(deferral.message)
        self.deferral = deferral


PLEO_JOB_EXPIRY_SECONDS = 3600
"""Pleo expires a job this long after its ``lastUpdatedAt`` (export-api.md §5.2)."""


def _aware(value: datetime) -> datetime:
    # Naive timestamps are UTC (Pleo's and the SDK's clocks are).
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def seconds_since_update(job: ExportJobV3) -> float:
    """How long ago Pleo's expiry clock for ``job`` last restarted, by Pleo's own count.

    Taken from ``expiresIn`` (computed by Pleo from ``lastUpdatedAt``), so a skewed local
    clock cannot shorten or stretch the window.
    """
    return float(max(0, PLEO_JOB_EXPIRY_SECONDS - job.expires_in))


def last_update(job: ExportJobV3, now: datetime) -> datetime:
    """When Pleo's expiry clock for ``job`` last restarted, on the local clock ``now``."""
    return _aware(now) - timedelta(seconds=seconds_since_update(job))


def deferral_for(
    error: AccountingSystemError,
    job: ExportJobV3,
    *,
    now: datetime,
    config: ExportConfig,
) -> JobDeferral | None:
    """The deferral for ``error`` on ``job`` (freshly read), or ``None`` to fail the job now.

    ``None`` when the error is not transient, or when the job has gone
    ``config.transient_give_up_after`` seconds since its last update: its expiry is then too
    close for another run, so it is failed with the matching reason instead.
    """
    if not is_transient(error):
        return None
    elapsed = seconds_since_update(job)
    if elapsed >= config.transient_give_up_after:
        return None
    return JobDeferral(
        failure_type=job_failure_type_for(error, "accounting_system_unreachable"),
        message=clean_message(error.message),
        last_updated_at=last_update(job, now),
        give_up_at=_aware(now) + timedelta(seconds=config.transient_give_up_after - elapsed),
    )


def give_up_message(error: AccountingSystemError, job: ExportJobV3) -> str:
    """The job failure message once a transient condition outlasted the retry window."""
    minutes = int(seconds_since_update(job) // 60)
    return clean_message(
        f"The accounting system was still not available after {minutes} minutes of retries, "
        f"so the job was failed before Pleo would expire it; fix this, then export again: "
        f"{error.message}"
    )


def transient_give_up(
    error: AccountingSystemError,
    *,
    read_job: Callable[[], ExportJobV3],
    now: datetime,
    config: ExportConfig,
) -> JobFailure | None:
    """Decide what a job-stopping AS ``error`` does to the job.

    - not transient: ``None`` (the caller fails the job as it always did);
    - transient, within the window: raises :class:`JobDeferred` (the job waits for the next
      run); ``read_job`` re-reads the job for its current ``expiresIn``;
    - transient, past the window: the :class:`JobFailure` to fail the job with.
    """
    if not is_transient(error):
        return None
    failure_type = job_failure_type_for(error, "accounting_system_unreachable")
    if config.transient_give_up_after <= 0:  # configured to fail at once
        return JobFailure(failure_type, clean_message(error.message))
    job = read_job()
    deferral = deferral_for(error, job, now=now, config=config)
    if deferral is not None:
        raise JobDeferred(deferral)
    return JobFailure(failure_type, give_up_message(error, job))
