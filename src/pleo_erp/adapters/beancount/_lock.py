"""An exclusive, inter-process lock on a ledger, held through a sidecar lock file.

POSIX uses ``fcntl.flock``: the lock belongs to the open file description, so it excludes
other processes *and* other threads of this process that opened the file separately, and
the kernel releases it when a holder dies (no stale lock after a crash). Windows uses
``msvcrt.locking`` on the first byte. A per-path ``threading.Lock`` is taken first, so threads
of one process queue in-process instead of polling the OS lock.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

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


if sys.platform == "win32":  # pragma: no cover - exercised on Windows CI only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _lock_blocking(fd: int) -> None:
        while not _try_lock(fd):
            time.sleep(_POLL_SECONDS)

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _lock_blocking(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


class LedgerLock:
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
        self._fd: int | None = None
        self._thread_lock = _thread_lock_for(self._path)

    @property
    def path(self) -> str:
        """The lock file's absolute path."""
        return self._path

    def acquire(self) -> None:
        """Take the lock (in-process first, then the OS lock)."""
        deadline = None if self._timeout is None else self._clock() + self._timeout
        self._acquire_thread_lock(deadline)
        try:
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                self._lock_fd(fd, deadline)
            except BaseException:
                os.close(fd)
                raise
            self._fd = fd
        except BaseException:
            self._thread_lock.release()
            raise

    def _acquire_thread_lock(self, deadline: float | None) -> None:
        if deadline is None:
            self._thread_lock.acquire()
            return
        # Poll with the injected clock/sleep rather than a real timed wait.
        while not self._thread_lock.acquire(blocking=False):
            if self._clock() >= deadline:
                raise LockTimeout(f"timed out waiting for ledger lock {self._path}")
            self._sleep(_POLL_SECONDS)

    def _lock_fd(self, fd: int, deadline: float | None) -> None:
        if deadline is None:
            _lock_blocking(fd)
            return
        while not _try_lock(fd):
            if self._clock() >= deadline:
                raise LockTimeout(f"timed out waiting for ledger lock {self._path}")
            self._sleep(_POLL_SECONDS)

    def release(self) -> None:
        """Release the lock; a no-op when not held."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            _unlock(fd)
        finally:
            os.close(fd)
            self._thread_lock.release()

    def __enter__(self) -> LedgerLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
