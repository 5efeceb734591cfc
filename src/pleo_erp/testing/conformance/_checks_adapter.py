"""Checks that call the adapter directly (no Pleo): protocol, money, errors, periods, files."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Literal, TypeVar

from hypothesis import given
from hypothesis import strategies as st

from pleo_erp.accounting_system.export import (
    AccountingSystemError,
    AccountsMapping,
    Attachment,
    Capabilities,
    ClosedPeriodError,
    Entry,
    EntryDimension,
    ExportTarget,
    JobContext,
    JournalEntry,
    PostedEntry,
)
from pleo_erp.domain.failures import ITEM_FAILURE_TYPES
from pleo_erp.testing.conformance._entries import (
    check_balanced,
    check_conserved,
    entries_by_id,
    journal_entries,
    simple_entry,
)
from pleo_erp.testing.conformance._subject import DEMO_COMPANY_ID, Subject
from pleo_erp.testing.conformance._types import (
    ConformanceFailure,
    ConformanceSkipped,
)
from pleo_erp.testing.sandbox.demo import DemoChart
from pleo_erp.testing.sandbox.files import make_pdf, make_png

__all__ = [
    "check_attachments",
    "check_balanced_entries",
    "check_closed_periods",
    "check_failure_mapping",
    "check_protocol",
]


_R = TypeVar("_R")


def _returned(value: object, method: str, expected: type[_R]) -> _R:
    """``value`` (what ``method()`` returned) if it is an ``expected``, else a failure."""
    if not isinstance(value, expected):
        raise ConformanceFailure(
            f"{method}() returned {type(value).__name__}, not "
            f"pleo_erp.accounting_system.{expected.__name__}"
        )
    return value


def _capabilities(adapter: ExportTarget) -> Capabilities:
    return _returned(adapter.capabilities(), "capabilities", Capabilities)


def _mapping(adapter: ExportTarget) -> AccountsMapping:
    return _returned(adapter.accounts_mapping(), "accounts_mapping", AccountsMapping)


def _post_valid(adapter: ExportTarget, entry: Entry, what: str) -> PostedEntry:
    try:
        posted = adapter.post(entry, [])
    except AccountingSystemError as error:
        raise ConformanceFailure(
            f"the adapter refused a valid {what} ({error.failure_type}: {error.message}); "
            f"entry: {entry!r}"
        ) from error
    _check_posted(posted, entry.accounting_entry_id, "post()")
    return posted


def _check_posted(posted: object, aeid: uuid.UUID, where: str) -> PostedEntry:
    if not isinstance(posted, PostedEntry):
        raise ConformanceFailure(f"{where} returned {type(posted).__name__}, not PostedEntry")
    if posted.accounting_entry_id != aeid:
        raise ConformanceFailure(
            f"{where} returned a PostedEntry for {posted.accounting_entry_id}, expected {aeid}"
        )
    if not posted.external_id:
        raise ConformanceFailure(f"{where} returned an empty external_id for {aeid}")
    return posted


def _found(adapter: ExportTarget, aeid: uuid.UUID, expected: PostedEntry) -> PostedEntry:
    found = adapter.find_posted(aeid)
    if found is None:
        raise ConformanceFailure(
            f"find_posted({aeid}) returned None right after post() stored it as "
            f"{expected.external_id}: store the accountingEntryId as the entry's external "
            "reference and look it up in find_posted (exactly once depends on it)"
        )
    _check_posted(found, aeid, "find_posted()")
    if found.external_id != expected.external_id:
        raise ConformanceFailure(
            f"find_posted({aeid}) says {found.external_id!r}, post() said {expected.external_id!r}"
        )
    return found


# --------------------------------------------------------------------------- protocol


def check_protocol(subject: Subject) -> None:
    """The adapter implements ``ExportTarget`` and answers the basic questions correctly."""
    with subject.workspace() as space:
        setup = space.setup()
        adapter = space.adapter(setup)
        _capabilities(adapter)
        mapping = _mapping(adapter)
        if mapping.wallet_account(setup.currency) is None:
            raise ConformanceFailure(
                "accounts_mapping() has no wallet account kept in the wallet currency "
                f"{setup.currency}; the chart maps it to {setup.chart.mapping.wallet}"
            )
        unknown = uuid.uuid4()
        if adapter.find_posted(unknown) is not None:
            raise ConformanceFailure(f"find_posted({unknown}) found an entry in an empty AS")
        job = JobContext(
            job_id=uuid.uuid4(),
            company_id=DEMO_COMPANY_ID,
            vendor_based_bookkeeping=False,
            number_of_items=3,
        )
        try:
            adapter.check_ready(job)
        except AccountingSystemError as error:
            raise ConformanceFailure(
                f"check_ready refused a plain journal job for the configured company: "
                f"{error.message}"
            ) from error
        ledger = subject.ledger(adapter)
        if ledger:
            raise ConformanceFailure(
                f"read_entries found {len(ledger)} entries in a fresh AS; expected none"
            )


# --------------------------------------------------------------------------- money


def check_balanced_entries(subject: Subject) -> None:
    """Random valid entries are accepted, found again and stored balanced and exact."""
    with subject.workspace() as space:
        setup = space.setup()
        adapter = space.adapter(setup)
        caps = _capabilities(adapter)
        mapping = _mapping(adapter)
        sent: dict[uuid.UUID, JournalEntry] = {}

        @given(entry=journal_entries(setup.chart, mapping, caps))
        def posts_exactly(entry: JournalEntry) -> None:
            posted = _post_valid(adapter, entry, "journal entry")
            _found(adapter, entry.accounting_entry_id, posted)
            sent[entry.accounting_entry_id] = entry
            ledger = subject.ledger(adapter)
            if ledger is None:
                return
            grouped = entries_by_id(ledger)
            stored = grouped.get(entry.accounting_entry_id, [])
            if len(stored) != 1:
                raise ConformanceFailure(
                    f"read_entries holds {len(stored)} entries for {entry.accounting_entry_id} "
                    "after one post; expected exactly one"
                )
            if stored[0].external_id != posted.external_id:
                raise ConformanceFailure(
                    f"read_entries shows {stored[0].external_id!r} for "
                    f"{entry.accounting_entry_id}, post() returned {posted.external_id!r}"
                )
            check_balanced(stored[0])
            check_conserved(entry, stored[0])
            if stored[0].posting_date not in (None, entry.posting_date):
                raise ConformanceFailure(
                    f"entry {posted.external_id} was booked on {stored[0].posting_date}, "
                    f"posted for {entry.posting_date}"
                )
            strangers = set(grouped) - set(sent)
            if strangers:
                raise ConformanceFailure(
                    f"read_entries returned entries for ids never posted: {sorted(strangers)}"
                )

        subject.property_test(posts_exactly, examples=max(subject.max_examples, 10))()


# --------------------------------------------------------------------------- failure types

Fault = Literal[
    "unknown_account",
    "inactive_account",
    "unknown_tax_code",
    "inactive_tax_code",
    "unknown_tag",
    "inactive_tag",
    "closed_period",
]

_ALLOWED: dict[str, frozenset[str]] = {
    "unknown_account": frozenset({"account_unknown"}),
    "inactive_account": frozenset({"account_unknown", "accounting_system_validation_failure"}),
    "unknown_tax_code": frozenset({"tax_code_unknown"}),
    "inactive_tax_code": frozenset({"tax_code_unknown", "accounting_system_validation_failure"}),
    "unknown_tag": frozenset({"tag_unknown"}),
    "inactive_tag": frozenset({"tag_unknown", "accounting_system_validation_failure"}),
    "closed_period": frozenset({"accounting_system_validation_failure"}),
}

_CODE = st.from_regex(r"[A-Z][A-Z0-9]{1,5}", fullmatch=True)


def _faulty_entries(
    chart: DemoChart, mapping: AccountsMapping, closed_periods: bool
) -> st.SearchStrategy[tuple[Fault, JournalEntry]]:
    account_codes = {a.code for a in chart.accounts} | {a.external_id for a in chart.accounts}
    tax_codes = {t.code.lower() for t in chart.tax_codes}
    inactive_accounts = [a.code for a in chart.accounts if not a.active]
    inactive_taxes = [t.code for t in chart.tax_codes if not t.active]
    active_dims = [d for d in chart.dimensions if d.active]
    inactive_values = [(d.code, v.code) for d in active_dims for v in d.values if not v.active]
    options: list[st.SearchStrategy[tuple[Fault, JournalEntry]]] = []

    def entry(fault: Fault, **kwargs: object) -> tuple[Fault, JournalEntry]:
        return fault, simple_entry(chart, mapping, **kwargs)  # type: ignore[arg-type]

    options.append(
        st.integers(min_value=1000, max_value=99_999)
        .map(str)
        .filter(lambda c: c not in account_codes)
        .map(lambda c: entry("unknown_account", account=c))
    )
    if inactive_accounts:
        options.append(
            st.sampled_from(inactive_accounts).map(lambda c: entry("inactive_account", account=c))
        )
    options.append(
        _CODE.filter(lambda c: c.lower() not in tax_codes).map(
            lambda c: entry("unknown_tax_code", tax_code=c)
        )
    )
    if inactive_taxes:
        options.append(
            st.sampled_from(inactive_taxes).map(lambda c: entry("inactive_tax_code", tax_code=c))
        )
    if active_dims:

        def unknown_tag(draw_dim: tuple[int, str]) -> tuple[Fault, JournalEntry]:
            dim = active_dims[draw_dim[0] % len(active_dims)]
            return entry("unknown_tag", dimensions=[EntryDimension(dim.code, draw_dim[1])])

        known = {(d.code, v.code.lower()) for d in active_dims for v in d.values}
        options.append(
            st.tuples(st.integers(min_value=0, max_value=50), _CODE)
            .filter(
                lambda t: (active_dims[t[0] % len(active_dims)].code, t[1].lower()) not in known
            )
            .map(unknown_tag)
        )
    if inactive_values:
        options.append(
            st.sampled_from(inactive_values).map(
                lambda dv: entry("inactive_tag", dimensions=[EntryDimension(*dv)])
            )
        )
    if closed_periods and chart.closed_until is not None:
        closed_until = chart.closed_until
        options.append(
            st.integers(min_value=0, max_value=700).map(
                lambda days: entry(
                    "closed_period", posting_date=closed_until - timedelta(days=days)
                )
            )
        )
    return st.one_of(options)


def check_failure_mapping(subject: Subject) -> None:
    """Entries the AS must refuse raise an ``AccountingSystemError`` of the right type.

    Unknown or inactive accounts, tax codes and dimension values, and dates in a closed
    period: each must raise (never be stored), as an ``AccountingSystemError`` whose
    ``failure_type`` names the problem and that does not stop the whole job. Anything else
    (``KeyError``, ``ValueError`` …) would reach Pleo as ``unexpected_failure``.
    """
    subject.note_without_dimensions("unknown and inactive tag cases")
    if not subject.closed_periods:
        subject.note("closed-period cases skipped: no accounting periods (closed_periods=False)")
    with subject.workspace() as space:
        setup = space.setup()
        adapter = space.adapter(setup)
        mapping = _mapping(adapter)

        @given(case=_faulty_entries(setup.chart, mapping, subject.closed_periods))
        def refuses(case: tuple[Fault, JournalEntry]) -> None:
            fault, entry = case
            _expect_refusal(subject, adapter, fault, entry)

        subject.property_test(refuses, examples=max(subject.max_examples, 14))()


def _expect_refusal(subject: Subject, adapter: ExportTarget, fault: Fault, entry: Entry) -> None:
    aeid = entry.accounting_entry_id
    try:
        posted = adapter.post(entry, [])
    except AccountingSystemError as error:
        allowed = _ALLOWED[fault]
        if error.failure_type not in allowed:
            raise ConformanceFailure(
                f"{fault.replace('_', ' ')}: the adapter raised {type(error).__name__} with "
                f"failure_type {error.failure_type!r}; Pleo expects one of {sorted(allowed)} "
                f"(message: {error.message})"
            ) from error
        if error.failure_type not in ITEM_FAILURE_TYPES:
            raise ConformanceFailure(
                f"failure_type {error.failure_type!r} is not one of Pleo's item failure types"
            ) from error
        if error.job_level:
            raise ConformanceFailure(
                f"{fault.replace('_', ' ')} was raised as a job-level failure "
                f"({error.job_failure_type}); one bad entry must fail only its own item"
            ) from error
        if not error.message or not error.message.strip():
            raise ConformanceFailure(
                f"{fault.replace('_', ' ')}: the error has no message; the bookkeeper sees it "
                "in Pleo, so say what is wrong and how to fix it"
            ) from error
        if fault == "closed_period" and not isinstance(error, ClosedPeriodError):
            raise ConformanceFailure(
                f"a date in a closed period raised {type(error).__name__}; raise "
                "ClosedPeriodError (with next_open when known) so the export can move the "
                "posting date when configured to"
            ) from error
    except Exception as error:
        raise ConformanceFailure(
            f"{fault.replace('_', ' ')}: the adapter raised {type(error).__name__} ({error}); "
            "raise an AccountingSystemError subclass (UnknownAccountError, "
            "UnknownTaxCodeError, UnknownDimensionError, ClosedPeriodError …) so Pleo shows "
            "the right failure type instead of unexpected_failure"
        ) from error
    else:
        raise ConformanceFailure(
            f"{fault.replace('_', ' ')}: the adapter accepted the entry (as "
            f"{posted.external_id}); it must refuse it. Entry: {entry!r}"
        )
    if adapter.find_posted(aeid) is not None:
        raise ConformanceFailure(
            f"{fault.replace('_', ' ')}: the entry was refused but find_posted({aeid}) finds "
            "it; a refused post must leave nothing behind"
        )
    ledger = subject.ledger(adapter)
    if ledger is not None and any(e.accounting_entry_id == aeid for e in ledger):
        raise ConformanceFailure(
            f"{fault.replace('_', ' ')}: the entry was refused but read_entries finds it"
        )


# --------------------------------------------------------------------------- periods


def check_closed_periods(subject: Subject) -> None:
    """``is_period_open`` / ``next_open_date`` follow the chart's lock date (C21)."""
    if not subject.closed_periods:
        raise ConformanceSkipped("the adapter has no accounting periods (closed_periods=False)")
    with subject.workspace() as space:
        setup = space.setup()
        closed_until = setup.chart.closed_until
        if closed_until is None:
            raise ConformanceSkipped("the chart has no lock date")
        adapter = space.adapter(setup)
        _check_day(adapter, closed_until, closed_until)
        _check_day(adapter, closed_until + timedelta(days=1), closed_until)

        @given(offset=st.integers(min_value=-900, max_value=900))
        def follows_lock_date(offset: int) -> None:
            _check_day(adapter, closed_until + timedelta(days=offset), closed_until)

        subject.property_test(follows_lock_date, examples=max(subject.max_examples, 20))()


