"""Export preview (dry run): every entry a job would post, and every failure it would get.

``export_expenses(..., dry_run=True)``, :func:`preview_export` and ``pleo-erp export
--dry-run`` walk the queue exactly as the export does (oldest job first; an ``in_progress`` job
first), with the same steps and the same code for each (bookkeeping method, validation, vendor,
entry, accounting period), but:

- nothing is written to Pleo: no ``started`` or final event, no item update (Pleo serves the
  items of a ``pending`` job, so a preview needs no ``started``);
- the accounting system is asked only read-only questions: ``check_ready``, ``capabilities``,
  ``accounts_mapping``, ``find_posted``, ``find_vendor``, ``is_period_open``,
  ``next_open_date``, and ``validate_entry`` when it implements
  :class:`~pleo_erp.accounting_system.EntryValidator` (which lets it predict what ``post``
  would reject: unknown accounts, tax codes, dimension values);
- no lock, no journal, no receipt download: the receipts an entry would carry are listed from
  Pleo's file metadata (a download that would fail in the real run is not predicted).

The result is an :class:`~pleo_erp.orchestration.report.ExportReport` with ``dry_run=True``:
per item, ``status`` is what it would get, with ``entry`` (lines, accounts, VAT, dimensions,
posting date) or ``failure_type`` and ``failure_reason``; per job, ``would_send`` is the final
event the job would get, or ``deferred`` is set. Like the real run, the preview stops after a
job that would fail or be deferred as a whole.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from uuid import UUID

import httpx
from attrs import evolve

from pleo_erp.accounting_system.dry_run import EntryValidator
from pleo_erp.accounting_system.export import (
    AccountingSystemError,
    ClosedPeriodError,
    Entry,
    ExportTarget,
    with_posting_date,
)
from pleo_erp.client import PleoClient
from pleo_erp.domain.bookkeeping import enum_value, resolve_method
from pleo_erp.domain.config import ExportConfig
from pleo_erp.domain.entries import build_entry
from pleo_erp.domain.outcomes import (
    DomainFailure,
    ItemFailure,
    JobFailure,
    clean_message,
    failure_for_error,
    job_outcome,
    unexpected_failure,
)
from pleo_erp.domain.periods import alternative_posting_date
from pleo_erp.domain.receipts import ReceiptPlan, plan_receipts
from pleo_erp.domain.validation import validate_item
from pleo_erp.models import ExportItemV3, ExportJobV3
from pleo_erp.orchestration import export as _export
from pleo_erp.orchestration._effects import Core
from pleo_erp.orchestration._readiness import (
    PLEO_JOB_EXPIRY_SECONDS,
    JobDeferred,
    transient_give_up,
)
from pleo_erp.orchestration._reporting import JobEnd, Meter, export_report
from pleo_erp.orchestration._runtime import ExportRuntime
from pleo_erp.orchestration.report import ExportReport, ItemResult, JobReport

__all__ = ["preview_export", "preview_job"]

logger = logging.getLogger("pleo_erp.export.preview")


class _PreviewExporter(_export._Exporter):
    """The exporter's read-only half: same validation, vendor and period code."""

    def g_given_up(
        self, run: _export._JobRun, error: AccountingSystemError
    ) -> Core[JobFailure | None]:
        """As the export decides, but a pending job is judged as just started."""
        # A pending job would be started first, which restarts Pleo's expiry clock.
        job = run.job
        if _export._status(job.status) == "pending":
            job = evolve(job, last_updated_at=self.clock(), expires_in=PLEO_JOB_EXPIRY_SECONDS)
            return transient_give_up(
                error, read_job=lambda: job, now=self.clock(), config=self.config
            )
        return (yield from super().g_given_up(run, error))


