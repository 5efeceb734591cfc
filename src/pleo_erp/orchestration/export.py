"""Level 1: take a company's Pleo export queue into the accounting system.

:func:`export_expenses` works through the queue, oldest job first; :func:`process_job` handles
one job (e.g. the one a ``v1.export-job.created`` webhook named). :func:`export_expenses_async`
and :func:`process_job_async` are their ``async`` twins: they take an
:class:`~pleo_erp.AsyncPleoClient` and an :class:`~pleo_erp.accounting_system.AsyncExportTarget`
natively. All four run the same sans-I/O core (generators that yield effects, see
``_effects``); a blocking driver (threads) or an ``asyncio`` driver (tasks) does the I/O.

For each job, the seven steps of Pleo's export workflow (Pleo's Export API reference,
``export-api.md``) and the AS-side pipeline (``erp-processing.md``):

1. **Start** — a ``pending`` job gets ``started``; an ``in_progress`` one is an interrupted run
   and is resumed without it (DESIGN decision 4). A lost response is confirmed by re-reading
   the job, never by blindly re-sending.
2. **Validate** — the AS's readiness check, capabilities and accounts mapping; a failure fails
   the job with a *job-enum* reason.
3. **Job items** — every page; only the ids of ``pending`` / ``in_progress`` items are kept.
4. **Export items** — streamed page by page (the next page is fetched while the current one
   is posted); ``400 MISSING_CONTRA_ACCOUNTS`` fails the job (``missing_configuration``).
5. **Process** — per item, in a deterministic order (each page by date, then id): bookkeeping
   method, per-item validation before any AS call, "already posted?" (exactly once), vendor,
   entry, receipts (downloaded ahead on a thread pool), accounting period, post. Up to
   ``ExportConfig.post_concurrency`` items (capped by ``Capabilities.max_concurrent_posts``)
   are in the AS at once; a supplier payment starts only after its invoice (``_pipeline``).
6. **Report** — outcomes in batches of ≤100 as they complete (and at least every
   ``report_interval`` seconds), every per-item update error surfaced.
7. **Complete** — exactly one final event (DESIGN decision 3), after every outcome.

Failures are isolated: a bad item fails alone (C27). An AS outage, lost authentication or an
exhausted rate limit stops the job with ``failed`` and a job-level reason. Pleo errors that
survive the client's retries, a job that expired or was finished elsewhere (422), or an
exception from the progress callback leave the job as it is: the next run resumes it, asks the
AS before posting anything again, and converges. When a run stops with posts in flight, it
waits for them (never abandons a post halfway) and reports nothing more.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timezone
from itertools import chain
from typing import Any, Literal, TypeVar
from uuid import UUID

import httpx
from attrs import define, evolve

from pleo_erp.accounting_system.export import (
    AccountingSystemError,
    AccountingSystemTimeout,
    AsyncExportTarget,
    Attachment,
    Capabilities,
    ClosedPeriodError,
    Entry,
    ExportTarget,
    PostedEntry,
    VendorAccount,
    with_posting_date,
)
from pleo_erp.accounting_system.sources import TaxCodeSource
from pleo_erp.client import AsyncPleoClient, PleoClient
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
from pleo_erp.client.receipt_policy import ReceiptPolicy, attach_receipt_policy
from pleo_erp.client.resources.export_items import RawExportItemPage
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
    ExportJobV3,
    UpdateExportJobItemV3,
)
from pleo_erp.orchestration._closed_periods import resolve_posting_date_in_words
from pleo_erp.orchestration._effects import (
    AsCall,
    AsyncDriver,
    Blocking,
    Core,
    Done,
    EnterSession,
    ExitSession,
    NextPage,
    OpenPages,
    PleoCall,
    Sleep,
    Spawn,
    SyncDriver,
    WaitAny,
)
from pleo_erp.orchestration._failures import report_unexpected, unexpected_job_message
from pleo_erp.orchestration._heap import release_free_heap
from pleo_erp.orchestration._item_log import CompactIdSet, ItemResultLog, StatusTally
from pleo_erp.orchestration._lease import export_lease, fenced_journal, resolve_lease_store
from pleo_erp.orchestration._pipeline import (
    PostScheduler,
    effective_post_concurrency,
    processing_order,
)
from pleo_erp.orchestration._readiness import JobDeferred, is_transient, transient_give_up
from pleo_erp.orchestration._receipts import ReceiptFetcher
from pleo_erp.orchestration._reporting import JobEnd, Meter, export_report
from pleo_erp.orchestration._runtime import ExportRuntime
from pleo_erp.orchestration._session import JobSessionFailed, job_context, session_open_failure
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

__all__ = [
    "DEFAULT_LOCK",
    "ExportRuntime",
    "export_expenses",
    "export_expenses_async",
    "process_job",
    "process_job_async",
]

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

_Outcome = tuple[ItemOutcome, ItemResult]
_NOTHING_DONE = Done(0)


class _JobStopped(Exception):
    """The job cannot go on in this run (finished elsewhere, expired, Pleo unreachable)."""


class _JobLevelFailure(Exception):
    """An AS failure that makes the whole job fail (``item``: the failing item's outcome)."""

    def __init__(self, failure: JobFailure, item: _Outcome | None = None) -> None:
        super().__init__(failure.message)
        self.failure = failure
        self.item = item


class _NeedAnswer(Exception):
    """A pure date rule asked the AS something not answered yet (see ``_g_periods``)."""

    def __init__(self, method: str, on: date) -> None:
        super().__init__(method)
        self.key = (method, on)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _status(value: object) -> str:
    return "pending" if value is None else enum_value(value)


def _job_failure_type(error: AccountingSystemError) -> JobFailureType:
    return error.job_failure_type or "integration_unusable"


def _declared_max_posts(capabilities: Capabilities) -> int:
    """How many posts the adapter takes at once (``Capabilities.max_concurrent_posts``)."""
    return capabilities.max_concurrent_posts


def _receipt_http_client(client: PleoClient) -> httpx.Client | None:
    """The ``httpx.Client`` under a ``PleoClient`` (in-process sandboxes need its transport)."""
    public = getattr(client, "http_client", None)
    if isinstance(public, httpx.Client):
        return public
    transport = getattr(client, "_transport", None)
    http = getattr(transport, "http", None)
    return http if isinstance(http, httpx.Client) else None


def _async_receipt_http_client(client: AsyncPleoClient) -> httpx.Client:
    """A blocking ``httpx.Client`` for receipts next to an ``AsyncPleoClient``.

    Receipt downloads run on the fetcher's thread pool. An in-process sandbox's mock transport
    answers blocking requests too, so it is reused (nothing on the network: no addresses to
    check, its own origin trusted, as the sandbox's blocking client does); otherwise a fresh
    client without credentials (receipt links are pre-signed) under the production receipt
    policy, a loopback API's own origin trusted as ``PleoClient`` trusts it.
    """
    transport = getattr(client, "_transport", None)
    http = getattr(client, "http_client", None) or getattr(transport, "http", None)
    inner = getattr(http, "_transport", None)
    origin = (client.base_url,)
    if isinstance(inner, httpx.MockTransport):
        receipts = httpx.Client(transport=inner)
        attach_receipt_policy(receipts, ReceiptPolicy(check_addresses=False).with_origins(origin))
        return receipts
    receipts = httpx.Client(follow_redirects=False)
    if is_loopback_host(httpx.URL(client.base_url).host or ""):
        attach_receipt_policy(receipts, ReceiptPolicy().with_origins(origin))
    return receipts


def _http_api_host(client: PleoClient | AsyncPleoClient) -> tuple[str, ...]:
    """The API host when the client talks plain http (a sandbox): its receipts may too."""
    url = httpx.URL(client.base_url)
    if url.scheme == "http" and url.host and not is_loopback_host(url.host):
        return (url.host,)
    return ()


def _typed_page(page: Any) -> Any:
    """An export-item page fetched on another thread is typed on the consuming one
    (:class:`RawExportItemPage`); read errors mean for the job what they mean for any read."""
    if not isinstance(page, RawExportItemPage):
        return page
    try:
        return page.parse()
    except PleoError as error:
        raise _map_read_error(error) from error


def _map_read_error(error: PleoError) -> Exception:
    """What a failed Pleo read means for the job."""
    if isinstance(error, BadRequest):
        if error.is_type("MISSING_CONTRA_ACCOUNTS"):
            return _MissingContraAccounts(
                "Contra accounts are not fully mapped in Pleo's accounting settings; map an "
                "account for every wallet currency in Pleo, then export again."
            )
        return _JobStopped(f"Pleo refused a read: {error}")
    if isinstance(error, Unprocessable):
        return _JobStopped(f"the job is finished or expired in Pleo: {error}")
    if isinstance(error, NotFound):
        return _JobStopped(f"the job no longer exists in Pleo: {error}")
    return _JobStopped(f"reading from Pleo failed: {error}")


@define(slots=True, kw_only=True)
class _Pending:
    """An outcome waiting to be reported, with its report row."""

    outcome: ItemOutcome
    result: ItemResult


class _JobRun:
    """One job, one run: the state the steps share (only ids and outcomes of done items)."""

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
        self.results = ItemResultLog()  # compact: memory does not grow with the job
        self.result_index: dict[UUID, int] = {}
        self.batch: list[_Pending] = []
        self.update_errors: list[UpdateError] = []
        self.retry_updates: list[_Pending] = []
        self.previous_statuses = StatusTally()
        self.skipped = 0
        self.total = 0
        self.last_flush = exporter.monotonic()
        self.ctx: EntryContext | None = None
        self.capabilities: Capabilities | None = None

    # ------------------------------------------------------------------ AS calls

    def as_call(self, fn: Callable[..., _T], *args: Any) -> _T:
        """Call the AS (blocking), waiting out rate limits and short outages (bounded)."""
        attempt = 0
        while True:
            try:
                return fn(*args)
            except AccountingSystemError as error:
                if not error.retryable or attempt >= self.config.as_max_retries:
                    raise
                self.exporter.sleep(self._retry_delay(error, attempt))
                attempt += 1

    def g_as(self, method: str, *args: Any) -> Core[Any]:
        """Call the AS's ``method``, waiting out rate limits and short outages (bounded)."""
        attempt = 0
        while True:
            try:
                return (yield AsCall(method, args))
            except AccountingSystemError as error:
                if not error.retryable or attempt >= self.config.as_max_retries:
                    raise
                yield Sleep(self._retry_delay(error, attempt))
                attempt += 1

    def _retry_delay(self, error: AccountingSystemError, attempt: int) -> float:
        delay = getattr(error, "retry_after", None)
        if delay is None:
            delay = self.config.as_retry_delay * (2**attempt)
        return min(float(delay), self.config.as_max_retry_delay)

    # ------------------------------------------------------------------ events

    def g_send_event(
        self,
        event: Literal["started", "completed", "completed_with_errors", "failed"],
        *,
        reason: str | None = None,
        reason_type: JobFailureType | None = None,
    ) -> Core[None]:
        """Send one lifecycle event and make sure it took effect (lost responses included).

        On an ambiguous failure the job is re-read: if it is already in the target state the
        event is not sent again; if it is unchanged it is re-sent (bounded).
        """
        target = "in_progress" if event == "started" else _FINAL_EVENT_STATUS[event]
        self.exporter.lease_check(final=event != "started")
        for attempt in range(3):
            try:
                yield PleoCall(
                    "export_jobs",
                    "send_event",
                    (self.job.id, event),
                    {"failure_reason": reason, "failure_reason_type": reason_type},
                )
                return
            except PleoError as error:
                # A lost response (timeout, reset, 5xx) may hide an applied event, and a 422
                # may mean it was applied by an earlier attempt: the job's state decides.
                current = yield from self._g_reread_status()
                if current == target:
                    return
                retryable = isinstance(error, (PleoConnectionError, ServerError, RateLimited))
                if not retryable or current not in _OPEN_STATUSES or attempt == 2:
                    raise _JobStopped(
                        f"could not send {event!r}: the job is {current!r} in Pleo ({error})"
                    ) from error
        raise AssertionError("unreachable")  # pragma: no cover

    def _g_reread_status(self) -> Core[str]:
        try:
            job = yield PleoCall("export_jobs", "get", (self.job.id,))
        except PleoError as error:
            raise _JobStopped(f"could not re-read the job: {error}") from error
        return _status(job.status)

    # ------------------------------------------------------------------ reporting

    def g_add(self, outcome: ItemOutcome, result: ItemResult) -> Core[None]:
        """Queue an outcome; send the batch when full or when it is time."""
        self.batch.append(_Pending(outcome=outcome, result=result))
        if (
            len(self.batch) >= self.config.batch_size
            or self.exporter.monotonic() - self.last_flush >= self.config.report_interval
        ):
            yield from self.g_flush()

    def g_flush(self) -> Core[None]:
        """Report the queued outcomes (one request; ≤ batch_size items)."""
        if not self.batch:
            return
        batch, self.batch = self.batch, []
        yield from self._g_send(batch)
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

    def _g_send(self, batch: Sequence[_Pending]) -> Core[None]:
        updates = [_update_model(p.outcome) for p in batch]
        self.exporter.lease_check()
        try:
            response = yield PleoCall("export_jobs", "update_items", (self.job.id, updates))
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
                del self.result_index[aeid]  # done: keep only the outcome, not its index
                continue
            kind = enum_value(refused.type)
            self.update_errors.append(
                UpdateError(accounting_entry_id=aeid, type=kind, message=refused.message)
            )
            self.results[index] = evolve(
                pending.result, reported=False, report_error=f"{kind}: {refused.message}"
            )
            if kind.upper() in _RETRYABLE_UPDATE_ERRORS:
                self.retry_updates.append(pending)  # its index stays for the retry
            else:
                del self.result_index[aeid]
            logger.warning("Pleo refused the update of item %s: %s", aeid, kind)
        if self.exporter.journal is not None and reported:
            self.exporter.journal.mark_reported(reported)

    def _index_of(self, aeid: UUID) -> int:
        return self.result_index[aeid]

    def g_retry_failed_updates(self) -> Core[None]:
        """Re-send updates Pleo refused with a possibly transient error, once."""
        if not self.retry_updates:
            return
        retry, self.retry_updates = self.retry_updates, []
        before = len(self.update_errors)
        yield from self._g_send(retry)
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
    """The item update the export reports to Pleo for ``outcome``."""
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
    """Everything a run needs; processes jobs one at a time.

    The ``g_*`` methods are the sans-I/O core (generators of effects); ``driver`` runs them.
    The blocking methods without the prefix (``_validate``, ``_resolve_vendor`` …) run the
    same core on a private blocking driver, for the dry-run preview.
    """

    def __init__(
        self,
        client: Any,
        target: Any,
        runtime: ExportRuntime,
        *,
        owner: str,
        sleep: Callable[[float], Any],
        driver: SyncDriver | AsyncDriver | None = None,
        receipt_http_client: httpx.Client | None = None,
        receipt_sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.client = client
        self.target = target
        self.runtime = runtime
        self.config = runtime.config
        self.progress = runtime.progress
        self.journal = runtime.journal
        self.owner = owner
        self.sleep = sleep
        self.receipt_sleep: Callable[[float], None] = receipt_sleep or sleep
        self.clock = runtime.wall_clock()
        self.monotonic = runtime.monotonic()
        if receipt_http_client is not None:
            self.receipt_http: httpx.Client | None = receipt_http_client
        elif runtime.receipt_http_client is not None:
            self.receipt_http = runtime.receipt_http_client
        else:
            self.receipt_http = _receipt_http_client(client)
        self.keeper: LeaseKeeper | None = None
        self.driver = driver if driver is not None else SyncDriver(client, target, sleep=sleep)

    def blocking(self, core: Core[_T]) -> _T:
        """Run ``core`` to its end with blocking I/O (the preview's way)."""
        return SyncDriver(self.client, self.target, sleep=self.sleep).run(core)

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
        count: int = self.client.request_count
        return count

    def config_page_size(self) -> int | None:
        """Page size for Pleo lists (``None``: the server's default)."""
        return self.config.page_size

    # ------------------------------------------------------------------ one job

    def g_run_job(self, job: ExportJobV3) -> Core[JobReport]:
        """Process ``job`` and return its report (see the module docstring)."""
        meter = Meter.start(self)
        run = _JobRun(self, job)
        initial = _status(job.status)
        end = JobEnd()
        try:
            if initial not in _OPEN_STATUSES:
                end.interrupted = f"job is already {initial}"
            else:
                end.final_event, end.failure = yield from self._g_run(run, initial)
        except _JobStopped as stop:
            end.interrupted = str(stop)
            logger.warning("export job %s stopped: %s", job.id, stop)
        except JobDeferred as wait:  # transient AS trouble: the next run resumes the job
            end.deferred = wait
            logger.warning("export job %s deferred: %s", job.id, wait.deferral.message)
            try:
                yield from run.g_flush()
            except _JobStopped as stop:
                end.interrupted = str(stop)
        report = end.report(run, initial, meter)
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

    def _g_run(self, run: _JobRun, initial: str) -> Core[tuple[str, JobFailure | None]]:
        job = run.job
        if initial == "pending":
            yield from run.g_send_event("started")
            self.emit(ProgressEvent(kind="job_started", job_id=job.id))
        else:
            self.emit(ProgressEvent(kind="job_resumed", job_id=job.id))
        try:
            yield from self.g_validate(run)
        except _JobLevelFailure as failed:
            return (yield from self._g_finish(run, failed.failure))
        open_ids = yield from self._g_open_items(run)
        run.total = len(open_ids)
        job_failure: JobFailure | None = None
        if open_ids:
            try:
                job_failure = yield from self._g_in_session(
                    run, self._g_process_items(run, open_ids)
                )
            except JobSessionFailed as failed:
                job_failure = failed.failure
            except _MissingContraAccounts as missing:
                return (
                    yield from self._g_finish(
                        run, JobFailure("missing_configuration", str(missing))
                    )
                )
        else:
            self.emit(ProgressEvent(kind="items_loaded", job_id=job.id, total=0))
        yield from run.g_flush()
        yield from run.g_retry_failed_updates()
        return (yield from self._g_finish(run, job_failure))

    def _g_in_session(self, run: _JobRun, body: Core[_T]) -> Core[_T]:
        """Run ``body`` inside the target's ``job_session(job)``, when it has one (``_session``).

        A session that cannot be opened raises ``JobSessionFailed`` (nothing was posted); an
        exception ending the body reaches the session (to roll back) and is re-raised unless it
        suppresses it; a failure to close after a clean body is logged only (every post is
        already durable and reported).
        """
        if not callable(getattr(self.target, "job_session", None)):
            return (yield from body)
        try:
            session = yield EnterSession(job_context(run.job))
        except Exception as error:
            raise JobSessionFailed(session_open_failure(error)) from error
        try:
            result = yield from body
        except GeneratorExit:
            raise
        except BaseException as error:
            if not (yield ExitSession(session, error)):
                raise
            raise _JobStopped("the accounting system's job session ended the job") from error
        try:
            yield ExitSession(session, None)
        except Exception as error:  # posts are durable and reported; closing is best effort
            logger.error(
                "the accounting system's job session failed to close (%s)", type(error).__name__
            )
        return result

    def _g_open_items(self, run: _JobRun) -> Core[CompactIdSet]:
        """Stream the job items: count the finished ones, keep the ids of the open ones."""
        cursor = yield from self.g_pleo_read(
            OpenPages(
                "export_jobs", "list_items", (run.job.id,), {"page_size": self.config_page_size()}
            )
        )
        open_ids = CompactIdSet()
        while True:
            page = yield from self.g_pleo_read(NextPage(cursor))
            if page is None:
                return open_ids
            for job_item in page.items:
                status = _status(job_item.status)
                if status in _OPEN_STATUSES:
                    open_ids.add(job_item.accounting_entry_id)
                else:
                    run.skipped += 1
                    run.previous_statuses.append(status)

    def _pleo_read(self, read: Callable[[], _T]) -> _T:
        """A blocking Pleo read, its errors mapped to what they mean for the job."""
        try:
            return read()
        except PleoError as error:
            raise _map_read_error(error) from error

    def g_pleo_read(self, effect: Any) -> Core[Any]:
        """A Pleo read, its errors mapped to what they mean for the job."""
        try:
            return (yield effect)
        except PleoError as error:
            raise _map_read_error(error) from error

    def _g_finish(
        self, run: _JobRun, failure: JobFailure | None
    ) -> Core[tuple[str, JobFailure | None]]:
        statuses = chain(run.previous_statuses, run.results.statuses())
        outcome = job_outcome(statuses, job_failure=failure)
        yield from run.g_send_event(
            outcome.event, reason=outcome.failure_reason, reason_type=outcome.failure_type
        )
        return outcome.event, failure

    def _validate(self, run: _JobRun) -> None:
        """:meth:`g_validate`, blocking."""
        self.blocking(self.g_validate(run))

    def g_validate(self, run: _JobRun) -> Core[None]:
        """The AS's readiness, capabilities and mapping; ``_JobLevelFailure`` if unusable."""
        job = run.job
        context = job_context(job)
        try:
            yield from run.g_as("check_ready", context)
            capabilities = yield from run.g_as("capabilities")
            mapping = yield from run.g_as("accounts_mapping")
        except AccountingSystemError as error:
            failure_type: JobFailureType = error.job_failure_type or "invalid_configuration"
            given_up = yield from self.g_given_up(run, error)
            raise _JobLevelFailure(
                given_up or JobFailure(failure_type, clean_message(error.message))
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
        tax_accounts = yield from self._g_tax_accounts(run)
        run.ctx = EntryContext.create(self.config, capabilities, mapping, tax_accounts)

    def _given_up(self, run: _JobRun, error: AccountingSystemError) -> JobFailure | None:
        """:meth:`g_given_up`, blocking."""
        return self.blocking(self.g_given_up(run, error))

    def g_given_up(self, run: _JobRun, error: AccountingSystemError) -> Core[JobFailure | None]:
        """Defer the job on transient AS trouble (raises ``JobDeferred``); see ``_readiness``."""
        job = run.job
        if is_transient(error) and self.config.transient_give_up_after > 0:
            # The deferral is measured on the job's current expiry clock: re-read it.
            job = yield from self.g_pleo_read(PleoCall("export_jobs", "get", (run.job.id,)))
        fresh = job
        return transient_give_up(
            error, read_job=lambda: fresh, now=self.clock(), config=self.config
        )

    def _g_tax_accounts(self, run: _JobRun) -> Core[dict[str, tuple[str | None, str | None]]]:
        """The AS's tax-code accounts, when it also is a ``TaxCodeSource`` (optional help for
        lines whose tax names no account; a failed read just means no help)."""
        if not isinstance(self.target, TaxCodeSource):
            return {}
        try:
            codes = yield from run.g_as("list_tax_codes")
        except Exception as error:  # the lookup is an optional extra
            logger.warning("could not read the AS's tax codes: %s", type(error).__name__)
            return {}
        return {c.code: (c.ingoing_tax_account, c.outgoing_tax_account) for c in codes}

    # ------------------------------------------------------------------ items

    def _g_process_items(self, run: _JobRun, open_ids: CompactIdSet) -> Core[JobFailure | None]:
        """Stream the export items and process them, up to the post concurrency at once.

        Returns the job-level failure that stopped the job, if any. When a run stops (a crash,
        a lost lease, Pleo gone), the items in flight are waited for and nothing more starts.
        """
        assert run.ctx is not None
        assert run.capabilities is not None
        caps = run.capabilities
        limit = effective_post_concurrency(self.config.post_concurrency, _declared_max_posts(caps))
        scheduler = PostScheduler(limit)
        cursor = yield from self.g_pleo_read(
            OpenPages(
                "export_items",
                "list",
                (run.job.id,),
                {"page_size": self.config_page_size()},
                split=True,  # pages are typed here, in _typed_page (one malloc arena)
            )
        )
        first = yield from self.g_pleo_read(NextPage(cursor))  # MISSING_CONTRA_ACCOUNTS: here
        first = _typed_page(first)
        self.emit(ProgressEvent(kind="items_loaded", job_id=run.job.id, total=run.total))
        unseen = open_ids  # open job items whose export data has not come yet (owned here)

        more = False

        def take(page: Any) -> int:
            nonlocal more
            more = bool(page.has_next_page)
            fresh = [i for i in page.items if i.accounting_entry_id in unseen]
            for item in fresh:
                unseen.discard(item.accounting_entry_id)
            scheduler.extend(processing_order(fresh))
            release_free_heap()  # the page's JSON buffers are freed by now
            return len(page.items)

        low_water = take(first) if first is not None else 0
        del first  # the queue holds the items; the page object must not outlive them
        page_handle: int | None = None
        accepts_zip = "zip" in {f.lower() for f in caps.attachment_formats}
        plans: dict[UUID, ReceiptPlan | DomainFailure] = {}
        considered: set[UUID] = set()  # items whose receipts were scheduled (or need none)

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

        def prefetch(item: ExportItemV3, fetcher: ReceiptFetcher) -> None:
            aeid = item.accounting_entry_id
            if aeid in considered:
                return
            considered.add(aeid)
            plan = plan_for(item)
            if isinstance(plan, ReceiptPlan) and not self._journal_says_posted(run, item):
                fetcher.schedule(plan)

        in_flight: dict[int, ExportItemV3] = {}
        stop: BaseException | None = None
        job_failure: JobFailure | None = None
        with ReceiptFetcher(
            self.receipt_http,
            self.config,
            insecure_hosts=_http_api_host(self.client),
            sleep=self.receipt_sleep,
            accepts_zip=accepts_zip,
            # The blocking driver may connect and send from its own thread; the ``async`` one
            # must not block its event loop, so its downloads stay on pool threads.
            send_ahead=isinstance(self.driver, SyncDriver),
        ) as fetcher:
            while True:
                if stop is None and job_failure is None:
                    if more and page_handle is None and scheduler.queued <= low_water:
                        # Pipelining: the next page comes while this one is being posted; the
                        # queue never holds much more than two pages of payloads.
                        release_free_heap()  # the next page's buffers reuse what was freed
                        page_handle = yield Spawn(self.g_pleo_read(NextPage(cursor)), lane="pages")
                    while (item := scheduler.next_ready()) is not None:
                        prefetch(item, fetcher)
                        window = self.config.receipt_prefetch - 1
                        for upcoming in scheduler.upcoming_unseen(window, considered):
                            prefetch(upcoming, fetcher)
                        handle = yield Spawn(
                            self._g_process_item(run, item, plan_for(item), fetcher),
                            inline=limit == 1,
                        )
                        in_flight[handle] = item
                if not in_flight and page_handle is None:
                    break
                finished = yield WaitAny()
                for done in finished:
                    if done.handle == page_handle:
                        page_handle = None
                        if done.error is not None:
                            stop = stop or done.error
                        elif done.value is None:
                            more = False
                        else:
                            try:  # typed here, on this thread (see RawExportItemPage)
                                page = _typed_page(done.value)
                            except Exception as error:
                                stop = stop or error
                            else:
                                low_water = max(low_water, take(page))
                                del page
                        continue
                    item = in_flight.pop(done.handle)
                    scheduler.finished(item)
                    aeid = item.accounting_entry_id
                    fetcher.release(aeid)
                    plans.pop(aeid, None)
                    considered.discard(aeid)
                    record: _Outcome | None = None
                    if done.error is None:
                        record = done.value
                    elif isinstance(done.error, _JobLevelFailure):
                        record = done.error.item
                        job_failure = job_failure or done.error.failure
                    else:
                        stop = stop or done.error
                    if record is None:
                        continue
                    try:
                        yield from self._g_record(run, *record, quiet=stop is not None)
                    except GeneratorExit:
                        raise
                    except BaseException as error:  # drained below, then re-raised
                        stop = stop or error
                # No page or item outlives its turn in this frame.
                finished, done = [], _NOTHING_DONE
        if stop is not None:
            if isinstance(stop, _MissingContraAccounts):
                return JobFailure("missing_configuration", str(stop))
            raise stop
        if job_failure is not None:
            return job_failure
        for aeid in sorted(unseen, key=str):
            failure = ItemFailure(
                "unexpected_failure",
                "Pleo returned no export data for this expense; export it again.",
            )
            yield from self._g_record(run, ItemOutcome.failure(aeid, failure), None)
        return None

    def _g_record(
        self,
        run: _JobRun,
        outcome: ItemOutcome,
        result: ItemResult | None,
        *,
        quiet: bool = False,
    ) -> Core[None]:
        """Keep an item's outcome and queue it for reporting (``quiet``: the run is stopping:
        no progress event, no request)."""
        if result is None:
            result = ItemResult(
                accounting_entry_id=outcome.accounting_entry_id,
                status=outcome.status,
                failure_type=outcome.failure_type,
                failure_reason=outcome.failure_reason,
            )
        run.result_index[result.accounting_entry_id] = len(run.results)
        run.results.append(result)
        if quiet:
            run.batch.append(_Pending(outcome=outcome, result=result))
            return
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
        yield from run.g_add(outcome, result)

    def _journal_says_posted(self, run: _JobRun, item: ExportItemV3) -> bool:
        if self.journal is None:
            return False
        record = self.journal.lookup(item.accounting_entry_id)
        return record is not None and not record.reported and record.job_id == run.job.id

    def _g_process_item(
        self,
        run: _JobRun,
        item: ExportItemV3,
        plan: ReceiptPlan | DomainFailure,
        fetcher: ReceiptFetcher,
    ) -> Core[_Outcome]:
        """One item, from validation to post (runs concurrently with other items)."""
        assert run.ctx is not None
        aeid = item.accounting_entry_id
        item_type = enum_value(item.type)
        warnings: list[str] = []

        def failed(failure: ItemFailure, entry_kind: str | None = None) -> _Outcome:
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
        ) -> _Outcome:
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
        # hand edit) is posted again below, not reported as booked (``_journal_check``).
        try:
            if self._journal_says_posted(run, item):
                confirmed = yield from run.g_as("find_posted", aeid)
                if confirmed is not None:
                    keys = len(confirmed.attachment_keys)
                    return succeeded(confirmed, already=True, kind=None, attachments=keys)
                logger.warning(
                    "the export journal records item %s as posted, but the accounting system "
                    "has no entry for it (restored or edited?); posting it again",
                    aeid,
                )
            method = resolve_method(item, self.config)
            validate_item(item, method, run.ctx)
            if isinstance(plan, DomainFailure):
                if self.config.receipt_failure == "fail":
                    raise plan
                warnings.append(f"receipts not attached: {plan.message}")
                plan = ReceiptPlan()
            # --- AS calls start here (C5: invalid items never get this far).
            existing = yield from run.g_as("find_posted", aeid)
            if existing is not None:
                attached = yield from self._g_complete_attachments(
                    run, existing, plan, fetcher, warnings
                )
                self._journal_posted(run, attached)
                return succeeded(
                    attached, already=True, kind=None, attachments=len(attached.attachment_keys)
                )
            vendor = yield from self.g_resolve_vendor(run, item, method)
            entry = build_entry(item, method, run.ctx, vendor=vendor)
            entry = yield from self.g_period_adjusted(run, entry, warnings)
            attachments = yield from self._g_attachments(plan, fetcher, warnings)
            posted = yield from self._g_post(run, entry, attachments, warnings)
            self._journal_posted(run, posted)
            return succeeded(posted, already=False, kind=entry.kind, attachments=len(attachments))
        except DomainFailure as failure:
            return failed(failure.failure)
        except AccountingSystemError as error:
            if error.job_level:
                given_up = yield from self.g_given_up(run, error)  # in the window: JobDeferred
                item_failure = failure_for_error(error, self.config.failure_type_overrides)
                raise _JobLevelFailure(
                    given_up or JobFailure(_job_failure_type(error), clean_message(error.message)),
                    failed(item_failure),
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
        """:meth:`g_resolve_vendor`, blocking."""
        return self.blocking(self.g_resolve_vendor(run, item, method))

    def g_resolve_vendor(
        self, run: _JobRun, item: ExportItemV3, method: BookkeepingMethod
    ) -> Core[VendorAccount | None]:
        """C2–C4 and DESIGN decision 6: the AS vendor, or the fallback AP account, or a failure."""
        if method is not BookkeepingMethod.ACCOUNTS_PAYABLE:
            return None
        keys = vendor_match_keys(item, self.config)
        for key in keys:
            vendor: VendorAccount | None = yield from run.g_as("find_vendor", key)
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

    def _g_periods(
        self,
        run: _JobRun,
        rule: Callable[[Callable[[date], bool], Callable[[date], date | None]], date],
    ) -> Core[date]:
        """Evaluate a pure closed-period ``rule(is_open, next_open)`` against the AS.

        The rule is replayed: a question not answered yet stops it (``_NeedAnswer``), the AS
        is asked, and the rule runs again with every answer so far. A ``ClosedPeriodError``
        answer is raised to the rule where it asked, as a blocking callback would have.
        """
        answers: dict[tuple[str, date], Any] = {}

        def ask(method: str) -> Callable[[date], Any]:
            def answer(on: date) -> Any:
                key = (method, on)
                if key not in answers:
                    raise _NeedAnswer(method, on)
                found = answers[key]
                if isinstance(found, ClosedPeriodError):
                    raise found
                return found

            return answer

        while True:
            try:
                return rule(ask("is_period_open"), ask("next_open_date"))
            except _NeedAnswer as need:
                method, on = need.key
                try:
                    answers[need.key] = yield from run.g_as(method, on)
                except ClosedPeriodError as closed:
                    answers[need.key] = closed

    def _period_adjusted(self, run: _JobRun, entry: Entry, warnings: list[str]) -> Entry:
        """:meth:`g_period_adjusted`, blocking."""
        return self.blocking(self.g_period_adjusted(run, entry, warnings))

    def g_period_adjusted(self, run: _JobRun, entry: Entry, warnings: list[str]) -> Core[Entry]:
        """The entry on an open date (C21), per the closed-period policy."""
        today = self.clock().date()
        posting_date = yield from self._g_periods(
            run,
            lambda is_open, next_open: resolve_posting_date_in_words(
                entry.posting_date,
                policy=self.config.closed_period,
                today=today,
                is_open=is_open,
                next_open=next_open,
            ),
        )
        if posting_date != entry.posting_date:
            warnings.append(
                f"period of {entry.posting_date.isoformat()} is closed; "
                f"posted on {posting_date.isoformat()}"
            )
            return with_posting_date(entry, posting_date)
        return entry

    def _g_attachments(
        self, plan: ReceiptPlan, fetcher: ReceiptFetcher, warnings: list[str]
    ) -> Core[list[Attachment]]:
        if not plan.receipts:
            return []
        try:
            attachments: list[Attachment] = yield Blocking(fetcher.attachments, (plan,))
            return attachments
        except DomainFailure as failure:
            if self.config.receipt_failure == "fail":
                raise
            warnings.append(f"receipts not attached: {failure.message}")
            return []

    def _g_complete_attachments(
        self,
        run: _JobRun,
        existing: PostedEntry,
        plan: ReceiptPlan,
        fetcher: ReceiptFetcher,
        warnings: list[str],
    ) -> Core[PostedEntry]:
        """Upload receipts a previous run did not get to attach (C18: only missing keys)."""
        missing = plan.keys - existing.attachment_keys
        if not plan.receipts or not missing:
            return existing
        fetched = yield from self._g_attachments(plan, fetcher, warnings)
        attachments = [a for a in fetched if a.key in missing]
        if not attachments:
            return existing
        self.lease_check()
        try:
            attached: PostedEntry = yield from run.g_as("attach", existing, attachments)
            return attached
        except AccountingSystemError as error:
            if error.job_level or self.config.receipt_failure == "fail":
                raise
            warnings.append(f"receipts not attached: {error.message}")
            return existing

    def _g_post(
        self, run: _JobRun, entry: Entry, attachments: list[Attachment], warnings: list[str]
    ) -> Core[PostedEntry]:
        """Post once; on a closed-period rejection move the date per policy (once); on an
        ambiguous failure ask the AS whether the entry landed before giving up."""
        aeid = entry.accounting_entry_id
        try:
            return (yield from self._g_post_once(run, entry, attachments))
        except ClosedPeriodError as closed:
            today = self.clock().date()
            hint, detail = closed.next_open, clean_message(closed.message, 200)
            new_date = yield from self._g_periods(
                run,
                lambda is_open, next_open: alternative_posting_date(
                    entry.posting_date,
                    policy=self.config.closed_period,
                    today=today,
                    is_open=is_open,
                    next_open=next_open,
                    hint=hint,
                    detail=detail,
                ),
            )
            warnings.append(
                f"period of {entry.posting_date.isoformat()} is closed; "
                f"posted on {new_date.isoformat()}"
            )
            moved = with_posting_date(entry, new_date)
            return (yield from self._g_post_once(run, moved, attachments))
        except Exception as error:
            if isinstance(error, LeaseLost) or (
                isinstance(error, AccountingSystemError)
                and not (error.retryable or isinstance(error, AccountingSystemTimeout))
            ):
                raise
            landed = yield from self._g_landed(run, aeid)
            if landed is not None:
                return landed
            raise

    def _g_post_once(
        self, run: _JobRun, entry: Entry, attachments: list[Attachment]
    ) -> Core[PostedEntry]:
        """``post`` with bounded retries; before each retry, check that it did not land."""
        attempt = 0
        while True:
            self.lease_check()  # before every post, with any number in flight
            try:
                posted: PostedEntry = yield AsCall("post", (entry, attachments))
                return posted
            except AccountingSystemError as error:
                if not error.retryable or attempt >= self.config.as_max_retries:
                    raise
                landed = yield from self._g_landed(run, entry.accounting_entry_id)
                if landed is not None:
                    return landed
                yield Sleep(run._retry_delay(error, attempt))
                attempt += 1

    def _g_landed(self, run: _JobRun, aeid: UUID) -> Core[PostedEntry | None]:
        try:
            found: PostedEntry | None = yield from run.g_as("find_posted", aeid)
            return found
        except AccountingSystemError:
            return None


class _MissingContraAccounts(Exception):
    """Pleo answered 400 ``MISSING_CONTRA_ACCOUNTS``."""


# ---------------------------------------------------------------------- job selection


def _job_sort_key(job: ExportJobV3) -> tuple[int, datetime, str]:
    # An interrupted run first (Pleo allows one job in progress), then the oldest pending.
    in_progress = 0 if _status(job.status) == "in_progress" else 1
    return (in_progress, job.created_at, str(job.id))


def _pick_job(jobs: Sequence[ExportJobV3], exclude: set[UUID]) -> ExportJobV3 | None:
    candidates = [
        job for job in jobs if _status(job.status) in _OPEN_STATUSES and job.id not in exclude
    ]
    if not candidates:
        return None
    return min(candidates, key=_job_sort_key)


def _next_job(
    client: PleoClient, company_id: UUID, exclude: set[UUID], page_size: int | None
) -> ExportJobV3 | None:
    jobs: list[ExportJobV3] = list(
        client.export_jobs.list(
            company_id=company_id, statuses=list(_OPEN_STATUSES), page_size=page_size
        )
    )
    return _pick_job(jobs, exclude)


def _g_next_job(
    company_id: UUID, exclude: set[UUID], page_size: int | None
) -> Core[ExportJobV3 | None]:
    cursor = yield OpenPages(
        "export_jobs",
        "list",
        (),
        {"company_id": company_id, "statuses": list(_OPEN_STATUSES), "page_size": page_size},
    )
    jobs: list[ExportJobV3] = []
    while (page := (yield NextPage(cursor))) is not None:
        jobs.extend(page.items)
    return _pick_job(jobs, exclude)


def _g_queue(exporter: _Exporter, company: UUID, max_jobs: int | None) -> Core[list[JobReport]]:
    """The queue, oldest job first, until empty, ``max_jobs``, or a job that stops the run."""
    reports: list[JobReport] = []
    handled: set[UUID] = set()
    while max_jobs is None or len(reports) < max_jobs:
        job = yield from _g_next_job(company, handled, exporter.config.page_size)
        if job is None:
            break
        handled.add(job.id)
        report = yield from exporter.g_run_job(job)
        reports.append(report)
        if report.interrupted or report.deferred or report.final_event == "failed":
            # A job-level failure (AS not ready or unreachable, missing configuration)
            # would fail every later job the same way; leave them pending for a later run.
            break
    return reports


# ---------------------------------------------------------------------- public API


def _client_sleep(client: PleoClient) -> Callable[[float], None]:
    """The client's own sleep (a sandbox client's advances sandbox time), else ``time.sleep``."""
    sleep = getattr(client, "sleep", None)
    return sleep if callable(sleep) else time.sleep


def _runtime(
    config: ExportConfig | None,
    progress: ProgressCallback | None,
    lock: CompanyLock | None,
    lease_store: LeaseStore | None,
    journal: ExportJournal | None,
    sleep: Callable[[float], Any] | None,
    clock: Callable[[], datetime] | None,
    receipt_http_client: httpx.Client | None,
) -> ExportRuntime:
    return ExportRuntime(
        config=config or ExportConfig(),
        progress=progress,
        lock=lock,
        lease_store=lease_store,
        journal=journal,
        sleep=sleep,
        clock=clock,
        receipt_http_client=receipt_http_client,
    )


def _sync_exporter(client: PleoClient, target: ExportTarget, runtime: ExportRuntime) -> _Exporter:
    sleep = runtime.sleep or _client_sleep(client)
    workers = runtime.config.post_concurrency
    return _Exporter(
        client,
        target,
        runtime,
        owner=new_owner(),
        sleep=sleep,
        driver=SyncDriver(client, target, sleep=sleep, workers=workers),
    )


@contextmanager
def _leased(
    exporter: _Exporter, company: UUID, lease_store: LeaseStore | None, lock: CompanyLock | None
) -> Iterator[None]:
    """Hold the company's export lease for the block; the exporter checks it before writes."""
    store, ttl = resolve_lease_store(lease_store, lock, DEFAULT_LOCK)
    with export_lease(store, company, exporter.owner, ttl=ttl) as keeper:
        exporter.use_lease(store, keeper)
        yield


def _drive(
    exporter: _Exporter,
    company: UUID,
    lease_store: LeaseStore | None,
    lock: CompanyLock | None,
    core: Core[_T],
) -> _T:
    """Run ``core`` on the exporter's :class:`SyncDriver` under the company's lease."""
    driver = exporter.driver
    assert isinstance(driver, SyncDriver)
    with _leased(exporter, company, lease_store, lock):
        try:
            return driver.run(core)
        finally:
            driver.close()


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
        config: an :class:`~pleo_erp.domain.config.ExportConfig` (defaults are safe);
            ``post_concurrency`` posts up to that many items at once on a thread pool
            (capped by the adapter's ``Capabilities.max_concurrent_posts``).
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
    runtime = _runtime(
        config, progress, lock, lease_store, journal, sleep, clock, receipt_http_client
    )
    company = UUID(str(company_id))
    exporter = _sync_exporter(client, accounting_system, runtime)
    meter = Meter.start(exporter)
    queue = _g_queue(exporter, company, max_jobs)
    return export_report(meter, company, _drive(exporter, company, lease_store, lock, queue))


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
    runtime = _runtime(
        config, progress, lock, lease_store, journal, sleep, clock, receipt_http_client
    )
    started_at = runtime.wall_clock()()
    job = client.export_jobs.get(UUID(str(job_id)))
    exporter = _sync_exporter(client, accounting_system, runtime)
    meter = Meter.start(exporter, started_at)
    report = _drive(exporter, job.company_id, lease_store, lock, exporter.g_run_job(job))
    return export_report(meter, job.company_id, [report])


# ---------------------------------------------------------------------- the async driver


def _async_client_sleep(client: AsyncPleoClient) -> Callable[[float], Awaitable[None]]:
    """The client's own async sleep (a sandbox client's advances sandbox time)."""
    import asyncio

    sleep = getattr(client, "sleep", None)
    return sleep if callable(sleep) else asyncio.sleep


def _async_exporter(
    client: AsyncPleoClient, target: AsyncExportTarget | ExportTarget, runtime: ExportRuntime
) -> tuple[_Exporter, httpx.Client | None]:
    """The exporter on an :class:`AsyncDriver`, and a receipt client it owns (to close)."""
    sleep = runtime.sleep or _async_client_sleep(client)
    owned = None
    receipts = runtime.receipt_http_client
    if receipts is None:
        receipts = owned = _async_receipt_http_client(client)
    exporter = _Exporter(
        client,
        target,
        runtime,
        owner=new_owner(),
        sleep=sleep,
        driver=AsyncDriver(client, target, sleep=sleep),
        receipt_http_client=receipts,
        # Receipt downloads retry on the fetcher's threads, where only a blocking wait works.
        receipt_sleep=time.sleep,
    )
    return exporter, owned


async def _drive_async(
    exporter: _Exporter,
    owned: httpx.Client | None,
    company: UUID,
    lease_store: LeaseStore | None,
    lock: CompanyLock | None,
    core: Core[_T],
) -> _T:
    """Run ``core`` on the exporter's :class:`AsyncDriver` under the company's lease, then
    close the receipt client the run ``owned``."""
    driver = exporter.driver
    assert isinstance(driver, AsyncDriver)
    try:
        with _leased(exporter, company, lease_store, lock):
            try:
                return await driver.run(core)
            finally:
                await driver.close()
    finally:
        if owned is not None:
            owned.close()


async def export_expenses_async(
    client: AsyncPleoClient,
    accounting_system: AsyncExportTarget | ExportTarget,
    *,
    company_id: UUID | str,
    config: ExportConfig | None = None,
    progress: ProgressCallback | None = None,
    lock: CompanyLock | None = None,
    journal: ExportJournal | None = None,
    max_jobs: int | None = None,
    sleep: Callable[[float], Awaitable[None]] | None = None,
    clock: Callable[[], datetime] | None = None,
    receipt_http_client: httpx.Client | None = None,
    lease_store: LeaseStore | None = None,
) -> ExportReport:
    """The ``async`` twin of :func:`export_expenses`: same steps, guarantees and report.

    Takes an :class:`~pleo_erp.AsyncPleoClient` and an
    :class:`~pleo_erp.accounting_system.AsyncExportTarget` (a blocking
    :class:`~pleo_erp.accounting_system.ExportTarget` works too: its methods are called
    directly). Up to ``config.post_concurrency`` items (capped by the adapter's
    ``Capabilities.max_concurrent_posts``) are posted concurrently as tasks on the running
    event loop. ``sleep`` is a coroutine function (default: the client's own). Receipts are
    downloaded on the usual thread pool with a blocking ``httpx.Client``
    (``receipt_http_client``; default: a fresh one, or the sandbox's in-process transport).
    The preview (``dry_run``) has no async twin: use :func:`export_expenses` with
    ``dry_run=True``.
    """
    runtime = _runtime(
        config, progress, lock, lease_store, journal, sleep, clock, receipt_http_client
    )
    company = UUID(str(company_id))
    exporter, owned = _async_exporter(client, accounting_system, runtime)
    meter = Meter.start(exporter)
    queue = _g_queue(exporter, company, max_jobs)
    reports = await _drive_async(exporter, owned, company, lease_store, lock, queue)
    return export_report(meter, company, reports)


async def process_job_async(
    client: AsyncPleoClient,
    accounting_system: AsyncExportTarget | ExportTarget,
    job_id: UUID | str,
    *,
    config: ExportConfig | None = None,
    progress: ProgressCallback | None = None,
    lock: CompanyLock | None = None,
    journal: ExportJournal | None = None,
    sleep: Callable[[float], Awaitable[None]] | None = None,
    clock: Callable[[], datetime] | None = None,
    receipt_http_client: httpx.Client | None = None,
    lease_store: LeaseStore | None = None,
) -> ExportReport:
    """The ``async`` twin of :func:`process_job` (see :func:`export_expenses_async`)."""
    runtime = _runtime(
        config, progress, lock, lease_store, journal, sleep, clock, receipt_http_client
    )
    started_at = runtime.wall_clock()()
    job = await client.export_jobs.get(UUID(str(job_id)))
    exporter, owned = _async_exporter(client, accounting_system, runtime)
    meter = Meter.start(exporter, started_at)
    report = await _drive_async(
        exporter, owned, job.company_id, lease_store, lock, exporter.g_run_job(job)
    )
    return export_report(meter, job.company_id, [report])
