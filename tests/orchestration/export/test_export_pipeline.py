"""Concurrent posting, streamed pages, and exactly-once with posts in flight (issue 13).

``ExportConfig.post_concurrency`` items may be in the accounting system at once, capped by
``Capabilities.max_concurrent_posts``; the blocking driver runs them on a thread pool, the async
driver as tasks. Rules proven here, for both drivers: the bound holds and is reached, a
supplier payment is posted after its invoice (C17), outcomes go out in batches of ≤ 100 while
posting goes on (C24, export-api.md Part 3 rule 12), export items are streamed page by page
with the next page fetched while the current one posts, and a crash at any step with 8 posts
in flight, then a rerun, leaves every item posted exactly once.
"""

from __future__ import annotations

import asyncio
import gc
import secrets
import threading
from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest

from pleo_erp.accounting_system import Capabilities, Entry, PostedEntry
from pleo_erp.domain.config import ExportConfig
from pleo_erp.models import ExportItemV3
from pleo_erp.orchestration._pipeline import PostScheduler, effective_post_concurrency
from pleo_erp.orchestration.export import export_expenses, export_expenses_async
from pleo_erp.orchestration.locks import InProcessLock
from pleo_erp.orchestration.report import ExportReport, ProgressEvent
from pleo_erp.state import StateDB
from pleo_erp.state.export_journal import SQLiteExportJournal
from pleo_erp.state.lease import LeaseLost
from pleo_erp.testing.inmemory import InMemoryAccountingSystem
from pleo_erp.testing.sandbox import PleoSandbox
from tests.helpers.export import invoice_info, sandbox_item, vendor
from tests.helpers.export_drivers import AsyncTarget, async_twin

DRIVERS = ["sync", "async"]


class SimulatedCrash(BaseException):
    """The process dies here."""


class GaugedSystem(InMemoryAccountingSystem):
    """Counts posts in flight. With ``gather``, the first posts wait (bounded) until that many
    are in flight at once, so a test can prove the bound is reached, not just respected."""

    def __init__(self, *, cap: int | None = 64, gather: int = 0, **kwargs: Any) -> None:
        caps = Capabilities(max_concurrent_posts=cap) if cap is not None else Capabilities()
        super().__init__(capabilities=caps, **kwargs)
        self.gather = gather
        self.cond = threading.Condition()
        self.now = 0
        self.peak = 0
        self.log: list[tuple[str, UUID]] = []
        self.on_post: Callable[[Entry], None] | None = None

    def enter(self, entry: Entry) -> None:
        with self.cond:
            self.now += 1
            self.peak = max(self.peak, self.now)
            self.log.append(("start", entry.accounting_entry_id))
            self.cond.notify_all()

    def leave(self, entry: Entry) -> None:
        with self.cond:
            self.now -= 1
            self.log.append(("end", entry.accounting_entry_id))

    def post(self, entry: Entry, attachments: Any) -> PostedEntry:
        self.enter(entry)
        try:
            if self.gather:
                with self.cond:
                    self.cond.wait_for(lambda: self.peak >= self.gather, timeout=10)
            if self.on_post is not None:
                self.on_post(entry)
            return super().post(entry, attachments)
        finally:
            self.leave(entry)


class AsyncGauged(AsyncTarget):
    """The async face of a :class:`GaugedSystem`: waiting for company yields to the loop."""

    inner: GaugedSystem

    async def post(self, entry: Entry, attachments: Any) -> PostedEntry:
        system = self.inner
        system.enter(entry)
        try:
            for _ in range(10_000):
                if system.peak >= system.gather:
                    break
                await asyncio.sleep(0)
            if system.on_post is not None:
                system.on_post(entry)
            posted: PostedEntry = InMemoryAccountingSystem.post(system, entry, attachments)
            return posted
        finally:
            system.leave(entry)


class Env:
    """One company in a sandbox and a gauged in-memory AS."""

    def __init__(self, *, seed: int = 11, **system_kwargs: Any) -> None:
        self.sb = PleoSandbox(seed=seed)
        self.company = self.sb.add_company("Pipeline Co")
        self.client = self.sb.client()
        self.system = GaugedSystem(**system_kwargs)

    def run(self, driver: str, **kwargs: Any) -> ExportReport:
        kwargs.setdefault("clock", self.sb.clock.now)
        if driver == "sync":
            kwargs.setdefault("sleep", self.sb.clock.sleep)
            return export_expenses(self.client, self.system, company_id=self.company, **kwargs)

        async def run_async() -> ExportReport:
            return await export_expenses_async(
                async_twin(self.client), AsyncGauged(self.system), company_id=self.company, **kwargs
            )

        return asyncio.run(run_async())

    def puts(self) -> list[Any]:
        return [r for r in self.sb.requests if r.method == "PUT" and r.status == 200]


