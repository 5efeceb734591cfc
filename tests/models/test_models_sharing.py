"""Structuring shares equal immutable values (strings, leaf models, money pairs, decimals)
without ever changing what a payload means or hiding a bad field."""

from __future__ import annotations

import copy
import json
import uuid
from decimal import Decimal
from typing import Any

import pytest

from pleo_erp.client.errors import ResponseValidationError
from pleo_erp.client.serialization import structure, unstructure
from pleo_erp.models import (
    AccountV3,
    CursorPage,
    ExportItemAmountV3,
    ExportItemV3,
    TagV3,
    TaxV3,
    VendorV3,
)

TAG_ID = "0067dba8-5898-4008-aa17-b9af5b569643"


def _tag(code: str = "CC100", group: str = "CC") -> dict[str, Any]:
    return {"id": TAG_ID, "code": code, "groupCode": group}


def _money(currency: str, value: Any) -> dict[str, Any]:
    return {"currency": currency, "value": value}


def _item(n: int) -> dict[str, Any]:
    line = {
        "accountingEntryLineId": str(uuid.UUID(int=n + 1)),
        "account": {"id": str(uuid.UUID(int=7)), "name": "Travel", "code": "6010"},
        "lineAmount": {
            "inSupplierCurrency": _money("SEK", 1000),
            "inWalletCurrency": _money("SEK", 1000),
        },
        "netAmount": {
            "inSupplierCurrency": _money("EUR", 90),
            "inWalletCurrency": _money("SEK", 800),
        },
        "tags": [_tag(), _tag("P1", "PROJ")],
    }
    return {
        "_links": {"web": {"exportItem": f"https://app.pleo.io/x/{n}"}},
        "accountingEntryId": str(uuid.UUID(int=1000 + n)),
        "accountingEntryLines": [line],
        "additionalInformation": {"reconciliationId": f"BK-{n}"},
        "amount": {
            "inSupplierCurrency": _money("SEK", 1000),
            "inWalletCurrency": _money("SEK", 1000),
        },
        "companyId": str(uuid.UUID(int=5)),
        "date": "2025-01-02T03:04:05Z",
        "type": "card_purchase",
    }


def _page(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "data": items,
        "pagination": {
            "currentRequestPagination": {"parameters": {}},
            "hasNextPage": False,
            "hasPreviousPage": False,
        },
    }


def test_equal_leaf_models_are_one_instance_and_different_ones_are_not() -> None:
    page = structure(_page([_item(1), _item(2)]), CursorPage[ExportItemV3])
    first, second = (item.accounting_entry_lines[0] for item in page.data)
    assert first.account is second.account
    assert first.tags is second.tags  # the same tag sequence is one tuple
    assert first.tags is not None
    assert first.tags[0] is not first.tags[1]
    assert first.tags[0] == TagV3(code="CC100", group_code="CC", id=uuid.UUID(TAG_ID))


def test_short_strings_are_shared_across_items() -> None:
    raw = json.dumps(_page([_item(1), _item(2)]))
    page = structure(json.loads(raw), CursorPage[ExportItemV3])
    a, b = page.data
    assert a.amount.in_wallet_currency.currency is b.amount.in_wallet_currency.currency
    assert a.additional_information.reconciliation_id == "BK-1"


def test_money_pair_shares_only_equal_amounts() -> None:
    same = structure(
        {"inSupplierCurrency": _money("SEK", 5), "inWalletCurrency": _money("SEK", 5)},
        ExportItemAmountV3,
    )
    assert same.in_supplier_currency is same.in_wallet_currency
    other = structure(
        {"inSupplierCurrency": _money("EUR", 5), "inWalletCurrency": _money("SEK", 5)},
        ExportItemAmountV3,
    )
    assert other.in_supplier_currency.currency == "EUR"
    assert other.in_wallet_currency.currency == "SEK"


