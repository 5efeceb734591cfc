"""The per-job session hook: ``ExportTarget.job_session(job)``, opened once around a job's items.

The hook is optional (:class:`~pleo_erp.accounting_system.export.SupportsJobSession`): a target
without it gets a null context, so every existing adapter keeps working. The export enters it
through :func:`open_job_session`, which turns a failure to *open* the session into a
:class:`JobSessionFailed` carrying the job failure to report, and logs (never raises) a failure
to *close* it after a successful job — every post was already durable and reported to Pleo.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from pleo_erp.accounting_system.export import AccountingSystemError, JobContext
from pleo_erp.domain.outcomes import JobFailure, clean_message
from pleo_erp.models import ExportJobV3

__all__ = ["JobSessionFailed", "job_context", "open_job_session", "session_open_failure"]

_log = logging.getLogger("pleo_erp.export")


class JobSessionFailed(Exception):
    """The target's ``job_session`` could not be opened; the job fails with ``failure``."""

    def __init__(self, failure: JobFailure) -> None:
        super().__init__(failure.message)
        self.failure = failure


def job_context(job: ExportJobV3 | JobContext) -> JobContext:
    """What the AS sees of a job (never the raw Pleo payload)."""
    if isinstance(job, JobContext):
        return job
    return JobContext(
        job_id=job.id,
        company_id=job.company_id,
        vendor_based_bookkeeping=job.vendor_based_bookkeeping,
        number_of_items=job.number_of_items,
        created_at=job.created_at,
        is_interactive=job.is_interactive,
    )


def session_open_failure(error: Exception) -> JobFailure:
    """The job failure for a ``job_session`` that could not be opened (nothing was posted)."""
    if isinstance(error, AccountingSystemError):
        return JobFailure(
            error.job_failure_type or "integration_unusable", clean_message(error.message)
        )
    # an adapter bug: the job must not stay in progress
    _log.error("the accounting system's job session failed to open", exc_info=error)
    return JobFailure(
        "integration_unusable",
        f"The accounting system integration could not start the job "
        f"({type(error).__name__}); contact the integration's support.",
    )


@contextlib.contextmanager
def open_job_session(target: Any, job: ExportJobV3 | JobContext) -> Iterator[None]:
    """Enter ``target.job_session(job)`` if the target has one, else nothing.

    Raises :class:`JobSessionFailed` if the session cannot be opened (nothing was posted).
    An exception escaping the body reaches the session's ``__exit__`` (so it can roll back
    and close) and is re-raised unless the session suppresses it.
    """
    hook = getattr(target, "job_session", None)
    if not callable(hook):
        yield
        return
    context = job_context(job)
    try:
        session = hook(context)
        session.__enter__()
    except Exception as error:
        raise JobSessionFailed(session_open_failure(error)) from error
    try:
        yield
    except BaseException as error:
        if not session.__exit__(type(error), error, error.__traceback__):
            raise
    else:
        try:
            session.__exit__(None, None, None)
        except Exception as error:  # posts are durable and reported; closing is best effort
            _log.error(
                "the accounting system's job session failed to close (%s)", type(error).__name__
            )