# --- the sans-I/O scheduler


def _item(kind: str = "card_purchase", number: str | None = None, day: int = 15) -> ExportItemV3:
    from pleo_erp.client.serialization import structure
    from tests.helpers.export import item_json

    extra: dict[str, Any] = {"date": f"2024-03-{day:02d}T10:00:00Z", "type": kind}
    if number is not None:
        extra.update(bookkeeping="accounts_payable", vendor=vendor(), invoice=invoice_info(number))
    return structure(item_json(**extra), ExportItemV3)


def test_scheduler_starts_in_order_up_to_the_limit() -> None:
    items = [_item() for _ in range(5)]
    scheduler = PostScheduler(3)
    scheduler.extend(items)
    started = [scheduler.next_ready() for _ in range(4)]
    assert started[:3] == items[:3]
    assert started[3] is None
    scheduler.finished(items[1])
    assert scheduler.next_ready() is items[3]
    assert scheduler.in_flight == 3
    assert scheduler.queued == 1


def test_scheduler_holds_a_payment_while_its_invoice_is_in_flight() -> None:  # rule C17
    invoice, payment, other = _item("invoice", "A-1"), _item("invoice_payment", "A-1"), _item()
    second_invoice = _item("invoice", "A-1")
    scheduler = PostScheduler(8)
    scheduler.extend([invoice, payment, second_invoice, other])
    assert scheduler.next_ready() is invoice
    assert scheduler.next_ready() is other  # unrelated items go ahead of the held payment
    assert scheduler.next_ready() is None  # the payment, and what shares its number, wait
    scheduler.finished(other)
    assert scheduler.next_ready() is None
    scheduler.finished(invoice)
    assert scheduler.next_ready() is payment
    assert scheduler.next_ready() is second_invoice


def test_scheduler_never_deadlocks_on_a_payment_ahead_of_its_invoice() -> None:
    payment, invoice = _item("invoice_payment", "B-2"), _item("invoice", "B-2")
    scheduler = PostScheduler(8)
    scheduler.extend([payment, invoice])
    assert scheduler.next_ready() is payment
    assert scheduler.next_ready() is invoice


def test_prefetch_window_yields_only_the_items_not_seen_yet() -> None:
    items = [_item() for _ in range(6)]
    scheduler = PostScheduler(1)
    scheduler.extend(items)
    seen: set[UUID] = set()
    assert scheduler.upcoming_unseen(3, seen) == items[:3]
    seen.update(i.accounting_entry_id for i in items[:3])
    assert scheduler.upcoming_unseen(3, seen) == []
    assert scheduler.next_ready() is items[0]  # the window slides by one: one new item
    assert scheduler.upcoming_unseen(3, seen) == [items[3]]
    seen.add(items[3].accounting_entry_id)
    assert scheduler.upcoming_unseen(10, seen) == items[4:]


def test_effective_concurrency_is_capped_by_the_adapter() -> None:
    assert effective_post_concurrency(8, 64) == 8
    assert effective_post_concurrency(8, 3) == 3
    assert effective_post_concurrency(8, None) == 1
    assert effective_post_concurrency(1, 64) == 1


# --- both drivers


@pytest.mark.parametrize("driver", DRIVERS)
def test_eight_posts_in_flight_and_every_item_posted_once(driver: str) -> None:
    env = Env(gather=8)
    job = env.sb.create_export_job(env.company, 24)
    report = env.run(driver, config=ExportConfig(post_concurrency=8))
    assert env.system.peak == 8  # reached, never exceeded
    assert env.sb.job_status(job) == "completed"
    assert len(env.system.entries) == 24
    assert env.system.duplicates() == []
    assert all(item.reported for item in report.items)


@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize(("cap", "expected"), [(None, 1), (3, 3)])
def test_the_adapter_caps_posts_in_flight(driver: str, cap: int | None, expected: int) -> None:
    env = Env(cap=cap, gather=expected)
    env.sb.create_export_job(env.company, 12)
    env.run(driver, config=ExportConfig(post_concurrency=8))
    assert env.system.peak == expected
    assert len(env.system.entries) == 12


