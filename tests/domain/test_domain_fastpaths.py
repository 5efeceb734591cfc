"""The CPU fast paths of the export's domain step keep their exact behaviour.

Issue 13 item 5: ``build_entry`` and validation prepare an item's lines once (not twice),
open-enum values and receipt formats are read without repeated generic work, and the entry
line validator has an ``int`` fast path. Each test pins the behaviour the fast path must keep.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pleo_erp.accounting_system import (
    AccountsMapping,
    Capabilities,
    EntryDimension,
    EntryLine,
    VendorAccount,
)
from pleo_erp.client.serialization import structure
from pleo_erp.domain import entries as entries_module
from pleo_erp.domain import mapping as mapping_module
from pleo_erp.domain import money as money_module
from pleo_erp.domain import receipts as receipts_module
from pleo_erp.domain.bookkeeping import enum_value, resolve_method
from pleo_erp.domain.config import ExportConfig
from pleo_erp.domain.entries import EntryContext, build_entry
from pleo_erp.domain.mapping import FixedAccount, PostingRule
from pleo_erp.domain.outcomes import DomainFailure
from pleo_erp.domain.receipts import plan_receipts
from pleo_erp.domain.validation import validate_item
from pleo_erp.models import ExportItemV3
from pleo_erp.models.export_items import ExportItemTypeV3
from tests.domain.test_export_properties import MAPPING as PROPERTY_MAPPING
from tests.domain.test_export_properties import valid_items
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


# --- issue 13, second pass: trusted lines, cached rules / dimensions / currency exponents.


def _validated_line(built: EntryLine) -> EntryLine:
    """``built`` rebuilt through the public, validating constructor."""
    return EntryLine(**{f.name: getattr(built, f.name) for f in attrs.fields(EntryLine)})


def _full_path_entry(item: ExportItemV3, ctx: EntryContext, vendor: VendorAccount) -> Any:
    """The entry with every fast path off: validating line constructor, no dimension cache."""

    def checked(_cls: type[EntryLine], *values: Any) -> EntryLine:
        names = [f.name for f in attrs.fields(EntryLine)]
        return EntryLine(**dict(zip(names, values, strict=True)))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(EntryLine, "_trusted", classmethod(checked))
        patch.setattr(entries_module, "_dimensions", entries_module._build_dimensions)
        return build_entry(item, resolve_method(item, CFG), ctx, vendor=vendor)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_items(), st.booleans(), st.sampled_from([None, "TEAM"]))
def test_property_fast_path_entries_equal_full_path_entries(
    sample: tuple[dict[str, Any], int], explicit: bool, team_dimension: str | None
) -> None:
    data, _ = sample
    item = structure(data, ExportItemV3)
    config = ExportConfig(explicit_vat=explicit, team_dimension=team_dimension)
    ctx = EntryContext.create(config, Capabilities(), PROPERTY_MAPPING)
    vendor_account = VendorAccount(vendor_id="V", name="V")
    method = resolve_method(item, config)
    validate_item(item, method, ctx)
    fast = build_entry(item, method, ctx, vendor=vendor_account)
    assert fast == _full_path_entry(item, ctx, vendor_account)
    assert repr(fast) == repr(_full_path_entry(item, ctx, vendor_account))
    # Every trusted line is one the validating constructor accepts, field for field.
    for built in fast.lines:
        assert _validated_line(built) == built


def test_trusted_line_sets_every_field() -> None:
    names = [f.name for f in attrs.fields(EntryLine)]
    values = ["6000", 5, 0, "DKK", "expense", "I25", 1, "included", 0, True, (), "d", None]
    built = EntryLine._trusted(*values)  # type: ignore[arg-type]
    assert attrs.asdict(built, recurse=False) == dict(zip(names, values, strict=True))
    assert built == _validated_line(built)


@pytest.mark.parametrize(
    ("account", "signed", "reverse_charge_tax", "error", "match"),
    [
        ("6000", 1.5, 0, TypeError, "debit must be int"),  # not int minor units
        ("6000", -2.5, 0, TypeError, "credit must be int"),
        ("6000", 5, True, TypeError, "reverse_charge_tax must be int"),
        ("6000", 5, -3, ValueError, "reverse_charge_tax must be >= 0"),
        ("", 5, 0, ValueError, "needs an account"),
    ],
)
def test_unusual_postings_still_get_the_validating_constructor(
    account: str, signed: Any, reverse_charge_tax: Any, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        entries_module._posting(
            account, signed, "debit", "DKK", "expense", reverse_charge_tax=reverse_charge_tax
        )
    # Reverse charge with VAT inside the amount is a contradiction the constructor refuses.
    with pytest.raises(ValueError, match="reverse charge carries its VAT"):
        entries_module._posting(
            "6000", 5, "debit", "DKK", "expense", tax_amount=1, reverse_charge_tax=2
        )


def test_trusted_and_validating_postings_are_equal() -> None:
    for signed, tax_amount, reverse in [(5, 0, 0), (-5, 1, 0), (7, 0, 2), (3, -1, 0), (True, 0, 0)]:
        built = entries_module._posting(
            "6000",
            signed,
            "debit",
            "DKK",
            "expense",
            tax_amount=tax_amount,
            reverse_charge_tax=reverse,
            tax_code="I25",
        )
        assert built is not None
        assert built == _validated_line(built)
    assert entries_module._posting("6000", 0, "debit", "DKK", "expense") is None


def test_posting_rules_are_looked_up_once_per_kind_and_context(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[str, str | None]] = []
    original = mapping_module.rule_for

    def counting(item_type: str, sub_type: str | None, overrides: Any = None) -> Any:
        calls.append((item_type, sub_type))
        return original(item_type, sub_type, overrides)

    monkeypatch.setattr(entries_module, "rule_for", counting)
    ctx = _ctx()
    for _ in range(3):
        assert entries_module.posting_rule("card_purchase", None, ctx) == original(
            "card_purchase", None
        )
        # No rule is an answer too: the same typed failure every time (C28).
        with pytest.raises(DomainFailure, match="'space_travel' is not supported") as failure:
            entries_module.posting_rule("space_travel", None, ctx)
        assert failure.value.failure_type == CFG.unknown_type_failure
    assert calls == [("card_purchase", None), ("space_travel", None)]
    # Another context (other rules) asks again and gets its own rule.
    custom = PostingRule("lines", FixedAccount("1000"))
    other = EntryContext.create(
        ExportConfig(posting_rules={"card_purchase": custom}), Capabilities(), MAPPING
    )
    assert entries_module.posting_rule("card_purchase", None, other) is custom
    # The cache is not part of the value: not in repr, not in equality.
    assert "(_rules=" not in repr(ctx)
    assert " _rules=" not in repr(ctx)
    assert ctx == _ctx()


def test_dimensions_are_shared_per_tag_set_and_team() -> None:
    ctx = EntryContext.create(ExportConfig(team_dimension="TEAM"), Capabilities(), MAPPING)
    tags = [("DEPT", "D1"), ("DEPT", "D1"), ("PROJ", "P7")]
    first = make_item(lines=[line(100, tags=tags)], value=100, team=("Ops", "T1"))
    second = make_item(lines=[line(200, tags=tags)], value=200, team=("Ops", "T2"))
    (a,) = build_entry(first, resolve_method(first, CFG), ctx).lines[:1]
    (b,) = build_entry(second, resolve_method(second, CFG), ctx).lines[:1]
    expected = (EntryDimension("DEPT", "D1"), EntryDimension("PROJ", "P7"))
    assert a.dimensions == (*expected, EntryDimension("TEAM", "T1"))
    assert b.dimensions == (*expected, EntryDimension("TEAM", "T2"))  # team is in the key
    no_team = EntryContext.create(ExportConfig(), Capabilities(), MAPPING)
    (c,) = build_entry(first, resolve_method(first, CFG), no_team).lines[:1]
    assert c.dimensions == expected


def test_dimension_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(entries_module, "_DIMENSIONS_CACHE", {})
    monkeypatch.setattr(entries_module, "_DIMENSIONS_CACHE_SIZE", 3)
    ctx = _ctx()
    for n in range(10):
        item = make_item(lines=[line(100, tags=[("DEPT", f"D{n}")])], value=100)
        entry = build_entry(item, resolve_method(item, CFG), ctx)
        assert entry.lines[0].dimensions == (EntryDimension("DEPT", f"D{n}"),)
        assert len(entries_module._DIMENSIONS_CACHE) <= 3


def test_currency_exponents_are_cached_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(money_module, "_EXPONENT_CACHE", {})
    monkeypatch.setattr(money_module, "_EXPONENT_CACHE_SIZE", 4)
    expected = {"SEK": 2, "JPY": 0, "KWD": 3, "UNDEFINED": None, "sek": None, "XAU": None}
    for _ in range(2):
        for code, exponent in expected.items():
            assert money_module.minor_unit_exponent(code) == exponent
    assert len(money_module._EXPONENT_CACHE) == 4
