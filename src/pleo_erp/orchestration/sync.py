"""Levels 2 and 3 orchestrators: ``sync_tags``, ``sync_tax_codes``, ``sync_accounts``.

Every sync follows the same shape:

0. when the caller knows the granted scopes (``granted_scopes=``), check them locally and raise
   :class:`~pleo_erp.client.errors.InsufficientScope` before any request (accounts rule 50);
1. take the run lock for (scope, company) — one run per company at a time (tags rule 26);
2. read the AS (a failure raises :class:`SourceReadError`: never "empty = archive everything")
   and Pleo (every page, archived objects included);
3. plan with the pure rule sets in :mod:`pleo_erp.domain.reconcile`;
4. refuse a plan that archives more than half of a collection's active objects unless
   ``force=True`` (:class:`MassArchiveRefused`, raised before any write);
5. unless ``dry_run``, apply the writes — creates, then updates/unarchives, then archives —
   recording each success and failure in a :class:`SyncReport`.

A create that meets a conflict (409, ``EXTERNAL_ID_ALREADY_EXISTS``) or an ambiguous failure (no
response, 5xx) is never blindly re-sent: the sync re-reads Pleo, re-plans, and applies what is
still missing once more (tags rule 22, accounts rule 42). On unchanged inputs the plan is all
no-ops, so a second run sends read requests only (tags rule 20).

Each sync is one sans-I/O *steps* generator (:mod:`._sync_io`) driven twice: with blocking
I/O by the functions here, and with ``asyncio`` by their twins in :mod:`.sync_async`
(``sync_tags_async`` …), which take an :class:`~pleo_erp.client.AsyncPleoClient`.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any, TypeVar

import attrs
from typing_extensions import Unpack

from pleo_erp.accounting_system.sources import (
    AccountSource,
    Dimension,
    DimensionSource,
    DimensionValue,
    SourceReadError,
    TaxCodeSource,
)
from pleo_erp.client import scopes as _scopes
from pleo_erp.client._client import PleoClient
from pleo_erp.client.errors import (
    AuthenticationError,
    PermissionDenied,
    PleoAPIError,
    PleoError,
    ReauthorizationRequired,
)
from pleo_erp.client.resources._base import check_params
from pleo_erp.domain.reconcile.plan import (
    Action,
    IssueSeverity,
    Plan,
    PlanIssue,
    check_mass_archive,
)
from pleo_erp.domain.reconcile.tags import (
    TagSyncPlan,
    combine_tag_plans,
    plan_tags,
    resolve_selection,
)
from pleo_erp.models import TagGroupModel, TagModel
from pleo_erp.orchestration._failures import report_unexpected
from pleo_erp.orchestration._sync_engine import SyncKind, apply_plan
from pleo_erp.orchestration._sync_io import (
    BlockingIO,
    Request,
    Steps,
    ask,
    drive,
    source_read,
    state_call,
)
from pleo_erp.orchestration._sync_kinds import (
    ACCOUNTS_BATCH_SIZE,
    TAGS_ARCHIVE_BATCH_SIZE,
    AccountKind,
    TaxCodeKind,
    apply_tags,
    read_tag_groups,
    read_tags,
)
from pleo_erp.orchestration.locks import CompanyLock, InProcessLock
from pleo_erp.orchestration.sync_options import (
    AccountsSyncOptions,
    ChartOfAccountsSyncOptions,
    SyncOptions,
    TagsSyncOptions,
    TaxCodesSyncOptions,
)
from pleo_erp.orchestration.sync_report import (
    ActionFailure,
    AppliedAction,
    ProgressCallback,
    SyncPhase,
    SyncProgress,
    SyncReport,
    SyncScope,
)
from pleo_erp.state._db import StateDB
from pleo_erp.state.selection import SelectionState, SelectionStore

__all__ = [
    "ACCOUNTS_BATCH_SIZE",
    "TAGS_ARCHIVE_BATCH_SIZE",
    "AccountsSyncOptions",
    "ChartOfAccountsSyncOptions",
    "SyncAlreadyRunning",
    "SyncOptions",
    "TagsSyncOptions",
    "TaxCodesSyncOptions",
    "sync_accounts",
    "sync_chart_of_accounts",
    "sync_tags",
    "sync_tax_codes",
]

_T = TypeVar("_T")
_SourceT = TypeVar("_SourceT")

_logger = logging.getLogger("pleo_erp.sync")

# Errors after which every further write of the run would fail the same way.
_FATAL = (AuthenticationError, PermissionDenied, ReauthorizationRequired)


# ----------------------------------------------------------------------------- run lock


class SyncAlreadyRunning(PleoError):
    """Another run of the same sync for the same company holds the lock (tags rule 26).

    The second run is rejected, not queued: the caller's scheduler decides when to retry.
    """


# One process-wide default, so two threads syncing the same company exclude each other.
_DEFAULT_LOCK: CompanyLock = InProcessLock()


def _lock_key(scope: SyncScope, company_id: uuid.UUID) -> str:
    return f"sync:{scope.value}:{company_id}"


@contextmanager
def _held(lock: CompanyLock | None, key: str) -> Iterator[None]:
    """Hold ``key`` in ``lock`` (default: in-process) for the block, or raise."""
    chosen = lock if lock is not None else _DEFAULT_LOCK
    owner = f"sync-{uuid.uuid4()}"
    if not chosen.acquire(key, owner):
        raise SyncAlreadyRunning(f"a sync is already running for {key}; try again later")
    try:
        yield
    finally:
        chosen.release(key, owner)


# ----------------------------------------------------------------------------- run bookkeeping


class _Run:
    """Collects one run's report: timings, progress events, request counts, outcomes."""

    def __init__(
        self,
        client: PleoClient,
        scope: SyncScope,
        company_id: uuid.UUID,
        *,
        dry_run: bool,
        progress: ProgressCallback | None,
        lock_key: str,
    ) -> None:
        self.client = client
        self.scope = scope
        self.report = SyncReport(scope, company_id, dry_run, Plan(), lock_key=lock_key)
        self._progress = progress
        self._requests_at_start = self._request_count()
        self._started = time.perf_counter()
        self.fatal: str | None = None
        self.done = 0
        self.total = 0

    def _request_count(self) -> int:
        count = getattr(self.client, "request_count", 0)
        return count if isinstance(count, int) else 0

    @contextmanager
    def timed(self, phase: SyncPhase) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            timings = self.report.timings
            timings[phase.value] = timings.get(phase.value, 0.0) + time.perf_counter() - start

    def emit(
        self,
        phase: SyncPhase,
        done: int,
        total: int,
        *,
        action: Action | None = None,
        message: str = "",
    ) -> None:
        if self._progress is not None:
            self._progress(SyncProgress(self.scope, phase, done, total, action, message))

    def start_apply(self, plan: Plan) -> None:
        self.total = len(plan.actions)
        self.done = 0
        self.emit(SyncPhase.APPLY, 0, self.total, message=plan.summary())

    def succeeded(self, action: Action, pleo_id: uuid.UUID | None) -> None:
        self.report.applied.append(AppliedAction(action, pleo_id))
        self.done += 1
        self.total = max(self.total, self.done)  # a re-plan may add actions
        self.emit(SyncPhase.APPLY, self.done, self.total, action=action)

    def failed(
        self,
        action: Action,
        error: BaseException | str,
        *,
        reasons: Iterable[str] = (),
        skipped: bool = False,
    ) -> None:
        status = error.status_code if isinstance(error, PleoAPIError) else None
        retryable = bool(getattr(error, "retryable", False))
        message = error if isinstance(error, str) else _describe(error)
        self.report.failures.append(
            ActionFailure(action, message, status, tuple(reasons), retryable, skipped)
        )
        self.done += 1
        self.total = max(self.total, self.done)
        self.emit(SyncPhase.APPLY, self.done, self.total, action=action, message=message)

    def attempt(
        self, action: Action, request: Request[_T]
    ) -> Steps[tuple[_T | None, PleoError | None]]:
        """Send one write. Success is recorded here; a failure is returned for the caller."""
        if self.fatal is not None:
            self.failed(action, f"not sent: {self.fatal}", skipped=True)
            return None, None
        self.report.write_requests += 1
        try:
            result = yield from ask(request)
        except _FATAL as exc:
            self.fatal = _describe(exc)
            return None, exc
        except PleoError as exc:
            return None, exc
        self.succeeded(action, getattr(result, "id", None))
        return result, None

    def write(self, action: Action, request: Request[_T]) -> Steps[_T | None]:
        """Send one write and record its outcome either way."""
        result, error = yield from self.attempt(action, request)
        if error is not None:
            self.failed(action, error)
        return result

    def describe(self, error: BaseException) -> str:
        """A failure message without any credential (see :func:`_describe`)."""
        return _describe(error)

    def finish(self) -> SyncReport:
        self.report.timings["total"] = time.perf_counter() - self._started
        self.report.requests = self._request_count() - self._requests_at_start
        self.emit(SyncPhase.DONE, self.done, self.total, message=self.report.summary())
        return self.report


