"""Crash-safe file replacement: temp file in the same directory, fsync, rename, fsync dir.

A reader (or a process that dies half-way) sees either the old file or the new one, never a
mix: the new bytes are durable on disk before ``os.replace`` swaps the name atomically, and
the directory is fsynced afterwards so the rename itself survives a power cut. Temp files use
a recognisable name so a later writer holding the ledger lock can sweep leftovers of a crash.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = [
    "TEMP_SUFFIX",
    "atomic_write_bytes",
    "commit_temp",
    "discard_temp",
    "fsync_directory",
    "remove_stale_temps",
    "write_temp",
]

TEMP_SUFFIX = ".pleo-tmp"


def _temp_prefix(target: Path) -> str:
    return f".{target.name}."


def fsync_directory(directory: Path) -> None:
    """Flush a directory entry change (a rename or create) to disk where the OS allows it."""
    if os.name != "posix":  # pragma: no cover - Windows cannot open directories
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_temp(target: Path, data: bytes) -> Path:
    """Write ``data`` to a new, fsynced temp file beside ``target`` and return its path.

    The temp file takes ``target``'s permission bits when ``target`` exists, so the final
    rename does not silently change who may read the ledger.
    """
    fd, name = tempfile.mkstemp(
        dir=target.parent, prefix=_temp_prefix(target), suffix=TEMP_SUFFIX
    )
    temp = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileNotFoundError):
            os.chmod(temp, os.stat(target).st_mode & 0o7777)
    except BaseException:
        discard_temp(temp)
        raise
    return temp


def commit_temp(temp: Path, target: Path) -> None:
    """Atomically move ``temp`` over ``target`` and make the rename durable."""
    os.replace(temp, target)
    fsync_directory(target.parent)


def discard_temp(temp: Path) -> None:
    """Remove a temp file if it still exists."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temp)


def atomic_write_bytes(target: Path, data: bytes) -> None:
    """Replace ``target``'s content with ``data`` atomically (see the module docstring)."""
    temp = write_temp(target, data)
    try:
        commit_temp(temp, target)
    except BaseException:
        discard_temp(temp)
        raise


def remove_stale_temps(target: Path) -> int:
    """Delete temp files a crashed writer left beside ``target``; returns how many.

    Call this only while holding the lock that serialises writers of ``target``: then no
    live writer can own one of these files.
    """
    removed = 0
    prefix = _temp_prefix(target)
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(target.parent):
            if entry.name.startswith(prefix) and entry.name.endswith(TEMP_SUFFIX):
                discard_temp(Path(entry.path))
                removed += 1
    return removed
