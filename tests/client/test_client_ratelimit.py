"""Client-side rate limiter (accounts-sync-and-auth.md §B8, rule 46): simulated time only."""

from __future__ import annotations

import asyncio
import threading
from collections import deque

import pytest

from pleo_erp.client._ratelimit import DEFAULT_REQUESTS_PER_MINUTE, RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


def test_default_is_500_per_minute_below_pleos_600() -> None:
    limiter = RateLimiter(clock=FakeClock())
    assert limiter.requests_per_minute == DEFAULT_REQUESTS_PER_MINUTE == 500
    assert limiter.requests_per_minute + limiter.burst < 600


def test_501st_request_within_a_minute_waits() -> None:
    """Requests issued at once: a short burst goes through, then each waits 60/500 s more."""
    clock = FakeClock()
    limiter = RateLimiter(500, clock=clock)
    waits = [limiter.reserve() for _ in range(501)]
    assert waits[: limiter.burst] == [0.0] * limiter.burst
    assert waits[limiter.burst] == pytest.approx(0.12)
    assert waits[500] == pytest.approx((501 - limiter.burst) * 0.12)
    assert waits[500] > 0


@pytest.mark.rule("accounts-46")
def test_a46_thousand_calls_take_about_two_minutes_and_no_window_exceeds_the_limit() -> None:
    """Rule 46: 1,000 queued calls take ~2 minutes; no 60 s window ever reaches 600."""
    clock = FakeClock()
    limiter = RateLimiter(500, clock=clock)
    sent: list[float] = []
    for _ in range(1000):
        limiter.acquire(clock.sleep)
        sent.append(clock.now)
    assert sent[-1] >= 110.0  # (1000 - burst 50) * 0.12 s = 114 s
    window: deque[float] = deque()
    busiest = 0
    for t in sent:
        window.append(t)
        while window[0] <= t - 60.0:
            window.popleft()
        busiest = max(busiest, len(window))
    assert busiest <= limiter.requests_per_minute + limiter.burst < 600


def test_bucket_refills_with_time() -> None:
    clock = FakeClock()
    limiter = RateLimiter(60, burst=1, clock=clock)
    assert limiter.reserve() == 0.0
    assert limiter.reserve() == pytest.approx(1.0)
    clock.now = 10.0  # long idle: refills only up to the burst
    assert limiter.reserve() == 0.0
    assert limiter.reserve() == pytest.approx(1.0)


def test_thread_safety_every_reservation_is_unique() -> None:
    """20 threads x 50 reservations at a frozen instant: no token is handed out twice."""
    clock = FakeClock()
    limiter = RateLimiter(600, burst=10, clock=clock)
    waits: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(20)

    def worker() -> None:
        start.wait()
        mine = [limiter.reserve() for _ in range(50)]
        with lock:
            waits.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = [0.0] * 10 + [round(0.1 * n, 6) for n in range(1, 991)]
    assert sorted(round(w, 6) for w in waits) == expected


def test_async_acquire_uses_the_injected_sleep_and_never_blocks() -> None:
    clock = FakeClock()  # frozen: all three tasks reserve at the same instant
    limiter = RateLimiter(60, burst=1, clock=clock)
    slept: list[float] = []

    async def record_sleep(seconds: float) -> None:
        slept.append(seconds)
        await asyncio.sleep(0)  # yield to the loop like a real sleep would

    async def main() -> list[float]:
        return list(await asyncio.gather(*(limiter.acquire_async(record_sleep) for _ in range(3))))

    waits = asyncio.run(main())
    assert sorted(waits) == [0.0, pytest.approx(1.0), pytest.approx(2.0)]
    assert sorted(slept) == [pytest.approx(1.0), pytest.approx(2.0)]


@pytest.mark.parametrize(("rpm", "burst"), [(0, None), (-5, None), (10, 0)])
def test_invalid_settings_refused(rpm: int, burst: int | None) -> None:
    with pytest.raises(ValueError):
        RateLimiter(rpm, burst=burst)