@pytest.mark.parametrize("driver", DRIVERS)
def test_c17_payment_posted_after_its_invoice_with_posts_in_flight(driver: str) -> None:
    env = Env(gather=2, auto_vendors=True)
    ap = {"bookkeeping": "accounts_payable", "vendor": vendor(), "contra": None}
    invoice = sandbox_item(
        type="invoice", invoice=invoice_info("INV-9"), date="2024-03-01T10:00:00Z", **ap
    )
    payment = sandbox_item(
        type="invoice_payment",
        invoice=invoice_info("INV-9"),
        date="2024-03-01T10:00:00Z",
        bookkeeping="accounts_payable",
        vendor=vendor(),
    )
    # The payment sorts right after the invoice (same date, larger id); fillers after both.
    invoice["accountingEntryId"] = "00000000-0000-4000-8000-000000000001"
    payment["accountingEntryId"] = "00000000-0000-4000-8000-000000000002"
    fillers = [sandbox_item(date="2024-03-02T10:00:00Z") for _ in range(6)]
    job = env.sb.create_export_job(env.company, [invoice, payment, *fillers],
                                   vendor_based_bookkeeping=True)  # fmt: skip
    env.run(driver, config=ExportConfig(post_concurrency=8))
    assert env.sb.job_status(job) == "completed"
    log = env.system.log
    invoice_end = log.index(("end", UUID(invoice["accountingEntryId"])))
    payment_start = log.index(("start", UUID(payment["accountingEntryId"])))
    assert invoice_end < payment_start
    assert env.system.peak >= 2  # the fillers did overlap
    assert env.system.open_invoices() == []  # reconciled (C17)


@pytest.mark.parametrize("driver", DRIVERS)
def test_c24_rule12_batches_of_100_sent_while_posting_goes_on(driver: str) -> None:
    env = Env()
    env.sb.create_export_job(env.company, 250)
    puts_seen: list[int] = []
    env.system.on_post = lambda _entry: puts_seen.append(len(env.puts()))
    env.run(driver, config=ExportConfig(post_concurrency=8))
    sizes = [len(r.body) for r in env.puts()]
    assert sizes == [100, 100, 50]
    assert max(puts_seen) >= 2  # two batches were reported before the last posts
    assert len(env.system.entries) == 250


@pytest.mark.parametrize("driver", DRIVERS)
def test_rule6_export_items_are_streamed_not_loaded_whole(driver: str) -> None:
    env = Env()
    env.sb.create_export_job(env.company, 30)
    pages_at_post: list[int] = []

    def pages_so_far(_entry: Entry) -> None:
        gets = [r for r in env.sb.requests if r.method == "GET" and r.path == "/v3/export-items"]
        pages_at_post.append(len(gets))

    env.system.on_post = pages_so_far
    env.run(driver, config=ExportConfig(page_size=5))
    assert len(env.system.entries) == 30
    assert pages_at_post[0] <= 2  # the first page posts before the rest is fetched
    assert pages_at_post[-1] == 6


def _items_alive_at_posts(driver: str, items: int) -> int:
    """The most ``ExportItemV3`` objects alive at any sampled post of a job of ``items``."""
    # A seed no other test uses: the sandbox derives ids from it, and items with the same ids
    # that another test of this process still holds must not be counted as this job's.
    env = Env(seed=secrets.randbits(31))
    job = env.sb.create_export_job(env.company, items)
    ours = {UUID(i["accountingEntryId"]) for i in env.sb.job_items(job)}
    alive: list[int] = []
    posts = {"n": 0}

    def count_items(_entry: Entry) -> None:
        posts["n"] += 1
        if posts["n"] % 5 == 0:
            gc.collect()  # only this job's items: other tests in the process do not count
            alive.append(
                sum(
                    1
                    for o in gc.get_objects()
                    if type(o) is ExportItemV3 and o.accounting_entry_id in ours
                )
            )

    env.system.on_post = count_items
    env.run(driver, config=ExportConfig(page_size=10, post_concurrency=4))
    assert len(env.system.entries) == items
    return max(alive)


