"""``export_jobs.update_items`` fast paths (performance, issue 13) change no byte and no result.

An export reports every item through this call, so a well-typed ``UpdateExportJobItemV3``
becomes its JSON object without cattrs, and the response's ``data`` items are structured only
when ``result.items`` is read. These tests pin both against the checked, cattrs-based path:
the request bodies must be byte-identical (export rules 2-3 and 10) and the result equal.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import datetime as dt
import json
import pickle
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from pleo_erp.client import ApiKeyAuth, AsyncPleoClient, ExportJobItemsUpdateResult
from pleo_erp.client._request import encode_json
from pleo_erp.client.errors import ResponseValidationError
from pleo_erp.client.resources import _base
from pleo_erp.client.resources.export_jobs import (
    item_update_body,
    merge_update_results,
    merge_update_results_deferred,
)
from pleo_erp.client.serialization import WireValueError, unstructure
from pleo_erp.domain.journal import PostedEntry
from pleo_erp.domain.outcomes import ItemFailure, ItemOutcome, clean_message
from pleo_erp.models.export_jobs import (
    ExportJobItemFailureReasonType,
    ExportJobItemStatus,
    ExportJobItemUpdateErrorV3,
    UpdateExportJobItemV3,
)
from pleo_erp.orchestration.export import _update_model
from tests.helpers.mock_client import mock_client

JOB = uuid.UUID("6f1c1a52-8e0b-4a57-9a59-2f6f2d7c3a10")
UTC = dt.timezone.utc


def _id(n: int) -> uuid.UUID:
    return uuid.UUID(int=n, version=4)


_TEXTS = [
    "plain",
    "Æblegrød på 1.000 kr. — «moms» 25 %",
    "emoji 🧾✅ and CJK 会计",
    'quotes " and \\ backslash / slash',
    "tab\tnew\nline\u2028sep\x00nul\x7f",  # only reachable by building the model by hand
    "x" * 1000,
]


def _varied_batch() -> list[UpdateExportJobItemV3]:
    """Successes (with and without the optional fields, several offsets), a failure of every
    item-level type, successes of items that had warnings, unicode and escapes everywhere."""
    offsets = [UTC, dt.timezone(dt.timedelta(hours=2)), dt.timezone(-dt.timedelta(hours=5.5))]
    updates: list[UpdateExportJobItemV3] = []
    n = 0
    for text in _TEXTS:
        for tz in offsets:
            n += 1
            posted = PostedEntry(
                accounting_entry_id=_id(n),
                external_id=f"JE-{n}-{text[:40]}",
                url=f"https://as.test/{n}",
            )
            when = dt.datetime(2024, 5, 1, 10, 0, n % 60, (n * 7919) % 1_000_000, tzinfo=tz)
            updates.append(_update_model(ItemOutcome.success(_id(n), posted, when)))
    n += 1  # a success with only its required fields (no external id/url, no timestamp)
    updates.append(UpdateExportJobItemV3(_id(n), ExportJobItemStatus.SUCCESSFUL))
    n += 1  # a success whose item carried warnings: warnings are not sent, only the success
    posted = PostedEntry(accounting_entry_id=_id(n), external_id="JE-warned")
    warned = ItemOutcome.success(_id(n), posted, dt.datetime(2024, 1, 1, tzinfo=UTC))
    updates.append(_update_model(warned))
    for kind in ExportJobItemFailureReasonType:
        for text in _TEXTS:
            n += 1
            failure = ItemFailure(kind.value, clean_message(f"{kind.value}: {text}"))
            updates.append(_update_model(ItemOutcome.failure(_id(n), failure)))
    n += 1  # raw control characters, as a hand-built model may carry them
    updates.append(
        UpdateExportJobItemV3(
            _id(n),
            ExportJobItemStatus.FAILED,
            failure_reason=_TEXTS[4],
            failure_reason_type=ExportJobItemFailureReasonType.UNEXPECTED_FAILURE,
            external_id=_TEXTS[4],
        )
    )
    return updates


def _checked_body(update: UpdateExportJobItemV3) -> dict[str, Any]:
    """What the model path sends: cattrs' unstructure, then every check of the dict path."""
    return item_update_body(unstructure(update))


