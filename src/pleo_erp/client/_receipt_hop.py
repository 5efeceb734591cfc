"""One hop of a receipt download: the request sent, the response's status, headers and body.

A receipt download is the export's hottest HTTP path (one or more per item), so a hop goes
the leanest way the client's transport allows (issue 13):

- **Straight to httpx's connection pool** when the transport for the URL is httpx's own,
  unmodified ``httpx.HTTPTransport`` (what ``PleoClient`` builds, proxies included): the
  request is handed to the transport's ``httpcore`` pool exactly as the transport would hand
  it, minus the ``httpx.Request``/``httpx.Response`` objects around it — about a third of the
  CPU of a small download (255 µs instead of 385 µs per receipt over loopback).
- **Through the transport's** ``handle_request`` otherwise: a mount, a subclass, a
  ``MockTransport``, an in-process sandbox, or a transport a test library patched
  (``pytest-httpx``, ``respx``) keeps full control of every request.

Either way the same headers go out, no redirect is followed, no cookie is stored and no auth
is applied; :data:`TRANSPORT_ERRORS` are the network failures of both.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import httpcore
import httpx

__all__ = ["TRANSPORT_ERRORS", "Hop", "decode_header", "open_hop", "stock_pool"]

TRANSPORT_ERRORS: tuple[type[Exception], ...] = (
    httpx.TransportError,
    httpcore.TimeoutException,
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.ProxyError,
    httpcore.UnsupportedProtocol,
)
"""What a failed connection, read or protocol exchange raises on either path."""

_STOCK_HANDLE_REQUEST = ("httpx._transports.default", "HTTPTransport.handle_request")


class Hop(Protocol):
    """A response whose body has not been read yet (close it when done)."""

    @property
    def status_code(self) -> int:
        """The HTTP status."""

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (lower-case), or ``None``."""

    def raw_chunks(self) -> Iterator[bytes]:
        """The body as sent (still encoded), in the pieces the connection delivered."""

    def read_body(self) -> bytes | None:
        """The whole body when an in-process transport has read it already, else ``None``."""

    def close(self) -> None:
        """Give the connection back (or drop it, if the body was not read to its end)."""


class _HttpxHop:
    """A hop through the transport's ``handle_request``."""

    __slots__ = ("_response",)

    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    @property
    def status_code(self) -> int:
        return self._response.status_code

    def header(self, name: str) -> str | None:
        value: str | None = self._response.headers.get(name)
        return value

    def raw_chunks(self) -> Iterator[bytes]:
        return self._response.iter_raw()

    def read_body(self) -> bytes | None:
        return self._response.content if self._response.is_stream_consumed else None

    def close(self) -> None:
        self._response.close()


class _PoolHop:
    """A hop straight through httpx's ``httpcore`` pool."""

    __slots__ = ("_headers", "_response")

    def __init__(self, response: httpcore.Response) -> None:
        self._response = response
        self._headers: dict[str, str] | None = None

    @property
    def status_code(self) -> int:
        return self._response.status

    def header(self, name: str) -> str | None:
        if self._headers is None:
            # A repeated header's values joined with ", ", as ``httpx.Headers.get`` gives them.
            headers: dict[str, str] = {}
            for key, value in self._response.headers:
                name_of = key.decode("latin-1").lower()
                text = decode_header(value)
                headers[name_of] = f"{headers[name_of]}, {text}" if name_of in headers else text
            self._headers = headers
        return self._headers.get(name)

    def raw_chunks(self) -> Iterator[bytes]:
        stream: Any = self._response.stream
        return iter(stream)

    def read_body(self) -> bytes | None:
        return None

    def close(self) -> None:
        self._response.close()


def decode_header(value: bytes) -> str:
    """A header value as httpx decodes it (ASCII, else UTF-8, else Latin-1)."""
    try:
        return value.decode("ascii")
    except UnicodeDecodeError:
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value.decode("latin-1")


def stock_pool(transport: httpx.BaseTransport) -> httpcore.ConnectionPool | None:
    """The ``httpcore`` pool of an unmodified ``httpx.HTTPTransport``, else ``None``."""
    if type(transport) is not httpx.HTTPTransport:
        return None
    handle = httpx.HTTPTransport.handle_request
    if (handle.__module__, handle.__qualname__) != _STOCK_HANDLE_REQUEST:
        return None  # patched by a test library: let it see the request
    pool = getattr(transport, "_pool", None)
    return pool if isinstance(pool, httpcore.ConnectionPool) else None


def open_hop(
    http_client: httpx.Client,
    url: httpx.URL,
    headers: httpx.Headers,
    timeout: dict[str, float | None],
) -> Hop:
    """Send ``GET url`` through ``http_client``'s transport for ``url`` (its mounts and
    proxies) and return the response with its body unread.

    No redirect is followed, no auth applied and no cookie stored (a receipt response's
    ``Set-Cookie`` never reaches the client's jar). Raises one of :data:`TRANSPORT_ERRORS`.
    """
    if http_client.is_closed:
        raise RuntimeError("Cannot send a request, as the client has been closed.")
    transport_for_url = getattr(http_client, "_transport_for_url", None)
    if transport_for_url is None:  # pragma: no cover - an httpx without the mount lookup
        request = httpx.Request("GET", url, headers=headers, extensions={"timeout": timeout})
        return _HttpxHop(http_client.send(request, stream=True, follow_redirects=False, auth=None))
    transport: httpx.BaseTransport = transport_for_url(url)
    pool = stock_pool(transport)
    if pool is None:
        request = httpx.Request("GET", url, headers=headers, extensions={"timeout": timeout})
        response = transport.handle_request(request)
        response.request = request
        return _HttpxHop(response)
    core_request = httpcore.Request(
        b"GET",
        httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path),
        # ``Host`` first, as ``httpx.Request`` puts it.
        headers=[(b"Host", url.netloc), *headers.raw],
        extensions={"timeout": timeout},
    )
    return _PoolHop(pool.handle_request(core_request))
