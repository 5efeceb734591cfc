"""``ConformanceSuite``: the kit as pytest tests, by subclassing in a vendor's test file."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from pleo_erp.accounting_system.export import ExportTarget
from pleo_erp.testing.conformance._registry import check_named
from pleo_erp.testing.conformance._subject import Subject
from pleo_erp.testing.conformance._types import AdapterSetup, ConformanceSkipped, LedgerEntry

__all__ = ["ConformanceSuite"]


class ConformanceSuite:
    """Subclass it in a test module (name the subclass ``Test…``) and implement ``make_adapter``.

    ```python
    from pleo_erp.testing.conformance import AdapterSetup, ConformanceSuite

    class TestMyAdapter(ConformanceSuite):
        def make_adapter(self, setup: AdapterSetup) -> MyAdapter:
            return MyAdapter.for_test_tenant(setup.chart, workdir=setup.workdir)
    ```

    pytest collects every ``test_*`` method below; each builds as many fresh adapters as it
    needs through :meth:`make_adapter`. Override the optional hooks to unlock more checks:
    :meth:`read_entries` (look inside the ledger), :meth:`reopen_adapter` (a restart after a
    crash), :meth:`make_sources` (sync sources that are not the adapter). A check that needs
    something the adapter lacks is skipped with the reason.

    Class attributes tune the run: ``max_examples`` (hypothesis examples per property),
    ``seed`` (``None`` for a new random run each time), ``closed_periods`` (``False`` if the
    AS has no accounting periods), ``dimensions`` (``False`` if the AS has no dimensions;
    default ``None``: on when the adapter implements ``DimensionSource``), ``shrink`` (shrink
    failing examples; slower).
    """

    max_examples: ClassVar[int] = 5
    seed: ClassVar[int | None] = 0
    closed_periods: ClassVar[bool] = True
    dimensions: ClassVar[bool | None] = None
    shrink: ClassVar[bool] = False

    # ------------------------------------------------------------------ vendor hooks

    def make_adapter(self, setup: AdapterSetup) -> ExportTarget:
        """A fresh adapter over a fresh AS that holds ``setup.chart`` (required)."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement make_adapter(setup) -> ExportTarget"
        )

    def make_sources(self, setup: AdapterSetup) -> Any:
        """Sync sources over a fresh AS holding ``setup.chart`` (default: the adapter)."""
        raise NotImplementedError  # never called unless overridden

    def reopen_adapter(self, adapter: ExportTarget, setup: AdapterSetup) -> ExportTarget:
        """A new adapter over the same storage, as after a restart (default: ``adapter``)."""
        raise NotImplementedError  # never called unless overridden

    def read_entries(self, adapter: ExportTarget) -> Iterable[LedgerEntry]:
        """Every entry the AS holds, read back from the AS (default: not available)."""
        raise NotImplementedError  # never called unless overridden

    # ------------------------------------------------------------------ plumbing

    def _overridden(self, name: str) -> Any:
        mine = getattr(type(self), name)
        return getattr(self, name) if mine is not getattr(ConformanceSuite, name) else None

    def conformance_subject(self) -> Subject:
        """The :class:`Subject` the checks run against (built from this class)."""
        return Subject(
            self.make_adapter,
            make_sources=self._overridden("make_sources"),
            reopen_adapter=self._overridden("reopen_adapter"),
            read_entries=self._overridden("read_entries"),
            max_examples=self.max_examples,
            seed=self.seed,
            closed_periods=self.closed_periods,
            shrink=self.shrink,
            dimensions=self.dimensions,
        )

    def run_conformance_check(self, name: str) -> None:
        """Run one check by name; a skip becomes ``pytest.skip``."""
        try:
            check_named(name).run(self.conformance_subject())
        except ConformanceSkipped as skip:
            import pytest  # only needed when running under pytest

            pytest.skip(skip.reason)

    # ------------------------------------------------------------------ the checks

    def test_protocol(self) -> None:
        """The adapter implements ``ExportTarget``; a fresh AS finds nothing."""
        self.run_conformance_check("protocol")

    def test_balanced_entries(self) -> None:
        """Random valid entries are stored balanced, with exact amounts, and found again."""
        self.run_conformance_check("balanced_entries")

    def test_failure_mapping(self) -> None:
        """Unknown accounts / tax codes / tags and closed periods raise the right error type."""
        self.run_conformance_check("failure_mapping")

    def test_closed_periods(self) -> None:
        """``is_period_open`` and ``next_open_date`` follow the lock date (C21)."""
        self.run_conformance_check("closed_periods")

    def test_attachments(self) -> None:
        """Receipts are attached once per key (C18)."""
        self.run_conformance_check("attachments")

    def test_demo_export(self) -> None:
        """The sandbox demo queue ends exactly as the demo expects, in Pleo and in the AS."""
        self.run_conformance_check("demo_export")

    def test_exactly_once_rerun(self) -> None:
        """Reruns and re-exports post nothing twice (DESIGN decision 5)."""
        self.run_conformance_check("exactly_once_rerun")

    def test_exactly_once_crash(self) -> None:
        """Crashes and lost responses after posting never cause a duplicate entry."""
        self.run_conformance_check("exactly_once_crash")

    def test_period_adjustment(self) -> None:
        """``closed_period="next_open"`` books the closed-period item on an open date."""
        self.run_conformance_check("period_adjustment")

    def test_sync_idempotent(self) -> None:
        """Syncing the chart converges and a second sync writes nothing (tags rule 20)."""
        self.run_conformance_check("sync_idempotent")

    def test_sync_converges(self) -> None:
        """After random edits in the AS one sync converges; nothing is deleted (rule 18)."""
        self.run_conformance_check("sync_converges")
