"""The adapter under test: the vendor's hooks, kit settings and per-check workspaces."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import attrs
from attrs import evolve
from hypothesis import HealthCheck, Phase, settings
from hypothesis import seed as hypothesis_seed

from pleo_erp.accounting_system.export import ExportTarget
from pleo_erp.accounting_system.sources import AccountSource, DimensionSource, TaxCodeSource
from pleo_erp.testing.conformance._types import (
    AdapterFactory,
    AdapterSetup,
    ConformanceFailure,
    LedgerEntry,
    LedgerReader,
    ReopenHook,
    SourcesFactory,
)
from pleo_erp.testing.sandbox.demo import DemoAccount, DemoChart, build_demo

__all__ = ["Subject", "Workspace"]

_F = TypeVar("_F", bound=Callable[..., Any])

#: Wallet accounts the kit adds to the demo chart so that every currency of
#: ``ENTRY_CURRENCIES`` has a wallet account kept in that currency (the exporter never books a
#: wallet on another currency's account); JPY keeps the zero-decimal case covered.
KIT_WALLETS: dict[str, tuple[str, str]] = {
    "SEK": ("5812", "Pleo Wallet SEK"),
    "JPY": ("5813", "Pleo Wallet JPY"),
}


def _with_kit_wallets(chart: DemoChart) -> DemoChart:
    """``chart`` with a wallet account per kit currency it lacks (see :data:`KIT_WALLETS`)."""
    by_currency = dict(chart.mapping.wallet_by_currency)
    accounts = list(chart.accounts)
    codes = {a.code for a in accounts}
    for currency, (code, name) in KIT_WALLETS.items():
        if currency in by_currency or code in codes:
            continue
        accounts.append(DemoAccount(f"ext-{code}", code, name, "asset"))
        by_currency[currency] = code
    fields = attrs.asdict(chart.mapping, recurse=False)
    mapping = type(chart.mapping)(**{**fields, "wallet_by_currency": by_currency})
    return evolve(chart, accounts=tuple(accounts), mapping=mapping)


#: The demo company's id and chart (the chart does not depend on the seed), with the kit's
#: per-currency wallets.
_DEMO = build_demo(1)
DEMO_CHART: DemoChart = _with_kit_wallets(_DEMO.chart)
DEMO_COMPANY_ID = UUID(_DEMO.company_id)
DEMO_CURRENCY: str = _DEMO.currency
#: The demo chart for a ledger without dimensions (``dimensions=False``).
DEMO_CHART_WITHOUT_DIMENSIONS: DemoChart = evolve(DEMO_CHART, dimensions=())


class Workspace:
    """Fresh adapters for one check (or one hypothesis example); cleans up on exit.

    Every adapter gets its own temporary ``workdir``; adapters with a ``close()`` method are
    closed when the workspace ends.
    """

    def __init__(self, subject: Subject) -> None:
        self._subject = subject
        self._dirs: list[Path] = []
        self._closables: list[Any] = []

    def setup(
        self,
        chart: DemoChart | None = None,
        company_id: UUID | None = None,
        *,
        keep_dimensions: bool = False,
    ) -> AdapterSetup:
        """A new :class:`AdapterSetup` with an empty private directory.

        ``chart`` defaults to the subject's chart (the demo's, without dimensions when the
        subject has none); a given chart loses its dimensions likewise.
        """
        workdir = Path(tempfile.mkdtemp(prefix="pleo-erp-conformance-"))
        self._dirs.append(workdir)
        if not keep_dimensions:
            chart = self._subject.chart if chart is None else self._subject.adapt_chart(chart)
        elif chart is None:
            chart = DEMO_CHART
        return AdapterSetup(
            chart=chart,
            workdir=workdir,
            company_id=company_id if company_id is not None else DEMO_COMPANY_ID,
            currency=DEMO_CURRENCY,
        )

    def adapter(self, setup: AdapterSetup) -> ExportTarget:
        """The vendor's adapter for ``setup`` (checked to implement ``ExportTarget``)."""
        adapter = self._subject.make_adapter(setup)
        self._track(adapter)
        if not isinstance(adapter, ExportTarget):
            raise ConformanceFailure(
                f"make_adapter returned {type(adapter).__name__}, which does not implement "
                "pleo_erp.accounting_system.ExportTarget (capabilities, accounts_mapping, "
                "check_ready, find_vendor, is_period_open, next_open_date, find_posted, post, "
                "attach); subclass BaseExportTarget to get permissive defaults"
            )
        return adapter

    def reopen(self, adapter: ExportTarget, setup: AdapterSetup) -> ExportTarget:
        """A new instance over the same storage (the vendor's ``reopen_adapter``)."""
        hook = self._subject.reopen_adapter
        if hook is None:
            return adapter
        reopened = hook(adapter, setup)
        self._track(reopened)
        return reopened

    def sources(self, setup: AdapterSetup) -> Any | None:
        """The sync sources for ``setup``: ``make_sources`` or else the adapter itself."""
        if self._subject.make_sources is not None:
            sources = self._subject.make_sources(setup)
            if sources is not None:
                self._track(sources)
            return sources
        adapter = self.adapter(setup)
        if isinstance(adapter, (DimensionSource, AccountSource, TaxCodeSource)):
            return adapter
        return None

    def _track(self, obj: Any) -> None:
        if callable(getattr(obj, "close", None)) and all(o is not obj for o in self._closables):
            self._closables.append(obj)

    def close(self) -> None:
        """Close tracked adapters (newest first) and remove the directories."""
        errors: list[BaseException] = []
        for obj in reversed(self._closables):
            try:
                obj.close()
            except Exception as error:  # keep cleaning up; report the first problem
                errors.append(error)
        self._closables.clear()
        for workdir in self._dirs:
            shutil.rmtree(workdir, ignore_errors=True)
        self._dirs.clear()
        if errors:
            raise ConformanceFailure(f"closing an adapter failed: {errors[0]!r}") from errors[0]


