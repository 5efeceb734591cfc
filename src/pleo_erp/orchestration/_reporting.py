"""What the export and its preview measure and report, in one place.

A :class:`Meter` starts when a run (or a job) starts and gives its duration and request count
at the end; a :class:`JobEnd` collects how a job ended while it runs and becomes its
:class:`~pleo_erp.orchestration.report.JobReport`. The real export (sync and async drivers)
and the dry-run preview build their reports through these, so they report alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

from attrs import define

from pleo_erp.domain.outcomes import JobFailure
from pleo_erp.models import ExportJobV3
from pleo_erp.orchestration._item_log import ItemResultLog
from pleo_erp.orchestration._readiness import JobDeferred
from pleo_erp.orchestration.report import ExportReport, ItemResult, JobReport, UpdateError

__all__ = ["JobEnd", "Meter", "export_report"]


class _Measured(Protocol):
    """What a meter reads: the exporter's clocks and its client's request count."""

    @property
    def clock(self) -> Callable[[], datetime]: ...

    @property
    def monotonic(self) -> Callable[[], float]: ...

    def requests(self) -> int: ...


class _RunResults(Protocol):
    """A job's run and what it collected (``_JobRun``)."""

    @property
    def job(self) -> ExportJobV3: ...

    @property
    def results(self) -> Sequence[ItemResult]: ...

    @property
    def skipped(self) -> int: ...

    @property
    def update_errors(self) -> Sequence[UpdateError]: ...


@define(frozen=True)
class Meter:
    """When something started (wall clock, monotonic time) and how many requests came before."""

    source: _Measured
    started_at: datetime
    t0: float
    requests0: int

    @classmethod
    def start(cls, source: _Measured, started_at: datetime | None = None) -> Meter:
        """Start now (``started_at``: an earlier wall-clock start, e.g. before a job read)."""
        wall = source.clock() if started_at is None else started_at
        return cls(source, wall, source.monotonic(), source.requests())

    def duration(self) -> float:
        """Seconds since the start (monotonic)."""
        return self.source.monotonic() - self.t0

    def requests(self) -> int:
        """Pleo requests made since the start."""
        return self.source.requests() - self.requests0


def export_report(
    meter: Meter, company_id: UUID, jobs: Sequence[JobReport], *, dry_run: bool = False
) -> ExportReport:
    """The report of a run (or preview) over ``jobs``, measured by ``meter``."""
    return ExportReport(
        company_id=company_id,
        jobs=tuple(jobs),
        started_at=meter.started_at,
        finished_at=meter.source.clock(),
        duration=meter.duration(),
        requests=meter.requests(),
        dry_run=dry_run,
    )


@define
class JobEnd:
    """How a job's run ended, filled in as it goes; :meth:`report` turns it into a report.

    ``final_event`` is the job event sent (``None`` in a preview), ``failure`` a job-level
    failure, ``interrupted`` why the run stopped early, ``deferred`` a transient deferral.
    """

    final_event: str | None = None
    failure: JobFailure | None = None
    interrupted: str | None = None
    deferred: JobDeferred | None = None

    def report(
        self,
        run: _RunResults,
        initial: str,
        meter: Meter,
        *,
        reason: Callable[[str], str] = str,
        would_send: str | None = None,
    ) -> JobReport:
        """The report of ``run`` (its job was ``initial`` at the start, ``meter`` started with
        it); ``reason`` turns the failure's message into ``failure_reason``."""
        failure = self.failure
        deferral = self.deferred.deferral if self.deferred else None
        return JobReport(
            job_id=run.job.id,
            company_id=run.job.company_id,
            initial_status=initial,
            final_event=self.final_event,
            failure_type=failure.failure_type if failure else None,
            failure_reason=reason(failure.message) if failure else None,
            items=_frozen(run.results),
            skipped=run.skipped,
            update_errors=tuple(run.update_errors),
            interrupted=self.interrupted,
            started_at=meter.started_at,
            duration=meter.duration(),
            requests=meter.requests(),
            deferred=deferral.message if deferral else None,
            deferred_failure_type=deferral.failure_type if deferral else None,
            give_up_at=deferral.give_up_at if deferral else None,
            would_send=would_send,
        )


def _frozen(results: Sequence[ItemResult]) -> Sequence[ItemResult]:
    """A finished job's item results, read-only: the export's compact log is frozen in place
    (copying it to a tuple would cost the memory it saves); the preview's list becomes a tuple."""
    if isinstance(results, ItemResultLog):
        return results.freeze()
    return tuple(results)
