"""``pleo-erp webhook serve``: the webhook receiver as a long-running command.

Verifies every delivery with the subscription's ``whsec_`` secret (``PLEO_WEBHOOK_SECRET``),
answers within milliseconds, and runs ``export_expenses`` for the event's company in a
background worker (one at a time per company), logging each outcome. Exports use the state
database's cross-process company lock and export journal, so a ``pleo-erp export`` started
from cron (the polling safety net) never runs concurrently with a webhook-triggered one.
"""

from __future__ import annotations

import ipaddress
import logging
import uuid
from collections.abc import Callable
from http.server import ThreadingHTTPServer

from pleo_erp.cli._context import Context, load_accounting_system
from pleo_erp.cli._errors import ConfigError, ExitCode, UsageError
from pleo_erp.cli._webhook import ExportDispatcher, RunOutcome, WebhookReceiver, make_server
from pleo_erp.client.webhooks import ReplayGuard, StandardWebhookVerifier
from pleo_erp.orchestration.export import export_expenses
from pleo_erp.orchestration.locks import ExportAlreadyRunning
from pleo_erp.orchestration.report import ExportReport
from pleo_erp.state.export_journal import SQLiteExportJournal
from pleo_erp.state.lease import SQLiteLeaseStore

__all__ = ["cmd_webhook_serve", "on_listening"]

logger = logging.getLogger("pleo_erp.cli.webhook")

on_listening: Callable[[ThreadingHTTPServer, ExportDispatcher], None] | None = None
"""Called once the server listens (tests use it to send deliveries and stop the server)."""


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def log_outcome(outcome: RunOutcome) -> None:
    """One log line per finished background export."""
    company = outcome.company_id
    if outcome.error is not None:
        if isinstance(outcome.error, ExportAlreadyRunning):
            logger.info("export for company %s skipped: another run holds the lock", company)
        else:
            logger.error("export for company %s failed: %s", company, outcome.error)
        return
    report = outcome.result
    if not isinstance(report, ExportReport):
        logger.info("export for company %s finished", company)
        return
    if not report.jobs:
        logger.info("export for company %s: no pending job", company)
    for job in report.jobs:
        outcome_text = job.final_event or f"unfinished ({job.interrupted})"
        if job.deferred is not None:
            outcome_text = f"deferred to the next run (retried until {job.give_up_at})"
        logger.info(
            "export job %s of company %s: %s, %d successful, %d failed, %d requests, %.1fs",
            job.job_id,
            company,
            outcome_text,
            job.successful,
            job.failed,
            job.requests,
            job.duration,
        )


def cmd_webhook_serve(ctx: Context) -> int:
    """Receive ``v1.export-job.created`` deliveries and export in the background."""
    args, settings, out = ctx.args, ctx.settings, ctx.out
    if not 0 <= args.port <= 65535:
        raise UsageError("--port must be between 0 and 65535")
    if not settings.webhook_secret:
        raise UsageError(
            "no webhook signing secret",
            hint="set PLEO_WEBHOOK_SECRET (the subscription's whsec_… secret)",
        )
    try:
        verifier = StandardWebhookVerifier(settings.webhook_secret.reveal())
    except ValueError:
        raise ConfigError("the webhook secret is not a valid whsec_… secret") from None
    accounting_system = load_accounting_system(settings)
    connection = ctx.connect()
    db = ctx.state_db()
    leases = SQLiteLeaseStore(db)  # freed at once when a holder on this machine dies
    journal = SQLiteExportJournal(db)
    client = connection.client

    def run(company_id: uuid.UUID) -> ExportReport:
        return export_expenses(
            client,
            accounting_system,
            company_id=company_id,
            lease_store=leases,
            journal=journal,
        )

    dispatcher = ExportDispatcher(run, on_done=log_outcome)
    receiver = WebhookReceiver(
        verifier,
        dispatcher,
        path=args.path,
        replay_guard=ReplayGuard(),
        company_id=settings.company_id,
    )
    try:
        server = make_server(receiver, args.host, args.port)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    host, port = server.server_address[:2]
    if not _is_loopback(args.host):
        out.warn(f"listening on {args.host}, not loopback: put it behind an HTTPS reverse proxy")
    logger.info("listening on http://%s:%s%s (Ctrl-C to stop)", host, port, receiver.path)
    code = ExitCode.OK
    try:
        if on_listening is not None:
            on_listening(server, dispatcher)
        server.serve_forever()
    except KeyboardInterrupt:
        code = ExitCode.INTERRUPTED
    finally:
        server.server_close()
        if dispatcher.busy():
            logger.info("waiting for running exports to finish (Ctrl-C again to abandon them)")
            try:
                dispatcher.wait_idle()
            except KeyboardInterrupt:
                code = ExitCode.INTERRUPTED
        client.close()
    logger.info("stopped after %d export runs", dispatcher.runs)
    return int(code)
