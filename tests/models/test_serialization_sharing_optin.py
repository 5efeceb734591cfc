"""Sharing equal values is opt-in per converter, with caches the converter's owner holds.

The SDK's ``converter`` opts in through ``serialization.sharing_cache``; ``make_converter()``
without a cache shares nothing, and two caches never share with each other. Either way the
structured values are equal: sharing changes identity, never meaning.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from pleo_erp.client import serialization
from pleo_erp.client.errors import ResponseValidationError
from pleo_erp.client.serialization import SharingCache, make_converter, structure
from pleo_erp.models import CursorPage, ExportItemV3, TagV3

# Built at run time so equal strings are distinct objects, as json.loads gives them.
TAG = json.dumps({"id": str(uuid.UUID(int=42)), "code": "CC100", "groupCode": "CC"})


def _tags(count: int) -> list[Any]:
    return [json.loads(TAG) for _ in range(count)]


def test_converter_without_sharing_builds_separate_equal_models() -> None:
    conv = make_converter()
    first, second = conv.structure(_tags(2), tuple[TagV3, ...])
    assert first == second
    assert first is not second
    assert first.code is not second.code


def test_converter_with_a_cache_shares_equal_models_and_strings() -> None:
    conv = make_converter(sharing=SharingCache())
    first, second = conv.structure(_tags(2), tuple[TagV3, ...])
    assert first is second
    more = make_converter(sharing=SharingCache()).structure(_tags(1), tuple[TagV3, ...])
    assert more[0] == first
    assert more[0] is not first, "two caches never share with each other"


def test_clear_forgets_shared_values() -> None:
    cache = SharingCache()
    conv = make_converter(sharing=cache)
    (before,) = conv.structure(_tags(1), tuple[TagV3, ...])
    cache.clear()
    (after,) = conv.structure(_tags(1), tuple[TagV3, ...])
    assert after == before
    assert after is not before


def test_caches_stay_bounded() -> None:
    cache = SharingCache(max_strings=4)
    conv = make_converter(sharing=cache)
    for n in range(50):
        conv.structure(f"code-{n}", str)
    assert len(cache._strings) <= 4


def test_the_sdk_converter_opts_in() -> None:
    tags = structure(_tags(2), tuple[TagV3, ...])
    assert tags[0] is tags[1]
    assert serialization.converter.structure(_tags(1), tuple[TagV3, ...])[0] is tags[0]


def test_detailed_converter_reports_paths_without_sharing() -> None:
    page = {"data": [{"accountingEntryId": 5}], "pagination": {}}
    with pytest.raises(ResponseValidationError) as caught:
        structure(page, CursorPage[ExportItemV3])
    assert any("$.data[0].accountingEntryId" in error for error in caught.value.errors)
