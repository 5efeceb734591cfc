"""``run_conformance``: every check against one adapter, without pytest (CLI, CI scripts)."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterable

from pleo_erp.testing.conformance._registry import CHECKS, Check, check_named
from pleo_erp.testing.conformance._subject import Subject
from pleo_erp.testing.conformance._types import (
    AdapterFactory,
    CheckResult,
    ConformanceReport,
    ConformanceSkipped,
    LedgerReader,
    ReopenHook,
    SourcesFactory,
)

__all__ = ["run_check", "run_conformance"]


#: Longest note (hypothesis's falsifying example) kept in a result's detail.
MAX_NOTE_CHARS = 400


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def _detail(error: BaseException) -> str:
    """The reason on the first line; hypothesis's example (``__notes__``) after it, shortened."""
    text = str(error) or type(error).__name__
    notes = getattr(error, "__notes__", None)  # hypothesis puts the failing example here
    if notes:
        text += "\n" + "\n".join(_shorten(str(note), MAX_NOTE_CHARS) for note in notes)
    return text


def run_check(check: Check, subject: Subject) -> CheckResult:
    """Run one check and classify how it ended (never raises for the adapter's faults)."""
    started = time.perf_counter()
    subject.take_notes()  # notes belong to the check that records them
    try:
        check.run(subject)
    except ConformanceSkipped as skip:
        status, detail = "skipped", skip.reason
    except AssertionError as failure:
        status, detail = "failed", _detail(failure)
    except Exception as error:
        status = "error"
        detail = f"{type(error).__name__}: {_detail(error)}\n" + "".join(
            traceback.format_exception(type(error), error, error.__traceback__, limit=-6)
        )
    else:
        status, detail = "passed", "; ".join(subject.take_notes())
    return CheckResult(
        name=check.name,
        title=check.title,
        status=status,  # type: ignore[arg-type]  # one of the four literals above
        detail=detail,
        duration=time.perf_counter() - started,
    )


def run_conformance(
    make_adapter: AdapterFactory,
    *,
    make_sources: SourcesFactory | None = None,
    reopen_adapter: ReopenHook | None = None,
    read_entries: LedgerReader | None = None,
    checks: Iterable[str] | None = None,
    max_examples: int = 5,
    seed: int | None = 0,
    closed_periods: bool = True,
    dimensions: bool | None = None,
    shrink: bool = False,
    progress: Callable[[CheckResult], None] | None = None,
) -> ConformanceReport:
    """Run the conformance checks against the adapter ``make_adapter`` builds.

    Args:
        make_adapter: ``make_adapter(setup)`` → a fresh adapter over a fresh AS holding
            ``setup.chart`` (see :class:`AdapterSetup`).
        make_sources: ``make_sources(setup)`` → the sync sources; default: the adapter when
            it implements ``DimensionSource`` / ``AccountSource`` / ``TaxCodeSource``.
        reopen_adapter: ``reopen_adapter(adapter, setup)`` → a new instance over the same
            storage (a restart after a crash); default: the same instance.
        read_entries: ``read_entries(adapter)`` → every :class:`LedgerEntry` the AS holds;
            enables the checks that look inside the ledger (balances, duplicates, receipts).
        checks: names of the checks to run (default: all, see ``CHECKS``).
        max_examples: hypothesis examples per property check.
        seed: hypothesis seed for reproducible runs (``None``: random).
        closed_periods: whether the AS enforces the chart's lock date.
        dimensions: whether the AS has accounting dimensions. ``False``: adapters get the
            demo chart without dimensions and must ignore ``EntryLine.dimensions``; the
            dimension cases of ``failure_mapping`` and the tags sync are skipped. ``None``
            (default): on when the adapter (or ``make_sources``) implements
            ``DimensionSource``.
        shrink: shrink failing hypothesis examples (slower).
        progress: called with each :class:`CheckResult` as it is done.

    Returns:
        A :class:`ConformanceReport`; ``report.ok`` is ``True`` when nothing failed.
    """
    subject = Subject(
        make_adapter,
        make_sources=make_sources,
        reopen_adapter=reopen_adapter,
        read_entries=read_entries,
        max_examples=max_examples,
        seed=seed,
        closed_periods=closed_periods,
        shrink=shrink,
        dimensions=dimensions,
    )
    selected = CHECKS if checks is None else tuple(check_named(name) for name in checks)
    results = []
    for check in selected:
        result = run_check(check, subject)
        results.append(result)
        if progress is not None:
            progress(result)
    return ConformanceReport(results=tuple(results))
