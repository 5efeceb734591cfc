"""The ``pleo-erp`` command line: argparse with one subcommand per task.

Options shared by several commands live in parent parsers, so they can be given after the
subcommand (``pleo-erp sync-tags --json``). Flag destinations equal the setting names of
:mod:`pleo_erp.cli._config`, which is how flags take precedence over the environment and file.
"""

from __future__ import annotations

import argparse

from pleo_erp._version import __version__
from pleo_erp.cli._config import FIELDS

__all__ = ["build_parser", "flag_values"]

_EPILOG = """\
Settings come from flags, then PLEO_* environment variables, then a TOML file
(--config, ./pleo-erp.toml or ~/.config/pleo-erp/config.toml). Secrets (PLEO_API_KEY,
PLEO_CLIENT_SECRET, PLEO_WEBHOOK_SECRET) are never taken from the command line.

exit codes: 0 ok, 1 finished with failures, 2 usage/config error, 3 authentication,
4 Pleo or network error, 130 interrupted. Docs: docs/cli.md
"""


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("general options")
    group.add_argument("--config", metavar="PATH", help="TOML config file to read")
    group.add_argument("--json", action="store_true", help="print one JSON document (scripts)")
    group.add_argument("-v", "--verbose", action="store_true", help="more detail, debug logs")
    group.add_argument(
        "--state-db", dest="state_db", metavar="PATH", help="SQLite state database [PLEO_STATE_DB]"
    )
    return common


def _pleo() -> argparse.ArgumentParser:
    pleo = argparse.ArgumentParser(add_help=False)
    group = pleo.add_argument_group("Pleo connection")
    group.add_argument(
        "--env",
        dest="environment",
        choices=("production", "staging"),
        help="Pleo environment [PLEO_ENVIRONMENT; default production]",
    )
    group.add_argument(
        "--base-url", dest="base_url", metavar="URL", help="API base URL [PLEO_BASE_URL]"
    )
    group.add_argument(
        "--company-id", dest="company_id", metavar="UUID", help="Pleo company [PLEO_COMPANY_ID]"
    )
    group.add_argument(
        "--max-retries",
        type=int,
        metavar="N",
        help="retries of a failed Pleo request (default 3)",
    )
    return pleo


def _accounting_system() -> argparse.ArgumentParser:
    system = argparse.ArgumentParser(add_help=False)
    group = system.add_argument_group("accounting system (one of)")
    group.add_argument("--ledger", metavar="PATH", help="a Beancount ledger file [PLEO_LEDGER]")
    group.add_argument(
        "--adapter", metavar="MODULE:FACTORY", help="import your adapter factory [PLEO_ADAPTER]"
    )
    return system


def _sync_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dry-run", action="store_true", help="print the plan as a table; write nothing"
    )
    parser.add_argument(
        "--force", action="store_true", help="allow archiving more than half of the objects"
    )


