"""``pleo-erp export | sync-tags | sync-accounts | sync-tax-codes | config show``.

Each command: build the client and the accounting system from the settings, resolve the
company, run the orchestrator with a progress bar, print the report (or one JSON document),
and return the exit code: 0 when everything went through, 1 when the run finished with failed
items or actions, 3 when a write was refused for lack of authorization, 4 when a job was left
unfinished because Pleo could not be reached, 5 when a job was deferred because the accounting
system is temporarily unavailable (the next run retries it).
"""

from __future__ import annotations

import time
import uuid
from typing import Any, TypedDict

from typing_extensions import Unpack

from pleo_erp.cli._context import Connection, Context, load_accounting_system, resolve_company_id
from pleo_erp.cli._errors import ExitCode, UsageError
from pleo_erp.cli._preview import preview_to_dict, render_preview
from pleo_erp.cli._progress import ExportProgress, SyncProgressBar
from pleo_erp.cli._render import (
    export_to_dict,
    render_export_jobs,
    render_failed_items,
    render_plan,
    render_sync_counts,
    render_sync_details,
    sync_to_dict,
)
from pleo_erp.domain.config import ExportConfig
from pleo_erp.orchestration.export import export_expenses, process_job
from pleo_erp.orchestration.report import ExportReport
from pleo_erp.orchestration.sync import (
    sync_accounts,
    sync_chart_of_accounts,
    sync_tags,
    sync_tax_codes,
)
from pleo_erp.orchestration.sync_report import SyncReport
from pleo_erp.state.export_journal import SQLiteExportJournal
from pleo_erp.state.lease import SQLiteLeaseStore

__all__ = [
    "Measured",
    "cmd_config_show",
    "cmd_export",
    "cmd_sync_accounts",
    "cmd_sync_tags",
    "cmd_sync_tax_codes",
    "export_exit_code",
    "sync_exit_code",
]

_AUTH_STATUSES = frozenset({401, 403})


def _prepare(ctx: Context) -> tuple[Connection, Any, uuid.UUID]:
    accounting_system = load_accounting_system(ctx.settings)
    connection = ctx.connect()
    company_id = resolve_company_id(connection, ctx.settings, accounting_system)
    ctx.out.detail(
        f"Pleo {connection.base_url} ({connection.auth_method}), company {company_id}, "
        f"accounting system {accounting_system!r}"
    )
    return connection, accounting_system, company_id


# ---- syncs ----------------------------------------------------------------------------------


def sync_exit_code(report: SyncReport) -> ExitCode:
    """0 when the run did all it planned; 3 if Pleo refused the credential; 1 otherwise."""
    parts = [*report.related.values(), report]
    if any(f.status_code in _AUTH_STATUSES for p in parts for f in p.failures):
        return ExitCode.AUTH
    return ExitCode.OK if all(p.ok for p in parts) else ExitCode.FAILURES


def _finish_sync(ctx: Context, title: str, report: SyncReport, measured: Measured) -> int:
    out = ctx.out
    code = sync_exit_code(report)
    if out.json_mode:
        document = {"command": ctx.args.command, "exit_code": int(code), **sync_to_dict(report)}
        document.update(total_requests=measured.requests, seconds=round(measured.seconds, 3))
        out.emit(document)
        return int(code)
    out.heading(title)
    if report.dry_run:
        render_plan(out, report, show_noops=out.verbose)
    render_sync_counts(out, "Planned (dry run)" if report.dry_run else "Applied", [report])
    render_sync_details(out, report)
    parts = [*report.related.values(), report]
    writes = sum(p.write_requests for p in parts)
    out.line(f"{measured.requests} requests to Pleo ({writes} writes) in {measured.seconds:.2f}s")
    if code is ExitCode.OK:
        out.line("Dry run: nothing was written." if report.dry_run else "Done.")
    else:
        failed = sum(len(p.failures) for p in parts)
        errors = sum(len(p.errors) + len(p.plan.errors) for p in parts)
        out.error(f"the sync finished with {failed} failed actions and {errors} errors")
    return int(code)


