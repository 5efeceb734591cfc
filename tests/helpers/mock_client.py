"""Pleo faked for client tests: a ``PleoClient`` whose every request goes to a handler
function (``httpx.MockTransport``), and the body of a cursor-paginated list page."""

from __future__ import annotations

from typing import Any

import httpx

from pleo_erp.client import ApiKeyAuth, PleoClient


def mock_client(handler: Any) -> PleoClient:
    """A production-URL client answering through ``handler``: no rate limit, no retries."""
    return PleoClient(
        ApiKeyAuth("k" * 20),
        base_url="https://external.pleo.io",
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
        requests_per_minute=None,
        max_retries=0,
    )


def cursor_page(
    items: list[dict[str, Any]], *, next_cursor: str | None = None, total: int | None = None
) -> dict[str, Any]:
    """A list page as Pleo answers it: ``items``, and a next page if ``next_cursor``."""
    pagination: dict[str, Any] = {
        "currentRequestPagination": {"parameters": {}},
        "hasNextPage": next_cursor is not None,
        "hasPreviousPage": False,
    }
    if next_cursor is not None:
        pagination["endCursor"] = next_cursor
    if total is not None:
        pagination["total"] = total
    return {"data": items, "pagination": pagination}
