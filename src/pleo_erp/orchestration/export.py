"""Level 1: take a company's Pleo export queue into the accounting system.

:func:`export_expenses` works through the queue, oldest job first; :func:`process_job` handles
one job (e.g. the one a ``v1.export-job.created`` webhook named). For each job, the seven steps
of Pleo's export workflow (Pleo's Export API reference, ``export-api.md``) and the AS-side pipeline
(``erp-processing.md``):

1. **Start** — a ``pending`` job gets ``started``; an ``in_progress`` one is an interrupted run
   and is resumed without it (DESIGN decision 4). A lost response is confirmed by re-reading
   the job, never by blindly re-sending.
2. **Validate** — the AS's readiness check, capabilities and accounts mapping; a failure fails
   the job with a *job-enum* reason.
3. **Job items** — every page; only ``pending`` / ``in_progress`` items are processed.
4. **Export items** — every page, before any posting; ``400 MISSING_CONTRA_ACCOUNTS`` fails
   the job (``missing_configuration``).
5. **Process** — per item, in a deterministic order (date, then id): bookkeeping method,
   per-item validation before any AS call, "already posted?" (exactly once), vendor, entry,
   receipts (downloaded ahead on a thread pool), accounting period, post.
6. **Report** — outcomes in batches of ≤100 as they complete (and at least every
   ``report_interval`` seconds), every per-item update error surfaced.
7. **Complete** — exactly one final event (DESIGN decision 3).

Failures are isolated: a bad item fails alone (C27). An AS outage, lost authentication or an
exhausted rate limit stops the job with ``failed`` and a job-level reason. Pleo errors that
survive the client's retries, a job that expired or was finished elsewhere (422), or an
exception from the progress callback leave the job as it is: the next run resumes it, asks the
AS before posting anything again, and converges.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any, Literal, TypeVar
from uuid import UUID

import httpx
from attrs import define, evolve

from pleo_erp.accounting_system.export import (
    AccountingSystemError,
    AccountingSystemTimeout,
    Attachment,
    Capabilities,
    ClosedPeriodError,
    Entry,
    ExportTarget,
    JobContext,
    PostedEntry,
    VendorAccount,
    with_posting_date,
)
from pleo_erp.accounting_system.sources import TaxCodeSource
from pleo_erp.client import PleoClient
from pleo_erp.client.errors import (
    BadRequest,
    NotFound,
    PleoConnectionError,
    PleoError,
    RateLimited,
    ServerError,
    Unprocessable,
)
from pleo_erp.client.files import is_loopback_host
from pleo_erp.domain.bookkeeping import (
    BookkeepingMethod,
    enum_value,
    resolve_method,
    vendor_match_keys,
)
from pleo_erp.domain.config import ExportConfig
from pleo_erp.domain.entries import EntryContext, build_entry
from pleo_erp.domain.failures import JobFailureType
from pleo_erp.domain.outcomes import (
    DomainFailure,
    ItemFailure,
    ItemOutcome,
    JobFailure,
    clean_message,
    failure_for_error,
    job_outcome,
    unexpected_failure,
)
from pleo_erp.domain.periods import alternative_posting_date
from pleo_erp.domain.receipts import ReceiptPlan, plan_receipts
from pleo_erp.domain.validation import validate_item
from pleo_erp.models import (
    ExportItemV3,
    ExportJobItemFailureReasonType,
    ExportJobItemStatus,
    ExportJobItemV3,
    ExportJobV3,
    UpdateExportJobItemV3,
)
from pleo_erp.orchestration._closed_periods import resolve_posting_date_in_words
from pleo_erp.orchestration._failures import report_unexpected, unexpected_job_message
from pleo_erp.orchestration._journal_check import confirm_journal_entry
from pleo_erp.orchestration._lease import export_lease, fenced_journal, resolve_lease_store
from pleo_erp.orchestration._readiness import JobDeferred, transient_give_up
from pleo_erp.orchestration._receipts import ReceiptFetcher
from pleo_erp.orchestration._session import JobSessionFailed, open_job_session
from pleo_erp.orchestration.locks import CompanyLock, InProcessLock
from pleo_erp.orchestration.report import (
    ExportReport,
    ItemResult,
    JobReport,
    ProgressCallback,
    ProgressEvent,
    UpdateError,
)
from pleo_erp.state.export_journal import ExportJournal
from pleo_erp.state.lease import LeaseKeeper, LeaseLost, LeaseStore, new_owner

__all__ = ["DEFAULT_LOCK", "export_expenses", "process_job"]

logger = logging.getLogger("pleo_erp.export")

DEFAULT_LOCK = InProcessLock()
"""The lock used when none is given: one export per company within this process."""

_OPEN_STATUSES = ("pending", "in_progress")
_FINAL_EVENT_STATUS = {
    "completed": "completed",
    "completed_with_errors": "completed_with_errors",
    "failed": "failed",
}
_RETRYABLE_UPDATE_ERRORS = frozenset(
    {"EXPORT_ENTRY_STATUS_UPDATE_FAILED", "ACCOUNTING_ENTRY_UPDATE_FAILED"}
)

_T = TypeVar("_T")


class _JobStopped(Exception):
    """The job cannot go on in this run (finished elsewhere, expired, Pleo unreachable)."""


class _JobLevelFailure(Exception):
    """An AS failure that makes the whole job fail."""

    def __init__(self, failure: JobFailure) -> None:
        super().__init__(failure.message)
        self.failure = failure


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _status(value: object) -> str:
    return "pending" if value is None else enum_value(value)


def _job_failure_type(error: AccountingSystemError) -> JobFailureType:
    return error.job_failure_type or "integration_unusable"


def _receipt_http_client(client: PleoClient) -> httpx.Client | None:
    """The ``httpx.Client`` under a ``PleoClient`` (in-process sandboxes need its transport)."""
    public = getattr(client, "http_client", None)
    if isinstance(public, httpx.Client):
        return public
    transport = getattr(client, "_transport", None)
    http = getattr(transport, "http", None)
    return http if isinstance(http, httpx.Client) else None


def _http_api_host(client: PleoClient) -> tuple[str, ...]:
    """The API host when the client talks plain http (a sandbox): its receipts may too."""
    url = httpx.URL(client.base_url)
    if url.scheme == "http" and url.host and not is_loopback_host(url.host):
        return (url.host,)
    return ()


@define(slots=True, kw_only=True)
class _Pending:
    """An outcome waiting to be reported, with its report row."""

    outcome: ItemOutcome
    result: ItemResult


class _JobRun:
    """One job, one run: the state the steps share."""

    def __init__(
        self,
        exporter: _Exporter,
        job: ExportJobV3,
    ) -> None:
        self.exporter = exporter
        self.client = exporter.client
        self.target = exporter.target
        self.config = exporter.config
        self.job = job
        self.results: list[ItemResult] = []
        self.result_index: dict[UUID, int] = {}
        self.batch: list[_Pending] = []
        self.update_errors: list[UpdateError] = []
        self.retry_updates: list[_Pending] = []
        self.previous_statuses: list[str] = []
        self.skipped = 0
        self.total = 0
        self.last_flush = exporter.monotonic()
        self.ctx: EntryContext | None = None
        self.capabilities: Capabilities | None = None

    # ------------------------------------------------------------------ AS calls

    def as_call(self, fn: Callable[..., _T], *args: Any) -> _T:
        """Call the AS, waiting out rate limits and short outages (bounded)."""
        attempt = 0
        while True:
            try:
                return fn(*args)
            except AccountingSystemError as error:
                if not error.retryable or attempt >= self.config.as_max_retries:
                    raise
                delay = getattr(error, "retry_after", None)
                if delay is None:
                    delay = self.config.as_retry_delay * (2**attempt)
                self.exporter.sleep(min(float(delay), self.config.as_max_retry_delay))
                attempt += 1

    # ------------------------------------------------------------------ events

    def send_event(
        self,
        event: Literal["started", "completed", "completed_with_errors", "failed"],
        *,
        reason: str | None = None,
        reason_type: JobFailureType | None = None,
    ) -> None:
        """Send one lifecycle event and make sure it took effect (lost responses included).

        On an ambiguous failure the job is re-read: if it is already in the target state the
        event is not sent again; if it is unchanged it is re-sent (bounded).
        """
        target = "in_progress" if event == "started" else _FINAL_EVENT_STATUS[event]
        self.exporter.lease_check(final=event != "started")
        for attempt in range(3):
            try:
                self.client.export_jobs.send_event(
                    self.job.id, event, failure_reason=reason, failure_reason_type=reason_type
                )
                return
            except PleoError as error:
                # A lost response (timeout, reset, 5xx) may hide an applied event, and a 422
                # may mean it was applied by an earlier attempt: the job's state decides.
                current = self._reread_status()
                if current == target:
                    return
                retryable = isinstance(error, (PleoConnectionError, ServerError, RateLimited))
                if not retryable or current not in _OPEN_STATUSES or attempt == 2:
                    raise _JobStopped(
                        f"could not send {event!r}: the job is {current!r} in Pleo ({error})"
                    ) from error
        raise AssertionError("unreachable")  # pragma: no cover

    def _reread_status(self) -> str:
        try:
            return _status(self.client.export_jobs.get(self.job.id).status)
        except PleoError as error:
            raise _JobStopped(f"could not re-read the job: {error}") from error

    # ------------------------------------------------------------------ reporting

    def add(self, outcome: ItemOutcome, result: ItemResult) -> None:
        """Queue an outcome; send the batch when full or when it is time."""
        self.batch.append(_Pending(outcome=outcome, result=result))
        if (
            len(self.batch) >= self.config.batch_size
            or self.exporter.monotonic() - self.last_flush >= self.config.report_interval
        ):
            self.flush()

    def flush(self) -> None:
        """Report the queued outcomes (one request; ≤ batch_size items)."""
        if not self.batch:
            return
        batch, self.batch = self.batch, []
        self._send(batch)
        self.last_flush = self.exporter.monotonic()
        self.exporter.lock_renew()
        if self.exporter.progress is not None:
            self.exporter.emit(
                ProgressEvent(
                    kind="batch_reported",
                    job_id=self.job.id,
                    done=len(self.results),
                    total=self.total,
                )
            )

    def _send(self, batch: Sequence[_Pending]) -> None:
        updates = [_update_model(p.outcome) for p in batch]
        self.exporter.lease_check()
        try:
            response = self.client.export_jobs.update_items(self.job.id, updates)
        except Unprocessable as error:
            raise _JobStopped(f"Pleo no longer accepts item updates: {error}") from error
        except PleoError as error:
            raise _JobStopped(f"reporting item outcomes failed: {error}") from error
        errors = {e.accounting_entry_id: e for e in response.errors}
        reported: list[UUID] = []
        for pending in batch:
            aeid = pending.outcome.accounting_entry_id
            refused = errors.get(aeid)
            index = self._index_of(aeid)
            if refused is None:
                reported.append(aeid)
                self.results[index] = evolve(pending.result, reported=True, report_error=None)
                continue
            kind = enum_value(refused.type)
            self.update_errors.append(
                UpdateError(accounting_entry_id=aeid, type=kind, message=refused.message)
            )
            self.results[index] = evolve(
                pending.result, reported=False, report_error=f"{kind}: {refused.message}"
            )
            if kind.upper() in _RETRYABLE_UPDATE_ERRORS:
                self.retry_updates.append(pending)
            logger.warning("Pleo refused the update of item %s: %s", aeid, kind)
        if self.exporter.journal is not None and reported:
            self.exporter.journal.mark_reported(reported)

    def _index_of(self, aeid: UUID) -> int:
        return self.result_index[aeid]

    def retry_failed_updates(self) -> None:
        """Re-send updates Pleo refused with a possibly transient error, once."""
        if not self.retry_updates:
            return
        retry, self.retry_updates = self.retry_updates, []
        before = len(self.update_errors)
        self._send(retry)
        # Errors that went away are no longer errors of this run.
        retried = {p.outcome.accounting_entry_id for p in retry}
        still = {e.accounting_entry_id for e in self.update_errors[before:]}
        self.update_errors = [
            e
            for e in self.update_errors[:before]
            if e.accounting_entry_id not in retried or e.accounting_entry_id in still
        ] + self.update_errors[before:]
        self.retry_updates = []


def _update_model(outcome: ItemOutcome) -> UpdateExportJobItemV3:
    if outcome.status == "successful":
        return UpdateExportJobItemV3(
            accounting_entry_id=outcome.accounting_entry_id,
            status=ExportJobItemStatus.SUCCESSFUL,
            exported_at=outcome.exported_at,
            external_id=outcome.external_id,
            external_url=outcome.external_url,
        )
    return UpdateExportJobItemV3(
        accounting_entry_id=outcome.accounting_entry_id,
        status=ExportJobItemStatus.FAILED,
        failure_reason=outcome.failure_reason,
        failure_reason_type=ExportJobItemFailureReasonType(outcome.failure_type),
    )


class _Exporter:
    """Everything a run needs; processes jobs one at a time."""

    def __init__(
        self,
        client: PleoClient,
        target: ExportTarget,
        *,
        config: ExportConfig,
        progress: ProgressCallback | None,
        journal: ExportJournal | None,
        lock: CompanyLock,
        lock_key: str,
        owner: str,
        sleep: Callable[[float], None],
        clock: Callable[[], datetime],
        monotonic: Callable[[], float],
        receipt_http_client: httpx.Client | None,
    ) -> None:
        self.client = client
        self.target = target
        self.config = config
        self.progress = progress
        self.journal = journal
        self.lock = lock
        self.lock_key = lock_key
        self.owner = owner
        self.sleep = sleep
        self.clock = clock
        self.monotonic = monotonic
        self.receipt_http = (
            receipt_http_client if receipt_http_client is not None else _receipt_http_client(client)
        )
        self.keeper: LeaseKeeper | None = None

    def use_lease(self, store: LeaseStore, keeper: LeaseKeeper) -> None:
        """Run under ``keeper``'s lease: checked before side effects, fencing the journal."""
        self.keeper = keeper
        self.journal = fenced_journal(self.journal, store, keeper)

    def lease_check(self, *, final: bool = False) -> None:
        """Raise ``LeaseLost`` before a side effect if the lease is gone (``final``: ask the
        store too, before the job's final event)."""
        if self.keeper is not None:
            if final:
                self.keeper.verify()
            else:
                self.keeper.check()

    def emit(self, event: ProgressEvent) -> None:
        """Call the progress callback (its exceptions abort the run on purpose)."""
        if self.progress is not None:
            self.progress(event)

    def lock_renew(self) -> None:
        """Progress made: the heartbeat keeps the lease; only make sure it still holds."""
        self.lease_check()

    def requests(self) -> int:
        """Pleo requests made so far by the client (every attempt counted)."""
        return self.client.request_count

    # ------------------------------------------------------------------ one job

    def run_job(self, job: ExportJobV3) -> JobReport:
        """Process ``job`` and return its report (see the module docstring)."""
        started_at = self.clock()
        t0 = self.monotonic()
        requests0 = self.requests()
        run = _JobRun(self, job)
        initial = _status(job.status)
        final_event: str | None = None
        failure: JobFailure | None = None
        interrupted: str | None = None
        deferred: JobDeferred | None = None
        try:
            if initial not in _OPEN_STATUSES:
                interrupted = f"job is already {initial}"
            else:
                final_event, failure = self._run(run, initial)
        except _JobStopped as stop:
            interrupted = str(stop)
            logger.warning("export job %s stopped: %s", job.id, stop)
        except JobDeferred as wait:  # transient AS trouble: the next run resumes the job
            deferred = wait
            logger.warning("export job %s deferred: %s", job.id, wait.deferral.message)
            try:
                run.flush()
            except _JobStopped as stop:
                interrupted = str(stop)
        report = JobReport(
            job_id=job.id,
            company_id=job.company_id,
            initial_status=initial,
            final_event=final_event,
            failure_type=failure.failure_type if failure else None,
            failure_reason=failure.message if failure else None,
            items=tuple(run.results),
            skipped=run.skipped,
            update_errors=tuple(run.update_errors),
            interrupted=interrupted,
            started_at=started_at,
            duration=self.monotonic() - t0,
            requests=self.requests() - requests0,
            deferred=deferred.deferral.message if deferred else None,
            deferred_failure_type=deferred.deferral.failure_type if deferred else None,
            give_up_at=deferred.deferral.give_up_at if deferred else None,
        )
        self.emit(
            ProgressEvent(
                kind="job_finished",
                job_id=job.id,
                done=len(run.results),
                total=run.total,
                job=report,
            )
        )
        return report

    def _run(self, run: _JobRun, initial: str) -> tuple[str, JobFailure | None]:
        job = run.job
        if initial == "pending":
            run.send_event("started")
            self.emit(ProgressEvent(kind="job_started", job_id=job.id))
        else:
            self.emit(ProgressEvent(kind="job_resumed", job_id=job.id))
        try:
            self._validate(run)
        except _JobLevelFailure as failed:
            return self._finish(run, failed.failure)
        job_items = self._pleo_read(
            lambda: list(
                self.client.export_jobs.list_items(job.id, page_size=self.config_page_size())
            )
        )
        todo: list[ExportJobItemV3] = []
        for job_item in job_items:
            status = _status(job_item.status)
            if status in _OPEN_STATUSES:
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
                    for item in self._pleo_read(
                        lambda: list(
                            self.client.export_items.list(job.id, page_size=self.config_page_size())
                        )
                    )
                }
            except _MissingContraAccounts as missing:
                return self._finish(run, JobFailure("missing_configuration", str(missing)))
        self.emit(ProgressEvent(kind="items_loaded", job_id=job.id, total=run.total))
        try:
            with open_job_session(self.target, job):
                job_failure = self._process_items(run, todo, items)
        except JobSessionFailed as failed:
            job_failure = failed.failure
        run.flush()
        run.retry_failed_updates()
        return self._finish(run, job_failure)

    def config_page_size(self) -> int | None:
        """Page size for Pleo lists (``None``: the server's default)."""
        return self.config.page_size

    def _pleo_read(self, read: Callable[[], _T]) -> _T:
        try:
            return read()
        except BadRequest as error:
            if error.is_type("MISSING_CONTRA_ACCOUNTS"):
                raise _MissingContraAccounts(
                    "Contra accounts are not fully mapped in Pleo's accounting settings; map an "
                    "account for every wallet currency in Pleo, then export again."
                ) from error
            raise _JobStopped(f"Pleo refused a read: {error}") from error
        except Unprocessable as error:
            raise _JobStopped(f"the job is finished or expired in Pleo: {error}") from error
        except NotFound as error:
            raise _JobStopped(f"the job no longer exists in Pleo: {error}") from error
        except PleoError as error:
            raise _JobStopped(f"reading from Pleo failed: {error}") from error

    def _finish(self, run: _JobRun, failure: JobFailure | None) -> tuple[str, JobFailure | None]:
        statuses = [*run.previous_statuses, *(r.status for r in run.results)]
        outcome = job_outcome(statuses, job_failure=failure)
        run.send_event(
            outcome.event, reason=outcome.failure_reason, reason_type=outcome.failure_type
        )
        return outcome.event, failure

    def _validate(self, run: _JobRun) -> None:
        job = run.job
        context = JobContext(
            job_id=job.id,
            company_id=job.company_id,
            vendor_based_bookkeeping=job.vendor_based_bookkeeping,
            number_of_items=job.number_of_items,
            created_at=job.created_at,
            is_interactive=job.is_interactive,
        )
        try:
            run.as_call(self.target.check_ready, context)
            capabilities = run.as_call(self.target.capabilities)
            mapping = run.as_call(self.target.accounts_mapping)
        except AccountingSystemError as error:
            failure_type: JobFailureType = error.job_failure_type or "invalid_configuration"
            raise _JobLevelFailure(
                self._given_up(run, error) or JobFailure(failure_type, clean_message(error.message))
            ) from error
        except Exception as error:  # an adapter bug must not leave the job stuck in progress
            reference = report_unexpected(logger, error, "in the readiness check of job %s", job.id)
            raise _JobLevelFailure(
                JobFailure("integration_unusable", unexpected_job_message(reference))
            ) from error
        if job.vendor_based_bookkeeping and not capabilities.supports_accounts_payable:
            raise _JobLevelFailure(
                JobFailure(
                    "invalid_configuration",
                    "The job uses vendor-based bookkeeping, but this accounting system "
                    "integration does not support accounts payable; turn vendor-based "
                    "bookkeeping off in Pleo or enable accounts payable in the integration.",
                )
            )
        run.capabilities = capabilities
        run.ctx = EntryContext.create(self.config, capabilities, mapping, self._tax_accounts(run))

    def _given_up(self, run: _JobRun, error: AccountingSystemError) -> JobFailure | None:
        """Defer the job on transient AS trouble (raises ``JobDeferred``); see ``_readiness``."""
        return transient_give_up(
            error,
            read_job=lambda: self._pleo_read(lambda: self.client.export_jobs.get(run.job.id)),
            now=self.clock(),
            config=self.config,
        )

    def _tax_accounts(self, run: _JobRun) -> dict[str, tuple[str | None, str | None]]:
        """The AS's tax-code accounts, when it also is a ``TaxCodeSource`` (optional help for
        lines whose tax names no account; a failed read just means no help)."""
        if not isinstance(self.target, TaxCodeSource):
            return {}
        try:
            codes = run.as_call(self.target.list_tax_codes)
        except Exception as error:  # the lookup is an optional extra
            logger.warning("could not read the AS's tax codes: %s", type(error).__name__)
            return {}
        return {c.code: (c.ingoing_tax_account, c.outgoing_tax_account) for c in codes}

    # ------------------------------------------------------------------ items

    def _process_items(
        self,
        run: _JobRun,
        todo: Sequence[ExportJobItemV3],
        items: dict[UUID, ExportItemV3],
    ) -> JobFailure | None:
        assert run.ctx is not None
        assert run.capabilities is not None
        missing = [ji for ji in todo if ji.accounting_entry_id not in items]
        # Processed items are dropped from ``items`` and ``ordered`` so that a big job's
        # payloads do not stay in memory next to what the AS keeps.
        present = [items[ji.accounting_entry_id] for ji in todo if ji.accounting_entry_id in items]
        present.sort(key=lambda item: (item.date, str(item.accounting_entry_id)))
        ordered: list[ExportItemV3 | None] = list(present)
        del present
        for job_item in sorted(missing, key=lambda ji: str(ji.accounting_entry_id)):
            failure = ItemFailure(
                "unexpected_failure",
                "Pleo returned no export data for this expense; export it again.",
            )
            self._record(run, ItemOutcome.failure(job_item.accounting_entry_id, failure), None)
        caps = run.capabilities
        accepts_zip = "zip" in {f.lower() for f in caps.attachment_formats}
        plans: dict[UUID, ReceiptPlan | DomainFailure] = {}

        def plan_for(item: ExportItemV3) -> ReceiptPlan | DomainFailure:
            aeid = item.accounting_entry_id
            if aeid not in plans:
                if not self.config.receipts:
                    plans[aeid] = ReceiptPlan()
                else:
                    try:
                        plans[aeid] = plan_receipts(item, caps)
                    except DomainFailure as failure:
                        plans[aeid] = failure
            return plans[aeid]

        with ReceiptFetcher(
            self.receipt_http,
            self.config,
            insecure_hosts=_http_api_host(self.client),
            sleep=self.sleep,
            accepts_zip=accepts_zip,
        ) as fetcher:
            window = self.config.receipt_prefetch
            scheduled = 0  # items [0, scheduled) had their downloads started
            for index in range(len(ordered)):
                item = ordered[index]
                assert item is not None
                while scheduled < min(index + window, len(ordered)):
                    upcoming = ordered[scheduled]
                    assert upcoming is not None
                    scheduled += 1
                    plan = plan_for(upcoming)
                    if isinstance(plan, ReceiptPlan) and not self._journal_says_posted(
                        run, upcoming
                    ):
                        fetcher.schedule(plan)
                try:
                    outcome, result = self._process_item(run, item, plan_for(item), fetcher)
                except _JobLevelFailure as failed:
                    return failed.failure
                finally:
                    fetcher.release(item.accounting_entry_id)
                    plans.pop(item.accounting_entry_id, None)
                    items.pop(item.accounting_entry_id, None)
                    ordered[index] = None
                self._record(run, outcome, result)
        return None

    def _record(self, run: _JobRun, outcome: ItemOutcome, result: ItemResult | None) -> None:
        if result is None:
            result = ItemResult(
                accounting_entry_id=outcome.accounting_entry_id,
                status=outcome.status,
                failure_type=outcome.failure_type,
                failure_reason=outcome.failure_reason,
            )
        run.result_index[result.accounting_entry_id] = len(run.results)
        run.results.append(result)
        if self.progress is not None:  # no event object per item when nobody listens
            self.emit(
                ProgressEvent(
                    kind="item_done",
                    job_id=run.job.id,
                    done=len(run.results),
                    total=run.total,
                    item=result,
                )
            )
        run.add(outcome, result)

    def _journal_says_posted(self, run: _JobRun, item: ExportItemV3) -> bool:
        if self.journal is None:
            return False
        record = self.journal.lookup(item.accounting_entry_id)
        return record is not None and not record.reported and record.job_id == run.job.id

    def _process_item(
        self,
        run: _JobRun,
        item: ExportItemV3,
        plan: ReceiptPlan | DomainFailure,
        fetcher: ReceiptFetcher,
    ) -> tuple[ItemOutcome, ItemResult]:
        assert run.ctx is not None
        aeid = item.accounting_entry_id
        item_type = enum_value(item.type)
        warnings: list[str] = []

        def failed(
            failure: ItemFailure, entry_kind: str | None = None
        ) -> tuple[ItemOutcome, ItemResult]:
            outcome = ItemOutcome.failure(aeid, failure)
            return outcome, ItemResult(
                accounting_entry_id=aeid,
                item_type=item_type,
                status="failed",
                failure_type=outcome.failure_type,
                failure_reason=outcome.failure_reason,
                entry_kind=entry_kind,
                warnings=tuple(warnings),
            )

        def succeeded(
            posted: PostedEntry, *, already: bool, kind: str | None, attachments: int
        ) -> tuple[ItemOutcome, ItemResult]:
            outcome = ItemOutcome.success(aeid, posted, self.clock())
            return outcome, ItemResult(
                accounting_entry_id=aeid,
                item_type=item_type,
                status="successful",
                external_id=posted.external_id,
                external_url=posted.url,
                entry_kind=kind,
                posting_date=posted.posting_date,
                already_posted=already,
                attachments=attachments,
                warnings=tuple(warnings),
            )

        # Crash repair from the local journal: posted in this job, never reported. The AS is
        # the source of truth: a journal row whose entry the AS lacks (a restored backup, a
        # hand edit) is posted again below, not reported as booked.
        try:
            if self._journal_says_posted(run, item):
                confirmed = confirm_journal_entry(run.as_call, self.target, aeid)
                if confirmed is not None:
                    keys = len(confirmed.attachment_keys)
                    return succeeded(confirmed, already=True, kind=None, attachments=keys)
            method = resolve_method(item, self.config)
            validate_item(item, method, run.ctx)
            if isinstance(plan, DomainFailure):
                if self.config.receipt_failure == "fail":
                    raise plan
                warnings.append(f"receipts not attached: {plan.message}")
                plan = ReceiptPlan()
            # --- AS calls start here (C5: invalid items never get this far).
            existing = run.as_call(self.target.find_posted, aeid)
            if existing is not None:
                attached = self._complete_attachments(run, existing, plan, fetcher, warnings)
                self._journal_posted(run, attached)
                return succeeded(
                    attached, already=True, kind=None, attachments=len(attached.attachment_keys)
                )
            vendor = self._resolve_vendor(run, item, method)
            entry = build_entry(item, method, run.ctx, vendor=vendor)
            entry = self._period_adjusted(run, entry, warnings)
            attachments = self._attachments(plan, fetcher, warnings)
            posted = self._post(run, entry, attachments, warnings)
            self._journal_posted(run, posted)
            return succeeded(posted, already=False, kind=entry.kind, attachments=len(attachments))
        except DomainFailure as failure:
            return failed(failure.failure)
        except AccountingSystemError as error:
            if error.job_level:
                given_up = self._given_up(run, error)  # within the window: JobDeferred
                item_failure = failure_for_error(error, self.config.failure_type_overrides)
                self._record(run, ItemOutcome.failure(aeid, item_failure), failed(item_failure)[1])
                raise _JobLevelFailure(
                    given_up or JobFailure(_job_failure_type(error), clean_message(error.message))
                ) from error
            return failed(failure_for_error(error, self.config.failure_type_overrides))
        except (_JobStopped, _JobLevelFailure, LeaseLost):
            raise
        except Exception as error:
            reference = report_unexpected(logger, error, "exporting item %s", aeid)
            return failed(unexpected_failure(error, reference=reference))

    def _journal_posted(self, run: _JobRun, posted: PostedEntry) -> None:
        if self.journal is not None:
            self.journal.record_posted(
                company_id=run.job.company_id, job_id=run.job.id, posted=posted
            )

    def _resolve_vendor(
        self, run: _JobRun, item: ExportItemV3, method: BookkeepingMethod
    ) -> VendorAccount | None:
        """C2–C4 and DESIGN decision 6: the AS vendor, or the fallback AP account, or a failure."""
        if method is not BookkeepingMethod.ACCOUNTS_PAYABLE:
            return None
        keys = vendor_match_keys(item, self.config)
        for key in keys:
            vendor = run.as_call(self.target.find_vendor, key)
            if vendor is None:
                continue
            if vendor.blocked:
                raise DomainFailure(
                    "vendor_unknown",
                    f"Vendor {vendor.name!r} is blocked in the accounting system and cannot be "
                    "booked against; unblock it in the accounting system or choose another "
                    "vendor in Pleo.",
                )
            return vendor
        if self.config.fallback_ap:
            return None
        name = (
            item.vendor.name
            if item.vendor is not None
            else (item.supplier.name if item.supplier is not None else None)
        )
        shown = f" {name!r}" if name else ""
        raise DomainFailure(
            "vendor_unknown",
            f"Vendor{shown} cannot be processed because it does not exist or is blocked in the "
            "accounting system; check the vendor there (and its code in Pleo), then export again.",
        )

    def _period_adjusted(self, run: _JobRun, entry: Entry, warnings: list[str]) -> Entry:
        today = self.clock().date()
        posting_date = resolve_posting_date_in_words(
            entry.posting_date,
            policy=self.config.closed_period,
            today=today,
            is_open=lambda d: run.as_call(self.target.is_period_open, d),
            next_open=lambda d: run.as_call(self.target.next_open_date, d),
        )
        if posting_date != entry.posting_date:
            warnings.append(
                f"period of {entry.posting_date.isoformat()} is closed; "
                f"posted on {posting_date.isoformat()}"
            )
            return with_posting_date(entry, posting_date)
        return entry

    def _attachments(
        self, plan: ReceiptPlan, fetcher: ReceiptFetcher, warnings: list[str]
    ) -> list[Attachment]:
        try:
            return fetcher.attachments(plan)
        except DomainFailure as failure:
            if self.config.receipt_failure == "fail":
                raise
            warnings.append(f"receipts not attached: {failure.message}")
            return []

    def _complete_attachments(
        self,
        run: _JobRun,
        existing: PostedEntry,
        plan: ReceiptPlan,
        fetcher: ReceiptFetcher,
        warnings: list[str],
    ) -> PostedEntry:
        """Upload receipts a previous run did not get to attach (C18: only missing keys)."""
        missing = plan.keys - existing.attachment_keys
        if not plan.receipts or not missing:
            return existing
        attachments = [a for a in self._attachments(plan, fetcher, warnings) if a.key in missing]
        if not attachments:
            return existing
        self.lease_check()
        try:
            return run.as_call(self.target.attach, existing, attachments)
        except AccountingSystemError as error:
            if error.job_level or self.config.receipt_failure == "fail":
                raise
            warnings.append(f"receipts not attached: {error.message}")
            return existing

    def _post(
        self, run: _JobRun, entry: Entry, attachments: list[Attachment], warnings: list[str]
    ) -> PostedEntry:
        """Post once; on a closed-period rejection move the date per policy (once); on an
        ambiguous failure ask the AS whether the entry landed before giving up."""
        aeid = entry.accounting_entry_id
        try:
            return self._post_once(run, entry, attachments)
        except ClosedPeriodError as closed:
            new_date = alternative_posting_date(
                entry.posting_date,
                policy=self.config.closed_period,
                today=self.clock().date(),
                is_open=lambda d: run.as_call(self.target.is_period_open, d),
                next_open=lambda d: run.as_call(self.target.next_open_date, d),
                hint=closed.next_open,
                detail=clean_message(closed.message, 200),
            )
            warnings.append(
                f"period of {entry.posting_date.isoformat()} is closed; "
                f"posted on {new_date.isoformat()}"
            )
            return self._post_once(run, with_posting_date(entry, new_date), attachments)
        except Exception as error:
            if isinstance(error, LeaseLost) or (
                isinstance(error, AccountingSystemError)
                and not (error.retryable or isinstance(error, AccountingSystemTimeout))
            ):
                raise
            landed = self._landed(run, aeid)
            if landed is not None:
                return landed
            raise

    def _post_once(self, run: _JobRun, entry: Entry, attachments: list[Attachment]) -> PostedEntry:
        """``post`` with bounded retries; before each retry, check that it did not land."""
        attempt = 0
        while True:
            self.lease_check()
            try:
                return self.target.post(entry, attachments)
            except AccountingSystemError as error:
                if not error.retryable or attempt >= self.config.as_max_retries:
                    raise
                landed = self._landed(run, entry.accounting_entry_id)
                if landed is not None:
                    return landed
                delay = getattr(error, "retry_after", None)
                if delay is None:
                    delay = self.config.as_retry_delay * (2**attempt)
                self.sleep(min(float(delay), self.config.as_max_retry_delay))
                attempt += 1

    def _landed(self, run: _JobRun, aeid: UUID) -> PostedEntry | None:
        try:
            return run.as_call(self.target.find_posted, aeid)
        except AccountingSystemError:
            return None


