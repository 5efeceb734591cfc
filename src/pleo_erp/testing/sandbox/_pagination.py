"""Cursor pagination in Pleo's envelope (``data`` + ``pagination``), shared by every list route.

Cursors are base32 text (``^[A-Z2-7=~]+$``, as the spec demands) of either a *key*
(``k<n>``: the creation sequence number of the last record seen, so paging stays stable while
records are added or updated between pages) or an *offset* (``o<n>``: used when the caller
asked for ``sorting_keys``). A page is found by bisecting to the cursor and scanning forward
until ``limit + 1`` matches are seen, so paging through a 10 000-item job is linear overall.
"""

from __future__ import annotations

import base64
import binascii
import bisect
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, TypeVar

from ._errors import ApiError

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "decode_cursor", "encode_cursor", "paginate"]

T = TypeVar("T")

#: Small on purpose so every client exercises paging.
DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 1000

_NULLS_FIRST = {"ASC": False, "ASC_NULLS_FIRST": True, "ASC_NULLS_LAST": False,
                "DESC": True, "DESC_NULLS_FIRST": True, "DESC_NULLS_LAST": False}  # fmt: skip


def encode_cursor(kind: str, value: int) -> str:
    """A cursor for a key (``kind='k'``) or an offset (``kind='o'``)."""
    return base64.b32encode(f"{kind}{value}".encode("ascii")).decode("ascii")


def decode_cursor(cursor: str) -> tuple[str, int]:
    """``(kind, value)`` of a cursor made by :func:`encode_cursor`; 400 for anything else."""
    try:
        text = base64.b32decode(cursor.encode("ascii")).decode("ascii")
        kind, value = text[0], int(text[1:])
    except (binascii.Error, UnicodeError, ValueError, IndexError):
        raise ApiError(400, "INVALID_CURSOR", f"Cursor {cursor!r} is not valid") from None
    if kind not in ("k", "o") or value < 0:
        raise ApiError(400, "INVALID_CURSOR", f"Cursor {cursor!r} is not valid")
    return kind, value


def _sort(
    rows: list[tuple[T, dict[str, Any]]],
    keys: Sequence[str],
    orders: Sequence[str],
) -> list[tuple[T, dict[str, Any]]]:
    # Stable sorts applied from the least significant key to the most significant one.
    for index in range(len(keys) - 1, -1, -1):
        name = keys[index]
        order = orders[index] if index < len(orders) else "ASC"
        descending = order.startswith("DESC")
        nulls_first = _NULLS_FIRST[order]
        present = [row for row in rows if row[1].get(name) is not None]
        missing = [row for row in rows if row[1].get(name) is None]
        present.sort(key=lambda row: row[1][name], reverse=descending)
        rows = missing + present if nulls_first else present + missing
    return rows


