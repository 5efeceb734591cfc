"""Wire types shared by every Pleo API family: money, errors, response envelopes, pagination.

The response envelopes are generic attrs classes: ``DataResponse[T]`` is ``{"data": T}`` and
``CursorPage[T]`` is ``{"data": [T, ...], "pagination": CursorPageInfo}``. The spec's concrete
envelope names (``DataResponseExportJobV3``, ``CursorPaginatedResponseExportItemV3``, …) are type
aliases of these, defined beside the model they wrap; pass either to
``pleo_erp.client.serialization.structure``.
"""

from __future__ import annotations

import enum
from typing import Generic, TypeVar

from attrs import define

__all__ = [
    "CursorPage",
    "CursorPageCurrentRequestInfo",
    "CursorPageInfo",
    "DataResponse",
    "ExceptionInfo",
    "MoneyModel",
    "PageOrder",
]

T = TypeVar("T")


class PageOrder(str, enum.Enum):
    """Sort order of one ``sorting_keys`` entry (query parameter ``sorting_order``)."""

    ASC = "ASC"
    ASC_NULLS_FIRST = "ASC_NULLS_FIRST"
    ASC_NULLS_LAST = "ASC_NULLS_LAST"
    DESC = "DESC"
    DESC_NULLS_FIRST = "DESC_NULLS_FIRST"
    DESC_NULLS_LAST = "DESC_NULLS_LAST"


@define(frozen=True)
class MoneyModel:
    """An amount in integer minor units of ``currency`` (``{"currency": "SEK", "value": 89696}``
    is 896.96 SEK). ``currency`` is an ISO 4217 code; Pleo may also send ``"UNDEFINED"``.

    The spec types ``value`` as a JSON number; a non-integral number is refused rather than
    rounded, because a fractional minor unit means the data is not what we think it is.
    """

    currency: str
    value: int


@define(frozen=True)
class ExceptionInfo:
    """Pleo's error body: ``type`` (e.g. ``EXPORT_NOT_FOUND``) and a human ``message``."""

    type: str
    message: str | None = None


@define(frozen=True)
class CursorPageCurrentRequestInfo:
    """Echo of the paging parameters the server applied to this request."""

    parameters: dict[str, tuple[str, ...]]
    after: str | None = None
    before: str | None = None
    limit: int | None = None
    offset: int | None = None
    sorting_keys: tuple[str, ...] | None = None
    sorting_order: tuple[PageOrder | str, ...] | None = None


@define(frozen=True)
class CursorPageInfo:
    """Cursor pagination state: follow ``end_cursor`` via ``after`` while ``has_next_page``.

    ``total`` and the cursors are optional in the spec: never rely on them being present.
    """

    current_request_pagination: CursorPageCurrentRequestInfo
    has_next_page: bool
    has_previous_page: bool
    end_cursor: str | None = None
    start_cursor: str | None = None
    total: int | None = None


@define(frozen=True)
class DataResponse(Generic[T]):
    """The ``{"data": ...}`` envelope most single-object responses use."""

    data: T


@define(frozen=True)
class CursorPage(Generic[T]):
    """One page of a cursor-paginated list: ``{"data": [...], "pagination": {...}}``."""

    data: tuple[T, ...]
    pagination: CursorPageInfo
