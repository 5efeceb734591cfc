"""A real ``pleo-erp export`` process is SIGKILLed mid-job and run again at once.

The sandbox is served over loopback HTTP from a thread of this process; the exporter is a
separate process writing a Beancount ledger and keeping its state database across attempts.
The kill lands while the first job is being booked, so the dead process leaves its lease
row behind (it never released it). The rerun must proceed at once — its holder is gone — and
every item must end exactly as the demo promises: booked exactly once, or failed for its
deliberate reason, never both, never twice.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import pytest
from beancount import loader
from beancount.core import data

from pleo_erp.state import SQLiteLeaseStore, StateDB
from pleo_erp.testing.sandbox import PleoSandbox
from tests.helpers.cli import make_ledger

pytestmark = pytest.mark.http

SRC = Path(__file__).resolve().parents[3] / "src"
ENTRY_ID = "pleo-accounting-entry-id"


def _booked(ledger: Path) -> Counter[str]:
    """How many transactions the ledger holds per ``accountingEntryId``."""
    entries, errors, _ = loader.load_file(str(ledger))
    assert errors == []
    return Counter(
        str(e.meta[ENTRY_ID])
        for e in entries
        if isinstance(e, data.Transaction) and ENTRY_ID in e.meta
    )


def _export(env: Mapping[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pleo_erp.cli", "export"],
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_bookings(ledger: Path, process: subprocess.Popen[str], at_least: int) -> None:
    """Poll (real time, the process is real) until the ledger holds ``at_least`` entries."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the export ended before the kill: {process.communicate()}")
        if ledger.read_text(encoding="utf-8").count(" #pleo ^pleo-") >= at_least:
            return
        time.sleep(0.005)
    raise AssertionError("the export never booked anything")


def test_sigkill_mid_job_then_an_immediate_rerun_proceeds_and_books_everything_once(
    tmp_path: Path,
) -> None:
    sandbox = PleoSandbox(seed=1)
    demo = sandbox.seed_demo(volume=12)
    state_db = tmp_path / "state" / "state.db"
    with sandbox.serve() as base_url:
        ledger = make_ledger(tmp_path, demo)
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
            "PLEO_BASE_URL": base_url,
            "PLEO_API_KEY": sandbox.api_key,
            "PLEO_COMPANY_ID": str(demo.company_id),
            "PLEO_LEDGER": str(ledger),
            "PLEO_STATE_DB": str(state_db),
            "HOME": str(tmp_path / "home"),
        }
        first = _export(env)
        _wait_for_bookings(ledger, first, at_least=3)
        os.kill(first.pid, signal.SIGKILL)
        first.communicate(timeout=30)
        assert first.returncode == -signal.SIGKILL

        # The dead process still "holds" the company: its lease row was never released.
        with StateDB(state_db) as db:
            holder = SQLiteLeaseStore(db).holder(f"export:{demo.company_id}")
        assert holder is not None
        assert holder.pid == first.pid
        open_jobs = [
            job_id
            for job_id in demo.expected_job_statuses
            if sandbox.job_status(job_id) in ("pending", "in_progress")
        ]
        assert open_jobs, "the kill landed after the export had finished"

        started = time.monotonic()
        rerun = _export(env)
        _out, err = rerun.communicate(timeout=60)
        took = time.monotonic() - started
        assert "already running" not in err
        assert rerun.returncode == 1, err  # 1: the demo's deliberate failures, nothing else
        assert "failed items" in err

    # Every job finished as the demo expects, every item as promised, each booking once.
    for job_id, expected in demo.expected_job_statuses.items():
        assert sandbox.job_status(job_id) == expected, job_id
    booked = _booked(ledger)
    assert [aeid for aeid, n in booked.items() if n > 1] == []  # no double post
    for demo_job in demo.jobs:
        job_items = {i["accountingEntryId"]: i for i in sandbox.job_items(demo_job.job["id"])}
        for aeid, item in job_items.items():
            expected_failure = demo.expected_failures.get(aeid)
            if expected_failure is None:
                assert item["status"] == "successful", (aeid, item)
                assert booked[aeid] == 1, aeid  # nothing lost
            else:
                assert item["status"] == "failed", (aeid, item)
                assert item["failureReasonType"] == expected_failure
                assert booked[aeid] == 0
    # No temp file of the killed writer survives the rerun (documents/ included).
    assert list(ledger.parent.rglob("*.pleo-tmp")) == []
    assert took < 60  # the old lock blocked the company for 3600 s
