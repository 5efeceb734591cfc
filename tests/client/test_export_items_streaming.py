"""A page of export items is typed item by item from its text (issue 13: memory).

``read_data_elements`` hands out one ``data`` element at a time, and each is gone before the
next is parsed; ``read_page`` (what ``client.export_items.list`` uses) types the same items
and raises the same errors as parsing the whole body.
"""

from __future__ import annotations

import asyncio
import json
import uuid
import weakref
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock

from pleo_erp.client._json_stream import IrregularPage, read_data_elements
from pleo_erp.client._transport import (
    PRODUCTION,
    AsyncTransport,
    SyncTransport,
    TransportConfig,
    TransportCore,
)
from pleo_erp.client.errors import ResponseValidationError
from pleo_erp.client.resources.export_items import (
    AsyncExportItems,
    ExportItemPaginator,
    ExportItems,
    list_call,
    parse_page,
    read_page,
)
from pleo_erp.client.serialization import loads
from tests.helpers.export import item_json
from tests.helpers.mock_client import cursor_page

JOB = uuid.UUID(int=77)
CALL = list_call(JOB)


class _Tracked(dict[str, Any]):
    """A dict that can be weakly referenced (to see when a parsed element is freed)."""


# -- read_data_elements -----------------------------------------------------------------------


def test_elements_are_handed_out_in_order_and_other_members_parsed() -> None:
    text = ' \n{ "pagination" : {"a": [1, 2.5]} , "data" : [ {"x": 1} ,{"x": 2}, 3 ] ,"z":null}\t'
    seen: list[Any] = []
    members = read_data_elements(text, seen.append)
    assert seen == [{"x": 1}, {"x": 2}, 3]
    assert members == {"pagination": {"a": [1, loads("2.5")]}, "data": None, "z": None}
    assert str(members["pagination"]["a"][1]) == "2.5"  # fractions as Decimal, like loads


def test_an_empty_data_array_hands_out_nothing() -> None:
    seen: list[Any] = []
    assert read_data_elements('{"data":[]}', seen.append) == {"data": None}
    assert seen == []


def test_each_element_is_freed_before_the_next_is_parsed() -> None:
    """The page's dicts are never all alive: element i is gone before element i+1's first
    dict is built (checked from the decoder's object hook, at every dict it builds)."""
    text = json.dumps({"data": [{"n": n, "nested": {"m": n}} for n in range(50)]})
    handed_out: list[weakref.ref[Any]] = []
    alive_while_parsing: list[int] = []

    def object_hook(pairs: dict[str, Any]) -> _Tracked:
        alive_while_parsing.append(sum(ref() is not None for ref in handed_out))
        return _Tracked(pairs)

    read_data_elements(
        text,
        lambda element: handed_out.append(weakref.ref(element)),
        decoder=json.JSONDecoder(object_hook=object_hook),
    )
    assert len(handed_out) == 50
    assert len(alive_while_parsing) == 100
    assert set(alive_while_parsing) == {0}  # no earlier element outlived its turn
    assert all(ref() is None for ref in handed_out)


@pytest.mark.parametrize(
    "text",
    [
        "[]",
        '{"data": {"a": 1}}',
        '{"pagination": {}}',
        '{"data": [1], "data": [2]}',
        '{"data": [1]} x',
        '{"data": [1,]}',
        '{"data": [1 2]}',
        '{"data": [1]',
        "{data: [1]}",
        '{"data" [1]}',
        "",
    ],
)
def test_irregular_text_raises_irregular_page(text: str) -> None:
    with pytest.raises(IrregularPage):
        read_data_elements(text, lambda _: None)


# -- read_page ----------------------------------------------------------------------------------


def _text(body: Any) -> str:
    return json.dumps(body)


def test_read_page_types_the_same_items_as_parsing_the_whole_body() -> None:
    body = cursor_page([item_json(), item_json(), item_json()], next_cursor="AAAA")
    streamed = read_page(_text(body), CALL)
    whole = parse_page(loads(_text(body)))
    assert streamed == whole
    assert (streamed.has_next_page, streamed.end_cursor) == (True, "AAAA")
    assert isinstance(streamed.items, tuple)


def test_read_page_of_an_empty_body_fails_like_the_whole_body_parse() -> None:
    with pytest.raises(ResponseValidationError) as streamed:
        read_page(None, CALL)
    with pytest.raises(ResponseValidationError) as whole:
        parse_page(None)
    assert streamed.value.errors == whole.value.errors


