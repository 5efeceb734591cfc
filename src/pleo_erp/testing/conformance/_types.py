"""Values the conformance kit exchanges with a vendor's test code, and its results."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

from attrs import define, field

from pleo_erp.accounting_system.export import ExportTarget
from pleo_erp.testing.sandbox.demo import DemoChart

__all__ = [
    "AdapterFactory",
    "AdapterSetup",
    "CheckResult",
    "CheckStatus",
    "ConformanceFailure",
    "ConformanceReport",
    "ConformanceSkipped",
    "LedgerEntry",
    "LedgerPosting",
    "LedgerReader",
    "ReopenHook",
    "SourcesFactory",
]


@define(frozen=True, slots=True, kw_only=True)
class AdapterSetup:
    """What the kit hands to ``make_adapter`` / ``make_sources`` for one fresh adapter.

    ``chart`` (a :class:`DemoChart`, exported by this package) is the accounting system's
    truth the adapter must represent: accounts (one inactive), tax codes (only Pleo's types:
    ``inclusive``, ``exclusive``, ``reverse``), dimensions and values (none when the kit runs
    with ``dimensions=False``), the accounts mapping (account *codes*, with
    ``AccountsMapping``'s field names), vendors with their payable accounts, and the lock date
    ``closed_until`` (postings dated on or before it are refused). The chart is the sandbox
    demo's, possibly edited by a sync check. ``workdir`` is an empty private directory,
    removed after the check (a ledger file, a local database …). ``company_id`` is the Pleo
    company being exported.
    """

    chart: DemoChart
    workdir: Path
    company_id: UUID
    currency: str = "DKK"
    """The company's wallet currency."""


@define(frozen=True, slots=True, kw_only=True)
class LedgerPosting:
    """One posting as the accounting system stores it, read back by the vendor's hook.

    ``amount`` is in *major* units, signed: positive for a debit, negative for a credit.
    ``account`` is the AS's own name or number for the account.
    """

    account: str
    amount: Decimal
    currency: str


def _postings(value: Iterable[LedgerPosting]) -> tuple[LedgerPosting, ...]:
    return tuple(value)


@define(frozen=True, slots=True, kw_only=True)
class LedgerEntry:
    """One entry as the accounting system stores it (see ``read_entries``).

    ``accounting_entry_id`` is the Pleo id the AS stored as the external reference;
    ``attachment_count`` the number of files attached to it in the AS (``None``: unknown).
    """

    accounting_entry_id: UUID
    external_id: str
    postings: tuple[LedgerPosting, ...] = field(converter=_postings)
    posting_date: date | None = None
    attachment_count: int | None = None


AdapterFactory = Callable[[AdapterSetup], ExportTarget]
"""``make_adapter(setup)``: a fresh adapter over a fresh AS holding ``setup.chart``."""

SourcesFactory = Callable[[AdapterSetup], Any]
"""``make_sources(setup)``: an object implementing some of ``DimensionSource`` /
``AccountSource`` / ``TaxCodeSource`` over a fresh AS holding ``setup.chart``."""

ReopenHook = Callable[[ExportTarget, AdapterSetup], ExportTarget]
"""``reopen_adapter(adapter, setup)``: a new adapter instance over the *same* AS storage, as
after a process restart (default: the same instance)."""

LedgerReader = Callable[[ExportTarget], Iterable[LedgerEntry]]
"""``read_entries(adapter)``: every entry the AS holds, read back from the AS itself."""


class ConformanceFailure(AssertionError):
    """The adapter broke a rule of the kit; the message says which and how to fix it."""


class ConformanceSkipped(Exception):
    """A check cannot run for this adapter (a capability or hook it lacks); ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


CheckStatus = Literal["passed", "failed", "skipped", "error"]
"""How a check ended: ``error`` means it raised something other than a conformance failure."""


@define(frozen=True, slots=True, kw_only=True)
class CheckResult:
    """The outcome of one check in a :func:`run_conformance` run.

    ``detail`` is the reason of a failure or skip (its first line), or, for a passed check,
    what it left out and why (e.g. the tag cases of an AS without dimensions), else empty.
    """

    name: str
    title: str
    status: CheckStatus
    detail: str = ""
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        """Passed or skipped."""
        return self.status in ("passed", "skipped")


@define(frozen=True, slots=True, kw_only=True)
class ConformanceReport:
    """Every check's result, in run order."""

    results: tuple[CheckResult, ...]

    @property
    def ok(self) -> bool:
        """Whether no check failed or errored."""
        return all(result.ok for result in self.results)

    def by_status(self, status: CheckStatus) -> list[CheckResult]:
        """The results with ``status``."""
        return [result for result in self.results if result.status == status]

    @property
    def passed(self) -> list[CheckResult]:
        """Checks that passed."""
        return self.by_status("passed")

    @property
    def failed(self) -> list[CheckResult]:
        """Checks that failed or errored."""
        return [result for result in self.results if not result.ok]

    @property
    def skipped(self) -> list[CheckResult]:
        """Checks that were skipped, with their reasons."""
        return self.by_status("skipped")

    def result(self, name: str) -> CheckResult:
        """The result of the check called ``name`` (``KeyError`` if it did not run)."""
        for result in self.results:
            if result.name == name:
                return result
        raise KeyError(name)

    def summary(self) -> str:
        """A readable multi-line summary: one line per check, details of failures and skips."""
        lines = []
        for result in self.results:
            lines.append(f"{result.status.upper():7} {result.name} ({result.duration:.2f}s)")
            if result.status != "passed" and result.detail:
                lines.extend(f"        {line}" for line in result.detail.splitlines()[:12])
            elif result.detail:  # what a passing check left out, and why
                lines.append(f"        note: {result.detail.splitlines()[0]}")
        counts = {s: len(self.by_status(s)) for s in ("passed", "failed", "error", "skipped")}
        lines.append(", ".join(f"{n} {s}" for s, n in counts.items()))
        return "\n".join(lines)

    def raise_for_failures(self) -> None:
        """Raise :class:`ConformanceFailure` listing every failed check (for CI scripts)."""
        if not self.ok:
            raise ConformanceFailure(
                "conformance checks failed:\n"
                + "\n".join(
                    f"- {r.name}: {r.detail.splitlines()[0] if r.detail else r.status}"
                    for r in self.failed
                )
            )