class _MissingContraAccounts(Exception):
    """Pleo answered 400 ``MISSING_CONTRA_ACCOUNTS``."""


# ---------------------------------------------------------------------- job selection


def _job_sort_key(job: ExportJobV3) -> tuple[int, datetime, str]:
    # An interrupted run first (Pleo allows one job in progress), then the oldest pending.
    in_progress = 0 if _status(job.status) == "in_progress" else 1
    return (in_progress, job.created_at, str(job.id))


def _next_job(
    client: PleoClient, company_id: UUID, exclude: set[UUID], page_size: int | None
) -> ExportJobV3 | None:
    jobs: list[ExportJobV3] = list(
        client.export_jobs.list(
            company_id=company_id, statuses=list(_OPEN_STATUSES), page_size=page_size
        )
    )
    candidates = [
        job for job in jobs if _status(job.status) in _OPEN_STATUSES and job.id not in exclude
    ]
    if not candidates:
        return None
    return min(candidates, key=_job_sort_key)


# ---------------------------------------------------------------------- public API


def _client_sleep(client: PleoClient) -> Callable[[float], None]:
    """The client's own sleep (a sandbox client's advances sandbox time), else ``time.sleep``."""
    sleep = getattr(client, "sleep", None)
    return sleep if callable(sleep) else time.sleep


