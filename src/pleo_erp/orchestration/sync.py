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
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import attrs

from pleo_erp.accounting_system.sources import (
    AccountSource,
    Dimension,
    DimensionSource,
    DimensionValue,
    LedgerAccount,
    LedgerTaxCode,
    SourceReadError,
    TaxCodeSource,
)
from pleo_erp.client import scopes as _scopes
from pleo_erp.client._client import PleoClient
from pleo_erp.client.errors import (
    AuthenticationError,
    Conflict,
    PermissionDenied,
    PleoAPIError,
    PleoConnectionError,
    PleoError,
    ReauthorizationRequired,
    ServerError,
)
from pleo_erp.domain.reconcile.accounts import AccountPlanOptions, plan_accounts
from pleo_erp.domain.reconcile.plan import (
    Action,
    ActionKind,
    IssueSeverity,
    Plan,
    PlanIssue,
    check_mass_archive,
)
from pleo_erp.domain.reconcile.tags import (
    GroupBinding,
    TagSyncPlan,
    codes_match,
    combine_tag_plans,
    plan_tags,
    resolve_selection,
)
from pleo_erp.domain.reconcile.tax_codes import plan_tax_codes
from pleo_erp.models import (
    BookkeepingAccountBatchRequestItemV1,
    BookkeepingAccountCreateRequestV1,
    BookkeepingAccountRestModelV1,
    TagGroupModel,
    TagModel,
    TaxCodeModel,
)
from pleo_erp.orchestration._failures import report_unexpected
from pleo_erp.orchestration.locks import CompanyLock, InProcessLock
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
    "SyncAlreadyRunning",
    "sync_accounts",
    "sync_chart_of_accounts",
    "sync_tags",
    "sync_tax_codes",
]

#: Accounts per ``POST /v1/chart-of-accounts/batch`` (the spec's ``maxItems``).
ACCOUNTS_BATCH_SIZE = 1000
#: Tag ids per ``POST /v0/tags/archive`` (the spec's limit).
TAGS_ARCHIVE_BATCH_SIZE = 100

_T = TypeVar("_T")

_logger = logging.getLogger("pleo_erp.sync")

# Errors after which every further write of the run would fail the same way.
_FATAL = (AuthenticationError, PermissionDenied, ReauthorizationRequired)
# A create that failed like this may or may not have reached Pleo: re-read, never re-send.
_AMBIGUOUS = (PleoConnectionError, ServerError)


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

    def attempt(self, action: Action, call: Callable[[], _T]) -> tuple[_T | None, PleoError | None]:
        """Send one write. Success is recorded here; a failure is returned for the caller."""
        if self.fatal is not None:
            self.failed(action, f"not sent: {self.fatal}", skipped=True)
            return None, None
        self.report.write_requests += 1
        try:
            result = call()
        except _FATAL as exc:
            self.fatal = _describe(exc)
            return None, exc
        except PleoError as exc:
            return None, exc
        self.succeeded(action, getattr(result, "id", None))
        return result, None

    def write(self, action: Action, call: Callable[[], _T]) -> _T | None:
        """Send one write and record its outcome either way."""
        result, error = self.attempt(action, call)
        if error is not None:
            self.failed(action, error)
        return result

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


def _read_source(what: str, read: Callable[[], Sequence[_T]]) -> list[_T]:
    """Read the AS; any failure becomes :class:`SourceReadError` (never an empty list)."""
    try:
        result = read()
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


def _guarded(run: _Run, plan: Plan, force: bool) -> Plan:
    """A re-plan made mid-run, minus its archives if they would trip the safety rule.

    The first plan was checked before any write; a re-plan (after a create conflict) reflects
    a Pleo that changed under us, so it is checked again instead of raising mid-run.
    """
    if force or not plan.suspicious():
        return plan
    run.report.errors.append(
        "re-plan after a create conflict would archive too much "
        f"({'; '.join(str(g) for g in plan.suspicious())}); its archives were skipped"
    )
    return attrs.evolve(
        plan, actions=tuple(a for a in plan.actions if a.kind is not ActionKind.ARCHIVE)
    )


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


# ----------------------------------------------------------------------------- tax codes


