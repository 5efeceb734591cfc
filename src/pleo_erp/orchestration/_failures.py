"""Exceptions nobody classified: a reference for the customer, the details for our logs only.

An adapter's driver may raise anything, and its text is untrusted: ``could not connect to
postgresql://ledger:<password>@db.internal/books`` must never reach Pleo (where the customer's
bookkeeper reads ``failureReason``) nor a report a customer sees. :func:`report_unexpected`
logs the full text and traceback on the ``pleo_erp`` logger — with credentials redacted by
:func:`redact_text` — under a short correlation id, and returns that id so the message sent to
Pleo can quote it: support finds the log line from what the bookkeeper sees.

Messages of :class:`~pleo_erp.accounting_system.AccountingSystemError` subclasses are written
by the adapter *for* the bookkeeper and are not handled here.
"""

from __future__ import annotations

import logging
import re
import secrets
import traceback

from pleo_erp.client._logging import REDACTED, SENSITIVE_HEADER_FRAGMENTS

__all__ = [
    "REFERENCE_PREFIX",
    "new_reference",
    "redact_text",
    "report_unexpected",
    "unexpected_job_message",
]

REFERENCE_PREFIX = "err-"
"""Correlation ids look like ``err-3f9a2c1d``: short enough to read out, unique enough to grep."""

_KEY_FRAGMENTS = tuple(
    sorted({*SENSITIVE_HEADER_FRAGMENTS, "pwd", "pass", "private", "dsn"}, key=len, reverse=True)
)
# scheme://user:password@host or scheme://token@host: the whole user-info goes.
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/\s@]+@")
# password=…, "api_key": "…", token: … (the key names the secret, whatever the syntax).
_KEY_VALUE = re.compile(
    r"(?i)([\w.\-]*(?:"
    + "|".join(re.escape(f) for f in _KEY_FRAGMENTS)
    + r")[\w.\-]*[\"']?\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|[^\s,;&)\]}]+)"
)
# Authorization header values that show up in driver messages.
_AUTH_SCHEME = re.compile(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=\-]{8,}")


def redact_text(text: str) -> str:
    """``text`` with credentials replaced by ``[REDACTED]``: URL user-info, ``key=value`` pairs
    whose key names a secret (password, token, api key, secret …) and ``Bearer``/``Basic``
    values. Over-redacting costs a little readability; leaking costs a credential."""
    text = _URL_USERINFO.sub(rf"\1{REDACTED}@", text)
    text = _AUTH_SCHEME.sub(rf"\1 {REDACTED}", text)
    return _KEY_VALUE.sub(rf"\1{REDACTED}", text)


def new_reference() -> str:
    """A fresh correlation id, e.g. ``err-3f9a2c1d``."""
    return REFERENCE_PREFIX + secrets.token_hex(4)


def report_unexpected(
    logger: logging.Logger, error: BaseException, what: str, *args: object
) -> str:
    """Log ``error`` (redacted text and traceback) at ERROR and return its correlation id.

    ``what`` (with ``%``-style ``args``) says what was being done, e.g. ``"exporting item
    %s"``. The traceback is formatted and redacted here rather than passed as ``exc_info``:
    a handler's formatter would print the exception's text verbatim.
    """
    reference = new_reference()
    details = redact_text("".join(traceback.format_exception(error)).rstrip())
    logger.error(
        "unexpected error " + what + " [%s]: %s: %s\n%s",
        *args,
        reference,
        type(error).__name__,
        redact_text(str(error)),
        details,
        extra={"correlation_id": reference},
    )
    return reference


def unexpected_job_message(reference: str) -> str:
    """The job ``failureReason`` when the readiness check raised an unclassified error."""
    return (
        "The accounting system integration failed its readiness check with an unexpected "
        f"error (reference {reference}). Export again; if it keeps failing, contact the "
        "integration's support and quote the reference."
    )