def _describe(error: BaseException) -> str:
    """A failure message without any credential: Pleo's message, or the error type."""
    if isinstance(error, PleoError):
        return str(error)
    return type(error).__name__


def _company(company_id: uuid.UUID | str) -> uuid.UUID:
    if isinstance(company_id, uuid.UUID):
        return company_id
    try:
        return uuid.UUID(str(company_id))
    except ValueError:
        raise ValueError("company_id must be a UUID") from None


def _read_source(what: str, read: Request[Sequence[_T]]) -> Steps[list[_T]]:
    """Read the AS; any failure becomes :class:`SourceReadError` (never an empty list)."""
    try:
        result = yield from ask(read)
    except SourceReadError:
        raise
    except Exception as exc:
        # The vendor's exception text may hold connection details: it goes to the log
        # (redacted), the report gets its type and a correlation id.
        reference = report_unexpected(_logger, exc, "reading %s", what)
        raise SourceReadError(
            f"reading {what} failed ({type(exc).__name__}, reference {reference}; "
            "details in the pleo_erp log)"
        ) from exc
    if result is None:
        raise SourceReadError(f"reading {what} returned None instead of a list")
    return list(result)


def _preflight(
    granted: str | Iterable[str] | None,
    required: frozenset[str],
    *,
    dry_run: bool,
    operation: str,
) -> None:
    """Accounts rule 50: refuse locally, before any request, a run the granted scopes cannot do.

    ``None`` means the scopes are unknown (an API key, a token response without ``scope``):
    no check. A dry run only reads, so it needs only the ``…:read`` scopes.
    """
    if granted is None:
        return
    needed = _scopes.read_only(required) if dry_run else required
    _scopes.check_scopes(granted, needed, operation=operation)