def sync_tax_codes(
    client: PleoClient,
    source: TaxCodeSource,
    *,
    company_id: uuid.UUID | str,
    dry_run: bool = False,
    force: bool = False,
    progress: ProgressCallback | None = None,
    lock: CompanyLock | None = None,
    page_size: int | None = None,
    granted_scopes: str | Iterable[str] | None = None,
) -> SyncReport:
    """Make Pleo's tax codes match the AS's (run before :func:`sync_accounts`, accounts rule 43).

    ``granted_scopes`` (the credential's scopes, e.g. ``client.introspect().scope``) turns on
    the local preflight check against :data:`~pleo_erp.client.scopes.TAX_CODES_SYNC`
    (unverified names, accounts rule 49); ``None`` skips it.

    Raises:
        InsufficientScope: ``granted_scopes`` lacks a required scope; no request was made.
        SourceReadError: the AS could not be read; nothing was written.
        DuplicateSourceKey: two active AS tax codes share a code; nothing was written.
        MassArchiveRefused: the plan archives more than half of the active tax codes and
            ``force`` is off; nothing was written.
        SyncAlreadyRunning: a tax code sync for this company is already running.
        PleoError: reading Pleo failed; nothing was written.
    """
    cid = _company(company_id)
    _preflight(
        granted_scopes, _scopes.TAX_CODES_SYNC, dry_run=dry_run, operation="the tax codes sync"
    )
    key = _lock_key(SyncScope.TAX_CODES, cid)
    with _held(lock, key):
        run = _Run(
            client, SyncScope.TAX_CODES, cid, dry_run=dry_run, progress=progress, lock_key=key
        )
        plan, source_codes = _plan_tax_codes(run, source, cid, page_size)
        check_mass_archive(plan, force=force)
        if not dry_run:
            _apply_tax_codes(run, plan, source_codes, cid, page_size, force)
        return run.finish()


def _plan_tax_codes(
    run: _Run, source: TaxCodeSource, cid: uuid.UUID, page_size: int | None
) -> tuple[Plan, list[LedgerTaxCode]]:
    with run.timed(SyncPhase.READ):
        run.emit(SyncPhase.READ, 0, 2, message="reading tax codes")
        codes = _read_source("tax codes", source.list_tax_codes)
        pleo = _read_pleo_tax_codes(run.client, cid, page_size)
        run.emit(SyncPhase.READ, 2, 2)
    with run.timed(SyncPhase.PLAN):
        plan = plan_tax_codes(codes, pleo, company_id=cid)
    run.report.plan = plan
    _issues_to_report(run.report, plan.issues)
    run.emit(SyncPhase.PLAN, 1, 1, message=plan.summary())
    return plan, codes


def _read_pleo_tax_codes(
    client: PleoClient, cid: uuid.UUID, page_size: int | None
) -> list[TaxCodeModel]:
    return list(client.tax_codes.search(cid, page_size=page_size))


def _apply_tax_codes(
    run: _Run,
    plan: Plan,
    source: Sequence[LedgerTaxCode],
    cid: uuid.UUID,
    page_size: int | None,
    force: bool,
) -> None:
    run.start_apply(plan)
    client = run.client

    def create(action: Action) -> TaxCodeModel:
        body = action.body
        return client.tax_codes.create(
            cid,
            name=body.name,
            rate=body.rate,
            type=body.type,
            archived=body.archived,
            code=body.code,
            ingoing_tax_account=body.ingoing_tax_account,
            outgoing_tax_account=body.outgoing_tax_account,
        )

    def put(action: Action) -> TaxCodeModel:
        body = action.body
        assert action.target.id is not None
        return client.tax_codes.update(
            action.target.id,
            company_id=cid,
            name=body.name,
            rate=body.rate,
            type=body.type,
            archived=body.archived,
            code=body.code,
            ingoing_tax_account=body.ingoing_tax_account,
            outgoing_tax_account=body.outgoing_tax_account,
        )

    with run.timed(SyncPhase.APPLY):
        uncertain: set[str] = set()
        for action in plan.of_kind(ActionKind.CREATE):
            _, error = run.attempt(action, lambda a=action: create(a))  # type: ignore[misc]
            if isinstance(error, (Conflict, *_AMBIGUOUS)):
                uncertain.add(action.target.key)
            elif error is not None:
                run.failed(action, error)
        rest = plan
        if uncertain and run.fatal is None:
            # Tags rule 22, accounts rule 42: re-read and re-plan instead of re-posting blindly.
            run.report.replans += 1
            pleo = _read_pleo_tax_codes(client, cid, page_size)
            rest = _guarded(run, plan_tax_codes(source, pleo, company_id=cid), force)
            for action in rest.of_kind(ActionKind.CREATE):
                if action.target.key in uncertain:
                    run.write(action, lambda a=action: create(a))  # type: ignore[misc]
        for action in rest.actions:
            if action.kind is not ActionKind.CREATE:
                run.write(action, lambda a=action: put(a))  # type: ignore[misc]


