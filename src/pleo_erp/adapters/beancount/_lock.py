"""An exclusive, inter-process lock on a ledger, held through a sidecar lock file.

The OS lock is :class:`filelock.FileLock` (``flock`` on POSIX: it belongs to the open file
description, so it excludes other processes *and* other threads that opened the file
separately, and the kernel releases it when a holder dies, so no stale lock after a crash;
``msvcrt.locking`` on Windows). The lock file is kept on release: deleting a lock file that
another process may have just opened would let two writers in. A per-path
``threading.Lock`` is taken first, so threads of one process queue in-process instead of
polling the OS lock; waiting with a timeout polls with the injected ``clock`` and ``sleep``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import filelock

from pleo_erp._closing import ReleasesOnExit

__all__ = ["LedgerLock", "LockTimeout"]

_POLL_SECONDS = 0.05

# One in-process lock per lock-file path, shared by every LedgerLock on that path.
_THREAD_LOCKS: dict[str, threading.Lock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


class LockTimeout(TimeoutError):
    """The ledger lock could not be acquired within the configured timeout."""


def _thread_lock_for(path: str) -> threading.Lock:
    with _THREAD_LOCKS_GUARD:
        lock = _THREAD_LOCKS.get(path)
        if lock is None:
            lock = _THREAD_LOCKS[path] = threading.Lock()
        return lock


class LedgerLock(ReleasesOnExit):
    """Exclusive lock on ``lock_path``; use as a context manager around read-check-write.

    ``timeout=None`` waits as long as it takes; otherwise the OS lock is polled until
    ``timeout`` seconds (measured with ``clock``) have passed, then :class:`LockTimeout`.
    ``clock`` and ``sleep`` are injectable so tests never sleep for real. One instance is not
    re-entrant: acquiring it twice in one thread deadlocks, like ``threading.Lock``.
    """

    def __init__(
        self,
        lock_path: str | os.PathLike[str],
        *,
        timeout: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._path = os.fspath(Path(lock_path).absolute())
        self._timeout = timeout
        self._clock = clock
        self._sleep = sleep
        self._held = False
        self._thread_lock = _thread_lock_for(self._path)
        # thread_local=False: the in-process lock above already gives one holder per path.
        self._file_lock = filelock.FileLock(
            self._path, mode=0o600, thread_local=False, preserve_lock_file=True
        )

    @property
    def path(self) -> str:
        """The lock file's absolute path."""
        return self._path

    def acquire(self) -> None:
        """Take the lock (in-process first, then the OS lock)."""
        deadline = None if self._timeout is None else self._clock() + self._timeout
        self._acquire_thread_lock(deadline)
        try:
            self._acquire_file_lock(deadline)
        except BaseException:
            self._thread_lock.release()
            raise
        self._held = True

    def _acquire_thread_lock(self, deadline: float | None) -> None:
        if deadline is None:
            self._thread_lock.acquire()
            return
        # Poll with the injected clock/sleep rather than a real timed wait.
        while not self._thread_lock.acquire(blocking=False):
            if self._clock() >= deadline:
                raise LockTimeout(f"timed out waiting for ledger lock {self._path}")
            self._sleep(_POLL_SECONDS)

    def _acquire_file_lock(self, deadline: float | None) -> None:
        if deadline is None:
            self._file_lock.acquire()
            return
        while True:
            try:
                self._file_lock.acquire(blocking=False)
            except filelock.Timeout:
                if self._clock() >= deadline:
                    raise LockTimeout(f"timed out waiting for ledger lock {self._path}") from None
                self._sleep(_POLL_SECONDS)
            else:
                return

    def release(self) -> None:
        """Release the lock; a no-op when not held."""
        if not self._held:
            return
        self._held = False
        try:
            self._file_lock.release()
        finally:
            self._thread_lock.release()
