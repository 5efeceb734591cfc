"""The one place that speaks HTTP to Pleo: request building, retries, rate limiting, errors, logs.

Sync and async share a single implementation. :meth:`TransportCore.exchange` is a generator
that drives one call from start to finish without doing any I/O itself: it *yields* either an
``httpx.Request`` to send or a number of seconds to sleep, and is *sent back* the response (or
the ``httpx.TransportError``). :class:`SyncTransport` and :class:`AsyncTransport` are the two
thin drivers that perform those actions with ``httpx.Client``/``time.sleep`` or
``httpx.AsyncClient``/``asyncio.sleep``. Every decision (retry or not, how long to wait, which
error to raise, what to log) lives in the core, so the two clients cannot drift apart.

Retry and idempotency rules (also in ``docs/client.md``):

| call | retried after |
|---|---|
| GET, PUT, DELETE, ``…:search``, ``/v0/tags/archive`` POSTs | 429, 5xx, connect/read errors |
| creates, batch creates, job events, ``…/me:activate`` | 429, 503, connect errors |

A non-idempotent call that failed ambiguously (read timeout, dropped connection, 500/502/504)
raises at once; the caller re-checks Pleo's state before trying again. Statuses 400, 401, 403,
404, 409, 413 and 422 are never retried. (OAuth's refresh-and-retry on 401 happens inside
``OAuth2Auth``'s auth flow, not here.)
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import random as _random
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from pleo_erp._version import __version__
from pleo_erp.client._logging import (
    REDACTED,
    http_logger,
    is_sensitive_header,
    redact_headers,
    safe_path,
)
from pleo_erp.client._ratelimit import RateLimiter
from pleo_erp.client._request import Call, encode_json
from pleo_erp.client._retry import (
    RETRYABLE_STATUSES,
    RetryPolicy,
    parse_retry_after,
    request_certainly_not_sent,
    should_retry_exception,
    should_retry_status,
)
from pleo_erp.client.errors import (
    PleoAPIError,
    PleoConnectionError,
    PleoTimeoutError,
    RateLimited,
    ResponseValidationError,
    api_error_for_status,
)
from pleo_erp.client.serialization import loads as _loads
from pleo_erp.client.serialization import structure
from pleo_erp.models.common import ExceptionInfo

__all__ = [
    "DEFAULT_TIMEOUT",
    "JSON_CONTENT_TYPE",
    "PRODUCTION",
    "REQUEST_ID_HEADERS",
    "STAGING",
    "AsyncTransport",
    "SyncTransport",
    "TransportConfig",
    "TransportCore",
    "user_agent",
]

PRODUCTION = "https://external.pleo.io"
"""Pleo's production API host."""

STAGING = "https://external.staging.pleo.io"
"""Pleo's staging API host (every integration starts here)."""

JSON_CONTENT_TYPE = "application/json;charset=UTF-8"
"""The media type every Pleo spec declares for request bodies."""

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
"""30 s to read/write/wait for a pooled connection, 10 s to connect."""

REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-amzn-requestid")
"""Response headers that may carry Pleo's request id, in order of preference."""

# The generator protocol between the core and its drivers.
_Action = httpx.Request | float
_Result = httpx.Response | httpx.TransportError | None


@functools.lru_cache(maxsize=1024)
def _parsed_url(url: str) -> httpx.URL:
    """``httpx.URL(url)``, parsed once per distinct URL (``httpx.URL`` is immutable).

    A job's calls repeat a few URLs (pages of one list, chunks of one update), and parsing
    one costs about as much as the rest of building the request.
    """
    return httpx.URL(url)


def user_agent() -> str:
    """``pleo-erp/<version> python/<x.y> httpx/<version>``."""
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    return f"pleo-erp/{__version__} python/{python} httpx/{httpx.__version__}"


def _request_id(headers: httpx.Headers) -> str | None:
    for name in REQUEST_ID_HEADERS:
        value: str | None = headers.get(name)
        if value:
            return value
    return None


def _scrub(text: str, url: httpx.URL) -> str:
    """Remove the full URL (query values, user info) from an exception text."""
    shown = safe_path(url)
    for candidate in (str(url), str(url.copy_with(query=None, fragment=None))):
        text = text.replace(candidate, shown)
    if url.userinfo:
        text = text.replace(url.userinfo.decode("ascii", "replace"), "[REDACTED]")
    return text


