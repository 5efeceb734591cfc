"""The CPU fast paths of the export's domain step keep their exact behaviour.

Issue 13 item 5: ``build_entry`` and validation prepare an item's lines once (not twice),
open-enum values and receipt formats are read without repeated generic work, and the entry
line validator has an ``int`` fast path. Each test pins the behaviour the fast path must keep.
"""

from __future__ import annotations

from typing import Any

import pytest

from pleo_erp.accounting_system import AccountsMapping, Capabilities, EntryLine
from pleo_erp.domain import entries as entries_module
from pleo_erp.domain import receipts as receipts_module
from pleo_erp.domain.bookkeeping import enum_value, resolve_method
from pleo_erp.domain.config import ExportConfig
from pleo_erp.domain.entries import EntryContext, build_entry
from pleo_erp.domain.outcomes import DomainFailure
from pleo_erp.domain.receipts import plan_receipts
from pleo_erp.domain.validation import validate_item
from pleo_erp.models import ExportItemV3
from pleo_erp.models.export_items import ExportItemTypeV3
from tests.helpers.export import line, make_item, tax

MAPPING = AccountsMapping(wallet="1930", vat_input="2640", vat_output="2614")
CFG = ExportConfig()


def _ctx() -> EntryContext:
    return EntryContext.create(CFG, Capabilities(), MAPPING)


def _count_prepares(monkeypatch: pytest.MonkeyPatch) -> list[ExportItemV3]:
    seen: list[ExportItemV3] = []
    original = entries_module._prepare_uncached

    def counting(item: ExportItemV3, ctx: Any, currency: str) -> Any:
        seen.append(item)
        return original(item, ctx, currency)

    monkeypatch.setattr(entries_module, "_prepare_uncached", counting)
    return seen


def test_validation_then_build_prepares_the_lines_once(monkeypatch: pytest.MonkeyPatch) -> None:
    prepared = _count_prepares(monkeypatch)
    ctx = _ctx()
    item = make_item(lines=[line(8000, tax=tax(1600)), line(2000)], value=10000)
    method = resolve_method(item, CFG)
    validate_item(item, method, ctx)
    entry = build_entry(item, method, ctx)
    assert prepared == [item]
    assert entry.total == 10000


def test_a_different_item_or_context_is_prepared_again(monkeypatch: pytest.MonkeyPatch) -> None:
    prepared = _count_prepares(monkeypatch)
    ctx = _ctx()
    first = make_item(lines=[line(5000)], value=5000)
    twin = make_item(lines=[line(7000)], value=7000)
    a = build_entry(first, resolve_method(first, CFG), ctx)
    b = build_entry(twin, resolve_method(twin, CFG), ctx)
    c = build_entry(twin, resolve_method(twin, CFG), _ctx())  # equal but not the same context
    assert prepared == [first, twin, twin]
    assert (a.total, b.total, c.total) == (5000, 7000, 7000)


def test_a_failed_preparation_is_not_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    prepared = _count_prepares(monkeypatch)
    ctx = _ctx()
    bad = make_item(lines=[line(4000)], value=5000)  # lines do not add up (C8)
    for _ in range(2):
        with pytest.raises(DomainFailure):
            build_entry(bad, resolve_method(bad, CFG), ctx)
    assert prepared == [bad, bad]


def test_enum_value_reads_members_unknown_strings_and_others() -> None:
    member = next(iter(ExportItemTypeV3))
    assert enum_value(member) == member.value
    assert enum_value("brand_new_type") == "brand_new_type"

    class Text(str):
        pass

    assert enum_value(Text("x")) == "x"
    assert enum_value(3) == "3"


def test_receipt_formats_are_computed_once_per_capabilities() -> None:
    receipts_module._allowed.cache_clear()
    caps = Capabilities(attachment_formats={"PDF", "png"})
    receipt = {"url": "https://files.example/r.pdf", "type": "application/pdf", "size": 10}
    item = make_item(lines=[line(1000)], value=1000, files=[receipt])
    plans = [plan_receipts(item, caps) for _ in range(3)]
    assert [len(plan.receipts) for plan in plans] == [1, 1, 1]
    info = receipts_module._allowed.cache_info()
    assert (info.misses, info.hits) == (1, 2)
    # Other capabilities get their own answer: an AS without PDF refuses the receipt.
    with pytest.raises(DomainFailure):
        plan_receipts(item, Capabilities(attachment_formats={"png"}))


@pytest.mark.parametrize(
    ("value", "error"),
    [(-1, ValueError), (True, TypeError), (1.5, TypeError), ("1", TypeError)],
)
def test_entry_line_amounts_are_still_checked(value: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="debit"):
        EntryLine(account="6000", debit=value, currency="DKK", role="expense")  # type: ignore[arg-type]
    assert EntryLine(account="6000", debit=5, currency="DKK", role="expense").debit == 5