class _Preview:
    """One preview run over one or more jobs."""

    def __init__(self, exporter: _PreviewExporter) -> None:
        self.exporter = exporter
        self.config = exporter.config
        self.target = exporter.target

    def job(self, job: ExportJobV3) -> JobReport:
        exporter = self.exporter
        meter = Meter.start(exporter)
        run = _export._JobRun(exporter, job)
        initial = _export._status(job.status)
        end = JobEnd()
        would_send: str | None = None
        try:
            if initial not in _export._OPEN_STATUSES:
                end.interrupted = f"job is already {initial}"
            else:
                end.failure = self._run(run)
                statuses = [*run.previous_statuses, *(r.status for r in run.results)]
                would_send = job_outcome(statuses, job_failure=end.failure).event
        except _export._JobStopped as stop:
            end.interrupted = str(stop)
        except JobDeferred as wait:
            end.deferred = wait
        # A preview sends no updates: the run has no update errors to report.
        return end.report(run, initial, meter, reason=clean_message, would_send=would_send)

    def _run(self, run: _export._JobRun) -> JobFailure | None:
        exporter = self.exporter
        client = exporter.client
        job = run.job
        try:
            exporter._validate(run)
        except _export._JobLevelFailure as failed:
            return failed.failure
        page_size = self.config.page_size
        job_items = exporter._pleo_read(
            lambda: list(client.export_jobs.list_items(job.id, page_size=page_size))
        )
        todo = []
        for job_item in job_items:
            status = _export._status(job_item.status)
            if status in _export._OPEN_STATUSES:
                todo.append(job_item)
            else:
                run.skipped += 1
                run.previous_statuses.append(status)
        run.total = len(todo)
        items: dict[UUID, ExportItemV3] = {}
        if todo:
            try:
                items = {
                    item.accounting_entry_id: item
                    for item in exporter._pleo_read(
                        lambda: list(client.export_items.list(job.id, page_size=page_size))
                    )
                }
            except _export._MissingContraAccounts as missing:
                return JobFailure("missing_configuration", str(missing))
        # The export's order: items without export data first, then by (date, id).
        for job_item in sorted(
            (ji for ji in todo if ji.accounting_entry_id not in items),
            key=lambda ji: str(ji.accounting_entry_id),
        ):
            run.results.append(
                ItemResult(
                    accounting_entry_id=job_item.accounting_entry_id,
                    status="failed",
                    failure_type="unexpected_failure",
                    failure_reason="Pleo returned no export data for this expense; export it "
                    "again.",
                )
            )
        present = sorted(
            (items[ji.accounting_entry_id] for ji in todo if ji.accounting_entry_id in items),
            key=lambda item: (item.date, str(item.accounting_entry_id)),
        )
        for item in present:
            result, job_failure = self._item(run, item)
            run.results.append(result)
            if job_failure is not None:
                return job_failure
        return None

    def _plan(self, run: _export._JobRun, item: ExportItemV3) -> ReceiptPlan | DomainFailure:
        assert run.capabilities is not None
        if not self.config.receipts:
            return ReceiptPlan()
        try:
            return plan_receipts(item, run.capabilities)
        except DomainFailure as failure:
            return failure

    def _item(
        self, run: _export._JobRun, item: ExportItemV3
    ) -> tuple[ItemResult, JobFailure | None]:
        """What the export would do with ``item`` (same steps as ``_Exporter._process_item``)."""
        assert run.ctx is not None
        exporter = self.exporter
        aeid = item.accounting_entry_id
        item_type = enum_value(item.type)
        warnings: list[str] = []

        def failed(failure: ItemFailure) -> ItemResult:
            return ItemResult(
                accounting_entry_id=aeid,
                item_type=item_type,
                status="failed",
                failure_type=failure.failure_type,
                failure_reason=clean_message(failure.message),
                warnings=tuple(warnings),
            )

        try:
            method = resolve_method(item, self.config)
            validate_item(item, method, run.ctx)
            plan = self._plan(run, item)
            if isinstance(plan, DomainFailure):
                if self.config.receipt_failure == "fail":
                    raise plan
                warnings.append(f"receipts not attached: {plan.message}")
                plan = ReceiptPlan()
            existing = run.as_call(self.target.find_posted, aeid)
            if existing is not None:
                return ItemResult(
                    accounting_entry_id=aeid,
                    item_type=item_type,
                    status="successful",
                    external_id=existing.external_id,
                    external_url=existing.url,
                    posting_date=existing.posting_date,
                    already_posted=True,
                    attachments=len(existing.attachment_keys | plan.keys),
                    warnings=tuple(warnings),
                ), None
            vendor = exporter._resolve_vendor(run, item, method)
            entry = build_entry(item, method, run.ctx, vendor=vendor)
            entry = exporter._period_adjusted(run, entry, warnings)
            entry = self._validated(run, entry, warnings)
            names = tuple(spec.filename for spec in plan.receipts)
            return ItemResult(
                accounting_entry_id=aeid,
                item_type=item_type,
                status="successful",
                entry_kind=entry.kind,
                posting_date=entry.posting_date,
                attachments=len(plan.keys),
                warnings=tuple(warnings),
                entry=entry,
                attachment_names=names[:1] if plan.merge else names,
            ), None
        except DomainFailure as failure:
            return failed(failure.failure), None
        except AccountingSystemError as error:
            item_failure = failure_for_error(error, self.config.failure_type_overrides)
            if error.job_level:
                given_up = exporter._given_up(run, error)  # within the window: JobDeferred
                job_failure = given_up or JobFailure(
                    _export._job_failure_type(error), clean_message(error.message)
                )
                return failed(item_failure), job_failure
            return failed(item_failure), None
        except (_export._JobStopped, JobDeferred):
            raise
        except Exception as error:
            logger.warning("unexpected error previewing item %s: %s", aeid, type(error).__name__)
            return failed(unexpected_failure(error)), None

    def _validated(self, run: _export._JobRun, entry: Entry, warnings: list[str]) -> Entry:
        """Ask an :class:`EntryValidator` AS what ``post`` would say (a closed period is
        handled as the export handles it from ``post``: one alternative date, per policy)."""
        if not isinstance(self.target, EntryValidator):
            return entry
        validate: Callable[[Entry], None] = self.target.validate_entry
        try:
            run.as_call(validate, entry)
            return entry
        except ClosedPeriodError as closed:
            exporter = self.exporter
            new_date = alternative_posting_date(
                entry.posting_date,
                policy=self.config.closed_period,
                today=exporter.clock().date(),
                is_open=lambda d: run.as_call(self.target.is_period_open, d),
                next_open=lambda d: run.as_call(self.target.next_open_date, d),
                hint=closed.next_open,
                detail=clean_message(closed.message, 200),
            )
            warnings.append(
                f"period of {entry.posting_date.isoformat()} is closed; "
                f"posted on {new_date.isoformat()}"
            )
            moved = with_posting_date(entry, new_date)
            run.as_call(validate, moved)
            return moved


