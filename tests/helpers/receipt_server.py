"""A loopback receipt host for tests: real HTTP/1.1 sockets that say what reached them.

:class:`ReceiptServer` is a stdlib ``ThreadingHTTPServer`` (keep-alive, or ``Connection:
close`` on every answer) serving scripted answers per path. It records, under one condition
variable, every connection it accepted (in accept order), every request (with the connection
it came on), every answer it *held* (a path can be gated: its answer waits for the test) and
whether the client closed a held request's connection before the answer went out, and which
connections ended (the client closed them: end of file). Nothing is mocked: the client under
test talks to real sockets.

:meth:`ReceiptServer.settle` is a barrier without sleeping: it connects a probe *after* the
code under test returned and waits until the probe was accepted. The listening socket
accepts in arrival order, so every connection the code opened before is then known, and the
wait goes on until each has delivered its first request (or ended) — counts and orders of
requests on *new* connections are then exact.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from attrs import define, field

__all__ = ["Answer", "ReceiptServer", "serve_receipts"]

WAIT = 30.0
"""Seconds any wait for the server gives up after (a hang becomes a failure, not a stall)."""


@define
class Answer:
    """One scripted answer: status, headers, body; ``drop``: close without answering;
    ``chunked``: the body in 256-byte chunks (``Transfer-Encoding: chunked``, no length)."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(factory=lambda: {"Content-Type": "application/pdf"})
    drop: bool = False
    chunked: bool = False


@define
class _Connection:
    sock: socket.socket
    peer: tuple[str, int]
    seq: int
    requests: list[str] = field(factory=list)
    ended: bool = False


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: ReceiptServer

    def do_GET(self) -> None:
        server = self.server
        path = self.path.split("?", 1)[0]
        answer, gate = server._arrived(self.connection, path)
        if gate is not None and not self._held(gate):
            server._aborted(path)
            self.close_connection = True
            return
        if answer.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        if answer.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        elif "Content-Length" not in answer.headers:
            self.send_header("Content-Length", str(len(answer.body)))
        if not server.keep_alive:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        with contextlib.suppress(OSError):  # the client may have given up on a big body
            if not answer.chunked:
                self.wfile.write(answer.body)
                return
            for start in range(0, len(answer.body), 256):
                piece = answer.body[start : start + 256]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")

    def _held(self, gate: threading.Event) -> bool:
        """Wait for ``gate``; ``False`` if the client closed the connection first."""
        for _ in range(int(WAIT / 0.01)):
            if gate.is_set():
                return True
            readable, _, _ = select.select([self.connection], [], [], 0.01)
            if readable:
                try:
                    if self.connection.recv(1, socket.MSG_PEEK) == b"":
                        return False
                except OSError:
                    return False
        return gate.is_set()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


