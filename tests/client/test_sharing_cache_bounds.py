"""The sharing caches stay within their capacity and never start over from empty (issue 13).

A full cache drops its older half in place: the dict (and its table) is kept, so it is never
regrown from nothing mid-job, and the most recent values stay shared.
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

from pleo_erp.client.serialization import SharingCache, make_converter
from pleo_erp.models import TagV3


def _fresh(text: str) -> str:
    """An equal string that is a distinct object, as ``json.loads`` gives it."""
    copy: str = json.loads(json.dumps(text))
    return copy


def _tag(n: int) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(
        json.dumps({"id": str(uuid.UUID(int=n)), "code": f"C{n}", "groupCode": "G"})
    )
    return loaded


def test_no_cache_ever_exceeds_its_capacity() -> None:
    cache = SharingCache(max_strings=16, max_uuids=8, max_decimals=4, max_models=8)
    conv = make_converter(sharing=cache)
    conv.structure([_tag(0)], tuple[TagV3, ...])  # builds the leaf and tuple hooks (caches)

    def tables() -> list[dict[Any, Any]]:
        return [cache._strings, cache._uuids, cache._decimals, *cache._model_caches]

    before = tables()
    for n in range(500):
        conv.structure(f"text-{n}", str)
        conv.structure(str(uuid.UUID(int=n)), uuid.UUID)
        cache.decimal_from_text(f"{n}.5")
        conv.structure([_tag(n), _tag(n + 1)], tuple[TagV3, ...])
        assert len(cache._strings) <= 16
        assert len(cache._uuids) <= 8
        assert len(cache._decimals) <= 4
        assert all(len(models) <= 8 for models in cache._model_caches)
    assert any(cache._model_caches), "the leaf and tuple caches were exercised"
    # The same dict objects throughout: a full cache is trimmed, never replaced.
    assert all(a is b for a, b in zip(before, tables(), strict=True))


def test_a_full_cache_keeps_its_newer_half_shared() -> None:
    cache = SharingCache(max_strings=8, max_uuids=8, max_decimals=8)
    conv = make_converter(sharing=cache)
    texts = [conv.structure(_fresh(f"text-{n}"), str) for n in range(9)]  # the 9th overflows
    ids = [conv.structure(str(uuid.UUID(int=n)), uuid.UUID) for n in range(9)]
    decimals = [cache.decimal_from_text(f"{n}.25") for n in range(9)]
    assert len(cache._strings) == 5  # 8 full -> 4 kept, plus the new one
    for n in range(4, 9):  # the newer half and the newest stay shared
        assert conv.structure(_fresh(f"text-{n}"), str) is texts[n]
        assert conv.structure(str(uuid.UUID(int=n)), uuid.UUID) is ids[n]
        assert cache.decimal_from_text(f"{n}.25") is decimals[n]
    for n in range(4):  # the older half was dropped (equal values are built anew)
        again = conv.structure(_fresh(f"text-{n}"), str)
        assert again == texts[n]
        assert again is not texts[n]
    assert cache.decimal_from_text("0.25") == Decimal("0.25")
