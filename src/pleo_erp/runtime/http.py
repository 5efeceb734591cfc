"""A small threaded HTTP server for webhook receivers (stdlib ``http.server``).

Shared by ``pleo-erp webhook serve`` and the embedded runtime (``pleo-erp serve``): it reads
the body (refusing oversized ones before reading), hands ``(method, path, headers, body)`` to
a receiver and writes the receiver's :class:`WebhookResponse`. It is hardened for an open
port: a watchdog bounds the time to receive a whole request (headers, body, idle keep-alive),
connections beyond a cap get ``503``, chunked bodies ``411``, and request lines are logged
with control characters escaped, through the ``pleo_erp`` logger only. All webhook logic (signature,
dedupe, triggers) lives in the receiver, which is HTTP-free and unit-testable.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from attrs import define, field

__all__ = [
    "MAX_BODY_BYTES",
    "ServerLimits",
    "WebhookHandler",
    "WebhookResponse",
    "escape_control",
    "make_webhook_server",
]

logger = logging.getLogger("pleo_erp.webhook")

MAX_BODY_BYTES = 256 * 1024
"""Largest delivery accepted; an export-job event is well under 2 KiB."""


@define(frozen=True)
class WebhookResponse:
    """The HTTP answer to one delivery: status and a small JSON body."""

    status: int
    body: Mapping[str, Any] = field(factory=dict)

    def encoded(self) -> bytes:
        """The JSON body as bytes."""
        return json.dumps(dict(self.body), separators=(",", ":")).encode("utf-8")


class WebhookHandler(Protocol):
    """What :func:`make_webhook_server` feeds: answers one delivery, never raises for bad ones."""

    max_body_bytes: int

    def handle(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> WebhookResponse:
        """The response to one delivery."""
        ...


@define(frozen=True)
class ServerLimits:
    """How much an open receiver port gives a client before it hangs up."""

    request_timeout: float = 10.0
    """Seconds to receive one whole request — request line, headers and body — counted from
    when the server starts waiting for it, so an idle keep-alive connection is closed after
    this long too."""
    max_connections: int = 32
    """Connections served at once; one more is answered ``503`` and closed."""


_CONTROL_ESCAPES = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))}


def escape_control(text: str) -> str:
    """``text`` with ASCII and Latin-1 control characters as ``\\xNN`` (no terminal escapes)."""
    return text.translate(_CONTROL_ESCAPES)


_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b"Content-Length: 17\r\nConnection: close\r\nRetry-After: 1\r\n\r\n"
    b'{"error":"busy"}\n'
)


class _Watchdog:
    """Shuts a connection's socket down when reading one request takes too long."""

    def __init__(self, connection: socket.socket, seconds: float) -> None:
        self._timer = threading.Timer(seconds, self._fire, args=(connection,))
        self._timer.daemon = True
        self.fired = False

    def _fire(self, connection: socket.socket) -> None:
        self.fired = True
        # Logged before the hang-up, so whoever sees the connection close can see why.
        logger.info("webhook connection closed: request not received in time")
        with contextlib.suppress(OSError):
            connection.shutdown(socket.SHUT_RDWR)

    def start(self) -> None:
        self._timer.start()

    def cancel(self) -> None:
        self._timer.cancel()


class _LimitedServer(ThreadingHTTPServer):
    """A ``ThreadingHTTPServer`` with a connection cap and errors routed to our logger."""

    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], limits: ServerLimits
    ) -> None:
        self.limits = limits
        self._slots = threading.BoundedSemaphore(limits.max_connections)
        # The stdlib's backlog of 5 would leave a burst waiting in the kernel (SYN retries of
        # a second and more) before the cap and the deadline could even apply.
        self.request_queue_size = max(limits.max_connections * 2, 16)
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            logger.warning("webhook receiver busy: connection refused (503)")
            try:
                request.settimeout(1.0)
                request.sendall(_BUSY)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The default prints a traceback to stderr, past the logging redaction filters.
        import sys

        error = sys.exc_info()[1]
        if isinstance(error, OSError):  # BrokenPipe, ConnectionReset, timeouts: the peer's doing
            logger.debug("webhook connection broke off: %s", type(error).__name__)
        else:
            # No traceback: its text would bypass the secret scrubbing of the CLI's handler.
            logger.error("webhook request handling failed: %s", type(error).__name__)


def make_webhook_server(
    receiver: WebhookHandler,
    host: str,
    port: int,
    *,
    limits: ServerLimits | None = None,
) -> ThreadingHTTPServer:
    """A threaded HTTP server feeding ``receiver``; call ``serve_forever`` / ``shutdown``.

    ``limits`` bound what one client can hold (see :class:`ServerLimits`): the time to send
    one whole request (headers, body, idle keep-alive) and the connections served at once.
    """
    bounds = limits if limits is not None else ServerLimits()

    class Handler(BaseHTTPRequestHandler):
        server_version = "pleo-erp-webhook"
        sys_version = ""
        protocol_version = "HTTP/1.1"
        # The watchdog bounds the whole request and is the one that fires; the per-recv socket
        # timeout is only a backstop (a second later), so a hang-up is always logged the same way.
        timeout = bounds.request_timeout + 1.0
        _watchdog: _Watchdog

        def handle_one_request(self) -> None:
            watchdog = _Watchdog(self.connection, bounds.request_timeout)
            self._watchdog = watchdog
            watchdog.start()
            try:
                super().handle_one_request()
            finally:
                watchdog.cancel()
                if watchdog.fired:
                    self.close_connection = True

        def _answer(self, response: WebhookResponse) -> None:
            payload = response.encoded()
            self.send_response(response.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload)

        def _dispatch(self) -> None:
            if self._watchdog.fired:
                # The deadline cut the headers short: what was parsed is not a whole request.
                self.close_connection = True
                return
            if self.headers.get("Transfer-Encoding") is not None:
                # A chunked body would otherwise be left on the socket and parsed as the next
                # request; Pleo sends a Content-Length.
                self.close_connection = True
                self._answer(WebhookResponse(411, {"error": "Content-Length required"}))
                return
            length_header = (self.headers.get("Content-Length", "0") or "0").strip()
            # ``isascii``: ``"²".isdigit()`` is true but ``int("²")`` fails.
            if not (length_header.isascii() and length_header.isdigit()):
                self.close_connection = True
                self._answer(WebhookResponse(400, {"error": "bad Content-Length"}))
                return
            length = int(length_header)
            if length > receiver.max_body_bytes:
                # Do not read an oversized body; drop the connection after answering.
                self.close_connection = True
                self._answer(WebhookResponse(413, {"error": "delivery too large"}))
                return
            body = self.rfile.read(length) if length else b""
            self._watchdog.cancel()  # the request is in; answering is ours to do
            if len(body) < length:
                self.close_connection = True
                return  # the peer hung up or the watchdog fired mid-body
            headers = dict(self.headers.items())
            self._answer(receiver.handle(self.command, self.path, headers, body))

        do_POST = _dispatch
        do_GET = _dispatch
        do_PUT = _dispatch

        def log_message(self, format: str, *args: Any) -> None:
            # Request lines go to the debug log (escaped: the request line is attacker text);
            # outcomes are logged by the receiver.
            logger.debug("%s %s", self.address_string(), escape_control(format % args))

        def log_error(self, format: str, *args: Any) -> None:
            logger.info("%s %s", self.address_string(), escape_control(format % args))

    return _LimitedServer((host, port), Handler, bounds)
