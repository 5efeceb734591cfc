"""The loopback adapter: the same sandbox over real HTTP/1.1 on 127.0.0.1.

A ``ThreadingHTTPServer`` with keep-alive. Injected connection faults close the socket
without an answer (before or after applying the request, by kind). A response that breaks
the spec becomes a ``500`` naming the violation (the violation is also recorded on the
sandbox). Stopping the server closes open keep-alive connections too, so no thread lingers.

``latency`` (seconds) delays every answer in its own connection thread, like a real network
and API would: concurrent requests wait in parallel (benchmarks use it to model Pleo's
latency over loopback).
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from ._app import SandboxApp
from ._errors import SandboxContractError, SandboxDisconnect

__all__ = ["SandboxHTTPServer", "serve"]

logger = logging.getLogger("pleo_erp.testing.sandbox")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without TCP_NODELAY every keep-alive
    # response would wait for the client's delayed ACK (~40 ms).
    disable_nagle_algorithm = True
    server: SandboxHTTPServer

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Protocol-level errors (an unknown method, a malformed request line, headers too
        long) in Pleo's JSON error shape, not ``http.server``'s HTML page."""
        try:
            type_ = HTTPStatus(code).name
        except ValueError:
            type_ = "ERROR"
        text = message or type_.replace("_", " ").capitalize()
        self.log_error("code %d, message %s", code, text)
        _status, headers, payload = self._error(code, type_, text)
        if self.request_version == "HTTP/0.9":
            # The request line did not parse (http.server's default version): answer with a
            # status line and headers anyway; no client speaks HTTP/0.9.
            self.request_version = "HTTP/1.0"
        self.send_response(code)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Connection", "close")
        self.close_connection = True
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(payload)

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        split = urlsplit(self.path)
        if self.server.latency > 0:
            self.server.sleep(self.server.latency)
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        try:
            status, headers, payload = self.server.app.handle(
                self.command,
                unquote(split.path),
                parse_qsl(split.query, keep_blank_values=True),
                list(self.headers.items()),
                body,
                base_url=f"http://{host}",
            )
        except SandboxDisconnect:
            self.close_connection = True
            self._drop()
            return
        except SandboxContractError as exc:
            status, headers, payload = self._error(500, "SANDBOX_CONTRACT_VIOLATION", str(exc))
        except Exception:  # a bug in the sandbox must not kill the server thread
            logger.exception("sandbox failed on %s %s", self.command, split.path)
            status, headers, payload = self._error(500, "SANDBOX_ERROR", "Sandbox error.")
        self.send_response(status)
        for name, value in headers:
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    # Every method goes to the app, which answers like Pleo: the routed ones by their
    # handlers, the other standard methods with a JSON 405 and an ``Allow`` header on a known
    # path, a JSON 404 elsewhere.
    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _dispatch
    do_HEAD = do_OPTIONS = do_TRACE = do_CONNECT = _dispatch

    @staticmethod
    def _error(status: int, type_: str, message: str) -> tuple[int, list[tuple[str, str]], bytes]:
        payload = json.dumps({"type": type_, "message": message}).encode()
        return status, [("Content-Type", "application/json;charset=UTF-8")], payload

    def _drop(self) -> None:
        with suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s - %s", self.address_string(), format % args)


class SandboxHTTPServer(ThreadingHTTPServer):
    """A threaded HTTP server bound to one :class:`SandboxApp`."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        app: SandboxApp,
        *,
        latency: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if latency < 0:
            raise ValueError(f"latency must be >= 0 seconds, got {latency}")
        self.app = app
        self.latency = latency
        """Seconds every request waits before it is handled (``0``: none)."""
        self.sleep = sleep
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the listening socket."""
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def get_request(self) -> tuple[socket.socket, Any]:
        """Accept a connection and track it, so :meth:`close_connections` can end it."""
        connection, address = super().get_request()
        with self._connections_lock:
            self._connections.add(connection)
        return connection, address

    def shutdown_request(self, request: Any) -> None:
        """Stop tracking a finished connection, then close it as the base class does."""
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Shut down every open client connection (keep-alive sockets included)."""
        with self._connections_lock:
            connections = list(self._connections)
            self._connections.clear()
        for connection in connections:
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


@contextmanager
def serve(
    app: SandboxApp,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    latency: float = 0.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[str]:
    """Serve ``app`` on ``host:port`` (0 = a free port) in a thread; yield the base URL.

    ``latency``: seconds each request waits (in its connection's thread) before it is handled.
    """
    server = SandboxHTTPServer((host, port), app, latency=latency, sleep=sleep)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name=f"pleo-sandbox-http-{server.server_address[1]}",
        daemon=True,
    )
    thread.start()
    try:
        yield server.base_url
    finally:
        server.shutdown()
        server.close_connections()
        thread.join(timeout=5)
        server.server_close()
