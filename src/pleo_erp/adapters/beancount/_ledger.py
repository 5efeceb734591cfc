"""Loading, indexing and safely appending to a Beancount ledger file.

Reads go through Beancount's own loader, so the adapter sees exactly what ``bean-check`` and
Fava see. A loaded :class:`LedgerSnapshot` is cached and reused until any file of the ledger
(the top file or an ``include``) changes on disk.

Writes are serialised by a :class:`~pleo_erp.adapters.beancount._lock.LedgerLock` on a
sidecar ``<ledger>.lock`` file and are atomic (temp file, fsync, ``os.replace``, fsync of the
directory). In *paranoid* mode (the default) the candidate file is loaded with Beancount's
loader before it replaces the ledger, and is discarded if it would add any error: the ledger
on disk always loads cleanly.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from beancount import loader
from beancount.core import data
from beancount.parser import printer

from pleo_erp.adapters.beancount._atomic import (
    commit_temp,
    discard_temp,
    remove_stale_temps,
    write_temp,
)
from pleo_erp.adapters.beancount._config import LedgerConfig, read_config
from pleo_erp.adapters.beancount._lock import LedgerLock

__all__ = [
    "ENTRY_ID_KEY",
    "BeancountLedger",
    "LedgerErrors",
    "LedgerSnapshot",
]

ENTRY_ID_KEY = "pleo-accounting-entry-id"
_MAX_REPORTED_ERRORS = 5

Signature = tuple[tuple[str, int, int, int], ...]


class LedgerErrors(Exception):
    """The ledger (or a candidate version of it) does not load cleanly with Beancount.

    ``messages`` holds Beancount's formatted errors (at most a handful), with temp-file names
    replaced by the ledger's own name.
    """

    def __init__(self, summary: str, messages: tuple[str, ...]) -> None:
        detail = "; ".join(m.splitlines()[0] for m in messages if m)
        super().__init__(f"{summary}: {detail}" if detail else summary)
        self.messages = messages


@dataclass(frozen=True)
class LedgerSnapshot:
    """One consistent, error-free reading of the ledger."""

    entries: tuple[data.Directive, ...]
    options: Mapping[str, Any]
    config: LedgerConfig
    posted: Mapping[str, data.Transaction]
    signature: Signature

    def find_posted(self, accounting_entry_id: str) -> data.Transaction | None:
        """The transaction carrying this Pleo accounting entry id, if any."""
        return self.posted.get(accounting_entry_id)


def _signature(files: list[str]) -> Signature:
    """Identity of the ledger's files on disk: a change to any of them invalidates a cache."""
    parts: list[tuple[str, int, int, int]] = []
    for name in sorted(set(files)):
        try:
            st = os.stat(name)
        except FileNotFoundError:
            parts.append((name, -1, -1, -1))
        else:
            parts.append((name, st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(parts)


def _index_posted(entries: list[data.Directive]) -> dict[str, data.Transaction]:
    posted: dict[str, data.Transaction] = {}
    for entry in entries:
        if isinstance(entry, data.Transaction):
            key = (entry.meta or {}).get(ENTRY_ID_KEY)
            if isinstance(key, str) and key not in posted:
                posted[key] = entry
    return posted


def _load_file(path: Path) -> tuple[list[data.Directive], list[Any], dict[str, Any]]:
    entries, errors, options = loader.load_file(str(path))
    return list(entries), list(errors), dict(options)


def _forget_pickle_cache(path: Path) -> None:
    """Beancount may cache slow loads beside the file; a temp file's cache is litter."""
    pattern = os.getenv("BEANCOUNT_LOAD_CACHE_FILENAME") or loader.PICKLE_CACHE_FILENAME
    with contextlib.suppress(OSError):
        os.unlink(loader.get_cache_filename(pattern, str(path)))


class BeancountLedger:
    """A ``.beancount`` file: cached reads, and locked, atomic, validated appends."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        paranoid: bool = True,
        lock_timeout: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.path = Path(path).absolute()
        self.paranoid = paranoid
        self._lock = LedgerLock(
            self.path.with_name(self.path.name + ".lock"),
            timeout=lock_timeout,
            clock=clock,
            sleep=sleep,
        )
        self._cached: LedgerSnapshot | None = None

    @property
    def directory(self) -> Path:
        """The folder holding the ledger (and its ``documents/`` folder)."""
        return self.path.parent

    def snapshot(self) -> LedgerSnapshot:
        """The current ledger, reloaded only if one of its files changed since last time.

        Needs no lock: atomic replacement means a reader sees the old or the new file.
        Raises :class:`LedgerErrors` if the ledger does not load cleanly, and
        :class:`~pleo_erp.adapters.beancount._config.LedgerConfigError` if its ``pleo-*``
        configuration is malformed.
        """
        cached = self._cached
        if cached is not None and _signature([f for f, *_ in cached.signature]) == cached.signature:
            return cached
        entries, errors, options = _load_file(self.path)
        if errors:
            raise LedgerErrors(f"ledger {self.path.name} has errors", self._format(errors))
        snapshot = self._make_snapshot(entries, options, options.get("include") or [self.path])
        self._cached = snapshot
        return snapshot

    def _make_snapshot(
        self, entries: list[data.Directive], options: dict[str, Any], files: list[Any]
    ) -> LedgerSnapshot:
        names = [str(f) for f in files]
        return LedgerSnapshot(
            entries=tuple(entries),
            options=options,
            config=read_config(entries, options),
            posted=_index_posted(entries),
            signature=_signature(names),
        )

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[LedgerSnapshot]:
        """Hold the write lock; yields a fresh snapshot to re-check against before writing.

        Leftover temp files of a crashed writer are swept here: holding the lock proves no
        live writer owns them.
        """
        with self._lock:
            remove_stale_temps(self.path)
            yield self.snapshot()

    def append(self, text: str) -> LedgerSnapshot:
        """Append ``text`` to the ledger atomically; call only inside :meth:`exclusive`.

        In paranoid mode the candidate file is loaded first and nothing is written if it
        has any error (:class:`LedgerErrors`). Returns the new snapshot.
        """
        current = self.path.read_bytes()
        separator = b"" if not current or current.endswith(b"\n\n") else b"\n"
        if current and not current.endswith(b"\n"):
            separator = b"\n\n"
        candidate = current + separator + text.encode("utf-8")
        temp = write_temp(self.path, candidate)
        try:
            snapshot = self._validate(temp) if self.paranoid else None
            commit_temp(temp, self.path)
        except BaseException:
            discard_temp(temp)
            raise
        finally:
            _forget_pickle_cache(temp)
        if snapshot is None:
            self._cached = None
            return self.snapshot()
        # The validated candidate *is* the new ledger; only its file identity moved.
        files = [str(self.path) if f == str(temp) else f for f, *_ in snapshot.signature]
        fresh = LedgerSnapshot(
            entries=snapshot.entries,
            options=snapshot.options,
            config=snapshot.config,
            posted=snapshot.posted,
            signature=_signature(files),
        )
        self._cached = fresh
        return fresh

    def _validate(self, temp: Path) -> LedgerSnapshot:
        entries, errors, options = _load_file(temp)
        if errors:
            raise LedgerErrors(
                "the new entry would make the ledger invalid",
                self._format(errors, temp=temp),
            )
        return self._make_snapshot(entries, options, options.get("include") or [temp])

    def _format(self, errors: list[Any], *, temp: Path | None = None) -> tuple[str, ...]:
        messages = []
        for error in errors[:_MAX_REPORTED_ERRORS]:
            text = printer.format_error(error).strip()
            if temp is not None:
                text = text.replace(str(temp), str(self.path))
            messages.append(text)
        if len(errors) > _MAX_REPORTED_ERRORS:
            messages.append(f"... and {len(errors) - _MAX_REPORTED_ERRORS} more")
        return tuple(messages)