def _issues_to_report(report: SyncReport, issues: Iterable[PlanIssue]) -> None:
    for issue in issues:
        (report.errors if issue.severity is IssueSeverity.ERROR else report.warnings).append(
            str(issue)
        )


# ----------------------------------------------------------------------------- jobs and drivers


@attrs.frozen
class _Job:
    """A checked sync call, ready to run: its locks and its steps (made once locked).

    The blocking functions below and their ``async`` twins in :mod:`.sync_async` build the
    same job and differ only in how they hold the locks and drive the steps.
    """

    keys: tuple[str, ...]
    steps: Callable[[], Steps[SyncReport]]
    lock: CompanyLock | None = None
    store: SelectionState | None = None


@attrs.frozen
class _Call:
    """The keywords every sync takes (:class:`SyncOptions`), checked, with their defaults."""

    client: Any
    company_id: uuid.UUID
    dry_run: bool
    force: bool
    progress: ProgressCallback | None
    page_size: int | None
    lock: CompanyLock | None

    @classmethod
    def check(
        cls, client: Any, options: SyncOptions, required: frozenset[str], operation: str
    ) -> _Call:
        """Read ``options``; run the local scope preflight (accounts rule 50)."""
        company_id = _company(options["company_id"])
        dry_run = options.get("dry_run", False)
        _preflight(options.get("granted_scopes"), required, dry_run=dry_run, operation=operation)
        return cls(
            client,
            company_id,
            dry_run,
            options.get("force", False),
            options.get("progress"),
            options.get("page_size"),
            options.get("lock"),
        )

    def key(self, scope: SyncScope) -> str:
        return _lock_key(scope, self.company_id)

    def run(self, scope: SyncScope) -> _Run:
        """A fresh report for ``scope``, made once the locks are held."""
        return _Run(
            self.client,
            scope,
            self.company_id,
            dry_run=self.dry_run,
            progress=self.progress,
            lock_key=self.key(scope),
        )

    def job(
        self,
        steps: Callable[[], Steps[SyncReport]],
        *scopes: SyncScope,
        store: SelectionState | None = None,
    ) -> _Job:
        """The job running ``steps`` under the lock of each of ``scopes`` (in order)."""
        return _Job(tuple(map(self.key, scopes)), steps, self.lock, store)


