"""When to retry a Pleo call, and how long to wait first.

Pleo documents no retry contract (no 429 semantics, no ``Retry-After``; reference
accounts-sync-and-auth.md §B8–B9), so the policy is defensive:

* Retried statuses: 429, 500, 502, 503, 504. Never 400/401/403/404/409/413/422: sending the
  same request again cannot change those answers (export-api.md Part 3 rule 18,
  accounts-sync-and-auth.md rule 47).
* Retried transport failures: connect errors and timeouts, read/write errors, dropped
  connections.
* **Idempotency.** Re-sending is only blind-safe for calls whose repetition has no extra effect
  (GET, PUT, DELETE and the read-only ``POST …:search``). A *non-idempotent* POST (a create, a
  batch create, a job event, an activation) is retried only when the request certainly did not
  reach Pleo's application: the connection was never established (``httpx.ConnectError``,
  ``ConnectTimeout``, ``PoolTimeout``) or Pleo refused it up front with 429 or 503. After a read
  timeout, a dropped connection or a 500/502/504 the POST may have been processed, so the error
  is raised and the caller re-checks (for example lists the accounts) before trying again.
* Waiting: the server's ``Retry-After`` (delay-seconds or an HTTP-date, read against an
  injectable wall clock) when present, capped at ``max_retry_after``; otherwise exponential
  backoff with *full jitter*: ``random() * min(max_backoff, initial_backoff * 2**retries)``.
"""

from __future__ import annotations

import email.utils
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timezone

import httpx

__all__ = [
    "REFUSED_STATUSES",
    "RETRYABLE_STATUSES",
    "RetryPolicy",
    "parse_retry_after",
    "request_certainly_not_sent",
    "should_retry_exception",
    "should_retry_status",
]

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
"""Statuses worth another attempt (for idempotent calls)."""

REFUSED_STATUSES = frozenset({429, 503})
"""Statuses meaning "not processed, come back later": safe to retry even for creates."""

# Exceptions raised before a single byte of the request could reach the server.
_NOT_SENT_EXCEPTIONS: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)

# Transport failures where the request may or may not have been processed.
_MAYBE_SENT_EXCEPTIONS: tuple[type[httpx.TransportError], ...] = (
    httpx.TimeoutException,  # read/write timeouts (connect/pool handled above)
    httpx.NetworkError,  # read/write errors, closed connections
    httpx.RemoteProtocolError,  # the server dropped the connection mid-response
    httpx.ProxyError,
)


@dataclass(frozen=True)
class RetryPolicy:
    """How many times to retry and how long to wait between attempts.

    Attributes:
        max_retries: retries after the first attempt (``0`` disables retrying).
        initial_backoff: the backoff ceiling, in seconds, before the first retry.
        max_backoff: the largest backoff ceiling, in seconds.
        max_retry_after: the largest server-requested wait honoured, in seconds; a longer
            ``Retry-After`` is cut down to this.
    """

    max_retries: int = 3
    initial_backoff: float = 0.5
    max_backoff: float = 30.0
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if self.initial_backoff < 0 or self.max_backoff < 0 or self.max_retry_after < 0:
            raise ValueError("backoff and max_retry_after must be >= 0 seconds")

    def backoff(self, retries_taken: int, random: Callable[[], float]) -> float:
        """Full-jitter exponential backoff before retry number ``retries_taken + 1``."""
        # Cap the exponent: 2**64 seconds is already "forever", and pow must not overflow.
        ceiling = min(self.max_backoff, self.initial_backoff * (2.0 ** min(retries_taken, 64)))
        return max(0.0, random() * ceiling)

    def delay(
        self, retries_taken: int, retry_after: float | None, random: Callable[[], float]
    ) -> float:
        """Seconds to wait before the next attempt: ``Retry-After`` (capped) or the backoff."""
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        return self.backoff(retries_taken, random)


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait according to a ``Retry-After`` header value, or ``None``.

    Accepts delay-seconds (``"120"``, also a non-standard ``"1.5"``) and an HTTP-date
    (``"Wed, 21 Oct 2015 07:28:00 GMT"``), the latter measured from ``now`` (Unix seconds).
    Dates in the past give ``0``. Unparseable, negative-infinite or NaN values give ``None``
    (fall back to backoff).
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if math.isnan(seconds):
            return None
        if math.isinf(seconds):
            return None if seconds < 0 else seconds
        return max(0.0, seconds)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        # "-0000" parses to a naive datetime; HTTP-dates are always GMT.
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - now)


def should_retry_status(status_code: int, *, idempotent: bool) -> bool:
    """Whether a response with this status may be retried for a call of this kind."""
    if status_code not in RETRYABLE_STATUSES:
        return False
    return idempotent or status_code in REFUSED_STATUSES


def request_certainly_not_sent(exc: BaseException) -> bool:
    """Whether a transport failure happened before the request could reach the server."""
    return isinstance(exc, _NOT_SENT_EXCEPTIONS)


def should_retry_exception(exc: BaseException, *, idempotent: bool) -> bool:
    """Whether a transport failure may be retried for a call of this kind."""
    if request_certainly_not_sent(exc):
        return True
    return idempotent and isinstance(exc, _MAYBE_SENT_EXCEPTIONS)
