"""``BeancountAccountingSystem``: a Beancount ledger as a complete Pleo accounting system.

It implements all four vendor protocols over one ``.beancount`` file:

- :class:`~pleo_erp.accounting_system.ExportTarget` — exports become transactions (``!`` draft,
  ``*`` final) with receipts stored beside the ledger and linked by ``document`` directives;
- :class:`~pleo_erp.accounting_system.DimensionSource`,
  :class:`~pleo_erp.accounting_system.AccountSource`,
  :class:`~pleo_erp.accounting_system.TaxCodeSource` — read from ``open``/``close`` and
  ``custom "pleo-…"`` directives (see :mod:`pleo_erp.adapters.beancount._config`).

Exactly once (DESIGN decision 5): every transaction carries ``pleo-accounting-entry-id``;
:meth:`~BeancountAccountingSystem.post` re-checks for it *under the ledger lock* before
writing, so neither a retry nor a concurrent process can book an expense twice.

Per-job session (:meth:`~BeancountAccountingSystem.job_session`): the export opens it once
around a job's items. It loads the ledger once (a full Beancount load, which also checks
whatever earlier sessions appended) and keeps that snapshot's index — posted entries by
``accountingEntryId``, receipts, vendors, lock date — up to date as entries are appended, so
a job parses the ledger once instead of once per write. The file lock is *not* held for the
whole session (a job may run for many minutes and other writers — another exporter, an
accountant in Fava — must not stall): every write still takes the lock and re-validates the
cached snapshot by the file's identity (inode, size, mtime); a change by anyone else causes
one reload before the exactly-once re-check, so no process ever double-posts. Inside a session
each write is checked as a fragment (the adapter's own checks plus Beancount's parser) instead
of a full reload; ``paranoid_in_session=True`` keeps the full per-write check.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import quote as url_quote
from uuid import UUID

from beancount.core import data

from pleo_erp.accounting_system.export import (
    ATTACHMENT_MAX_BYTES,
    AccountingSystemAuthorizationError,
    AccountingSystemError,
    AccountingSystemNotReady,
    AccountingSystemTimeout,
    AccountingSystemUnavailable,
    AccountsMapping,
    Attachment,
    Capabilities,
    ClosedPeriodError,
    Entry,
    EntryRejected,
    JobContext,
    PostedEntry,
    ReceiptConversionError,
    ReceiptTooLargeError,
    ReceiptUploadError,
    VendorAccount,
    VendorKey,
)
from pleo_erp.accounting_system.sources import (
    Dimension,
    DimensionValue,
    LedgerAccount,
    LedgerTaxCode,
    SourceReadError,
)
from pleo_erp.adapters.beancount._config import LedgerConfig, LedgerConfigError, VendorInfo
from pleo_erp.adapters.beancount._documents import (
    DocumentRejected,
    StoredDocument,
    extension_for,
    store_document,
)
from pleo_erp.adapters.beancount._ledger import (
    ATTACHMENT_KEY,
    ENTRY_ID_KEY,
    BeancountLedger,
    LedgerErrors,
    LedgerSnapshot,
)
from pleo_erp.adapters.beancount._lock import LockTimeout
from pleo_erp.adapters.beancount._render import (
    DocumentDraft,
    RenderError,
    TransactionDraft,
    render_document,
    render_transaction,
)
from pleo_erp.adapters.beancount._translate import entry_link, to_transaction

__all__ = ["SUPPORTED_FORMATS", "BeancountAccountingSystem"]

SUPPORTED_FORMATS: frozenset[str] = frozenset({"pdf", "png", "jpg", "jpeg"})
"""Receipt formats the ledger stores (what Fava can show)."""

_DEFAULT_LOCK_TIMEOUT = 60.0

_log = logging.getLogger("pleo_erp.adapters.beancount")


def _normalised_id(value: str) -> str:
    """Registration / tax numbers compare without spaces, dots, dashes and case."""
    return "".join(ch for ch in value.upper() if ch.isalnum())


def _vendor_matches(vendor: VendorInfo, field: str, value: str) -> bool:
    if field in ("vendor.code", "supplier.code"):
        return vendor.code.casefold() == value.casefold()
    if field == "vendor.externalId":
        return value in (vendor.external_id, vendor.code)
    if field in ("vendor.taxRegistrationNumber", "supplier.taxIdentifier"):
        return vendor.tax_id is not None and _normalised_id(vendor.tax_id) == _normalised_id(value)
    if field == "vendor.registrationNumber":
        number = vendor.registration_number
        return number is not None and _normalised_id(number) == _normalised_id(value)
    if field == "supplier.account":
        return value in (vendor.account_number, vendor.account)
    return False


class _PendingDocument:
    """A receipt validated and read into memory, waiting to be written with its entry."""

    __slots__ = ("attachment", "content", "extension")

    def __init__(self, attachment: Attachment, content: bytes, extension: str) -> None:
        self.attachment = attachment
        self.content = content
        self.extension = extension


class BeancountAccountingSystem:
    """A Beancount ledger file as export target and as dimension/account/tax-code source.

    Args:
        path: the ``.beancount`` file (create one with
            :func:`~pleo_erp.adapters.beancount.create_ledger`).
        paranoid: load every candidate version of the ledger with Beancount before it
            replaces the file, refusing any entry that would add an error (default on).
        lock_timeout: seconds to wait for the ledger lock (``None``: wait forever).
        fava_url: base URL of a Fava instance serving this ledger, e.g.
            ``http://127.0.0.1:5000/books``; posted entries then carry a link Pleo shows.
        max_attachment_bytes: per-receipt size limit (Pleo's is 30 MB).
        clock: monotonic seconds for the lock's polling (injectable for tests).
        sleep: how to wait between lock polls (injectable for tests).
        paranoid_in_session: inside a :meth:`job_session`, still load the whole candidate
            ledger before each write (``paranoid``'s per-write check, O(ledger) per post);
            by default a session checks each write as a fragment and relies on the full
            load at the start of the next session.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        paranoid: bool = True,
        lock_timeout: float | None = _DEFAULT_LOCK_TIMEOUT,
        fava_url: str | None = None,
        max_attachment_bytes: int = ATTACHMENT_MAX_BYTES,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        paranoid_in_session: bool = False,
    ) -> None:
        self.ledger = BeancountLedger(
            path, paranoid=paranoid, lock_timeout=lock_timeout, clock=clock, sleep=sleep
        )
        self._fava_url = fava_url.rstrip("/") if fava_url else None
        self._max_attachment_bytes = max_attachment_bytes
        self._paranoid_in_session = paranoid_in_session
        self._sessions = 0
        self._sessions_guard = threading.Lock()

    @property
    def path(self) -> Path:
        """The ledger file."""
        return self.ledger.path

    def __repr__(self) -> str:
        return f"BeancountAccountingSystem({str(self.path)!r})"

    # ------------------------------------------------------------------ reading

    def _read(self, *, verified: bool = False) -> LedgerSnapshot:
        """The current ledger, with read problems mapped to job-level export errors."""
        try:
            return self.ledger.verified_snapshot() if verified else self.ledger.snapshot()
        except FileNotFoundError as error:
            raise AccountingSystemUnavailable(
                f"Ledger file {self.path.name} does not exist; create it or fix the path."
            ) from error
        except PermissionError as error:
            raise AccountingSystemAuthorizationError(
                f"No permission to read ledger file {self.path.name}."
            ) from error
        except OSError as error:
            raise AccountingSystemUnavailable(
                f"Ledger file {self.path.name} cannot be read: {_reason(error)}"
            ) from error
        except LedgerConfigError as error:
            raise AccountingSystemNotReady(str(error)) from error
        except LedgerErrors as error:
            raise AccountingSystemNotReady(
                f"{error}. Fix the ledger (bean-check) before exporting.",
                job_failure_type="integration_unusable",
            ) from error

    def _config(self) -> LedgerConfig:
        return self._read().config

    def _source_config(self) -> LedgerConfig:
        """The configuration for the syncs: any failure is a read error, never "empty"."""
        try:
            return self._config()
        except AccountingSystemError as error:
            raise SourceReadError(error.message) from error

    # ------------------------------------------------------------------ sources

    def list_dimensions(self) -> list[Dimension]:
        """Every ``pleo-dimension``, active or not (``DimensionSource``)."""
        return list(self._source_config().dimensions.values())

    def list_dimension_values(self, dimension_code: str) -> list[DimensionValue]:
        """Every value of a dimension (code matched case-insensitively); ``[]`` if unknown."""
        config = self._source_config()
        dimension = config.find_dimension(dimension_code)
        if dimension is None:
            return []
        return list(config.dimension_values.get(dimension.code, {}).values())

    def list_accounts(self) -> list[LedgerAccount]:
        """Every opened account; closed ones inactive (``AccountSource``)."""
        return [a.to_ledger_account() for a in self._source_config().accounts.values()]

    def list_tax_codes(self) -> list[LedgerTaxCode]:
        """Every ``pleo-tax-code``, active or not (``TaxCodeSource``)."""
        return list(self._source_config().tax_codes.values())

    # ------------------------------------------------------------------ export: setup

    def capabilities(self) -> Capabilities:
        """Many receipts per entry (PDF/PNG/JPEG, 30 MB), AP, drafts and explicit VAT lines."""
        return Capabilities(
            max_attachments_per_entry=None,
            attachment_formats=SUPPORTED_FORMATS,
            max_attachment_bytes=self._max_attachment_bytes,
            supports_accounts_payable=True,
            supports_drafts=True,
            explicit_vat=True,
            max_concurrent_posts=1,  # one file, one writer at a time
        )

    @contextlib.contextmanager
    def job_session(self, job: JobContext) -> Iterator[None]:
        """Load the ledger once for a job's items (see the module docstring).

        Raises :class:`AccountingSystemNotReady` (``integration_unusable``) if the ledger no
        longer loads cleanly, e.g. an earlier session appended an entry Beancount refuses.
        Sessions nest and may overlap across threads; the counter only selects the checks.
        """
        self._read(verified=True)
        with self._sessions_guard:
            self._sessions += 1
        try:
            yield
        finally:
            with self._sessions_guard:
                self._sessions -= 1

    @property
    def in_session(self) -> bool:
        """Whether a :meth:`job_session` is open."""
        return self._sessions > 0

    def accounts_mapping(self) -> AccountsMapping:
        """The ``pleo-mapping`` directives, as Beancount account names."""
        mapping = self._config().mapping
        return AccountsMapping(
            wallet=mapping.get("wallet"),
            wallet_by_currency={
                key.partition(":")[2]: account
                for key, account in mapping.items()
                if key.startswith("wallet:")
            },
            out_of_pocket=mapping.get("out-of-pocket"),
            balancing=mapping.get("balancing"),
            external_reimbursement=mapping.get("external-reimbursement"),
            accounts_payable=mapping.get("accounts-payable"),
            vat_input=mapping.get("vat-input"),
            vat_output=mapping.get("vat-output"),
            rounding=mapping.get("rounding"),
        )

    def check_ready(self, job: JobContext) -> None:
        """The ledger loads cleanly, belongs to the job's company and can be written."""
        config = self._config()
        if config.company_id is not None and config.company_id != str(job.company_id):
            raise AccountingSystemNotReady(
                f"Ledger {self.path.name} is connected to another Pleo company; check the "
                'custom "pleo-company" directive.'
            )
        if not os.access(self.path.parent, os.W_OK) or not os.access(self.path, os.W_OK):
            raise AccountingSystemAuthorizationError(
                f"Ledger {self.path.name} (or its folder) is not writable."
            )

    def find_vendor(self, key: VendorKey) -> VendorAccount | None:
        """The ``pleo-vendor`` matching one Pleo vendor key; inactive vendors are blocked."""
        value = key.value.strip()
        if not value:
            return None
        for vendor in self._config().vendors.values():
            if _vendor_matches(vendor, key.field, value):
                return VendorAccount(
                    vendor_id=vendor.code,
                    name=vendor.name,
                    ap_account=vendor.account,
                    blocked=not vendor.active,
                    currency=vendor.currency,
                )
        return None

    def is_period_open(self, on: date) -> bool:
        """Open after the ``pleo-lock-date``; the lock date itself is closed."""
        return self._config().is_period_open(on)

    def next_open_date(self, after: date) -> date | None:
        """The day after the lock date for a closed ``after``; ``after`` itself otherwise."""
        lock = self._config().lock_date
        if lock is None or after > lock:
            return after
        return lock + timedelta(days=1)

    # ------------------------------------------------------------------ export: posting

    def _posted(self, snapshot: LedgerSnapshot, txn: data.Transaction) -> PostedEntry:
        entry_id = str(UUID(str((txn.meta or {})[ENTRY_ID_KEY]).strip()))
        link = entry_link(entry_id)
        url = (
            f"{self._fava_url}/journal/?filter={url_quote('^' + link)}" if self._fava_url else None
        )
        return PostedEntry(
            accounting_entry_id=UUID(entry_id),
            external_id=link,
            url=url,
            posting_date=txn.date,
            draft=txn.flag == "!",
            attachment_keys=snapshot.attachment_keys(entry_id),
        )

    def find_posted(self, accounting_entry_id: UUID) -> PostedEntry | None:
        """The transaction already booked for this ``accountingEntryId``, if any."""
        snapshot = self._read()
        txn = snapshot.find_posted(str(accounting_entry_id))
        return None if txn is None else self._posted(snapshot, txn)

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[LedgerSnapshot]:
        """The write lock plus a fresh snapshot, with failures mapped to export errors."""
        lock = self.ledger.lock
        try:
            lock.acquire()
        except LockTimeout as error:
            raise AccountingSystemTimeout(
                f"Ledger {self.path.name} is locked by another writer; try again later."
            ) from error
        except PermissionError as error:
            raise AccountingSystemAuthorizationError(
                f"No permission to lock ledger {self.path.name} (is its folder writable?)."
            ) from error
        except OSError as error:
            raise AccountingSystemUnavailable(
                f"Ledger {self.path.name} cannot be locked: {_reason(error)}"
            ) from error
        try:
            with contextlib.suppress(OSError):  # litter only; never fail a post for it
                self.ledger.sweep_stale_temps()
            yield self._read()
        finally:
            lock.release()

    def _prepare(self, attachments: Sequence[Attachment]) -> list[_PendingDocument]:
        """Read and check every receipt before anything is written (all or nothing)."""
        pending: list[_PendingDocument] = []
        seen: set[str] = set()
        for attachment in attachments:
            if attachment.key in seen:
                continue
            seen.add(attachment.key)
            label = f"Receipt {attachment.index + 1}"
            if attachment.size > self._max_attachment_bytes:
                raise ReceiptTooLargeError(
                    f"{label} is {attachment.size} bytes; the ledger accepts at most "
                    f"{self._max_attachment_bytes}."
                )
            try:
                content = attachment.read_bytes()
            except OSError as error:
                raise ReceiptUploadError(f"{label} could not be read: {error.strerror}") from error
            if len(content) > self._max_attachment_bytes:
                raise ReceiptTooLargeError(
                    f"{label} is {len(content)} bytes; the ledger accepts at most "
                    f"{self._max_attachment_bytes}."
                )
            if hashlib.sha256(content).hexdigest() != attachment.sha256.lower():
                raise ReceiptUploadError(f"{label} changed since it was downloaded; retry.")
            try:
                extension = extension_for(attachment.content_type, content)
            except DocumentRejected as error:
                raise ReceiptConversionError(f"{label}: {error}") from error
            pending.append(_PendingDocument(attachment, content, extension))
        return pending

    def _write_documents(
        self,
        pending: Sequence[_PendingDocument],
        *,
        entry_id: str,
        account: str,
        day: date,
    ) -> tuple[list[StoredDocument], str]:
        """Store the receipts and return them with their ``document`` directives' text."""
        stored: list[StoredDocument] = []
        texts: list[str] = []
        try:
            for doc in pending:
                name = f"pleo-{entry_id}-{doc.attachment.index + 1}"
                saved = store_document(
                    self.path.parent,
                    account,
                    day,
                    name,
                    doc.content,
                    doc.attachment.content_type,
                    max_bytes=self._max_attachment_bytes,
                )
                stored.append(saved)
                texts.append(
                    render_document(
                        DocumentDraft(
                            day=day,
                            account=account,
                            relative_path=saved.relative,
                            links=(entry_link(entry_id),),
                            meta=(
                                (ENTRY_ID_KEY, entry_id),
                                (ATTACHMENT_KEY, doc.attachment.key),
                                ("pleo-sha256", doc.attachment.sha256.lower()),
                            ),
                        )
                    )
                )
        except (DocumentRejected, OSError) as error:
            _remove(stored)
            raise ReceiptUploadError(f"Receipt could not be stored: {_reason(error)}") from error
        return stored, "".join(texts)

    def _append(self, text: str, stored: Sequence[StoredDocument]) -> LedgerSnapshot:
        """Append under the held lock; on refusal remove the receipts written for it."""
        full_check = None if not self.in_session or self._paranoid_in_session else False
        try:
            return self.ledger.append(text, full_check=full_check)
        except (LedgerErrors, LedgerConfigError) as error:
            _remove(stored)
            raise EntryRejected(f"The ledger refused the entry: {error}") from error
        except OSError as error:
            _remove(stored)
            raise AccountingSystemUnavailable(
                f"Ledger {self.path.name} could not be written: {_reason(error)}"
            ) from error

    def validate_entry(self, entry: Entry) -> None:
        """The checks :meth:`post` makes, writing nothing (``EntryValidator``, for previews).

        Raises what ``post`` would: :class:`ClosedPeriodError`, the ``Unknown*`` errors,
        :class:`EntryRejected` when the transaction cannot be rendered.
        """
        _rendered(entry, self._read().config)

    def post(self, entry: Entry, attachments: Sequence[Attachment]) -> PostedEntry:
        """Book ``entry`` once, with its receipts; an existing booking is returned as is.

        Raises :class:`ClosedPeriodError` on or before the lock date, the ``Unknown*``
        errors for accounts, tax codes and tags the ledger does not have, receipt errors,
        and :class:`EntryRejected` (``accounting_system_validation_failure``) if Beancount
        would not accept the new ledger. Nothing is written when it raises.
        """
        entry_id = str(entry.accounting_entry_id)
        with self._exclusive() as snapshot:
            existing = snapshot.find_posted(entry_id)
            if existing is not None:
                _log.info("entry %s is already in %s; not booked again", entry_id, self.path.name)
                return self._posted(snapshot, existing)
            config = snapshot.config
            draft, text = _rendered(entry, config)
            pending = self._prepare(attachments)
            stored: list[StoredDocument] = []
            if pending:
                account = self._document_account(entry, config) or draft.postings[0].account
                stored, documents = self._write_documents(
                    pending, entry_id=entry_id, account=account, day=entry.posting_date
                )
                text += documents
            fresh = self._append(text, stored)
            txn = fresh.find_posted(entry_id)
            assert txn is not None  # the append validated and indexed it
            _log.info(
                "booked %s %s in %s with %d receipt(s)",
                entry.kind,
                entry_id,
                self.path.name,
                len(stored),
            )
            return self._posted(fresh, txn)

    @staticmethod
    def _document_account(entry: Entry, config: LedgerConfig) -> str | None:
        """Receipts sit on the first expense account (the category), as in Fava's view."""
        for line in entry.lines:
            if line.role == "expense":
                account = config.find_account(line.account)
                if account is not None:
                    return account.name
        return None

    def attach(self, posted: PostedEntry, attachments: Sequence[Attachment]) -> PostedEntry:
        """Add receipts to an entry already booked; keys it already holds are skipped."""
        entry_id = str(posted.accounting_entry_id)
        with self._exclusive() as snapshot:
            txn = snapshot.find_posted(entry_id)
            if txn is None:
                raise ReceiptUploadError(
                    f"No ledger entry for accounting entry {entry_id}; receipts not attached."
                )
            held = snapshot.attachment_keys(entry_id)
            pending = self._prepare([a for a in attachments if a.key not in held])
            if not pending:
                return self._posted(snapshot, txn)
            account = next(
                (p.account for p in txn.postings if "pleo-line-id" in (p.meta or {})),
                txn.postings[0].account,
            )
            stored, text = self._write_documents(
                pending, entry_id=entry_id, account=account, day=txn.date
            )
            fresh = self._append(text, stored)
            refreshed = fresh.find_posted(entry_id)
            assert refreshed is not None
            return self._posted(fresh, refreshed)


def _remove(stored: Sequence[StoredDocument]) -> None:
    for document in stored:
        with contextlib.suppress(FileNotFoundError):
            document.path.unlink()


def _rendered(entry: Entry, config: LedgerConfig) -> tuple[TransactionDraft, str]:
    """``entry`` as a transaction draft and its ledger text: the checks ``post`` makes first.

    Raises :class:`ClosedPeriodError` on or before the lock date, the ``Unknown*`` errors of
    the translation, and :class:`EntryRejected` when the transaction cannot be rendered.
    """
    if not config.is_period_open(entry.posting_date):
        lock = config.lock_date
        assert lock is not None
        raise ClosedPeriodError(
            f"The accounting period of {entry.posting_date.isoformat()} is closed "
            f"(books locked up to {lock.isoformat()}); the entry was not booked.",
            next_open=lock + timedelta(days=1),
        )
    mapping = config.mapping
    draft = to_transaction(
        entry, config, vat_input=mapping.get("vat-input"), vat_output=mapping.get("vat-output")
    )
    try:
        return draft, render_transaction(draft)
    except RenderError as error:
        raise EntryRejected(f"The entry cannot be written to the ledger: {error}") from error


def _reason(error: Exception) -> object:
    """What went wrong, for a message: an ``OSError``'s own words without its errno prefix."""
    return getattr(error, "strerror", None) or error