def _run_blocking(job: _Job, client: PleoClient, source: object) -> SyncReport:
    """Hold every lock key of ``job`` (in order), then drive its steps with blocking I/O."""
    with ExitStack() as stack:
        for key in job.keys:
            stack.enter_context(_held(job.lock, key))
        return drive(job.steps(), BlockingIO(client, source, job.store))


def _plan_collection(
    run: _Run,
    kind: SyncKind[Sequence[_SourceT], Any, Any, Any],
    what: str,
    read_source: Request[Sequence[_SourceT]],
) -> Steps[tuple[Plan, list[_SourceT]]]:
    """Read both sides of one collection (tax codes, accounts) and plan it."""
    with run.timed(SyncPhase.READ):
        run.emit(SyncPhase.READ, 0, 2, message=f"reading {what}")
        objects = yield from _read_source(what, read_source)
        pleo = yield from ask(kind.read(objects))
        run.emit(SyncPhase.READ, 2, 2)
    with run.timed(SyncPhase.PLAN):
        plan = kind.plan(objects, pleo)
    run.report.plan = plan
    _issues_to_report(run.report, plan.issues)
    run.emit(SyncPhase.PLAN, 1, 1, message=plan.summary())
    return plan, objects


def _collection_job(
    call: _Call,
    scope: SyncScope,
    kind: SyncKind[Sequence[Any], Any, Any, Any],
    what: str,
    read_method: str,
) -> _Job:
    """One collection (tax codes or accounts): read, plan, guard, apply, report."""

    def steps() -> Steps[SyncReport]:
        run = call.run(scope)
        plan, objects = yield from _plan_collection(run, kind, what, source_read(read_method))
        check_mass_archive(plan, force=call.force)
        if not call.dry_run:
            yield from apply_plan(run, kind, objects, plan, force=call.force)
        return run.finish()

    return call.job(steps, scope)


# ----------------------------------------------------------------------------- tax codes


def _tax_codes_job(client: Any, options: TaxCodesSyncOptions) -> _Job:
    call = _Call.check(client, options, _scopes.TAX_CODES_SYNC, "the tax codes sync")
    kind = TaxCodeKind(call.company_id, call.page_size)
    return _collection_job(call, SyncScope.TAX_CODES, kind, "tax codes", "list_tax_codes")


