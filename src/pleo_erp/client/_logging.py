"""Logging for the HTTP client, with secrets kept out of every line.

Everything logs under the stdlib logger ``pleo_erp`` (this module uses its child
``pleo_erp.http``). The SDK never configures handlers; the application decides where records go.

What a request log line may contain: the method, the path with query *parameter names only*
(values such as cursors, ids or e-mail filters are dropped), the status, the attempt number, the
duration and Pleo's request id. Never headers or bodies. When a header mapping has to be shown
(for example on an exception), it goes through :func:`redact_headers` first.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

import httpx

__all__ = [
    "REDACTED",
    "SENSITIVE_HEADERS",
    "SENSITIVE_HEADER_FRAGMENTS",
    "http_logger",
    "is_sensitive_header",
    "logger",
    "redact_headers",
    "safe_path",
]

logger = logging.getLogger("pleo_erp")
"""The SDK's root logger. Attach handlers or set levels on this one."""

http_logger = logging.getLogger("pleo_erp.http")
"""Request/response lines: DEBUG for each response, WARNING for each retry."""

REDACTED = "[REDACTED]"
"""What a sensitive header value is replaced with."""

SENSITIVE_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "api-key",
        "apikey",
        "webhook-secret",
        "webhook-signature",
        "x-webhook-secret",
        "client-secret",
        "x-client-secret",
    }
)
"""Header names (lower case) whose values are always redacted."""

SENSITIVE_HEADER_FRAGMENTS = (
    "auth",
    "token",
    "secret",
    "password",
    "passwd",
    "api-key",
    "apikey",
    "api_key",
    "cookie",
    "session",
    "signature",
    "credential",
)
"""Any header whose lower-cased name contains one of these is redacted too (custom webhook
headers, ``X-Pleo-Token``…): over-redacting a harmless header costs nothing, leaking one does."""


def is_sensitive_header(name: str) -> bool:
    """Whether a header's value must never be shown (case-insensitive)."""
    lowered = name.lower()
    if lowered in SENSITIVE_HEADERS:
        return True
    return any(fragment in lowered for fragment in SENSITIVE_HEADER_FRAGMENTS)


def redact_headers(
    headers: Mapping[str, str] | httpx.Headers | Iterable[tuple[str, str]],
) -> dict[str, str]:
    """A copy of ``headers`` that is safe to log, repr or attach to an exception.

    Values of sensitive headers (see :data:`SENSITIVE_HEADERS` and
    :data:`SENSITIVE_HEADER_FRAGMENTS`) become ``"[REDACTED]"``; names are kept so a reader can
    see *that* a credential was sent. Repeated headers are joined with ``", "``.
    """
    items: Iterable[tuple[str, str]]
    if isinstance(headers, httpx.Headers):
        items = headers.multi_items()
    elif isinstance(headers, Mapping):
        items = headers.items()
    else:
        items = headers
    out: dict[str, str] = {}
    for name, value in items:
        shown = REDACTED if is_sensitive_header(name) else value
        out[name] = f"{out[name]}, {shown}" if name in out else shown
    return out


def safe_path(url: httpx.URL) -> str:
    """The URL's path plus the *names* of its query parameters, never their values.

    ``/v3/export-jobs?company_id=…&after=…`` becomes ``/v3/export-jobs?company_id&after``.
    Scheme, host, user info and fragment are dropped too.
    """
    path = url.path
    if not url.query:
        return path
    names = list(dict.fromkeys(url.params.keys()))
    return f"{path}?{'&'.join(names)}" if names else path
