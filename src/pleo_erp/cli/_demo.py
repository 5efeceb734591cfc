"""``pleo-erp demo``: the reference integration end to end, on this machine, in seconds.

1. Start the Pleo sandbox on loopback with the demo company (``sandbox.serve()``).
2. Create a fresh Beancount ledger from the demo chart (the accounting system's truth).
3. Build a real :class:`~pleo_erp.PleoClient` against the served URL with the sandbox's API
   key, so every call goes over real HTTP, and run the three levels in the order a connector
   runs them on first connection: tax codes + chart of accounts, tags, then the export queue.
4. Report per level what was created/updated/unarchived/archived, per job what succeeded and
   what failed with which reason (the demo's third job fails some items *on purpose*), the
   requests made and the time taken; check the ledger with Beancount's loader (bean-check).
5. Remove the ledger's lock file (the demo directory is the demo's own), and print the commands
   that check the ledger and open it in Fava with the interpreter running the CLI.

The exit code is 0 when every outcome is the one the demo data expects (deliberate failures
included), 1 otherwise.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pleo_erp.cli._commands import Measured, export_exit_code
from pleo_erp.cli._context import Context
from pleo_erp.cli._errors import ConfigError, ExitCode, UsageError
from pleo_erp.cli._next_steps import bean_check_command, fava_command
from pleo_erp.cli._output import Output
from pleo_erp.cli._progress import ExportProgress, SyncProgressBar
from pleo_erp.cli._render import (
    export_to_dict,
    render_export,
    render_sync_counts,
    render_sync_details,
    sync_to_dict,
)
from pleo_erp.client import ApiKeyAuth, PleoClient
from pleo_erp.orchestration.export import export_expenses
from pleo_erp.orchestration.report import ExportReport
from pleo_erp.orchestration.sync import sync_chart_of_accounts, sync_tags
from pleo_erp.orchestration.sync_report import SyncReport
from pleo_erp.state import MEMORY, StateDB
from pleo_erp.state.export_journal import SQLiteExportJournal

if TYPE_CHECKING:
    from pleo_erp.testing.sandbox.demo import DemoData

__all__ = ["DEMO_MARKER", "LEDGER_FILE", "cmd_demo", "prepare_demo_dir", "remove_lock_file"]

DEMO_MARKER = ".pleo-erp-demo"
"""The file that marks a directory as created by ``pleo-erp demo`` (and so safe to replace)."""

LEDGER_FILE = "ledger.beancount"
"""The ledger's file name inside the demo directory."""


def prepare_demo_dir(path: Path, *, cwd: Path, home: Path) -> Path:
    """Empty (or create) ``path`` for a fresh demo ledger; refuse anything not made by the demo.

    An existing directory is deleted only if it carries :data:`DEMO_MARKER` (or is empty); a
    file, a non-demo directory, the working directory, the home directory and ``/`` are
    refused.
    """
    target = path.expanduser()
    target = (cwd / target) if not target.is_absolute() else target
    resolved = target.resolve()
    forbidden = {cwd.resolve(), home.resolve(), Path(resolved.anchor)}
    if resolved in forbidden:
        raise UsageError(f"refusing to use {target} as the demo ledger directory")
    if target.is_symlink():
        raise UsageError(f"refusing to use {target}: it is a symbolic link")
    if target.exists():
        if not target.is_dir():
            raise UsageError(f"{target} exists and is not a directory; choose another --ledger")
        if (target / DEMO_MARKER).is_file():
            shutil.rmtree(target)
        elif any(target.iterdir()):
            raise UsageError(
                f"refusing to delete {target}: it was not created by `pleo-erp demo`",
                hint=f"choose another --ledger directory (demo directories hold {DEMO_MARKER})",
            )
    target.mkdir(parents=True, exist_ok=True)
    (target / DEMO_MARKER).write_text(
        "Created by `pleo-erp demo`; the next demo run deletes and recreates this directory.\n",
        encoding="utf-8",
    )
    return target


def _demo_ledger(directory: Path, demo: DemoData, kind: str) -> Path:
    """A fresh Beancount ledger in ``directory`` with the demo company's chart."""
    from pleo_erp.adapters.beancount import create_ledger

    return create_ledger(
        directory / LEDGER_FILE,
        demo.chart,
        currency=demo.currency,
        company_id=demo.company_id,
        title=f"{demo.company_name} — pleo-erp {kind}",
    )