# ----------------------------------------------------------------------------- accounts


def sync_accounts(
    client: PleoClient,
    source: AccountSource,
    *,
    company_id: uuid.UUID | str,
    dry_run: bool = False,
    force: bool = False,
    progress: ProgressCallback | None = None,
    lock: CompanyLock | None = None,
    options: AccountPlanOptions | None = None,
    batch_threshold: int = 2,
    page_size: int | None = None,
    granted_scopes: str | Iterable[str] | None = None,
) -> SyncReport:
    """Make Pleo's chart of accounts match the AS's (accounts §A5, rules 33–44).

    Creates go through the batch endpoint (chunks of ≤ 1000) when there are at least
    ``batch_threshold`` of them; each ``failed[].reasons`` entry becomes an
    :class:`ActionFailure`. Updates, unarchives and archives are complete PUTs. Run
    :func:`sync_tax_codes` first (or use :func:`sync_chart_of_accounts`) so that
    ``taxCodeExternalId`` references resolve.

    ``granted_scopes`` (the credential's scopes, e.g. ``client.introspect().scope``) turns on
    the local preflight check: ``accounts:read`` and ``accounts:write`` (only the read scope
    for a dry run) must be granted (rules 49–50). ``None`` (scopes unknown) skips it.

    Raises:
        InsufficientScope: ``granted_scopes`` lacks a required scope; no request was made.
        SourceReadError: the AS could not be read; nothing was written.
        DuplicateSourceKey: two active AS accounts share an ``externalId``; nothing written.
        MassArchiveRefused: more than half of the active accounts would be archived and
            ``force`` is off; nothing was written.
        SyncAlreadyRunning: an accounts sync for this company is already running.
        PleoError: reading Pleo failed; nothing was written.
    """
    cid = _company(company_id)
    _preflight(
        granted_scopes,
        _scopes.CHART_OF_ACCOUNTS_SYNC,
        dry_run=dry_run,
        operation="the accounts sync",
    )
    key = _lock_key(SyncScope.ACCOUNTS, cid)
    with _held(lock, key):
        run = _Run(
            client, SyncScope.ACCOUNTS, cid, dry_run=dry_run, progress=progress, lock_key=key
        )
        plan, accounts = _plan_accounts(run, source, cid, options, page_size)
        check_mass_archive(plan, force=force)
        if not dry_run:
            _apply_accounts(run, plan, accounts, cid, options, batch_threshold, page_size, force)
        return run.finish()


def sync_chart_of_accounts(
    client: PleoClient,
    source: Any,
    *,
    company_id: uuid.UUID | str,
    dry_run: bool = False,
    force: bool = False,
    progress: ProgressCallback | None = None,
    lock: CompanyLock | None = None,
    options: AccountPlanOptions | None = None,
    page_size: int | None = None,
    granted_scopes: str | Iterable[str] | None = None,
) -> SyncReport:
    """Level 3 in one call: tax codes first, then accounts (rule 43).

    ``source`` implements both :class:`TaxCodeSource` and :class:`AccountSource`. Both plans
    are computed and checked (duplicates, safety rule) before anything is written. Returns
    the accounts report with the tax codes report under ``related["tax_codes"]``.
    ``granted_scopes`` turns on the local preflight check (rule 50) against
    ``CHART_OF_ACCOUNTS_SYNC | TAX_CODES_SYNC``: an :class:`InsufficientScope` is raised before
    any request; ``None`` skips the check.
    """
    if not isinstance(source, TaxCodeSource) or not isinstance(source, AccountSource):
        raise TypeError("source must implement both TaxCodeSource and AccountSource")
    cid = _company(company_id)
    _preflight(
        granted_scopes,
        _scopes.CHART_OF_ACCOUNTS_SYNC | _scopes.TAX_CODES_SYNC,
        dry_run=dry_run,
        operation="the chart of accounts sync",
    )
    tax_key = _lock_key(SyncScope.TAX_CODES, cid)
    acc_key = _lock_key(SyncScope.ACCOUNTS, cid)
    with _held(lock, tax_key), _held(lock, acc_key):
        tax_run = _Run(
            client, SyncScope.TAX_CODES, cid, dry_run=dry_run, progress=progress, lock_key=tax_key
        )
        acc_run = _Run(
            client, SyncScope.ACCOUNTS, cid, dry_run=dry_run, progress=progress, lock_key=acc_key
        )
        tax_plan, codes = _plan_tax_codes(tax_run, source, cid, page_size)
        acc_plan, accounts = _plan_accounts(acc_run, source, cid, options, page_size)
        check_mass_archive(tax_plan, force=force)
        check_mass_archive(acc_plan, force=force)
        if not dry_run:
            _apply_tax_codes(tax_run, tax_plan, codes, cid, page_size, force)
            _apply_accounts(acc_run, acc_plan, accounts, cid, options, 2, page_size, force)
        tax_report = tax_run.finish()
        report = acc_run.finish()
        report.related["tax_codes"] = tax_report
        return report


