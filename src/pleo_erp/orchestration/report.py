"""What an export run did: per item, per job, in total (returned by ``export_expenses``).

Immutable values, built once a job (or the run) is over. ``ProgressEvent`` is what the
``progress`` callback receives while the run is going on.

A report's memory does not grow with the job beyond a few dozen bytes an item (issue 13): the
export gives ``JobReport.items`` as a compact sequence (``_item_log.ItemResultLog``) that
keeps plain successes column-wise and builds their ``ItemResult`` on demand; only failed items
(and items with warnings or report errors) are kept whole.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from typing import Literal, overload
from uuid import UUID

from attrs import define, field

from pleo_erp.accounting_system.export import Entry
from pleo_erp.domain.failures import ItemFailureType, JobFailureType

__all__ = [
    "ExportReport",
    "ItemResult",
    "ItemSequence",
    "JobReport",
    "ProgressCallback",
    "ProgressEvent",
    "ProgressKind",
    "UpdateError",
]


@define(frozen=True, slots=True, kw_only=True)
class ItemResult:
    """The outcome of one item in this run.

    ``already_posted`` means the AS already held the entry (a resumed run) and nothing was
    posted again. ``reported`` is ``True`` once Pleo accepted the outcome; ``report_error``
    carries Pleo's per-item update error otherwise. ``warnings`` lists non-fatal problems
    (e.g. a receipt left out under the ``warn`` policy, a moved posting date).

    In an export preview (``dry_run=True``) ``status`` is what the item *would* get, ``entry``
    the entry that would be posted (lines, accounts, VAT, dimensions, posting date) and
    ``attachment_names`` the receipts that would be attached; nothing was posted or reported.
    """

    accounting_entry_id: UUID
    status: Literal["successful", "failed"]
    external_id: str | None = None
    external_url: str | None = None
    failure_type: ItemFailureType | None = None
    failure_reason: str | None = None
    item_type: str | None = None
    entry_kind: str | None = None
    posting_date: date | None = None
    already_posted: bool = False
    attachments: int = 0
    warnings: tuple[str, ...] = ()
    reported: bool = False
    report_error: str | None = None
    entry: Entry | None = None
    attachment_names: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether the item was exported."""
        return self.status == "successful"


@define(frozen=True, slots=True, kw_only=True)
class UpdateError:
    """A per-item error Pleo returned inside a successful item-update response."""

    accounting_entry_id: UUID
    type: str
    message: str


class _Tallied:
    """``successful`` / ``failed`` of a report, read from its ``counts`` (this run's items)."""

    __slots__ = ()

    @property
    def counts(self) -> dict[str, int]:  # pragma: no cover - every report defines it
        raise NotImplementedError

    @property
    def successful(self) -> int:
        """Items exported in this run."""
        return self.counts["successful"]

    @property
    def failed(self) -> int:
        """Items that failed in this run."""
        return self.counts["failed"]


@define(frozen=True, slots=True, kw_only=True)
class JobReport(_Tallied):
    """One export job: what happened to it and to each item processed in this run.

    ``items`` is a read-only sequence of :class:`ItemResult` in processing order (a tuple, or
    for an export the compact sequence that builds each result on demand and compares equal to
    the tuple of the same results); :attr:`failed_items` gives just the failures.

    ``final_event`` is the event sent (``completed``, ``completed_with_errors``, ``failed``) or
    ``None`` when the run did not finish the job: ``interrupted`` then says why (Pleo
    unreachable, the job expired or was finished elsewhere …); an interrupted ``in_progress``
    job is resumed by the next run. ``skipped`` counts items that were already final.
    ``requests`` counts the Pleo HTTP requests made for this job (retries included).

    ``deferred`` is set when a transient accounting-system condition (not ready, unreachable,
    timeout, rate limited) left the job ``in_progress`` for the next run: it holds the AS's
    words, ``deferred_failure_type`` the job reason the job will be failed with if the
    condition lasts until ``give_up_at`` (see ``docs/export.md``). ``would_send`` is the final
    event an export preview (``dry_run=True``) predicts; a preview sends none.
    """

    job_id: UUID
    company_id: UUID
    initial_status: str
    final_event: str | None = None
    failure_type: JobFailureType | None = None
    failure_reason: str | None = None
    items: Sequence[ItemResult] = ()
    skipped: int = 0
    update_errors: tuple[UpdateError, ...] = ()
    interrupted: str | None = None
    started_at: datetime
    duration: float = 0.0
    requests: int = 0
    deferred: str | None = None
    deferred_failure_type: JobFailureType | None = None
    give_up_at: datetime | None = None
    would_send: str | None = None

    @property
    def outcome(self) -> str:
        """One word: the final event, ``deferred``, ``interrupted`` or (preview) ``would_send``."""
        if self.final_event:
            return self.final_event
        if self.deferred is not None:
            return "deferred"
        if self.interrupted:
            return "interrupted"
        return self.would_send or "unfinished"

    @property
    def counts(self) -> dict[str, int]:
        """Items of this run per status (``successful`` / ``failed``)."""
        return _counts(self.items)

    @property
    def failed_items(self) -> tuple[ItemResult, ...]:
        """The results of the items that failed in this run, in processing order."""
        failures = getattr(self.items, "failures", None)
        if callable(failures):
            found: tuple[ItemResult, ...] = failures()
            return found
        return tuple(item for item in self.items if not item.ok)

    @property
    def finished(self) -> bool:
        """Whether the job reached a final state in this run."""
        return self.final_event is not None