def _exporter(
    client: PleoClient,
    accounting_system: ExportTarget,
    *,
    config: ExportConfig | None,
    progress: ProgressCallback | None,
    journal: ExportJournal | None,
    lock: CompanyLock,
    company_key: str,
    sleep: Callable[[float], None] | None,
    clock: Callable[[], datetime] | None,
    receipt_http_client: httpx.Client | None,
) -> _Exporter:
    wall = clock or _utcnow
    return _Exporter(
        client,
        accounting_system,
        config=config or ExportConfig(),
        progress=progress,
        journal=journal,
        lock=lock,
        lock_key=company_key,
        owner=new_owner(),
        sleep=sleep or _client_sleep(client),
        clock=wall,
        monotonic=(lambda: wall().timestamp()) if clock is not None else time.monotonic,
        receipt_http_client=receipt_http_client,
    )


def export_expenses(
    client: PleoClient,
    accounting_system: ExportTarget,
    *,
    company_id: UUID | str,
    config: ExportConfig | None = None,
    progress: ProgressCallback | None = None,
    lock: CompanyLock | None = None,
    journal: ExportJournal | None = None,
    max_jobs: int | None = None,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], datetime] | None = None,
    receipt_http_client: httpx.Client | None = None,
    dry_run: bool = False,
    lease_store: LeaseStore | None = None,
) -> ExportReport:
    """Export the company's queue into ``accounting_system``, oldest job first.

    An ``in_progress`` job (an interrupted run) is resumed first, then ``pending`` jobs are
    started one by one until none is left or ``max_jobs`` were handled. A job that is left
    unfinished (Pleo unreachable, job expired …) ends the call; the next call resumes it. A job
    that fails as a whole (the accounting system is not ready, configuration is missing) also
    ends the call, so one outage does not fail every pending job behind it.

    Args:
        client: a :class:`~pleo_erp.PleoClient`.
        accounting_system: the vendor's :class:`~pleo_erp.accounting_system.ExportTarget`.
        company_id: the Pleo company whose queue to export.
        config: an :class:`~pleo_erp.domain.config.ExportConfig` (defaults are safe).
        progress: called with a :class:`ProgressEvent` per step and item; an exception it
            raises aborts the run (the job stays resumable).
        lock: a legacy per-company lock (default: within this process); adapted to a lease.
        lease_store: where the company's lease ``export:<company_id>`` lives (e.g.
            :class:`~pleo_erp.state.SQLiteLeaseStore` on the state database); not together
            with ``lock``. The run holds it with a heartbeat, checks it before every side
            effect and stops with :class:`~pleo_erp.state.LeaseLost` if it was lost (the job
            stays ``in_progress`` for the holder to resume).
        journal: an optional :class:`~pleo_erp.state.export_journal.ExportJournal`.
        max_jobs: stop after this many jobs (``1``: only the oldest).
        sleep: how to wait between retries (injectable for tests); default: the client's
            own ``client.sleep`` (a sandbox client's advances sandbox time), which is
            ``time.sleep`` for a client built with defaults.
        clock: the current time as a UTC ``datetime`` (injectable for tests).
        receipt_http_client: the ``httpx.Client`` for receipt downloads (default: the one
            under ``client``, without its credentials).
        dry_run: preview only (:func:`pleo_erp.orchestration.preview.preview_export`): build
            every entry and failure, write nothing to Pleo, the AS, the journal or the lock.

    Returns:
        An :class:`ExportReport`. Raises :class:`ExportAlreadyRunning` if another worker holds
        the company's lock, and ``PleoError`` if the queue itself cannot be listed.
    """
    if dry_run:
        from pleo_erp.orchestration.preview import preview_export  # imports this module

        return preview_export(
            client,
            accounting_system,
            company_id=company_id,
            config=config,
            max_jobs=max_jobs,
            sleep=sleep,
            clock=clock,
            receipt_http_client=receipt_http_client,
        )
    company = UUID(str(company_id))
    chosen_lock = lock if lock is not None else DEFAULT_LOCK
    exporter = _exporter(
        client,
        accounting_system,
        config=config,
        progress=progress,
        journal=journal,
        lock=chosen_lock,
        company_key=str(company),
        sleep=sleep,
        clock=clock,
        receipt_http_client=receipt_http_client,
    )
    started_at = exporter.clock()
    t0 = exporter.monotonic()
    requests0 = exporter.requests()
    reports: list[JobReport] = []
    store, ttl = resolve_lease_store(lease_store, lock, DEFAULT_LOCK)
    with export_lease(store, company, exporter.owner, ttl=ttl) as keeper:
        exporter.use_lease(store, keeper)
        handled: set[UUID] = set()
        while max_jobs is None or len(reports) < max_jobs:
            job = _next_job(client, company, handled, exporter.config.page_size)
            if job is None:
                break
            handled.add(job.id)
            report = exporter.run_job(job)
            reports.append(report)
            if report.interrupted or report.deferred or report.final_event == "failed":
                # A job-level failure (AS not ready or unreachable, missing configuration)
                # would fail every later job the same way; leave them pending for a later run.
                break
    return ExportReport(
        company_id=company,
        jobs=tuple(reports),
        started_at=started_at,
        finished_at=exporter.clock(),
        duration=exporter.monotonic() - t0,
        requests=exporter.requests() - requests0,
    )