def _display(path: Path, cwd: Path) -> str:
    try:
        return os.path.relpath(path, cwd) if path.is_relative_to(cwd) else str(path)
    except ValueError:
        return str(path)


def bean_check(ledger: Path) -> tuple[int, int, list[str]]:
    """Load ``ledger`` with Beancount's loader: (errors, transactions, first error lines)."""
    from beancount import loader
    from beancount.core import data

    entries, errors, _options = loader.load_file(str(ledger))
    transactions = sum(isinstance(e, data.Transaction) for e in entries)
    messages = [str(getattr(e, "message", e)).splitlines()[0] for e in errors[:5]]
    return len(errors), transactions, messages


def remove_lock_file(path: Path) -> bool:
    """Delete the ledger's sidecar lock file unless a process holds it; whether it is gone.

    The Beancount adapter keeps ``<ledger>.lock`` between writes (deleting a lock file is
    unsafe while others may open it); the demo directory belongs to the demo, though, and a
    stray lock file only puzzles a first-time user. It is taken without waiting first, so a
    writer still holding it (another process on the same ledger) keeps it.
    """
    from pleo_erp.adapters.beancount import LedgerLock, LockTimeout

    if not path.exists():
        return True
    lock = LedgerLock(path, timeout=0)
    try:
        lock.acquire()
    except (LockTimeout, OSError):
        return False
    try:
        path.unlink(missing_ok=True)
        return True
    except PermissionError:
        # Windows deletes no open file: try again once the lock is released (below).
        pass
    except OSError:
        return False
    finally:
        lock.release()
    try:
        path.unlink(missing_ok=True)
    except OSError:
        return False
    return True


def _check_expectations(report: ExportReport, demo: Any) -> list[str]:
    """Where the export differs from what the demo data expects (empty = as designed)."""
    problems: list[str] = []
    expected_failures: dict[str, str] = demo.expected_failures
    seen: set[str] = set()
    for item in report.items:
        entry_id = str(item.accounting_entry_id)
        seen.add(entry_id)
        wanted = expected_failures.get(entry_id)
        if wanted is None and not item.ok:
            problems.append(f"item {entry_id[:8]} failed unexpectedly: {item.failure_reason}")
        elif wanted is not None and item.ok:
            problems.append(f"item {entry_id[:8]} should have failed with {wanted}")
        elif wanted is not None and item.failure_type != wanted:
            problems.append(f"item {entry_id[:8]} failed with {item.failure_type}, not {wanted}")
    finals = {str(job.job_id): job.final_event for job in report.jobs}
    for job_id, status in demo.expected_job_statuses.items():
        if finals.get(str(job_id)) != status:
            problems.append(f"job {str(job_id)[:8]} ended {finals.get(str(job_id))}, not {status}")
    return problems


