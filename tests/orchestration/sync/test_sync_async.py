"""What only the ``async`` syncs have: ``async`` sources, the event loop, cancellation, the lock.

The behaviour shared with the blocking syncs (plans, re-plans, safety rule, faults …) is checked
by the sync test modules under both drivers (``sync_driver`` in ``tests/conftest.py``). Here:

- an ``async`` source is awaited on the loop; a blocking one runs in a worker thread and never
  blocks the loop;
- one run per (scope, company) across blocking and ``async`` runs (tags rule 26), cancellation
  releases the lock;
- the decisions are sans-I/O: the steps can be driven by hand, with no client at all.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import pleo_erp
from pleo_erp.accounting_system import (
    AsyncAccountSource,
    AsyncDimensionSource,
    AsyncTaxCodeSource,
    Dimension,
    DimensionValue,
    LedgerAccount,
    LedgerTaxCode,
    SourceReadError,
)
from pleo_erp.orchestration import (
    SQLiteCompanyLock,
    SyncAlreadyRunning,
    sync_accounts_async,
    sync_chart_of_accounts_async,
    sync_tags,
    sync_tags_async,
    sync_tax_codes_async,
)
from pleo_erp.orchestration import sync as sync_module
from pleo_erp.orchestration._sync_io import Request
from pleo_erp.state._db import StateDB
from pleo_erp.testing.inmemory_sources import InMemorySources
from pleo_erp.testing.sandbox import PleoSandbox

pytestmark = pytest.mark.sandbox(seed=11, company="Acme")

ASYNC_NAMES = (
    "sync_tags_async",
    "sync_accounts_async",
    "sync_tax_codes_async",
    "sync_chart_of_accounts_async",
)


class AsyncSources:
    """An ``async`` AS over :class:`InMemorySources`; records the thread each read ran on."""

    def __init__(self, inner: InMemorySources) -> None:
        self.inner = inner
        self.threads: list[int] = []

    async def _read(self) -> None:
        self.threads.append(threading.get_ident())
        await asyncio.sleep(0)

    async def list_dimensions(self) -> Sequence[Dimension]:
        await self._read()
        return self.inner.list_dimensions()

    async def list_dimension_values(self, dimension_code: str) -> Sequence[DimensionValue]:
        await self._read()
        return self.inner.list_dimension_values(dimension_code)

    async def list_accounts(self) -> Sequence[LedgerAccount]:
        await self._read()
        return self.inner.list_accounts()

    async def list_tax_codes(self) -> Sequence[LedgerTaxCode]:
        await self._read()
        return self.inner.list_tax_codes()


def _level3_source() -> InMemorySources:
    source = InMemorySources()
    source.add_tax_code("S25", "Standard", "0.25")
    source.add_account("e1", "1000", "Office", tax_code_external_id="S25")
    source.add_account("e2", "2000", "Travel")
    return source


def _tags_source() -> InMemorySources:
    source = InMemorySources()
    source.add_dimension("DEPT", "Department")
    source.add_value("DEPT", "ENG", "Engineering")
    source.add_value("DEPT", "OPS", "Operations")
    return source


def test_the_async_syncs_are_public_names() -> None:
    for name in ASYNC_NAMES:
        assert name in pleo_erp.orchestration.__all__
        assert asyncio.iscoroutinefunction(getattr(pleo_erp.orchestration, name))


def test_the_async_protocols_describe_an_async_source() -> None:
    source = AsyncSources(InMemorySources())
    assert isinstance(source, AsyncDimensionSource)
    assert isinstance(source, AsyncAccountSource)
    assert isinstance(source, AsyncTaxCodeSource)


def test_an_async_source_is_awaited_on_the_event_loop(sandbox: PleoSandbox, company: str) -> None:
    source = AsyncSources(_level3_source())

    async def main() -> Any:
        loop_thread = threading.get_ident()
        async with sandbox.async_client() as client:
            report = await sync_chart_of_accounts_async(client, source, company_id=company)
        return report, loop_thread

    report, loop_thread = asyncio.run(main())
    assert report.ok, report.summary()
    assert report.related["tax_codes"].counts["applied"]["create"] == 1
    assert sorted(a["externalId"] for a in sandbox.accounts(company)) == ["e1", "e2"]
    assert source.threads == [loop_thread, loop_thread]  # tax codes, then accounts


def test_a_blocking_source_runs_in_a_worker_thread_and_never_blocks_the_loop(
    sandbox: PleoSandbox, company: str
) -> None:
    """The source waits for a coroutine on the loop: run on the loop, it would never see it."""
    loop_ran = threading.Event()
    read_threads: list[int] = []

    class Blocking(InMemorySources):
        def list_dimensions(self) -> list[Dimension]:
            read_threads.append(threading.get_ident())
            if not loop_ran.wait(5):
                raise TimeoutError("the event loop was blocked by the source")
            return super().list_dimensions()

    source = Blocking()
    source.add_dimension("DEPT")
    source.add_value("DEPT", "ENG")

    async def main() -> Any:
        async def other_task() -> None:
            await asyncio.sleep(0)
            loop_ran.set()

        async with sandbox.async_client() as client:
            report, _ = await asyncio.gather(
                sync_tags_async(client, source, company_id=company, selection=["DEPT"]),
                other_task(),
            )
        return report, threading.get_ident()

    report, loop_thread = asyncio.run(main())
    assert report.ok, report.summary()
    assert read_threads
    assert loop_thread not in read_threads


def test_an_async_source_failure_is_a_source_read_error_without_its_text(
    sandbox: PleoSandbox, company: str
) -> None:  # tags rule 21, never "empty = archive everything"
    class Broken(AsyncSources):
        async def list_accounts(self) -> Sequence[LedgerAccount]:
            raise ConnectionError("password=hunter2 at erp.local")

    sandbox.add_account(company, "e9", "Pleo only")

    async def main() -> None:
        async with sandbox.async_client() as client:
            await sync_accounts_async(client, Broken(InMemorySources()), company_id=company)

    with pytest.raises(SourceReadError) as info:
        asyncio.run(main())
    assert "hunter2" not in str(info.value)
    assert [a["archived"] for a in sandbox.accounts(company)] == [False]


def test_blocking_and_async_runs_of_one_company_exclude_each_other(
    sandbox: PleoSandbox, company: str
) -> None:  # tags rule 26, with the default (process-wide) lock on both sides
    entered, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    class Slow(InMemorySources):
        def list_dimensions(self) -> list[Dimension]:
            entered.set()
            release.wait(5)
            return super().list_dimensions()

    slow = Slow()
    slow.add_dimension("DEPT")
    blocking_client = sandbox.client()

    def blocking_run() -> None:
        try:
            sync_tags(blocking_client, slow, company_id=company, selection=["DEPT"])
        except BaseException as exc:  # pragma: no cover - surfaced below
            errors.append(exc)

    worker = threading.Thread(target=blocking_run)
    worker.start()
    assert entered.wait(5)

    async def async_run(company_id: str) -> Any:
        async with sandbox.async_client() as client:
            return await sync_tags_async(
                client, _tags_source(), company_id=company_id, selection=["DEPT"]
            )

    try:
        with pytest.raises(SyncAlreadyRunning):
            asyncio.run(async_run(company))
        other = sandbox.add_company("Other")
        assert asyncio.run(async_run(other)).ok  # another company is free
    finally:
        release.set()
        worker.join(5)
    assert errors == []
    assert asyncio.run(async_run(company)).ok  # released by the blocking run


def test_two_async_runs_of_one_company_at_once_one_is_refused(
    sandbox: PleoSandbox, company: str
) -> None:  # tags rule 26 within one event loop
    class Waiting(AsyncSources):
        def __init__(self, inner: InMemorySources, entered: Any, opened: Any) -> None:
            super().__init__(inner)
            self.entered, self.opened = entered, opened

        async def list_tax_codes(self) -> Sequence[LedgerTaxCode]:
            self.entered.set()  # the first run holds its lock from here on
            await self.opened.wait()
            return await super().list_tax_codes()

    async def main() -> list[Any]:
        entered, opened = asyncio.Event(), asyncio.Event()
        async with sandbox.async_client() as client:
            waiting = Waiting(_level3_source(), entered, opened)
            first = asyncio.create_task(sync_tax_codes_async(client, waiting, company_id=company))
            await entered.wait()
            second = sync_tax_codes_async(client, _level3_source(), company_id=company)
            outcome = await asyncio.gather(second, return_exceptions=True)
            opened.set()
            return [*outcome, await first]

    refused, report = asyncio.run(main())
    assert isinstance(refused, SyncAlreadyRunning)
    assert report.ok
    assert report.counts["applied"]["create"] == 1


def _held(company: str, scope: str) -> bool:
    """Whether the default lock holds the (scope, company) key now (no run may be starting)."""
    lock = sync_module._DEFAULT_LOCK
    key = f"sync:{scope}:{uuid.UUID(company)}"
    if lock.acquire(key, "probe"):
        lock.release(key, "probe")
        return False
    return True


def test_cancelling_an_async_sync_releases_the_lock(sandbox: PleoSandbox, company: str) -> None:
    reading = asyncio.Event

    class Stuck(AsyncSources):
        def __init__(self, inner: InMemorySources, entered: asyncio.Event) -> None:
            super().__init__(inner)
            self.entered = entered

        async def list_dimensions(self) -> Sequence[Dimension]:
            self.entered.set()  # the run holds its lock from here on
            await asyncio.Event().wait()  # never set
            raise AssertionError("unreachable")

    async def main() -> Any:
        entered = reading()
        async with sandbox.async_client() as client:
            stuck = Stuck(_tags_source(), entered)
            task = asyncio.create_task(
                sync_tags_async(client, stuck, company_id=company, selection=["DEPT"])
            )
            await entered.wait()
            assert _held(company, "tags")
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert not _held(company, "tags")
            return await sync_tags_async(
                client, _tags_source(), company_id=company, selection=["DEPT"]
            )

    report = asyncio.run(main())
    assert report.ok
    assert report.counts["applied"]["create"] == 3  # the group and two tags


def test_cancelling_while_the_lock_is_being_taken_never_leaves_it_taken() -> None:
    """The worker thread may finish ``acquire`` after the task gave up: it gives it back."""
    from pleo_erp.orchestration.locks import InProcessLock
    from pleo_erp.orchestration.sync_async import _Acquisition

    inner = InProcessLock()
    started, finish = threading.Event(), threading.Event()

    class SlowLock:
        def acquire(self, company_id: str, owner: str) -> bool:
            started.set()
            finish.wait(5)
            return inner.acquire(company_id, owner)

        def renew(self, company_id: str, owner: str) -> None:
            inner.renew(company_id, owner)

        def release(self, company_id: str, owner: str) -> None:
            inner.release(company_id, owner)

    async def main() -> None:
        task = asyncio.create_task(_Acquisition(SlowLock(), "k", "me")())
        while not started.is_set():
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        finish.set()

    asyncio.run(main())  # waits for the worker thread on shutdown
    assert inner.acquire("k", "someone else")


def test_the_sqlite_lock_is_held_and_released_by_an_async_run(
    sandbox: PleoSandbox, company: str, tmp_path: Path
) -> None:
    db = StateDB(tmp_path / "state.db")
    lock = SQLiteCompanyLock(db, heartbeat=False)
    key = f"sync:accounts:{uuid.UUID(company)}"

    source = InMemorySources()
    source.add_account("e1", "1000", "Office")

    async def run() -> Any:
        async with sandbox.async_client() as client:
            return await sync_accounts_async(client, source, company_id=company, lock=lock)

    assert lock.acquire(key, "another-worker")
    with pytest.raises(SyncAlreadyRunning):
        asyncio.run(run())
    lock.release(key, "another-worker")
    assert asyncio.run(run()).ok
    assert lock.acquire(key, "next")  # the async run released it


def test_the_steps_decide_without_any_io() -> None:
    """Sans-I/O: drive a tax codes sync by hand, answering each request, with no client."""
    company = uuid.UUID(int=7)
    job = sync_module._tax_codes_job(None, {"company_id": company})
    steps = job.steps()
    asked: list[str] = []
    answers: dict[str, Any] = {
        "source.list_tax_codes": [LedgerTaxCode("S25", "Standard", "0.25")],
        "pleo.tax_codes.search": [],
        "pleo.tax_codes.create": None,
    }
    reply: Any = None
    try:
        while True:
            request: Request[Any] = steps.send(reply)
            asked.append(str(request))
            reply = answers[str(request)]
    except StopIteration as done:
        report = done.value
    assert asked == ["source.list_tax_codes", "pleo.tax_codes.search", "pleo.tax_codes.create"]
    assert report.counts["applied"]["create"] == 1
    assert report.write_requests == 1


def test_the_async_syncs_and_sources_are_top_level_names() -> None:
    for name in (*ASYNC_NAMES, "AsyncDimensionSource", "AsyncAccountSource", "AsyncTaxCodeSource"):
        assert name in pleo_erp.__all__
        assert getattr(pleo_erp, name) is not None
