"""Compact per-item bookkeeping of an export run: memory that does not grow with the job.

An export keeps, for every item it finished, only what its report needs (issue 13):

- :class:`ItemResultLog` — the ``JobReport.items`` sequence. A plain success (no warning, no
  report error) is stored column-wise in arrays (its id, flags, posting date, attachment
  count, item/entry kind as a code, ``external_id``/``external_url`` as UTF-8 bytes): about
  40 bytes plus its two texts, instead of an ``ItemResult`` object, its ``UUID`` and their
  strings (~270 bytes). Failed items and items with warnings or report errors are kept whole
  (O(failures)). Indexing and iterating build equal ``ItemResult`` values on demand.
- :class:`CompactIdSet` — the ids of the job's open items, 17 bytes each in sorted arrays
  instead of a ``set`` of ``UUID`` objects (~140 bytes each).
- :class:`StatusTally` — the statuses of items already final before the run, as counts.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import date
from itertools import chain, repeat
from typing import Any
from uuid import UUID

from pleo_erp.orchestration.report import ItemResult, ItemSequence

__all__ = ["CompactIdSet", "ItemResultLog", "StatusTally"]

_MASK64 = (1 << 64) - 1
_SUCCESSFUL = 1
_REPORTED = 2
_ALREADY_POSTED = 4
_HAS_EXTERNAL_ID = 8
_HAS_EXTERNAL_URL = 16
_KEPT_WHOLE = 32  # the full ItemResult is in ``_whole``
_MAX_KINDS = 255  # kind codes are one byte
_MAX_COUNT = 2**32 - 1


def _split(value: UUID) -> tuple[int, int]:
    number = value.int
    return number >> 64, number & _MASK64


def _compactable(result: ItemResult) -> bool:
    """Whether ``result`` is a plain success the columns hold exactly."""
    return (
        type(result) is ItemResult
        and result.status == "successful"
        and result.failure_type is None
        and result.failure_reason is None
        and not result.warnings
        and result.report_error is None
        and result.entry is None
        and not result.attachment_names
        and 0 <= result.attachments <= _MAX_COUNT
    )


def _text_size(result: ItemResult) -> int:
    return sum(len(t) * 4 for t in (result.external_id, result.external_url) if t is not None)


class ItemResultLog(ItemSequence):
    """The item results of one job in processing order, stored compactly (module docstring).

    A read-only :class:`~collections.abc.Sequence` of :class:`ItemResult` once frozen (as
    ``JobReport.items``): ``len``, indexing, slicing (a tuple), iteration, ``==`` with a tuple
    of equal results. While the run goes on the export appends results and replaces them
    (``log[i] = evolve(...)`` once Pleo accepted the outcome).
    """

    __slots__ = (
        "_attachments",
        "_dates",
        "_failed",
        "_flags",
        "_frozen",
        "_hi",
        "_kind_codes",
        "_kinds",
        "_kinds_table",
        "_lo",
        "_text",
        "_text_ends",
        "_whole",
    )

    def __init__(self, results: Iterable[ItemResult] = ()) -> None:
        """A log holding ``results`` (appended in order)."""
        self._hi = array("Q")
        self._lo = array("Q")
        self._flags = bytearray()
        self._kinds = bytearray()
        self._attachments = array("I")
        self._dates = array("i")  # proleptic ordinal, 0: no posting date
        self._text = bytearray()
        self._text_ends = array("I")  # two per item: end of external_id, end of external_url
        self._kinds_table: list[tuple[str | None, str | None]] = []
        self._kind_codes: dict[tuple[str | None, str | None], int] = {}
        self._whole: dict[int, ItemResult] = {}
        self._failed = 0
        self._frozen = False
        for result in results:
            self.append(result)

    # -- writing ----------------------------------------------------------------------------

    def freeze(self) -> ItemResultLog:
        """Make the log read-only (it is then a report's ``items``); returns it."""
        self._frozen = True
        return self

    def _check_writable(self) -> None:
        if self._frozen:
            raise TypeError("the item results of a finished job are read-only")

    def _kind_code(self, result: ItemResult) -> int | None:
        key = (result.item_type, result.entry_kind)
        code = self._kind_codes.get(key)
        if code is None and len(self._kinds_table) < _MAX_KINDS:
            code = len(self._kinds_table)
            self._kinds_table.append(key)
            self._kind_codes[key] = code
        return code

    def append(self, result: ItemResult) -> None:
        """Add the result of the next item."""
        self._check_writable()
        hi, lo = _split(result.accounting_entry_id)
        self._hi.append(hi)
        self._lo.append(lo)
        self._flags.append(0)
        self._kinds.append(0)
        self._attachments.append(0)
        self._dates.append(0)
        start = self._text_ends[-1] if self._text_ends else 0
        self._text_ends.extend((start, start))
        self._store(len(self._hi) - 1, result, new=True)

    def __setitem__(self, index: int, result: ItemResult) -> None:
        """Replace the result at ``index`` (the same item, e.g. now reported to Pleo)."""
        self._check_writable()
        index = self._position(index)
        if self._uuid(index) != result.accounting_entry_id:
            raise ValueError("an item result can only be replaced by one of the same item")
        self._store(index, result, new=False)

    def _store(self, index: int, result: ItemResult, *, new: bool) -> None:
        was_failed = not new and not self._flags[index] & _SUCCESSFUL
        flags = _SUCCESSFUL if result.status == "successful" else 0
        if result.reported:
            flags |= _REPORTED
        if result.already_posted:
            flags |= _ALREADY_POSTED
        code = self._kind_code(result) if _compactable(result) else None
        texts_fit = (new and len(self._text) + _text_size(result) <= _MAX_COUNT) or (
            self._texts(index) == (result.external_id, result.external_url)
            and not self._flags[index] & _KEPT_WHOLE
        )
        if code is None or not texts_fit:
            self._whole[index] = result
            flags |= _KEPT_WHOLE
        else:
            self._whole.pop(index, None)
            self._kinds[index] = code
            self._attachments[index] = result.attachments
            posting = result.posting_date
            self._dates[index] = posting.toordinal() if posting is not None else 0
            if new:
                flags |= self._add_texts(result.external_id, result.external_url)
            else:
                flags |= self._flags[index] & (_HAS_EXTERNAL_ID | _HAS_EXTERNAL_URL)
        self._flags[index] = flags
        self._failed += (result.status != "successful") - was_failed

    def _add_texts(self, external_id: str | None, external_url: str | None) -> int:
        flags = 0
        ends = self._text_ends
        if external_id is not None:
            self._text += external_id.encode("utf-8", "surrogatepass")
            flags |= _HAS_EXTERNAL_ID
        ends[-2] = len(self._text)
        if external_url is not None:
            self._text += external_url.encode("utf-8", "surrogatepass")
            flags |= _HAS_EXTERNAL_URL
        ends[-1] = len(self._text)
        return flags

    # -- reading ----------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._hi)

    def _uuid(self, index: int) -> UUID:
        return UUID(int=(self._hi[index] << 64) | self._lo[index])

    def _texts(self, index: int) -> tuple[str | None, str | None]:
        ends = self._text_ends
        start = ends[2 * index - 1] if index else 0
        middle, end = ends[2 * index], ends[2 * index + 1]
        flags = self._flags[index]
        text = self._text
        external_id = (
            text[start:middle].decode("utf-8", "surrogatepass")
            if flags & _HAS_EXTERNAL_ID
            else None
        )
        external_url = (
            text[middle:end].decode("utf-8", "surrogatepass") if flags & _HAS_EXTERNAL_URL else None
        )
        return external_id, external_url

    def _at(self, index: int) -> ItemResult:
        flags = self._flags[index]
        if flags & _KEPT_WHOLE:
            return self._whole[index]
        item_type, entry_kind = self._kinds_table[self._kinds[index]]
        external_id, external_url = self._texts(index)
        ordinal = self._dates[index]
        return ItemResult(
            accounting_entry_id=self._uuid(index),
            status="successful",
            external_id=external_id,
            external_url=external_url,
            item_type=item_type,
            entry_kind=entry_kind,
            posting_date=date.fromordinal(ordinal) if ordinal else None,
            already_posted=bool(flags & _ALREADY_POSTED),
            attachments=self._attachments[index],
            reported=bool(flags & _REPORTED),
        )

    def __iter__(self) -> Iterator[ItemResult]:
        return map(self._at, range(len(self._hi)))

    def ids(self) -> Iterator[UUID]:
        """The items' ids, in processing order."""
        return map(self._uuid, range(len(self._hi)))

    def statuses(self) -> Iterator[str]:
        """The items' statuses (``successful`` / ``failed``), without building results."""
        return ("successful" if f & _SUCCESSFUL else "failed" for f in self._flags)

    def failures(self) -> tuple[ItemResult, ...]:
        """The failed items' results, in processing order (O(failures))."""
        return tuple(
            result
            for _, result in sorted(self._whole.items(), key=lambda pair: pair[0])
            if result.status != "successful"
        )

    def counts(self) -> dict[str, int]:
        """Items per status (``successful`` / ``failed``), kept as the log grows."""
        return {"successful": len(self._hi) - self._failed, "failed": self._failed}

    # -- value semantics --------------------------------------------------------------------

    def __repr__(self) -> str:
        counts = self.counts()
        return (
            f"<ItemResultLog of {len(self)} item result(s): {counts['successful']} successful, "
            f"{counts['failed']} failed>"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore_log, (tuple(self), self._frozen))


def _restore_log(results: tuple[ItemResult, ...], frozen: bool) -> ItemResultLog:
    log = ItemResultLog(results)
    return log.freeze() if frozen else log


class CompactIdSet:
    """A set of ids in two sorted arrays of 64-bit halves, 17 bytes an id (module docstring).

    Built by :meth:`add` (any order), then queried with ``in`` and :meth:`discard`; the
    first query sorts. Iterating yields the ids still present.
    """

    __slots__ = ("_gone", "_hi", "_lo", "_size", "_sorted")

    def __init__(self, ids: Iterable[UUID] = ()) -> None:
        """A set holding ``ids``."""
        self._hi = array("Q")
        self._lo = array("Q")
        self._gone = bytearray()
        self._size = 0
        self._sorted = True
        for value in ids:
            self.add(value)

    def add(self, value: UUID) -> None:
        """Add ``value`` (a duplicate is ignored)."""
        if self._sorted and self._hi and value in self:
            return
        hi, lo = _split(value)
        if self._hi and (hi, lo) <= (self._hi[-1], self._lo[-1]):
            self._sorted = False
        self._hi.append(hi)
        self._lo.append(lo)
        self._gone.append(0)
        self._size += 1

    def _sort(self) -> None:
        # One transient list of 128-bit ints (the ids still present, deduplicated).
        columns = zip(self._hi, self._lo, self._gone, strict=True)
        numbers = sorted({(hi << 64) | lo for hi, lo, gone in columns if not gone})
        self._hi = array("Q", (n >> 64 for n in numbers))
        self._lo = array("Q", (n & _MASK64 for n in numbers))
        self._gone = bytearray(len(numbers))
        self._size = len(numbers)
        self._sorted = True

    def _find(self, value: object) -> int:
        if not isinstance(value, UUID):
            return -1
        if not self._sorted:
            self._sort()
        hi, lo = _split(value)
        his, los = self._hi, self._lo
        index = bisect_left(his, hi)
        while index < len(his) and his[index] == hi:
            if los[index] == lo:
                return index if not self._gone[index] else -1
            index += 1
        return -1

    def __contains__(self, value: object) -> bool:
        return self._find(value) >= 0

    def discard(self, value: UUID) -> None:
        """Remove ``value`` if present."""
        index = self._find(value)
        if index >= 0:
            self._gone[index] = 1
            self._size -= 1

    def __len__(self) -> int:
        if not self._sorted:
            self._sort()  # duplicates count once
        return self._size

    def __iter__(self) -> Iterator[UUID]:
        if not self._sorted:
            self._sort()
        for hi, lo, gone in zip(self._hi, self._lo, self._gone, strict=True):
            if not gone:
                yield UUID(int=(hi << 64) | lo)

    def __repr__(self) -> str:
        return f"<CompactIdSet of {len(self)} id(s)>"


class StatusTally:
    """Statuses of items already final before the run, as counts (appendable, iterable)."""

    __slots__ = ("_counts",)

    def __init__(self) -> None:
        """An empty tally."""
        self._counts: Counter[str] = Counter()

    def append(self, status: str) -> None:
        """Count one more item with ``status``."""
        self._counts[status] += 1

    def __iter__(self) -> Iterator[str]:
        """Each counted status as often as it was counted."""
        return chain.from_iterable(repeat(s, n) for s, n in self._counts.items())

    def __len__(self) -> int:
        return sum(self._counts.values())
