"""``InMemoryAccountingSystem`` as an ``ExportTarget``: ledger, exactly once, failure switches."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from uuid import UUID

import pytest

from pleo_erp.accounting_system import (
    AccountingSystemRateLimited,
    AccountingSystemUnavailable,
    AccountsMapping,
    AsyncExportTarget,
    Attachment,
    BaseExportTarget,
    Capabilities,
    ClosedPeriodError,
    Entry,
    EntryDimension,
    EntryLine,
    EntryRejected,
    ExportTarget,
    JobContext,
    JournalEntry,
    PostedEntry,
    UnknownAccountError,
    UnknownDimensionError,
    UnknownTaxCodeError,
    VendorAccount,
    VendorKey,
    blocking_export_target,
)
from pleo_erp.domain.bookkeeping import resolve_method
from pleo_erp.domain.config import ExportConfig
from pleo_erp.domain.entries import EntryContext, build_entry
from pleo_erp.testing.inmemory import DEFAULT_MAPPING, InMemoryAccountingSystem
from tests.helpers.export import invoice_info, make_item, vendor


def journal(n: int = 1, *, on: date = date(2024, 3, 1), account: str = "6000",
            tax_code: str | None = None,
            dims: tuple[EntryDimension, ...] = ()) -> JournalEntry:  # fmt: skip
    return JournalEntry(
        accounting_entry_id=UUID(int=n),
        posting_date=on,
        currency="SEK",
        lines=[
            EntryLine(
                account=account,
                debit=100,
                currency="SEK",
                role="expense",
                tax_code=tax_code,
                dimensions=dims,
            ),
            EntryLine(account="1930", credit=100, currency="SEK", role="counter"),
        ],
        description="d",
        reference="r",
    )


def attachment(tmp_path: Path, n: int, index: int) -> Attachment:
    data = b"%PDF-1.4 " + bytes([index])
    path = tmp_path / f"{n}-{index}.pdf"
    path.write_bytes(data)
    return Attachment(
        key=f"{UUID(int=n)}:{index}", accounting_entry_id=UUID(int=n), index=index,
        filename=path.name, content_type="application/pdf", size=len(data), path=path,
        sha256=hashlib.sha256(data).hexdigest(),
    )  # fmt: skip


def test_defaults_accept_anything_sensible() -> None:
    system = InMemoryAccountingSystem()
    assert isinstance(system, ExportTarget)
    assert system.accounts_mapping() == DEFAULT_MAPPING
    assert system.capabilities() == Capabilities(max_concurrent_posts=64)
    assert system.is_period_open(date(2000, 1, 1))
    vendor_account = system.find_vendor(VendorKey(field="vendor.code", value="V1"))
    assert vendor_account is not None
    assert vendor_account.vendor_id == "V1"
    system.check_ready(
        JobContext(
            job_id=UUID(int=1),
            company_id=UUID(int=2),
            vendor_based_bookkeeping=True,
            number_of_items=1,
        )
    )


def test_post_find_posted_and_ledger(tmp_path: Path) -> None:
    system = InMemoryAccountingSystem()
    posted = system.post(journal(1), [attachment(tmp_path, 1, 0)])
    assert posted.external_id == "JE-000001"
    assert posted.url == "https://ledger.example/entries/JE-000001"
    found = system.find_posted(UUID(int=1))
    assert found is not None
    assert found.attachment_keys == {f"{UUID(int=1)}:0"}
    assert system.find_posted(UUID(int=2)) is None
    system.post(journal(2), [])
    assert system.balance("6000") == 200
    assert system.balance("1930") == -200
    assert system.is_balanced()
    assert system.trial_balance() == {("6000", "SEK"): 200, ("1930", "SEK"): -200}
    stored = system.entry_for(UUID(int=1))
    assert stored is not None
    assert stored.attachments[f"{UUID(int=1)}:0"].data.startswith(b"%PDF")


def test_duplicates_are_visible(tmp_path: Path) -> None:
    system = InMemoryAccountingSystem()
    system.post(journal(1), [])
    system.post(journal(1), [])
    assert system.post_count(UUID(int=1)) == 2
    assert system.duplicates() == [UUID(int=1)]


def test_attach_uploads_only_missing_keys(tmp_path: Path) -> None:
    system = InMemoryAccountingSystem()
    posted = system.post(journal(1), [attachment(tmp_path, 1, 0)])
    again = system.attach(posted, [attachment(tmp_path, 1, 0), attachment(tmp_path, 1, 1)])
    assert again.attachment_keys == {f"{UUID(int=1)}:0", f"{UUID(int=1)}:1"}
    assert system.calls["attach"] == 1


def test_attachment_limits(tmp_path: Path) -> None:
    system = InMemoryAccountingSystem(capabilities=Capabilities(max_attachments_per_entry=1))
    with pytest.raises(EntryRejected):
        system.post(journal(1), [attachment(tmp_path, 1, 0), attachment(tmp_path, 1, 1)])
    assert system.entries == []


def test_closed_periods_and_next_open_date() -> None:
    system = InMemoryAccountingSystem(closed_before=date(2024, 2, 1), closed_months=[(2024, 2)])
    assert not system.is_period_open(date(2024, 1, 31))
    assert not system.is_period_open(date(2024, 2, 10))
    assert system.is_period_open(date(2024, 3, 1))
    assert system.next_open_date(date(2024, 1, 15)) == date(2024, 3, 1)
    with pytest.raises(ClosedPeriodError) as info:
        system.post(journal(1, on=date(2024, 1, 15)), [])
    assert info.value.next_open == date(2024, 3, 1)
    assert info.value.failure_type == "accounting_system_validation_failure"


def test_chart_validation_once_the_chart_has_data() -> None:
    system = InMemoryAccountingSystem()
    system.post(journal(1, account="9999", tax_code="X", dims=(EntryDimension("D", "V"),)), [])
    system.add_account("6000", "6000", "Meals")
    with pytest.raises(UnknownAccountError) as account_error:
        system.post(journal(2, account="9999"), [])
    assert account_error.value.failure_type == "account_unknown"
    system.post(journal(3, account="6000"), [])
    system.add_tax_code("VAT25", "25%", "0.25")
    with pytest.raises(UnknownTaxCodeError) as tax_error:
        system.post(journal(4, tax_code="VAT0"), [])
    assert tax_error.value.failure_type == "tax_code_unknown"
    system.add_dimension("DEPT")
    system.add_value("DEPT", "D1")
    system.post(journal(5, dims=(EntryDimension("dept", "d1"),)), [])
    with pytest.raises(UnknownDimensionError) as dim_error:
        system.post(journal(6, dims=(EntryDimension("DEPT", "D2"),)), [])
    assert dim_error.value.failure_type == "tag_unknown"


def test_unknown_and_blocked_vendors() -> None:
    system = InMemoryAccountingSystem(
        auto_vendors=False, vendors=[VendorAccount(vendor_id="V1", name="One")]
    )
    system.add_vendor(VendorAccount(vendor_id="V2", name="Two", ap_account="2441"), "ORG-2")
    assert system.find_vendor(VendorKey(field="vendor.code", value="nope")) is None
    two = system.find_vendor(VendorKey(field="vendor.registrationNumber", value="ORG-2"))
    assert two is not None
    assert two.ap_account == "2441"
    system.blocked_vendors.add("V1")
    one = system.find_vendor(VendorKey(field="vendor.code", value="V1"))
    assert one is not None
    assert one.blocked


def test_outage_rate_limit_and_queued_failures() -> None:
    system = InMemoryAccountingSystem()
    system.outage = True
    with pytest.raises(AccountingSystemUnavailable) as outage:
        system.find_posted(UUID(int=1))
    assert outage.value.job_level
    system.outage = False
    system.rate_limited_calls = 1
    with pytest.raises(AccountingSystemRateLimited) as limited:
        system.find_posted(UUID(int=1))
    assert limited.value.retry_after == 1.0
    system.fail_next("post", EntryRejected("nope"), times=2)
    for _ in range(2):
        with pytest.raises(EntryRejected):
            system.post(journal(1), [])
    system.post(journal(1), [])
    assert system.calls["post"] == 3


def test_crash_after_post_keeps_the_entry() -> None:
    system = InMemoryAccountingSystem()

    def crash(entry: Entry) -> None:
        raise ConnectionResetError("response lost")

    system.crash_after_post = crash
    with pytest.raises(ConnectionResetError):
        system.post(journal(1), [])
    assert system.find_posted(UUID(int=1)) is not None


def _ap_entry(item_kwargs: dict[str, object]) -> Entry:
    item = make_item(bookkeeping="accounts_payable", vendor=vendor(), **item_kwargs)
    ctx = EntryContext.create(ExportConfig(), Capabilities(), DEFAULT_MAPPING)
    return build_entry(
        item,
        resolve_method(item, ExportConfig()),
        ctx,
        vendor=VendorAccount(vendor_id="V100", name="ACME"),
    )


@pytest.mark.rule("C17")
@pytest.mark.parametrize("payment_first", [False, True])
def test_c17_invoice_and_payment_reconcile_in_either_order(payment_first: bool) -> None:
    system = InMemoryAccountingSystem()
    invoice = _ap_entry({"type": "invoice", "invoice": invoice_info("INV-7")})
    payment = _ap_entry({"type": "invoice_payment", "invoice": invoice_info("INV-7")})
    first, second = (payment, invoice) if payment_first else (invoice, payment)
    system.post(first, [])
    if not payment_first:
        assert [e.accounting_entry_id for e in system.open_invoices()] == [
            invoice.accounting_entry_id
        ]
    system.post(second, [])
    assert system.open_invoices() == []
    stored = system.entry_for(invoice.accounting_entry_id)
    assert stored is not None
    assert (stored.paid, stored.settled_by) == (True, payment.accounting_entry_id)
    assert system.balance("2440") == 0
    assert system.is_balanced()


def test_base_export_target_defaults() -> None:
    class Minimal(BaseExportTarget):
        def find_posted(self, accounting_entry_id: UUID) -> PostedEntry | None:
            return None

        def post(self, entry: Entry, attachments: Sequence[Attachment]) -> PostedEntry:
            return PostedEntry(accounting_entry_id=entry.accounting_entry_id, external_id="1")

    target = Minimal()
    assert isinstance(target, ExportTarget)
    assert target.is_period_open(date(2024, 1, 1))
    assert target.accounts_mapping() == AccountsMapping()
    assert target.post(journal(1), []).external_id == "1"


def test_blocking_adapter_runs_an_async_target() -> None:
    inner = InMemoryAccountingSystem()

    class Async:
        async def capabilities(self) -> Capabilities:
            return inner.capabilities()

        async def accounts_mapping(self) -> AccountsMapping:
            return inner.accounts_mapping()

        async def check_ready(self, job: JobContext) -> None:
            inner.check_ready(job)

        async def find_vendor(self, key: VendorKey) -> VendorAccount | None:
            return inner.find_vendor(key)

        async def is_period_open(self, on: date) -> bool:
            return inner.is_period_open(on)

        async def next_open_date(self, after: date) -> date | None:
            return inner.next_open_date(after)

        async def find_posted(self, accounting_entry_id: UUID) -> PostedEntry | None:
            return inner.find_posted(accounting_entry_id)

        async def post(self, entry: Entry, attachments: Sequence[Attachment]) -> PostedEntry:
            return inner.post(entry, attachments)

        async def attach(
            self, posted: PostedEntry, attachments: Sequence[Attachment]
        ) -> PostedEntry:
            return inner.attach(posted, attachments)

    assert isinstance(Async(), AsyncExportTarget)
    target = blocking_export_target(Async())
    try:
        posted = target.post(journal(1), [])
        assert target.find_posted(UUID(int=1)) == posted
        inner.closed_before = date(2030, 1, 1)
        with pytest.raises(ClosedPeriodError):
            target.post(journal(2), [])
    finally:
        target.close()
