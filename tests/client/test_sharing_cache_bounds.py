"""The sharing caches stay within their capacity (issue 13: a long job's memory is bounded).

A full cache is emptied in place (the same dict) and refilled by what the next items repeat.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from pleo_erp.client.serialization import SharingCache, make_converter
from pleo_erp.models import TagV3


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
    # The same dict objects throughout: the converter's hooks hold them.
    assert all(a is b for a, b in zip(before, tables(), strict=True))
