"""A ``PleoClient`` whose every request goes to a handler function (``httpx.MockTransport``)."""

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