class ReceiptServer(ThreadingHTTPServer):
    """Scripted receipt answers per path; see the module docstring."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, *, keep_alive: bool = True) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.keep_alive = keep_alive
        self.cond = threading.Condition()
        self.connections: list[_Connection] = []
        self._by_sock: dict[socket.socket, _Connection] = {}
        self.requests: list[str] = []  # in the order the handlers saw them
        self.aborted: list[str] = []
        self.threads_seen: set[str] = set()
        self._script: dict[str, list[Answer]] = {}
        self._gates: dict[str, threading.Event] = {}
        self._hold_after: int | None = None
        self._release_all = threading.Event()

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:port``."""
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` (a pre-signed-looking query added)."""
        return f"{self.origin}{path}?signature=secret"

    def script(self, path: str, *answers: Answer) -> None:
        """Answer ``path`` with ``answers`` in turn (the last one repeats)."""
        with self.cond:
            self._script[path] = list(answers)

    def gate(self, path: str) -> threading.Event:
        """Hold ``path``'s answers until the returned event is set."""
        with self.cond:
            event = self._gates[path] = threading.Event()
            return event

    def hold_after(self, count: int) -> threading.Event:
        """Answer the requests on the first ``count`` connections accepted; hold every later
        one until the returned event is set. Without keep-alive (one request a connection)
        and one sending thread, that is the first ``count`` requests *sent*: the accept
        queue keeps the order of the connects, which thread scheduling cannot reorder."""
        with self.cond:
            self._hold_after = count
            return self._release_all

    # -- called by handlers ----------------------------------------------------------------

    def get_request(self) -> tuple[socket.socket, Any]:
        """Accept and record a connection."""
        sock, peer = super().get_request()
        with self.cond:
            record = _Connection(sock, peer, len(self.connections))
            self.connections.append(record)
            self._by_sock[sock] = record
            self.cond.notify_all()
        return sock, peer

    def shutdown_request(self, request: Any) -> None:
        """The handler saw the connection end: record it, then close as usual."""
        with self.cond:
            record = self._by_sock.get(request)
            if record is not None:
                record.ended = True
            self.cond.notify_all()
        super().shutdown_request(request)

    def _arrived(self, sock: socket.socket, path: str) -> tuple[Answer, threading.Event | None]:
        with self.cond:
            record = self._by_sock[sock]
            record.requests.append(path)
            self.requests.append(path)
            self.threads_seen.update(t.name for t in threading.enumerate())
            answers = self._script.get(path, [Answer(b"%PDF-1.4\n" + path.encode())])
            answer = answers.pop(0) if len(answers) > 1 else answers[0]
            gate = self._gates.get(path)
            if gate is None and self._hold_after is not None and record.seq >= self._hold_after:
                gate = self._release_all
            self.cond.notify_all()
            return answer, gate

    def _aborted(self, path: str) -> None:
        with self.cond:
            self.aborted.append(path)
            self.cond.notify_all()

    # -- for tests -------------------------------------------------------------------------

    def wait_for(self, predicate: Callable[[], bool], what: str) -> None:
        """Wait (on the condition, never sleeping) until ``predicate()`` holds."""
        with self.cond:
            if not self.cond.wait_for(predicate, timeout=WAIT):
                raise AssertionError(f"timed out waiting for {what}")

    def count(self, path: str) -> int:
        """Requests for ``path`` so far."""
        with self.cond:
            return self.requests.count(path)

    def open_connections(self) -> int:
        """Accepted connections whose client has not closed them."""
        with self.cond:
            return sum(1 for c in self.connections if not c.ended)

    def settle(self) -> list[str]:
        """The barrier of the module docstring; returns the first request of every
        connection accepted before the probe, in accept order (the probe excluded)."""
        host, port = self.server_address[:2]
        probe = socket.create_connection((str(host), port), timeout=WAIT)
        try:
            name = probe.getsockname()[:2]
            self.wait_for(
                lambda: any(c.peer[:2] == name for c in self.connections), "the probe's accept"
            )
            with self.cond:
                index = next(i for i, c in enumerate(self.connections) if c.peer[:2] == name)
                before = self.connections[:index]
            self.wait_for(
                lambda: all(c.requests or c.ended for c in before), "the earlier requests"
            )
            with self.cond:
                return [c.requests[0] for c in before if c.requests]
        finally:
            probe.close()

    def release(self) -> None:
        """Let every held answer go."""
        with self.cond:
            self._release_all.set()
            for gate in self._gates.values():
                gate.set()


@contextlib.contextmanager
def serve_receipts(*, keep_alive: bool = True) -> Iterator[ReceiptServer]:
    """A :class:`ReceiptServer` serving on a thread for the ``with`` block."""
    server = ReceiptServer(keep_alive=keep_alive)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.01},
        name="receipt-server",
        daemon=True,
    )
    thread.start()
    try:
        yield server
    finally:
        server.release()
        server.shutdown()
        with server.cond:
            socks = [c.sock for c in server.connections if not c.ended]
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        thread.join(timeout=5)
        server.server_close()
