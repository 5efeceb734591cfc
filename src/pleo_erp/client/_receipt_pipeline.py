"""Receipt requests sent ahead, each on its own keep-alive connection (issue 13).

A receipt download is mostly waiting: the file host takes a while to answer, and the export
has posting to do meanwhile. Instead of a thread per download (whose every socket call hands
Python's GIL back and forth with the posting thread: about 140 µs of CPU per receipt on top
of the download itself), the export *sends* the request for an upcoming item's receipt at
once and *reads* the answer when the item's turn comes. The host works while the export
posts; no thread waits for it.

Each request in flight has a connection of its own (HTTP/1.1, no pipelining on one
connection, which hosts handle badly); a connection whose exchange ended cleanly is kept for
the next request to the same origin. The HTTP/1.1 exchange is ``h11``'s (httpx's own
protocol engine), the sockets and TLS are the standard library's with the SSL context of the
client's transport, so certificates are verified exactly as httpx would.

Only the plainest transport takes this way: httpx's own ``HTTPTransport`` over a direct
``httpcore`` pool (no proxy, no HTTP/2, no Unix socket, local address, socket options or
custom network backend; no mount taking every host, as a proxy's does), neither of them
patched by a test library (``pytest-httpx``, ``respx``), whose mocks must see every request.
Anything else — and every redirect, retry or odd answer — goes the usual way
(:mod:`._receipt_hop`). Socket and protocol failures surface as the matching ``httpx``
exceptions, so the download rules classify them exactly as on the usual way.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import h11
import httpcore
import httpx

from pleo_erp.client._receipt_hop import decode_header, stock_pool

__all__ = ["ReceiptPipeline", "SentRequest", "StaleConnection"]

_READ_SIZE = 64 * 1024
# A response head as big as httpcore accepts (h11's own default is 16 KiB): a host whose
# headers httpx reads must not fail here.
_MAX_HEAD = 100 * 1024
_Origin = tuple[bytes, bytes, int]  # scheme, host, port
_STOCK_POOL_HANDLE_REQUEST = ("httpcore._sync.connection_pool", "ConnectionPool.handle_request")


class StaleConnection(Exception):
    """A kept connection turned out closed before any answer came: send the request anew."""


class _Connection:
    """One socket with its HTTP/1.1 state."""

    __slots__ = ("idle_since", "origin", "protocol", "reused", "sock")

    def __init__(self, sock: socket.socket, origin: _Origin) -> None:
        self.sock = sock
        self.origin = origin
        self.protocol = h11.Connection(our_role=h11.CLIENT, max_incomplete_event_size=_MAX_HEAD)
        self.reused = False
        self.idle_since = 0.0

    def close(self) -> None:
        with contextlib.suppress(OSError):  # closing a broken socket
            self.sock.close()


def _default_port(scheme: bytes) -> int:
    return 443 if scheme == b"https" else 80


def _origin_of(url: httpx.URL) -> _Origin:
    return (url.raw_scheme, url.raw_host, url.port or _default_port(url.raw_scheme))


def _readable(sock: socket.socket) -> bool:
    """Whether an idle connection has something to read: for an idle keep-alive connection
    that is the peer's close (or garbage) — either way it must not be reused."""
    try:
        if hasattr(select, "poll"):  # ``select.select`` fails for descriptors >= 1024
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


