"""What a vendor's accounting system (AS) implements so that Level 1 can export into it.

The export orchestrator (:func:`pleo_erp.export_expenses`) turns each Pleo export item into
one balanced, typed *entry* (:class:`JournalEntry`, :class:`SupplierInvoice`,
:class:`SupplierPayment` or :class:`CreditNote`; see :mod:`pleo_erp.domain.journal` for what
each means and how amounts are carried) and hands it to an :class:`ExportTarget`.

Errors: an implementation raises an :class:`AccountingSystemError` subclass; each one says
which Pleo item failure type it means (``failure_type``) and, for failures that stop the whole
job (outage, authentication …), which job failure type (``job_failure_type``). Anything else
the AS raises is reported as ``unexpected_failure`` for that item.

Exactly once: the AS must store the Pleo ``accountingEntryId`` with each entry (as its external
reference) and find it again in :meth:`ExportTarget.find_posted`; the orchestrator asks before
every post (DESIGN decision 5).

The entries and the other values are defined in :mod:`pleo_erp.domain.journal` (the domain
layer never imports this module) and re-exported here under the same names.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from datetime import date
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable
from uuid import UUID

# The value types live in the domain layer (one-way imports: this module needs them, the
# domain never imports the protocols); they are re-exported here (the domain module's
# ``__all__``) so both paths keep working.
from pleo_erp.domain import journal as _journal
from pleo_erp.domain.failures import ItemFailureType, JobFailureType
from pleo_erp.domain.journal import *  # noqa: F403
from pleo_erp.domain.journal import (
    AccountsMapping,
    Attachment,
    Capabilities,
    Entry,
    EntryDimension,
    JobContext,
    PostedEntry,
    VendorAccount,
    VendorKey,
)

__all__ = [
    *_journal.__all__,
    "AccountingSystemAuthenticationError",
    "AccountingSystemAuthorizationError",
    "AccountingSystemError",
    "AccountingSystemNotReady",
    "AccountingSystemRateLimited",
    "AccountingSystemTimeout",
    "AccountingSystemUnavailable",
    "AsyncExportTarget",
    "BaseExportTarget",
    "BlockingExportTarget",
    "ClosedPeriodError",
    "EntryRejected",
    "ExportTarget",
    "ReceiptConversionError",
    "ReceiptTooLargeError",
    "ReceiptUploadError",
    "SupportsAsyncJobSession",
    "SupportsJobSession",
    "UnknownAccountError",
    "UnknownDimensionError",
    "UnknownTaxCodeError",
    "UnknownVendorError",
    "blocking_export_target",
]

# --------------------------------------------------------------------------- errors


class AccountingSystemError(Exception):
    """An AS failure, carrying the Pleo failure type it means.

    ``failure_type`` is the item failure type reported when this stops one item.
    ``job_failure_type`` is set when the failure makes the whole job impossible (outage,
    authentication, lost authorisation, exhausted rate limit): the orchestrator then stops the
    job and sends ``failed`` with that job-enum reason. ``retryable`` says whether trying the
    same call again later can help. ``message`` is shown to the bookkeeper in Pleo: make it
    actionable and free of secrets. Subclasses set the defaults; both types can be overridden
    per instance (``AccountingSystemError("…", "tax_code_unknown")``).
    """

    failure_type: ItemFailureType = "accounting_system_validation_failure"
    job_failure_type: JobFailureType | None = None
    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        failure_type: ItemFailureType | None = None,
        *,
        job_failure_type: JobFailureType | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if failure_type is not None:
            self.failure_type = failure_type
        if job_failure_type is not None:
            self.job_failure_type = job_failure_type

    @property
    def job_level(self) -> bool:
        """Whether this failure stops the whole job."""
        return self.job_failure_type is not None


class AccountingSystemUnavailable(AccountingSystemError):
    """The AS cannot be reached (network, maintenance, read-only lock). Stops the job."""

    failure_type: ItemFailureType = "accounting_system_unreachable"
    job_failure_type: JobFailureType | None = "accounting_system_unreachable"
    retryable: ClassVar[bool] = True


class AccountingSystemAuthenticationError(AccountingSystemError):
    """The AS rejected the integration's credentials. Stops the job."""

    failure_type: ItemFailureType = "accounting_system_authentication_failure"
    job_failure_type: JobFailureType | None = "accounting_system_authentication_failure"


class AccountingSystemAuthorizationError(AccountingSystemError):
    """The integration lost access / permissions in the AS. Stops the job."""

    failure_type: ItemFailureType = "authorization_failure"
    job_failure_type: JobFailureType | None = "authorization_failure"