def sync_tax_codes(
    client: PleoClient, source: TaxCodeSource, **options: Unpack[TaxCodesSyncOptions]
) -> SyncReport:
    """Make Pleo's tax codes match the AS's (run before :func:`sync_accounts`, accounts rule 43).

    The keywords are :class:`~pleo_erp.orchestration.sync_options.TaxCodesSyncOptions`
    (``company_id`` required). ``granted_scopes`` (the credential's scopes, e.g.
    ``client.introspect().scope``) turns on the local preflight check against
    :data:`~pleo_erp.client.scopes.TAX_CODES_SYNC` (unverified names, accounts rule 49);
    ``None`` skips it. The ``async`` twin is
    :func:`~pleo_erp.orchestration.sync_async.sync_tax_codes_async`.

    Raises:
        InsufficientScope: ``granted_scopes`` lacks a required scope; no request was made.
        SourceReadError: the AS could not be read; nothing was written.
        DuplicateSourceKey: two active AS tax codes share a code; nothing was written.
        MassArchiveRefused: the plan archives more than half of the active tax codes and
            ``force`` is off; nothing was written.
        SyncAlreadyRunning: a tax code sync for this company is already running.
        PleoError: reading Pleo failed; nothing was written.
    """
    check_params(TaxCodesSyncOptions, options, "sync_tax_codes")
    return _run_blocking(_tax_codes_job(client, options), client, source)


# ----------------------------------------------------------------------------- accounts


def _accounts_job(client: Any, options: AccountsSyncOptions) -> _Job:
    call = _Call.check(client, options, _scopes.CHART_OF_ACCOUNTS_SYNC, "the accounts sync")
    kind = AccountKind(
        call.company_id,
        call.page_size,
        options.get("options"),
        options.get("batch_threshold", 2),
    )
    return _collection_job(call, SyncScope.ACCOUNTS, kind, "accounts", "list_accounts")


def sync_accounts(
    client: PleoClient, source: AccountSource, **options: Unpack[AccountsSyncOptions]
) -> SyncReport:
    """Make Pleo's chart of accounts match the AS's (accounts §A5, accounts rules 33–44).

    The keywords are :class:`~pleo_erp.orchestration.sync_options.AccountsSyncOptions`
    (``company_id`` required). Creates go through the batch endpoint (chunks of ≤ 1000) when
    there are at least ``batch_threshold`` of them; each ``failed[].reasons`` entry becomes an
    :class:`ActionFailure`. Updates, unarchives and archives are complete PUTs. Run
    :func:`sync_tax_codes` first (or use :func:`sync_chart_of_accounts`) so that
    ``taxCodeExternalId`` references resolve. The ``async`` twin is
    :func:`~pleo_erp.orchestration.sync_async.sync_accounts_async`.

    ``granted_scopes`` (the credential's scopes, e.g. ``client.introspect().scope``) turns on
    the local preflight check: ``accounts:read`` and ``accounts:write`` (only the read scope
    for a dry run) must be granted (accounts rules 49–50). ``None`` (scopes unknown) skips it.

    Raises:
        InsufficientScope: ``granted_scopes`` lacks a required scope; no request was made.
        SourceReadError: the AS could not be read; nothing was written.
        DuplicateSourceKey: two active AS accounts share an ``externalId``; nothing written.
        MassArchiveRefused: more than half of the active accounts would be archived and
            ``force`` is off; nothing was written.
        SyncAlreadyRunning: an accounts sync for this company is already running.
        PleoError: reading Pleo failed; nothing was written.
    """
    check_params(AccountsSyncOptions, options, "sync_accounts")
    return _run_blocking(_accounts_job(client, options), client, source)


def _chart_job(client: Any, source: Any, options: ChartOfAccountsSyncOptions) -> _Job:
    # The async protocols have the same method names, so this check covers both.
    if not isinstance(source, TaxCodeSource) or not isinstance(source, AccountSource):
        raise TypeError("source must implement both TaxCodeSource and AccountSource")
    call = _Call.check(
        client,
        options,
        _scopes.CHART_OF_ACCOUNTS_SYNC | _scopes.TAX_CODES_SYNC,
        "the chart of accounts sync",
    )
    tax_kind = TaxCodeKind(call.company_id, call.page_size)
    acc_kind = AccountKind(call.company_id, call.page_size, options.get("options"))

    def steps() -> Steps[SyncReport]:
        tax_run = call.run(SyncScope.TAX_CODES)
        acc_run = call.run(SyncScope.ACCOUNTS)
        tax_plan, codes = yield from _plan_collection(
            tax_run, tax_kind, "tax codes", source_read("list_tax_codes")
        )
        acc_plan, accounts = yield from _plan_collection(
            acc_run, acc_kind, "accounts", source_read("list_accounts")
        )
        check_mass_archive(tax_plan, force=call.force)
        check_mass_archive(acc_plan, force=call.force)
        if not call.dry_run:
            yield from apply_plan(tax_run, tax_kind, codes, tax_plan, force=call.force)
            yield from apply_plan(acc_run, acc_kind, accounts, acc_plan, force=call.force)
        tax_report = tax_run.finish()
        report = acc_run.finish()
        report.related["tax_codes"] = tax_report
        return report

    return call.job(steps, SyncScope.TAX_CODES, SyncScope.ACCOUNTS)


