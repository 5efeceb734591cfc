"""Export items (Export API v3 data layer): ``GET /v3/export-items?job_id=…``.

The payloads (amounts, lines, vendor, receipts) of a job's accounting entries. Only ``pending``
and ``in_progress`` jobs serve them; a finished job answers 422
``EXPORT_JOB_STATUS_UNPROCESSABLE`` and unmapped contra accounts 400
``MISSING_CONTRA_ACCOUNTS`` (export-api.md §4.7, Part 3 rules 11 and 13). There is no status
filter. Receipt URLs expire 24 hours after the fetch (rule 15).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx

from pleo_erp.client._json_stream import read_data_elements
from pleo_erp.client._request import Call, ensure_uuid, query
from pleo_erp.client._transport import TransportCore
from pleo_erp.client.pagination import AsyncPaginator, Page, PagedCall, Paginator
from pleo_erp.client.resources._base import (
    AsyncResource,
    SyncResource,
    check_page_size,
    page_of,
)
from pleo_erp.client.serialization import converter, structure, unstructure
from pleo_erp.models.common import CursorPage, CursorPageInfo
from pleo_erp.models.export_items import ExportItemV3

__all__ = [
    "AsyncExportItemPaginator",
    "AsyncExportItems",
    "ExportItemPageReader",
    "ExportItemPaginator",
    "ExportItems",
    "RawExportItemPage",
    "list_call",
]


def list_call(job_id: uuid.UUID | str) -> Call:
    """``GET /v3/export-items?job_id=…``."""
    return Call(
        "export_items.list", "GET", "/v3/export-items", query(job_id=ensure_uuid(job_id, "job_id"))
    )


def parse_page(body: Any) -> Page[ExportItemV3]:
    """A page of export items, structured one item at a time (issue 13).

    A page of 1 000 items is ~4 MB of JSON and several times that as parsed dicts. Each raw
    item is dropped from ``body`` (its slot set to ``None``) as soon as it is typed, so the
    page's dicts and its typed items are never all alive at once: the transient peak of a
    page is about the larger of the two, not their sum. Anything irregular goes through the
    whole-page ``structure``, which raises the same ``ResponseValidationError`` (every
    problem, with its ``$.data[i]…`` path) as before.
    """
    raw = body.get("data") if type(body) is dict else None
    if type(raw) is not list:
        return page_of(structure(body, CursorPage[ExportItemV3]))
    items: list[ExportItemV3] = []
    structure_item = converter.get_structure_hook(ExportItemV3)
    try:
        info: CursorPageInfo = converter.structure(body.get("pagination"), CursorPageInfo)
        for index, value in enumerate(raw):
            items.append(structure_item(value, ExportItemV3))
            raw[index] = None  # the typed item replaces it: free the dict now
    except Exception:  # re-raised below, with JSON paths, by the whole-page pass
        # Put the typed prefix back as JSON (it round-trips) and let the whole-page pass
        # report every problem exactly as for any other list.
        raw[: len(items)] = [unstructure(item) for item in items]
        return page_of(structure(body, CursorPage[ExportItemV3]))
    return Page(
        items=tuple(items),
        has_next_page=info.has_next_page,
        end_cursor=info.end_cursor or None,
        total=info.total,
    )


def read_page(text: str | None, call: Call) -> Page[ExportItemV3]:
    """A page of export items typed straight from the response's text (issue 13).

    Each element of ``data`` is parsed, typed and dropped before the next is parsed
    (:func:`~pleo_erp.client._json_stream.read_data_elements`), so a page never holds all its
    dicts at once: its transient peak is the text, the typed items and one item's dicts
    (~8 MB for 1 000 items instead of ~26 MB). A body of any other shape, or an item that
    does not fit, is parsed whole by :func:`parse_page`, which raises as for any response.
    """
    if text is not None:
        items: list[ExportItemV3] = []
        add = items.append
        structure_item = converter.get_structure_hook(ExportItemV3)
        try:
            members = read_data_elements(
                text, lambda value: add(structure_item(value, ExportItemV3))
            )
            info: CursorPageInfo = converter.structure(members.get("pagination"), CursorPageInfo)
        except Exception:  # the whole-text pass below reports it, with its JSON path
            items.clear()
        else:
            return Page(
                items=tuple(items),
                has_next_page=info.has_next_page,
                end_cursor=info.end_cursor or None,
                total=info.total,
            )
    return parse_page(TransportCore.decode_text(text, call))


def list_op(job_id: uuid.UUID | str, page_size: int | None) -> PagedCall[ExportItemV3]:
    """:func:`list_call` paged, each page structured as ``ExportItemV3`` items (one at a time,
    see :func:`parse_page`)."""
    return PagedCall(
        call=list_call(job_id), parse_page=parse_page, page_size=check_page_size(page_size)
    )


class ExportItemPaginator(Paginator[ExportItemV3]):
    """A :class:`~pleo_erp.client.pagination.Paginator` that types each page from its text
    item by item (:func:`read_page`) and frees the response's bytes first."""

    def pages(self) -> Iterator[Page[ExportItemV3]]:
        """Yield each page in order, requesting the next only when asked for it."""
        tracker = self._tracker()
        call: Call | None = self._paged.call_for(None)
        while call is not None:
            # The response (and its bytes) is a temporary: gone once its text is read.
            page = read_page(TransportCore.body_text(self._transport.send(call), call), call)
            yield page
            call = self._next_call(tracker, page)

    def split_pages(self) -> ExportItemPageReader:
        """The pages as two steps: :meth:`ExportItemPageReader.fetch` (the request, e.g. on a
        background thread) and :meth:`RawExportItemPage.parse` (the typing, e.g. on the
        consuming thread). The export uses it so that every page's parsing allocates on one
        thread, whose malloc arena reuses what the previous page freed (issue 13: memory
        must not grow with the job), while the next page's request still overlaps posting."""
        return ExportItemPageReader(self)