class Measured:
    """Requests and wall time of one orchestrator call, measured on the client.

    Measured here rather than summed from the reports, whose nested runs (tax codes inside a
    chart-of-accounts sync) overlap in time.
    """

    def __init__(self, client: Any) -> None:
        """Start measuring ``client`` (anything with ``request_count``)."""
        self._client = client
        self._requests = int(getattr(client, "request_count", 0))
        self._started = time.perf_counter()
        self.requests = 0
        self.seconds = 0.0

    def __enter__(self) -> Measured:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.requests = int(getattr(self._client, "request_count", 0)) - self._requests
        self.seconds = time.perf_counter() - self._started


def _sync_common(ctx: Context) -> dict[str, Any]:
    return {"dry_run": bool(ctx.args.dry_run), "force": bool(ctx.args.force)}


def cmd_sync_tax_codes(ctx: Context) -> int:
    """Mirror the accounting system's tax codes into Pleo."""
    connection, source, company_id = _prepare(ctx)
    client = connection.client
    with client, SyncProgressBar(ctx.out, "tax codes") as bar, Measured(client) as measured:
        report = sync_tax_codes(
            connection.client, source, company_id=company_id, progress=bar, **_sync_common(ctx)
        )
    return _finish_sync(ctx, "Tax codes", report, measured)


def cmd_sync_accounts(ctx: Context) -> int:
    """Mirror the chart of accounts into Pleo (tax codes first unless ``--skip-tax-codes``)."""
    connection, source, company_id = _prepare(ctx)
    client = connection.client
    with client, SyncProgressBar(ctx.out, "chart of accounts") as bar, Measured(client) as measured:
        if ctx.args.skip_tax_codes:
            report = sync_accounts(
                connection.client, source, company_id=company_id, progress=bar, **_sync_common(ctx)
            )
        else:
            report = sync_chart_of_accounts(
                connection.client, source, company_id=company_id, progress=bar, **_sync_common(ctx)
            )
    return _finish_sync(ctx, "Chart of accounts", report, measured)


def cmd_sync_tags(ctx: Context) -> int:
    """Mirror the selected accounting dimensions into Pleo tag groups and tags."""
    args = ctx.args
    connection, source, company_id = _prepare(ctx)
    selection = _selection(args.dimension)
    client = connection.client
    with client, SyncProgressBar(ctx.out, "tags") as bar, Measured(client) as measured:
        report = sync_tags(
            connection.client,
            source,
            company_id=company_id,
            selection=selection,
            state=ctx.state_db(),
            allow_group_renames=bool(args.allow_group_renames),
            only_dimension=args.only,
            progress=bar,
            **_sync_common(ctx),
        )
    return _finish_sync(ctx, "Tags", report, measured)


