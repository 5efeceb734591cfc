"""Cursor pagination over Pleo's ``{"data": [...], "pagination": {...}}`` lists.

Pleo's rule (export-api.md §5.1 and Part 3 rule 6, accounts-sync-and-auth.md rule 31): ask for
a page, then, while ``pagination.hasNextPage`` is true, ask again with ``after=<endCursor>``.
The iterators here do exactly that and nothing else: they never send ``offset`` or ``before``
(cursor and offset cannot be mixed), never assume ``total`` is present, and stop with
:class:`~pleo_erp.client.errors.PaginationError` when the server hands back a cursor it already
gave (following it would loop forever), when it claims another page without a cursor, or after
``max_pages`` pages.

Items are produced lazily, one page request at a time. :class:`Paginator` (sync) and
:class:`AsyncPaginator` share the page logic (:class:`PagedCall`, :class:`CursorTracker` and one
base class); they differ only in how they wait for a response.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pleo_erp.client.errors import PaginationError

if TYPE_CHECKING:
    from pleo_erp.client._request import Call
    from pleo_erp.client._transport import AsyncTransport, SyncTransport

__all__ = [
    "DEFAULT_MAX_PAGES",
    "AsyncPaginator",
    "CursorTracker",
    "Page",
    "PagedCall",
    "Paginator",
]

T = TypeVar("T")
_TransportT = TypeVar("_TransportT", "SyncTransport", "AsyncTransport")

DEFAULT_MAX_PAGES = 100_000
"""A hard stop so a misbehaving server cannot keep an iterator alive forever."""


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a cursor-paginated list.

    Attributes:
        items: this page's items, already structured.
        has_next_page: Pleo's ``pagination.hasNextPage``.
        end_cursor: Pleo's ``pagination.endCursor`` (what ``after`` takes next), if sent.
        total: Pleo's ``pagination.total``, if sent (often absent; never rely on it).
    """

    items: Sequence[T]
    has_next_page: bool
    end_cursor: str | None
    total: int | None = None


@dataclass(frozen=True)
class PagedCall(Generic[T]):
    """A list operation: the first page's call and how to read one page's JSON body.

    ``parse_page`` turns a whole response body into a :class:`Page` (resources structure it
    with the page model, so a bad item is reported with its path, e.g. ``$.data[3].amount``).
    """

    call: Call
    parse_page: Callable[[Any], Page[T]]
    page_size: int | None = None

    def call_for(self, cursor: str | None) -> Call:
        """The call that fetches the page after ``cursor`` (the first page for ``None``)."""
        return self.call.with_params(limit=self.page_size, after=cursor)


class CursorTracker:
    """Decides the next cursor and refuses loops (shared by sync and async paginators)."""

    def __init__(self, operation: str, max_pages: int = DEFAULT_MAX_PAGES) -> None:
        self._operation = operation
        self._max_pages = max_pages
        self._seen: set[str] = set()
        self._pages = 0

    def next_cursor(self, page: Page[Any]) -> str | None:
        """The cursor to request next, or ``None`` when the list is complete."""
        self._pages += 1
        if not page.has_next_page:
            return None
        cursor = page.end_cursor
        if cursor is None:
            raise PaginationError(
                f"{self._operation}: page {self._pages} says hasNextPage but has no endCursor"
            )
        if cursor in self._seen:
            raise PaginationError(
                f"{self._operation}: the server repeated a cursor on page {self._pages};"
                " stopping instead of looping forever"
            )
        if self._pages >= self._max_pages:
            raise PaginationError(f"{self._operation}: more than {self._max_pages} pages")
        self._seen.add(cursor)
        return cursor


class _PaginatorBase(Generic[_TransportT, T]):
    """What both paginators hold: the transport, the list operation and the page limit."""

    _transport: _TransportT

    def __init__(
        self,
        transport: _TransportT,
        paged: PagedCall[T],
        *,
        max_pages: int = DEFAULT_MAX_PAGES,
    ) -> None:
        self._transport = transport
        self._paged = paged
        self._max_pages = max_pages

    def __repr__(self) -> str:
        paged = self._paged
        return f"{type(self).__name__}({paged.call.operation}, page_size={paged.page_size})"

    def _tracker(self) -> CursorTracker:
        return CursorTracker(self._paged.call.operation, self._max_pages)

    def _next_call(self, tracker: CursorTracker, page: Page[Any]) -> Call | None:
        """The call for the page after ``page``, or ``None`` when the list is complete."""
        cursor = tracker.next_cursor(page)
        return None if cursor is None else self._paged.call_for(cursor)


class Paginator(_PaginatorBase["SyncTransport", T]):
    """Lazily iterates every item of a cursor-paginated list (sync).

    Iterating starts from the first page each time. ``pages()`` yields whole pages;
    ``to_list()`` fetches everything (what the export how-tos require before processing).
    """

    def pages(self) -> Iterator[Page[T]]:
        """Yield each page in order, requesting the next only when asked for it."""
        tracker = self._tracker()
        call: Call | None = self._paged.call_for(None)
        while call is not None:
            page = self._paged.parse_page(self._transport.request(call))
            yield page
            call = self._next_call(tracker, page)

    def __iter__(self) -> Iterator[T]:
        for page in self.pages():
            yield from page.items

    def to_list(self) -> list[T]:
        """Every item of every page."""
        return list(self)


class AsyncPaginator(_PaginatorBase["AsyncTransport", T]):
    """Lazily iterates every item of a cursor-paginated list (async: ``async for``)."""

    async def pages(self) -> AsyncIterator[Page[T]]:
        """Yield each page in order, requesting the next only when asked for it."""
        tracker = self._tracker()
        call: Call | None = self._paged.call_for(None)
        while call is not None:
            page = self._paged.parse_page(await self._transport.request(call))
            yield page
            call = self._next_call(tracker, page)

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.pages():
            for item in page.items:
                yield item

    async def to_list(self) -> list[T]:
        """Every item of every page."""
        return [item async for item in self]
