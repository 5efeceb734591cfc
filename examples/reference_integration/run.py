"""The reference integration: Pleo ⇄ a Beancount ledger, all three levels, offline.

    python examples/reference_integration/run.py [--dir books] [--seed 1] [--overwrite]

1. starts the Pleo sandbox with the demo company and serves it over HTTP on 127.0.0.1;
2. creates a fresh Beancount ledger from the demo company's chart of accounts;
3. Level 3 — syncs tax codes, then the chart of accounts, ledger → Pleo;
4. Level 2 — syncs the dimensions as tag groups and tags, ledger → Pleo;
5. Level 1 — exports Pleo's queue of expense jobs into the ledger, oldest job first;
6. checks the ledger with Beancount's own loader and runs the export a second time to show
   that nothing is posted twice.

Everything a production integration keeps between runs (the dimension selection, the export
journal that repairs a crash between posting and reporting) lives in ``pleo-state.sqlite``
beside the ledger. Open the result with ``fava <dir>/ledger.beancount``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from pleo_erp.adapters.beancount import BeancountAccountingSystem, create_ledger
from pleo_erp.client import ApiKeyAuth, PleoClient
from pleo_erp.orchestration.export import export_expenses
from pleo_erp.orchestration.report import ExportReport
from pleo_erp.orchestration.sync import sync_accounts, sync_tags, sync_tax_codes
from pleo_erp.orchestration.sync_report import SyncReport
from pleo_erp.state import StateDB
from pleo_erp.state.export_journal import SQLiteExportJournal
from pleo_erp.testing.sandbox import PleoSandbox

LEDGER = "ledger.beancount"
STATE = "pleo-state.sqlite"


def show_sync(title: str, report: SyncReport) -> None:
    """One line per sync: what was planned and applied, and anything that failed."""
    print(f"  {title:<13} {report.plan.summary()}  [{report.write_requests} writes]")
    for failure in report.failures:
        print(f"      failed: {failure}")
    for error in report.errors:
        print(f"      error: {error}")


def show_export(report: ExportReport) -> None:
    """Per job: the final event and the items that failed, with Pleo's reason."""
    for job in report.jobs:
        outcome = job.final_event or f"unfinished ({job.interrupted})"
        print(f"  job {job.job_id}: {outcome}: {job.successful} exported, {job.failed} failed")
        for item in job.items:
            if item.status == "failed":
                reason = (item.failure_reason or "")[:90]
                print(f"      {item.failure_type:<38} {reason}")


def ledger_errors(path: Path) -> int:
    """How many errors Beancount's loader (what ``bean-check`` runs) finds in the ledger."""
    from beancount import loader

    _, errors, _ = loader.load_file(str(path))
    for error in errors[:5]:
        print(f"      {error.message}")
    return len(errors)


def main(argv: list[str] | None = None) -> int:
    """Run the whole integration; exit 0 when the ledger is clean and nothing was lost."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, help="where to write the ledger (default: temp)")
    parser.add_argument("--seed", type=int, default=1, help="demo data seed")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing ledger")
    args = parser.parse_args(argv)
    books = args.dir or Path(tempfile.mkdtemp(prefix="pleo-reference-"))
    books.mkdir(parents=True, exist_ok=True)
    if args.overwrite:
        (books / STATE).unlink(missing_ok=True)
    started = time.monotonic()

    # 1. Pleo: the sandbox plays Pleo's API, with the demo company and its export queue.
    sandbox = PleoSandbox(seed=args.seed)
    demo = sandbox.seed_demo()
    company = demo.company_id

    # 2. The accounting system: a new Beancount ledger holding the company's chart.
    try:
        ledger_path = create_ledger(
            books / LEDGER,
            demo.chart,
            currency=demo.currency,
            company_id=company,
            title=f"{demo.company_name} (pleo-erp reference integration)",
            overwrite=args.overwrite,
        )
    except FileExistsError:
        parser.error(f"{books / LEDGER} exists; pass --overwrite or choose another --dir")
    ledger = BeancountAccountingSystem(ledger_path)
    state = StateDB(books / STATE)

    print(f"{demo.company_name}: Pleo sandbox -> Beancount ledger {ledger_path}")
    with (
        sandbox.serve() as base_url,
        PleoClient(ApiKeyAuth(sandbox.api_key), base_url=base_url) as client,
    ):
        print(f"  Pleo API at {base_url} (loopback HTTP)\n")

        # 3. Level 3: tax codes first, so accounts can refer to them.
        print("Level 3: chart of accounts (ledger -> Pleo)")
        show_sync("tax codes", sync_tax_codes(client, ledger, company_id=company))
        show_sync("accounts", sync_accounts(client, ledger, company_id=company))

        # 4. Level 2: dimensions become tag groups; the selection is remembered in ``state``.
        print("Level 2: dimensions as tags (ledger -> Pleo)")
        tags = sync_tags(client, ledger, company_id=company, state=state)
        selected = ", ".join(tags.selection.selected) if tags.selection else "none"
        show_sync("tags", tags)
        print(f"  {'':<13} selected dimensions: {selected}")

        # 5. Level 1: the export queue, oldest job first, with a crash-repair journal.
        print("Level 1: expense export (Pleo -> ledger)")
        journal = SQLiteExportJournal(state)
        first = export_expenses(client, ledger, company_id=company, journal=journal)
        show_export(first)

        # 6. Idempotence: a second run finds nothing to do and posts nothing.
        second = export_expenses(client, ledger, company_id=company, journal=journal)
        print(f"\nSecond run: {len(second.jobs)} jobs, {len(second.items)} items (expected 0)")
    state.close()

    errors = ledger_errors(ledger_path)
    print(f"Ledger check: {errors} Beancount errors")
    print(f"Done in {time.monotonic() - started:.1f}s. Browse it with: fava {ledger_path}")
    unfinished = [job for job in first.jobs if not job.finished]
    return 0 if errors == 0 and not unfinished and not second.items else 1


if __name__ == "__main__":
    sys.exit(main())
