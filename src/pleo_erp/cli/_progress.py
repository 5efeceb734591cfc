"""Progress callbacks for the orchestrators that drive :meth:`Output.progress` bars.

A sync shows one bar while it applies its writes; an export shows one bar per job, advanced
per item. Both are context managers so a bar is always closed, even when the run fails.
"""

from __future__ import annotations

from contextlib import ExitStack

from pleo_erp._closing import ClosesOnExit
from pleo_erp.cli._output import Output, ProgressUpdate
from pleo_erp.orchestration.report import ProgressEvent
from pleo_erp.orchestration.sync_report import SyncPhase, SyncProgress

__all__ = ["ExportProgress", "SyncProgressBar"]


class _Bar:
    """One bar opened on demand and closed on :meth:`close`."""

    def __init__(self, out: Output) -> None:
        self._out = out
        self._stack: ExitStack | None = None
        self._update: ProgressUpdate | None = None

    def open(self, description: str, total: int) -> None:
        self.close()
        self._stack = ExitStack()
        self._update = self._stack.enter_context(self._out.progress(description, total))

    def update(self, done: int, total: int) -> None:
        if self._update is not None:
            self._update(done, total)

    @property
    def is_open(self) -> bool:
        return self._stack is not None

    def close(self) -> None:
        stack, self._stack, self._update = self._stack, None, None
        if stack is not None:
            stack.close()


class _BarProgress(ClosesOnExit):
    """A progress callback owning one :class:`_Bar`; ``with`` closes it, even on failure."""

    _bar: _Bar

    def close(self) -> None:
        """Close the bar if one is open."""
        self._bar.close()


class SyncProgressBar(_BarProgress):
    """``progress=`` for ``sync_*``: a bar over the apply phase (``label`` names the level)."""

    def __init__(self, out: Output, label: str) -> None:
        """Show bars titled ``label`` on ``out``."""
        self._bar = _Bar(out)
        self._label = label
        self._scope: object = None

    def __call__(self, event: SyncProgress) -> None:
        """Receive one progress event from the sync."""
        if event.phase is SyncPhase.APPLY and event.total:
            # One bar per scope: a chart-of-accounts sync applies tax codes, then accounts.
            if not self._bar.is_open or event.scope is not self._scope:
                self._scope = event.scope
                scope = event.scope.value.replace("_", " ")
                self._bar.open(f"{self._label}: applying {scope}", event.total)
            self._bar.update(event.done, event.total)
        elif event.phase is SyncPhase.DONE:
            self._bar.close()


class ExportProgress(_BarProgress):
    """``progress=`` for ``export_expenses``: one bar per job, advanced per finished item."""

    def __init__(self, out: Output) -> None:
        """Show bars on ``out``."""
        self._bar = _Bar(out)

    def __call__(self, event: ProgressEvent) -> None:
        """Receive one progress event from the export."""
        if event.kind in ("job_started", "job_resumed"):
            verb = "resuming" if event.kind == "job_resumed" else "exporting"
            self._bar.open(f"{verb} job {str(event.job_id)[:8]}", event.total)
        elif event.kind == "job_finished":
            self._bar.close()
        elif event.total:
            if not self._bar.is_open:
                self._bar.open(f"exporting job {str(event.job_id)[:8]}", event.total)
            self._bar.update(event.done, event.total)