class RawExportItemPage:
    """A fetched, not yet typed page of export items (its response text)."""

    __slots__ = ("_call", "_reader", "_response")

    def __init__(
        self, reader: ExportItemPageReader, response: httpx.Response | None, call: Call
    ) -> None:
        self._reader = reader
        self._response = response
        self._call = call

    def __repr__(self) -> str:
        return f"RawExportItemPage({self._call.operation})"

    def parse(self) -> Page[ExportItemV3]:
        """Type the page (:func:`read_page`) and let the reader request the next one."""
        response, self._response = self._response, None
        if response is None:
            raise RuntimeError("this page was parsed already")
        text = TransportCore.body_text(response, self._call)
        del response  # its bytes: the text is what is parsed
        page = read_page(text, self._call)
        del text
        self._reader._parsed(page)
        return page


class ExportItemPageReader:
    """:meth:`ExportItemPaginator.split_pages`: fetch a page, parse it, fetch the next, …
    (strictly alternating: the next request needs the parsed page's cursor)."""

    def __init__(self, paginator: ExportItemPaginator) -> None:
        self._paginator = paginator
        self._tracker = paginator._tracker()
        self._call: Call | None = paginator._paged.call_for(None)
        self._pending = False

    def __repr__(self) -> str:
        return f"ExportItemPageReader({self._paginator!r})"

    def __iter__(self) -> ExportItemPageReader:
        return self

    def __next__(self) -> RawExportItemPage:
        """:meth:`fetch` as an iterator (ends after the last page)."""
        page = self.fetch()
        if page is None:
            raise StopIteration
        return page

    def fetch(self) -> RawExportItemPage | None:
        """Request the next page (its text only), or ``None`` after the last page."""
        if self._pending:
            raise RuntimeError("parse the page fetched before fetching the next one")
        call = self._call
        if call is None:
            return None
        self._pending = True
        transport = self._paginator._transport
        return RawExportItemPage(self, transport.send(call), call)

    def _parsed(self, page: Page[ExportItemV3]) -> None:
        self._pending = False
        self._call = self._paginator._next_call(self._tracker, page)


class AsyncExportItemPaginator(AsyncPaginator[ExportItemV3]):
    """Async twin of :class:`ExportItemPaginator`."""

    async def pages(self) -> AsyncIterator[Page[ExportItemV3]]:
        """Yield each page in order, requesting the next only when asked for it."""
        tracker = self._tracker()
        call: Call | None = self._paged.call_for(None)
        while call is not None:
            response = await self._transport.send(call)
            text = TransportCore.body_text(response, call)
            del response  # its bytes: the text is what is parsed
            page = read_page(text, call)
            del text
            yield page
            call = self._next_call(tracker, page)


class ExportItems(SyncResource):
    """Export item payloads (``client.export_items``)."""

    def list(
        self, job_id: uuid.UUID | str, *, page_size: int | None = None
    ) -> Paginator[ExportItemV3]:
        """Iterate every ``ExportItemV3`` of the job, page by page (fetch all before posting)."""
        return ExportItemPaginator(self._transport, list_op(job_id, page_size))


class AsyncExportItems(AsyncResource):
    """Export item payloads (``client.export_items`` on the async client)."""

    def list(
        self, job_id: uuid.UUID | str, *, page_size: int | None = None
    ) -> AsyncPaginator[ExportItemV3]:
        """Async twin of :meth:`ExportItems.list` (iterate with ``async for``)."""
        return AsyncExportItemPaginator(self._transport, list_op(job_id, page_size))
