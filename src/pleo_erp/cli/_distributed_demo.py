"""``pleo-erp demo-distributed``: the distributed runtime on one machine, end to end.

1. Start PostgreSQL and ``redis-server`` on free loopback ports in temp directories
   (:mod:`pleo_erp.testing.services`; under root they are installed with apt when missing).
2. Serve the Pleo sandbox with the demo company over loopback HTTP, authorise the integration
   with OAuth (tokens into the Postgres token store) and register the company's connection with
   a fresh Beancount ledger.
3. Start two ``pleo-erp worker`` processes and one ``pleo-erp scheduler`` -- the same commands a
   deployment runs -- and wait until every level ran and every export job finished.
4. Print what ran (``pleo-erp status``), stop every process by its PID and the services.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from pleo_erp.cli._context import Context
from pleo_erp.cli._demo import (
    _demo_ledger,
    _display,
    _require_demo_extras,
    prepare_demo_dir,
)
from pleo_erp.cli._errors import ConfigError, ExitCode, UsageError

__all__ = ["cmd_demo_distributed"]

_FINAL = {"completed", "failed", "completed_with_errors"}


def _stop(process: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    """SIGTERM our child by PID (Celery's warm shutdown), SIGKILL it if it lingers."""
    if process.poll() is not None:
        return
    os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)