@pytest.mark.parametrize("driver", DRIVERS)
def test_memory_holds_a_few_pages_of_items_not_the_job(driver: str) -> None:
    """Issue 13 item 4: export items are dropped once done; only ids and outcomes stay."""
    small = _items_alive_at_posts(driver, 60)
    # The fewest of up to three runs: a job-sized buffer holds all 240 items in every run, but
    # a loaded machine (a full parallel suite) now and then leaves one run with far more alive
    # at a sample (118 and 140 seen, ≈ 40 otherwise) and never twice in a row.
    large = _items_alive_at_posts(driver, 240)
    for _ in range(2):
        if large <= small + 60 and large <= 120:
            break
        large = min(large, _items_alive_at_posts(driver, 240))
    # Does not grow with the job: a job-sized buffer would hold all 240 (and 180 more than the
    # 60-item job). On a quiet machine this is a few pages of 10 plus the posts in flight
    # (≈ 40); the slack is for worker threads that a loaded machine leaves behind.
    assert large <= small + 60
    assert large <= 120


def test_rule6_next_page_is_fetched_while_the_current_one_posts() -> None:
    env = Env()
    env.sb.create_export_job(env.company, 10)
    second_page = threading.Event()

    def on_request(request: Any) -> None:
        if request.url.path == "/v3/export-items" and "after" in request.url.params:
            second_page.set()

    env.client._transport.http.event_hooks["request"].append(on_request)
    overlapped: list[bool] = []
    env.system.on_post = lambda _entry: overlapped.append(second_page.wait(timeout=10))
    env.run("sync", config=ExportConfig(page_size=5))
    assert overlapped[0] is True  # page 2 was requested while item 1 was being posted


# --- exactly once with 8 in flight


class CrashScenario:
    """One job of 16 items (one with a receipt), batches of 3, 8 posts in flight."""

    CONFIG = ExportConfig(batch_size=3, post_concurrency=8)

    def __init__(self, driver: str, *, journal: bool = False) -> None:
        from pleo_erp.testing.sandbox.files import make_pdf

        self.driver = driver
        self.env = Env(gather=0)
        self.journal = SQLiteExportJournal(StateDB()) if journal else None
        pdf = make_pdf("receipt")
        file_id = self.env.sb.add_file(pdf, "application/pdf")
        receipt = [{"url": self.env.sb.file_placeholder(file_id), "type": "application/pdf",
                    "size": len(pdf)}]  # fmt: skip
        items = [sandbox_item(value=1000, files=receipt)]
        items += [sandbox_item(value=100 + n) for n in range(15)]
        self.ids = [UUID(i["accountingEntryId"]) for i in items]
        self.job = self.env.sb.create_export_job(self.env.company, items)

    def run(self, **kwargs: Any) -> ExportReport:
        return self.env.run(self.driver, config=self.CONFIG, journal=self.journal, **kwargs)

    def run_until_done(self) -> None:
        for _ in range(6):
            self.run()
            if self.env.sb.job_status(self.job) not in ("pending", "in_progress"):
                return
        raise AssertionError("the job never finished")

    def assert_exactly_once(self) -> None:
        system = self.env.system
        assert self.env.sb.job_status(self.job) == "completed"
        assert set(self.env.sb.item_statuses(self.job).values()) == {"successful"}
        for aeid in self.ids:
            assert system.post_count(aeid) == 1, aeid
        assert system.duplicates() == []
        stored = system.entry_for(self.ids[0])
        assert stored is not None
        assert list(stored.attachments) == [f"{self.ids[0]}:0"]
        finals = [
            r
            for r in self.env.sb.requests
            if r.method == "POST" and r.status == 202 and r.body["event"] != "started"
        ]
        assert len(finals) == 1


def _event_count(driver: str) -> int:
    seen: list[ProgressEvent] = []
    CrashScenario(driver).run(progress=seen.append)
    return len(seen)


CRASH_EVENTS = _event_count("sync")


@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize("journal", [False, True])
@pytest.mark.parametrize("crash_at", range(CRASH_EVENTS))
def test_crash_at_every_step_with_8_in_flight_then_rerun(
    driver: str, journal: bool, crash_at: int
) -> None:
    scenario = CrashScenario(driver, journal=journal)
    count = {"n": 0}

    def crash(event: ProgressEvent) -> None:
        if count["n"] == crash_at:
            raise SimulatedCrash(event.kind)
        count["n"] += 1

    with pytest.raises(SimulatedCrash):
        scenario.run(progress=crash)
    assert scenario.env.system.now == 0  # no post was left running behind the crash
    scenario.run_until_done()
    scenario.assert_exactly_once()


