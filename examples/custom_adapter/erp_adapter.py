"""``AcmeLedgerAdapter``: a complete pleo-erp adapter for the imaginary "AcmeLedger REST" ERP.

One class implements the four vendor protocols of :mod:`pleo_erp.accounting_system`:

- ``ExportTarget`` (Level 1): every entry the SDK hands over — journal entry, supplier
  invoice, supplier payment, credit note — is already balanced and in integer minor units;
  AcmeLedger books all of them as journal entries (AP documents carry their supplier).
- ``AccountSource`` / ``TaxCodeSource`` / ``DimensionSource`` (Levels 2–3): read-only views of
  the chart of accounts, VAT codes and dimensions.

The three rules that make an adapter correct (the conformance kit checks each):

1. **Exactly once** — store Pleo's ``accountingEntryId`` as the entry's external reference
   and find it again in :meth:`find_posted`. AcmeLedger even refuses a duplicate reference
   (409), which we turn into "already posted".
2. **Exact money** — amounts leave the SDK as ``Decimal`` major units through
   ``EntryLine.debit_major()`` / ``credit_major()`` (the ISO 4217 exponent: JPY has no
   decimals), and are sent as strings, never floats.
3. **Typed errors** — every refusal is an ``AccountingSystemError`` subclass naming the Pleo
   failure type, so the bookkeeper sees "Account 9999 does not exist" as ``account_unknown``
   rather than ``unexpected_failure``; outages and expired credentials stop the whole job.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, NoReturn
from uuid import UUID

import httpx

from pleo_erp.accounting_system import (
    AccountingSystemAuthenticationError,
    AccountingSystemAuthorizationError,
    AccountingSystemError,
    AccountingSystemRateLimited,
    AccountingSystemTimeout,
    AccountingSystemUnavailable,
    AccountsMapping,
    Attachment,
    Capabilities,
    ClosedPeriodError,
    Dimension,
    DimensionValue,
    Entry,
    EntryRejected,
    JobContext,
    LedgerAccount,
    LedgerTaxCode,
    PostedEntry,
    ReceiptTooLargeError,
    ReceiptUploadError,
    SourceReadError,
    UnknownAccountError,
    UnknownDimensionError,
    UnknownTaxCodeError,
    UnknownVendorError,
    VendorAccount,
    VendorKey,
)

__all__ = ["AcmeLedgerAdapter"]

_ACME_MAX_ATTACHMENT = 10 * 1024 * 1024


class AcmeLedgerAdapter:
    """Talks to AcmeLedger REST through an ``httpx.Client`` (base URL and token set on it).

    Build one with :meth:`connect`. It keeps no state between calls beyond the HTTP client,
    so a new instance after a crash sees exactly what the ledger holds.
    """

    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self._job_lock_date: tuple[date | None] | None = None  # set inside a job_session

    @classmethod
    def connect(
        cls,
        base_url: str,
        token: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
    ) -> AcmeLedgerAdapter:
        """An adapter for the tenant behind ``base_url``, authenticated with ``token``."""
        http = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"},
            transport=transport,
            timeout=timeout,
        )
        return cls(http)

    def close(self) -> None:
        """Close the HTTP client."""
        self.http.close()

    def __repr__(self) -> str:  # never show the token
        return f"AcmeLedgerAdapter(base_url={str(self.http.base_url)!r})"

    # ------------------------------------------------------------------ HTTP plumbing

    # --8<-- [start:call]
    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request; transport problems become the AS errors the export understands."""
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TimeoutException as error:
            # The request may have been processed: the export asks find_posted before retrying.
            raise AccountingSystemTimeout(f"AcmeLedger did not answer in time ({path})") from error
        except httpx.TransportError as error:
            raise AccountingSystemUnavailable(f"AcmeLedger is unreachable: {error}") from error
        if response.status_code >= 400:
            _raise_for(response)
        return response

    # --8<-- [end:call]

    def _get(self, path: str, **params: Any) -> Any:
        return self._call("GET", path, params=params).json()

    def _pages(self, path: str) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            body = self._get(path, page=page)
            yield from body["items"]
            if page >= int(body.get("pages", 1)):
                return
            page += 1

    # ------------------------------------------------------------------ ExportTarget

    # --8<-- [start:describe]
    def capabilities(self) -> Capabilities:
        """What AcmeLedger takes: PDF/PNG/JPEG up to 10 MB, drafts, explicit VAT lines."""
        return Capabilities(
            max_attachments_per_entry=None,
            attachment_formats=frozenset({"pdf", "png", "jpg", "jpeg"}),
            max_attachment_bytes=_ACME_MAX_ATTACHMENT,
            supports_accounts_payable=True,
            supports_drafts=True,
            explicit_vat=True,
            description_max_length=200,
        )

    def accounts_mapping(self) -> AccountsMapping:
        """The accounts the bookkeeper configured in AcmeLedger's Pleo settings page."""
        settings = self._get("/settings/pleo")
        return AccountsMapping(
            wallet=settings.get("walletAccount"),
            wallet_by_currency=settings.get("walletAccounts") or {},
            out_of_pocket=settings.get("outOfPocketAccount"),
            balancing=settings.get("clearingAccount"),
            external_reimbursement=settings.get("reimbursementAccount"),
            accounts_payable=settings.get("payablesAccount"),
            vat_input=settings.get("inputVatAccount"),
        )

    def check_ready(self, job: JobContext) -> None:
        """Reachable and authenticated (``_call`` raises the job-level errors otherwise)."""
        self._get("/company")

    # --8<-- [end:describe]

    # --8<-- [start:vendor_periods]
    def find_vendor(self, key: VendorKey) -> VendorAccount | None:
        """The supplier whose number, id or VAT number equals ``key.value``."""
        for supplier in self._get("/suppliers", identifier=key.value)["items"]:
            return VendorAccount(
                vendor_id=supplier["number"],
                name=supplier["name"],
                ap_account=supplier.get("payableAccount"),
                blocked=bool(supplier.get("blocked")),
                currency=supplier.get("currency"),
            )
        return None

    def _lock_date(self) -> date | None:
        if self._job_lock_date is not None:  # read once for this job (see job_session)
            return self._job_lock_date[0]
        return self._read_lock_date()

    def _read_lock_date(self) -> date | None:
        lock = self._get("/company").get("lockDate")
        return date.fromisoformat(lock) if lock else None

    def is_period_open(self, on: date) -> bool:
        """Open after the lock date."""
        lock = self._lock_date()
        return lock is None or on > lock

    def next_open_date(self, after: date) -> date | None:
        """The day after the lock date (AcmeLedger has no other closed periods)."""
        lock = self._lock_date()
        if lock is None or after > lock:
            return after
        return lock + timedelta(days=1)

    # --8<-- [end:vendor_periods]

    # --8<-- [start:exactly_once]
    def find_posted(self, accounting_entry_id: UUID) -> PostedEntry | None:
        """The entry whose external reference is ``accounting_entry_id``, with its receipts."""
        found = self._get("/journal-entries", externalReference=str(accounting_entry_id))
        for entry in found["items"]:
            return _posted(entry)
        return None

    def post(self, entry: Entry, attachments: Sequence[Attachment]) -> PostedEntry:
        """Create ``entry`` as an AcmeLedger journal entry, then upload its receipts."""
        body: dict[str, Any] = {
            "externalReference": str(entry.accounting_entry_id),
            "date": entry.posting_date.isoformat(),
            "status": "draft" if entry.draft else "posted",
            "description": entry.description[:200],
            "reference": entry.reference,
            "lines": [
                {
                    "account": line.account,
                    # Decimal → str keeps every digit; the SDK already applied the exponent.
                    "debit": str(line.debit_major()),
                    "credit": str(line.credit_major()),
                    "currency": line.currency,
                    "vatCode": line.tax_code if line.role == "expense" else None,
                    "dimensions": {d.dimension: d.value for d in line.dimensions},
                }
                for line in entry.lines
            ],
        }
        vendor = getattr(entry, "vendor", None)  # AP documents carry their supplier
        if isinstance(vendor, VendorAccount):
            body["supplier"] = vendor.vendor_id
        try:
            created = self._call("POST", "/journal-entries", json=body).json()
        except _DuplicateReference:
            # Posted before (a lost response, a crashed run): the ledger keeps it once.
            existing = self.find_posted(entry.accounting_entry_id)
            if existing is None:  # pragma: no cover - AcmeLedger just said it exists
                raise
            return self.attach(existing, attachments)
        return self.attach(_posted(created), attachments)

    # --8<-- [end:exactly_once]

    # --8<-- [start:attach]
    def attach(self, posted: PostedEntry, attachments: Sequence[Attachment]) -> PostedEntry:
        """Upload the receipts whose key the entry does not hold yet (C18: never twice)."""
        if not attachments:
            return posted
        # Ask the ledger, not the caller's PostedEntry: it may predate an earlier upload.
        current = self.find_posted(posted.accounting_entry_id) or posted
        keys = set(current.attachment_keys)
        for attachment in attachments:
            if attachment.key in keys:
                continue
            if attachment.size > _ACME_MAX_ATTACHMENT:
                raise ReceiptTooLargeError(
                    f"Receipt {attachment.filename} is {attachment.size} bytes; AcmeLedger "
                    "accepts at most 10 MB per file."
                )
            try:
                self._call(
                    "POST",
                    f"/journal-entries/{posted.external_id}/attachments",
                    json={
                        "fileName": attachment.filename,
                        "contentType": attachment.content_type,
                        # The key is stored as the tag, so a resumed export skips this file.
                        "tag": attachment.key,
                        "data": base64.b64encode(attachment.read_bytes()).decode("ascii"),
                    },
                )
            except EntryRejected as error:
                raise ReceiptUploadError(
                    f"AcmeLedger refused receipt {attachment.filename}: {error.message}"
                ) from error
            keys.add(attachment.key)
        return PostedEntry(
            accounting_entry_id=current.accounting_entry_id,
            external_id=current.external_id,
            url=current.url,
            posting_date=current.posting_date,
            draft=current.draft,
            attachment_keys=frozenset(keys),
        )

    # --8<-- [end:attach]

    # ------------------------------------------------------------------ sources (Levels 2–3)

    # --8<-- [start:sources]
    def list_accounts(self) -> list[LedgerAccount]:
        """Every account; archived ones are inactive."""
        return [
            LedgerAccount(
                external_id=a["id"],
                code=a["number"],
                name=a["name"],
                active=a["status"] == "active",
                tax_code_external_id=a.get("defaultVatCode"),
            )
            for a in self._read(lambda: list(self._pages("/accounts")))
        ]

    def list_tax_codes(self) -> list[LedgerTaxCode]:
        """Every VAT code; AcmeLedger's ``exempt`` is Pleo's ``inclusive`` at 0 %."""
        return [
            LedgerTaxCode(
                code=t["code"],
                name=t["description"],
                rate=Decimal(t["rate"]),
                type="inclusive" if t["kind"] == "exempt" else t["kind"],
                active=bool(t["active"]),
                ingoing_tax_account=t.get("inputAccount"),
                outgoing_tax_account=t.get("outputAccount"),
            )
            for t in self._read(lambda: self._get("/vat-codes")["items"])
        ]

    def list_dimensions(self) -> list[Dimension]:
        """Every dimension."""
        return [
            Dimension(d["key"], d["label"], bool(d["active"]))
            for d in self._read(lambda: self._get("/dimensions")["items"])
        ]

    def list_dimension_values(self, dimension_code: str) -> list[DimensionValue]:
        """Every value of one dimension."""
        path = f"/dimensions/{dimension_code}/values"
        return [
            DimensionValue(v["code"], v["label"], bool(v["active"]))
            for v in self._read(lambda: self._get(path)["items"])
        ]

    @staticmethod
    def _read(read: Callable[[], Iterable[dict[str, Any]]]) -> list[dict[str, Any]]:
        # A failed read must raise, never look like an empty chart (it would archive Pleo's).
        try:
            return list(read())
        except AccountingSystemError as error:
            raise SourceReadError(f"reading AcmeLedger failed: {error.message}") from error

    # --8<-- [end:sources]

    # --8<-- [start:job_session]
    @contextlib.contextmanager
    def job_session(self, job: JobContext) -> Iterator[None]:
        """Read the company's lock date once per job instead of once per item.

        The export enters this once before a job's first item and leaves it after the last
        one, also when the job fails. A lock date moved mid-job is still caught: AcmeLedger
        refuses the post (``ClosedPeriodError``) and the export moves the date per policy.
        """
        self._job_lock_date = (self._read_lock_date(),)
        try:
            yield
        finally:
            self._job_lock_date = None  # outside a job, every call asks AcmeLedger again

    # --8<-- [end:job_session]

    # ------------------------------------------------------------------ for tests

    def journal_entries(self) -> list[dict[str, Any]]:
        """Every journal entry as AcmeLedger returns it (the conformance kit reads them back)."""
        return list(self._pages("/journal-entries"))


