"""What every resource module shares: the resource base classes, operations, parsers, checks.

Each resource module defines its operations once, as module-level ``*_op`` functions that
return an :class:`~pleo_erp.client._request.Operation` (one call and its response parser), a
:class:`BulkOperation` (the chunks of a bulk call) or a
:class:`~pleo_erp.client.pagination.PagedCall` (a list). The blocking class then runs them with
``self._run(op)`` / ``self._paginate(op)`` and the ``async`` class with ``await self._run(op)``
/ ``self._paginate(op)``: the public methods hold only their typed signatures and docstrings.
"""

from __future__ import annotations

import enum
import functools
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, overload

import attrs

from pleo_erp.client._request import Call, Operation, ensure_uuid
from pleo_erp.client._transport import AsyncTransport, SyncTransport
from pleo_erp.client._wire import wire_name
from pleo_erp.client.errors import PleoAPIError
from pleo_erp.client.pagination import AsyncPaginator, Page, PagedCall, Paginator
from pleo_erp.client.serialization import structure, unstructure
from pleo_erp.models.common import CursorPage, DataResponse

__all__ = [
    "AsyncResource",
    "BulkOperation",
    "SyncResource",
    "check_enum",
    "check_length",
    "check_page_size",
    "check_params",
    "chunked",
    "data_parser",
    "list_data_parser",
    "no_result",
    "page_of",
    "paged",
    "raw_body",
    "spec_object",
    "uuid_tuple",
    "wire_fields",
]

T = TypeVar("T")
P = TypeVar("P")
E = TypeVar("E", bound=enum.Enum)
_TransportT = TypeVar("_TransportT", SyncTransport, AsyncTransport)


@dataclass(frozen=True)
class BulkOperation(Generic[P, T]):
    """One bulk operation sent as several calls (chunks), in order, and how to merge them.

    Each part's response is parsed as soon as it arrives. A part that fails raises, and the
    parts before it stay applied (nothing is rolled back); ``merge`` sees every parsed part.
    """

    parts: Sequence[Operation[P]]
    merge: Callable[[list[P]], T]


class _Resource(Generic[_TransportT]):
    """Holds the client's transport (the sync and async bases add how to run operations)."""

    _transport: _TransportT

    def __init__(self, transport: _TransportT) -> None:
        """Bind the resource to a client's transport (clients do this; users do not)."""
        self._transport = transport

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


class SyncResource(_Resource[SyncTransport]):
    """Base of the blocking resource classes: runs the operations of its module."""

    def _run(self, op: Operation[T] | BulkOperation[Any, T]) -> T:
        if isinstance(op, Operation):
            try:
                body = self._transport.request(op.call)
            except PleoAPIError as error:
                _raise_refined(op, error)
                raise
            return op.parse(body)
        return op.merge([self._run(part) for part in op.parts])

    def _paginate(self, paged_call: PagedCall[T]) -> Paginator[T]:
        return Paginator(self._transport, paged_call)


def _raise_refined(op: Operation[Any], error: PleoAPIError) -> None:
    """Raise the operation's more specific error for ``error``, if it has one."""
    if op.refine_error is not None:
        refined = op.refine_error(error)
        if refined is not error:
            raise refined from error


class AsyncResource(_Resource[AsyncTransport]):
    """Base of the ``async`` resource classes: runs the operations of its module."""

    async def _run(self, op: Operation[T] | BulkOperation[Any, T]) -> T:
        if isinstance(op, Operation):
            try:
                body = await self._transport.request(op.call)
            except PleoAPIError as error:
                _raise_refined(op, error)
                raise
            return op.parse(body)
        return op.merge([await self._run(part) for part in op.parts])

    def _paginate(self, paged_call: PagedCall[T]) -> AsyncPaginator[T]:
        return AsyncPaginator(self._transport, paged_call)


def data_parser(cls: type[T]) -> Callable[[Any], T]:
    """A parser of ``{"data": <cls>}`` envelopes that returns the inner object."""
    envelope: Any = DataResponse[cls]  # type: ignore[valid-type]

    def parse(body: Any) -> T:
        data: T = structure(body, envelope).data
        return data

    return parse


