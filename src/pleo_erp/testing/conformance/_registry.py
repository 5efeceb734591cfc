"""The list of checks, in the order they run (cheap and basic first)."""

from __future__ import annotations

from collections.abc import Callable

from attrs import define

from pleo_erp.testing.conformance._checks_adapter import (
    check_attachments,
    check_balanced_entries,
    check_closed_periods,
    check_failure_mapping,
    check_protocol,
)
from pleo_erp.testing.conformance._checks_export import (
    check_demo_export,
    check_exactly_once_crash,
    check_exactly_once_rerun,
    check_period_adjustment,
)
from pleo_erp.testing.conformance._checks_sync import check_sync_converges, check_sync_idempotent
from pleo_erp.testing.conformance._subject import Subject

__all__ = ["CHECKS", "Check", "check_named"]


@define(frozen=True, slots=True)
class Check:
    """One conformance check: a stable ``name``, a one-line ``title`` and its function."""

    name: str
    title: str
    run: Callable[[Subject], None]


CHECKS: tuple[Check, ...] = (
    Check("protocol", "implements ExportTarget; empty AS finds nothing", check_protocol),
    Check("balanced_entries", "random entries stored balanced, exact, found again",
          check_balanced_entries),
    Check("failure_mapping", "refusals raise AccountingSystemError of the right type",
          check_failure_mapping),
    Check("closed_periods", "is_period_open / next_open_date follow the lock date",
          check_closed_periods),
    Check("attachments", "receipts attached once per key", check_attachments),
    Check("demo_export", "the demo queue exports with the expected outcomes", check_demo_export),
    Check("exactly_once_rerun", "reruns and re-exports post nothing twice",
          check_exactly_once_rerun),
    Check("exactly_once_crash", "crashes and lost responses after posting never duplicate",
          check_exactly_once_crash),
    Check("period_adjustment", "closed_period=next_open books on the next open date",
          check_period_adjustment),
    Check("sync_idempotent", "syncing the chart converges; a second sync writes nothing",
          check_sync_idempotent),
    Check("sync_converges", "after random AS edits one sync converges; nothing deleted",
          check_sync_converges),
)  # fmt: skip
"""Every check, in run order."""


def check_named(name: str) -> Check:
    """The check called ``name`` (``KeyError`` listing the valid names otherwise)."""
    for check in CHECKS:
        if check.name == name:
            return check
    raise KeyError(f"no conformance check {name!r}; known: {', '.join(c.name for c in CHECKS)}")