class _DuplicateReference(EntryRejected):
    """AcmeLedger already holds an entry with this external reference (409)."""


def _posted(entry: dict[str, Any]) -> PostedEntry:
    return PostedEntry(
        accounting_entry_id=UUID(entry["externalReference"]),
        external_id=entry["id"],
        url=entry.get("url"),
        posting_date=date.fromisoformat(entry["date"]),
        draft=entry.get("status") == "draft",
        attachment_keys=frozenset(a["tag"] for a in entry.get("attachments", []) if a.get("tag")),
    )


# --8<-- [start:errors]
def _raise_for(response: httpx.Response) -> NoReturn:
    """Turn an AcmeLedger error response into the AS error that names Pleo's failure type."""
    try:
        error = response.json().get("error", {})
    except ValueError:
        error = {}
    code = str(error.get("code", ""))
    message = str(error.get("message") or f"AcmeLedger answered HTTP {response.status_code}")
    status = response.status_code
    if status == 401:
        raise AccountingSystemAuthenticationError(
            "AcmeLedger rejected the API token; reconnect the integration."
        )
    if status == 403:
        raise AccountingSystemAuthorizationError(f"AcmeLedger denied access: {message}")
    if status == 429:
        retry_after = response.headers.get("Retry-After")
        raise AccountingSystemRateLimited(
            message, retry_after=float(retry_after) if retry_after else None
        )
    if status >= 500:
        raise AccountingSystemUnavailable(f"AcmeLedger is unavailable: {message}")
    if status == 409 and code == "DUPLICATE_EXTERNAL_REFERENCE":
        raise _DuplicateReference(message)
    value = error.get("value")
    if code in ("UNKNOWN_ACCOUNT", "INACTIVE_ACCOUNT"):
        raise UnknownAccountError(
            f"Account No. {value} does not exist or is archived in AcmeLedger; check the "
            "category's account in Pleo.",
            account=value,
        )
    if code == "UNKNOWN_VAT_CODE":
        raise UnknownTaxCodeError(
            f"Tax code {value} does not exist or is inactive in AcmeLedger.", tax_code=value
        )
    if code == "UNKNOWN_DIMENSION_VALUE":
        raise UnknownDimensionError(
            f"{message} Check the tag in Pleo or activate the value in AcmeLedger."
        )
    if code == "UNKNOWN_SUPPLIER":
        raise UnknownVendorError(f"{message} Create the supplier in AcmeLedger.")
    if code == "PERIOD_LOCKED":
        next_open = error.get("nextOpenDate")
        raise ClosedPeriodError(
            f"{message} Move the expense to an open period or reopen the period in AcmeLedger.",
            next_open=date.fromisoformat(next_open) if next_open else None,
        )
    if code == "FILE_TOO_LARGE":
        raise ReceiptTooLargeError(message)
    raise EntryRejected(f"AcmeLedger refused the entry: {message}")


# --8<-- [end:errors]
