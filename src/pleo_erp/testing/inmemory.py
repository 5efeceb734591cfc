"""``InMemoryAccountingSystem``: a complete accounting system in memory, for tests and demos.

It implements every vendor protocol — :class:`~pleo_erp.accounting_system.ExportTarget` for
Level 1 and, through :class:`~pleo_erp.testing.inmemory_sources.InMemorySources`, the
``DimensionSource`` / ``AccountSource`` / ``TaxCodeSource`` of Levels 2–3 — and keeps a real
double-entry ledger: every posted entry is stored with its Pleo ``accountingEntryId``, its
lines and its receipts, so tests can check balances and exactly-once delivery.

Out of the box it accepts anything sensible (``InMemoryAccountingSystem()`` exports Pleo's demo
data without configuration): a default accounts mapping, every vendor key known, every period
open, and account / tax code / dimension checks only once the chart holds such objects. Switches
make it fail the way real systems do: closed periods, unknown or blocked vendors, unknown
accounts / tax codes / tags, rate limiting, outages, an unready company, and crash hooks that
fire after an entry was stored (the "posted, but the response was lost" case).
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import date, timedelta
from typing import Any, Literal
from uuid import UUID

from attrs import define, evolve, field

from pleo_erp.accounting_system.export import (
    AccountingSystemError,
    AccountingSystemRateLimited,
    AccountingSystemUnavailable,
    AccountsMapping,
    Attachment,
    Capabilities,
    ClosedPeriodError,
    CreditNote,
    Entry,
    EntryRejected,
    JobContext,
    PostedEntry,
    ReceiptTooLargeError,
    SupplierInvoice,
    SupplierPayment,
    UnknownAccountError,
    UnknownDimensionError,
    UnknownTaxCodeError,
    VendorAccount,
    VendorKey,
)
from pleo_erp.accounting_system.sources import (
    Dimension,
    DimensionValue,
    LedgerAccount,
    LedgerTaxCode,
)
from pleo_erp.testing.inmemory_sources import InMemorySources

__all__ = [
    "DEFAULT_MAPPING",
    "InMemoryAccountingSystem",
    "StoredAttachment",
    "StoredEntry",
]

DEFAULT_MAPPING = AccountsMapping(
    wallet="1930",
    out_of_pocket="2890",
    balancing="1999",
    accounts_payable="2440",
    vat_input="2640",
    vat_output="2614",
    rounding="3740",
)
"""The accounts the in-memory AS books against when nothing else is configured (BAS numbers;
``3740`` takes the FX rounding of foreign-currency splits)."""

Method = Literal[
    "capabilities",
    "accounts_mapping",
    "check_ready",
    "find_vendor",
    "is_period_open",
    "next_open_date",
    "find_posted",
    "post",
    "attach",
]


@define(frozen=True, slots=True, kw_only=True)
class StoredAttachment:
    """A receipt as the in-memory AS keeps it (its bytes are copied at upload)."""

    key: str
    filename: str
    content_type: str
    size: int
    sha256: str
    data: bytes


@define(slots=True, kw_only=True)
class StoredEntry:
    """One entry in the ledger, with what the AS knows about it.

    ``paid`` / ``settled_by`` track AP reconciliation: an invoice and its payment (possibly
    exported in different jobs) are linked by invoice number when both exist (C17).
    """

    entry: Entry
    posted: PostedEntry
    attachments: dict[str, StoredAttachment] = field(factory=dict)
    paid: bool = False
    settled_by: UUID | None = None

    @property
    def accounting_entry_id(self) -> UUID:
        """The Pleo id this entry was exported for."""
        return self.entry.accounting_entry_id

    @property
    def external_id(self) -> str:
        """The AS's id of the entry."""
        return self.posted.external_id


def _first_waiting(
    waiting: dict[tuple[str, str], list[StoredEntry]],
    queue: dict[tuple[str, str], list[StoredEntry]],
    key: tuple[str, str],
    stored: StoredEntry,
) -> StoredEntry | None:
    """Take the oldest counterpart waiting under ``key``, or queue ``stored`` to wait for one."""
    if waiting.get(key):
        return waiting[key].pop(0)
    queue.setdefault(key, []).append(stored)
    return None