@pytest.mark.parametrize(
    "mutate",
    [
        lambda body: body["data"][1].pop("accountingEntryId"),
        lambda body: body["data"][2].update(accountingEntryId="not-a-uuid"),
        lambda body: body.pop("pagination"),
        lambda body: body.update(data={"a": 1}),
    ],
)
def test_a_bad_page_raises_the_same_error_as_the_whole_body_parse(mutate: Any) -> None:
    body = cursor_page([item_json(), item_json(), item_json()])
    mutate(body)
    with pytest.raises(ResponseValidationError) as whole:
        parse_page(loads(_text(body)))
    with pytest.raises(ResponseValidationError) as streamed:
        read_page(_text(body), CALL)
    assert (streamed.value.errors, streamed.value.path) == (whole.value.errors, whole.value.path)


def test_invalid_json_raises_the_transport_error() -> None:
    with pytest.raises(ResponseValidationError, match="not valid JSON"):
        read_page('{"data": [', CALL)


# -- the resource -------------------------------------------------------------------------------


def _core() -> TransportCore:
    return TransportCore(TransportConfig(base_url=PRODUCTION))


def test_list_follows_cursors_and_types_every_item(httpx_mock: HTTPXMock) -> None:
    first, second = item_json(), item_json()
    httpx_mock.add_response(json=cursor_page([first], next_cursor="AAAA"))
    httpx_mock.add_response(json=cursor_page([second]))
    resource = ExportItems(SyncTransport(_core(), httpx.Client(), sleep=lambda _: None))
    items = resource.list(JOB, page_size=1).to_list()
    assert [str(i.accounting_entry_id) for i in items] == [
        first["accountingEntryId"],
        second["accountingEntryId"],
    ]
    assert [r.url.params.get("after") for r in httpx_mock.get_requests()] == [None, "AAAA"]


def test_async_list_follows_cursors_and_types_every_item(httpx_mock: HTTPXMock) -> None:
    first, second = item_json(), item_json()
    httpx_mock.add_response(json=cursor_page([first], next_cursor="AAAA"))
    httpx_mock.add_response(json=cursor_page([second]))

    async def run() -> list[str]:
        async with httpx.AsyncClient() as http:
            resource = AsyncExportItems(AsyncTransport(_core(), http))
            return [str(i.accounting_entry_id) async for i in resource.list(JOB)]

    assert asyncio.run(run()) == [first["accountingEntryId"], second["accountingEntryId"]]


def test_the_page_reader_alternates_fetch_and_parse(httpx_mock: HTTPXMock) -> None:
    """``split_pages``: fetch (the request) and parse (the typing) are two steps, so an export
    can request on one thread and type on another; the next request needs the parsed cursor."""
    first, second = item_json(), item_json()
    httpx_mock.add_response(json=cursor_page([first], next_cursor="AAAA"))
    httpx_mock.add_response(json=cursor_page([second]))
    resource = ExportItems(SyncTransport(_core(), httpx.Client(), sleep=lambda _: None))
    paginator = resource.list(JOB, page_size=1)
    assert isinstance(paginator, ExportItemPaginator)
    reader = paginator.split_pages()
    raw = reader.fetch()
    assert raw is not None
    with pytest.raises(RuntimeError, match="parse the page fetched before"):
        reader.fetch()
    page = raw.parse()
    with pytest.raises(RuntimeError, match="parsed already"):
        raw.parse()
    assert [str(i.accounting_entry_id) for i in page.items] == [first["accountingEntryId"]]
    raw = reader.fetch()
    assert raw is not None
    assert [str(i.accounting_entry_id) for i in raw.parse().items] == [second["accountingEntryId"]]
    assert reader.fetch() is None
    assert [r.url.params.get("after") for r in httpx_mock.get_requests()] == [None, "AAAA"]


def test_a_split_page_that_does_not_fit_raises_like_any_page(httpx_mock: HTTPXMock) -> None:
    broken = item_json()
    broken["accountingEntryId"] = "not-a-uuid"
    httpx_mock.add_response(json=cursor_page([broken]))
    resource = ExportItems(SyncTransport(_core(), httpx.Client(), sleep=lambda _: None))
    paginator = resource.list(JOB)
    assert isinstance(paginator, ExportItemPaginator)
    raw = paginator.split_pages().fetch()
    assert raw is not None
    with pytest.raises(ResponseValidationError, match=r"data\[0\]"):
        raw.parse()