_EXCERPT_CHARS = 200
"""At most this much of an unparseable error body goes into an exception message."""


def _exception_info(body: Any) -> ExceptionInfo | None:
    """Pleo's ``ExceptionInfo`` read from an error body by the converter; ``None`` if the
    body is empty, not JSON or does not fit (errors must never fail to be raised)."""
    if not isinstance(body, dict):
        return None  # empty or non-JSON: skip the converter's slow failure path
    try:
        return structure(body, ExceptionInfo)
    except ResponseValidationError:
        return None


def _invalid_json(call: Call, exc: ValueError) -> ResponseValidationError:
    problem = getattr(exc, "msg", type(exc).__name__)
    return ResponseValidationError(
        f"JSON response of {call.operation}",
        [f"$: the body is not valid JSON ({problem})"],
        path="$",
    )


def _fallback_message(response: httpx.Response, request: httpx.Request) -> str:
    """A message for an error without Pleo's ``message``: the reason phrase, else an excerpt.

    The excerpt (only for statuses without a reason phrase) is one line, at most
    ``_EXCERPT_CHARS`` long, with the request's URL and credentials scrubbed in case the
    body echoes them.
    """
    if response.reason_phrase:
        return response.reason_phrase
    text = " ".join(response.text.split())
    if not text:
        return "request failed"
    text = _scrub(text, request.url)
    for name, value in request.headers.items():
        if is_sensitive_header(name):
            # The whole value and its credential part ("Basic <credential>").
            for secret in {value, value.rpartition(" ")[2]}:
                if len(secret) >= 8:
                    text = text.replace(secret, REDACTED)
    if len(text) > _EXCERPT_CHARS:
        text = text[: _EXCERPT_CHARS - 1] + "…"
    return text


