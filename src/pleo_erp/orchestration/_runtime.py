"""The export's injectables as one object (issue 12 item 6).

:func:`~pleo_erp.export_expenses`, :func:`~pleo_erp.process_job` and their ``async`` twins
take the same keyword arguments (``config``, ``progress``, ``lock``, ``lease_store``,
``journal``, ``sleep``, ``clock``, ``receipt_http_client``); each builds one
:class:`ExportRuntime` from them, and everything below works from that object.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import httpx
from attrs import define, field

from pleo_erp.domain.config import ExportConfig
from pleo_erp.orchestration.locks import CompanyLock
from pleo_erp.orchestration.report import ProgressCallback
from pleo_erp.state.export_journal import ExportJournal
from pleo_erp.state.lease import LeaseStore

__all__ = ["ExportRuntime"]


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@define(kw_only=True)
class ExportRuntime:
    """Everything an export run is given besides the client and the accounting system.

    Attributes:
        config: the :class:`~pleo_erp.domain.config.ExportConfig` (defaults are safe).
        progress: called with a ``ProgressEvent`` per step and item.
        lock: a legacy per-company lock (``None``: the in-process default).
        lease_store: where the company's lease lives (not together with ``lock``).
        journal: an optional export journal.
        sleep: how to wait between retries (``None``: the client's own sleep); a coroutine
            function for the ``async`` driver.
        clock: the current time as a UTC ``datetime`` (``None``: the system clock).
        receipt_http_client: the ``httpx.Client`` for receipt downloads (``None``: derived
            from the Pleo client, without its credentials).
    """

    config: ExportConfig = field(factory=ExportConfig)
    progress: ProgressCallback | None = None
    lock: CompanyLock | None = None
    lease_store: LeaseStore | None = None
    journal: ExportJournal | None = None
    sleep: Callable[[float], Any] | None = None
    clock: Callable[[], datetime] | None = None
    receipt_http_client: httpx.Client | None = None

    def wall_clock(self) -> Callable[[], datetime]:
        """The clock to use (the injected one, else UTC now)."""
        return self.clock or _utcnow

    def monotonic(self) -> Callable[[], float]:
        """Elapsed-time source: the injected clock's timestamps when one is given."""
        clock = self.clock
        if clock is not None:
            return lambda: clock().timestamp()
        return time.monotonic
