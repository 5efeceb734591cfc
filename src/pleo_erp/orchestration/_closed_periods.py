"""Closed accounting periods in the accounting system's own words (C21).

An adapter's ``is_period_open`` may answer ``False``, or raise
:class:`~pleo_erp.accounting_system.ClosedPeriodError` with a message that says where the lock
date lives in *this* accounting system (and, optionally, ``next_open``). The exporter then
treats the date as closed and carries that message into the item's failure reason, exactly as
it does when ``post`` raises the same error; a bare ``False`` keeps the generic text.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from pleo_erp.accounting_system.export import ClosedPeriodError
from pleo_erp.domain.config import ClosedPeriodPolicy
from pleo_erp.domain.outcomes import clean_message
from pleo_erp.domain.periods import alternative_posting_date

__all__ = ["PeriodCheck", "resolve_posting_date_in_words"]

_DETAIL_LIMIT = 200


class PeriodCheck:
    """``is_open`` that remembers the :class:`ClosedPeriodError` an adapter raised per date."""

    def __init__(self, is_open: Callable[[date], bool]) -> None:
        """Wrap the adapter's (retrying) ``is_period_open``."""
        self._is_open = is_open
        self.closed: dict[date, ClosedPeriodError] = {}

    def __call__(self, on: date) -> bool:
        """Whether ``on`` is open; a raised ``ClosedPeriodError`` means closed."""
        try:
            return bool(self._is_open(on))
        except ClosedPeriodError as closed:
            self.closed.setdefault(on, closed)
            return False


def resolve_posting_date_in_words(
    original: date,
    *,
    policy: ClosedPeriodPolicy,
    today: date,
    is_open: Callable[[date], bool],
    next_open: Callable[[date], date | None],
) -> date:
    """Like :func:`~pleo_erp.domain.periods.resolve_posting_date`, with the adapter's words.

    Raises the same :class:`~pleo_erp.domain.outcomes.DomainFailure`, whose message then
    includes the ``ClosedPeriodError`` text the adapter gave for ``original``.
    """
    check = PeriodCheck(is_open)
    if check(original):
        return original
    closed = check.closed.get(original)
    return alternative_posting_date(
        original,
        policy=policy,
        today=today,
        is_open=check,
        next_open=next_open,
        hint=closed.next_open if closed is not None else None,
        detail=clean_message(closed.message, _DETAIL_LIMIT) if closed is not None else None,
    )
