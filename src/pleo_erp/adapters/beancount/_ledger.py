"""Loading, indexing and safely appending to a Beancount ledger file.

Reads go through Beancount's own loader, so the adapter sees exactly what ``bean-check`` and
Fava see. A loaded :class:`LedgerSnapshot` is cached and reused until any file of the ledger
(the top file or an ``include``) changes on disk.

Writes are serialised by a :class:`~pleo_erp.adapters.beancount._lock.LedgerLock` on a
sidecar ``<ledger>.lock`` file and are atomic (temp file, fsync, ``os.replace``, fsync of the
directory). In *paranoid* mode (the default) the candidate file is loaded with Beancount's
loader before it replaces the ledger, and is discarded if it would add any error: the ledger
on disk always loads cleanly. That check reloads the whole ledger, so its cost grows with the
ledger (about 30 ms per write at a few hundred transactions); ``paranoid=False`` parses only
the appended text and relies on the adapter's own checks (accounts open, amounts balanced,
tax codes and tags known), which keeps bulk loads linear.

A snapshot is *verified* when it came from a full Beancount load (a read, or a paranoid
write's check); appends checked only as fragments leave it unverified.
:meth:`BeancountLedger.verified_snapshot` reloads such a ledger once, which checks everything
appended since — the adapter's per-job session starts with it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

from beancount import loader
from beancount.core import data
from beancount.parser import parser, printer

from pleo_erp.adapters.beancount._atomic import (
    commit_temp,
    discard_temp,
    remove_stale_temps,
    remove_stale_temps_under,
    write_temp,
)
from pleo_erp.adapters.beancount._config import LedgerConfig, read_config
from pleo_erp.adapters.beancount._documents import DOCUMENTS_DIRNAME
from pleo_erp.adapters.beancount._lock import LedgerLock

__all__ = [
    "ATTACHMENT_KEY",
    "ENTRY_ID_KEY",
    "BeancountLedger",
    "LedgerErrors",
    "LedgerSnapshot",
]

# Beancount's printer is untyped; this is its documented signature.
_format_error = cast(Callable[[Any], str], printer.format_error)

_log = logging.getLogger("pleo_erp.adapters.beancount")

ENTRY_ID_KEY = "pleo-accounting-entry-id"
ATTACHMENT_KEY = "pleo-attachment-key"
_MAX_REPORTED_ERRORS = 5

Signature = tuple[tuple[str, int, int, int], ...]


class LedgerErrors(Exception):
    """The ledger (or a candidate version of it) does not load cleanly with Beancount.

    ``messages`` holds Beancount's formatted errors (at most a handful). File paths are cut
    to the ledger's file name: these messages may reach Pleo as a failure reason.
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
    attachments: Mapping[str, frozenset[str]]
    signature: Signature

    def find_posted(self, accounting_entry_id: str) -> data.Transaction | None:
        """The transaction carrying this Pleo accounting entry id, if any."""
        return self.posted.get(accounting_entry_id.strip().lower())

    def attachment_keys(self, accounting_entry_id: str) -> frozenset[str]:
        """Keys of the receipts already linked to this accounting entry id."""
        return self.attachments.get(accounting_entry_id.strip().lower(), frozenset())


_CONSISTENT_LOAD_ATTEMPTS = 5
"""Loads tried until one is not overlapped by a writer replacing the file (lock-free reads)."""


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


def _entry_key(value: object) -> str | None:
    """Entry ids compare like UUIDs do: case and surrounding blanks do not matter."""
    return value.strip().lower() if isinstance(value, str) and value.strip() else None


def _index_posted(entries: list[data.Directive]) -> dict[str, data.Transaction]:
    posted: dict[str, data.Transaction] = {}
    for entry in entries:
        if isinstance(entry, data.Transaction):
            key = _entry_key((entry.meta or {}).get(ENTRY_ID_KEY))
            if key is not None and key not in posted:
                posted[key] = entry
    return posted