class AccountingSystemRateLimited(AccountingSystemError):
    """The AS throttled the integration; ``retry_after`` seconds is its hint, if any.

    The orchestrator waits and retries a bounded number of times, then stops the job with
    ``accounting_system_rate_limit``.
    """

    failure_type: ItemFailureType = "accounting_system_rate_limit"
    job_failure_type: JobFailureType | None = "accounting_system_rate_limit"
    retryable: ClassVar[bool] = True

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AccountingSystemTimeout(AccountingSystemError):
    """One AS call timed out. Fails that item (after checking whether the post landed)."""

    failure_type: ItemFailureType = "accounting_system_timeout"
    retryable: ClassVar[bool] = True


class AccountingSystemNotReady(AccountingSystemError):
    """Pre-export validation failed (company not mapped, workflow unsupported …). Stops the job.

    ``job_failure_type`` says why (default ``invalid_configuration``; e.g.
    ``missing_configuration``, ``integration_unusable``).

    ``transient=True`` marks a condition that passes by itself (the book is open in the
    desktop application, a maintenance window): the job is then left for the next run instead
    of failing, and is failed with ``job_failure_type`` (default
    ``accounting_system_unreachable``) only if the condition outlasts
    ``ExportConfig.transient_give_up_after`` (see ``docs/export.md``).
    """

    failure_type: ItemFailureType = "invalid_configuration"
    job_failure_type: JobFailureType | None = "invalid_configuration"

    def __init__(
        self,
        message: str,
        *,
        job_failure_type: JobFailureType | None = None,
        transient: bool = False,
    ) -> None:
        if job_failure_type is None:
            job_failure_type = (
                "accounting_system_unreachable" if transient else "invalid_configuration"
            )
        super().__init__(message, job_failure_type=job_failure_type)
        self.transient = transient


class EntryRejected(AccountingSystemError):
    """The AS refused the entry for a business reason (its validation message is shown)."""


class ClosedPeriodError(EntryRejected):
    """The posting date falls in a closed accounting period.

    ``next_open`` is the first open date the AS knows, if any; the orchestrator moves the
    entry there or to today when configured (C21), else fails the item with this message.
    """

    def __init__(self, message: str, *, next_open: date | None = None) -> None:
        super().__init__(message)
        self.next_open = next_open


class UnknownVendorError(AccountingSystemError):
    """The vendor does not exist in the AS or is blocked (``vendor_unknown``)."""

    failure_type: ItemFailureType = "vendor_unknown"


class UnknownAccountError(AccountingSystemError):
    """A GL account on the entry does not exist in the AS (``account_unknown``)."""

    failure_type: ItemFailureType = "account_unknown"

    def __init__(self, message: str, *, account: str | None = None) -> None:
        super().__init__(message)
        self.account = account


class UnknownTaxCodeError(AccountingSystemError):
    """A tax code on the entry does not exist in the AS (``tax_code_unknown``)."""

    failure_type: ItemFailureType = "tax_code_unknown"

    def __init__(self, message: str, *, tax_code: str | None = None) -> None:
        super().__init__(message)
        self.tax_code = tax_code


class UnknownDimensionError(AccountingSystemError):
    """A dimension value (Pleo tag) on the entry does not exist in the AS (``tag_unknown``)."""

    failure_type: ItemFailureType = "tag_unknown"

    def __init__(self, message: str, *, dimension: EntryDimension | None = None) -> None:
        super().__init__(message)
        self.dimension = dimension


class ReceiptUploadError(AccountingSystemError):
    """Attaching a receipt to the created entry failed (``receipt_upload_failure``)."""

    failure_type: ItemFailureType = "receipt_upload_failure"
    retryable: ClassVar[bool] = True


class ReceiptTooLargeError(AccountingSystemError):
    """A receipt exceeds what the AS accepts (``receipt_file_size_limit_exceeded``)."""

    failure_type: ItemFailureType = "receipt_file_size_limit_exceeded"


class ReceiptConversionError(AccountingSystemError):
    """A receipt could not be converted or merged (``receipt_conversion_failure``)."""

    failure_type: ItemFailureType = "receipt_conversion_failure"


# --------------------------------------------------------------------------- protocols