def list_data_parser(cls: type[T]) -> Callable[[Any], tuple[T, ...]]:
    """A parser of ``{"data": [<cls>, ...]}`` envelopes that returns the items."""
    envelope: Any = DataResponse[tuple[cls, ...]]  # type: ignore[valid-type]

    def parse(body: Any) -> tuple[T, ...]:
        items: tuple[T, ...] = structure(body, envelope).data
        return items

    return parse


def no_result(body: Any) -> None:
    """Ignore the response body (deletes and events answer with nothing of use)."""


def raw_body(body: Any) -> Any:
    """The decoded JSON body as is (for bulk parts that are merged and parsed together)."""
    return body


def page_of(page: CursorPage[T]) -> Page[T]:
    """The :class:`Page` of a structured ``CursorPage`` (an empty end cursor means none)."""
    info = page.pagination
    return Page(
        items=page.data,
        has_next_page=info.has_next_page,
        end_cursor=info.end_cursor or None,
        total=info.total,
    )


def paged(call: Call, cls: type[T], page_size: int | None) -> PagedCall[T]:
    """A :class:`PagedCall` whose pages are structured as ``CursorPage[cls]``."""
    page_type: Any = CursorPage[cls]  # type: ignore[valid-type]

    def parse_page(body: Any) -> Page[T]:
        page: CursorPage[T] = structure(body, page_type)
        return page_of(page)

    return PagedCall(call=call, parse_page=parse_page, page_size=check_page_size(page_size))


def check_page_size(page_size: int | None) -> int | None:
    """``page_size`` (sent as ``limit``) must be a positive int when given."""
    if page_size is None:
        return None
    if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
        raise ValueError("page_size must be a positive integer")
    return page_size


def check_params(params_type: type[Any], params: Mapping[str, object], method: str) -> None:
    """Refuse, as Python would, an unknown or missing keyword of a ``**params`` method.

    ``params_type`` is the method's ``TypedDict`` (``Unpack[...]``): type checkers already
    reject a wrong keyword; this keeps the same ``TypeError`` at run time.
    """
    required: frozenset[str] = params_type.__required_keys__
    allowed = required | params_type.__optional_keys__
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise TypeError(f"{method}() got an unexpected keyword argument {unknown[0]!r}")
    missing = sorted(required - set(params))
    if missing:
        names = ", ".join(repr(name) for name in missing)
        raise TypeError(f"{method}() missing required keyword argument(s): {names}")


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


@overload
def uuid_tuple(values: None, name: str, *, unique: bool = ...) -> None: ...
@overload
def uuid_tuple(
    values: Iterable[uuid.UUID | str], name: str, *, unique: bool = ...
) -> tuple[uuid.UUID, ...]: ...
def uuid_tuple(
    values: Iterable[uuid.UUID | str] | None, name: str, *, unique: bool = True
) -> tuple[uuid.UUID, ...] | None:
    """A list argument of ids as UUIDs, in order, repeats dropped unless ``unique=False``
    (``None`` stays ``None``). One string is refused: it would be read character by character.
    """
    if values is None:
        return None
    if isinstance(values, str):
        raise ValueError(f"{name} must be a list of UUIDs, not one string")
    ids = (ensure_uuid(value, f"{name}[]") for value in values)
    return tuple(dict.fromkeys(ids)) if unique else tuple(ids)


@functools.cache
def wire_fields(model: type[attrs.AttrsInstance]) -> frozenset[str]:
    """The JSON property names of a request model (what a spec-shaped dict may hold)."""
    return frozenset(wire_name(field) for field in attrs.fields(model))


def spec_object(value: object, model: type[attrs.AttrsInstance], where: str) -> dict[str, Any]:
    """One entry of a bulk call, given as a ``model`` instance or as a spec-shaped (camelCase)
    dict, as a JSON object; ``TypeError`` for anything else, ``ValueError`` naming every key
    ``model`` does not have. ``where`` names the entry in messages (``"items[3]"``)."""
    if isinstance(value, model):
        raw: dict[str, Any] = unstructure(value)
    elif isinstance(value, Mapping):
        raw = dict(value)
    else:
        raise TypeError(f"{where} must be a {model.__name__} or a dict")
    unknown = sorted(set(raw) - wire_fields(model))
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {', '.join(unknown)}")
    return raw