class _Counter:
    """A thread-safe request counter shared by a client and its ``with_options`` copies."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def increment(self) -> None:
        with self._lock:
            self.value += 1


@dataclass(frozen=True)
class TransportConfig:
    """Everything the transport needs to know, fixed for a client's lifetime.

    Attributes:
        base_url: scheme + host (+ optional path prefix), no trailing slash.
        auth: the ``httpx.Auth`` applied to every request (never logged or shown).
        timeout: per-request timeout.
        retry: the retry policy.
        limiter: the client-side rate limiter, or ``None`` for none.
        headers: default headers (Accept, User-Agent, caller extras).
        clock: monotonic seconds, for durations (and the limiter's own clock).
        wall_clock: Unix seconds, for ``Retry-After`` HTTP-dates.
        random: a ``[0, 1)`` source for backoff jitter.
    """

    base_url: str
    auth: httpx.Auth | None = field(default=None, repr=False)
    timeout: httpx.Timeout = field(default_factory=lambda: DEFAULT_TIMEOUT)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    limiter: RateLimiter | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    wall_clock: Callable[[], float] = field(default=time.time, repr=False)
    random: Callable[[], float] = field(default=_random.random, repr=False)


class TransportCore:
    """I/O-free logic shared by the sync and async transports."""

    def __init__(self, config: TransportConfig, counter: _Counter | None = None) -> None:
        self.config = config
        self._counter = counter if counter is not None else _Counter()

    @property
    def request_count(self) -> int:
        """HTTP requests sent so far (every attempt, retries included)."""
        return self._counter.value

    def derive(self, **changes: Any) -> TransportCore:
        """A core with some settings replaced, sharing this one's request counter."""
        return TransportCore(replace(self.config, **changes), self._counter)

    # -- building ---------------------------------------------------------------------------

    def build(self, http: httpx.Client | httpx.AsyncClient, call: Call) -> httpx.Request:
        """The ``httpx.Request`` for ``call`` (auth is applied later, by ``send``)."""
        config = self.config
        headers: Mapping[str, str] = config.headers  # httpx copies them into the request
        content: bytes | None = None
        if call.body is not None:
            content = encode_json(call.body)
            headers = {**headers, "Content-Type": JSON_CONTENT_TYPE}
        return http.build_request(
            call.method,
            _parsed_url(config.base_url + call.path),
            params=call.params or None,
            content=content,
            headers=headers,
            timeout=config.timeout,
        )

    # -- the call state machine ---------------------------------------------------------------

    def exchange(
        self, http: httpx.Client | httpx.AsyncClient, call: Call
    ) -> Generator[_Action, _Result, httpx.Response]:
        """Drive ``call`` to a successful response, yielding sends and sleeps to the driver.

        Raises the mapped :mod:`pleo_erp.client.errors` exception when the call fails for good.
        """
        config = self.config
        policy = config.retry
        retries = 0
        request = self.build(http, call)
        while True:
            if config.limiter is not None:
                wait = config.limiter.reserve()
                if wait > 0.0:
                    yield wait
            started = config.clock()
            result = yield request
            self._counter.increment()
            elapsed_ms = (config.clock() - started) * 1000.0
            if isinstance(result, httpx.Response):
                status = result.status_code
                if result.is_success:
                    if http_logger.isEnabledFor(logging.DEBUG):
                        self._log(logging.DEBUG, call, request, status, retries, elapsed_ms, result)
                    return result
                retry_after: float | None = None
                if status in RETRYABLE_STATUSES:
                    retry_after = parse_retry_after(
                        result.headers.get("retry-after"), now=config.wall_clock()
                    )
                if retries >= policy.max_retries or not should_retry_status(
                    status, idempotent=call.idempotent
                ):
                    if http_logger.isEnabledFor(logging.DEBUG):
                        self._log(logging.DEBUG, call, request, status, retries, elapsed_ms, result)
                    raise self.api_error(result, call, request, retry_after)
                delay = policy.delay(retries, retry_after, config.random)
                self._log_retry(call, request, f"HTTP {status}", retries, elapsed_ms, delay, result)
            elif isinstance(result, httpx.TransportError):
                if retries >= policy.max_retries or not should_retry_exception(
                    result, idempotent=call.idempotent
                ):
                    raise self.connection_error(result, call, request) from result
                delay = policy.backoff(retries, config.random)
                self._log_retry(
                    call, request, type(result).__name__, retries, elapsed_ms, delay, None
                )
            else:  # pragma: no cover - a driver bug, not a runtime condition
                raise TypeError(f"transport driver sent {type(result).__name__}")
            if delay > 0.0:
                yield delay
            retries += 1
            request = self.build(http, call)

    # -- parsing ------------------------------------------------------------------------------

    @staticmethod
    def decode(response: httpx.Response, call: Call) -> Any:
        """The response's JSON (numbers with a fraction as ``Decimal``), or ``None`` if empty."""
        return TransportCore.decode_text(TransportCore.body_text(response, call), call)

    @staticmethod
    def body_text(response: httpx.Response, call: Call) -> str | None:
        """The response's body as the text :meth:`decode` parses (``None`` if empty).

        Holding the text rather than the response lets a caller that parses it piece by
        piece free the body's bytes first (a page of export items, issue 13).
        """
        content = response.content
        if not content:
            return None
        try:
            return content.decode(json.detect_encoding(content), "surrogatepass")
        except ValueError as exc:
            raise _invalid_json(call, exc) from None

    @staticmethod
    def decode_text(text: str | None, call: Call) -> Any:
        """:meth:`decode` of a body already read by :meth:`body_text`."""
        if text is None:
            return None
        try:
            return _loads(text)
        except ValueError as exc:
            raise _invalid_json(call, exc) from None

    @staticmethod
    def _error_body(response: httpx.Response) -> Any:
        content = response.content
        if not content:
            return None
        try:
            return _loads(content)
        except ValueError:
            return response.text

    def api_error(
        self,
        response: httpx.Response,
        call: Call,
        request: httpx.Request,
        retry_after: float | None = None,
    ) -> PleoAPIError:
        """The typed error for a non-2xx response, with Pleo's ``ExceptionInfo`` parsed.

        The class comes from the status alone, so a body that is not JSON or does not fit
        ``ExceptionInfo`` still gives the right error; its message is then the reason phrase
        (or, without one, a short scrubbed excerpt of the body). The raw body is kept on
        ``.body`` either way.
        """
        body = self._error_body(response)
        info = _exception_info(body)
        error_type = info.type if info is not None and info.type else None
        message = info.message if info is not None and info.message else None
        if message is None:
            message = _fallback_message(response, request)
        cls = api_error_for_status(response.status_code)
        fields: dict[str, Any] = {
            "status_code": response.status_code,
            "type": error_type,
            "body": body,
            "request_id": _request_id(response.headers),
            "method": call.method,
            "path": request.url.path,
            "headers": redact_headers(response.headers),
        }
        if issubclass(cls, RateLimited):
            return cls(message, retry_after=retry_after, **fields)
        return cls(message, **fields)

    @staticmethod
    def connection_error(
        exc: httpx.TransportError, call: Call, request: httpx.Request
    ) -> PleoConnectionError:
        """The typed error for a transport failure; the text never carries the query."""
        where = f"{call.method} {request.url.path}"
        detail = _scrub(str(exc), request.url) or "no detail"
        note = ""
        if not call.idempotent and not request_certainly_not_sent(exc):
            note = (
                " The request may have reached Pleo, so it was not re-sent:"
                " check the result before trying again."
            )
        cls = PleoTimeoutError if isinstance(exc, httpx.TimeoutException) else PleoConnectionError
        return cls(f"{type(exc).__name__} during {where}: {detail}.{note}")

    # -- logging ------------------------------------------------------------------------------

    @staticmethod
    def _log(
        level: int,
        call: Call,
        request: httpx.Request,
        status: int,
        retries: int,
        elapsed_ms: float,
        response: httpx.Response,
    ) -> None:
        http_logger.log(
            level,
            "%s %s -> %d (%s, attempt %d, %.1f ms, request id %s)",
            call.method,
            safe_path(request.url),
            status,
            call.operation,
            retries + 1,
            elapsed_ms,
            _request_id(response.headers) or "-",
        )

    def _log_retry(
        self,
        call: Call,
        request: httpx.Request,
        outcome: str,
        retries: int,
        elapsed_ms: float,
        delay: float,
        response: httpx.Response | None,
    ) -> None:
        if not http_logger.isEnabledFor(logging.WARNING):
            return
        http_logger.warning(
            "%s %s -> %s (%s, attempt %d of %d, %.1f ms, request id %s); retrying in %.2f s",
            call.method,
            safe_path(request.url),
            outcome,
            call.operation,
            retries + 1,
            self.config.retry.max_retries + 1,
            elapsed_ms,
            (_request_id(response.headers) if response is not None else None) or "-",
            delay,
        )


class SyncTransport:
    """Runs :meth:`TransportCore.exchange` with an ``httpx.Client`` and a blocking sleep."""

    def __init__(
        self,
        core: TransportCore,
        http: httpx.Client,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.core = core
        self.http = http
        self.sleep = sleep

    def send(self, call: Call) -> httpx.Response:
        """Send ``call`` with retries and rate limiting; the successful response."""
        auth = self.core.config.auth
        steps = self.core.exchange(self.http, call)
        action: _Action = next(steps)
        while True:
            result: _Result
            if isinstance(action, httpx.Request):
                try:
                    result = self.http.send(action, auth=auth)
                except httpx.TransportError as exc:
                    result = exc
            else:
                self.sleep(action)
                result = None
            try:
                action = steps.send(result)
            except StopIteration as done:
                response: httpx.Response = done.value
                return response

    def request(self, call: Call) -> Any:
        """Send ``call`` and return its decoded JSON body (``None`` when empty)."""
        return self.core.decode(self.send(call), call)


class AsyncTransport:
    """Runs :meth:`TransportCore.exchange` with an ``httpx.AsyncClient`` and an async sleep."""

    def __init__(
        self,
        core: TransportCore,
        http: httpx.AsyncClient,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.core = core
        self.http = http
        self.sleep = sleep

    async def send(self, call: Call) -> httpx.Response:
        """Send ``call`` with retries and rate limiting; the successful response."""
        auth = self.core.config.auth
        steps = self.core.exchange(self.http, call)
        action: _Action = next(steps)
        while True:
            result: _Result
            if isinstance(action, httpx.Request):
                try:
                    result = await self.http.send(action, auth=auth)
                except httpx.TransportError as exc:
                    result = exc
            else:
                await self.sleep(action)
                result = None
            try:
                action = steps.send(result)
            except StopIteration as done:
                response: httpx.Response = done.value
                return response

    async def request(self, call: Call) -> Any:
        """Send ``call`` and return its decoded JSON body (``None`` when empty)."""
        return self.core.decode(await self.send(call), call)
