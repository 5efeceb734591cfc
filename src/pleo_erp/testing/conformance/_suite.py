"""``ConformanceSuite``: the kit as pytest tests, by subclassing in a vendor's test file."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from pleo_erp.accounting_system.export import ExportTarget
from pleo_erp.testing.conformance._registry import check_named
from pleo_erp.testing.conformance._subject import Subject
from pleo_erp.testing.conformance._types import AdapterSetup, ConformanceSkipped, LedgerEntry

__all__ = ["ConformanceSuite"]


def _check_test(name: str) -> Callable[[ConformanceSuite], None]:
    """The test method that runs the check called ``name``; its docstring is the check's title."""
    check = check_named(name)

    def test(self: ConformanceSuite) -> None:
        self.run_conformance_check(name)

    test.__name__ = f"test_{name}"
    test.__qualname__ = f"ConformanceSuite.test_{name}"
    test.__doc__ = f"{check.title[:1].upper()}{check.title[1:]}."
    return test


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
    # One test method per check in :data:`CHECKS` order, named ``test_<check name>``.

    test_protocol = _check_test("protocol")
    test_balanced_entries = _check_test("balanced_entries")
    test_failure_mapping = _check_test("failure_mapping")
    test_closed_periods = _check_test("closed_periods")
    test_attachments = _check_test("attachments")
    test_demo_export = _check_test("demo_export")
    test_exactly_once_rerun = _check_test("exactly_once_rerun")
    test_exactly_once_crash = _check_test("exactly_once_crash")
    test_period_adjustment = _check_test("period_adjustment")
    test_sync_idempotent = _check_test("sync_idempotent")
    test_sync_converges = _check_test("sync_converges")