@pytest.mark.parametrize("bad", [True, 1.5, "5", None])
def test_money_pair_still_refuses_a_non_integer_amount(bad: Any) -> None:
    with pytest.raises(ResponseValidationError) as info:
        structure(
            {"inSupplierCurrency": _money("SEK", 5), "inWalletCurrency": _money("SEK", bad)},
            ExportItemAmountV3,
        )
    assert info.value.path == "$.inWalletCurrency.value"


def test_money_pair_accepts_an_integral_float_as_an_int() -> None:
    pair = structure(
        {"inSupplierCurrency": _money("SEK", 5.0), "inWalletCurrency": _money("SEK", 5)},
        ExportItemAmountV3,
    )
    assert type(pair.in_supplier_currency.value) is int
    assert pair.in_supplier_currency.value == 5


def test_a_cached_leaf_never_hides_a_missing_or_bad_field() -> None:
    structure(_tag(), TagV3)  # now cached
    missing = _tag()
    del missing["id"]
    with pytest.raises(ResponseValidationError) as info:
        structure(missing, TagV3)
    assert info.value.path == "$.id"
    with pytest.raises(ResponseValidationError) as info:
        structure({**_tag(), "code": 100}, TagV3)
    assert info.value.path == "$.code"
    with pytest.raises(ResponseValidationError):
        structure({**_tag(), "code": ["CC100"]}, TagV3)  # unhashable: no cache, still refused
    with pytest.raises(ResponseValidationError):
        structure([_tag()], TagV3)


def test_absent_and_null_optional_fields_both_structure_to_none() -> None:
    account = {"id": str(uuid.UUID(int=7)), "name": "Travel"}
    assert structure(account, AccountV3).code is None
    assert structure({**account, "code": None}, AccountV3).code is None
    assert structure({**account, "code": "6010"}, AccountV3).code == "6010"


def test_vendor_with_extra_keys_is_shared_with_the_same_vendor() -> None:
    vendor = {"id": str(uuid.UUID(int=9)), "name": "ACME AB", "defaultCurrency": "SEK"}
    assert structure(vendor, VendorV3) is structure({**vendor, "unknown": 1}, VendorV3)


def test_error_paths_inside_shared_structures_are_exact() -> None:
    items = [_item(n) for n in range(3)]
    bad = copy.deepcopy(items)
    del bad[2]["accountingEntryLines"][0]["tags"][1]["groupCode"]
    structure(_page(items), CursorPage[ExportItemV3])  # warm every cache
    with pytest.raises(ResponseValidationError) as info:
        structure(_page(bad), CursorPage[ExportItemV3])
    assert info.value.path == "$.data[2].accountingEntryLines[0].tags[1].groupCode"


@pytest.mark.parametrize(
    ("raw", "text"),
    [(0.25, "0.25"), ("0.250", "0.250"), (Decimal("0.250"), "0.250"), (Decimal("2.5E-1"), "0.25")],
)
def test_decimals_keep_their_exact_text(raw: Any, text: str) -> None:
    tax = {
        "amount": {"inSupplierCurrency": _money("SEK", 1), "inWalletCurrency": _money("SEK", 1)},
        "id": str(uuid.UUID(int=3)),
        "rate": raw,
        "type": "inclusive",
    }
    structure({**tax, "rate": "0.25"}, TaxV3)  # a cached neighbour must not leak in
    assert str(structure(tax, TaxV3).rate) == text


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "x", Decimal("NaN"), float("inf"), True])
def test_decimals_still_refuse_non_numbers(bad: Any) -> None:
    tax = {
        "amount": {"inSupplierCurrency": _money("SEK", 1), "inWalletCurrency": _money("SEK", 1)},
        "id": str(uuid.UUID(int=3)),
        "rate": bad,
        "type": "inclusive",
    }
    with pytest.raises(ResponseValidationError) as info:
        structure(tax, TaxV3)
    assert info.value.path == "$.rate"


def test_shared_structures_round_trip() -> None:
    raw = _page([_item(1), _item(2)])
    page = structure(raw, CursorPage[ExportItemV3])
    again = structure(unstructure(page, CursorPage[ExportItemV3]), CursorPage[ExportItemV3])
    assert again == page
