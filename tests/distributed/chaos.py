"""Distributed chaos test: Postgres + Redis + Celery workers + two beats against the sandbox.

``python tests/distributed/chaos.py --seed 1`` (what ``nox -s distributed`` runs):

1. starts PostgreSQL and ``redis-server`` on loopback (:mod:`pleo_erp.testing.services`) and
   the Pleo sandbox over loopback HTTP in this process, with 10 % transient faults on the API
   and the token endpoint, and OAuth refresh-token rotation with replay detection
   (access tokens live 30 s, so every company refreshes several times);
2. registers N companies (OAuth connections, all three levels) with export jobs, and keeps
   adding jobs and changing the AS's dimensions/accounts while it runs;
3. runs 4 Celery worker processes (thread pool) and 2 beats at once, and meanwhile SIGKILLs a
   random worker every few seconds (and restarts it), SIGSTOPs one past its lease ttl then
   SIGCONTs it, and restarts Redis once (every queued message lost);
4. waits for quiescence and checks: every ``accountingEntryId`` posted exactly once in the
   AS's append-only post log, every job ended with exactly one accepted final event, no write
   of a run after a newer run of that company started (lease generation sent in a header),
   no refresh token replayed, no company above 600 requests in any 60 s.

Reproducible from ``--seed`` (the data, the fault stream, the kill schedule); prints one summary
line of counts and exits 1 if any check fails. Every process is started and stopped by PID.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path[:0] = [str(ROOT / "src"), str(HERE)]

from chaos_app import AS_MIGRATIONS, CADENCE  # noqa: E402

from pleo_erp.client.auth import TokenSet  # noqa: E402
from pleo_erp.orchestration.schedule import ScheduledLevel  # noqa: E402
from pleo_erp.runtime.postgres import open_runtime_state  # noqa: E402
from pleo_erp.runtime.stores import Connection  # noqa: E402
from pleo_erp.state.postgres import PostgresStateDB, PostgresTokenStore  # noqa: E402
from pleo_erp.testing.sandbox import PleoSandbox  # noqa: E402
from pleo_erp.testing.sandbox._clock import SandboxClock  # noqa: E402
from pleo_erp.testing.sandbox._server import SandboxHTTPServer  # noqa: E402
from pleo_erp.testing.services import PostgresServer, RedisServer  # noqa: E402

FINAL_EVENTS = {"completed", "failed", "completed_with_errors"}
RATE_LIMIT = 600  # Pleo: requests per company per 60 s


# ---- the sandbox, recorded ------------------------------------------------------------------


class Recorder:
    """Wraps the sandbox app: records every request with its company and lease generation."""

    def __init__(self, sandbox: PleoSandbox) -> None:
        self.sandbox = sandbox
        self.app = sandbox.app
        self.lock = threading.Lock()
        # (monotonic arrival, company, generation, method, path, status, event, job); for a
        # final job event, ``event`` is set only if this very request finished the job (a
        # lost response is applied although the client never sees a status).
        self.rows: list[tuple[float, str | None, int | None, str, str, int, str | None, str | None]]
        self.rows = []

    def handle(
        self,
        method: str,
        path: str,
        query: Any = (),
        headers: Iterable[tuple[str, str]] | None = None,
        body: bytes = b"",
        *,
        base_url: str | None = None,
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        arrived = time.monotonic()
        wanted = {k.lower(): v for k, v in (headers or [])}
        company = wanted.get("x-chaos-company")
        generation = wanted.get("x-chaos-generation")
        event = job = None
        if path == "/v3/export-job-events" and body:
            with contextlib.suppress(ValueError):
                payload = json.loads(body)
                event, job = payload.get("event"), payload.get("jobId")
        before = self._job_status(job)
        status = 0
        try:
            status, out_headers, payload_out = self.app.handle(
                method, path, query, list(headers or []), body, base_url=base_url
            )
            return status, out_headers, payload_out
        finally:
            if event in FINAL_EVENTS:
                finished = before == "in_progress" and self._job_status(job) in FINAL_EVENTS
                event = event if finished else f"refused-{event}"
            with self.lock:
                self.rows.append(
                    (
                        arrived,
                        company,
                        None if generation is None else int(generation),
                        method,
                        path,
                        status,
                        event,
                        job,
                    )
                )

    def _job_status(self, job: str | None) -> str | None:
        if job is None:
            return None
        try:
            return self.sandbox.job_status(job)
        except Exception:
            return None


class QuietServer(SandboxHTTPServer):
    """The sandbox's HTTP server, silent about connections a SIGKILLed worker left behind."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


