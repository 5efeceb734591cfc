"""The conformance kit itself: it fails broken adapters, skips what cannot run, reports clearly.

Each broken adapter is the in-memory AS with one realistic bug; the kit must flag it in the
check responsible for that rule (and say why), or it proves nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from attrs import evolve

from pleo_erp.accounting_system import Attachment, Entry, PostedEntry
from pleo_erp.testing.conformance import (
    CHECKS,
    AdapterSetup,
    ConformanceFailure,
    ConformanceSuite,
    LedgerEntry,
    LedgerPosting,
    run_conformance,
)
from pleo_erp.testing.inmemory import InMemoryAccountingSystem
from tests.conformance.test_conformance_inmemory import inmemory_entries, inmemory_for

FAST = {"max_examples": 3, "seed": 7}


class Forgetful(InMemoryAccountingSystem):
    """Never finds what it posted: no external reference lookup (the classic double post)."""

    def find_posted(self, accounting_entry_id: UUID) -> PostedEntry | None:
        super().find_posted(accounting_entry_id)
        return None


class LeakyRejection(InMemoryAccountingSystem):
    """Stores an entry with an unknown account before refusing it (half-written entries)."""

    def post(self, entry: Entry, attachments: Sequence[Attachment]) -> PostedEntry:
        bad = [line for line in entry.lines if line.account not in self.known_codes()]
        if bad:
            self.validate_accounts = False
            try:
                super().post(entry, attachments)
            finally:
                self.validate_accounts = True
        return super().post(entry, attachments)

    def known_codes(self) -> set[str]:
        return {a.code for a in self.accounts if a.active and a.code}


class SloppyErrors(InMemoryAccountingSystem):
    """Lets a lookup error escape instead of raising ``UnknownTaxCodeError``."""

    def post(self, entry: Entry, attachments: Sequence[Attachment]) -> PostedEntry:
        codes = {t.code: t for t in self.tax_codes if t.active}
        for line in entry.lines:
            if line.tax_code is not None:
                _ = codes[line.tax_code]  # KeyError → unexpected_failure in Pleo
        return super().post(entry, attachments)


def _centi_entries(system: InMemoryAccountingSystem) -> Iterator[LedgerEntry]:
    """Reads back like an adapter that divides every amount by 100 (wrong for JPY)."""
    for stored in system.entries:
        yield LedgerEntry(
            accounting_entry_id=stored.accounting_entry_id,
            external_id=stored.external_id,
            postings=[
                LedgerPosting(
                    account=line.account,
                    amount=(Decimal(line.debit) - Decimal(line.credit)) / 100,
                    currency=line.currency,
                )
                for line in stored.entry.lines
            ],
        )


def _dropping_entries(system: InMemoryAccountingSystem) -> Iterator[LedgerEntry]:
    """Reads back like an adapter that lost the last line of multi-line entries."""
    for ledger_entry in inmemory_entries(system):
        postings = ledger_entry.postings
        if len(postings) > 2:
            postings = postings[:-1]
        yield evolve(ledger_entry, postings=postings)


def _factory(cls: type[InMemoryAccountingSystem]) -> Any:
    return lambda setup: inmemory_for(setup, cls)


def test_forgetful_adapter_fails_exactly_once_checks() -> None:
    """Decision 5: an adapter whose find_posted finds nothing posts twice after a crash."""
    report = run_conformance(
        _factory(Forgetful),
        read_entries=inmemory_entries,  # type: ignore[arg-type]
        checks=["balanced_entries", "exactly_once_rerun", "exactly_once_crash"],
        **FAST,  # type: ignore[arg-type]
    )
    assert not report.ok
    assert {r.name for r in report.failed} == {
        "balanced_entries",
        "exactly_once_rerun",
        "exactly_once_crash",
    }
    assert "find_posted" in report.result("balanced_entries").detail
    crash = report.result("exactly_once_crash").detail
    assert "posted 2 times" in crash or "entries for accountingEntryId" in crash


def test_unbalanced_ledger_fails_balanced_entries() -> None:
    """Σ debit = Σ credit is checked in what the AS stored, not in what it was given."""
    report = run_conformance(
        inmemory_for,
        read_entries=_dropping_entries,  # type: ignore[arg-type]
        checks=["balanced_entries"],
        max_examples=10,
        seed=3,
    )
    result = report.result("balanced_entries")
    assert result.status == "failed"
    assert "does not balance" in result.detail


def test_minor_unit_bug_fails_balanced_entries() -> None:
    """Dividing by 100 for every currency breaks JPY amounts: the conservation check sees it."""
    report = run_conformance(
        inmemory_for,
        read_entries=_centi_entries,  # type: ignore[arg-type]
        checks=["balanced_entries"],
        max_examples=30,
        seed=5,
    )
    result = report.result("balanced_entries")
    assert result.status == "failed"
    assert "other amounts than posted" in result.detail
    assert "JPY" in result.detail


def test_half_written_rejection_fails_failure_mapping() -> None:
    """A refused entry must leave nothing behind in the AS."""
    report = run_conformance(
        _factory(LeakyRejection),
        read_entries=inmemory_entries,  # type: ignore[arg-type]
        checks=["failure_mapping"],
        max_examples=20,
        seed=11,
    )
    result = report.result("failure_mapping")
    assert result.status == "failed"
    assert "accepted the entry" in result.detail or "leave nothing behind" in result.detail


def test_untyped_errors_fail_failure_mapping() -> None:
    """A ``KeyError`` would reach Pleo as unexpected_failure: the kit names the fix."""
    report = run_conformance(
        _factory(SloppyErrors), checks=["failure_mapping"], max_examples=30, seed=2
    )
    result = report.result("failure_mapping")
    assert result.status == "failed"
    assert "KeyError" in result.detail
    assert "AccountingSystemError" in result.detail


def test_non_source_adapter_skips_sync_checks_with_reason() -> None:
    """Checks needing a capability the adapter lacks are skipped, not failed."""

    class ExportOnly:
        def __init__(self, inner: InMemoryAccountingSystem) -> None:
            self._inner = inner

        def __getattr__(self, name: str) -> Any:
            if name.startswith("list_"):
                raise AttributeError(name)
            return getattr(self._inner, name)

        capabilities = property(lambda self: self._inner.capabilities)
        accounts_mapping = property(lambda self: self._inner.accounts_mapping)
        check_ready = property(lambda self: self._inner.check_ready)
        find_vendor = property(lambda self: self._inner.find_vendor)
        is_period_open = property(lambda self: self._inner.is_period_open)
        next_open_date = property(lambda self: self._inner.next_open_date)
        find_posted = property(lambda self: self._inner.find_posted)
        post = property(lambda self: self._inner.post)
        attach = property(lambda self: self._inner.attach)

    report = run_conformance(
        lambda setup: ExportOnly(inmemory_for(setup)),
        checks=["protocol", "sync_idempotent", "sync_converges"],
        **FAST,  # type: ignore[arg-type]
    )
    assert report.ok
    assert report.result("protocol").status == "passed"
    for name in ("sync_idempotent", "sync_converges"):
        result = report.result(name)
        assert result.status == "skipped"
        assert "DimensionSource" in result.detail


def test_report_summary_and_raise() -> None:
    """The report lists every check; ``raise_for_failures`` names the failed ones."""
    seen: list[str] = []
    report = run_conformance(
        _factory(Forgetful),
        checks=["protocol", "balanced_entries"],
        progress=lambda result: seen.append(result.name),
        **FAST,  # type: ignore[arg-type]
    )
    assert seen == ["protocol", "balanced_entries"]
    assert [r.name for r in report.passed] == ["protocol"]
    text = report.summary()
    assert "PASSED  protocol" in text
    assert "FAILED  balanced_entries" in text
    with pytest.raises(ConformanceFailure, match="balanced_entries"):
        report.raise_for_failures()


def test_unknown_check_name_is_refused() -> None:
    """A typo in ``checks=`` fails loudly with the valid names."""
    with pytest.raises(KeyError, match="exactly_once_crash"):
        run_conformance(inmemory_for, checks=["exactly_once"])


def test_suite_exposes_one_test_per_check() -> None:
    """Every registered check has a ``test_<name>`` method pytest collects."""
    for check in CHECKS:
        assert callable(getattr(ConformanceSuite, f"test_{check.name}"))


def test_suite_without_make_adapter_explains() -> None:
    """Forgetting ``make_adapter`` is a clear error, not a mysterious failure."""

    class Incomplete(ConformanceSuite):
        pass

    with pytest.raises(NotImplementedError, match="make_adapter"):
        Incomplete().test_protocol()


class _ForgetfulSuite(ConformanceSuite):
    """The pytest entry point against a broken adapter (not collected: no ``Test`` prefix)."""

    max_examples = 2

    def make_adapter(self, setup: AdapterSetup) -> InMemoryAccountingSystem:
        return _factory(Forgetful)(setup)  # type: ignore[no-any-return]


def test_suite_fails_a_double_posting_adapter() -> None:
    """Through ``ConformanceSuite`` the crash check fails with an assertion pytest reports."""
    with pytest.raises(AssertionError, match="posted 2 times"):
        _ForgetfulSuite().test_exactly_once_crash()


def test_suite_turns_skips_into_pytest_skips() -> None:
    """A check the adapter cannot run becomes ``pytest.skip`` with the kit's reason."""

    class NoPeriods(ConformanceSuite):
        closed_periods = False

        def make_adapter(self, setup: AdapterSetup) -> InMemoryAccountingSystem:
            return inmemory_for(setup)

    with pytest.raises(pytest.skip.Exception, match="no accounting periods"):
        NoPeriods().test_closed_periods()