@runtime_checkable
class ExportTarget(Protocol):
    """The accounting system as the Level 1 export sees it (synchronous).

    Calls arrive from one thread per company at a time (``post`` from up to
    :attr:`Capabilities.max_concurrent_posts` threads). Implementations raise
    :class:`AccountingSystemError` subclasses; see the module docstring.

    Optional: a ``job_session(job)`` method returning a context manager (see
    :class:`SupportsJobSession`); the export opens it once around each job's items.
    """

    def capabilities(self) -> Capabilities:
        """What this AS supports (attachments, AP, drafts, field sizes, VAT style)."""
        ...

    def accounts_mapping(self) -> AccountsMapping:
        """The accounts mapping configured in the AS integration (config may override it)."""
        ...

    def check_ready(self, job: JobContext) -> None:
        """Pre-export validation: reachable, authenticated, company mapped, workflow supported.

        Raise :class:`AccountingSystemNotReady` (or another job-level error) to fail the job.
        """
        ...

    def find_vendor(self, key: VendorKey) -> VendorAccount | None:
        """The AS vendor matching one key, or ``None``. Blocked vendors are returned as such."""
        ...

    def is_period_open(self, on: date) -> bool:
        """Whether entries may be booked on ``on``.

        Instead of returning ``False`` an implementation may raise :class:`ClosedPeriodError`
        saying, in this AS's words, where the lock date lives (and ``next_open``): the date
        then counts as closed and the message reaches the bookkeeper in the item's failure.
        """
        ...

    def next_open_date(self, after: date) -> date | None:
        """The first bookable date after a closed ``after`` (start of the next open period)."""
        ...

    def find_posted(self, accounting_entry_id: UUID) -> PostedEntry | None:
        """The entry already created for this Pleo ``accountingEntryId``, if any."""
        ...

    def post(self, entry: Entry, attachments: Sequence[Attachment]) -> PostedEntry:
        """Create ``entry`` (draft or final per ``entry.posting_mode``) with its receipts.

        Must store ``entry.accounting_entry_id`` so :meth:`find_posted` finds it afterwards.
        """
        ...

    def attach(self, posted: PostedEntry, attachments: Sequence[Attachment]) -> PostedEntry:
        """Attach receipts to an existing entry; keys already attached are skipped."""
        ...


class BaseExportTarget:
    """A convenient base: permissive defaults for everything but lookup and posting.

    Subclasses implement :meth:`find_posted` and :meth:`post` (and :meth:`attach` if they take
    receipts) and override the rest as their AS allows: every period open, no vendor lookup
    (AP items then fail with ``vendor_unknown`` unless a fallback AP account is allowed),
    default :class:`Capabilities`, an empty :class:`AccountsMapping`.
    """

    def capabilities(self) -> Capabilities:
        """Default capabilities."""
        return Capabilities()

    def accounts_mapping(self) -> AccountsMapping:
        """No accounts configured on the AS side."""
        return AccountsMapping()

    def check_ready(self, job: JobContext) -> None:
        """Always ready."""

    def find_vendor(self, key: VendorKey) -> VendorAccount | None:
        """No vendor lookup."""
        return None

    def is_period_open(self, on: date) -> bool:
        """Every period is open."""
        return True

    def next_open_date(self, after: date) -> date | None:
        """No period rules: ``after`` itself."""
        return after

    def find_posted(self, accounting_entry_id: UUID) -> PostedEntry | None:
        """Subclasses must look entries up by ``accountingEntryId``."""
        raise NotImplementedError

    def post(self, entry: Entry, attachments: Sequence[Attachment]) -> PostedEntry:
        """Subclasses must create entries."""
        raise NotImplementedError

    def attach(self, posted: PostedEntry, attachments: Sequence[Attachment]) -> PostedEntry:
        """Receipts are not supported unless a subclass overrides this."""
        if attachments:
            raise ReceiptUploadError("this accounting system does not accept attachments")
        return posted

    def job_session(self, job: JobContext) -> AbstractContextManager[None]:
        """Nothing to open per job (see :class:`SupportsJobSession`); override to open your
        database or book once per job."""
        return contextlib.nullcontext()


@runtime_checkable
class SupportsJobSession(Protocol):
    """An :class:`ExportTarget` that wants to know when a job's items start and end (optional).

    ``job_session(job)`` returns a context manager the export enters once before a job's
    first item and leaves after its last one, also when the job fails or an exception
    escapes mid-job. Use it to open a database connection or load a book once per job,
    keep a cache or hold a lock, and close it at the end.

    Every ``post`` must still be durable when it returns: the export reports each item to
    Pleo as exported right away, so do not defer commits to the end of the session.
    Raising an :class:`AccountingSystemError` on entry fails the job with its
    ``job_failure_type`` (default ``integration_unusable``); an error on exit is logged.
    Adapters without the method keep working (the export uses a null context).
    """

    def job_session(self, job: JobContext) -> AbstractContextManager[None]:
        """A context manager around one job's items."""
        ...


@runtime_checkable
class SupportsAsyncJobSession(Protocol):
    """The asynchronous twin of :class:`SupportsJobSession` for an :class:`AsyncExportTarget`:
    ``job_session(job)`` returns an async context manager; :class:`BlockingExportTarget`
    enters it on its loop."""

    def job_session(self, job: JobContext) -> AbstractAsyncContextManager[None]:
        """An async context manager around one job's items."""
        ...