@contextlib.contextmanager
def serve_recorded(recorder: Recorder) -> Iterator[str]:
    server = QuietServer(("127.0.0.1", 0), recorder)  # type: ignore[arg-type]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server.base_url
    finally:
        server.shutdown()
        server.close_connections()
        thread.join(timeout=5)
        server.server_close()


# ---- processes ------------------------------------------------------------------------------


class Proc:
    """One child process we started (and only ever signal by its PID)."""

    def __init__(self, name: str, argv: Sequence[str], env: Mapping[str, str], log: Path) -> None:
        self.name, self.argv, self.env, self.log = name, list(argv), dict(env), log
        self.popen: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.popen = subprocess.Popen(
                self.argv, cwd=HERE, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def signal(self, sig: int) -> None:
        if self.popen is not None and self.popen.poll() is None:
            os.kill(self.popen.pid, sig)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        if self.popen is not None:
            self.popen.wait(10)

    def stop(self, grace: float = 8.0) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)
        try:
            self.popen.wait(grace)
        except subprocess.TimeoutExpired:
            self.kill()


def celery(*args: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "chaos_app", *args]


# ---- the run --------------------------------------------------------------------------------


def seed_companies(
    sandbox: PleoSandbox, state: Any, db: PostgresStateDB, rng: random.Random, count: int
) -> tuple[list[str], list[str]]:
    companies, jobs = [], []
    now = datetime.now(timezone.utc)
    for n in range(count):
        company = sandbox.add_company(f"Chaos {n:03d}")
        tokens = sandbox.issue_oauth_grant(company)
        PostgresTokenStore(db, company).save(
            TokenSet(
                access_token=tokens.access_token,
                refresh_token=tokens.refresh_token,
                expires_at=now + timedelta(seconds=tokens.expires_in),
                scope=tokens.scope,
                token_type="Bearer",
            )
        )
        state.registry.add(
            Connection(
                company_id=UUID(company),
                auth_kind="oauth",
                token_key=company,
                adapter="chaos",
                levels=tuple(ScheduledLevel),
                cadence={level: CADENCE.interval(level) for level in ScheduledLevel},
                created_at=now,
            )
        )
        jobs.append(sandbox.create_export_job(company, rng.randint(2, 6)))
        companies.append(company)
    return companies, jobs


def add_work(
    sandbox: PleoSandbox,
    db: PostgresStateDB,
    rng: random.Random,
    companies: list[str],
    jobs: list[str],
) -> tuple[int, int]:
    """New export jobs for a few companies, new AS chart versions for a few others."""
    added = changed = 0
    for company in rng.sample(companies, k=min(6, len(companies))):
        with contextlib.suppress(Exception):  # refused while the company has a job in progress
            jobs.append(sandbox.create_export_job(company, rng.randint(1, 5)))
            added += 1
    with db.connection() as conn:
        for company in rng.sample(companies, k=min(4, len(companies))):
            conn.execute(
                "INSERT INTO chaos_as_version (company_id, version) VALUES (%s, 1) "
                "ON CONFLICT (company_id) DO UPDATE SET version = chaos_as_version.version + 1",
                (company,),
            )
            changed += 1
    return added, changed


