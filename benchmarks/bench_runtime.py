"""The embedded runtime: companies with empty export queues served per minute.

Each company is a connection that runs the export level only, with nothing to export, so one
run is one poll (``GET /v3/export-jobs``): the work a 5-minute poll does for most companies
most of the time. Measured on one process, SQLite state file, worker threads:

1. **Schedule claims**: ``claim_due`` of 2 000 due rows in batches of 500 (rows/s) — the
   scheduler's side of a tick.
2. **Empty polls through the embedded runtime** (``EmbeddedRuntime``: tick → in-memory queue →
   workers → ``run_level`` with the company lease, schedule writes, the poll), with 1, 4 and 8
   workers, against the Pleo sandbox served over loopback HTTP from a second process (its CPU
   shares the two cores: a conservative number). Each twice: a new ``httpx.Client`` per run
   (an SSL context each) and one shared ``httpx.Client`` (``SharedHttpClients``, what the
   reference factory does), with this process's CPU per company served.
3. **The baseline**: the same companies polled one after another with ``export_expenses``
   (what a single-process ``ConnectorSchedule`` loop does), without lease or schedule.

Run ``python benchmarks/bench_runtime.py [companies]`` (or ``nox -s bench``). Prints a
report; the exit status is 0 either way: this is a report, not a test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

from pleo_erp.client import ApiKeyAuth, PleoClient
from pleo_erp.orchestration import ScheduledLevel, export_expenses
from pleo_erp.runtime import Connection, EmbeddedRuntime, LevelResult, SharedHttpClients
from pleo_erp.runtime.sqlite import open_sqlite_state
from pleo_erp.testing import InMemoryAccountingSystem

EXPORT = ScheduledLevel.EXPORT
T0 = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)


def _connection(company: UUID) -> Connection:
    return Connection(
        company_id=company,
        auth_kind="api_key",
        token_key="bench",
        adapter="inmemory",
        settings={},
        levels=(EXPORT,),
        cadence={EXPORT: timedelta(minutes=5)},
        created_at=T0,
    )


class _Factory:
    """Like the reference factory: one ``PleoClient`` per run over one shared ``httpx.Client``
    (``shared=False``: a new ``httpx.Client`` per run, as before ``SharedHttpClients``)."""

    def __init__(self, base_url: str, api_key: str, *, shared: bool = True) -> None:
        self.base_url, self.api_key = base_url, api_key
        self.system = InMemoryAccountingSystem()
        self.auth = ApiKeyAuth(api_key)
        self.http = SharedHttpClients() if shared else None

    def build(
        self, connection: Connection
    ) -> tuple[PleoClient, object, Mapping[ScheduledLevel, Mapping[str, Any]]]:
        http = self.http.get(self.base_url) if self.http is not None else None
        client = PleoClient(self.auth, base_url=self.base_url, max_retries=0, http_client=http)
        return client, self.system, {}

    def close(self) -> None:
        if self.http is not None:
            self.http.close()


def bench_claims(rows: int = 2000, batch: int = 500) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        state = open_sqlite_state(Path(tmp) / "state.db", clock=lambda: T0)
        for index in range(rows):
            state.registry.add(_connection(UUID(int=index + 1)))
        started = time.perf_counter()
        claimed = 0
        while got := state.schedule.claim_due(batch):
            claimed += len(got)
        elapsed = time.perf_counter() - started
        state.close()
    assert claimed == rows
    return rows / elapsed


def bench_embedded(
    companies: list[UUID], base_url: str, api_key: str, workers: int, *, shared: bool = True
) -> tuple[float, float]:
    """Companies served per minute (start → every company polled once) and this process's
    CPU milliseconds per company served (the sandbox's CPU is in the other process)."""
    with tempfile.TemporaryDirectory() as tmp:
        state = open_sqlite_state(Path(tmp) / "state.db")
        for company in companies:
            state.registry.add(_connection(company))
        done = threading.Condition()
        seen: set[UUID] = set()

        def on_result(result: LevelResult) -> None:
            with done:
                if result.ok:
                    seen.add(result.company_id)
                done.notify_all()

        factory = _Factory(base_url, api_key, shared=shared)
        runtime = EmbeddedRuntime(
            state,
            factory,
            workers=workers,
            tick_interval=0.05,
            on_result=on_result,
        )
        started, cpu_started = time.perf_counter(), time.process_time()
        runtime.start()
        with done:
            finished = done.wait_for(lambda: len(seen) == len(companies), timeout=600)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        runtime.stop()
        factory.close()
        state.close()
    if not finished:
        print(f"  (timed out: {len(seen)}/{len(companies)} served)")
    return len(seen) / elapsed * 60, cpu * 1000 / max(1, len(seen))


def bench_baseline(companies: list[UUID], base_url: str, api_key: str) -> float:
    system = InMemoryAccountingSystem()
    auth = ApiKeyAuth(api_key)
    started = time.perf_counter()
    for company in companies:
        with PleoClient(auth, base_url=base_url, max_retries=0) as client:
            report = export_expenses(client, system, company_id=company)
            assert not report.jobs
    elapsed = time.perf_counter() - started
    return len(companies) / elapsed * 60


_SANDBOX_PROCESS = """
import json, sys, threading
from pleo_erp.testing import PleoSandbox
sandbox = PleoSandbox(seed=1)
companies = [sandbox.add_company() for _ in range(int(sys.argv[1]))]
with sandbox.serve() as url:
    print(json.dumps({"url": url, "key": sandbox.api_key, "companies": companies}), flush=True)
    threading.Event().wait()
"""


def _sandbox_process(count: int) -> tuple[subprocess.Popen[str], str, str, list[UUID]]:
    """The sandbox in its own process, so its CPU does not share this one's GIL."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _SANDBOX_PROCESS, str(count)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert proc.stdout is not None
    info = json.loads(proc.stdout.readline())
    return proc, info["url"], info["key"], [UUID(c) for c in info["companies"]]


def main(argv: list[str]) -> int:
    count = int(argv[1]) if len(argv) > 1 else 300
    print(f"Embedded runtime, {count} companies with empty export queues (2-core machine)")
    print(f"  schedule claims (SQLite, batches of 500): {bench_claims():,.0f} rows/s")
    proc, base_url, api_key, companies = _sandbox_process(count)
    try:
        baseline = bench_baseline(companies, base_url, api_key)
        print(f"  sequential export_expenses loop (baseline): {baseline:,.0f} companies/min")
        for workers in (1, 4, 8):
            for shared in (False, True):
                rate, cpu_ms = bench_embedded(companies, base_url, api_key, workers, shared=shared)
                label = "shared httpx.Client" if shared else "httpx.Client per run"
                print(
                    f"  EmbeddedRuntime, {workers} worker(s), {label}: {rate:,.0f} companies/min "
                    f"({rate / baseline:.2f}x baseline), {cpu_ms:.1f} ms CPU per company"
                )
    finally:
        proc.kill()  # the sandbox process we started, by its handle
        proc.wait()
    print(
        "  (each run: lease acquire + release, schedule start/finish, one Pleo GET over "
        "loopback HTTP to the sandbox in a second process)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
