"""The export's company lease: held with a heartbeat, checked before every side effect.

Pleo wants one worker per company (export-api.md Part 3 rule 7). The lock that guarantees it
must free itself soon after its holder dies, and a holder that lost it (paused past its ttl,
taken over) must stop before its next side effect, leaving the job ``in_progress`` for the
new holder to resume.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from pleo_erp.cli._errors import ExitCode, classify
from pleo_erp.domain.config import ExportConfig
from pleo_erp.orchestration.export import export_expenses
from pleo_erp.orchestration.locks import (
    DEFAULT_LOCK_TTL,
    ExportAlreadyRunning,
    InProcessLock,
    SQLiteCompanyLock,
)
from pleo_erp.orchestration.report import ExportReport, ProgressEvent
from pleo_erp.state import (
    InMemoryLeaseStore,
    LeaseLost,
    SQLiteLeaseStore,
    StateDatabaseDamaged,
    StateDB,
)
from pleo_erp.state.export_journal import SQLiteExportJournal
from pleo_erp.testing.inmemory import InMemoryAccountingSystem
from pleo_erp.testing.sandbox import PleoSandbox
from tests.helpers.cli import cli
from tests.helpers.export import sandbox_item
from tests.helpers.export_drivers import export_driver  # noqa: F401 - the fixture, used below

pytestmark = pytest.mark.usefixtures("export_driver")  # every test: blocking and async driver

SRC = Path(__file__).resolve().parents[3] / "src"


class Env:
    """A sandbox company with one job of ``n`` items and an in-memory AS."""

    def __init__(self, n: int = 3) -> None:
        self.sb = PleoSandbox(seed=5)
        self.company = self.sb.add_company("Lease Co")
        self.client = self.sb.client()
        self.system = InMemoryAccountingSystem()
        items = [sandbox_item(value=1000 + i) for i in range(n)]
        self.ids = [UUID(i["accountingEntryId"]) for i in items]
        self.job = self.sb.create_export_job(self.company, items)

    def run(self, **kwargs: Any) -> ExportReport:
        return export_expenses(
            self.client,
            self.system,
            company_id=self.company,
            clock=self.sb.clock.now,
            sleep=self.sb.clock.sleep,
            **kwargs,
        )

    def final_events(self) -> list[str]:
        return [
            r.body["event"]
            for r in self.sb.requests
            if r.method == "POST"
            and r.status == 202
            and r.body is not None
            and r.body.get("event") != "started"
        ]

    def item_updates(self) -> int:
        return sum(1 for r in self.sb.requests if r.method == "PUT")

    def assert_done_exactly_once(self) -> None:
        assert self.sb.job_status(self.job) == "completed"
        assert all(self.system.post_count(aeid) == 1 for aeid in self.ids)
        assert self.system.duplicates() == []
        assert self.final_events() == ["completed"]


class ExpiringLock(InProcessLock):
    """A legacy lock with a short ttl whose hold can be taken over (as after a pause)."""

    ttl = 3.0  # heartbeat every second; a 3 s stall would be needed to lose it spuriously

    def __init__(self) -> None:
        super().__init__()
        self.taken_over = threading.Event()
        self.renew_refused = threading.Event()

    def renew(self, company_id: str, owner: str) -> None:
        if self.taken_over.is_set():
            self.renew_refused.set()

    def holds(self, company_id: str, owner: str) -> bool:
        return not self.taken_over.is_set()


# ------------------------------------------------------------------ losing the lease


def test_lost_lease_stops_the_run_before_its_next_side_effect_and_the_next_run_resumes() -> None:
    env = Env(3)
    lock = ExpiringLock()

    def take_over(event: ProgressEvent) -> None:
        if event.kind == "item_done" and event.done == 1:
            lock.taken_over.set()
            # The heartbeat (every ttl/3) finds the lease gone; wait for it, not for a clock.
            assert lock.renew_refused.wait(timeout=10)

    with pytest.raises(LeaseLost):
        env.run(lock=lock, progress=take_over, config=ExportConfig(batch_size=1))
    # Item 1 was posted before the takeover; nothing after it: no report, no post, no event.
    assert [env.system.post_count(aeid) for aeid in env.ids] == [1, 0, 0]
    assert env.item_updates() == 0
    assert env.final_events() == []
    assert env.sb.job_status(env.job) == "in_progress"
    # The new holder resumes the job and converges: each item booked once.
    report = env.run()
    assert report.counts == {"successful": 3, "failed": 0}
    env.assert_done_exactly_once()


def test_takeover_before_the_final_event_is_caught_by_verify() -> None:
    env = Env(2)
    now = [1000.0]
    store = InMemoryLeaseStore(clock=lambda: now[0])

    def take_over(event: ProgressEvent) -> None:
        if event.kind == "item_done" and event.done == 2:
            now[0] += 3600  # this holder was paused past its ttl…
            assert store.acquire(f"export:{env.company}", "intruder", ttl=60) is not None

    with pytest.raises(LeaseLost):
        env.run(lease_store=store, progress=take_over)
    assert env.final_events() == []  # verify() asked the store before the final event
    assert env.sb.job_status(env.job) == "in_progress"


def test_journal_writes_are_fenced_by_the_lease_in_the_same_database() -> None:
    env = Env(3)
    db = StateDB()
    now = [1000.0]
    store = SQLiteLeaseStore(db, clock=lambda: now[0])
    journal = SQLiteExportJournal(db)
    key = f"export:{env.company}"

    def take_over(event: ProgressEvent) -> None:
        if event.kind == "item_done" and event.done == 1:
            now[0] += 3600
            assert store.acquire(key, "intruder", ttl=60) is not None

    with pytest.raises(LeaseLost):
        env.run(lease_store=store, journal=journal, progress=take_over)
    # Item 2 reached the AS (a local check cannot see the takeover), but the stale holder's
    # journal write was refused in the same transaction as the lease check.
    assert journal.lookup(env.ids[0]) is not None
    assert env.system.post_count(env.ids[1]) == 1
    assert journal.lookup(env.ids[1]) is None
    assert env.sb.job_status(env.job) == "in_progress"
    holder = store.holder(key)
    assert holder is not None
    assert holder.owner == "intruder"
    # The intruder goes away; the next run finds item 2 in the AS and posts nothing twice.
    now[0] += 3600
    env.run(lease_store=store, journal=journal)
    env.assert_done_exactly_once()


# ------------------------------------------------------------------ refusing, truthfully


def test_already_running_says_who_holds_it_until_when_and_that_it_frees_itself() -> None:
    env = Env(1)
    store = SQLiteLeaseStore(StateDB())
    lease = store.acquire(f"export:{env.company}", "other", ttl=60)
    assert lease is not None
    with pytest.raises(ExportAlreadyRunning) as info:
        env.run(lease_store=store)
    message = str(info.value)
    holder = info.value.holder
    assert holder is not None
    assert holder.pid is not None
    assert f"process {holder.pid} on {holder.host}" in message
    assert holder.expires_at is not None
    assert holder.expires_at.astimezone(timezone.utc).strftime("%H:%M:%S") in message
    assert "frees itself" in message
    assert env.sb.requests == [] or all(r.method == "GET" for r in env.sb.requests)
    code, _, hint = classify(info.value)
    assert code is ExitCode.FAILURES
    assert hint is not None
    assert "frees itself" in hint


def test_lock_and_lease_store_together_are_refused() -> None:
    env = Env(1)
    with pytest.raises(ValueError, match="not both"):
        env.run(lock=InProcessLock(), lease_store=InMemoryLeaseStore())


def test_legacy_lock_still_excludes_a_second_worker() -> None:
    env = Env(1)
    lock = InProcessLock()
    assert lock.acquire(env.company, "webhook-worker")
    with pytest.raises(ExportAlreadyRunning):
        env.run(lock=lock)
    lock.release(env.company, "webhook-worker")
    env.run(lock=lock)
    env.assert_done_exactly_once()


def test_sqlite_company_lock_and_lease_store_exclude_each_other(tmp_path: Path) -> None:
    env = Env(1)
    path = tmp_path / "state.db"
    legacy = SQLiteCompanyLock(StateDB(path))
    assert legacy.ttl == DEFAULT_LOCK_TTL <= 60
    assert legacy.acquire(env.company, "legacy-worker")
    with pytest.raises(ExportAlreadyRunning):
        env.run(lease_store=SQLiteLeaseStore(StateDB(path)))
    legacy.release(env.company, "legacy-worker")
    env.run(lock=SQLiteCompanyLock(StateDB(path)))
    env.assert_done_exactly_once()


_HOLD_AND_WAIT = """
import sys
from pleo_erp.orchestration.locks import SQLiteCompanyLock
from pleo_erp.state import StateDB
lock = SQLiteCompanyLock(StateDB(sys.argv[1]))
assert lock.acquire(sys.argv[2], "killed-worker")
print("held", flush=True)
sys.stdin.read()
"""


def test_sqlite_company_lock_of_a_killed_local_process_is_free_at_once(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    company = "c0ffee00-0000-4000-8000-000000000001"
    child = subprocess.Popen(
        [sys.executable, "-c", _HOLD_AND_WAIT, str(path), company],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={"PYTHONPATH": str(SRC)},
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "held"
        lock = SQLiteCompanyLock(StateDB(path))
        assert not lock.acquire(company, "next-worker")  # alive: it holds the company
        holder = lock.holder(company)
        assert holder is not None
        assert holder.pid == child.pid
        child.kill()  # SIGKILL: no release, no cleanup
        child.wait(timeout=30)
        assert lock.acquire(company, "next-worker")  # at once, not after the ttl
        lock.release(company, "next-worker")  # its heartbeat thread must not outlive the test
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=30)


# ------------------------------------------------------------------ a damaged state database


def test_damaged_state_database_says_so_and_that_deleting_it_is_safe(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not an SQLite database " * 200)
    with pytest.raises(StateDatabaseDamaged) as info:
        StateDB(path)
    assert "damaged" in str(info.value)
    result = cli(tmp_path, "auth", "status", env={"PLEO_STATE_DB": str(path)})
    assert result.code == ExitCode.USAGE
    assert "damaged" in result.err
    assert "permission" not in result.err.lower()
    assert "writable" not in result.err.lower()
    assert "delete" in result.err
    assert "source of truth" in result.err


def test_a_lost_lease_is_explained_by_the_cli() -> None:
    code, message, hint = classify(LeaseLost("lease export:x (generation 3) expired"))
    assert code is ExitCode.FAILURES
    assert message.startswith("stopped:")
    assert hint is not None
    assert "nothing is lost" in hint


def test_holder_times_are_utc() -> None:
    store = SQLiteLeaseStore(StateDB(), clock=lambda: 1_800_000_000.0)
    assert store.acquire("export:x", "a", ttl=60) is not None
    holder = store.holder("export:x")
    assert holder is not None
    assert holder.expires_at == datetime.fromtimestamp(1_800_000_060.0, tz=timezone.utc)
    error = ExportAlreadyRunning.for_holder("x", holder)
    assert "2027-01-15 08:01:00 UTC" in str(error)