def _plan_accounts(
    run: _Run,
    source: AccountSource,
    cid: uuid.UUID,
    options: AccountPlanOptions | None,
    page_size: int | None,
) -> tuple[Plan, list[LedgerAccount]]:
    with run.timed(SyncPhase.READ):
        run.emit(SyncPhase.READ, 0, 2, message="reading accounts")
        accounts = _read_source("accounts", source.list_accounts)
        pleo = _read_pleo_accounts(run.client, cid, page_size)
        run.emit(SyncPhase.READ, 2, 2)
    with run.timed(SyncPhase.PLAN):
        plan = plan_accounts(accounts, pleo, company_id=cid, options=options)
    run.report.plan = plan
    _issues_to_report(run.report, plan.issues)
    run.emit(SyncPhase.PLAN, 1, 1, message=plan.summary())
    return plan, accounts


def _read_pleo_accounts(
    client: PleoClient, cid: uuid.UUID, page_size: int | None
) -> list[BookkeepingAccountRestModelV1]:
    # No ``archived`` filter: the search returns both states (rule 30).
    return list(client.accounts.search(cid, page_size=page_size))


def _batch_item(body: BookkeepingAccountCreateRequestV1) -> BookkeepingAccountBatchRequestItemV1:
    return BookkeepingAccountBatchRequestItemV1(
        archived=body.archived,
        external_id=body.external_id,
        name=body.name,
        code=body.code,
        tax_code_external_id=body.tax_code_external_id,
        metadata=body.metadata,
    )


def _apply_accounts(
    run: _Run,
    plan: Plan,
    source: Sequence[LedgerAccount],
    cid: uuid.UUID,
    options: AccountPlanOptions | None,
    batch_threshold: int,
    page_size: int | None,
    force: bool,
) -> None:
    run.start_apply(plan)
    client = run.client

    def create_one(action: Action) -> BookkeepingAccountRestModelV1:
        body = action.body
        return client.accounts.create(
            cid,
            external_id=body.external_id,
            name=body.name,
            archived=body.archived,
            code=body.code,
            tax_code_external_id=body.tax_code_external_id,
            metadata=body.metadata,
        )

    def put(action: Action) -> BookkeepingAccountRestModelV1:
        body = action.body
        assert action.target.id is not None
        return client.accounts.update(
            action.target.id,
            name=body.name,
            archived=body.archived,
            code=body.code,
            tax_code_external_id=body.tax_code_external_id,
            metadata=body.metadata,
        )

    def create_all(creates: Sequence[Action], *, final: bool) -> set[str]:
        """Send creates; return the keys whose outcome is uncertain (409 / no response)."""
        uncertain: set[str] = set()
        if len(creates) < max(batch_threshold, 1) or len(creates) == 1:
            for action in creates:
                _, error = run.attempt(action, lambda a=action: create_one(a))  # type: ignore[misc]
                if isinstance(error, (Conflict, *_AMBIGUOUS)) and not final:
                    uncertain.add(action.target.key)
                elif error is not None:
                    run.failed(action, error)
            return uncertain
        for start in range(0, len(creates), ACCOUNTS_BATCH_SIZE):
            chunk = creates[start : start + ACCOUNTS_BATCH_SIZE]
            uncertain |= _create_chunk(run, cid, chunk, final=final)
        return uncertain

    with run.timed(SyncPhase.APPLY):
        uncertain = create_all(plan.of_kind(ActionKind.CREATE), final=False)
        rest = plan
        if uncertain and run.fatal is None:
            # Rule 42: a conflicting or unanswered create is re-read and re-planned.
            run.report.replans += 1
            pleo = _read_pleo_accounts(client, cid, page_size)
            rest = _guarded(
                run, plan_accounts(source, pleo, company_id=cid, options=options), force
            )
            retry = [a for a in rest.of_kind(ActionKind.CREATE) if a.target.key in uncertain]
            create_all(retry, final=True)
        for action in rest.actions:
            if action.kind is not ActionKind.CREATE:
                run.write(action, lambda a=action: put(a))  # type: ignore[misc]


