"""``pleo-erp connections add|list|remove``, ``status`` and ``serve`` (in-process and as a real
process stopped with SIGTERM), against a sandbox served on loopback with three companies."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pleo_erp.cli import _runtime
from tests.helpers.cli import SENTINEL, Served, cli, make_ledger, served_demo

# A booked transaction: `2026-09-02 ! "…" #pleo ^pleo-<accounting entry id> …`
TRANSACTION = re.compile(r"^\d{4}-\d{2}-\d{2} [!*] .* \^pleo-([0-9a-f-]{36})", re.M)
SECRET = "whsec_" + "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"
SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.fixture
def served() -> Iterator[Served]:
    with served_demo(seed=2) as served:
        yield served


def _env(served: Served, **extra: str) -> dict[str, str]:
    env = served.env(**extra)
    env.pop("PLEO_COMPANY_ID")  # every command names its company explicitly
    return env


def _three_connections(tmp_path: Path, served: Served) -> list[str]:
    """The demo company plus two empty ones, one ledger each."""
    from pleo_erp.adapters.beancount import create_ledger

    companies = [served.company_id, served.sandbox.add_company(), served.sandbox.add_company()]
    for index, company in enumerate(companies):
        if index == 0:
            ledger = make_ledger(tmp_path, served.demo)
        else:
            ledger = create_ledger(
                tmp_path / "books" / f"c{index}.beancount",
                served.demo.chart,
                currency=served.demo.currency,
                company_id=company,
            )
        result = cli(
            tmp_path,
            "connections",
            "add",
            "--company-id",
            company,
            "--ledger",
            str(ledger),
            "--export-every",
            "1h",
            env=_env(served),
        )
        assert result.code == 0, result.text
    return companies


def test_connections_add_list_remove(tmp_path: Path, served: Served) -> None:
    companies = _three_connections(tmp_path, served)
    listed = cli(tmp_path, "connections", "list", "--json", env=_env(served))
    assert listed.code == 0
    documents = listed.json()["connections"]
    assert [d["company_id"] for d in documents] == companies
    assert documents[0]["cadence"] == {"export": 3600.0}
    assert documents[0]["levels"] == "chart_of_accounts,tags,export"
    assert documents[0]["auth"] == "api_key"

    removed = cli(tmp_path, "connections", "remove", "--company-id", companies[1], env=_env(served))
    assert removed.code == 0
    again = cli(tmp_path, "connections", "remove", "--company-id", companies[1], env=_env(served))
    assert again.code == 1
    assert "no connection" in again.err
    listed = cli(tmp_path, "connections", "list", env=_env(served))
    assert companies[1] not in listed.out
    assert companies[2] in listed.out


def test_connections_add_refuses_bad_input(tmp_path: Path, served: Served) -> None:
    ledger = make_ledger(tmp_path, served.demo)
    env = _env(served)
    missing = cli(tmp_path, "connections", "add", "--company-id", served.company_id, env=env)
    assert missing.code == 2
    assert "--ledger" in missing.err
    bad_level = cli(
        tmp_path,
        "connections",
        "add",
        "--company-id",
        served.company_id,
        "--ledger",
        str(ledger),
        "--levels",
        "export,payroll",
        env=env,
    )
    assert bad_level.code == 2
    assert "payroll" in bad_level.err
    bad_every = cli(
        tmp_path,
        "connections",
        "add",
        "--company-id",
        served.company_id,
        "--ledger",
        str(ledger),
        "--tags-every",
        "soon",
        env=env,
    )
    assert bad_every.code == 2
    assert "duration" in bad_every.err
    first = cli(
        tmp_path,
        "connections",
        "add",
        "--company-id",
        served.company_id,
        "--ledger",
        str(ledger),
        env=env,
    )
    assert first.code == 0
    shared = cli(
        tmp_path,
        "connections",
        "add",
        "--company-id",
        served.sandbox.add_company(),
        "--ledger",
        str(ledger),
        env=env,
    )
    assert shared.code == 2
    assert "already the ledger" in shared.err


def test_serve_runs_every_connection_then_status_shows_it(
    tmp_path: Path, served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    companies = _three_connections(tmp_path, served)
    env = _env(served, PLEO_WEBHOOK_SECRET=SECRET, PLEO_API_KEY=served.sandbox.api_key)

    def drive(runtime: Any, stop: threading.Event) -> None:
        def wait_then_stop() -> None:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                rows = runtime.state.schedule.rows()
                if len(rows) == 9 and all(row.last_outcome for row in rows):
                    break
                time.sleep(0.05)
            stop.set()

        threading.Thread(target=wait_then_stop, daemon=True).start()

    monkeypatch.setattr(_runtime, "on_serving", drive)
    result = cli(tmp_path, "serve", "--port", "0", "--tick-interval", "0.05", "--json", env=env)
    assert result.code == 0, result.err
    outcomes = result.json()["outcomes"]
    assert outcomes.get("ok", 0) + outcomes.get("partial", 0) >= 9

    status = cli(tmp_path, "status", "--json", env=env)
    levels = status.json()["levels"]
    assert len(levels) == 9
    by_company = {c: [d for d in levels if d["company_id"] == c] for c in companies}
    assert all(d["last_outcome"] == "ok" for c in companies[1:] for d in by_company[c])
    demo_export = next(d for d in by_company[companies[0]] if d["level"] == "export")
    assert demo_export["last_outcome"] == "partial"  # the demo has items that must fail
    assert all(d["lease_holder"] is None for d in levels)  # released on stop
    text = cli(tmp_path, "status", "--company-id", companies[1], env=env)
    assert text.code == 0
    assert companies[1] in text.out
    assert companies[2] not in text.out
    assert "never ran" not in text.out


def test_status_never_prints_a_secret_of_the_state_url(tmp_path: Path, served: Served) -> None:
    result = cli(
        tmp_path,
        "status",
        "--state",
        f"mysql://app:{SENTINEL}@127.0.0.1:1/x",
        env=_env(served),
    )
    assert SENTINEL not in result.text
    assert result.code == 2
    assert "no state backend for mysql://" in result.err


@pytest.mark.http
def test_serve_process_stops_cleanly_on_sigterm(tmp_path: Path, served: Served) -> None:
    """A real ``pleo-erp serve`` process: it serves, then SIGTERM drains and exits 0."""
    companies = _three_connections(tmp_path, served)
    env = {
        **os.environ,
        **_env(served, PLEO_WEBHOOK_SECRET=SECRET),
        "PLEO_STATE_DB": str(tmp_path / "state" / "state.db"),
        "PYTHONPATH": SRC,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "pleo_erp.cli", "serve", "--port", "0", "--tick-interval", "0.1"],
        env=env,
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        seen: list[str] = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            seen.append(line)
            if sum("pleo_erp.cli.serve: export of" in s for s in seen) >= len(companies):
                break
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    log = "".join(seen) + rest
    assert proc.returncode == 0, log[-2000:]
    assert "received SIGTERM" in log
    assert "runtime stopped" in log
    status = cli(tmp_path, "status", "--json", env=_env(served))
    rows = status.json()["levels"]
    assert {d["last_outcome"] for d in rows if d["level"] == "export"} <= {"ok", "partial"}
    assert all(d["lease_holder"] is None for d in rows)
    assert json.dumps(rows)  # serialisable status document


@pytest.mark.http
@pytest.mark.slow
def test_serve_killed_mid_export_resumes_without_duplicates(tmp_path: Path) -> None:
    """SIGKILL ``pleo-erp serve`` while it books a 150-item job; a new ``serve`` takes the
    lease of the dead process at once, resumes the job, and books every item exactly once."""
    from pleo_erp.testing.sandbox import PleoSandbox

    sandbox = PleoSandbox(seed=3)
    demo = sandbox.seed_demo(volume=150)
    ledger = make_ledger(tmp_path, demo)
    company = str(demo.company_id)
    with sandbox.serve() as base_url:
        env = {"PLEO_BASE_URL": base_url, "PLEO_API_KEY": sandbox.api_key}
        added = cli(
            tmp_path,
            "connections",
            "add",
            "--company-id",
            company,
            "--ledger",
            str(ledger),
            "--levels",
            "export",
            "--export-every",
            "1h",
            env=env,
        )
        assert added.code == 0, added.text
        process_env = {
            **os.environ,
            **env,
            "PLEO_STATE_DB": str(tmp_path / "state" / "state.db"),
            "PYTHONPATH": SRC,
        }
        argv = [sys.executable, "-m", "pleo_erp.cli", "serve", "--no-webhooks"]
        argv += ["--tick-interval", "0.1", "--workers", "2"]

        def booked() -> list[str]:
            """The accounting entry id of every transaction in the ledger (not documents)."""
            return TRANSACTION.findall(ledger.read_text(encoding="utf-8"))

        first = subprocess.Popen(argv, env=process_env, cwd=tmp_path)
        try:
            deadline = time.monotonic() + 120
            while len(booked()) < 30 and time.monotonic() < deadline and first.poll() is None:
                time.sleep(0.05)
            assert len(booked()) >= 30, "the first serve did not start booking"
            os.kill(first.pid, signal.SIGKILL)  # no drain, no release: the lease stays behind
            first.wait(timeout=30)
        finally:
            if first.poll() is None:
                first.kill()
        at_kill = len(booked())
        holder = cli(tmp_path, "status", "--json", env=env).json()["levels"][0]
        assert holder["lease_holder"] is not None  # left by the dead process

        second = subprocess.Popen(argv, env=process_env, cwd=tmp_path)
        try:
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                statuses = {sandbox.job_status(job.job["id"]) for job in demo.jobs}
                if not statuses & {"pending", "in_progress"}:
                    break
                time.sleep(0.1)
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=60) == 0
        finally:
            if second.poll() is None:
                second.kill()
    ids = booked()
    assert len(ids) > at_kill
    assert len(ids) == len(set(ids))  # exactly once, across the kill
    assert not {sandbox.job_status(job.job["id"]) for job in demo.jobs} & {"pending", "in_progress"}