def paginate(
    records: Sequence[T],
    query: Mapping[str, Any],
    render: Callable[[T], dict[str, Any]],
    *,
    parameters: Mapping[str, list[str]],
    key: Callable[[T], int] | None = None,
    where: Callable[[T], bool] | None = None,
    total: int | None = None,
    sortable: Collection[str] = (),
) -> dict[str, Any]:
    """One page of ``records`` as Pleo's ``CursorPaginatedResponse…`` body.

    Args:
        records: all candidates, ordered by ``key`` (ascending, unique).
        query: the validated query (``limit``, ``after``, ``before``, ``offset``,
            ``sorting_keys``, ``sorting_order``).
        render: turns a record into its JSON object.
        parameters: the filter parameters echoed in ``currentRequestPagination``.
        key: the record's sequence number; ``None`` means its index in ``records``.
        where: keeps only matching records.
        total: the number of matching records if the caller knows it cheaply.
        sortable: the field names ``sorting_keys`` may use.
    """
    limit = min(int(query.get("limit", DEFAULT_PAGE_SIZE)), MAX_PAGE_SIZE)
    # Request validation rejects these first; the pager must never use them as slice bounds
    # (a negative offset would count from the end), even with validation switched off.
    if limit < 0 or int(query.get("offset", 0)) < 0:
        raise ApiError(400, "BAD_REQUEST", "Query parameters offset and limit cannot be negative")
    sorting_keys: list[str] = list(query.get("sorting_keys") or [])
    sorting_order: list[str] = list(query.get("sorting_order") or [])
    current: dict[str, Any] = {"parameters": dict(parameters), "limit": limit}
    for name in ("after", "before", "offset"):
        if name in query:
            current[name] = query[name]
    if sorting_keys:
        current["sortingKeys"] = sorting_keys
        current["sortingOrder"] = sorting_order or ["ASC"] * len(sorting_keys)
        unknown = [k for k in sorting_keys if k not in sortable]
        if unknown:
            raise ApiError(
                400,
                "INVALID_SORTING_KEY",
                f"Cannot sort by {', '.join(unknown)} (sortable: {', '.join(sorted(sortable))})",
            )
        return _offset_page(records, query, render, where, limit, current, sorting_keys,
                            sorting_order)  # fmt: skip
    if "offset" in query:
        return _offset_page(records, query, render, where, limit, current, [], [])
    matches = where or (lambda _record: True)
    size = len(records)
    picked: list[int] = []  # indexes into records
    has_previous = False
    has_next = False
    if "before" in query:
        end = _position(records, key, _cursor_key(query["before"]), before=True)
        index = end - 1
        while index >= 0 and len(picked) <= limit:
            if matches(records[index]):
                picked.append(index)
            index -= 1
        if len(picked) > limit:
            has_previous = True
            picked = picked[:limit]
        picked.reverse()
        has_next = any(matches(records[i]) for i in range(end, size))
    else:
        start = 0
        if "after" in query:
            start = _position(records, key, _cursor_key(query["after"]), before=False)
            has_previous = any(matches(records[i]) for i in range(start - 1, -1, -1))
        index = start
        while index < size and len(picked) <= limit:
            if matches(records[index]):
                picked.append(index)
            index += 1
        if len(picked) > limit:
            has_next = True
            picked = picked[:limit]
    if total is None:
        total = size if where is None else sum(1 for record in records if matches(record))
    pagination: dict[str, Any] = {
        "currentRequestPagination": current,
        "hasNextPage": has_next,
        "hasPreviousPage": has_previous,
        "total": total,
    }
    if picked:
        first, last = picked[0], picked[-1]
        pagination["startCursor"] = encode_cursor("k", key(records[first]) if key else first)
        pagination["endCursor"] = encode_cursor("k", key(records[last]) if key else last)
    return {"data": [render(records[index]) for index in picked], "pagination": pagination}


def _cursor_key(cursor: str) -> int:
    kind, value = decode_cursor(cursor)
    if kind != "k":
        raise ApiError(400, "INVALID_CURSOR", "This cursor belongs to a sorted listing")
    return value


def _position(
    records: Sequence[T],
    key: Callable[[T], int] | None,
    cursor_key: int,
    *,
    before: bool,
) -> int:
    if key is None:
        # Index keys: the record after the cursor is simply the next index.
        return min(cursor_key if before else cursor_key + 1, len(records))
    if before:
        return bisect.bisect_left(records, cursor_key, key=key)
    return bisect.bisect_right(records, cursor_key, key=key)


def _offset_page(
    records: Sequence[T],
    query: Mapping[str, Any],
    render: Callable[[T], dict[str, Any]],
    where: Callable[[T], bool] | None,
    limit: int,
    current: dict[str, Any],
    sorting_keys: Sequence[str],
    sorting_order: Sequence[str],
) -> dict[str, Any]:
    rows = [(record, render(record)) for record in records if where is None or where(record)]
    if sorting_keys:
        rows = _sort(rows, sorting_keys, sorting_order)
    offset = int(query.get("offset", 0))
    for name in ("after", "before"):
        if name in query:
            kind, value = decode_cursor(query[name])
            if kind != "o":
                raise ApiError(400, "INVALID_CURSOR", "This cursor belongs to an unsorted listing")
            offset = value if name == "after" else max(0, value - limit)
            if name == "before":
                limit = min(limit, value)
    window = rows[offset : offset + limit]
    pagination: dict[str, Any] = {
        "currentRequestPagination": current,
        "hasNextPage": offset + limit < len(rows),
        "hasPreviousPage": offset > 0,
        "total": len(rows),
    }
    if window:
        # Offset cursors name the position *after* the page, or the start of it for "before".
        pagination["startCursor"] = encode_cursor("o", offset)
        pagination["endCursor"] = encode_cursor("o", offset + len(window))
    return {"data": [row[1] for row in window], "pagination": pagination}
