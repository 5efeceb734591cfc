"""Crash-safe file replacement: temp file in the same directory, fsync, rename, fsync dir.

A reader (or a process that dies half-way) sees either the old file or the new one, never a
mix: the new bytes are durable on disk before ``os.replace`` swaps the name atomically, and
the directory is fsynced afterwards so the rename itself survives a power cut. Temp files use
a recognisable name so a later writer holding the ledger lock can sweep leftovers of a crash.
"""

from __future__ import annotations

import contextlib
import logging
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
    "remove_stale_temps_under",
    "write_temp",
]

TEMP_SUFFIX = ".pleo-tmp"

_log = logging.getLogger("pleo_erp.adapters.beancount")


def _read_umask() -> int:
    # os.umask can only be read by setting it; done once, at import, before threads exist.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# mkstemp creates 0600 files; a *new* file should get the permissions open() would give it.
_NEW_FILE_MODE = 0o666 & ~_read_umask()


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

    The temp file takes ``target``'s permission bits when ``target`` exists (else the
    process umask's default), so the final rename does not silently change who may read it.
    """
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=_temp_prefix(target), suffix=TEMP_SUFFIX)
    temp = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            mode = os.stat(target).st_mode & 0o7777
        except FileNotFoundError:
            mode = _NEW_FILE_MODE
        os.chmod(temp, mode)
    except BaseException:
        discard_temp(temp)
        raise
    return temp


def commit_temp(temp: Path, target: Path) -> None:
    """Atomically move ``temp`` over ``target`` and make the rename durable.

    Once ``os.replace`` has succeeded the new content *is* the file, so a failing directory
    fsync is logged rather than raised: raising would tell the caller the write failed when
    it did not (and make it undo work the file already depends on).
    """
    os.replace(temp, target)
    try:
        fsync_directory(target.parent)
    except OSError as error:
        _log.warning("could not fsync %s after replacing %s: %s", target.parent, target.name, error)


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


def remove_stale_temps_under(directory: Path) -> int:
    """Delete every temp file a crashed writer left anywhere under ``directory``.

    For folders written by many targets (receipts under ``documents/``). Symlinked folders
    are not followed. Same rule as :func:`remove_stale_temps`: call it only while holding the
    lock that serialises the writers of ``directory``.
    """
    removed = 0
    for root, _dirs, files in os.walk(directory):
        for name in files:
            if name.startswith(".") and name.endswith(TEMP_SUFFIX):
                discard_temp(Path(root) / name)
                removed += 1
    return removed