def _echo(request: httpx.Request) -> httpx.Response:
    """Pleo's answer: every update back as an item (the last one of a chunk refused)."""
    updates = json.loads(request.content)
    data = [
        {
            "accountingEntryId": u["accountingEntryId"],
            "exportJobId": str(JOB),
            "status": u["status"],
            "exportedAt": u.get("exportedAt"),
            "externalId": u.get("externalId"),
            "externalUrl": u.get("externalUrl"),
            "failureReason": u.get("failureReason"),
            "failureReasonType": u.get("failureReasonType"),
        }
        for u in updates[:-1]
    ]
    last = updates[-1]["accountingEntryId"]
    errors = [
        {"accountingEntryId": last, "message": "gone", "type": "ACCOUNTING_ENTRY_DOES_NOT_EXIST"}
    ]
    return httpx.Response(200, json={"data": data, "errors": errors})


# --------------------------------------------------------------------------- request bytes


def test_fast_body_equals_the_checked_body_for_a_varied_batch() -> None:
    """rules 2-3, 10: same keys, same order, same values, so the same JSON bytes."""
    batch = _varied_batch()
    assert len({u.failure_reason_type for u in batch}) == len(ExportJobItemFailureReasonType) + 1
    fast = [item_update_body(u, i) for i, u in enumerate(batch)]
    checked = [_checked_body(u) for u in batch]
    assert [list(b) for b in fast] == [list(b) for b in checked]  # key order
    assert encode_json(fast) == encode_json(checked)


def test_the_wire_bytes_of_models_and_of_their_dicts_are_identical() -> None:
    """Models take the fast path, spec-shaped dicts the checked one: each PUT is the same."""
    sent: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.content)
        return _echo(request)

    batch = _varied_batch()
    with mock_client(handler) as client:
        from_models = client.export_jobs.update_items(JOB, batch)
        model_bytes, sent[:] = list(sent), []
        from_dicts = client.export_jobs.update_items(JOB, [unstructure(u) for u in batch])
    assert len(model_bytes) == 2  # more than 100 updates: two chunks
    assert model_bytes == sent
    assert from_models == from_dicts


