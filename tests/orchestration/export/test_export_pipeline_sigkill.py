"""A real export process with 8 posts in flight is SIGKILLed, then run again (issue 13).

The sandbox is served over loopback HTTP from a thread of this process; the exporter is a
child process posting into a durable accounting system (an in-memory one that also writes every
stored entry to SQLite, so what was booked survives the kill) with ``post_concurrency=8``. The
kill lands while posts are in flight. The rerun resumes the job, and every item must end
booked exactly once: none lost, none twice.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from pleo_erp.testing.sandbox import PleoSandbox
from tests.helpers.receipt_server import serve_receipts

pytestmark = pytest.mark.http

SRC = Path(__file__).resolve().parents[3] / "src"

_CHILD = """
import sqlite3, sys, threading, time
from uuid import UUID
from pleo_erp.accounting_system import Capabilities, PostedEntry
from pleo_erp.client import ApiKeyAuth, PleoClient
from pleo_erp.domain.config import ExportConfig
from pleo_erp.orchestration.export import export_expenses
from pleo_erp.state import SQLiteLeaseStore, StateDB
from pleo_erp.state.export_journal import SQLiteExportJournal
from pleo_erp.testing.inmemory import InMemoryAccountingSystem

base_url, api_key, company, ledger, state, delay = sys.argv[1:7]
# Optional: a receipt host to trust, and the number of posts at once (default 8).
receipts_from, posts = (sys.argv[7:8], int(sys.argv[8])) if len(sys.argv) > 8 else ([], 8)


class DurableSystem(InMemoryAccountingSystem):
    def __init__(self):
        super().__init__(capabilities=Capabilities(max_concurrent_posts=8))
        self.db = sqlite3.connect(ledger, check_same_thread=False, isolation_level=None)
        self.db.execute("CREATE TABLE IF NOT EXISTS booked (aeid TEXT, external_id TEXT)")
        self.guard = threading.Lock()

    def find_posted(self, accounting_entry_id):
        with self.guard:
            row = self.db.execute(
                "SELECT external_id FROM booked WHERE aeid = ?", (str(accounting_entry_id),)
            ).fetchone()
        if row is None:
            return None
        return PostedEntry(accounting_entry_id=accounting_entry_id, external_id=row[0])

    def post(self, entry, attachments):
        time.sleep(float(delay))  # a slow AS: posts overlap
        posted = super().post(entry, attachments)
        with self.guard:
            self.db.execute(
                "INSERT INTO booked VALUES (?, ?)",
                (str(entry.accounting_entry_id), posted.external_id),
            )
        return posted


db = StateDB(state)
export_expenses(
    PleoClient(ApiKeyAuth(api_key), base_url=base_url, allow_local_receipts_from=receipts_from),
    DurableSystem(),
    company_id=company,
    config=ExportConfig(post_concurrency=posts, batch_size=10),
    lease_store=SQLiteLeaseStore(db),
    journal=SQLiteExportJournal(db),
)
"""


def _child(args: list[str]) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _booked(ledger: Path) -> Counter[str]:
    if not ledger.exists():
        return Counter()
    with sqlite3.connect(ledger) as db:
        try:
            rows = db.execute("SELECT aeid FROM booked").fetchall()
        except sqlite3.OperationalError:  # the table is not there yet
            return Counter()
    return Counter(row[0] for row in rows)


def _assert_every_item_booked_once(sandbox: PleoSandbox, job: str, ledger: Path) -> None:
    assert sandbox.job_status(job) == "completed"
    statuses = sandbox.item_statuses(job)
    assert set(statuses.values()) == {"successful"}
    booked = _booked(ledger)
    assert sorted(booked) == sorted(statuses)  # nothing lost
    assert [aeid for aeid, n in booked.items() if n > 1] == []  # nothing twice


def test_sigkill_with_8_posts_in_flight_then_rerun_books_everything_once(tmp_path: Path) -> None:
    sandbox = PleoSandbox(seed=5)
    company = sandbox.add_company("Killed Co")
    job = sandbox.create_export_job(company, 80)
    ledger = tmp_path / "ledger.sqlite"
    state = tmp_path / "state.db"
    with sandbox.serve() as base_url:
        args = [base_url, sandbox.api_key, company, str(ledger), str(state)]
        first = _child([*args, "0.02"])
        deadline = time.monotonic() + 60
        while sum(_booked(ledger).values()) < 12:  # real time: the process is real
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the export never booked anything"
            time.sleep(0.005)
        os.kill(first.pid, signal.SIGKILL)
        first.communicate(timeout=30)
        assert first.returncode == -signal.SIGKILL
        assert sandbox.job_status(job) == "in_progress", "the kill landed after the job"
        assert sum(_booked(ledger).values()) < 80

        rerun = _child([*args, "0"])
        _out, err = rerun.communicate(timeout=120)
        assert rerun.returncode == 0, err

    _assert_every_item_booked_once(sandbox, job, ledger)


def test_sigkill_while_receipt_requests_are_sent_ahead_then_rerun_books_everything_once(
    tmp_path: Path,
) -> None:
    """Issue 13: the blocking driver sends receipt requests ahead, one connection each.
    The receipt host answers the first 12 requests sent and holds the rest, so the export
    (one post at a time) books 12 items, then waits for item 13's answer with 4 more
    requests sent ahead (``receipt_concurrency=4``, topped up before the read): the kill
    lands exactly then. The rerun books the rest, each once."""
    answered, items = 12, 40
    sandbox = PleoSandbox(seed=6)
    company = sandbox.add_company("Killed Receipts Co")
    ledger = tmp_path / "ledger.sqlite"
    state = tmp_path / "state.db"
    with serve_receipts(keep_alive=False) as receipts, sandbox.serve() as base_url:
        pdf = b"%PDF-1.4 receipt"
        files = [
            [{"url": receipts.url(f"/k{n}.pdf"), "type": "application/pdf", "size": len(pdf)}]
            for n in range(items)
        ]
        job = sandbox.create_export_job(company, [{"files": f} for f in files])
        release = receipts.hold_after(answered)
        args = [base_url, sandbox.api_key, company, str(ledger), str(state)]
        first = _child([*args, "0", receipts.origin, "1"])
        receipts.wait_for(lambda: len(receipts.requests) == answered + 5, "5 held requests")
        deadline = time.monotonic() + 60
        while sum(_booked(ledger).values()) < answered:  # real time: the process is real
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the export never booked the answered items"
            time.sleep(0.005)
        os.kill(first.pid, signal.SIGKILL)
        first.communicate(timeout=30)
        assert first.returncode == -signal.SIGKILL
        # The 5 requests were unanswered when the process died: its end closed them.
        receipts.wait_for(lambda: len(receipts.aborted) == 5, "the killed requests")
        assert sum(_booked(ledger).values()) == answered
        assert sandbox.job_status(job) == "in_progress"

        release.set()
        rerun = _child([*args, "0", receipts.origin, "1"])
        _out, err = rerun.communicate(timeout=120)
        assert rerun.returncode == 0, err

    _assert_every_item_booked_once(sandbox, job, ledger)