def _create_chunk(run: _Run, cid: uuid.UUID, chunk: Sequence[Action], *, final: bool) -> set[str]:
    """One batch request; per-item failures surfaced, uncertain keys returned."""
    if run.fatal is not None:
        for action in chunk:
            run.failed(action, f"not sent: {run.fatal}", skipped=True)
        return set()
    items = [_batch_item(a.body) for a in chunk]
    run.report.write_requests += 1
    try:
        result = run.client.accounts.create_batch(cid, items)
    except _FATAL as exc:
        run.fatal = _describe(exc)
        for action in chunk:
            run.failed(action, exc)
        return set()
    except _AMBIGUOUS as exc:
        if final:
            for action in chunk:
                run.failed(action, exc)
            return set()
        return {a.target.key for a in chunk}
    except PleoError as exc:
        for action in chunk:
            run.failed(action, exc)
        return set()
    by_key = {a.target.key: a for a in chunk}
    uncertain: set[str] = set()
    for created in result.created:
        done: Action | None = by_key.pop(created.external_id, None)
        if done is not None:
            run.succeeded(done, created.id)
    for failed in result.failed:
        refused: Action | None = by_key.pop(failed.request.external_id, None)
        if refused is None:
            continue
        reasons = tuple(str(getattr(r, "value", r)) for r in failed.reasons)
        if "EXTERNAL_ID_ALREADY_EXISTS" in reasons and not final:
            uncertain.add(refused.target.key)
        else:
            run.failed(refused, "Pleo refused the account in the batch", reasons=reasons)
    for action in by_key.values():
        # Neither created nor failed: Pleo's answer is incomplete, so the state is unknown.
        if final:
            run.failed(action, "missing from the batch response")
        else:
            uncertain.add(action.target.key)
    return uncertain


# ----------------------------------------------------------------------------- tags