@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize("where", ["before", "after"])
@pytest.mark.parametrize("nth", [1, 4, 8, 9, 16])
def test_crash_inside_a_post_with_8_in_flight_then_rerun(driver: str, where: str, nth: int) -> None:
    """Before the AS stored the entry, or after it stored it but before the answer came."""
    scenario = CrashScenario(driver)
    posts = {"n": 0}
    lock = threading.Lock()

    def hook(entry: Entry) -> None:
        with lock:
            posts["n"] += 1
            hit = posts["n"] == nth
        if hit:
            raise SimulatedCrash(f"{where} post {nth}")

    system = scenario.env.system
    if where == "before":
        system.crash_before_post = hook
    else:
        system.crash_after_post = hook
    with pytest.raises(SimulatedCrash):
        scenario.run()
    assert system.now == 0
    system.crash_before_post = system.crash_after_post = None
    scenario.run_until_done()
    scenario.assert_exactly_once()


# --- the lease with posts in flight


class ExpiringLock(InProcessLock):
    """A legacy lock with a ttl whose hold can be taken over (as after a long pause)."""

    ttl = 3.0

    def __init__(self) -> None:
        super().__init__()
        self.taken_over = threading.Event()
        self.renew_refused = threading.Event()

    def renew(self, company_id: str, owner: str) -> None:
        if self.taken_over.is_set():
            self.renew_refused.set()

    def holds(self, company_id: str, owner: str) -> bool:
        return not self.taken_over.is_set()


@pytest.mark.parametrize("driver", DRIVERS)
def test_every_post_checks_the_lease_with_posts_in_flight(driver: str) -> None:
    env = Env(gather=8)
    job = env.sb.create_export_job(env.company, 20)
    lock = ExpiringLock()
    # Heartbeats that other tests of this worker process left running are not this run's.
    earlier = set(threading.enumerate())

    def take_over(_entry: Entry) -> None:
        # Every post in flight waits until the run *knows* (its heartbeat found the lease
        # gone and stopped), so the test pins what "checked before every post" means.
        lock.taken_over.set()
        for thread in threading.enumerate():
            if thread.name.startswith("lease-heartbeat:") and thread not in earlier:
                thread.join(timeout=10)

    env.system.on_post = take_over
    with pytest.raises(LeaseLost):
        env.run(driver, lock=lock, config=ExportConfig(post_concurrency=8))
    # The 8 posts in flight when the lease went finish; none starts after; nothing reported.
    assert len(env.system.entries) == 8
    assert env.puts() == []
    assert env.sb.job_status(job) == "in_progress"
    env.system.on_post = None
    env.system.gather = 0
    env.run(driver, config=ExportConfig(post_concurrency=8))
    assert env.sb.job_status(job) == "completed"
    assert len(env.system.entries) == 20
    assert env.system.duplicates() == []


@pytest.mark.parametrize("post_concurrency", [1, 4])
def test_pages_are_fetched_on_one_thread_and_typed_on_the_exporting_one(
    post_concurrency: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 13 (memory): the next page's request overlaps posting on one long-lived "pages"
    thread, while every page is typed on the exporting thread, so page buffers reuse one malloc
    arena instead of fragmenting several (50k/10k peak RSS 1.13x -> 1.07x in bench_memory)."""
    import pleo_erp.client.resources.export_items as export_items

    fetched: list[str] = []
    typed: list[str] = []
    send = export_items.ExportItemPageReader.fetch
    read_page = export_items.read_page

    def fetch(self: Any) -> Any:
        fetched.append(threading.current_thread().name)
        return send(self)

    def typed_page(*args: Any) -> Any:
        typed.append(threading.current_thread().name)
        return read_page(*args)

    monkeypatch.setattr(export_items.ExportItemPageReader, "fetch", fetch)
    monkeypatch.setattr(export_items, "read_page", typed_page)
    env = Env()
    env.sb.create_export_job(env.company, 12)
    env.run("sync", config=ExportConfig(page_size=5, post_concurrency=post_concurrency))
    assert len(env.system.entries) == 12
    main = threading.current_thread().name
    assert typed == [main] * 3  # pages of 5, 5 and 2, all typed here
    assert fetched[0] == main  # the first page is read before anything posts
    assert len(set(fetched[1:])) == 1
    assert fetched[1].startswith("pleo-erp-pages")