class Subject:
    """An adapter under test: the vendor's factories and hooks plus the kit's settings.

    Args:
        make_adapter: builds a fresh adapter over a fresh AS holding ``setup.chart``.
        make_sources: builds the sync sources; ``None`` uses the adapter when it implements
            the source protocols.
        reopen_adapter: a new adapter over the same storage (simulates a restart).
        read_entries: reads every entry back from the AS; without it the checks that must
            look inside the ledger (balances, duplicates) rely on ``find_posted`` only.
        max_examples: hypothesis examples per property check (each may run whole exports).
        seed: fixes hypothesis's randomness (``None``: a new random run each time).
        closed_periods: the AS enforces the chart's lock date (``False`` skips period checks
            and expects the demo's closed-period item to be exported).
        dimensions: the AS has accounting dimensions (department, project …). ``False``: the
            adapter's chart has no dimensions, the adapter ignores ``EntryLine.dimensions``,
            the dimension cases of ``failure_mapping`` and the tags sync are skipped, and the
            demo's ``tag_unknown`` item is expected to be exported. ``None`` (default): on
            when the adapter or the ``make_sources`` sources implement ``DimensionSource``.
        shrink: let hypothesis shrink a failing example (slower, smaller counterexample).
    """

    def __init__(
        self,
        make_adapter: AdapterFactory,
        *,
        make_sources: SourcesFactory | None = None,
        reopen_adapter: ReopenHook | None = None,
        read_entries: LedgerReader | None = None,
        max_examples: int = 5,
        seed: int | None = 0,
        closed_periods: bool = True,
        shrink: bool = False,
        dimensions: bool | None = None,
    ) -> None:
        if max_examples < 1:
            raise ValueError("max_examples must be >= 1")
        self.make_adapter = make_adapter
        self.make_sources = make_sources
        self.reopen_adapter = reopen_adapter
        self.read_entries = read_entries
        self.max_examples = max_examples
        self.seed = seed
        self.closed_periods = closed_periods
        self.shrink = shrink
        self.dimensions = dimensions
        self._notes: list[str] = []

    def note(self, text: str) -> None:
        """Record what a passing check left out and why (shown in its result's detail)."""
        if text not in self._notes:
            self._notes.append(text)

    def take_notes(self) -> list[str]:
        """The notes recorded since the last call (and forget them)."""
        notes, self._notes = self._notes, []
        return notes

    def note_without_dimensions(self, what: str) -> None:
        """Note that ``what`` was skipped because the AS has no dimensions."""
        if not self.uses_dimensions:
            self.note(f"{what} skipped: the AS has no dimensions (dimensions=False)")

    @property
    def uses_dimensions(self) -> bool:
        """Whether the dimension checks run (``dimensions``, or detected once from the adapter).

        Detection builds one adapter (and, if that is no ``DimensionSource``, the
        ``make_sources`` sources) over the demo chart without dimensions and asks whether it
        implements ``DimensionSource``; the answer is cached.
        """
        if self.dimensions is None:
            with self.workspace() as space:
                # The chart does not matter for the answer; without dimensions, an adapter
                # that has none never sees any.
                setup = space.setup(chart=DEMO_CHART_WITHOUT_DIMENSIONS, keep_dimensions=True)
                found = isinstance(space.adapter(setup), DimensionSource)
                if not found and self.make_sources is not None:
                    sources = self.make_sources(setup)
                    if sources is not None:
                        space._track(sources)
                    found = isinstance(sources, DimensionSource)
                self.dimensions = found
        return self.dimensions

    @property
    def chart(self) -> DemoChart:
        """The chart every adapter is set up with: the demo's, minus dimensions if off."""
        return DEMO_CHART if self.uses_dimensions else DEMO_CHART_WITHOUT_DIMENSIONS

    def adapt_chart(self, chart: DemoChart) -> DemoChart:
        """``chart`` as this subject's AS holds it (without dimensions when it has none)."""
        return chart if self.uses_dimensions else evolve(chart, dimensions=())

    @contextlib.contextmanager
    def workspace(self) -> Iterator[Workspace]:
        """A :class:`Workspace` closed (adapters and temp dirs) when the block ends."""
        space = Workspace(self)
        try:
            yield space
        finally:
            space.close()

    def ledger(self, adapter: ExportTarget) -> list[LedgerEntry] | None:
        """Every entry the AS holds, or ``None`` without a ``read_entries`` hook."""
        if self.read_entries is None:
            return None
        return list(self.read_entries(adapter))

    def property_test(self, test: _F, *, examples: int | None = None) -> _F:
        """Apply the kit's hypothesis settings (bounded, no deadline, no database) to ``test``."""
        phases = [Phase.explicit, Phase.generate]
        if self.shrink:
            phases.append(Phase.shrink)
        configured = settings(
            max_examples=examples if examples is not None else self.max_examples,
            deadline=None,
            database=None,
            phases=phases,
            derandomize=False,
            suppress_health_check=list(HealthCheck),
            print_blob=False,
            report_multiple_bugs=False,
        )(test)
        if self.seed is not None:
            configured = hypothesis_seed(self.seed)(configured)
        return configured