def sync_chart_of_accounts(
    client: PleoClient, source: Any, **options: Unpack[ChartOfAccountsSyncOptions]
) -> SyncReport:
    """Level 3 in one call: tax codes first, then accounts (accounts rule 43).

    ``source`` implements both :class:`TaxCodeSource` and :class:`AccountSource`; the
    keywords are :class:`~pleo_erp.orchestration.sync_options.ChartOfAccountsSyncOptions`
    (``company_id`` required). Both plans are computed and checked (duplicates, safety rule)
    before anything is written. Returns the accounts report with the tax codes report under
    ``related["tax_codes"]``. ``granted_scopes`` turns on the local preflight check (accounts
    rule 50) against ``CHART_OF_ACCOUNTS_SYNC | TAX_CODES_SYNC``: an :class:`InsufficientScope`
    is raised before any request; ``None`` skips the check. The ``async`` twin is
    :func:`~pleo_erp.orchestration.sync_async.sync_chart_of_accounts_async`.
    """
    check_params(ChartOfAccountsSyncOptions, options, "sync_chart_of_accounts")
    return _run_blocking(_chart_job(client, source, options), client, source)


# ----------------------------------------------------------------------------- tags


def _tags_job(client: Any, options: TagsSyncOptions) -> _Job:
    call = _Call.check(client, options, _scopes.TAGS_SYNC, "the tags sync")
    cid = call.company_id
    selection = options.get("selection")
    store = _selection_store(options.get("state"))
    allow_group_renames = options.get("allow_group_renames", False)
    only_dimension = options.get("only_dimension")

    def steps() -> Steps[SyncReport]:
        run = call.run(SyncScope.TAGS)
        planned, dimensions, values = yield from _plan_tag_sync(
            run,
            cid,
            store is not None,
            selection,
            allow_group_renames,
            only_dimension,
            call.page_size,
        )
        outcome = planned.selection
        run.report.selection = outcome
        if not outcome.persist:
            return run.finish()
        check_mass_archive(planned.plan, force=call.force)
        if call.dry_run:
            return run.finish()
        if store is not None and (outcome.changed or selection is not None):
            yield state_call("save", cid, outcome.selected, dimensions=dimensions)
        yield from apply_tags(
            run, planned, values, company_id=cid, page_size=call.page_size, force=call.force
        )
        return run.finish()

    return call.job(steps, SyncScope.TAGS, store=store)


def _selection_store(state: SelectionState | StateDB | None) -> SelectionState | None:
    """Where the selection lives: a ``StateDB`` gets a :class:`SelectionStore`."""
    return SelectionStore(state) if isinstance(state, StateDB) else state


