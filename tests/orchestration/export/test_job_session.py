"""The per-job session hook (``ExportTarget.job_session``) and concurrency-ready targets.

Covers: the export opens a target's session exactly once per job and closes it on success,
on a job-level failure and when an exception escapes mid-job; targets without the hook keep
working; the async twin through ``BlockingExportTarget``; the Beancount adapter loads its
ledger once per job inside a session and still books exactly once across processes; and the
in-memory AS takes concurrent posts (``Capabilities.max_concurrent_posts``).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from beancount import loader
from beancount.core import data

from pleo_erp.accounting_system import (
    AccountingSystemNotReady,
    AccountingSystemUnavailable,
    BaseExportTarget,
    Capabilities,
    EntryDimension,
    EntryLine,
    JobContext,
    JournalEntry,
    PostedEntry,
    SupportsJobSession,
    blocking_export_target,
)
from pleo_erp.adapters.beancount import BeancountAccountingSystem, create_ledger
from pleo_erp.domain.config import ExportConfig
from pleo_erp.orchestration._session import JobSessionFailed, open_job_session
from pleo_erp.orchestration.export import export_expenses
from pleo_erp.testing.inmemory import InMemoryAccountingSystem
from pleo_erp.testing.sandbox import PleoSandbox
from pleo_erp.testing.sandbox.demo import DemoChart, build_demo
from tests.helpers.export import sandbox_item

PROCESSES = (
    multiprocessing.get_context("fork")
    if "fork" in multiprocessing.get_all_start_methods()
    else multiprocessing.get_context("spawn")
)
COMPANY = uuid.UUID("cd613e30-d8f1-4adf-91b7-584a2265b1f5")
DAY = date(2026, 9, 1)
JOB = JobContext(
    job_id=uuid.UUID(int=1), company_id=COMPANY, vendor_based_bookkeeping=False, number_of_items=1
)


class _Boom(BaseException):
    """Escapes every ``except Exception`` of the export, like a process being torn down."""


class SessionRecordingAS(InMemoryAccountingSystem):
    """An in-memory AS that records its sessions and which posts ran inside one."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.log: list[tuple[str, Any]] = []
        self.open_sessions = 0
        self.posts_outside_session = 0
        self.fail_open: Exception | None = None

    @contextlib.contextmanager
    def job_session(self, job: JobContext) -> Iterator[None]:
        if self.fail_open is not None:
            raise self.fail_open
        self.log.append(("open", job.job_id))
        self.open_sessions += 1
        try:
            yield
        except BaseException as error:
            self.log.append(("close", type(error).__name__))
            raise
        else:
            self.log.append(("close", None))
        finally:
            self.open_sessions -= 1

    def post(self, entry: Any, attachments: Any) -> PostedEntry:
        if self.open_sessions != 1:
            self.posts_outside_session += 1
        return super().post(entry, attachments)


class Env:
    def __init__(self, system: Any) -> None:
        self.sb = PleoSandbox(seed=5)
        self.company = self.sb.add_company("Session Co")
        self.client = self.sb.client()
        self.system = system

    def job(self, count: int) -> str:
        return self.sb.create_export_job(self.company, [sandbox_item() for _ in range(count)])

    def run(self, config: ExportConfig | None = None) -> Any:
        return export_expenses(
            self.client,
            self.system,
            company_id=self.company,
            config=config,
            sleep=lambda _s: None,
            clock=self.sb.clock.now,
        )


# --- the hook in the export ---------------------------------------------------------------


def test_session_is_opened_once_per_job_and_closed_after_its_items() -> None:
    system = SessionRecordingAS()
    env = Env(system)
    first, second = env.job(3), env.job(2)
    report = env.run()
    assert report.counts == {"successful": 5, "failed": 0}
    assert [kind for kind, _ in system.log] == ["open", "close", "open", "close"]
    assert {system.log[0][1], system.log[2][1]} == {uuid.UUID(first), uuid.UUID(second)}
    assert system.log[1][1] is None
    assert system.log[3][1] is None
    assert system.calls["post"] == 5
    assert system.posts_outside_session == 0


