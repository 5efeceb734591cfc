"""Cursor pagination (export-api.md Part 3 rule 6, accounts-sync-and-auth.md rule 31)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock

from pleo_erp.client._transport import (
    PRODUCTION,
    AsyncTransport,
    SyncTransport,
    TransportConfig,
    TransportCore,
)
from pleo_erp.client.errors import PaginationError, ResponseValidationError
from pleo_erp.client.resources.export_jobs import AsyncExportJobs, ExportJobs
from tests.helpers.mock_client import cursor_page as page

COMPANY = uuid.UUID("0b5f0e3c-5c2d-4a56-9f0c-6a1f3c1d2e01")


def job(n: int) -> dict[str, Any]:
    return {
        "id": str(uuid.UUID(int=n)),
        "companyId": str(COMPANY),
        "status": "pending",
        "createdAt": f"2024-05-0{n % 9 + 1}T10:00:00Z",
        "expiresIn": 3600,
        "numberOfItems": n,
        "isInteractive": True,
        "vendorBasedBookkeeping": False,
    }


def sync_jobs() -> ExportJobs:
    core = TransportCore(TransportConfig(base_url=PRODUCTION))
    return ExportJobs(SyncTransport(core, httpx.Client(), sleep=lambda _: None))


def add_three_pages(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json=page([job(1), job(2)], next_cursor="AAAA"))
    httpx_mock.add_response(json=page([job(3), job(4)], next_cursor="BBBB"))
    httpx_mock.add_response(json=page([job(5)], next_cursor=None))


def test_e6_follows_end_cursor_via_after_until_no_next_page(httpx_mock: HTTPXMock) -> None:
    add_three_pages(httpx_mock)
    jobs = sync_jobs().list(company_id=COMPANY, statuses=["pending"], page_size=2).to_list()
    assert [j.number_of_items for j in jobs] == [1, 2, 3, 4, 5]
    requests = httpx_mock.get_requests()
    assert [r.url.params.get("after") for r in requests] == [None, "AAAA", "BBBB"]
    for request in requests:
        assert request.url.params["limit"] == "2"
        assert request.url.params["company_id"] == str(COMPANY)
        assert request.url.params.get_list("statuses") == ["pending"]
        assert "offset" not in request.url.params  # never mix cursor and offset
        assert "before" not in request.url.params


def test_iteration_is_lazy(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json=page([job(1), job(2)], next_cursor="AAAA"))
    iterator = iter(sync_jobs().list(company_id=COMPANY))
    first = next(iterator)
    assert first.number_of_items == 1
    assert len(httpx_mock.get_requests()) == 1  # the second page is not fetched yet


def test_pages_expose_cursor_and_optional_total(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json=page([job(1)], next_cursor="AAAA", total=2))
    httpx_mock.add_response(json=page([job(2)], next_cursor=None))
    pages = list(sync_jobs().list(company_id=COMPANY).pages())
    assert [(p.has_next_page, p.end_cursor, p.total) for p in pages] == [
        (True, "AAAA", 2),
        (False, None, None),
    ]


@pytest.mark.rule("accounts-31")
def test_a31_repeated_cursor_raises_pagination_error(httpx_mock: HTTPXMock) -> None:
    """Accounts rule 31: a cursor seen before would loop forever; stop with a typed error."""
    httpx_mock.add_response(json=page([job(1)], next_cursor="AAAA"))
    httpx_mock.add_response(json=page([job(2)], next_cursor="AAAA"))
    seen: list[int] = []

    def consume() -> None:
        for item in sync_jobs().list(company_id=COMPANY):
            seen.append(item.number_of_items)

    with pytest.raises(PaginationError, match="repeated a cursor"):
        consume()
    assert seen == [1, 2]
    assert len(httpx_mock.get_requests()) == 2


def test_next_page_without_cursor_raises(httpx_mock: HTTPXMock) -> None:
    body = page([job(1)], next_cursor=None)
    body["pagination"]["hasNextPage"] = True
    httpx_mock.add_response(json=body)
    with pytest.raises(PaginationError, match="no endCursor"):
        sync_jobs().list(company_id=COMPANY).to_list()


def test_empty_list(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json=page([], next_cursor=None))
    assert sync_jobs().list(company_id=COMPANY).to_list() == []


def test_bad_item_names_its_json_path(httpx_mock: HTTPXMock) -> None:
    bad = job(2)
    bad["expiresIn"] = "soon"
    httpx_mock.add_response(json=page([job(1), bad], next_cursor=None))
    with pytest.raises(ResponseValidationError) as info:
        sync_jobs().list(company_id=COMPANY).to_list()
    assert info.value.path == "$.data[1].expiresIn"


@pytest.mark.parametrize("size", [0, -1, True, 2.5])
def test_invalid_page_size_refused_before_sending(size: Any) -> None:
    with pytest.raises(ValueError, match="page_size"):
        sync_jobs().list(company_id=COMPANY, page_size=size)


def test_async_paginator_follows_cursors(httpx_mock: HTTPXMock) -> None:
    add_three_pages(httpx_mock)

    async def main() -> tuple[list[int], list[int]]:
        async with httpx.AsyncClient() as http:
            core = TransportCore(TransportConfig(base_url=PRODUCTION))
            jobs = AsyncExportJobs(AsyncTransport(core, http))
            paginator = jobs.list(company_id=COMPANY, page_size=2)
            every = [j.number_of_items async for j in paginator]
            sizes = [len(p.items) async for p in paginator.pages()]
            return every, sizes

    add_three_pages(httpx_mock)  # iterated twice: items, then pages
    every, sizes = asyncio.run(main())
    assert every == [1, 2, 3, 4, 5]
    assert sizes == [2, 2, 1]
    assert [r.url.params.get("after") for r in httpx_mock.get_requests()] == [
        None,
        "AAAA",
        "BBBB",
        None,
        "AAAA",
        "BBBB",
    ]


def test_async_repeated_cursor(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json=page([job(1)], next_cursor="AAAA"))
    httpx_mock.add_response(json=page([job(2)], next_cursor="AAAA"))

    async def main() -> None:
        async with httpx.AsyncClient() as http:
            core = TransportCore(TransportConfig(base_url=PRODUCTION))
            await AsyncExportJobs(AsyncTransport(core, http)).list(company_id=COMPANY).to_list()

    with pytest.raises(PaginationError):
        asyncio.run(main())
