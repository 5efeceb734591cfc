"""A real HTTP/1.1 server on 127.0.0.1 that counts what it sees (issue 13 receipt tests).

:class:`LoopbackHost` answers every ``GET`` with a test's ``respond(handler)`` and counts, under
one condition variable, the connections it accepted, the requests it read and the connections
that ended (the client closed, or the handler chose to close). A test waits for a count with
:meth:`LoopbackHost.wait_for` — a wait on an event the server signals, never a sleep.
"""

from __future__ import annotations

import contextlib
import ssl
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["Handler", "LoopbackHost", "Responder", "loopback_hosts", "send_body", "send_chunked"]


class Handler(BaseHTTPRequestHandler):
    """The request handler; ``served`` is how many requests its connection has carried."""

    protocol_version = "HTTP/1.1"  # keep-alive
    disable_nagle_algorithm = True  # a head and a body written apart arrive without delay
    owner: LoopbackHost
    served: int

    def setup(self) -> None:
        super().setup()
        self.served = 0
        self.owner._note(connections=1)

    def do_GET(self) -> None:
        self.served += 1
        self.owner._note(requests=1, path=self.path, headers=list(self.headers.items()))
        self.owner.respond(self)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.owner._note(closed=1)

    def log_message(self, format: str, *args: object) -> None:
        return


Responder = Callable[[Handler], None]


class LoopbackHost:
    """A loopback server (``tls``: wrap it in that server-side context)."""

    def __init__(self, respond: Responder, *, tls: ssl.SSLContext | None = None) -> None:
        self.respond = respond
        self.connections = 0
        self.requests = 0
        self.closed = 0
        self.paths: list[str] = []
        self.request_headers: list[list[tuple[str, str]]] = []
        self.release = threading.Event()  # a handler that hangs waits on this
        self._changed = threading.Condition()
        handler = type("BoundHandler", (Handler,), {"owner": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        scheme = "https" if tls is not None else "http"
        self.origin = f"{scheme}://127.0.0.1:{self.port}"
        # A short poll: ``shutdown`` waits for the serving loop to notice.
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def url(self, path: str = "/receipt") -> str:
        """An absolute URL on this host."""
        return f"{self.origin}{path}"

    def _note(
        self,
        *,
        connections: int = 0,
        requests: int = 0,
        closed: int = 0,
        path: str | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        with self._changed:
            self.connections += connections
            self.requests += requests
            self.closed += closed
            if path is not None:
                self.paths.append(path)
            if headers is not None:
                self.request_headers.append(headers)
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[LoopbackHost], bool], timeout: float = 5.0) -> bool:
        """Whether ``predicate(self)`` came true within ``timeout`` seconds."""
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self), timeout)

    def hang(self, handler: Handler) -> None:
        """Answer nothing until the test ends (or 5 s), then drop the connection."""
        self.release.wait(5.0)
        handler.close_connection = True

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def send_body(handler: Handler, body: bytes, status: int = 200, **headers: str) -> None:
    """Answer ``status`` with ``body`` and its ``Content-Length`` (``Content_Type=`` style
    keyword names: underscores become dashes)."""
    handler.send_response(status)
    handler.send_header("Content-Length", str(len(body)))
    for name, value in headers.items():
        handler.send_header(name.replace("_", "-"), value)
    handler.end_headers()
    handler.wfile.write(body)


def send_chunked(handler: Handler, chunks: list[bytes], **headers: str) -> None:
    """Answer 200 with ``chunks`` in ``Transfer-Encoding: chunked`` (no ``Content-Length``)."""
    handler.send_response(200)
    handler.send_header("Transfer-Encoding", "chunked")
    for name, value in headers.items():
        handler.send_header(name.replace("_", "-"), value)
    handler.end_headers()
    for chunk in chunks:
        handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    handler.wfile.write(b"0\r\n\r\n")


@contextlib.contextmanager
def loopback_hosts() -> Iterator[Callable[..., LoopbackHost]]:
    """Start loopback hosts (``start(respond, tls=None)``); all stop on exit."""
    started: list[LoopbackHost] = []

    def start(respond: Responder, *, tls: ssl.SSLContext | None = None) -> LoopbackHost:
        host = LoopbackHost(respond, tls=tls)
        started.append(host)
        return host

    try:
        yield start
    finally:
        for host in started:
            host.close()
