"""A small threaded HTTP server for webhook receivers (stdlib ``http.server``).

Shared by ``pleo-erp webhook serve`` and the embedded runtime (``pleo-erp serve``): it reads
the body (refusing oversized ones before reading), hands ``(method, path, headers, body)`` to
a receiver and writes the receiver's :class:`WebhookResponse`. All webhook logic (signature,
dedupe, triggers) lives in the receiver, which is HTTP-free and unit-testable.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from attrs import define, field

__all__ = ["MAX_BODY_BYTES", "WebhookHandler", "WebhookResponse", "make_webhook_server"]

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


def make_webhook_server(receiver: WebhookHandler, host: str, port: int) -> ThreadingHTTPServer:
    """A threaded HTTP server feeding ``receiver``; call ``serve_forever`` / ``shutdown``."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "pleo-erp-webhook"
        sys_version = ""
        protocol_version = "HTTP/1.1"

        def _answer(self, response: WebhookResponse) -> None:
            payload = response.encoded()
            self.send_response(response.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _dispatch(self) -> None:
            length_header = self.headers.get("Content-Length", "0") or "0"
            if not length_header.isdigit():
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
            headers = dict(self.headers.items())
            self._answer(receiver.handle(self.command, self.path, headers, body))

        do_POST = _dispatch
        do_GET = _dispatch
        do_PUT = _dispatch

        def log_message(self, format: str, *args: Any) -> None:
            # Request lines go to the debug log; outcomes are logged by the receiver.
            logger.debug("%s %s", self.address_string(), format % args)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server