def sync_tags(
    client: PleoClient,
    source: DimensionSource,
    *,
    company_id: uuid.UUID | str,
    selection: Sequence[str] | None = None,
    state: SelectionState | StateDB | None = None,
    dry_run: bool = False,
    force: bool = False,
    allow_group_renames: bool = False,
    only_dimension: str | None = None,
    progress: ProgressCallback | None = None,
    lock: CompanyLock | None = None,
    page_size: int | None = None,
    granted_scopes: str | Iterable[str] | None = None,
) -> SyncReport:
    """Make Pleo's tag groups and tags match the AS's selected dimensions (tags rules 1–30).

    Args:
        selection: the user's explicit choice of dimension codes (validated: ≤ 5, active);
            saved to ``state`` when given. ``None`` uses the stored selection, minus
            dimensions gone inactive (rule 6), or auto-selects on first connection (rule 4).
        state: where the selection is persisted (a ``SelectionStore`` or a ``StateDB``).
            Without it nothing is persisted and every run without ``selection`` is a
            first connection.
        allow_group_renames: rename a group when its dimension's name changed (rule 10).
        only_dimension: ad hoc run for one selected dimension: its group and tags only, no
            archive sweep of other groups (rule 25).
        granted_scopes: the credential's scopes (e.g. ``client.introspect().scope``); when
            given, checked locally against :data:`~pleo_erp.client.scopes.TAGS_SYNC`
            (unverified names) before any request. ``None`` skips the check.

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
    cid = _company(company_id)
    _preflight(granted_scopes, _scopes.TAGS_SYNC, dry_run=dry_run, operation="the tags sync")
    store: SelectionState | None = SelectionStore(state) if isinstance(state, StateDB) else state
    key = _lock_key(SyncScope.TAGS, cid)
    with _held(lock, key):
        run = _Run(client, SyncScope.TAGS, cid, dry_run=dry_run, progress=progress, lock_key=key)
        planned, dimensions, values = _plan_tag_sync(
            run, source, cid, store, selection, allow_group_renames, only_dimension, page_size
        )
        outcome = planned.selection
        run.report.selection = outcome
        if not outcome.persist:
            return run.finish()
        plan = planned.plan
        check_mass_archive(plan, force=force)
        if dry_run:
            return run.finish()
        if store is not None and (outcome.changed or selection is not None):
            store.save(cid, outcome.selected, dimensions=dimensions)
        _apply_tags(run, planned, values, cid, page_size, force)
        return run.finish()


def _plan_tag_sync(
    run: _Run,
    source: DimensionSource,
    cid: uuid.UUID,
    store: SelectionState | None,
    selection: Sequence[str] | None,
    allow_group_renames: bool,
    only_dimension: str | None,
    page_size: int | None,
) -> tuple[TagSyncPlan, list[Dimension], dict[str, list[DimensionValue]]]:
    report = run.report
    with run.timed(SyncPhase.READ):
        run.emit(SyncPhase.READ, 0, 2, message="reading dimensions and tag groups")
        dimensions = _read_source("dimensions", source.list_dimensions)
        stored = store.load(cid) if store is not None else None
        groups: list[TagGroupModel] = list(run.client.tag_groups.list(cid, include_archived=True))
    with run.timed(SyncPhase.PLAN):
        outcome = resolve_selection(dimensions, groups, stored=stored, requested=selection)
    if not outcome.persist:
        issue = PlanIssue(
            IssueSeverity.WARNING,
            "",
            "the accounting system has no active dimension: nothing to sync",
            "rule 5",
        )
        report.warnings.append(str(issue))
        empty = TagSyncPlan(outcome, Plan(issues=(issue,)), (), {}, (issue,))
        report.plan = empty.plan
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
                dim_values = _read_source(
                    f"values of {code!r}",
                    lambda c=code: source.list_dimension_values(c),  # type: ignore[misc]
                )
                tags: list[TagModel] = (
                    []
                    if binding.group_id is None
                    else list(
                        run.client.tags.list(
                            binding.group_id, include_archived=True, page_size=page_size
                        )
                    )
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


def _apply_tags(
    run: _Run,
    planned: TagSyncPlan,
    values: dict[str, list[DimensionValue]],
    cid: uuid.UUID,
    page_size: int | None,
    force: bool,
) -> None:
    client = run.client
    run.start_apply(planned.plan)
    with run.timed(SyncPhase.APPLY):
        # ---- Step 2: groups (creates → unarchives/renames → archives).
        created_ids: dict[str, uuid.UUID] = {}
        unusable: set[str] = set()  # folded group codes whose group is not active after Step 2
        for action in planned.groups.actions:
            body = action.body
            if action.kind is ActionKind.CREATE:
                group = _create_group(run, action, cid)
                if group is None:
                    unusable.add(action.target.key.casefold())
                else:
                    created_ids[action.target.key.casefold()] = group.id
                continue
            assert action.target.id is not None
            result = run.write(
                action,
                lambda a=action, b=body: client.tag_groups.update(  # type: ignore[misc]
                    a.target.id, code=b.code, name=b.name, archived=b.archived, metadata=b.metadata
                ),
            )
            if result is None and action.kind is ActionKind.UNARCHIVE:
                unusable.add(action.target.key.casefold())

        # ---- Step 3: tags of every pair whose group is usable.
        pairs: list[tuple[GroupBinding, Plan]] = []
        for binding in planned.bindings:
            tag_plan = planned.tags.get(binding.dimension_code)
            if tag_plan is None:
                continue
            folded = binding.group_code.casefold()
            group_id = binding.group_id or created_ids.get(folded)
            if group_id is None or folded in unusable:
                for action in tag_plan.actions:
                    run.failed(
                        action,
                        "tag group is not available (its create/unarchive failed)",
                        skipped=True,
                    )
                continue
            pairs.append((attrs.evolve(binding, group_id=group_id), tag_plan))

        uncertain: set[str] = set()
        for binding, tag_plan in pairs:
            for action in tag_plan.of_kind(ActionKind.CREATE):
                if _create_tag(run, action, binding.group_id, final=False):
                    uncertain.add(binding.dimension_code)
        final_pairs: list[tuple[GroupBinding, Plan]] = []
        for binding, tag_plan in pairs:
            if binding.dimension_code in uncertain and run.fatal is None:
                # Rule 22: re-read the group's tags and re-plan the pair.
                run.report.replans += 1
                assert binding.group_id is not None
                try:
                    tags = list(
                        client.tags.list(
                            binding.group_id, include_archived=True, page_size=page_size
                        )
                    )
                except PleoError as exc:
                    run.report.errors.append(
                        f"{binding.dimension_code!r}: re-reading tags failed: {_describe(exc)}"
                    )
                    continue
                tag_plan = _guarded(
                    run, plan_tags(binding, values[binding.dimension_code], tags), force
                )
                for action in tag_plan.of_kind(ActionKind.CREATE):
                    _create_tag(run, action, binding.group_id, final=True)
            final_pairs.append((binding, tag_plan))

        archives: list[Action] = []
        for _binding, tag_plan in final_pairs:
            for action in tag_plan.actions:
                if action.kind is ActionKind.ARCHIVE:
                    archives.append(action)
                elif action.kind is not ActionKind.CREATE:
                    assert action.target.id is not None
                    run.write(
                        action,
                        lambda a=action: client.tags.update(  # type: ignore[misc]
                            a.target.id,
                            code=a.body.code,
                            archived=a.body.archived,
                            name=a.body.name,
                        ),
                    )
        for start in range(0, len(archives), TAGS_ARCHIVE_BATCH_SIZE):
            _archive_tags(run, archives[start : start + TAGS_ARCHIVE_BATCH_SIZE], cid)


def _create_group(run: _Run, action: Action, cid: uuid.UUID) -> TagGroupModel | None:
    """Create one group; after an unclear failure re-read the groups before re-posting."""
    client = run.client
    body = action.body

    def post() -> TagGroupModel:
        return client.tag_groups.create(cid, code=body.code, name=body.name, archived=body.archived)

    group, error = run.attempt(action, post)
    if error is None:
        return group
    if not isinstance(error, (Conflict, *_AMBIGUOUS)) or run.fatal is not None:
        run.failed(action, error)
        return None
    run.report.replans += 1
    try:
        groups = client.tag_groups.list(cid, include_archived=True)
    except PleoError as exc:
        run.failed(action, exc)
        return None
    found = [g for g in groups if codes_match(g.code, body.code)]
    if found:
        existing = min(found, key=lambda g: (g.archived, g.created_at, g.id))
        if existing.archived:
            return run.write(
                action,
                lambda: client.tag_groups.update(
                    existing.id,
                    code=existing.code,
                    name=existing.name,
                    archived=False,
                    metadata=dict(existing.metadata or {}),
                ),
            )
        run.succeeded(action, existing.id)
        return existing
    return run.write(action, post)


def _create_tag(run: _Run, action: Action, group_id: uuid.UUID | None, *, final: bool) -> bool:
    """Create one tag; ``True`` if the outcome is uncertain and the pair must be re-planned."""
    assert group_id is not None
    body = action.body
    _, error = run.attempt(
        action,
        lambda: run.client.tags.create(
            group_id, code=body.code, name=body.name, archived=body.archived
        ),
    )
    if error is None:
        return False
    if isinstance(error, (Conflict, *_AMBIGUOUS)) and not final and run.fatal is None:
        return True
    run.failed(action, error)
    return False


def _archive_tags(run: _Run, chunk: Sequence[Action], cid: uuid.UUID) -> None:
    """One bulk archive request (``POST /v0/tags/archive``) for up to 100 tags."""
    if run.fatal is not None:
        for action in chunk:
            run.failed(action, f"not sent: {run.fatal}", skipped=True)
        return
    ids = [a.target.id for a in chunk if a.target.id is not None]
    run.report.write_requests += 1
    try:
        run.client.tags.archive(ids, company_id=cid, archived=True)
    except PleoError as exc:
        if isinstance(exc, _FATAL):
            run.fatal = _describe(exc)
        for action in chunk:
            run.failed(action, exc)
        return
    for action in chunk:
        run.succeeded(action, action.target.id)