def cmd_demo_distributed(ctx: Context) -> int:
    """Postgres + Redis + sandbox + 2 workers + scheduler on this machine (module docstring)."""
    args, out = ctx.args, ctx.out
    if args.timeout <= 0:
        raise UsageError("--timeout must be positive")
    _require_demo_extras()
    try:
        import celery  # noqa: F401
        import psycopg  # noqa: F401
    except ImportError:
        raise ConfigError(
            "the distributed demo needs Celery and psycopg",
            hint='pip install "pleo-erp[distributed]"',
        ) from None
    from pleo_erp.client.auth import TokenSet
    from pleo_erp.orchestration.schedule import ScheduledLevel
    from pleo_erp.runtime.onboarding import oauth_token_key
    from pleo_erp.runtime.state import open_state
    from pleo_erp.runtime.stores import Connection
    from pleo_erp.testing.sandbox import PleoSandbox
    from pleo_erp.testing.sandbox._clock import SandboxClock
    from pleo_erp.testing.services import PostgresServer, RedisServer, ServiceUnavailable

    started = time.monotonic()
    directory = prepare_demo_dir(Path(args.demo_dir), cwd=ctx.cwd, home=ctx.home)
    with ExitStack() as stack:
        out.heading("Services")
        try:
            pg = stack.enter_context(PostgresServer.start())
            broker = stack.enter_context(RedisServer.start())
        except ServiceUnavailable as exc:
            raise ConfigError(str(exc), hint="install postgresql and redis-server") from None
        out.line(f"  PostgreSQL     {pg.url} (pid {pg.pid})")
        out.line(f"  Redis          {broker.url} (pid {broker.pid})")
        sandbox = PleoSandbox(seed=args.seed, clock=SandboxClock.system(), record_requests=False)
        demo = sandbox.seed_demo()
        out.add_secret(sandbox.api_key, sandbox.oauth_client_secret)
        base_url = stack.enter_context(sandbox.serve())
        out.line(f"  Pleo sandbox   {base_url} (company {demo.company_id})")

        ledger = _demo_ledger(directory, demo, "distributed demo")
        company = demo.company_id
        from uuid import UUID

        state = open_state(pg.url)
        stack.callback(state.close)
        tokens = sandbox.issue_oauth_grant(company)
        out.add_secret(tokens.access_token, tokens.refresh_token)
        token_key = oauth_token_key(UUID(company))
        state.token_store(token_key).save(
            TokenSet(
                access_token=tokens.access_token,
                refresh_token=tokens.refresh_token,
                expires_at=datetime.now(timezone.utc) + timedelta(seconds=tokens.expires_in),
                scope=tokens.scope,
                token_type="Bearer",
            )
        )
        state.registry.add(
            Connection(
                company_id=UUID(company),
                auth_kind="oauth",
                token_key=token_key,
                adapter="beancount",
                settings={"ledger": str(ledger)},
                levels=tuple(ScheduledLevel),
                cadence={
                    ScheduledLevel.CHART_OF_ACCOUNTS: timedelta(minutes=10),
                    ScheduledLevel.TAGS: timedelta(minutes=5),
                    ScheduledLevel.EXPORT: timedelta(seconds=15),
                },
                created_at=datetime.now(timezone.utc),
            )
        )
        out.line(f"  Beancount      {_display(ledger, ctx.cwd)} (fresh)")

        env = {
            **os.environ,
            "PLEO_STATE": pg.url,
            "PLEO_BROKER": broker.url,
            "PLEO_BASE_URL": base_url,
            "PLEO_CLIENT_ID": sandbox.oauth_client_id,
            "PLEO_CLIENT_SECRET": sandbox.oauth_client_secret,
        }
        for name in ("PLEO_API_KEY", "PLEO_ENVIRONMENT", "PLEO_AUTH_URL", "PLEO_CONFIG"):
            env.pop(name, None)
        logs = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pleo-demo-")))
        cli = [sys.executable, "-m", "pleo_erp.cli"]
        commands = {
            "worker 1": [*cli, "worker", "--concurrency", "4", "--name", "demo-1@%h", "-v"],
            "worker 2": [*cli, "worker", "--concurrency", "4", "--name", "demo-2@%h", "-v"],
            "scheduler": [*cli, "scheduler", "--tick-interval", "2", "-v"],
        }
        processes: dict[str, subprocess.Popen[bytes]] = {}
        out.heading("Processes")
        for name, argv in commands.items():
            with open(logs / f"{name.replace(' ', '-')}.log", "wb") as log:
                processes[name] = subprocess.Popen(  # noqa: S603 - our own CLI
                    argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ctx.cwd
                )
            stack.callback(_stop, processes[name])
            out.line(f"  pleo-erp {argv[len(cli)]:<10} pid {processes[name].pid}  ({name})")

        done = _wait(state, sandbox, company, processes, deadline=time.monotonic() + args.timeout)
        out.heading("What ran (pleo-erp status)")
        for row in state.schedule.rows(UUID(company)):
            out.line(
                f"  {row.level.value:<18} {row.last_outcome or '-':<8} "
                f"next due {row.next_due:%H:%M:%S}"
            )
        jobs = sandbox.jobs(company)
        statuses = [str(job.get("status")) for job in jobs]
        out.line(f"  export jobs        {', '.join(statuses)}")
        if args.keep_running and done:
            out.line("serving until Ctrl-C (the scheduler polls every 15 s)")
            try:
                while all(p.poll() is None for p in processes.values()):
                    time.sleep(0.5)
            except KeyboardInterrupt:
                pass
        out.heading("Stopping (by PID)")
        for name, process in processes.items():
            _stop(process)
            out.line(f"  {name:<10} exited {process.returncode}")
        if not done:
            for name in processes:
                log_file = logs / f"{name.replace(' ', '-')}.log"
                out.warn(f"{name} log tail:\n{log_file.read_text(errors='replace')[-1500:]}")
        out.emit(
            {
                "ok": done,
                "seconds": round(time.monotonic() - started, 1),
                "levels": {
                    row.level.value: row.last_outcome for row in state.schedule.rows(UUID(company))
                },
                "jobs": statuses,
                "ledger": str(ledger),
            }
        )
    return int(ExitCode.OK if done else ExitCode.FAILURES)


def _wait(
    state: Any,
    sandbox: Any,
    company: str,
    processes: dict[str, subprocess.Popen[bytes]],
    *,
    deadline: float,
) -> bool:
    """Until every level has run once and every export job is final; False on timeout/crash."""
    from uuid import UUID

    while time.monotonic() < deadline:
        if any(process.poll() is not None for process in processes.values()):
            return False
        rows = state.schedule.rows(UUID(company))
        ran = rows and all(row.last_outcome is not None for row in rows)
        jobs = sandbox.jobs(company)
        if ran and all(str(job.get("status")) in _FINAL for job in jobs):
            return True
        time.sleep(0.5)
    return False
