"""Distributed runtime throughput: companies with empty queues served per minute, and capacity.

Every company is a connection running the export level only with nothing to export, so one run
is one poll (``GET /v3/export-jobs``) plus the runtime's bookkeeping (registry read, lease
acquire/release with heartbeat, schedule start/finish): what a poll costs for most companies
most of the time. All on this machine, against the Pleo sandbox in its own process:

1. **embedded**: ``EmbeddedRuntime`` (one process, SQLite state, 8 worker threads);
2. **Celery, 2 and 4 workers**: ``celery worker --pool threads -c 8`` processes, Postgres state
   and Redis broker started by :mod:`pleo_erp.testing.services`; one ``tick`` claims every
   due row (``FOR UPDATE SKIP LOCKED``) and enqueues the runs.

It reports companies/min of each and the ratios, the measured CPU per run (workers, PostgreSQL,
Redis), and recomputes the capacity estimate for 50 000 companies from those costs.

``python benchmarks/bench_distributed.py [companies]`` (default 600). A report, exit 0.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "src"), str(HERE)]

import httpx  # noqa: E402

from pleo_erp.client import ApiKeyAuth, PleoClient  # noqa: E402
from pleo_erp.orchestration import ScheduledLevel  # noqa: E402
from pleo_erp.runtime import Connection  # noqa: E402
from pleo_erp.runtime.embedded import EmbeddedRuntime  # noqa: E402
from pleo_erp.runtime.run import LevelResult  # noqa: E402
from pleo_erp.runtime.state import open_state  # noqa: E402
from pleo_erp.runtime.tick import tick  # noqa: E402
from pleo_erp.testing import InMemoryAccountingSystem  # noqa: E402
from pleo_erp.testing.services import PostgresServer, RedisServer  # noqa: E402

EXPORT = ScheduledLevel.EXPORT
CLK_TCK = os.sysconf("SC_CLK_TCK")


def _connection(company: UUID) -> Connection:
    return Connection(
        company_id=company,
        auth_kind="api_key",
        token_key="bench",
        adapter="inmemory",
        levels=(EXPORT,),
        cadence={EXPORT: timedelta(minutes=5)},
        created_at=datetime.now(timezone.utc),
    )


def cpu_seconds(pids: Iterable[int]) -> float:
    """utime + stime of these processes (and, for each, its live children) from /proc."""
    wanted = set(pids)
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry), int(fields[1])
        if pid in wanted or ppid in wanted:
            total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


# ---- the sandbox in its own process ---------------------------------------------------------

_SANDBOX = """
import json, sys, threading
from pleo_erp.testing import PleoSandbox
sandbox = PleoSandbox(seed=1, validate_responses="off", record_requests=False)
companies = [sandbox.add_company() for _ in range(int(sys.argv[1]))]
with sandbox.serve() as url:
    print(json.dumps({"url": url, "key": sandbox.api_key, "companies": companies}), flush=True)
    threading.Event().wait()