@define(frozen=True, slots=True, kw_only=True)
class ExportReport(_Tallied):
    """The result of :func:`~pleo_erp.export_expenses` / ``process_job``."""

    company_id: UUID | None
    jobs: tuple[JobReport, ...] = field(factory=tuple)
    started_at: datetime
    finished_at: datetime
    duration: float = 0.0
    requests: int = 0
    dry_run: bool = False

    @property
    def items(self) -> Sequence[ItemResult]:
        """Every item result of every job, in processing order (a read-only sequence over the
        jobs' ``items``; equal to the tuple of the same results)."""
        return _JoinedItems(tuple(job.items for job in self.jobs))

    @property
    def counts(self) -> dict[str, int]:
        """Items per status over all jobs."""
        totals = {"successful": 0, "failed": 0}
        for job in self.jobs:
            for status, count in job.counts.items():
                totals[status] += count
        return totals

    @property
    def interrupted(self) -> bool:
        """Whether some job was left unfinished (the next run resumes it)."""
        return any(job.interrupted for job in self.jobs)

    @property
    def deferred(self) -> bool:
        """Whether some job was left for the next run by a transient AS condition."""
        return any(job.deferred is not None for job in self.jobs)

    @property
    def ok(self) -> bool:
        """No failed item, no failed, interrupted or deferred job (in a preview: predicted)."""
        return (
            not self.interrupted
            and not self.deferred
            and self.failed == 0
            and all(
                (job.would_send if self.dry_run else job.final_event) != "failed"
                for job in self.jobs
            )
        )

    def summary(self) -> str:
        """A few human-readable lines: totals, then one line per job and per failed item."""
        verb = "would be exported" if self.dry_run else "exported"
        lines = [
            f"{len(self.jobs)} job(s), {self.successful} item(s) {verb}, "
            f"{self.failed} failed, {self.requests} request(s), {self.duration:.2f} s"
            + (" (dry run: nothing was written)" if self.dry_run else "")
        ]
        for job in self.jobs:
            outcome = job.final_event or f"interrupted ({job.interrupted})"
            if job.deferred is not None and job.give_up_at is not None:
                outcome = (
                    f"deferred until the next run ({job.deferred}); gives up with "
                    f"{job.deferred_failure_type} at {job.give_up_at.isoformat()}"
                )
            elif self.dry_run:
                outcome = f"would be {job.would_send}" if job.would_send else outcome
            reason = f" [{job.failure_type}: {job.failure_reason}]" if job.failure_type else ""
            lines.append(
                f"  job {job.job_id}: {outcome}{reason}; "
                f"{job.successful} successful, {job.failed} failed, {job.skipped} already final"
            )
            lines.extend(
                f"    failed {item.accounting_entry_id}: {item.failure_type}: {item.failure_reason}"
                for item in job.failed_items
            )
        return "\n".join(lines)


def _counts(items: Sequence[ItemResult]) -> dict[str, int]:
    counts = getattr(items, "counts", None)
    if callable(counts):  # the export's compact sequence keeps them as it grows
        kept: dict[str, int] = counts()
        return {"successful": kept["successful"], "failed": kept["failed"]}
    counter = Counter(item.status for item in items)
    return {"successful": counter["successful"], "failed": counter["failed"]}


class ItemSequence(Sequence[ItemResult]):
    """Base of the report's read-only item sequences: equal to a tuple (or another such
    sequence) of equal results in the same order, hashable like that tuple."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (ItemSequence, tuple)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def _at(self, position: int) -> ItemResult:
        """The result at ``position`` (``0 <= position < len(self)``)."""
        raise NotImplementedError

    def _position(self, index: int) -> int:
        """``index`` (negative counts from the end) as a position, or ``IndexError``."""
        size = len(self)
        position = index + size if index < 0 else index
        if not 0 <= position < size:
            raise IndexError("item result index out of range")
        return position

    @overload
    def __getitem__(self, index: int) -> ItemResult: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[ItemResult, ...]: ...

    def __getitem__(self, index: int | slice) -> ItemResult | tuple[ItemResult, ...]:
        """The result at ``index``; a slice gives a tuple."""
        if isinstance(index, slice):
            return tuple(map(self._at, range(*index.indices(len(self)))))
        return self._at(self._position(index))


class _JoinedItems(ItemSequence):
    """The item results of several jobs as one read-only sequence (``ExportReport.items``).

    Nothing is copied: indexing and iteration go to the jobs' own ``items``. Equal to a tuple
    (or another such sequence) of equal results, in the same order.
    """

    __slots__ = ("_parts",)

    def __init__(self, parts: tuple[Sequence[ItemResult], ...]) -> None:
        """The concatenation of ``parts``."""
        self._parts = parts

    def __len__(self) -> int:
        return sum(len(part) for part in self._parts)

    def _at(self, position: int) -> ItemResult:
        for part in self._parts:
            if position < len(part):
                return part[position]
            position -= len(part)
        raise IndexError("item result index out of range")  # pragma: no cover

    def __iter__(self) -> Iterator[ItemResult]:
        return (item for part in self._parts for item in part)

    def __repr__(self) -> str:
        return f"<JoinedItems of {len(self)} item result(s) over {len(self._parts)} job(s)>"


ProgressKind = Literal[
    "job_started",
    "job_resumed",
    "items_loaded",
    "item_done",
    "batch_reported",
    "job_finished",
]
"""What a :class:`ProgressEvent` announces."""


@define(frozen=True, slots=True, kw_only=True)
class ProgressEvent:
    """A step of the run: ``done`` of ``total`` items of job ``job_id`` are finished.

    ``item`` is set for ``item_done``; ``job`` for ``job_finished``. An exception raised by the
    callback aborts the run (the job stays resumable), which is how a caller cancels.
    """

    kind: ProgressKind
    job_id: UUID
    done: int = 0
    total: int = 0
    item: ItemResult | None = None
    job: JobReport | None = None


ProgressCallback = Callable[[ProgressEvent], None]
"""The type of the ``progress`` argument."""
