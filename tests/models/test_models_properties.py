"""Property tests (hypothesis) over spec-shaped JSON generated from Pleo's own schemas.

* Every valid payload structures (nulls wherever the spec allows them, optional keys missing,
  unknown open-enum strings, unknown extra keys), and writing the model back yields JSON the
  spec accepts and that structures to an equal model (round trip).
* Removing any required key, or giving it a value of the wrong JSON type, raises
  ``ResponseValidationError`` whose ``path`` is exactly that key's JSON path; nothing else
  ever escapes.
"""

from __future__ import annotations

import enum
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pleo_erp.client.errors import ResponseValidationError
from pleo_erp.client.serialization import structure, unstructure
from pleo_erp.models import CursorPage, ExportItemV3
from tests.helpers.models import (
    instance_strategy,
    model,
    required_key_paths,
    schemas,
    spec_errors,
    specs,
)

OBJECT_SCHEMAS = [(stem, name) for stem, name, schema in schemas() if "properties" in schema]
EXPORT_ITEMS = "pleo-export-items-v3-api-openapi"
PAGE_NAME = "CursorPaginatedResponseExportItemV3"

# Required in the spec, defaulted in the model (always sent), so deleting them is not an error.
DEFAULTED_REQUIRED = {
    ("BookkeepingAccountSearchRequestV1", "excludeIfAssignedToCategory"),
    ("BookkeepingAccountSearchRequestV1", "excludeIfAssignedToContraAccount"),
}

_SETTINGS = settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _round_trip(stem: str, name: str, payload: Any) -> Any:
    target = model(name)
    value = structure(payload, target)
    written = unstructure(value, target)
    assert spec_errors(stem, name, written) == [], written
    assert structure(written, target) == value
    return value


def _mutations(stem: str, name: str, payload: Any) -> list[tuple[str, str, dict[str, Any], str]]:
    doc = specs()[stem]
    return [
        m
        for m in required_key_paths(doc, {"$ref": f"#/components/schemas/{name}"}, payload)
        if (m[1], m[3]) not in DEFAULTED_REQUIRED
    ]


@pytest.mark.parametrize(("stem", "name"), OBJECT_SCHEMAS, ids=[n for _, n in OBJECT_SCHEMAS])
@_SETTINGS
@given(data=st.data())
def test_every_schema_round_trips_and_names_a_missing_key(
    stem: str, name: str, data: st.DataObject
) -> None:
    """Spec-valid JSON → model → JSON that the spec accepts → an equal model. Then, with one
    required key removed, ``ResponseValidationError`` names exactly that key's JSON path
    (DESIGN.md: "a response that cannot be structured raises one typed error carrying the
    path of the bad field")."""
    doc = specs()[stem]
    payload = data.draw(instance_strategy(doc, name))
    assert spec_errors(stem, name, payload) == []  # the generator itself is honest
    _round_trip(stem, name, payload)
    mutations = _mutations(stem, name, payload)
    if not mutations:
        return
    path, _, container, key = data.draw(st.sampled_from(mutations))
    del container[key]
    with pytest.raises(ResponseValidationError) as info:
        structure(payload, model(name))
    assert info.value.path == path
    assert f"required field missing @ {path}" in info.value.errors


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_export_item_pages_structure_and_round_trip(data: st.DataObject) -> None:
    """Whole ``GET /v3/export-items`` pages: nulls everywhere allowed, unknown enum strings."""
    payload = data.draw(instance_strategy(specs()[EXPORT_ITEMS], PAGE_NAME))
    page = _round_trip(EXPORT_ITEMS, PAGE_NAME, payload)
    assert isinstance(page, CursorPage)
    for item, raw in zip(page.data, payload["data"], strict=True):
        assert isinstance(item, ExportItemV3)
        # Open enums: a known value is the member, an unknown one the very same string.
        assert item.type == raw["type"]
        if isinstance(item.type, enum.Enum):
            assert item.type.value == raw["type"]
        else:
            assert type(item.type) is str


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data(), bad=st.sampled_from([[1], {"x": 1}, True, 1.5]))
def test_a_wrongly_typed_required_value_is_reported_at_its_path(
    data: st.DataObject, bad: Any
) -> None:
    """Export item pages with one required value replaced by a value of another JSON type."""
    payload = data.draw(instance_strategy(specs()[EXPORT_ITEMS], PAGE_NAME))
    mutations = _mutations(EXPORT_ITEMS, PAGE_NAME, payload)
    path, _, container, key = data.draw(st.sampled_from(mutations))
    original = container[key]
    if type(original) is type(bad) or (isinstance(original, bool) and isinstance(bad, bool)):
        return  # same JSON type: not a mutation
    if (
        isinstance(original, (int, float))
        and not isinstance(original, bool)
        and isinstance(bad, float)
    ):
        return  # a number stays a number
    container[key] = bad
    with pytest.raises(ResponseValidationError) as info:
        structure(payload, CursorPage[ExportItemV3])
    assert info.value.path == path, info.value.errors


@settings(max_examples=100, deadline=None)
@given(
    junk=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
        ),
        max_leaves=12,
    )
)
def test_arbitrary_json_never_escapes_as_another_exception(junk: Any) -> None:
    """Whatever JSON arrives, the only possible failure is ``ResponseValidationError``."""
    try:
        structure(junk, CursorPage[ExportItemV3])
    except ResponseValidationError as exc:
        error = exc
    else:
        return
    assert (error.path or "").startswith("$")
    assert error.errors
