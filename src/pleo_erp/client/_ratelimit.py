"""A client-side token-bucket rate limiter, safe across threads and asyncio tasks.

Pleo states a limit of 600 requests per minute and asks integrations to aim for at most 500
(accounts-sync-and-auth.md §B8, rule 46). The bucket refills at ``requests_per_minute / 60``
tokens per second and holds at most ``burst`` tokens (default: a tenth of a minute's worth,
50 at 500/min). A full minute can therefore never carry more than
``requests_per_minute + burst`` requests (550 < 600 by default), while a long run settles at
exactly ``requests_per_minute``.

Each caller *reserves* a token under a short ``threading.Lock`` and learns how long it must wait
(the balance may go negative: later callers queue behind earlier ones); the sleeping happens
outside the lock, with ``time.sleep`` for threads or an awaitable sleep for tasks, so the event
loop is never blocked. The clock is injectable so tests run in simulated time.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable

__all__ = ["DEFAULT_REQUESTS_PER_MINUTE", "RateLimiter"]

DEFAULT_REQUESTS_PER_MINUTE = 500
"""Pleo's recommended ceiling (its stated hard limit is 600/min)."""


class RateLimiter:
    """Token bucket: ``requests_per_minute`` sustained, bursts of up to ``burst`` requests.

    One limiter belongs to one client by default; pass the same instance to several clients
    (``PleoClient(rate_limiter=...)``) to share a budget, for example per Pleo company.
    """

    def __init__(
        self,
        requests_per_minute: int = DEFAULT_REQUESTS_PER_MINUTE,
        *,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if requests_per_minute <= 0:
            raise ValueError(
                "requests_per_minute must be positive (use None on the client to disable)"
            )
        if burst is not None and burst < 1:
            raise ValueError("burst must be at least 1")
        self.requests_per_minute = requests_per_minute
        self.burst = burst if burst is not None else max(1, requests_per_minute // 10)
        self._rate = requests_per_minute / 60.0  # tokens per second
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = float(self.burst)
        self._updated = clock()

    def __repr__(self) -> str:
        return f"RateLimiter(requests_per_minute={self.requests_per_minute}, burst={self.burst})"

    def reserve(self) -> float:
        """Take one token now and return how many seconds the caller must wait before sending.

        Never blocks beyond the lock; the caller does the waiting.
        """
        with self._lock:
            now = self._clock()
            elapsed = now - self._updated
            if elapsed > 0:
                self._tokens = min(float(self.burst), self._tokens + elapsed * self._rate)
                self._updated = now
            self._tokens -= 1.0
            if self._tokens >= 0.0:
                return 0.0
            return -self._tokens / self._rate

    def acquire(self, sleep: Callable[[float], None] = time.sleep) -> float:
        """Reserve a token and block this thread until it may be used; returns the wait."""
        wait = self.reserve()
        if wait > 0:
            sleep(wait)
        return wait

    async def acquire_async(
        self, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    ) -> float:
        """Reserve a token and suspend this task until it may be used; returns the wait."""
        wait = self.reserve()
        if wait > 0:
            await sleep(wait)
        return wait