class ReceiptPipeline:
    """Keep-alive connections for receipt requests sent ahead (one request per connection).

    Thread-safe: requests may be sent on one thread and read on another; each connection is
    used by one request at a time.
    """

    def __init__(
        self,
        ssl_context: ssl.SSLContext | None,
        *,
        keepalive_expiry: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Connections for ``https`` use ``ssl_context`` (``None``: ``https`` is not sent
        ahead); idle ones older than ``keepalive_expiry`` seconds are not reused."""
        self._ssl_context = ssl_context
        self._keepalive_expiry = keepalive_expiry
        self._clock = clock
        self._idle: dict[_Origin, list[_Connection]] = {}
        self._lock = threading.Lock()
        self._closed = False
        # Origins a connection could not be opened to: not sent ahead again (one connect
        # stall per unreachable host, on the scheduling thread; the usual way takes over).
        self._unreachable: set[_Origin] = set()

    @classmethod
    def for_client(cls, http_client: httpx.Client) -> ReceiptPipeline | None:
        """A pipeline with the settings of ``http_client``'s default transport, or ``None``
        when that transport is not the plain kind this module speaks for."""
        transport: Any = getattr(http_client, "_transport", None)
        pool = stock_pool(transport) if transport is not None else None
        if type(pool) is not httpcore.ConnectionPool or not _plain(pool) or _pool_patched():
            return None
        if _mounted_for_every_host(http_client):
            return None  # a proxy (``proxy=``, ``HTTPS_PROXY``): nothing would be sent ahead
        context = getattr(pool, "_ssl_context", None)
        expiry = getattr(pool, "_keepalive_expiry", 5.0)
        return cls(
            context if isinstance(context, ssl.SSLContext) else None,
            keepalive_expiry=5.0 if expiry is None else float(expiry),
        )

    def accepts(self, http_client: httpx.Client, url: httpx.URL) -> bool:
        """Whether a request for ``url`` through ``http_client`` may be sent ahead here (its
        transport is the default one, and the scheme is spoken)."""
        if url.scheme == "https" and self._ssl_context is None:
            return False
        if url.scheme not in ("http", "https"):
            return False
        if _origin_of(url) in self._unreachable:
            return False
        transport_for_url = getattr(http_client, "_transport_for_url", None)
        default = getattr(http_client, "_transport", None)
        return transport_for_url is not None and transport_for_url(url) is default

    def send(
        self, url: httpx.URL, headers: httpx.Headers, timeout: dict[str, float | None]
    ) -> SentRequest:
        """Send ``GET url`` now (on a kept connection to its origin, or a new one); read the
        answer later with :meth:`SentRequest.response`.

        Raises ``httpx.ConnectError``/``ConnectTimeout``/``WriteError``/``WriteTimeout``.
        """
        origin = _origin_of(url)
        connection = self._checkout(origin)
        if connection is None:
            connection = self._connect(url, origin, timeout)
        request = h11.Request(
            method=b"GET", target=url.raw_path, headers=[(b"Host", url.netloc), *headers.raw]
        )
        try:
            data = connection.protocol.send(request)
            data = (data or b"") + (connection.protocol.send(h11.EndOfMessage()) or b"")
            connection.sock.settimeout(timeout.get("write"))
            connection.sock.sendall(data)
        except BaseException as error:
            connection.close()
            if connection.reused and isinstance(error, OSError) and _closed_by_peer(error):
                raise StaleConnection from error
            if isinstance(error, TimeoutError):
                raise httpx.WriteTimeout(str(error)) from error
            if isinstance(error, OSError):
                raise httpx.WriteError(type(error).__name__) from error
            if isinstance(error, h11.ProtocolError):
                raise httpx.LocalProtocolError(type(error).__name__) from error
            raise
        return SentRequest(self, connection, timeout)

    def _checkout(self, origin: _Origin) -> _Connection | None:
        now = self._clock()
        with self._lock:
            idle = self._idle.get(origin)
            while idle:
                connection = idle.pop()
                if now - connection.idle_since <= self._keepalive_expiry and not _readable(
                    connection.sock
                ):
                    connection.reused = True
                    return connection
                connection.close()
        return None

    def _connect(
        self, url: httpx.URL, origin: _Origin, timeout: dict[str, float | None]
    ) -> _Connection:
        host = url.host
        try:
            sock = socket.create_connection((host, origin[2]), timeout=timeout.get("connect"))
        except TimeoutError as error:
            self._unreachable.add(origin)
            raise httpx.ConnectTimeout(str(error)) from error
        except OSError as error:
            self._unreachable.add(origin)
            raise httpx.ConnectError(type(error).__name__) from error
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if origin[0] == b"https":
                assert self._ssl_context is not None  # ``accepts`` checked it
                sock.settimeout(timeout.get("connect"))
                sock = self._ssl_context.wrap_socket(sock, server_hostname=host)
        except TimeoutError as error:
            sock.close()
            self._unreachable.add(origin)
            raise httpx.ConnectTimeout(str(error)) from error
        except OSError as error:  # ssl.SSLError is one (an untrusted certificate, too)
            sock.close()
            self._unreachable.add(origin)
            raise httpx.ConnectError(type(error).__name__) from error
        return _Connection(sock, origin)

    def _keep(self, connection: _Connection) -> None:
        """Take back a connection whose exchange ended cleanly."""
        protocol = connection.protocol
        if protocol.our_state is h11.DONE and protocol.their_state is h11.DONE:
            protocol.start_next_cycle()
            connection.idle_since = self._clock()
            with self._lock:
                if not self._closed:
                    self._idle.setdefault(connection.origin, []).append(connection)
                    return
        connection.close()

    def close(self) -> None:
        """Close every kept connection (requests still being read close their own)."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.close()


class SentRequest:
    """A request on the wire; :meth:`response` reads its answer (one :class:`Hop`)."""

    __slots__ = (
        "_body_done",
        "_connection",
        "_headers",
        "_heard",
        "_pipeline",
        "_status",
        "_timeout",
    )

    def __init__(
        self,
        pipeline: ReceiptPipeline,
        connection: _Connection,
        timeout: dict[str, float | None],
    ) -> None:
        self._pipeline = pipeline
        self._connection: _Connection | None = connection
        self._timeout = timeout
        self._status = 0
        self._headers: dict[str, str] = {}
        self._body_done = False
        self._heard = False  # any byte of the answer received

    def _event(self) -> Any:
        connection = self._connection
        assert connection is not None
        protocol = connection.protocol
        while True:
            event = protocol.next_event()
            if event is not h11.NEED_DATA:
                return event
            connection.sock.settimeout(self._timeout.get("read"))
            data = connection.sock.recv(_READ_SIZE)
            if data:
                self._heard = True
            protocol.receive_data(data)

    def response(self, timeout: dict[str, float | None]) -> SentRequest:
        """Read the status line and headers (the body stays unread) within ``timeout``'s
        read limit; this object is then the :class:`~pleo_erp.client._receipt_hop.Hop` of
        the answer.

        Raises ``httpx`` transport errors, or :class:`StaleConnection` when a kept
        connection was closed before any answer came (send the request again).
        """
        connection = self._connection
        if connection is None:
            raise RuntimeError("the answer to this request was read already")
        self._timeout = timeout
        try:
            event = self._event()
            while isinstance(event, h11.InformationalResponse):  # 1xx: the answer follows
                event = self._event()
        except BaseException as error:
            self._drop()
            # Not h11's state: a failed ``next_event`` has turned it into ``ERROR`` already.
            if connection.reused and not self._heard and _closed_by_peer(error):
                raise StaleConnection from error
            raise _as_httpx(error, reading=True) from error
        if not isinstance(event, h11.Response):  # an informational answer is an event too
            self._drop()
            raise httpx.RemoteProtocolError(f"unexpected {type(event).__name__}")
        self._status = event.status_code
        headers: dict[str, str] = {}
        for key, value in event.headers:  # h11 gives names lower-cased
            name = key.decode("latin-1")
            text = decode_header(value)
            headers[name] = f"{headers[name]}, {text}" if name in headers else text
        self._headers = headers
        return self

    @property
    def status_code(self) -> int:
        """The HTTP status."""
        return self._status

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (lower-case), or ``None``."""
        return self._headers.get(name)

    def raw_chunks(self) -> Iterator[bytes]:
        """The body as sent, as it arrives."""
        try:
            while True:
                event = self._event()
                if type(event) is h11.Data:
                    yield bytes(event.data)
                elif type(event) is h11.EndOfMessage:
                    self._body_done = True
                    return
                else:  # pragma: no cover - h11 gives only Data, then EndOfMessage
                    raise httpx.RemoteProtocolError(f"unexpected {type(event).__name__}")
        except (OSError, h11.ProtocolError) as error:
            self._drop()
            raise _as_httpx(error, reading=True) from error

    def read_body(self) -> bytes | None:
        """Never read ahead (the body is streamed)."""
        return None

    def close(self) -> None:
        """Keep the connection for the next request if the body was read to its end, else
        close it (also for a request whose answer is never read)."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        if self._body_done:
            self._pipeline._keep(connection)
        else:
            connection.close()

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


def _closed_by_peer(error: BaseException) -> bool:
    """Whether ``error`` says the peer closed (or reset) the connection — not a timeout: a
    slow host did not close anything, and must not get the request twice."""
    return isinstance(error, (OSError, h11.ProtocolError)) and not isinstance(error, TimeoutError)


def _as_httpx(error: BaseException, *, reading: bool) -> BaseException:
    """The ``httpx`` exception httpx would raise for a socket or protocol failure."""
    if isinstance(error, TimeoutError):
        return httpx.ReadTimeout(str(error)) if reading else httpx.WriteTimeout(str(error))
    if isinstance(error, h11.ProtocolError):
        return httpx.RemoteProtocolError(type(error).__name__)
    if isinstance(error, OSError):
        return httpx.ReadError(type(error).__name__)
    return error


def _mounted_for_every_host(http_client: httpx.Client) -> bool:
    """Whether a mount takes every host of a scheme (what ``proxy=`` and the proxy
    environment variables install): the default transport would then see no receipt."""
    mounts: Any = getattr(http_client, "_mounts", {})
    return any(
        transport is not None and not getattr(pattern, "host", "")
        for pattern, transport in mounts.items()
    )


def _pool_patched() -> bool:
    """Whether a test library replaced httpcore's pool (``respx`` does): its mocks must see
    every request, which a request sent here would bypass."""
    handle = httpcore.ConnectionPool.handle_request
    return (handle.__module__, handle.__qualname__) != _STOCK_POOL_HANDLE_REQUEST


def _plain(pool: httpcore.ConnectionPool) -> bool:
    """Whether ``pool`` connects directly with default socket settings over HTTP/1.1."""
    return (
        getattr(pool, "_http1", True) is True
        and not getattr(pool, "_http2", False)
        and getattr(pool, "_uds", None) is None
        and getattr(pool, "_local_address", None) is None
        and not getattr(pool, "_socket_options", None)
        and type(getattr(pool, "_network_backend", None)).__name__ == "SyncBackend"
    )
