"""The export journal and the per-company locks (export-api.md Part 3 rule 7; DESIGN decision 5)."""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path
from uuid import UUID

import pytest

from pleo_erp.accounting_system import PostedEntry
from pleo_erp.orchestration.locks import (
    CompanyLock,
    ExportAlreadyRunning,
    InProcessLock,
    SQLiteCompanyLock,
    hold_company_lock,
)
from pleo_erp.state import StateDB
from pleo_erp.state.export_journal import ExportJournal, SQLiteExportJournal

JOB = UUID(int=10)
COMPANY = UUID(int=20)


def posted(n: int) -> PostedEntry:
    return PostedEntry(
        accounting_entry_id=UUID(int=n),
        external_id=f"JE-{n}",
        url=f"https://ledger/{n}",
        posting_date=date(2024, 1, n),
        attachment_keys={f"{UUID(int=n)}:0"},
    )


def test_journal_records_posted_then_reported(tmp_path: Path) -> None:
    db = StateDB(tmp_path / "state.db")
    journal = SQLiteExportJournal(db)
    assert isinstance(journal, ExportJournal)
    journal.record_posted(company_id=COMPANY, job_id=JOB, posted=posted(1))
    journal.record_posted(company_id=COMPANY, job_id=JOB, posted=posted(2))
    record = journal.lookup(UUID(int=1))
    assert record is not None
    assert (record.job_id, record.reported, record.posted) == (JOB, False, posted(1))
    assert [r.accounting_entry_id for r in journal.unreported(JOB)] == [UUID(int=1), UUID(int=2)]
    journal.mark_reported([UUID(int=1)])
    assert [r.accounting_entry_id for r in journal.unreported(JOB)] == [UUID(int=2)]
    assert journal.lookup(UUID(int=1)).reported  # type: ignore[union-attr]
    assert journal.lookup(UUID(int=99)) is None
    db.close()
    # Survives a restart (a crash between posting and reporting).
    again = SQLiteExportJournal(StateDB(tmp_path / "state.db"))
    assert [r.accounting_entry_id for r in again.unreported(JOB)] == [UUID(int=2)]


def test_journal_re_post_in_new_job_resets_row() -> None:
    journal = SQLiteExportJournal(StateDB())
    journal.record_posted(company_id=COMPANY, job_id=JOB, posted=posted(1))
    journal.mark_reported([UUID(int=1)])
    journal.record_posted(company_id=COMPANY, job_id=UUID(int=11), posted=posted(1))
    record = journal.lookup(UUID(int=1))
    assert record is not None
    assert (record.job_id, record.reported) == (UUID(int=11), False)


def test_rule7_in_process_lock_one_worker_per_company() -> None:
    lock = InProcessLock()
    assert isinstance(lock, CompanyLock)
    with hold_company_lock(lock, "c1", "worker-a"):
        with pytest.raises(ExportAlreadyRunning):
            with hold_company_lock(lock, "c1", "worker-b"):
                pass
        with hold_company_lock(lock, "c2", "worker-b"):
            pass
    with hold_company_lock(lock, "c1", "worker-b"):
        pass


def test_rule7_in_process_lock_under_threads() -> None:
    lock = InProcessLock()
    winners: list[str] = []
    barrier = threading.Barrier(8)

    def worker(name: str) -> None:
        barrier.wait()
        if lock.acquire("c", name):
            winners.append(name)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1


def test_rule7_sqlite_lock_across_connections_and_lease_expiry(tmp_path: Path) -> None:
    now = [1000.0]
    path = tmp_path / "state.db"
    a = SQLiteCompanyLock(StateDB(path), ttl=60, clock=lambda: now[0])
    b = SQLiteCompanyLock(StateDB(path), ttl=60, clock=lambda: now[0])
    assert a.acquire("c", "A")
    assert not b.acquire("c", "B")
    now[0] += 30
    a.renew("c", "A")
    now[0] += 45  # 75 s after acquiring, but renewed 45 s ago
    assert not b.acquire("c", "B")
    now[0] += 20  # lease over: A is presumed dead
    assert b.acquire("c", "B")
    a.release("c", "A")  # not the owner any more: no effect
    assert not a.acquire("c", "A")
    b.release("c", "B")
    assert a.acquire("c", "A")
    a.release("c", "A")  # its heartbeat thread must not outlive the test
