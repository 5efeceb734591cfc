"""Step 5: accounting periods (C21). Post on the item date; handle a closed period by policy.

Pleo applies no period logic (PER-P): the posting date is the item's ``date``; ``servicePeriod``
never moves it. When the AS says the period is closed, the configured policy decides:

- ``fail`` (default): the item fails with ``accounting_system_validation_failure`` (Pleo has
  no dedicated type, B15) and a message saying how to fix it;
- ``today``: post on the export date, if that period is open;
- ``next_open``: post on the first day of the next open period the AS names.

The AS is consulted through two callables, so this module stays pure. At most one alternative
date is tried per rejection (bounded, [derived]).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from pleo_erp.domain.config import ClosedPeriodPolicy
from pleo_erp.domain.outcomes import DomainFailure

__all__ = ["alternative_posting_date", "closed_period_failure", "resolve_posting_date"]


def closed_period_failure(closed: date, detail: str | None = None) -> DomainFailure:
    """The item failure for a posting date in a closed period."""
    extra = f" ({detail})" if detail else ""
    return DomainFailure(
        "accounting_system_validation_failure",
        f"The accounting period of {closed.isoformat()} is closed in the accounting "
        f"system{extra}; reopen the period, or configure the export to post closed-period "
        "expenses on today's date or in the next open period, then export again.",
    )


def alternative_posting_date(
    closed: date,
    *,
    policy: ClosedPeriodPolicy,
    today: date,
    is_open: Callable[[date], bool],
    next_open: Callable[[date], date | None],
    hint: date | None = None,
    detail: str | None = None,
) -> date:
    """The date to post on instead of the closed ``closed``, or a :class:`DomainFailure`.

    ``hint`` is a next-open date the AS already gave (e.g. with its rejection).
    """
    if policy == "today":
        if today != closed and is_open(today):
            return today
        raise closed_period_failure(closed, detail or f"today, {today.isoformat()}, is closed too")
    if policy == "next_open":
        candidate = hint or next_open(closed)
        if candidate is not None and candidate > closed and is_open(candidate):
            return candidate
        raise closed_period_failure(closed, detail or "no later open period was found")
    raise closed_period_failure(closed, detail)


def resolve_posting_date(
    original: date,
    *,
    policy: ClosedPeriodPolicy,
    today: date,
    is_open: Callable[[date], bool],
    next_open: Callable[[date], date | None],
) -> date:
    """``original`` when its period is open, else the policy's alternative (or a failure)."""
    if is_open(original):
        return original
    return alternative_posting_date(
        original, policy=policy, today=today, is_open=is_open, next_open=next_open
    )