@runtime_checkable
class AsyncExportTarget(Protocol):
    """The asynchronous twin of :class:`ExportTarget` (same methods, awaitable).

    Wrap one with :func:`blocking_export_target` to run the (synchronous) export against it.
    """

    async def capabilities(self) -> Capabilities:
        """See :meth:`ExportTarget.capabilities`."""
        ...

    async def accounts_mapping(self) -> AccountsMapping:
        """See :meth:`ExportTarget.accounts_mapping`."""
        ...

    async def check_ready(self, job: JobContext) -> None:
        """See :meth:`ExportTarget.check_ready`."""
        ...

    async def find_vendor(self, key: VendorKey) -> VendorAccount | None:
        """See :meth:`ExportTarget.find_vendor`."""
        ...

    async def is_period_open(self, on: date) -> bool:
        """See :meth:`ExportTarget.is_period_open`."""
        ...

    async def next_open_date(self, after: date) -> date | None:
        """See :meth:`ExportTarget.next_open_date`."""
        ...

    async def find_posted(self, accounting_entry_id: UUID) -> PostedEntry | None:
        """See :meth:`ExportTarget.find_posted`."""
        ...

    async def post(self, entry: Entry, attachments: Sequence[Attachment]) -> PostedEntry:
        """See :meth:`ExportTarget.post`."""
        ...

    async def attach(self, posted: PostedEntry, attachments: Sequence[Attachment]) -> PostedEntry:
        """See :meth:`ExportTarget.attach`."""
        ...


_T = TypeVar("_T")


class BlockingExportTarget:
    """An :class:`ExportTarget` running an :class:`AsyncExportTarget` on a private event loop
    in a daemon thread (see :func:`blocking_export_target`); ``close()`` stops the loop."""

    def __init__(self, target: AsyncExportTarget) -> None:
        self._target = target
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="pleo-erp-async-target", daemon=True
        )
        self._thread.start()

    def _run(self, coro: Coroutine[Any, Any, _T]) -> _T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    @contextlib.contextmanager
    def job_session(self, job: JobContext) -> Iterator[None]:
        """Enter the wrapped target's async ``job_session`` on the private loop, if it has one."""
        if not isinstance(self._target, SupportsAsyncJobSession):
            yield
            return
        session = self._target.job_session(job)
        self._run(session.__aenter__())
        try:
            yield
        except BaseException as error:
            if not self._run(session.__aexit__(type(error), error, error.__traceback__)):
                raise
        else:
            self._run(session.__aexit__(None, None, None))

    def close(self) -> None:
        """Stop the private loop (the wrapped target is not closed)."""
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()

    def capabilities(self) -> Capabilities:
        """See :meth:`ExportTarget.capabilities`."""
        return self._run(self._target.capabilities())

    def accounts_mapping(self) -> AccountsMapping:
        """See :meth:`ExportTarget.accounts_mapping`."""
        return self._run(self._target.accounts_mapping())

    def check_ready(self, job: JobContext) -> None:
        """See :meth:`ExportTarget.check_ready`."""
        self._run(self._target.check_ready(job))

    def find_vendor(self, key: VendorKey) -> VendorAccount | None:
        """See :meth:`ExportTarget.find_vendor`."""
        return self._run(self._target.find_vendor(key))

    def is_period_open(self, on: date) -> bool:
        """See :meth:`ExportTarget.is_period_open`."""
        return self._run(self._target.is_period_open(on))

    def next_open_date(self, after: date) -> date | None:
        """See :meth:`ExportTarget.next_open_date`."""
        return self._run(self._target.next_open_date(after))

    def find_posted(self, accounting_entry_id: UUID) -> PostedEntry | None:
        """See :meth:`ExportTarget.find_posted`."""
        return self._run(self._target.find_posted(accounting_entry_id))

    def post(self, entry: Entry, attachments: Sequence[Attachment]) -> PostedEntry:
        """See :meth:`ExportTarget.post`."""
        return self._run(self._target.post(entry, attachments))

    def attach(self, posted: PostedEntry, attachments: Sequence[Attachment]) -> PostedEntry:
        """See :meth:`ExportTarget.attach`."""
        return self._run(self._target.attach(posted, attachments))


def blocking_export_target(target: AsyncExportTarget) -> BlockingExportTarget:
    """Adapt an :class:`AsyncExportTarget` to the synchronous :class:`ExportTarget`.

    The coroutines run on a private event loop in a daemon thread (so this works from inside a
    running loop too); call ``.close()`` on the result when done.
    """
    return BlockingExportTarget(target)