def test_typed_models_skip_cattrs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path really is taken for the models the export sends (no unstructure)."""

    def refuse(*args: object, **kwargs: object) -> Any:
        raise AssertionError("unstructure called for a well-typed update")

    monkeypatch.setattr(_base, "unstructure", refuse)
    bodies = [item_update_body(u) for u in _varied_batch()]
    assert all(isinstance(b["accountingEntryId"], str) for b in bodies)


class _Text(str):
    """A str subclass (its JSON form is its text, but only cattrs should judge that)."""


@pytest.mark.parametrize(
    "update",
    [
        UpdateExportJobItemV3(str(_id(1)), ExportJobItemStatus.SUCCESSFUL),  # type: ignore[arg-type]
        UpdateExportJobItemV3(_id(1), "successful"),  # type: ignore[arg-type]
        UpdateExportJobItemV3(
            _id(1),
            ExportJobItemStatus.FAILED,
            failure_reason="r",
            failure_reason_type="tag_unknown",  # type: ignore[arg-type]
        ),
        UpdateExportJobItemV3(_id(1), ExportJobItemStatus.SUCCESSFUL, external_id=_Text("JE-1")),
        UpdateExportJobItemV3(
            _id(1),
            ExportJobItemStatus.SUCCESSFUL,
            exported_at=type("Stamp", (dt.datetime,), {})(2024, 5, 1, 12, tzinfo=UTC),
        ),
    ],
    ids=["str-id", "str-status", "str-reason-type", "str-subclass", "datetime-subclass"],
)
def test_loosely_typed_models_take_the_checked_path_with_the_same_result(
    update: UpdateExportJobItemV3,
) -> None:
    assert encode_json(item_update_body(update)) == encode_json(_checked_body(update))


@pytest.mark.rule("export-3")
@pytest.mark.parametrize(
    ("update", "error", "message"),
    [
        (UpdateExportJobItemV3(_id(1), "x"), ValueError, "status"),  # type: ignore[arg-type]
        (UpdateExportJobItemV3("nope", ExportJobItemStatus.FAILED), ValueError, "UUID"),  # type: ignore[arg-type]
        (
            UpdateExportJobItemV3(
                _id(1),
                ExportJobItemStatus.FAILED,
                failure_reason_type="pleo_rate_limit",  # type: ignore[arg-type]
            ),
            ValueError,
            "job-level",
        ),
        (
            UpdateExportJobItemV3(
                _id(1), ExportJobItemStatus.SUCCESSFUL, exported_at=dt.datetime(2024, 5, 1)
            ),
            WireValueError,
            "naive datetime",
        ),
    ],
)
def test_bad_models_are_still_refused_before_sending(
    update: UpdateExportJobItemV3, error: type[Exception], message: str
) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return _echo(request)

    with (
        mock_client(handler) as client,
        pytest.raises(error, match=message),
    ):
        client.export_jobs.update_items(JOB, [update])
    assert sent == []


# --------------------------------------------------------------------------- response parsing


def _bodies() -> list[Any]:
    first = [_checked_body(u) for u in _varied_batch()[:100]]
    second = [_checked_body(u) for u in _varied_batch()[100:]]
    return [
        json.loads(_echo(httpx.Request("PUT", "https://x", content=encode_json(chunk))).content)
        for chunk in (first, second)
    ]


def test_deferred_result_equals_the_eager_one() -> None:
    """rule 10: every item and every per-item error of every chunk, in order."""
    eager = merge_update_results(_bodies())
    deferred = merge_update_results_deferred(_bodies())
    assert deferred.errors == eager.errors  # structured at once
    assert len(eager.errors) == 2
    assert deferred.requests == eager.requests == 2
    assert "items" not in vars(deferred)  # not structured yet
    assert deferred == eager
    assert eager == deferred
    assert deferred.items == eager.items
    assert len(deferred.items) == len(_varied_batch()) - 2
    assert deferred.items is deferred.items  # structured once
    assert repr(deferred) == repr(eager)
    assert hash(deferred) == hash(eager)
    assert type(deferred) is ExportJobItemsUpdateResult


def test_deferred_result_copies_pickles_and_replaces_like_the_dataclass() -> None:
    eager = merge_update_results(_bodies())
    makers: list[Callable[[ExportJobItemsUpdateResult], ExportJobItemsUpdateResult]] = [
        lambda r: pickle.loads(pickle.dumps(r)),
        copy.copy,
        copy.deepcopy,
        lambda r: dataclasses.replace(r, requests=2),
    ]
    for make in makers:
        assert make(merge_update_results_deferred(_bodies())) == eager
    assert dataclasses.asdict(merge_update_results_deferred(_bodies())) == dataclasses.asdict(eager)


def test_other_missing_attributes_still_raise_attribute_error() -> None:
    result = merge_update_results_deferred(_bodies())
    with pytest.raises(AttributeError, match="nope"):
        result.nope  # type: ignore[attr-defined]  # noqa: B018
    assert not hasattr(ExportJobItemsUpdateResult((), (), 0), "_item_parts")


def test_a_malformed_item_raises_when_items_is_read_with_its_json_path() -> None:
    body = {
        "data": [{"accountingEntryId": str(_id(1)), "exportJobId": "nope", "status": "failed"}],
        "errors": [],
    }
    with mock_client(lambda r: httpx.Response(200, json=body)) as client:
        result = client.export_jobs.update_items(
            JOB, [UpdateExportJobItemV3(_id(1), ExportJobItemStatus.FAILED)]
        )
    assert result.ok
    for _ in range(2):  # and again: a failure is not cached
        with pytest.raises(ResponseValidationError) as raised:
            result.items  # noqa: B018
        assert raised.value.path == "$.data[0].exportJobId"


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (
            {"data": [], "errors": [{"accountingEntryId": "x", "message": "m", "type": "T"}]},
            "$.errors[0].accountingEntryId",
        ),
        ({"data": None, "errors": []}, "$.data"),
        ({"data": []}, "$.errors"),
        ([], "$"),
    ],
)
def test_a_malformed_envelope_or_error_still_fails_the_call(body: Any, path: str) -> None:
    with (
        mock_client(lambda r: httpx.Response(200, json=body)) as client,
        pytest.raises(ResponseValidationError) as raised,
    ):
        client.export_jobs.update_items(
            JOB, [UpdateExportJobItemV3(_id(1), ExportJobItemStatus.FAILED)]
        )
    assert raised.value.path == path


def test_the_async_client_gets_the_same_result() -> None:
    batch = _varied_batch()

    async def run() -> ExportJobItemsUpdateResult:
        async with AsyncPleoClient(
            ApiKeyAuth("k" * 20),
            base_url="https://external.pleo.io",
            http_client=httpx.AsyncClient(transport=httpx.MockTransport(_echo)),
            requests_per_minute=None,
            max_retries=0,
        ) as client:
            return await client.export_jobs.update_items(JOB, batch)

    result = asyncio.run(run())
    with mock_client(_echo) as client:
        assert result == client.export_jobs.update_items(JOB, [unstructure(u) for u in batch])
    assert [e.accounting_entry_id for e in result.errors] == [
        batch[99].accounting_entry_id,
        batch[-1].accounting_entry_id,
    ]
    assert isinstance(result.errors[0], ExportJobItemUpdateErrorV3)
