"""Which export item may start next (sans-I/O): in order, bounded, payments after invoices.

The export streams a job's export items page by page and posts up to ``limit`` of them at
once (``ExportConfig.post_concurrency``, capped by ``Capabilities.max_concurrent_posts``).
:class:`PostScheduler` decides, without doing any I/O, which queued item may start:

- items start in processing order (each page by date, then id), never more than ``limit`` at a
  time; with ``limit == 1`` this is exactly the sequential export;
- a supplier payment (``invoice_payment``) does not start while an invoice it may settle (same
  invoice number) that came before it is still in flight: the AS books the invoice first and
  reconciles the payment against it (C17), as a sequential run would have. Later items with
  the same invoice number wait behind the held payment; unrelated items go ahead of it.

Only what is queued or in flight is kept: done items are forgotten (the caller keeps their
outcomes), so memory does not grow with the job.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Container, Iterable, Iterator
from itertools import islice
from uuid import UUID

from pleo_erp.domain.bookkeeping import enum_value
from pleo_erp.models import ExportItemV3

__all__ = ["PostScheduler", "effective_post_concurrency", "processing_order", "settlement_key"]


LOOKAHEAD = 256
"""How far past a held payment the scheduler looks for an item that may start."""


def settlement_key(item: ExportItemV3) -> str | None:
    """The invoice number linking an invoice and its payment, or ``None`` for other items.

    Only the number is used (not the vendor): two vendors' invoices with the same number are
    merely serialised, which is safe.
    """
    if enum_value(item.type) not in ("invoice", "invoice_payment"):
        return None
    extra = getattr(item, "additional_information", None)
    info = getattr(extra, "invoice_information", None)
    number = getattr(info, "invoice_number", None)
    return str(number) if number else None


def _is_payment(item: ExportItemV3) -> bool:
    return enum_value(item.type) == "invoice_payment"


def processing_order(items: Iterable[ExportItemV3]) -> list[ExportItemV3]:
    """One page of items in processing order: by date, then id (deterministic)."""
    return sorted(items, key=lambda item: (item.date, str(item.accounting_entry_id)))


def effective_post_concurrency(configured: int, declared: int | None) -> int:
    """Posts in flight: the configured number, capped by what the adapter declares (≥ 1)."""
    cap = declared if isinstance(declared, int) and declared > 0 else 1
    return max(1, min(configured, cap))


class PostScheduler:
    """The queue of items to process and the rule for which may start (see the module doc)."""

    def __init__(self, limit: int) -> None:
        """At most ``limit`` (≥ 1) items in flight."""
        self.limit = max(1, limit)
        self._queue: deque[ExportItemV3] = deque()
        self._in_flight = 0
        self._invoices: Counter[str] = Counter()  # invoices in flight, by invoice number

    def extend(self, items: Iterable[ExportItemV3]) -> None:
        """Queue items (in processing order)."""
        self._queue.extend(items)

    @property
    def queued(self) -> int:
        """Items waiting to start."""
        return len(self._queue)

    @property
    def in_flight(self) -> int:
        """Items started and not finished."""
        return self._in_flight

    def upcoming(self, count: int) -> Iterator[ExportItemV3]:
        """The next ``count`` queued items (for prefetching their receipts)."""
        return islice(self._queue, count)

    def upcoming_unseen(self, count: int, seen: Container[UUID]) -> list[ExportItemV3]:
        """Those of the next ``count`` queued items whose ids are not in ``seen``, in order.

        For a caller that sees every item entering the window of the next ``count`` (a
        prefetch): the window only grows at its end, so the seen items are a prefix of it and
        the search stops at the first seen one from the end (O(new items), not O(count)).
        """
        window = list(islice(self._queue, count))
        start = len(window)
        while start and window[start - 1].accounting_entry_id not in seen:
            start -= 1
        return window[start:]

    def next_ready(self) -> ExportItemV3 | None:
        """The item to start now, or ``None`` (limit reached, queue empty, or nothing in the
        lookahead may start).

        The first queued item that may start is taken: a payment whose invoice is in flight
        waits, and so does every later item with the same invoice number (their relative
        order stays that of a sequential run); unrelated items behind it go ahead.
        """
        if self._in_flight >= self.limit or not self._queue:
            return None
        held: set[str] = set()
        for index, item in enumerate(islice(self._queue, LOOKAHEAD)):
            key = settlement_key(item)
            if key is not None and (key in held or (_is_payment(item) and self._invoices[key] > 0)):
                held.add(key)
                continue
            del self._queue[index]
            self._in_flight += 1
            if key is not None and not _is_payment(item):
                self._invoices[key] += 1
            return item
        return None

    def finished(self, item: ExportItemV3) -> None:
        """``item`` (started by :meth:`next_ready`) is done."""
        self._in_flight -= 1
        key = settlement_key(item)
        if key is not None and not _is_payment(item):
            self._invoices[key] -= 1
            if self._invoices[key] <= 0:
                del self._invoices[key]

    def drop_queue(self) -> int:
        """Forget the queued items (the job stops); how many there were."""
        count = len(self._queue)
        self._queue.clear()
        return count