def _selection(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    codes = [c.strip() for value in values for c in value.split(",") if c.strip()]
    if not codes:
        raise UsageError("--dimension needs at least one dimension code")
    return codes


# ---- export ---------------------------------------------------------------------------------


def export_exit_code(report: ExportReport) -> ExitCode:
    """0 all exported; 4 a job left unfinished (Pleo unreachable); 5 a job deferred
    (transient AS trouble, the next run retries); 1 failed items or jobs."""
    if report.ok:
        return ExitCode.OK
    if report.deferred and report.failed == 0 and not report.interrupted:
        return ExitCode.DEFERRED
    if report.interrupted and report.failed == 0:
        return ExitCode.PLEO
    return ExitCode.FAILURES


def _export_config(ctx: Context) -> ExportConfig:
    args = ctx.args
    options: dict[str, Any] = {}
    if args.posting_mode:
        options["posting_mode"] = args.posting_mode
    if args.closed_period:
        options["closed_period"] = args.closed_period
    if args.fallback_ap:
        options["fallback_ap"] = True
    if args.no_receipts:
        options["receipts"] = False
    return ExportConfig(**options)


def cmd_export(ctx: Context) -> int:
    """Work through the company's export queue (or one ``--job``) into the accounting system."""
    args = ctx.args
    if args.max_jobs is not None and args.max_jobs < 1:
        raise UsageError("--max-jobs must be at least 1")
    job_id: uuid.UUID | None = None
    if args.job:
        if args.max_jobs is not None:
            raise UsageError("--job processes one job; it cannot be combined with --max-jobs")
        try:
            job_id = uuid.UUID(args.job)
        except ValueError:
            raise UsageError(f"--job must be an export job id (a UUID), not {args.job!r}") from None
    config = _export_config(ctx)
    connection, target, company_id = _prepare(ctx)
    if getattr(args, "dry_run", False):
        return _preview(ctx, connection, target, company_id, job_id, config)
    db = ctx.state_db()
    journal = SQLiteExportJournal(db)
    leases = SQLiteLeaseStore(db)  # freed at once when a holder on this machine dies
    with connection.client, ExportProgress(ctx.out) as progress:
        report = _export(
            ctx,
            connection,
            target,
            company_id,
            job_id,
            config=config,
            progress=progress,
            lease_store=leases,
            journal=journal,
        )
    return finish_export(ctx, report)


class _ExportOptions(TypedDict, total=False):
    """What ``export`` passes to ``process_job`` and ``export_expenses`` alike."""

    config: ExportConfig
    progress: ExportProgress
    lease_store: SQLiteLeaseStore
    journal: SQLiteExportJournal
    dry_run: bool


def _export(
    ctx: Context,
    connection: Connection,
    target: Any,
    company_id: uuid.UUID,
    job_id: uuid.UUID | None,
    **options: Unpack[_ExportOptions],
) -> ExportReport:
    """The one ``--job``, else the company's queue (at most ``--max-jobs`` jobs)."""
    if job_id is not None:
        return process_job(connection.client, target, job_id, **options)
    return export_expenses(
        connection.client, target, company_id=company_id, max_jobs=ctx.args.max_jobs, **options
    )


def _preview(
    ctx: Context,
    connection: Connection,
    target: Any,
    company_id: uuid.UUID,
    job_id: uuid.UUID | None,
    config: ExportConfig,
) -> int:
    """``export --dry-run``: no state database, no lock, no journal, no write anywhere."""
    with connection.client:
        report = _export(ctx, connection, target, company_id, job_id, config=config, dry_run=True)
    out = ctx.out
    code = export_exit_code(report)
    if out.json_mode:
        out.emit({"command": "export", "exit_code": int(code), **preview_to_dict(report)})
        return int(code)
    render_preview(out, report)
    return int(code)


def finish_export(ctx: Context, report: ExportReport) -> int:
    """Print an export report and return its exit code."""
    out = ctx.out
    code = export_exit_code(report)
    if out.json_mode:
        out.emit({"command": ctx.args.command, "exit_code": int(code), **export_to_dict(report)})
        return int(code)
    out.heading("Export jobs (oldest first)")
    render_export_jobs(out, report, verbose=out.verbose)
    counts = report.counts
    out.line(
        f"  {counts['successful']} items exported, {counts['failed']} failed, "
        f"{len(report.jobs)} jobs, {report.requests} requests in {report.duration:.2f}s"
    )
    render_failed_items(out, report)
    if code is ExitCode.FAILURES:
        out.error(
            f"the export finished with {counts['failed']} failed items; "
            "their reasons are shown in Pleo"
        )
    elif code is ExitCode.PLEO:
        out.error("a job was left unfinished (see above); the next run resumes it")
    elif code is ExitCode.DEFERRED:
        job = next(j for j in report.jobs if j.deferred is not None)
        until = job.give_up_at.isoformat() if job.give_up_at else "its retry window ends"
        out.error(
            f"export deferred: the accounting system is temporarily unavailable "
            f"({job.deferred}); run the export again soon: it retries until {until}, then "
            f"fails the job with {job.deferred_failure_type}"
        )
    return int(code)


# ---- config ---------------------------------------------------------------------------------


def cmd_config_show(ctx: Context) -> int:
    """Print the resolved settings and where each came from; secrets as ``***``."""
    out = ctx.out
    if out.json_mode:
        out.emit({"command": "config show", **ctx.settings.as_dict()})
        return 0
    out.table(
        "Settings (flags > PLEO_* environment > config file)",
        ["setting", "value", "from"],
        ctx.settings.rows(),
    )
    return 0
