"""The export journal is a hint; the accounting system decides what is booked.

A journal row saying "posted, not yet reported" lets a resumed run skip re-building an entry
it already booked. But the row can be wrong about the AS: the ledger was restored from a
backup, an entry was deleted by hand, the AS rolled a transaction back after answering. So
before such an item is reported ``successful``, :func:`confirm_journal_entry` asks the AS
(``find_posted``); when the entry is missing, the export posts it like any other item.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from uuid import UUID

from pleo_erp.accounting_system.export import ExportTarget, PostedEntry

__all__ = ["confirm_journal_entry"]

logger = logging.getLogger("pleo_erp.export")


def confirm_journal_entry(
    as_call: Callable[..., Any], target: ExportTarget, accounting_entry_id: UUID
) -> PostedEntry | None:
    """The AS's entry for an item the journal records as posted, or ``None`` if it has none.

    ``as_call`` is the run's AS-call wrapper (bounded retries of retryable errors); the AS's
    errors propagate so the caller classifies them as for any other lookup.
    """
    found: PostedEntry | None = as_call(target.find_posted, accounting_entry_id)
    if found is None:
        logger.warning(
            "the export journal records item %s as posted, but the accounting system has no "
            "entry for it (restored or edited?); posting it again",
            accounting_entry_id,
        )
    return found
