"""The ``async`` twins of the Levels 2 and 3 syncs: ``sync_tags_async``, ``sync_accounts_async`` …

Each takes an :class:`~pleo_erp.client.AsyncPleoClient` and runs the *same* sans-I/O steps as
its blocking twin in :mod:`pleo_erp.orchestration.sync` (same reads, plan, safety rule,
re-plans, write order and report), only driven with ``await``:

- Pleo calls are awaited on the async client's resources (paginators read with ``async for``);
- the source may be ``async`` (:class:`~pleo_erp.accounting_system.sources.AsyncDimensionSource`,
  :class:`~pleo_erp.accounting_system.sources.AsyncAccountSource`,
  :class:`~pleo_erp.accounting_system.sources.AsyncTaxCodeSource`) or one of the blocking
  protocols, whose methods then run in a worker thread (``asyncio.to_thread``);
- the run lock is the same :class:`~pleo_erp.orchestration.locks.CompanyLock` (acquired and
  released in a worker thread), so a blocking run and an ``async`` run of the same sync for
  the same company exclude each other: the second raises :class:`SyncAlreadyRunning`;
- the tags selection store is called in a worker thread.

Cancelling the task stops the run between two requests; the lock is released.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from typing_extensions import Unpack

from pleo_erp.accounting_system.sources import (
    AccountSource,
    AsyncAccountSource,
    AsyncDimensionSource,
    AsyncTaxCodeSource,
    DimensionSource,
    TaxCodeSource,
)
from pleo_erp.client._client import AsyncPleoClient
from pleo_erp.client.resources._base import check_params
from pleo_erp.orchestration._sync_io import AsyncIO, drive_async
from pleo_erp.orchestration.locks import CompanyLock
from pleo_erp.orchestration.sync import (
    _DEFAULT_LOCK,
    SyncAlreadyRunning,
    _accounts_job,
    _chart_job,
    _Job,
    _tags_job,
    _tax_codes_job,
)
from pleo_erp.orchestration.sync_options import (
    AccountsSyncOptions,
    ChartOfAccountsSyncOptions,
    TagsSyncOptions,
    TaxCodesSyncOptions,
)
from pleo_erp.orchestration.sync_report import SyncReport

__all__ = [
    "sync_accounts_async",
    "sync_chart_of_accounts_async",
    "sync_tags_async",
    "sync_tax_codes_async",
]


class _Acquisition:
    """Takes a lock in a worker thread; a caller cancelled meanwhile never leaves it taken.

    The thread may still be inside ``acquire`` when the awaiting task is cancelled: whichever
    of the two finishes second gives the lock back.
    """

    def __init__(self, lock: CompanyLock, key: str, owner: str) -> None:
        self._lock, self._key, self._owner = lock, key, owner
        self._guard = threading.Lock()
        self._abandoned = False
        self._acquired = False

    def _take(self) -> bool:
        taken = self._lock.acquire(self._key, self._owner)
        with self._guard:
            if taken and self._abandoned:
                self._lock.release(self._key, self._owner)
                return False
            self._acquired = taken
        return taken

    async def __call__(self) -> bool:
        try:
            return await asyncio.to_thread(self._take)
        except asyncio.CancelledError:
            with self._guard:
                self._abandoned = True
                taken = self._acquired
            if taken:
                self._lock.release(self._key, self._owner)
            raise


@asynccontextmanager
async def _held_async(lock: CompanyLock | None, key: str) -> AsyncIterator[None]:
    """The ``async`` twin of ``sync._held``: the same lock, touched off the event loop."""
    chosen = lock if lock is not None else _DEFAULT_LOCK
    owner = f"sync-{uuid.uuid4()}"
    if not await _Acquisition(chosen, key, owner)():
        raise SyncAlreadyRunning(f"a sync is already running for {key}; try again later")
    try:
        yield
    finally:
        # Shielded: a cancellation arriving now must not leave the company locked.
        await asyncio.shield(asyncio.to_thread(chosen.release, key, owner))


async def _run_async(job: _Job, client: AsyncPleoClient, source: object) -> SyncReport:
    """Hold every lock key of ``job`` (in order), then drive its steps with ``await``."""
    async with AsyncExitStack() as stack:
        for key in job.keys:
            await stack.enter_async_context(_held_async(job.lock, key))
        return await drive_async(job.steps(), AsyncIO(client, source, job.store))


async def sync_tax_codes_async(
    client: AsyncPleoClient,
    source: AsyncTaxCodeSource | TaxCodeSource,
    **options: Unpack[TaxCodesSyncOptions],
) -> SyncReport:
    """The ``async`` twin of :func:`~pleo_erp.orchestration.sync.sync_tax_codes`.

    Same keywords, behaviour, report and errors; ``source`` may be ``async`` or blocking.
    """
    check_params(TaxCodesSyncOptions, options, "sync_tax_codes_async")
    return await _run_async(_tax_codes_job(client, options), client, source)


async def sync_accounts_async(
    client: AsyncPleoClient,
    source: AsyncAccountSource | AccountSource,
    **options: Unpack[AccountsSyncOptions],
) -> SyncReport:
    """The ``async`` twin of :func:`~pleo_erp.orchestration.sync.sync_accounts`.

    Same keywords, behaviour, report and errors; ``source`` may be ``async`` or blocking.
    """
    check_params(AccountsSyncOptions, options, "sync_accounts_async")
    return await _run_async(_accounts_job(client, options), client, source)


async def sync_chart_of_accounts_async(
    client: AsyncPleoClient, source: Any, **options: Unpack[ChartOfAccountsSyncOptions]
) -> SyncReport:
    """The ``async`` twin of :func:`~pleo_erp.orchestration.sync.sync_chart_of_accounts`.

    ``source`` implements both tax code and account reads, ``async`` or blocking.
    """
    check_params(ChartOfAccountsSyncOptions, options, "sync_chart_of_accounts_async")
    return await _run_async(_chart_job(client, source, options), client, source)


async def sync_tags_async(
    client: AsyncPleoClient,
    source: AsyncDimensionSource | DimensionSource,
    **options: Unpack[TagsSyncOptions],
) -> SyncReport:
    """The ``async`` twin of :func:`~pleo_erp.orchestration.sync.sync_tags`.

    Same keywords, behaviour, report and errors; ``source`` may be ``async`` or blocking,
    and the selection store (``state``) is called in a worker thread.
    """
    check_params(TagsSyncOptions, options, "sync_tags_async")
    return await _run_async(_tags_job(client, options), client, source)