def run(args: argparse.Namespace) -> int:

    rng = random.Random(args.seed)
    started = time.monotonic()
    counts: Counter[str] = Counter()
    with contextlib.ExitStack() as stack:
        pg = stack.enter_context(PostgresServer.start(max_connections=400))
        broker = stack.enter_context(RedisServer.start())
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pleo-chaos-")))
        if args.logs:
            tmp = Path(args.logs)
            tmp.mkdir(parents=True, exist_ok=True)
        sandbox = PleoSandbox(
            seed=args.seed,
            clock=SandboxClock.system(),
            validate_responses="off",
            record_requests=False,
            access_token_ttl=30,
        )
        for route in ("/v0/**", "/v1/**", "/v3/**"):
            sandbox.faults.random(rate=args.fault_rate, seed=args.seed, route=route)
        sandbox.faults.random(
            rate=args.fault_rate,
            kinds=("server_error", "service_unavailable", "rate_limited"),
            seed=args.seed,
            route="POST /oauth/token",
        )
        state = open_runtime_state(pg.url)
        stack.callback(state.close)
        db = PostgresStateDB(pg.url)
        stack.callback(db.close)
        db.apply_migrations("chaos_as", AS_MIGRATIONS)
        companies, jobs = seed_companies(sandbox, state, db, rng, args.companies)
        recorder = Recorder(sandbox)
        base_url = stack.enter_context(serve_recorded(recorder))
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(HERE)]),
            "CHAOS_STATE": pg.url,
            "CHAOS_BROKER": broker.url,
            "CHAOS_SANDBOX": base_url,
            "CHAOS_CLIENT_ID": sandbox.oauth_client_id,
            "CHAOS_CLIENT_SECRET": sandbox.oauth_client_secret,
            "CHAOS_LEASE_TTL": str(args.lease_ttl),
        }
        workers = [
            Proc(
                f"worker{i}",
                celery(
                    "worker",
                    "--pool",
                    "threads",
                    "-c",
                    str(args.concurrency),
                    "-Q",
                    "pleo.export,pleo.sync,pleo.tick",
                    "-n",
                    f"w{i}@chaos",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "-l",
                    args.log_level,
                ),
                env,
                tmp / f"worker{i}.log",
            )
            for i in range(args.workers)
        ]
        beats = [
            Proc(
                f"beat{i}",
                celery("beat", "-s", str(tmp / f"beat{i}"), "-l", args.log_level, "--pidfile", ""),
                env,
                tmp / f"beat{i}.log",
            )
            for i in range(2)
        ]
        everything = [*workers, *beats]
        stack.callback(lambda: [p.stop(2) for p in everything])

        # ---- chaos ----
        deadline = time.monotonic() + args.duration
        stop_at = time.monotonic() + args.duration * 0.3
        redis_at = time.monotonic() + args.duration * 0.55
        stopped: Proc | None = None
        resume_at = 0.0
        next_kill = time.monotonic() + rng.uniform(2, 5)
        next_work = time.monotonic() + 4
        while time.monotonic() < deadline:
            now = time.monotonic()
            if stopped is None and now >= stop_at and counts["sigstop"] == 0:
                stopped = rng.choice(workers)
                stopped.signal(signal.SIGSTOP)
                resume_at = now + args.lease_ttl + 4
                counts["sigstop"] += 1
            if stopped is not None and now >= resume_at:
                stopped.signal(signal.SIGCONT)
                stopped = None
            if now >= redis_at and counts["redis_restarts"] == 0:
                broker.restart()
                counts["redis_restarts"] += 1
            if now >= next_kill:
                victim = rng.choice([w for w in workers if w is not stopped])
                victim.kill()
                victim.start()
                counts["kills"] += 1
                next_kill = now + rng.uniform(args.kill_every * 0.5, args.kill_every * 1.5)
            if now >= next_work:
                added, changed = add_work(sandbox, db, rng, companies, jobs)
                counts["jobs_added"] += added
                counts["chart_changes"] += changed
                next_work = now + 5
            time.sleep(0.1)
        if stopped is not None:
            stopped.signal(signal.SIGCONT)

        # ---- quiescence: every job finished ----
        quiet_by = time.monotonic() + args.quiesce
        while time.monotonic() < quiet_by:
            open_jobs = [j for j in jobs if sandbox.job_status(j) not in FINAL_EVENTS]
            if not open_jobs:
                break
            time.sleep(1)
        time.sleep(2)  # in-flight syncs finish their last writes
        for proc in everything:
            proc.stop()
        elapsed = time.monotonic() - started
        failures = check(sandbox, db, recorder, jobs, counts)
        print(summary(args, counts, elapsed, failures), flush=True)
        if failures:
            for line in failures:
                print("FAIL:", line, flush=True)
            for proc in everything:
                tail = proc.log.read_text(errors="replace")[-1500:] if proc.log.exists() else ""
                print(f"--- {proc.name} log tail ---\n{tail}", flush=True)
            return 1
    return 0


# ---- checks ---------------------------------------------------------------------------------