def process_job(
    client: PleoClient,
    accounting_system: ExportTarget,
    job_id: UUID | str,
    *,
    config: ExportConfig | None = None,
    progress: ProgressCallback | None = None,
    lock: CompanyLock | None = None,
    journal: ExportJournal | None = None,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], datetime] | None = None,
    receipt_http_client: httpx.Client | None = None,
    dry_run: bool = False,
    lease_store: LeaseStore | None = None,
) -> ExportReport:
    """Process one job by id (e.g. from a ``v1.export-job.created`` webhook).

    The job is read first; a finished job is reported as such and left alone. The same lock,
    steps and guarantees as :func:`export_expenses` apply; queue order is the caller's
    business (a webhook receiver usually calls :func:`export_expenses` instead, which also
    picks up older jobs). ``dry_run=True`` previews the job and writes nothing (see
    :func:`pleo_erp.orchestration.preview.preview_job`).
    """
    if dry_run:
        from pleo_erp.orchestration.preview import preview_job  # imports this module

        return preview_job(
            client,
            accounting_system,
            job_id,
            config=config,
            sleep=sleep,
            clock=clock,
            receipt_http_client=receipt_http_client,
        )
    exporter_clock = clock or _utcnow
    started_at = exporter_clock()
    job = client.export_jobs.get(UUID(str(job_id)))
    chosen_lock = lock if lock is not None else DEFAULT_LOCK
    exporter = _exporter(
        client,
        accounting_system,
        config=config,
        progress=progress,
        journal=journal,
        lock=chosen_lock,
        company_key=str(job.company_id),
        sleep=sleep,
        clock=clock,
        receipt_http_client=receipt_http_client,
    )
    t0 = exporter.monotonic()
    requests0 = exporter.requests()
    store, ttl = resolve_lease_store(lease_store, lock, DEFAULT_LOCK)
    with export_lease(store, job.company_id, exporter.owner, ttl=ttl) as keeper:
        exporter.use_lease(store, keeper)
        report = exporter.run_job(job)
    return ExportReport(
        company_id=job.company_id,
        jobs=(report,),
        started_at=started_at,
        finished_at=exporter.clock(),
        duration=exporter.monotonic() - t0,
        requests=exporter.requests() - requests0,
    )