def test_session_is_closed_when_the_job_fails_mid_way() -> None:
    system = SessionRecordingAS()
    env = Env(system)
    job = env.job(3)
    system.fail_next("post", AccountingSystemUnavailable("down"), times=100)
    # give up at once (an outage otherwise defers the job within Pleo's expiry window)
    report = env.run(ExportConfig(transient_give_up_after=0))
    (job_report,) = report.jobs
    assert job_report.failure_type == "accounting_system_unreachable"
    assert env.sb.job_status(job) == "failed"
    assert system.log == [("open", uuid.UUID(job)), ("close", None)]


def test_session_sees_an_exception_escaping_mid_job_and_it_propagates() -> None:
    system = SessionRecordingAS()
    env = Env(system)
    env.job(3)
    calls = 0

    def crash(_entry: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise _Boom()

    system.crash_after_post = crash
    with pytest.raises(_Boom):
        env.run()
    assert [kind for kind, _ in system.log] == ["open", "close"]
    assert system.log[-1] == ("close", "_Boom")
    assert system.open_sessions == 0


def test_a_session_that_cannot_open_fails_the_job_with_its_failure_type() -> None:
    system = SessionRecordingAS()
    system.fail_open = AccountingSystemNotReady(
        "book is locked by the month-end close", job_failure_type="accounting_system_unreachable"
    )
    env = Env(system)
    job = env.job(2)
    report = env.run()
    (job_report,) = report.jobs
    assert job_report.failure_type == "accounting_system_unreachable"
    assert "month-end close" in (job_report.failure_reason or "")
    assert env.sb.job_status(job) == "failed"
    assert system.calls["post"] == 0


def test_an_adapter_bug_on_open_fails_the_job_without_leaking_its_text() -> None:
    system = SessionRecordingAS()
    system.fail_open = RuntimeError("password=hunter2 rejected")
    env = Env(system)
    env.job(1)
    (job_report,) = env.run().jobs
    assert job_report.failure_type == "integration_unusable"
    assert "hunter2" not in (job_report.failure_reason or "")
    assert "RuntimeError" in (job_report.failure_reason or "")


def test_targets_without_the_hook_get_a_null_session() -> None:
    class Bare:
        pass

    with open_job_session(Bare(), JOB):
        pass
    assert not isinstance(Bare(), SupportsJobSession)
    env = Env(InMemoryAccountingSystem())
    env.job(2)
    assert env.run().counts == {"successful": 2, "failed": 0}


def test_base_export_target_session_is_a_no_op() -> None:
    target = BaseExportTarget()
    assert isinstance(target, SupportsJobSession)
    with target.job_session(JOB):
        pass


def test_a_close_error_after_success_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class BadClose:
        @contextlib.contextmanager
        def job_session(self, job: JobContext) -> Iterator[None]:
            yield
            raise RuntimeError("secret-token in driver text")

    with open_job_session(BadClose(), JOB):
        pass
    assert "RuntimeError" in caplog.text
    assert "secret-token" not in caplog.text


def test_open_failure_is_typed() -> None:
    class Down:
        def job_session(self, job: JobContext) -> contextlib.AbstractContextManager[None]:
            raise AccountingSystemUnavailable("no connection")

    with pytest.raises(JobSessionFailed) as raised, open_job_session(Down(), JOB):
        pytest.fail("the body must not run")
    assert raised.value.failure.failure_type == "accounting_system_unreachable"


def test_async_target_session_runs_through_the_blocking_wrapper() -> None:
    log: list[str] = []

    class AsyncBook:
        @contextlib.asynccontextmanager
        async def job_session(self, job: JobContext) -> AsyncIterator[None]:
            log.append("open")
            try:
                yield
            except ValueError:
                log.append("close-error")
                raise
            log.append("close")

    wrapper = blocking_export_target(AsyncBook())  # type: ignore[arg-type]
    try:
        with open_job_session(wrapper, JOB):
            log.append("items")
        with pytest.raises(ValueError), open_job_session(wrapper, JOB):
            raise ValueError("mid-job")
    finally:
        wrapper.close()
    assert log == ["open", "items", "close", "open", "close-error"]


# --- Beancount: one load per job, exactly once ------------------------------------------------


@pytest.fixture(scope="module")
def chart() -> DemoChart:
    return build_demo(1).chart


@pytest.fixture
def ledger_path(tmp_path: Path, chart: DemoChart) -> Path:
    return create_ledger(
        tmp_path / "books" / "ledger.beancount", chart, currency="DKK", company_id=str(COMPANY)
    )


def journal(entry_id: uuid.UUID | None = None, amount: int = 10000) -> JournalEntry:
    return JournalEntry(
        accounting_entry_id=entry_id or uuid.uuid4(),
        posting_date=DAY,
        currency="DKK",
        lines=[
            EntryLine(
                account="6010",
                debit=amount,
                currency="DKK",
                role="expense",
                tax_code=None,
                dimensions=(EntryDimension("DEPT", "ENG"),),
            ),
            EntryLine(account="5810", credit=amount, currency="DKK", role="counter"),
        ],
        description="Taxi",
        reference="NS-1",
        posting_mode="draft",
        item_type="card_purchase",
    )


def booked_ids(path: Path) -> list[str]:
    entries, errors, _ = loader.load_file(str(path))
    assert errors == []
    return [e.meta["pleo-accounting-entry-id"] for e in entries if isinstance(e, data.Transaction)]


def test_beancount_loads_the_ledger_once_per_job_in_a_session(ledger_path: Path) -> None:
    system = BeancountAccountingSystem(ledger_path)  # paranoid (the default)
    system.check_ready(JOB)
    loads = system.ledger.loads
    with system.job_session(JOB):
        inside = system.in_session
        for _ in range(6):
            entry = journal()
            assert system.find_posted(entry.accounting_entry_id) is None
            assert system.is_period_open(entry.posting_date)
            system.post(entry, [])
            # The in-memory index knows the new entry without a reload.
            assert system.find_posted(entry.accounting_entry_id) is not None
    assert system.ledger.loads == loads  # check_ready's load served the whole job
    assert inside
    assert not system.in_session
    assert len(booked_ids(ledger_path)) == 6


def test_beancount_without_a_session_loads_per_write_in_paranoid_mode(
    ledger_path: Path,
) -> None:
    system = BeancountAccountingSystem(ledger_path)
    system.check_ready(JOB)
    loads = system.ledger.loads
    for _ in range(3):
        system.post(journal(), [])
    assert system.ledger.loads == loads + 3


def test_beancount_paranoid_in_session_keeps_the_per_write_check(ledger_path: Path) -> None:
    system = BeancountAccountingSystem(ledger_path, paranoid_in_session=True)
    system.check_ready(JOB)
    loads = system.ledger.loads
    with system.job_session(JOB):
        for _ in range(3):
            system.post(journal(), [])
    assert system.ledger.loads == loads + 3


def test_beancount_next_session_fully_checks_what_a_session_appended(ledger_path: Path) -> None:
    system = BeancountAccountingSystem(ledger_path)
    with system.job_session(JOB):
        system.post(journal(amount=10000), [])
        # A fragment that parses but breaks the ledger (a failing balance assertion): only
        # a full Beancount load notices it.
        account = system.ledger.snapshot().config.find_account("5810")
        assert account is not None
        with system.ledger.lock:
            system.ledger.append(f"2026-09-02 balance {account.name} 12345 DKK\n", full_check=False)
    assert system.ledger.loads == 1
    with pytest.raises(AccountingSystemNotReady) as raised, system.job_session(JOB):
        pytest.fail("a broken ledger must not open a session")
    assert raised.value.job_failure_type == "integration_unusable"


def test_beancount_session_sees_another_writer_before_posting(ledger_path: Path) -> None:
    ours = BeancountAccountingSystem(ledger_path)
    other = BeancountAccountingSystem(ledger_path)
    shared = journal()
    with ours.job_session(JOB):
        ours.post(journal(), [])
        other.post(shared, [])  # another writer appends behind our session's back
        posted = ours.post(shared, [])  # re-validated under the lock: found, not re-booked
        assert posted.accounting_entry_id == shared.accounting_entry_id
    ids = booked_ids(ledger_path)
    assert ids.count(str(shared.accounting_entry_id)) == 1
    assert len(ids) == 2


def _post_all_in_session(path: str, ids: list[str], reverse: bool) -> None:
    system = BeancountAccountingSystem(path)
    order = list(reversed(ids)) if reverse else ids
    with system.job_session(JOB):
        for entry_id in order:
            system.post(journal(uuid.UUID(entry_id)), [])


def test_beancount_sessions_in_two_processes_book_each_entry_once(ledger_path: Path) -> None:
    ids = [str(uuid.uuid4()) for _ in range(12)]
    procs = [
        PROCESSES.Process(target=_post_all_in_session, args=(str(ledger_path), ids, reverse))
        for reverse in (False, True)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
        assert proc.exitcode == 0
    booked = booked_ids(ledger_path)
    assert sorted(booked) == sorted(ids)  # every entry, each exactly once


def test_a_write_during_the_sessions_lock_free_load_is_seen_before_posting(
    ledger_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exactly once: the session's first load takes no lock, so another process may replace
    the ledger while Beancount reads it. The cached snapshot must not claim the newer file's
    identity with the older content, or the entry that process booked is booked again."""
    from pleo_erp.adapters.beancount import _ledger

    entry_id = uuid.uuid4()
    other = BeancountAccountingSystem(ledger_path)
    mine = BeancountAccountingSystem(ledger_path)
    real_load = _ledger._load_file
    raced: list[bool] = []

    def load_then_another_writer_books(path: Path) -> Any:
        loaded = real_load(path)  # the old content ...
        if not raced:
            raced.append(True)
            other.post(journal(entry_id), [])  # ... while another writer replaces the file
        return loaded

    monkeypatch.setattr(_ledger, "_load_file", load_then_another_writer_books)
    with mine.job_session(JOB):
        monkeypatch.setattr(_ledger, "_load_file", real_load)
        mine.post(journal(entry_id), [])
    assert raced == [True]
    assert booked_ids(ledger_path) == [str(entry_id)]


def test_beancount_declares_one_post_at_a_time(ledger_path: Path) -> None:
    assert BeancountAccountingSystem(ledger_path).capabilities().max_concurrent_posts == 1


# --- capabilities and the in-memory AS under concurrency ------------------------------------


def test_max_concurrent_posts_defaults_to_one_and_must_be_positive() -> None:
    assert Capabilities().max_concurrent_posts == 1
    assert Capabilities(max_concurrent_posts=8).max_concurrent_posts == 8
    for bad in (0, -1, True):
        with pytest.raises(ValueError, match="max_concurrent_posts"):
            Capabilities(max_concurrent_posts=bad)


def test_inmemory_takes_concurrent_posts_from_16_threads_without_loss_or_doubles() -> None:
    system = InMemoryAccountingSystem()
    assert system.capabilities().max_concurrent_posts == 64
    per_thread = 150
    entries = [[journal() for _ in range(per_thread)] for _ in range(16)]
    start = threading.Barrier(16)
    errors: list[BaseException] = []

    def worker(batch: list[JournalEntry]) -> None:
        try:
            start.wait()
            for entry in batch:
                system.post(entry, [])
                assert system.find_posted(entry.accounting_entry_id) is not None
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(batch,)) for batch in entries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    stored = system.entries
    assert len(stored) == 16 * per_thread
    assert system.duplicates() == []
    assert len({s.external_id for s in stored}) == len(stored)  # no id handed out twice
    expected = {e.accounting_entry_id for batch in entries for e in batch}
    assert {s.accounting_entry_id for s in stored} == expected
    assert system.calls["post"] == 16 * per_thread
    assert system.is_balanced()