def _previewer(
    client: PleoClient,
    accounting_system: ExportTarget,
    config: ExportConfig | None,
    sleep: Callable[[float], None] | None,
    clock: Callable[[], datetime] | None,
    receipt_http_client: httpx.Client | None,
) -> _Preview:
    # No lock or lease: the preview writes nothing anywhere.
    runtime = ExportRuntime(
        config=config or ExportConfig(),
        journal=None,  # the preview writes no journal row
        clock=clock,
        receipt_http_client=receipt_http_client,
    )
    exporter = _PreviewExporter(
        client, accounting_system, runtime, owner="pleo-erp-preview", sleep=sleep or time.sleep
    )
    return _Preview(exporter)


def preview_export(
    client: PleoClient,
    accounting_system: ExportTarget,
    *,
    company_id: UUID | str,
    config: ExportConfig | None = None,
    max_jobs: int | None = None,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], datetime] | None = None,
    receipt_http_client: httpx.Client | None = None,
) -> ExportReport:
    """Preview the export of the company's queue: what each item would get (module docstring).

    Nothing is written to Pleo or the accounting system. Arguments as for
    :func:`~pleo_erp.export_expenses` (which calls this for ``dry_run=True``).
    """
    company = UUID(str(company_id))
    preview = _previewer(client, accounting_system, config, sleep, clock, receipt_http_client)
    exporter = preview.exporter
    meter = Meter.start(exporter)
    reports: list[JobReport] = []
    handled: set[UUID] = set()
    while max_jobs is None or len(reports) < max_jobs:
        job = _export._next_job(client, company, handled, exporter.config.page_size)
        if job is None:
            break
        handled.add(job.id)
        report = preview.job(job)
        reports.append(report)
        if report.interrupted or report.deferred or report.would_send == "failed":
            break  # the real run stops here too
    return export_report(meter, company, reports, dry_run=True)


def preview_job(
    client: PleoClient,
    accounting_system: ExportTarget,
    job_id: UUID | str,
    *,
    config: ExportConfig | None = None,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], datetime] | None = None,
    receipt_http_client: httpx.Client | None = None,
) -> ExportReport:
    """Preview one job by id (``process_job(..., dry_run=True)``); nothing is written."""
    job = client.export_jobs.get(UUID(str(job_id)))
    preview = _previewer(client, accounting_system, config, sleep, clock, receipt_http_client)
    meter = Meter.start(preview.exporter)
    return export_report(meter, job.company_id, [preview.job(job)], dry_run=True)
