"""Helpers every resource module shares: base classes, envelopes, argument checks."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar, cast

from pleo_erp.client._request import Call
from pleo_erp.client._transport import AsyncTransport, SyncTransport
from pleo_erp.client.pagination import AsyncPaginator, Page, PagedCall, Paginator
from pleo_erp.client.serialization import structure, unstructure
from pleo_erp.models.common import CursorPage, DataResponse

__all__ = [
    "AsyncResource",
    "SyncResource",
    "as_body",
    "check_enum",
    "check_length",
    "check_page_size",
    "chunked",
    "data_of",
    "list_data_of",
    "paged",
]

T = TypeVar("T")
E = TypeVar("E", bound=enum.Enum)


class SyncResource:
    """Base of the blocking resource classes: holds the transport."""

    def __init__(self, transport: SyncTransport) -> None:
        """Bind the resource to a client's transport (clients do this; users do not)."""
        self._transport = transport

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"

    def _paginate(self, paged_call: PagedCall[T]) -> Paginator[T]:
        return Paginator(self._transport, paged_call)


class AsyncResource:
    """Base of the ``async`` resource classes: holds the transport."""

    def __init__(self, transport: AsyncTransport) -> None:
        """Bind the resource to a client's transport (clients do this; users do not)."""
        self._transport = transport

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"

    def _paginate(self, paged_call: PagedCall[T]) -> AsyncPaginator[T]:
        return AsyncPaginator(self._transport, paged_call)


def data_of(body: Any, cls: type[T]) -> T:
    """Structure a ``{"data": <cls>}`` envelope and return the inner object."""
    envelope = cast("DataResponse[T]", structure(body, DataResponse[cls]))  # type: ignore[valid-type]
    return envelope.data


def list_data_of(body: Any, cls: type[T]) -> tuple[T, ...]:
    """Structure a ``{"data": [<cls>, ...]}`` envelope and return the items."""
    envelope = cast(
        "DataResponse[tuple[T, ...]]",
        structure(body, DataResponse[tuple[cls, ...]]),  # type: ignore[valid-type]
    )
    return envelope.data


def paged(call: Call, cls: type[T], page_size: int | None) -> PagedCall[T]:
    """A :class:`PagedCall` whose pages are structured as ``CursorPage[cls]``."""
    page_type: Any = CursorPage[cls]  # type: ignore[valid-type]

    def parse_page(body: Any) -> Page[T]:
        page = cast("CursorPage[T]", structure(body, page_type))
        info = page.pagination
        return Page(
            items=page.data,
            has_next_page=info.has_next_page,
            end_cursor=info.end_cursor or None,
            total=info.total,
        )

    return PagedCall(call=call, parse_page=parse_page, page_size=check_page_size(page_size))


def check_page_size(page_size: int | None) -> int | None:
    """``page_size`` (sent as ``limit``) must be a positive int when given."""
    if page_size is None:
        return None
    if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
        raise ValueError("page_size must be a positive integer")
    return page_size


def check_enum(enum_cls: type[E], value: E | str, name: str) -> E:
    """``value`` as a member of ``enum_cls``; ``ValueError`` listing the allowed values."""
    try:
        return enum_cls(value)
    except ValueError:
        allowed = ", ".join(str(member.value) for member in enum_cls)
        raise ValueError(f"{name} must be one of: {allowed}; got {value!r}") from None


def check_length(value: str | None, name: str, *, minimum: int = 0, maximum: int = 255) -> None:
    """Reject a string outside ``[minimum, maximum]`` characters before any HTTP call."""
    if value is None:
        return
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string")
    if not minimum <= len(value) <= maximum:
        raise ValueError(f"{name} must be {minimum}-{maximum} characters long, got {len(value)}")


def as_body(obj: object) -> Any:
    """A request body: a model is unstructured to camelCase JSON, a mapping is copied."""
    if isinstance(obj, Mapping):
        return dict(obj)
    return unstructure(obj)


def chunked(items: Sequence[T] | Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of at most ``size`` items, in order (none for an empty input)."""
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