def _check_day(adapter: ExportTarget, day: date, closed_until: date) -> None:
    is_open = adapter.is_period_open(day)
    if is_open != (day > closed_until):
        state = "open" if is_open else "closed"
        raise ConformanceFailure(
            f"is_period_open({day}) says {state}, but the books are closed up to and "
            f"including {closed_until}"
        )
    if is_open:
        return
    following = adapter.next_open_date(day)
    if following is None or following <= closed_until or following <= day:
        raise ConformanceFailure(
            f"next_open_date({day}) returned {following}; expected the first open date "
            f"after the lock date {closed_until}"
        )
    if not adapter.is_period_open(following):
        raise ConformanceFailure(
            f"next_open_date({day}) returned {following}, which is_period_open calls closed"
        )


# --------------------------------------------------------------------------- receipts


def _attachment(workdir: Path, aeid: uuid.UUID, index: int) -> Attachment:
    if index % 2 == 0:
        content, kind, ext = make_pdf(f"Receipt {index + 1}\n{aeid}"), "application/pdf", "pdf"
    else:
        content, kind, ext = make_png(8, 8, (200, 40 * index % 255, 90)), "image/png", "png"
    path = workdir / f"receipt-{aeid}-{index}.{ext}"
    path.write_bytes(content)
    return Attachment(
        key=f"{aeid}:{index}",
        accounting_entry_id=aeid,
        index=index,
        filename=f"receipt-{index + 1}.{ext}",
        content_type=kind,
        size=len(content),
        path=path,
        sha256=hashlib.sha256(content).hexdigest(),
    )


