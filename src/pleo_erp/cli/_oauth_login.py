"""The browser half of ``pleo-erp auth login``: a one-shot loopback redirect receiver.

The authorization-code flow with PKCE (accounts-sync-and-auth.md rules 8–10) sends the user's
browser to Pleo, which redirects back to ``http://127.0.0.1:<port>/callback?code=…&state=…``.
:class:`CallbackReceiver` listens there (loopback only), checks the ``state`` against the one
this flow generated before anything else
(:func:`~pleo_erp.client.auth.parse_authorization_callback`), and hands the code to the
command, which exchanges it with the PKCE verifier.

The port is open to every local process while the login waits, so the server is bounded: a
request with the wrong ``state`` is answered and *ignored* (it cannot end the login), each
connection gets ``connection_timeout`` seconds to send its request, and :meth:`close` returns
at once, hanging up on any connection still open — an idle connection can never keep the
login running past its timeout.
"""

from __future__ import annotations

import contextlib
import html
import logging
import socket
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from pleo_erp.client.auth import (
    OAuthCallbackError,
    OAuthStateMismatch,
    parse_authorization_callback,
)

__all__ = ["CALLBACK_PATH", "CallbackReceiver", "LoginTimeout"]

logger = logging.getLogger("pleo_erp.cli.auth")

CALLBACK_PATH = "/callback"
"""The redirect path registered for the CLI's loopback redirect URI."""

_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>pleo-erp</title></head>
<body style="font-family:sans-serif;margin:3em"><h1>{title}</h1><p>{text}</p></body></html>"""


class LoginTimeout(OAuthCallbackError):
    """No redirect arrived in time (the browser was closed, or the user never approved)."""


class CallbackReceiver:
    """Receives exactly one OAuth redirect on ``http://127.0.0.1:<port>/callback``.

    ``with CallbackReceiver(state) as receiver:`` starts a server thread (``port=0`` picks a
    free port; see :attr:`redirect_uri`); :meth:`wait` returns the authorization code or raises
    the :class:`~pleo_erp.client.auth.OAuthCallbackError` the redirect deserved (state mismatch,
    ``error=access_denied``, no code). :meth:`handle` is the HTTP-free core.
    """

    def __init__(
        self,
        expected_state: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        connection_timeout: float = 5.0,
    ) -> None:
        """Expect ``expected_state`` back; listen on ``host:port`` once started.

        ``connection_timeout`` bounds how long one connection may take to send its request.
        """
        self._expected_state = expected_state
        self._host = host
        self._port = port
        self._connection_timeout = connection_timeout
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self.ignored = 0
        """Requests to the callback path that carried the wrong ``state`` (ignored)."""
        self._done = threading.Event()
        self._code: str | None = None
        self._error: OAuthCallbackError | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def redirect_uri(self) -> str:
        """The redirect URI to register with Pleo and send in the authorize request."""
        if self._server is None:
            raise RuntimeError("start the receiver first")
        port = self._server.server_address[1]
        return f"http://{self._host}:{port}{CALLBACK_PATH}"

    def handle(self, target: str) -> tuple[int, str]:
        """Process one request for ``target`` (path + query); returns ``(status, html)``.

        Only the first redirect to :data:`CALLBACK_PATH` with the right ``state`` counts;
        anything else (a favicon request, a forged redirect with another state, a second
        redirect) changes nothing.
        """
        parts = urlsplit(target)
        if parts.path != CALLBACK_PATH:
            return 404, _PAGE.format(title="Not found", text="Nothing here.")
        if self._done.is_set():
            return 409, _PAGE.format(title="Already done", text="This login already finished.")
        params: Mapping[str, str] = dict(parse_qsl(parts.query, keep_blank_values=True))
        try:
            self._code = parse_authorization_callback(params, self._expected_state)
        except OAuthStateMismatch:
            # Any local process can reach this port: a request without our state must not
            # end (or steer) the login. The real redirect can still arrive.
            self.ignored += 1
            logger.warning("OAuth callback with a wrong state ignored")
            return 400, _PAGE.format(
                title="Unknown login",
                text="This redirect does not belong to the running login; it was ignored.",
            )
        except OAuthCallbackError as exc:
            self._error = exc
            self._done.set()
            return 400, _PAGE.format(
                title="Authorization failed",
                text=html.escape(f"{exc}. Return to the terminal for details."),
            )
        self._done.set()
        return 200, _PAGE.format(
            title="pleo-erp is authorized",
            text="You can close this tab and return to the terminal.",
        )

    def wait(self, timeout: float | None) -> str:
        """The authorization code, once the redirect arrived (or raise why there is none)."""
        if not self._done.wait(timeout):
            raise LoginTimeout("no redirect from Pleo arrived before the timeout")
        if self._error is not None:
            raise self._error
        assert self._code is not None
        return self._code

    def start(self) -> None:
        """Bind the loopback port and serve in a daemon thread."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "pleo-erp-login"
            sys_version = ""
            timeout = receiver._connection_timeout  # per connection: no idle hold-open

            def setup(self) -> None:
                super().setup()
                with receiver._connections_lock:
                    receiver._connections.add(self.connection)

            def finish(self) -> None:
                with receiver._connections_lock:
                    receiver._connections.discard(self.connection)
                with contextlib.suppress(OSError):
                    super().finish()

            def do_GET(self) -> None:
                status, page = receiver.handle(self.path)
                payload = page.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                # The query carries the authorization code: never log request lines.
                return

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False

            def handle_error(self, request: Any, client_address: Any) -> None:
                # Not the default traceback on stderr: a broken connection is the peer's doing.
                logger.debug("OAuth callback connection broke off", exc_info=False)

        self._server = Server((self._host, self._port), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="oauth-callback", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Stop serving, hang up on open connections and free the port (returns at once)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        with self._connections_lock:
            open_connections = list(self._connections)
        for connection in open_connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> CallbackReceiver:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