def _settle(invoice: StoredEntry, payment: StoredEntry) -> None:
    """Link an AP invoice and the payment that settles it (C17)."""
    invoice.paid = True
    invoice.settled_by = payment.accounting_entry_id
    payment.settled_by = invoice.accounting_entry_id


def _invoice_key(entry: SupplierInvoice | SupplierPayment, number: str) -> tuple[str, str]:
    """(vendor, invoice number): the AS vendor id, else the vendor's name (fallback AP)."""
    vendor = entry.vendor.vendor_id if entry.vendor is not None else entry.vendor_name
    return vendor, number


class InMemoryAccountingSystem(InMemorySources):
    """An in-memory AS implementing ``ExportTarget`` and the sync source protocols.

    Args:
        mapping: the AS-side accounts mapping (default :data:`DEFAULT_MAPPING`).
        capabilities: what it supports (default: everything, explicit VAT, 64 concurrent
            posts — every method is thread-safe).
        vendors: known vendors, each findable by its ``vendor_id`` (add more keys with
            :meth:`add_vendor`).
        auto_vendors: any vendor key not known resolves to a new vendor (default ``True``,
            so demo data needs no setup); set ``False`` to test ``vendor_unknown``.
        closed_before: every date before it is in a closed period (a lock date).
        closed_months: further closed ``(year, month)`` periods.
        validate_accounts: check expense-line accounts against the chart; ``None``
            (default) checks only once the chart holds an account.
        validate_tax_codes: check tax codes against the chart; ``None`` (default) checks
            only once the chart holds a tax code.
        validate_dimensions: check dimension values against the chart; ``None`` (default)
            checks only once the chart holds a dimension.
        url_base: prefix of each entry's URL.
        keep_attachment_data: keep each receipt's bytes (``False`` keeps name, size and
            digest only: big benchmark ledgers).
        dimensions: the initial dimensions (see ``InMemorySources``).
        values: the initial dimension values, by dimension code.
        accounts: the initial chart of accounts.
        tax_codes: the initial tax codes.
    """

    def __init__(
        self,
        *,
        mapping: AccountsMapping | None = None,
        capabilities: Capabilities | None = None,
        vendors: Iterable[VendorAccount] = (),
        auto_vendors: bool = True,
        closed_before: date | None = None,
        closed_months: Iterable[tuple[int, int]] = (),
        validate_accounts: bool | None = None,
        validate_tax_codes: bool | None = None,
        validate_dimensions: bool | None = None,
        url_base: str = "https://ledger.example/entries/",
        keep_attachment_data: bool = True,
        dimensions: Iterable[Dimension] = (),
        values: dict[str, Iterable[DimensionValue]] | None = None,
        accounts: Iterable[LedgerAccount] = (),
        tax_codes: Iterable[LedgerTaxCode] = (),
    ) -> None:
        super().__init__(
            dimensions=dimensions, values=values, accounts=accounts, tax_codes=tax_codes
        )
        self._lock = threading.RLock()
        self.mapping = mapping if mapping is not None else DEFAULT_MAPPING
        """The accounts mapping returned by :meth:`accounts_mapping`."""
        self.capability_set = (
            capabilities if capabilities is not None else Capabilities(max_concurrent_posts=64)
        )
        """The capabilities returned by :meth:`capabilities`."""
        self._vendors: dict[str, VendorAccount] = {}
        for vendor in vendors:
            self.add_vendor(vendor)
        self.auto_vendors = auto_vendors
        self.closed_before = closed_before
        self.closed_months: set[tuple[int, int]] = set(closed_months)
        self.validate_accounts = validate_accounts
        self.validate_tax_codes = validate_tax_codes
        self.validate_dimensions = validate_dimensions
        self.url_base = url_base
        self.keep_attachment_data = keep_attachment_data
        self._entries: list[StoredEntry] = []
        self._by_id: dict[UUID, StoredEntry] = {}
        self._open_invoices_by_number: dict[tuple[str, str], list[StoredEntry]] = {}
        self._unapplied_payments: dict[tuple[str, str], list[StoredEntry]] = {}
        self._counter = 0
        # failure switches
        self.outage = False
        """While ``True`` every call raises :class:`AccountingSystemUnavailable`."""
        self.rate_limited_calls = 0
        """The next N calls raise :class:`AccountingSystemRateLimited`."""
        self.rate_limit_retry_after: float | None = 1.0
        self.not_ready: AccountingSystemError | None = None
        """Raised by :meth:`check_ready` when set."""
        self.unknown_accounts: set[str] = set()
        self.unknown_tax_codes: set[str] = set()
        self.unknown_dimension_values: set[tuple[str, str]] = set()
        self.blocked_vendors: set[str] = set()
        self.crash_after_post: Callable[[Entry], None] | None = None
        """Called after an entry is stored, inside :meth:`post`; raise to lose the response."""
        self.crash_before_post: Callable[[Entry], None] | None = None
        """Called before an entry is stored, inside :meth:`post`."""
        self._failures: dict[str, list[BaseException]] = {}
        self.calls: Counter[str] = Counter()
        """How many times each protocol method was called."""

    @classmethod
    def from_demo(cls, demo: Any, **kwargs: Any) -> InMemoryAccountingSystem:
        """An AS holding the sandbox demo company's chart (``sandbox.demo`` or its ``chart``).

        Accounts, tax codes, dimensions, vendors (findable by code, external id and
        registration numbers; inactive ones blocked), the accounts mapping and the period
        lock date (postings on or before ``closed_until`` are refused) come from the demo's
        :class:`~pleo_erp.testing.sandbox.demo.DemoChart`; unknown vendors are not
        auto-created, so the demo's deliberate failures fail as documented. ``kwargs``
        override constructor arguments.
        """
        chart = getattr(demo, "chart", demo)
        ingoing = [t.ingoing_tax_account for t in chart.tax_codes if t.ingoing_tax_account]
        options: dict[str, Any] = {
            "mapping": evolve(
                chart.mapping.to_accounts_mapping(),
                vat_input=max(set(ingoing), key=ingoing.count) if ingoing else None,
            ),
            "auto_vendors": False,
            "closed_before": None
            if chart.closed_until is None
            else chart.closed_until + timedelta(days=1),
            # The demo chart holds the domain records themselves: passed through unchanged
            # (a source lists a dimension's values apart from it, as ``values``).
            "accounts": list(chart.accounts),
            "tax_codes": list(chart.tax_codes),
            "dimensions": [evolve(d, values=()) for d in chart.dimensions],
            "values": {d.code: list(d.values) for d in chart.dimensions},
        }
        options.update(kwargs)
        system = cls(**options)
        for vendor in chart.vendors:
            account = VendorAccount(
                vendor_id=vendor.code,
                name=vendor.name,
                ap_account=vendor.ap_account,
                blocked=not vendor.active,
                currency=vendor.currency,
            )
            keys = [
                k
                for k in (
                    vendor.external_id,
                    vendor.registration_number,
                    vendor.tax_registration_number,
                )
                if k
            ]
            system.add_vendor(account, *keys)
        return system

    # ------------------------------------------------------------------ inspection

    @property
    def entries(self) -> list[StoredEntry]:
        """Every stored entry in posting order (duplicates included, if any ever happened)."""
        with self._lock:
            return list(self._entries)

    def entry_for(self, accounting_entry_id: UUID) -> StoredEntry | None:
        """The first entry stored for a Pleo ``accountingEntryId``."""
        with self._lock:
            return self._by_id.get(accounting_entry_id)

    def post_count(self, accounting_entry_id: UUID) -> int:
        """How many entries were stored for one ``accountingEntryId`` (exactly once → 1)."""
        with self._lock:
            return sum(1 for e in self._entries if e.accounting_entry_id == accounting_entry_id)

    def duplicates(self) -> list[UUID]:
        """``accountingEntryId`` values stored more than once (should always be empty)."""
        with self._lock:
            counts = Counter(e.accounting_entry_id for e in self._entries)
        return sorted((aeid for aeid, n in counts.items() if n > 1), key=str)

    def balance(self, account: str) -> int:
        """Σ debit − Σ credit on ``account`` over the whole ledger (minor units).

        Mixed currencies are summed as they are: use it per currency in tests.
        """
        with self._lock:
            return sum(
                line.debit - line.credit
                for stored in self._entries
                for line in stored.entry.lines
                if line.account == account
            )

    def trial_balance(self) -> dict[tuple[str, str], int]:
        """Balance per (account, currency); the values of one currency always sum to zero."""
        totals: dict[tuple[str, str], int] = {}
        with self._lock:
            for stored in self._entries:
                for line in stored.entry.lines:
                    key = (line.account, line.currency)
                    totals[key] = totals.get(key, 0) + line.debit - line.credit
        return totals

    def is_balanced(self) -> bool:
        """Whether every currency's trial balance sums to zero."""
        per_currency: dict[str, int] = {}
        for (_, currency), value in self.trial_balance().items():
            per_currency[currency] = per_currency.get(currency, 0) + value
        return all(v == 0 for v in per_currency.values())

    def open_invoices(self) -> list[StoredEntry]:
        """AP invoices not settled yet (waiting for their payment, C17)."""
        with self._lock:
            return [
                e
                for e in self._entries
                if isinstance(e.entry, SupplierInvoice)
                and e.entry.settled_from is None
                and not e.paid
            ]

    # ------------------------------------------------------------------ configuration helpers

    def add_vendor(self, vendor: VendorAccount, *keys: str) -> None:
        """Make ``vendor`` findable by its ``vendor_id`` and any further ``keys``."""
        with self._lock:
            for key in (vendor.vendor_id, *keys):
                self._vendors[key] = vendor

    def close_period(self, year: int, month: int) -> None:
        """Close one calendar month."""
        self.closed_months.add((year, month))

    def fail_next(self, method: Method, error: BaseException, *, times: int = 1) -> None:
        """Make the next ``times`` calls of ``method`` raise ``error``."""
        with self._lock:
            self._failures.setdefault(method, []).extend([error] * times)

    def clear_failures(self) -> None:
        """Drop every queued failure and switch off outage and rate limiting."""
        with self._lock:
            self._failures.clear()
            self.outage = False
            self.rate_limited_calls = 0

    def _enter(self, method: Method) -> None:
        with self._lock:
            self.calls[method] += 1
            if self.outage:
                raise AccountingSystemUnavailable("the accounting system is unreachable (outage)")
            if self.rate_limited_calls > 0:
                self.rate_limited_calls -= 1
                raise AccountingSystemRateLimited(
                    "too many requests to the accounting system",
                    retry_after=self.rate_limit_retry_after,
                )
            queued = self._failures.get(method)
            if queued:
                raise queued.pop(0)

    # ------------------------------------------------------------------ ExportTarget

    def capabilities(self) -> Capabilities:
        """See :meth:`ExportTarget.capabilities`."""
        self._enter("capabilities")
        return self.capability_set

    def accounts_mapping(self) -> AccountsMapping:
        """See :meth:`ExportTarget.accounts_mapping`."""
        self._enter("accounts_mapping")
        return self.mapping

    def check_ready(self, job: JobContext) -> None:
        """Raises :attr:`not_ready` when set; refuses vendor bookkeeping without AP support."""
        self._enter("check_ready")
        if self.not_ready is not None:
            raise self.not_ready

    def find_vendor(self, key: VendorKey) -> VendorAccount | None:
        """The vendor known under ``key.value`` (auto-created when :attr:`auto_vendors`)."""
        self._enter("find_vendor")
        with self._lock:
            vendor = self._vendors.get(key.value)
            if vendor is None and self.auto_vendors:
                vendor = VendorAccount(vendor_id=key.value, name=key.value)
                self._vendors[key.value] = vendor
            if vendor is not None and (
                vendor.vendor_id in self.blocked_vendors or key.value in self.blocked_vendors
            ):
                vendor = evolve(vendor, blocked=True)
            return vendor

    def _closed(self, on: date) -> bool:
        if self.closed_before is not None and on < self.closed_before:
            return True
        return (on.year, on.month) in self.closed_months

    def is_period_open(self, on: date) -> bool:
        """Open unless before :attr:`closed_before` or in a closed month."""
        self._enter("is_period_open")
        return not self._closed(on)

    def next_open_date(self, after: date) -> date | None:
        """The first open date after ``after`` (the lock date, then month starts)."""
        self._enter("next_open_date")
        return self._next_open(after)

    def _next_open(self, after: date) -> date | None:
        candidate = after + timedelta(days=1)
        if self.closed_before is not None and candidate < self.closed_before:
            candidate = self.closed_before
        for _ in range(1200):  # a hundred years of closed months is surely a bug
            if not self._closed(candidate):
                return candidate
            year, month = candidate.year, candidate.month
            candidate = date(year + month // 12, month % 12 + 1, 1)
        return None

    def find_posted(self, accounting_entry_id: UUID) -> PostedEntry | None:
        """The stored entry for ``accounting_entry_id`` (with its attachment keys)."""
        self._enter("find_posted")
        with self._lock:
            stored = self._by_id.get(accounting_entry_id)
            if stored is None:
                return None
            return evolve(stored.posted, attachment_keys=frozenset(stored.attachments))

    def post(self, entry: Entry, attachments: Sequence[Attachment]) -> PostedEntry:
        """Validate and store ``entry`` with its receipts (see the class docstring)."""
        self._enter("post")
        if self._closed(entry.posting_date):
            raise ClosedPeriodError(
                f"period of {entry.posting_date.isoformat()} is locked",
                next_open=self._next_open(entry.posting_date),
            )
        self._validate(entry)
        stored_attachments = self._read_attachments(attachments, already=0)
        if self.crash_before_post is not None:
            self.crash_before_post(entry)
        with self._lock:
            self._counter += 1
            prefix = {
                "journal_entry": "JE",
                "supplier_invoice": "INV",
                "supplier_payment": "PAY",
                "credit_note": "CN",
            }[entry.kind]
            external_id = f"{prefix}-{self._counter:06d}"
            posted = PostedEntry(
                accounting_entry_id=entry.accounting_entry_id,
                external_id=external_id,
                url=f"{self.url_base}{external_id}",
                posting_date=entry.posting_date,
                draft=entry.draft,
                attachment_keys=frozenset(stored_attachments),
            )
            stored = StoredEntry(entry=entry, posted=posted, attachments=stored_attachments)
            self._entries.append(stored)
            self._by_id.setdefault(entry.accounting_entry_id, stored)
            self._reconcile(stored)
        if self.crash_after_post is not None:
            self.crash_after_post(entry)
        return posted

    def validate_entry(self, entry: Entry) -> None:
        """The checks of :meth:`post`, without storing anything (``EntryValidator``)."""
        if self._closed(entry.posting_date):
            raise ClosedPeriodError(
                f"period of {entry.posting_date.isoformat()} is locked",
                next_open=self._next_open(entry.posting_date),
            )
        self._validate(entry)

    def attach(self, posted: PostedEntry, attachments: Sequence[Attachment]) -> PostedEntry:
        """Add receipts to a stored entry; keys it already holds are skipped."""
        self._enter("attach")
        with self._lock:
            stored = self._by_id.get(posted.accounting_entry_id)
            if stored is None:
                raise EntryRejected(f"no entry {posted.external_id} to attach receipts to")
            missing = [a for a in attachments if a.key not in stored.attachments]
            stored.attachments.update(
                self._read_attachments(missing, already=len(stored.attachments))
            )
            stored.posted = evolve(stored.posted, attachment_keys=frozenset(stored.attachments))
            return stored.posted

    # ------------------------------------------------------------------ internals

    def _read_attachments(
        self, attachments: Sequence[Attachment], *, already: int
    ) -> dict[str, StoredAttachment]:
        caps = self.capability_set
        limit = caps.max_attachments_per_entry
        if limit is not None and already + len(attachments) > limit:
            raise EntryRejected(
                f"at most {limit} attachment(s) per entry; got {already + len(attachments)}"
            )
        stored: dict[str, StoredAttachment] = {}
        for attachment in attachments:
            if attachment.size > caps.max_attachment_bytes:
                raise ReceiptTooLargeError(
                    f"receipt {attachment.filename} is larger than "
                    f"{caps.max_attachment_bytes} bytes"
                )
            data = attachment.read_bytes()
            stored[attachment.key] = StoredAttachment(
                key=attachment.key,
                filename=attachment.filename,
                content_type=attachment.content_type,
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                data=data if self.keep_attachment_data else b"",
            )
        return stored

    def _check_enabled(self, flag: bool | None, has_data: bool) -> bool:
        return has_data if flag is None else flag

    def _validate(self, entry: Entry) -> None:
        accounts = self.accounts
        known_accounts = {a.code for a in accounts if a.active and a.code} | {
            a.external_id for a in accounts if a.active
        }
        check_accounts = self._check_enabled(self.validate_accounts, bool(accounts))
        tax_codes = {t.code for t in self.tax_codes if t.active}
        check_tax = self._check_enabled(self.validate_tax_codes, bool(self.tax_codes))
        check_dims = self._check_enabled(self.validate_dimensions, bool(self.dimensions))
        for line in entry.lines:
            if line.account in self.unknown_accounts or (
                check_accounts and line.role == "expense" and line.account not in known_accounts
            ):
                raise UnknownAccountError(
                    f"Account No. {line.account} does not exist in the accounting system; "
                    "check the category's account in Pleo.",
                    account=line.account,
                )
            if line.tax_code is not None and (
                line.tax_code in self.unknown_tax_codes
                or (check_tax and line.tax_code not in tax_codes)
            ):
                raise UnknownTaxCodeError(
                    f"Tax code {line.tax_code} does not exist in the accounting system.",
                    tax_code=line.tax_code,
                )
            for dim in line.dimensions:
                if (dim.dimension, dim.value) in self.unknown_dimension_values or (
                    check_dims and not self._dimension_known(dim.dimension, dim.value)
                ):
                    raise UnknownDimensionError(
                        f"Tag with code {dim.value} does not exist in dimension "
                        f"{dim.dimension} of the accounting system; check the tag in Pleo.",
                        dimension=dim,
                    )

    def _dimension_known(self, dimension: str, value: str) -> bool:
        dims = {d.code.lower() for d in self.dimensions if d.active}
        if dimension.lower() not in dims:
            return False
        for dim in self.dimensions:
            if dim.code.lower() == dimension.lower():
                for candidate in self.values_of(dim.code):
                    if candidate.active and candidate.code.lower() == value.lower():
                        return True
        return False

    def _reconcile(self, stored: StoredEntry) -> None:
        """Link an AP invoice and its payment when both exist (C17), in either order.

        Matching is on (vendor, invoice number), as the Beancount adapter's ``^inv-`` link:
        two vendors may both issue invoice "100", and one's payment must never settle the
        other's invoice. Unmatched invoices and payments wait in per-key queues (constant time
        per post, so big ledgers stay fast).
        """
        entry = stored.entry
        if isinstance(entry, SupplierPayment) and entry.invoice_number and not entry.returned:
            key = _invoice_key(entry, entry.invoice_number)
            invoice = _first_waiting(
                self._open_invoices_by_number, self._unapplied_payments, key, stored
            )
            if invoice is not None:
                _settle(invoice, stored)
        elif isinstance(entry, SupplierInvoice):
            if entry.settled_from is not None:
                stored.paid = True
                return
            if entry.invoice is None:
                return
            key = _invoice_key(entry, entry.invoice.number)
            payment = _first_waiting(
                self._unapplied_payments, self._open_invoices_by_number, key, stored
            )
            if payment is not None:
                _settle(stored, payment)
        elif isinstance(entry, CreditNote):
            stored.paid = entry.refunded_to is not None

    def __repr__(self) -> str:
        with self._lock:
            return (
                f"InMemoryAccountingSystem(entries={len(self._entries)}, "
                f"vendors={len(self._vendors)})"
            )