def check_attachments(subject: Subject) -> None:
    """Receipts are attached once: keys are remembered and a repeated key is skipped (C18)."""
    with subject.workspace() as space:
        setup = space.setup()
        adapter = space.adapter(setup)
        caps = _capabilities(adapter)
        limit = caps.max_attachments_per_entry
        if limit == 0:
            raise ConformanceSkipped(
                "the adapter takes no attachments (max_attachments_per_entry=0)"
            )
        mapping = _mapping(adapter)
        entry = simple_entry(setup.chart, mapping, description="Conformance kit receipts")
        aeid = entry.accounting_entry_id
        files_dir = setup.workdir / "_kit_receipts"
        files_dir.mkdir()
        files = [_attachment(files_dir, aeid, i) for i in range(2 if limit is None else 1)]
        first, rest = files[:1], files[1:]
        posted = _attach_step(adapter.post, entry, first, "post() with one receipt")
        _require_keys(posted, first, "post()")
        _require_keys(_found(adapter, aeid, posted), first, "find_posted()")
        if rest:
            # A resumed export passes what it still has; the AS must upload only new keys.
            again = _attach_step(adapter.attach, posted, files, "attach() of one new receipt")
            _require_keys(again, files, "attach()")
        again = _attach_step(adapter.attach, posted, files, "attach() of known receipts")
        _require_keys(again, files, "attach()")
        _require_keys(_found(adapter, aeid, posted), files, "find_posted()")
        ledger = subject.ledger(adapter)
        if ledger is not None:
            stored = [e for e in ledger if e.accounting_entry_id == aeid]
            if len(stored) != 1:
                raise ConformanceFailure(
                    f"read_entries holds {len(stored)} entries for {aeid}; expected one"
                )
            count = stored[0].attachment_count
            if count is not None and count != len(files):
                raise ConformanceFailure(
                    f"entry {posted.external_id} has {count} attachments in the AS after "
                    f"{len(files)} distinct receipts were attached (some more than once); "
                    "skip keys already attached"
                )


def _attach_step(
    call: Callable[..., PostedEntry], target: object, files: list[Attachment], what: str
) -> PostedEntry:
    try:
        result = call(target, files)
    except AccountingSystemError as error:
        raise ConformanceFailure(f"{what} failed: {error.failure_type}: {error.message}") from error
    if not isinstance(result, PostedEntry):
        raise ConformanceFailure(f"{what} returned {type(result).__name__}, not PostedEntry")
    return result


def _require_keys(posted: PostedEntry, files: list[Attachment], where: str) -> None:
    missing = {a.key for a in files} - set(posted.attachment_keys)
    if missing:
        raise ConformanceFailure(
            f"{where} does not report attachment keys {sorted(missing)} "
            f"(has {sorted(posted.attachment_keys)}); store each Attachment.key so a resumed "
            "export uploads only what is missing"
        )