def build_parser() -> argparse.ArgumentParser:
    """The full parser; each command sets ``handler`` to its name in the handler table."""
    common, pleo, system = _common(), _pleo(), _accounting_system()
    parser = argparse.ArgumentParser(
        prog="pleo-erp",
        description="Pleo accounting integration: export expenses, sync tags and accounts.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"pleo-erp {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(
        name: str, help_text: str, parents: list[argparse.ArgumentParser], handler: str
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text, parents=parents)
        sub.set_defaults(handler=handler)
        return sub

    demo = add(
        "demo",
        "run the reference integration against a local sandbox into a fresh Beancount ledger",
        [common],
        "demo",
    )
    demo.add_argument(
        "--ledger",
        dest="demo_dir",
        metavar="DIR",
        default="demo-ledger",
        help="directory for the fresh ledger, recreated on every run (default ./demo-ledger)",
    )
    demo.add_argument("--seed", type=int, default=1, help="demo data seed (default 1)")
    demo.add_argument(
        "--volume", type=int, default=None, metavar="N", help="add a bulk job of N items"
    )

    export = add(
        "export",
        "export the company's pending expense jobs into the accounting system",
        [common, pleo, system],
        "export",
    )
    export.add_argument("--max-jobs", type=int, metavar="N", help="stop after N jobs")
    export.add_argument("--job", metavar="JOB_ID", help="process this one job only")
    export.add_argument(
        "--posting-mode", choices=("draft", "final"), help="post entries as drafts (default)"
    )
    export.add_argument(
        "--closed-period",
        choices=("fail", "today", "next_open"),
        help="what to do with items dated in a closed period (default fail)",
    )
    export.add_argument(
        "--fallback-ap", action="store_true", help="book unknown vendors on the fallback AP"
    )
    export.add_argument("--no-receipts", action="store_true", help="do not attach receipts")
    export.add_argument(
        "--dry-run",
        action="store_true",
        help="preview: show every entry and failure the export would produce; write nothing",
    )

    tags = add(
        "sync-tags",
        "sync accounting dimensions into Pleo tag groups and tags",
        [common, pleo, system],
        "sync-tags",
    )
    _sync_options(tags)
    tags.add_argument(
        "--dimension",
        action="append",
        metavar="CODE",
        help="select a dimension to sync (repeat or comma-separate; at most 5; saved)",
    )
    tags.add_argument("--only", metavar="CODE", help="sync this one selected dimension only")
    tags.add_argument(
        "--allow-group-renames",
        action="store_true",
        help="rename a tag group when its dimension was renamed",
    )

    accounts = add(
        "sync-accounts",
        "sync the chart of accounts into Pleo (tax codes first)",
        [common, pleo, system],
        "sync-accounts",
    )
    _sync_options(accounts)
    accounts.add_argument(
        "--skip-tax-codes", action="store_true", help="sync accounts only, not tax codes"
    )

    tax = add(
        "sync-tax-codes", "sync tax codes into Pleo", [common, pleo, system], "sync-tax-codes"
    )
    _sync_options(tax)

    auth = commands.add_parser("auth", help="log in, save an API key, show the credential")
    auth_commands = auth.add_subparsers(dest="auth_command", metavar="ACTION", required=True)

    def add_auth(name: str, help_text: str, handler: str) -> argparse.ArgumentParser:
        sub = auth_commands.add_parser(
            name, help=help_text, description=help_text, parents=[common, pleo]
        )
        sub.set_defaults(handler=handler)
        return sub

    login = add_auth("login", "authorize with OAuth2 + PKCE in the browser", "auth-login")
    login.add_argument("--client-id", dest="client_id", help="OAuth client id [PLEO_CLIENT_ID]")
    login.add_argument("--auth-url", dest="auth_url", metavar="URL", help="OAuth server URL")
    login.add_argument(
        "--port", type=int, default=0, help="loopback redirect port (default: a free one)"
    )
    login.add_argument("--scopes", nargs="+", metavar="SCOPE", help="scopes to request")
    login.add_argument("--no-browser", action="store_true", help="only print the URL")
    login.add_argument(
        "--timeout", type=float, default=300.0, help="seconds to wait for the redirect"
    )
    set_key = add_auth("set-key", "save an API key read from stdin", "auth-set-key")
    set_key.add_argument(
        "--no-verify", action="store_true", help="save without checking it with Pleo"
    )
    add_auth("status", "show the credential in use and what Pleo says about it", "auth-status")
    add_auth("logout", "forget the saved credential and tokens", "auth-logout")

    webhook = commands.add_parser("webhook", help="receive Pleo webhooks")
    webhook_commands = webhook.add_subparsers(
        dest="webhook_command", metavar="ACTION", required=True
    )
    serve = webhook_commands.add_parser(
        "serve",
        help="receive v1.export-job.created and run the export",
        description="receive v1.export-job.created, verify it, and run the export",
        parents=[common, pleo, system],
    )
    serve.set_defaults(handler="webhook-serve")
    serve.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    serve.add_argument("--path", default="/webhooks/pleo", help="path (default /webhooks/pleo)")

    _runtime_commands(commands, common, pleo)
    _distributed_commands(commands, common, pleo)

    config = commands.add_parser("config", help="inspect the configuration")
    config_commands = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    show = config_commands.add_parser(
        "show",
        help="print the resolved settings (secrets masked)",
        description="print the resolved settings and where each came from (secrets masked)",
        parents=[common, pleo, system],
    )
    show.set_defaults(handler="config-show")
    return parser


def _runtime_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
    pleo: argparse.ArgumentParser,
) -> None:
    """``connections add|list|remove``, ``status`` and ``serve`` (the production runtime)."""
    state = argparse.ArgumentParser(add_help=False)
    state.add_argument(
        "--state",
        metavar="PATH_OR_URL",
        help="runtime state: a SQLite path or a postgresql:// URL [PLEO_STATE; default the "
        "state database]",
    )
    connections = commands.add_parser(
        "connections", help="the companies `pleo-erp serve` serves (one ledger each)"
    )
    actions = connections.add_subparsers(
        dest="connections_command", metavar="ACTION", required=True
    )
    add = actions.add_parser(
        "add",
        help="add or update a connection: a Pleo company and its Beancount ledger",
        description="add or update a connection: a Pleo company and its Beancount ledger",
        parents=[common, pleo, state],
    )
    add.set_defaults(handler="connections-add")
    add.add_argument("--ledger", metavar="PATH", help="the company's Beancount ledger file")
    add.add_argument(
        "--auth",
        choices=("api-key", "oauth"),
        default="api-key",
        help="api-key: the CLI's key (PLEO_API_KEY / auth set-key); oauth: the company's "
        "tokens in the state (default api-key)",
    )
    add.add_argument(
        "--levels",
        action="append",
        metavar="LEVELS",
        help="levels to run: coa,tags,export (default all)",
    )
    add.add_argument("--coa-every", metavar="DURATION", help="chart of accounts cadence (24h)")
    add.add_argument("--tags-every", metavar="DURATION", help="tags cadence (1h)")
    add.add_argument("--export-every", metavar="DURATION", help="export poll cadence (5m)")
    add.add_argument("--disabled", action="store_true", help="register it but run nothing")
    listing = actions.add_parser(
        "list",
        help="list the connections",
        description="list the connections",
        parents=[common, state],
    )
    listing.set_defaults(handler="connections-list")
    remove = actions.add_parser(
        "remove",
        help="remove a connection and its schedule",
        description="remove a connection and its schedule",
        parents=[common, pleo, state],
    )
    remove.set_defaults(handler="connections-remove")

    status = commands.add_parser(
        "status",
        help="per connection and level: last run, outcome, next due, lease holder",
        description="per connection and level: last run, outcome, next due, lease holder",
        parents=[common, pleo, state],
    )
    status.set_defaults(handler="status")

    serve = commands.add_parser(
        "serve",
        help="serve every connection: scheduler, webhook receiver and workers in one process",
        description="serve every connection: scheduler, webhook receiver and workers in one "
        "process (SQLite state, nothing else needed); stops cleanly on SIGTERM or Ctrl-C",
        parents=[common, pleo, state],
    )
    serve.set_defaults(handler="serve")
    serve.add_argument("--host", default="127.0.0.1", help="webhook bind address (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="webhook port (default 8080)")
    serve.add_argument("--path", default="/webhooks/pleo", help="webhook path (/webhooks/pleo)")
    serve.add_argument("--no-webhooks", action="store_true", help="poll only; no receiver")
    serve.add_argument("--workers", type=int, default=4, help="worker threads (default 4)")
    serve.add_argument(
        "--tick-interval",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="seconds between scheduler ticks (default 5)",
    )
    serve.add_argument(
        "--drain-timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="on stop, how long to wait for running levels (default 60)",
    )


def _distributed_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
    pleo: argparse.ArgumentParser,
) -> None:
    """``worker``, ``scheduler`` (Celery + Postgres) and ``demo-distributed``."""
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument(
        "--state", metavar="URL", help="the shared state: a postgresql:// URL [PLEO_STATE]"
    )
    shared.add_argument("--broker", metavar="URL", help="the Celery broker: redis:// [PLEO_BROKER]")
    worker = commands.add_parser(
        "worker",
        help="run a Celery worker of the distributed runtime (Postgres state, Redis broker)",
        description="run a Celery worker (thread pool) for the runtime's run_level and tick "
        "tasks; run several, on several machines; stops with SIGTERM (warm shutdown)",
        parents=[common, pleo, shared],
    )
    worker.set_defaults(handler="worker")
    worker.add_argument(
        "--queues",
        metavar="Q1,Q2",
        help="queues to consume (default pleo.export,pleo.sync,pleo.tick)",
    )
    worker.add_argument(
        "--concurrency", type=int, default=8, metavar="N", help="worker threads (default 8)"
    )
    worker.add_argument("--name", metavar="NAME@HOST", help="the worker's Celery node name")
    scheduler = commands.add_parser(
        "scheduler",
        help="run the distributed runtime's scheduler (Celery beat sending the tick)",
        description="run Celery beat: send the tick task every --tick-interval seconds; a "
        "second scheduler is harmless (each due row is claimed once)",
        parents=[common, pleo, shared],
    )
    scheduler.set_defaults(handler="scheduler")
    scheduler.add_argument(
        "--tick-interval",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="seconds between ticks (default 30)",
    )
    scheduler.add_argument("--schedule-file", metavar="PATH", help="beat's state file (temp)")
    demo = commands.add_parser(
        "demo-distributed",
        help="the distributed runtime on this machine: Postgres, Redis, 2 workers, scheduler",
        description="start PostgreSQL, Redis and the sandbox, then 2 `pleo-erp worker` "
        "processes and a `pleo-erp scheduler` against a fresh Beancount ledger; stop them all",
        parents=[common],
    )
    demo.set_defaults(handler="demo-distributed")
    demo.add_argument(
        "--ledger",
        dest="demo_dir",
        metavar="DIR",
        default="demo-ledger-distributed",
        help="directory for the fresh ledger (default ./demo-ledger-distributed)",
    )
    demo.add_argument("--seed", type=int, default=1, help="demo data seed (default 1)")
    demo.add_argument(
        "--timeout", type=float, default=180.0, metavar="SECONDS", help="give up after (180)"
    )
    demo.add_argument(
        "--keep-running", action="store_true", help="keep serving until Ctrl-C at the end"
    )


def flag_values(args: argparse.Namespace) -> dict[str, object]:
    """The settings given on the command line (``None`` for those not given)."""
    values: dict[str, object] = {}
    for spec in FIELDS:
        value = getattr(args, spec.name, None)
        if spec.name == "scopes" and value is not None:
            value = list(value)
        values[spec.name] = value
    return values