def _index_attachments(entries: list[data.Directive]) -> dict[str, frozenset[str]]:
    found: dict[str, set[str]] = {}
    for entry in entries:
        if isinstance(entry, data.Document):
            meta = entry.meta or {}
            owner, key = _entry_key(meta.get(ENTRY_ID_KEY)), meta.get(ATTACHMENT_KEY)
            if owner is not None and isinstance(key, str):
                found.setdefault(owner, set()).add(key)
    return {owner: frozenset(keys) for owner, keys in found.items()}


def _extended(
    base: LedgerSnapshot, added: list[data.Directive] | tuple[()], files: list[str]
) -> LedgerSnapshot:
    """``base`` plus appended transactions/documents (their configuration is unchanged)."""
    if not added:
        return replace(base, signature=_signature(files))
    new_list = list(added)
    posted = dict(base.posted)
    for key, txn in _index_posted(new_list).items():
        posted.setdefault(key, txn)
    attachments = dict(base.attachments)
    for key, keys in _index_attachments(new_list).items():
        attachments[key] = attachments.get(key, frozenset()) | keys
    return replace(
        base,
        entries=(*base.entries, *new_list),
        posted=posted,
        attachments=attachments,
        signature=_signature(files),
    )


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
        self._documents_swept = False
        self._verified = False
        self.loads = 0
        """How many times the whole ledger was loaded (parsed) with Beancount."""

    @property
    def directory(self) -> Path:
        """The folder holding the ledger (and its ``documents/`` folder)."""
        return self.path.parent

    def snapshot(self) -> LedgerSnapshot:
        """The current ledger, reloaded only if one of its files changed since last time.

        Needs no lock: atomic replacement means a reader sees the old or the new file.
        Raises ``OSError`` if the file cannot be opened, :class:`LedgerErrors` if the ledger
        does not load cleanly, and
        :class:`~pleo_erp.adapters.beancount._config.LedgerConfigError` if its ``pleo-*``
        configuration is malformed.
        """
        cached = self._cached
        if cached is not None and _signature([f for f, *_ in cached.signature]) == cached.signature:
            return cached
        # Beancount reports a missing or unreadable file as a ledger error; surface it as the
        # OSError it is, so callers can tell "unreachable" from "invalid".
        with open(self.path, "rb"):
            pass
        known = [f for f, *_ in cached.signature] if cached is not None else [str(self.path)]
        for _attempt in range(_CONSISTENT_LOAD_ATTEMPTS):
            # A writer may replace the file while Beancount reads it (no lock is needed to
            # read). The signature must describe the content that was read, or a later check
            # would trust a cache that lacks the writer's entry and post it again: keep the
            # load only if the files were the same before and after it.
            before = _signature(known)
            self.loads += 1
            entries, errors, options = _load_file(self.path)
            if errors:
                raise LedgerErrors(f"ledger {self.path.name} has errors", self._format(errors))
            snapshot = self._make_snapshot(entries, options, options.get("include") or [self.path])
            if _signature(known) == before:
                self._cached = snapshot
                self._verified = True
                return snapshot
            known = [f for f, *_ in snapshot.signature]
        # Still changing under a busy writer: use this load, but never cache it as current.
        self._cached = None
        return snapshot

    def verified_snapshot(self) -> LedgerSnapshot:
        """Like :meth:`snapshot`, but reload once if the cached snapshot was extended by
        unverified appends: the full Beancount load checks everything appended since."""
        if not self._verified:
            self._cached = None
        return self.snapshot()

    def _make_snapshot(
        self, entries: list[data.Directive], options: dict[str, Any], files: list[Any]
    ) -> LedgerSnapshot:
        names = [str(f) for f in files]
        return LedgerSnapshot(
            entries=tuple(entries),
            options=options,
            config=read_config(entries, options),
            posted=_index_posted(entries),
            attachments=_index_attachments(entries),
            signature=_signature(names),
        )

    @property
    def lock(self) -> LedgerLock:
        """The write lock (``<ledger>.lock``); prefer :meth:`exclusive`."""
        return self._lock

    def sweep_stale_temps(self) -> int:
        """Remove temp files of a crashed writer; call only while holding :attr:`lock`.

        Beside the ledger on every call; under ``documents/`` (receipts, written under the same
        lock) on the first call of this instance — the next run after a crash — because that
        walk grows with the number of receipts.
        """
        removed = remove_stale_temps(self.path)
        if not self._documents_swept:
            removed += remove_stale_temps_under(self.path.parent / DOCUMENTS_DIRNAME)
            self._documents_swept = True
        if removed:
            _log.info("removed %d temp file(s) left by an interrupted writer", removed)
        return removed

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[LedgerSnapshot]:
        """Hold the write lock; yields a fresh snapshot to re-check against before writing.

        Leftover temp files of a crashed writer are swept here: holding the lock proves no
        live writer owns them.
        """
        with self._lock:
            self.sweep_stale_temps()
            yield self.snapshot()

    def append(self, text: str, *, full_check: bool | None = None) -> LedgerSnapshot:
        """Append ``text`` to the ledger atomically; call only inside :meth:`exclusive`.

        ``full_check`` overrides the ledger's ``paranoid`` setting for this write. Paranoid
        mode loads the whole candidate file with Beancount first and writes nothing
        if it has any error (:class:`LedgerErrors`): the full check, whose cost grows with
        the ledger. Otherwise only ``text`` itself is parsed (syntax errors still refuse the
        write) and the cached snapshot is extended in place, so a bulk load stays linear.
        Returns the new snapshot.
        """
        base = self._cached
        if base is not None and _signature([f for f, *_ in base.signature]) != base.signature:
            base = None  # changed behind our back (an edit without the lock): reload later
        current = self.path.read_bytes()
        # One blank line between the existing content and the new entry.
        if not current or current.endswith(b"\n\n"):
            separator = b""
        elif current.endswith(b"\n"):
            separator = b"\n"
        else:
            separator = b"\n\n"
        paranoid = self.paranoid if full_check is None else full_check
        added: list[data.Directive] = []
        if not paranoid:
            added = self._parse_fragment(text)
        temp = write_temp(self.path, current + separator + text.encode("utf-8"))
        try:
            validated = self._validate(temp) if paranoid else None
            commit_temp(temp, self.path)
        except BaseException:
            discard_temp(temp)
            raise
        finally:
            _forget_pickle_cache(temp)
        if validated is not None:
            # The validated candidate *is* the new ledger; only its file identity moved.
            files = [str(self.path) if f == str(temp) else f for f, *_ in validated.signature]
            fresh = _extended(validated, (), files)
            verified = True
        else:
            fresh = self._after_fast_append(base, added)
            verified = base is None  # a reload after an outside change is a full load
        self._cached = fresh
        self._verified = verified
        return fresh

    def _parse_fragment(self, text: str) -> list[data.Directive]:
        entries, errors, _ = parser.parse_string(text, report_filename=str(self.path))
        if errors:
            raise LedgerErrors("the new entry does not parse", self._format(list(errors)))
        return list(entries)

    def _after_fast_append(
        self, base: LedgerSnapshot | None, added: list[data.Directive]
    ) -> LedgerSnapshot:
        """The snapshot after an unvalidated append: the cached one extended, or a reload."""
        if base is None:
            self._cached = None
            return self.snapshot()
        files = [f for f, *_ in base.signature]
        return _extended(base, added, files)

    def _validate(self, temp: Path) -> LedgerSnapshot:
        self.loads += 1
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
            text = _format_error(error).strip()
            if temp is not None:
                text = text.replace(str(temp), self.path.name)
            messages.append(text.replace(str(self.path), self.path.name))
        if len(errors) > _MAX_REPORTED_ERRORS:
            messages.append(f"... and {len(errors) - _MAX_REPORTED_ERRORS} more")
        return tuple(messages)
