"""The sandbox's clock: virtual by default, so tests move time instead of waiting for it."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

__all__ = ["SandboxClock", "format_timestamp"]


def format_timestamp(moment: datetime) -> str:
    """Render ``moment`` the way Pleo does: UTC, whole seconds, ``Z`` suffix."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class SandboxClock:
    """A UTC clock the sandbox reads for every timestamp, expiry and token lifetime.

    By default the clock is *frozen* at ``start`` (the wall-clock time of creation, to the
    second) and only moves when :meth:`advance` or :meth:`set` is called, which makes runs
    deterministic and lets a test expire a job or a token without sleeping. With
    ``ticking=True`` it follows real time (plus any advance), which suits a served sandbox.

    ``sleep`` is the sandbox's notion of waiting: a frozen clock advances itself instead of
    blocking, a ticking clock really sleeps. Slow-response faults and the sandbox clients'
    retry back-off both go through it, so tests never wait for real.
    """

    def __init__(self, start: datetime | None = None, *, ticking: bool = False) -> None:
        if start is None:
            start = datetime.now(timezone.utc).replace(microsecond=0)
        elif start.tzinfo is None:
            raise ValueError("SandboxClock needs a timezone-aware start time")
        self._start = start.astimezone(timezone.utc)
        self._offset = timedelta()
        self._ticking = ticking
        self._origin = time.monotonic()
        self._lock = threading.Lock()

    @classmethod
    def system(cls) -> SandboxClock:
        """A clock that follows real time, for a sandbox served to other processes."""
        return cls(ticking=True)

    @property
    def ticking(self) -> bool:
        """Whether the clock follows real time."""
        return self._ticking

    def now(self) -> datetime:
        """The current sandbox time (timezone-aware, UTC)."""
        with self._lock:
            moment = self._start + self._offset
            if self._ticking:
                moment += timedelta(seconds=time.monotonic() - self._origin)
            return moment

    def timestamp(self) -> str:
        """The current sandbox time formatted as Pleo formats date-times."""
        return format_timestamp(self.now())

    def advance(
        self,
        seconds: float = 0.0,
        *,
        minutes: float = 0.0,
        hours: float = 0.0,
        days: float = 0.0,
    ) -> datetime:
        """Move the clock forward and return the new time; negative amounts are refused."""
        delta = timedelta(seconds=seconds, minutes=minutes, hours=hours, days=days)
        if delta < timedelta():
            raise ValueError("the sandbox clock only moves forward")
        with self._lock:
            self._offset += delta
        return self.now()

    def set(self, moment: datetime) -> None:
        """Jump to ``moment`` (timezone-aware); the clock keeps ticking from there if it ticks."""
        if moment.tzinfo is None:
            raise ValueError("SandboxClock.set needs a timezone-aware datetime")
        with self._lock:
            self._start = moment.astimezone(timezone.utc)
            self._offset = timedelta()
            self._origin = time.monotonic()

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of sandbox time: advance a frozen clock, really sleep a ticking one."""
        if seconds <= 0:
            return
        if self._ticking:
            time.sleep(seconds)
        else:
            self.advance(seconds)

    def __repr__(self) -> str:
        mode = "ticking" if self._ticking else "frozen"
        return f"SandboxClock({format_timestamp(self.now())}, {mode})"