def _require_demo_extras() -> None:
    missing = []
    for module in ("beancount", "jsonschema"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise ConfigError(
            f"the demo needs {', '.join(missing)}",
            hint='pip install "pleo-erp[demo]"',
        )


def cmd_demo(ctx: Context) -> int:
    """Run the reference integration against the embedded sandbox into a fresh ledger."""
    args, out = ctx.args, ctx.out
    if args.volume is not None and args.volume < 0:
        raise UsageError("--volume must not be negative")
    _require_demo_extras()
    from pleo_erp.adapters.beancount import BeancountAccountingSystem
    from pleo_erp.testing.sandbox import PleoSandbox

    started = time.monotonic()
    directory = prepare_demo_dir(Path(args.demo_dir), cwd=ctx.cwd, home=ctx.home)
    sandbox = PleoSandbox(seed=args.seed)
    demo = sandbox.seed_demo(volume=args.volume or None)
    ledger_path = _demo_ledger(directory, demo, "demo")
    system = BeancountAccountingSystem(ledger_path)
    state = StateDB(MEMORY)
    shown_ledger = _display(ledger_path, ctx.cwd)
    out.add_secret(sandbox.api_key, sandbox.oauth_client_secret)

    with sandbox.serve() as base_url:
        out.line(f"pleo-erp demo: {demo.company_name} ({demo.currency}), seed {args.seed}")
        out.line(f"  Pleo sandbox   {base_url} (real HTTP on loopback)")
        out.line(f"  Beancount      {shown_ledger} (fresh)")
        # The sandbox has no rate limit, and the demo should take seconds: no client limiter.
        with PleoClient(
            ApiKeyAuth(sandbox.api_key),
            base_url=base_url,
            requests_per_minute=None,
            allow_local_receipts_from=base_url,  # the sandbox serves its receipts itself
        ) as client:
            company = demo.company_id
            out.heading("Level 3 - tax codes and chart of accounts (ledger -> Pleo)")
            with SyncProgressBar(out, "level 3") as bar, Measured(client) as level3:
                chart = sync_chart_of_accounts(client, system, company_id=company, progress=bar)
            _sync_section(out, chart, level3)

            out.heading("Level 2 - dimensions as tag groups and tags (ledger -> Pleo)")
            with SyncProgressBar(out, "level 2") as bar, Measured(client) as level2:
                tags = sync_tags(client, system, company_id=company, state=state, progress=bar)
            _sync_section(out, tags, level2)

            out.heading("Level 1 - the export queue (Pleo -> ledger), oldest job first")
            with ExportProgress(out) as progress:
                export = export_expenses(
                    client,
                    system,
                    company_id=company,
                    progress=progress,
                    journal=SQLiteExportJournal(state),
                )
            render_export(out, export, verbose=out.verbose)
            requests = client.request_count
    state.close()
    lock_path = Path(system.ledger.lock.path)
    lock_removed = remove_lock_file(lock_path)

    problems = _check_expectations(export, demo)
    errors, transactions, messages = bean_check(ledger_path)
    elapsed = time.monotonic() - started
    sync_ok = chart.ok and tags.ok and all(r.ok for r in chart.related.values())
    ok = (
        not problems
        and errors == 0
        and sync_ok
        and export_exit_code(export)
        in (
            ExitCode.OK,
            ExitCode.FAILURES,
        )
    )
    documents = (
        sum(1 for _ in (directory / "documents").rglob("*") if _.is_file())
        if (directory / "documents").is_dir()
        else 0
    )

    if out.json_mode:
        out.emit(
            {
                "command": "demo",
                "ok": ok,
                "exit_code": 0 if ok else 1,
                "company": {"id": demo.company_id, "name": demo.company_name},
                "seed": args.seed,
                "volume": args.volume,
                "ledger": str(ledger_path),
                "levels": {
                    "chart_of_accounts": {
                        **sync_to_dict(chart),
                        "total_requests": level3.requests,
                    },
                    "tags": {**sync_to_dict(tags), "total_requests": level2.requests},
                    "export": export_to_dict(export),
                },
                "expected_failures": len(demo.expected_failures),
                "unexpected": problems,
                "requests": requests,
                "seconds": round(elapsed, 3),
                "bean_check": {
                    "errors": errors,
                    "transactions": transactions,
                    "messages": messages,
                },
                "documents": documents,
            }
        )
        return 0 if ok else 1

    out.heading("Summary")
    counts = export.counts
    expected = len(demo.expected_failures)
    failed_note = (
        f"{counts['failed']} failed as the demo intends (bad items placed on purpose)"
        if not problems
        else f"{counts['failed']} failed"
    )
    out.line(f"  exported       {counts['successful']} items, {failed_note}")
    if expected and not problems:
        out.line("                 Pleo shows each failure's reason to the bookkeeper.")
    out.line(f"  requests       {requests} to Pleo over HTTP")
    out.line(f"  time           {elapsed:.1f}s")
    check = "0 errors" if errors == 0 else f"{errors} errors"
    out.line(f"  bean-check     {check} ({transactions} transactions, {documents} receipts)")
    for message in messages:
        out.line(f"    {message}")
    for problem in problems:
        out.line(f"  unexpected:    {problem}")
    if not lock_removed:
        out.line(f"  lock file      {_display(lock_path, ctx.cwd)} kept: another process holds it")

    out.heading("Next steps")
    out.line("  check the ledger with Beancount:")
    out.command(bean_check_command(shown_ledger, cwd=ctx.cwd))
    out.line("  browse it in Fava (then open http://127.0.0.1:5000):")
    out.command(fava_command(shown_ledger, cwd=ctx.cwd))
    if not ok:
        out.error("the demo did not end as designed (see above)")
    return 0 if ok else 1


def _sync_section(out: Output, report: SyncReport, measured: Measured) -> None:
    render_sync_counts(out, None, [report])
    render_sync_details(out, report)
    writes = sum(p.write_requests for p in (*report.related.values(), report))
    out.line(f"  {measured.requests} requests ({writes} writes) in {measured.seconds:.2f}s")
