"""The in-process adapter: an ``httpx.MockTransport`` that calls the sandbox core directly.

One handler serves both ``httpx.Client`` and ``httpx.AsyncClient``. Injected connection
faults surface as the errors a real network produces: ``httpx.ConnectError`` (nothing was
sent), ``httpx.ReadError`` (the request was applied, the answer lost) and
``httpx.ReadTimeout``.
"""

from __future__ import annotations

import httpx

from ._app import SandboxApp
from ._errors import SandboxDisconnect

__all__ = ["mock_transport"]

_DISCONNECT_ERRORS: dict[str, type[httpx.TransportError]] = {
    "connect": httpx.ConnectError,
    "read": httpx.ReadError,
    "timeout": httpx.ReadTimeout,
}


def mock_transport(app: SandboxApp) -> httpx.MockTransport:
    """A transport answering every request from ``app`` without sockets."""

    def handler(request: httpx.Request) -> httpx.Response:
        url = request.url
        base_url = f"{url.scheme}://{url.netloc.decode('ascii')}"
        try:
            status, headers, body = app.handle(
                request.method,
                url.path,
                url.params.multi_items(),
                request.headers.multi_items(),
                request.content,
                base_url=base_url,
            )
        except SandboxDisconnect as exc:
            raise _DISCONNECT_ERRORS[exc.kind](str(exc), request=request) from None
        return httpx.Response(status, headers=headers, content=body, request=request)

    return httpx.MockTransport(handler)