def sync_tags(
    client: PleoClient, source: DimensionSource, **options: Unpack[TagsSyncOptions]
) -> SyncReport:
    """Make Pleo's tag groups and tags match the AS's selected dimensions (tags rules 1–30).

    The keywords are :class:`~pleo_erp.orchestration.sync_options.TagsSyncOptions`
    (``company_id`` required): ``selection`` (the user's choice of dimensions, saved to
    ``state``), ``state`` (where the selection is persisted), ``allow_group_renames``
    (rule 10), ``only_dimension`` (an ad hoc run for one dimension, rule 25) and
    ``granted_scopes`` (checked locally against :data:`~pleo_erp.client.scopes.TAGS_SYNC`
    before any request; ``None`` skips the check), besides the common ones. The ``async`` twin
    is :func:`~pleo_erp.orchestration.sync_async.sync_tags_async`.

    Raises:
        InsufficientScope: ``granted_scopes`` lacks a required scope; no request was made.
        SourceReadError: the dimension list could not be read; nothing was written. (A
            failed read of one dimension's values only skips that dimension, rule 21.)
        SelectionError: ``selection`` or ``only_dimension`` breaks the selection rules.
        MassArchiveRefused: more than half of the active groups, or of one group's active
            tags, would be archived and ``force`` is off; nothing was written.
        SyncAlreadyRunning: a tags sync for this company is already running.
        PleoError: reading Pleo's tag groups failed; nothing was written.
    """
    check_params(TagsSyncOptions, options, "sync_tags")
    return _run_blocking(_tags_job(client, options), client, source)


def _plan_tag_sync(
    run: _Run,
    cid: uuid.UUID,
    has_store: bool,
    selection: Sequence[str] | None,
    allow_group_renames: bool,
    only_dimension: str | None,
    page_size: int | None,
) -> Steps[tuple[TagSyncPlan, list[Dimension], dict[str, list[DimensionValue]]]]:
    report = run.report
    with run.timed(SyncPhase.READ):
        run.emit(SyncPhase.READ, 0, 2, message="reading dimensions and tag groups")
        dimensions: list[Dimension] = yield from _read_source(
            "dimensions", source_read("list_dimensions")
        )
        stored = (yield from ask(state_call("load", cid))) if has_store else None
        groups: list[TagGroupModel] = list((yield from ask(read_tag_groups(cid))))
    with run.timed(SyncPhase.PLAN):
        outcome = resolve_selection(dimensions, groups, stored=stored, requested=selection)
    if not outcome.persist:
        empty = TagSyncPlan.nothing_to_sync(outcome)
        report.plan = empty.plan
        _issues_to_report(report, empty.issues)
        return empty, dimensions, {}
    with run.timed(SyncPhase.PLAN):
        group_plan, bindings, dim_issues = combine_tag_plans(
            dimensions,
            groups,
            outcome,
            allow_group_renames=allow_group_renames,
            only_dimension=only_dimension,
        )
    values: dict[str, list[DimensionValue]] = {}
    tag_plans: dict[str, Plan] = {}
    skipped: list[str] = []
    issues: list[PlanIssue] = list(dim_issues)
    total_reads = 2 + 2 * len(bindings)
    for n, binding in enumerate(bindings, start=1):
        code = binding.dimension_code
        try:
            with run.timed(SyncPhase.READ):
                dim_values: list[DimensionValue] = yield from _read_source(
                    f"values of {code!r}", source_read("list_dimension_values", code)
                )
                tags: list[TagModel] = (
                    []
                    if binding.group_id is None
                    else list((yield from ask(read_tags(binding.group_id, page_size))))
                )
        except _FATAL:
            raise  # the credential is refused: every other read would fail the same way
        except (SourceReadError, PleoError) as exc:
            # Rule 21: one pair's failed read skips that pair only.
            skipped.append(code)
            issues.append(
                PlanIssue(
                    IssueSeverity.ERROR, code, f"tags not synced: {_describe(exc)}", "rule 21"
                )
            )
            continue
        finally:
            run.emit(SyncPhase.READ, 2 + 2 * n, total_reads)
        values[code] = dim_values
        with run.timed(SyncPhase.PLAN):
            tag_plans[code] = plan_tags(binding, dim_values, tags)
    planned = TagSyncPlan(outcome, group_plan, bindings, tag_plans, tuple(issues), tuple(skipped))
    with run.timed(SyncPhase.PLAN):
        report.plan = planned.plan
    _issues_to_report(report, report.plan.issues)
    run.emit(SyncPhase.PLAN, 1, 1, message=report.plan.summary())
    return planned, dimensions, values