"""


def sandbox_process(count: int) -> tuple[subprocess.Popen[str], str, str, list[UUID]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _SANDBOX, str(count)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert proc.stdout is not None
    info = json.loads(proc.stdout.readline())
    return proc, info["url"], info["key"], [UUID(c) for c in info["companies"]]


# ---- embedded -------------------------------------------------------------------------------


class _Factory:
    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url, self.auth = base_url, ApiKeyAuth(api_key)
        # One connection pool per process: a new httpx.Client loads the CA bundle (~100 ms).
        self.http = httpx.Client(follow_redirects=False)

    def build(self, connection: Connection) -> tuple[PleoClient, object, Mapping[Any, Any]]:
        client = PleoClient(self.auth, base_url=self.base_url, max_retries=0, http_client=self.http)
        return client, InMemoryAccountingSystem(), {}


def bench_embedded(companies: list[UUID], base_url: str, api_key: str, workers: int = 8) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        state = open_state(str(Path(tmp) / "state.db"))
        for company in companies:
            state.registry.add(_connection(company))
        done = threading.Condition()
        seen: set[UUID] = set()

        def on_result(result: LevelResult) -> None:
            with done:
                if result.ok:
                    seen.add(result.company_id)
                done.notify_all()

        runtime = EmbeddedRuntime(
            state, _Factory(base_url, api_key), workers=workers, tick_interval=0.05,
            on_result=on_result,
        )  # fmt: skip
        started = time.perf_counter()
        runtime.start()
        with done:
            done.wait_for(lambda: len(seen) == len(companies), timeout=600)
        elapsed = time.perf_counter() - started
        runtime.stop()
        state.close()
    return len(seen) / elapsed * 60


# ---- Celery ---------------------------------------------------------------------------------


def bench_celery(
    pg: PostgresServer,
    broker: RedisServer,
    companies: list[UUID],
    base_url: str,
    api_key: str,
    workers: int,
    database: str,
    logs: Path,
) -> dict[str, float]:
    import psycopg
    from celery import Celery

    admin = f"postgresql://postgres@127.0.0.1:{pg.port}/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {database}")
    url = f"postgresql://postgres@127.0.0.1:{pg.port}/{database}"
    state = open_state(url)
    for company in companies:
        state.registry.add(_connection(company))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "BENCH_STATE": url,
        "BENCH_BROKER": broker.url,
        "BENCH_SANDBOX": base_url,
        "BENCH_KEY": api_key,
    }
    procs = []
    for n in range(workers):
        log = logs / f"{database}-w{n}.log"
        with open(log, "wb") as out:
            procs.append(
                (
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "celery",
                            "-A",
                            "_celery_bench_app",
                            "worker",
                            "--pool",
                            "threads",
                            "-c",
                            "8",
                            "-Q",
                            "pleo.export,pleo.sync,pleo.tick",
                            "-n",
                            f"b{n}@bench",
                            "--without-gossip",
                            "--without-mingle",
                            "--without-heartbeat",
                            "-l",
                            "INFO",
                        ],
                        cwd=HERE,
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    ),
                    log,
                )
            )
    try:
        deadline = time.monotonic() + 120
        while not all("ready." in log.read_text(errors="replace") for _, log in procs):
            assert time.monotonic() < deadline, "workers did not start"
            time.sleep(0.2)
        app = Celery("bench-client", broker=broker.url)
        cpu_pids = [p.pid for p, _ in procs]
        cpu_pg0 = cpu_seconds([pg.pid])
        cpu_redis0 = cpu_seconds([broker.pid or 0])
        cpu_w0 = cpu_seconds(cpu_pids)
        started = time.perf_counter()

        def enqueue(company: UUID, level: ScheduledLevel, trigger: str) -> None:
            app.send_task(
                "pleo_erp.run_level", args=(str(company), level.value, trigger), queue="pleo.export"
            )

        claimed = tick(state.schedule, enqueue, limit=len(companies) + 1).claimed
        with psycopg.connect(url, autocommit=True) as conn:
            while True:
                (finished,) = conn.execute(  # type: ignore[misc]
                    "SELECT count(*) FROM connector_schedule WHERE last_outcome = 'ok'"
                ).fetchone()
                if finished >= claimed or time.perf_counter() - started > 600:
                    break
                time.sleep(0.05)
        elapsed = time.perf_counter() - started
        cpu_w = cpu_seconds(cpu_pids) - cpu_w0
        cpu_pg = cpu_seconds([pg.pid]) - cpu_pg0
        cpu_redis = cpu_seconds([broker.pid or 0]) - cpu_redis0
        app.close()
    finally:
        for proc, _ in procs:
            proc.kill()  # our worker processes, by handle
            proc.wait()
        state.close()
    runs = max(int(finished), 1)
    return {
        "per_min": runs / elapsed * 60,
        "cpu_ms_worker": cpu_w / runs * 1000,
        "cpu_ms_postgres": cpu_pg / runs * 1000,
        "cpu_ms_redis": cpu_redis / runs * 1000,
    }


def capacity(cpu_ms_per_run: float) -> list[str]:
    """Cores for 50 000 companies from the measured CPU per empty run (§6 of the study)."""
    lines = []
    for poll, poll_minutes in (("5 min", 5), ("30 min + webhooks", 30)):
        runs_per_min = 50_000 / poll_minutes + 50_000 / 60 + 50_000 / 1440
        cores = runs_per_min / 60 * cpu_ms_per_run / 1000
        lines.append(
            f"  50 000 companies, export poll {poll}: {runs_per_min:,.0f} runs/min -> "
            f"{cores:.1f} cores of runtime CPU for the polls alone"
        )
    return lines


def main(argv: list[str]) -> int:
    count = int(argv[1]) if len(argv) > 1 else 600
    print(f"Distributed runtime, {count} companies with empty export queues (this machine)")
    proc, base_url, api_key, companies = sandbox_process(count)
    try:
        embedded = bench_embedded(companies, base_url, api_key)
        print(f"  EmbeddedRuntime (SQLite, 8 threads): {embedded:,.0f} companies/min")
        with (
            PostgresServer.start() as pg,
            RedisServer.start() as broker,
            tempfile.TemporaryDirectory() as logs,
        ):
            results = {}
            for workers in (2, 4):
                results[workers] = bench_celery(
                    pg, broker, companies, base_url, api_key, workers, f"bench{workers}", Path(logs)
                )
                r = results[workers]
                print(
                    f"  Celery, {workers} workers x 8 threads (Postgres, Redis): "
                    f"{r['per_min']:,.0f} companies/min ({r['per_min'] / embedded:.2f}x embedded)"
                )
        r = results[4]
        per_run = r["cpu_ms_worker"] + r["cpu_ms_postgres"] + r["cpu_ms_redis"]
        print(
            f"  CPU per empty run (4 workers): worker {r['cpu_ms_worker']:.1f} ms + PostgreSQL "
            f"{r['cpu_ms_postgres']:.1f} ms + Redis {r['cpu_ms_redis']:.1f} ms = {per_run:.1f} ms"
        )
        for line in capacity(per_run):
            print(line)
        print(
            "  ratio 4/2 workers: "
            f"{results[4]['per_min'] / results[2]['per_min']:.2f}x (2 cores shared with the "
            "sandbox, PostgreSQL and Redis: beyond the cores, more workers add no throughput)"
        )
    finally:
        proc.kill()  # the sandbox process we started, by its handle
        proc.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