def check(
    sandbox: PleoSandbox,
    db: PostgresStateDB,
    recorder: Recorder,
    jobs: list[str],
    counts: Counter[str],
) -> list[str]:
    failures: list[str] = []
    with db.connection() as conn:
        posts = Counter(
            str(aeid)
            for (aeid,) in conn.execute("SELECT accounting_entry_id FROM chaos_posts").fetchall()
        )
    counts["posts"] = sum(posts.values())
    counts["duplicates"] = sum(n - 1 for n in posts.values() if n > 1)
    if counts["duplicates"]:
        failures.append(f"{counts['duplicates']} duplicate posts in the AS log")

    with recorder.lock:
        rows = list(recorder.rows)
    final_accepted: Counter[str] = Counter()
    for _, _, _, _, path, _, event, job in rows:
        if path == "/v3/export-job-events" and event in FINAL_EVENTS:
            final_accepted[str(job)] += 1
    counts["jobs"] = len(jobs)
    for job in jobs:
        status = sandbox.job_status(job)
        counts[f"jobs_{status}"] += 1
        if status not in FINAL_EVENTS:
            failures.append(f"job {job} did not finish ({status})")
        elif final_accepted[job] != 1:
            failures.append(f"job {job} has {final_accepted[job]} accepted final events")
        for item in sandbox.job_items(job):
            counts["items"] += 1
            counts[f"items_{item.get('status')}"] += 1
            aeid = str(item["accountingEntryId"])
            if item.get("status") == "successful" and posts[aeid] != 1:
                failures.append(f"item {aeid} successful but posted {posts[aeid]} times")
    counts["final_events"] = sum(final_accepted.values())

    # No write of a run once a newer run (higher lease generation) of the company had started.
    newest: dict[str, int] = {}
    times: dict[str, list[float]] = defaultdict(list)
    for arrived, company, generation, method, path, status, _, _ in rows:
        counts["requests"] += 1
        if path == "/oauth/token" and method == "POST":
            counts["token_requests"] += 1
            counts["token_refused"] += status in (400, 401)
            continue
        if company is None:
            continue
        times[company].append(arrived)
        if generation is None or generation < 0:
            # Built by a run that no longer held the lease when it made its client (paused
            # between acquire and build): it may read, it must never write.
            counts["unfenced_writes" if method != "GET" else "unfenced_reads"] += 1
            continue
        if generation < newest.get(company, 0):
            counts["stale_writes" if method != "GET" else "stale_reads"] += 1
        newest[company] = max(newest.get(company, 0), generation)
    counts["faults"] = sum(rule.fired for rule in sandbox.faults._rules)
    if counts["stale_writes"] or counts["unfenced_writes"]:
        failures.append(
            f"{counts['stale_writes'] + counts['unfenced_writes']} writes from a run whose "
            "lease was taken over"
        )
    if counts["token_refused"]:
        failures.append(f"{counts['token_refused']} refresh requests refused (replay)")
    revoked = sum(1 for grant in sandbox.state.grants.values() if grant.revoked)
    if revoked:
        failures.append(f"{revoked} OAuth grants revoked")
    peak = 0
    for stamps in times.values():
        stamps.sort()
        for i, t in enumerate(stamps):
            peak = max(peak, bisect.bisect_right(stamps, t + 60.0) - i)
    counts["peak_per_60s"] = peak
    if peak > RATE_LIMIT:
        failures.append(f"a company made {peak} requests in 60 s (> {RATE_LIMIT})")
    return failures


def summary(
    args: argparse.Namespace, counts: Counter[str], elapsed: float, failures: list[str]
) -> str:
    keys = [
        "jobs", "jobs_completed", "items", "items_successful", "posts", "duplicates",
        "final_events", "requests", "faults", "token_requests", "token_refused", "kills",
        "sigstop", "redis_restarts", "jobs_added", "chart_changes", "stale_writes",
        "stale_reads", "unfenced_writes", "unfenced_reads", "peak_per_60s",
    ]  # fmt: skip
    parts = [f"{key}={counts[key]}" for key in keys]
    verdict = "PASS" if not failures else f"FAIL({len(failures)})"
    return (
        f"chaos {verdict} seed={args.seed} companies={args.companies} workers={args.workers} "
        f"beats=2 " + " ".join(parts) + f" elapsed={elapsed:.0f}s"
    )


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--companies", type=int, default=100)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=4, help="threads per worker")
    parser.add_argument("--duration", type=float, default=75.0, help="seconds of chaos")
    parser.add_argument("--quiesce", type=float, default=120.0, help="max seconds to settle")
    parser.add_argument("--kill-every", type=float, default=5.0)
    parser.add_argument("--lease-ttl", type=float, default=8.0)
    parser.add_argument("--fault-rate", type=float, default=0.1)
    parser.add_argument("--log-level", default="WARNING", help="of the workers and beats")
    parser.add_argument("--logs", default=None, help="keep process logs in this directory")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    return run(parse(argv))


if __name__ == "__main__":
    sys.exit(main())
