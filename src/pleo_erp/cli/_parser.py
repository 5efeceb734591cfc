"""The ``pleo-erp`` command line: argparse with one subcommand per task.

Options shared by several commands live in parent parsers, so they can be given after the
subcommand (``pleo-erp sync-tags --json``). Flag destinations equal the setting names of
:mod:`pleo_erp.cli._config`, which is how flags take precedence over the environment and file.

The commands are data: :data:`_COMMANDS` lists each one with its parents and own options
(:class:`_Option` specs), and :func:`build_parser` turns the table into argparse calls.
"""

from __future__ import annotations

import argparse
from typing import Any, NamedTuple

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


class _Option(NamedTuple):
    """One ``add_argument`` call: its flags and its keyword arguments."""

    flags: tuple[str, ...]
    settings: dict[str, Any]


def _opt(*flags: str, **settings: Any) -> _Option:
    return _Option(flags, settings)


class _Parent(NamedTuple):
    """Options shared by several commands (an argparse parent parser), ``title`` its group."""

    title: str | None
    options: tuple[_Option, ...]


class _Command(NamedTuple):
    """One runnable (sub)command, with the names of its :data:`_PARENTS` and its own options.

    Its ``handler`` (the key of the handler table) is its name, prefixed by its group's
    (``auth-login``).
    """

    name: str
    help: str
    parents: tuple[str, ...]
    options: tuple[_Option, ...] = ()
    description: str | None = None  # the help text when not given


class _Group(NamedTuple):
    """A command with actions of its own (``auth login``); ``dest`` receives the action."""

    name: str
    help: str
    dest: str
    actions: tuple[_Command, ...]


_PARENTS: dict[str, _Parent] = {
    "common": _Parent(
        "general options",
        (
            _opt("--config", metavar="PATH", help="TOML config file to read"),
            _opt("--json", action="store_true", help="print one JSON document (scripts)"),
            _opt("-v", "--verbose", action="store_true", help="more detail, debug logs"),
            _opt(
                "--state-db",
                dest="state_db",
                metavar="PATH",
                help="SQLite state database [PLEO_STATE_DB]",
            ),
        ),
    ),
    "pleo": _Parent(
        "Pleo connection",
        (
            _opt(
                "--env",
                dest="environment",
                choices=("production", "staging"),
                help="Pleo environment [PLEO_ENVIRONMENT; default production]",
            ),
            _opt("--base-url", dest="base_url", metavar="URL", help="API base URL [PLEO_BASE_URL]"),
            _opt(
                "--company-id",
                dest="company_id",
                metavar="UUID",
                help="Pleo company [PLEO_COMPANY_ID]",
            ),
            _opt(
                "--max-retries",
                type=int,
                metavar="N",
                help="retries of a failed Pleo request (default 3)",
            ),
        ),
    ),
    "system": _Parent(
        "accounting system (one of)",
        (
            _opt("--ledger", metavar="PATH", help="a Beancount ledger file [PLEO_LEDGER]"),
            _opt(
                "--adapter",
                metavar="MODULE:FACTORY",
                help="import your adapter factory [PLEO_ADAPTER]",
            ),
        ),
    ),
    # The production runtime's state (``connections``, ``status``, ``serve``).
    "state": _Parent(
        None,
        (
            _opt(
                "--state",
                metavar="PATH_OR_URL",
                help="runtime state: a SQLite path or a postgresql:// URL [PLEO_STATE; default "
                "the state database]",
            ),
        ),
    ),
    # The distributed runtime's shared services (``worker``, ``scheduler``).
    "shared": _Parent(
        None,
        (
            _opt(
                "--state", metavar="URL", help="the shared state: a postgresql:// URL [PLEO_STATE]"
            ),
            _opt("--broker", metavar="URL", help="the Celery broker: redis:// [PLEO_BROKER]"),
        ),
    ),
}

_SYNC_OPTIONS = (
    _opt("--dry-run", action="store_true", help="print the plan as a table; write nothing"),
    _opt("--force", action="store_true", help="allow archiving more than half of the objects"),
)
_SEED = _opt("--seed", type=int, default=1, help="demo data seed (default 1)")


def _receiver_options(*, host: str, port: str, path: str) -> tuple[_Option, ...]:
    """``--host``, ``--port`` and ``--path`` of a webhook receiver, with these help texts."""
    return (
        _opt("--host", default="127.0.0.1", help=host),
        _opt("--port", type=int, default=8080, help=port),
        _opt("--path", default="/webhooks/pleo", help=path),
    )


_PLEO_AS = ("common", "pleo", "system")
_RUNTIME = ("common", "pleo", "state")
_DISTRIBUTED = ("common", "pleo", "shared")

_COMMANDS: tuple[_Command | _Group, ...] = (
    _Command(
        "demo",
        "run the reference integration against a local sandbox into a fresh Beancount ledger",
        ("common",),
        (
            _opt(
                "--ledger",
                dest="demo_dir",
                metavar="DIR",
                default="demo-ledger",
                help="directory for the fresh ledger, recreated on every run "
                "(default ./demo-ledger)",
            ),
            _SEED,
            _opt("--volume", type=int, default=None, metavar="N", help="add a bulk job of N items"),
        ),
    ),
    _Command(
        "export",
        "export the company's pending expense jobs into the accounting system",
        _PLEO_AS,
        (
            _opt("--max-jobs", type=int, metavar="N", help="stop after N jobs"),
            _opt("--job", metavar="JOB_ID", help="process this one job only"),
            _opt(
                "--posting-mode",
                choices=("draft", "final"),
                help="post entries as drafts (default)",
            ),
            _opt(
                "--closed-period",
                choices=("fail", "today", "next_open"),
                help="what to do with items dated in a closed period (default fail)",
            ),
            _opt(
                "--fallback-ap", action="store_true", help="book unknown vendors on the fallback AP"
            ),
            _opt("--no-receipts", action="store_true", help="do not attach receipts"),
            _opt(
                "--dry-run",
                action="store_true",
                help="preview: show every entry and failure the export would produce; "
                "write nothing",
            ),
        ),
    ),
    _Command(
        "sync-tags",
        "sync accounting dimensions into Pleo tag groups and tags",
        _PLEO_AS,
        (
            *_SYNC_OPTIONS,
            _opt(
                "--dimension",
                action="append",
                metavar="CODE",
                help="select a dimension to sync (repeat or comma-separate; at most 5; saved)",
            ),
            _opt("--only", metavar="CODE", help="sync this one selected dimension only"),
            _opt(
                "--allow-group-renames",
                action="store_true",
                help="rename a tag group when its dimension was renamed",
            ),
        ),
    ),
    _Command(
        "sync-accounts",
        "sync the chart of accounts into Pleo (tax codes first)",
        _PLEO_AS,
        (
            *_SYNC_OPTIONS,
            _opt("--skip-tax-codes", action="store_true", help="sync accounts only, not tax codes"),
        ),
    ),
    _Command("sync-tax-codes", "sync tax codes into Pleo", _PLEO_AS, _SYNC_OPTIONS),
    _Group(
        "auth",
        "log in, save an API key, show the credential",
        "auth_command",
        (
            _Command(
                "login",
                "authorize with OAuth2 + PKCE in the browser",
                ("common", "pleo"),
                (
                    _opt("--client-id", dest="client_id", help="OAuth client id [PLEO_CLIENT_ID]"),
                    _opt("--auth-url", dest="auth_url", metavar="URL", help="OAuth server URL"),
                    _opt(
                        "--port",
                        type=int,
                        default=0,
                        help="loopback redirect port (default: a free one)",
                    ),
                    _opt("--scopes", nargs="+", metavar="SCOPE", help="scopes to request"),
                    _opt("--no-browser", action="store_true", help="only print the URL"),
                    _opt(
                        "--timeout",
                        type=float,
                        default=300.0,
                        help="seconds to wait for the redirect",
                    ),
                ),
            ),
            _Command(
                "set-key",
                "save an API key read from stdin",
                ("common", "pleo"),
                (
                    _opt(
                        "--no-verify",
                        action="store_true",
                        help="save without checking it with Pleo",
                    ),
                ),
            ),
            _Command(
                "status",
                "show the credential in use and what Pleo says about it",
                ("common", "pleo"),
            ),
            _Command(
                "logout",
                "forget the saved credential and tokens",
                ("common", "pleo"),
            ),
        ),
    ),
    _Group(
        "webhook",
        "receive Pleo webhooks",
        "webhook_command",
        (
            _Command(
                "serve",
                "receive v1.export-job.created and run the export",
                _PLEO_AS,
                _receiver_options(
                    host="bind address (default 127.0.0.1)",
                    port="port (default 8080)",
                    path="path (default /webhooks/pleo)",
                ),
                description="receive v1.export-job.created, verify it, and run the export",
            ),
        ),
    ),
    _Group(
        "connections",
        "the companies `pleo-erp serve` serves (one ledger each)",
        "connections_command",
        (
            _Command(
                "add",
                "add or update a connection: a Pleo company and its Beancount ledger",
                _RUNTIME,
                (
                    _opt("--ledger", metavar="PATH", help="the company's Beancount ledger file"),
                    _opt(
                        "--auth",
                        choices=("api-key", "oauth"),
                        default="api-key",
                        help="api-key: the CLI's key (PLEO_API_KEY / auth set-key); oauth: the "
                        "company's tokens in the state (default api-key)",
                    ),
                    _opt(
                        "--levels",
                        action="append",
                        metavar="LEVELS",
                        help="levels to run: coa,tags,export (default all)",
                    ),
                    _opt("--coa-every", metavar="DURATION", help="chart of accounts cadence (24h)"),
                    _opt("--tags-every", metavar="DURATION", help="tags cadence (1h)"),
                    _opt("--export-every", metavar="DURATION", help="export poll cadence (5m)"),
                    _opt("--disabled", action="store_true", help="register it but run nothing"),
                ),
            ),
            _Command("list", "list the connections", ("common", "state")),
            _Command("remove", "remove a connection and its schedule", _RUNTIME),
        ),
    ),
    _Command(
        "status",
        "per connection and level: last run, outcome, next due, lease holder",
        _RUNTIME,
    ),
    _Command(
        "serve",
        "serve every connection: scheduler, webhook receiver and workers in one process",
        _RUNTIME,
        (
            *_receiver_options(
                host="webhook bind address (127.0.0.1)",
                port="webhook port (default 8080)",
                path="webhook path (/webhooks/pleo)",
            ),
            _opt("--no-webhooks", action="store_true", help="poll only; no receiver"),
            _opt("--workers", type=int, default=4, help="worker threads (default 4)"),
            _opt(
                "--tick-interval",
                type=float,
                default=5.0,
                metavar="SECONDS",
                help="seconds between scheduler ticks (default 5)",
            ),
            _opt(
                "--drain-timeout",
                type=float,
                default=60.0,
                metavar="SECONDS",
                help="on stop, how long to wait for running levels (default 60)",
            ),
        ),
        description="serve every connection: scheduler, webhook receiver and workers in one "
        "process (SQLite state, nothing else needed); stops cleanly on SIGTERM or Ctrl-C",
    ),
    _Command(
        "worker",
        "run a Celery worker of the distributed runtime (Postgres state, Redis broker)",
        _DISTRIBUTED,
        (
            _opt(
                "--queues",
                metavar="Q1,Q2",
                help="queues to consume (default pleo.export,pleo.sync,pleo.tick)",
            ),
            _opt(
                "--concurrency", type=int, default=8, metavar="N", help="worker threads (default 8)"
            ),
            _opt("--name", metavar="NAME@HOST", help="the worker's Celery node name"),
        ),
        description="run a Celery worker (thread pool) for the runtime's run_level and tick "
        "tasks; run several, on several machines; stops with SIGTERM (warm shutdown)",
    ),
    _Command(
        "scheduler",
        "run the distributed runtime's scheduler (Celery beat sending the tick)",
        _DISTRIBUTED,
        (
            _opt(
                "--tick-interval",
                type=float,
                default=30.0,
                metavar="SECONDS",
                help="seconds between ticks (default 30)",
            ),
            _opt("--schedule-file", metavar="PATH", help="beat's state file (temp)"),
        ),
        description="run Celery beat: send the tick task every --tick-interval seconds; a "
        "second scheduler is harmless (each due row is claimed once)",
    ),
    _Command(
        "demo-distributed",
        "the distributed runtime on this machine: Postgres, Redis, 2 workers, scheduler",
        ("common",),
        (
            _opt(
                "--ledger",
                dest="demo_dir",
                metavar="DIR",
                default="demo-ledger-distributed",
                help="directory for the fresh ledger (default ./demo-ledger-distributed)",
            ),
            _SEED,
            _opt(
                "--timeout",
                type=float,
                default=180.0,
                metavar="SECONDS",
                help="give up after (180)",
            ),
            _opt(
                "--keep-running", action="store_true", help="keep serving until Ctrl-C at the end"
            ),
        ),
        description="start PostgreSQL, Redis and the sandbox, then 2 `pleo-erp worker` "
        "processes and a `pleo-erp scheduler` against a fresh Beancount ledger; stop them all",
    ),
    _Group(
        "config",
        "inspect the configuration",
        "config_command",
        (
            _Command(
                "show",
                "print the resolved settings (secrets masked)",
                _PLEO_AS,
                description="print the resolved settings and where each came from (secrets masked)",
            ),
        ),
    ),
)


def _add_options(
    target: argparse.ArgumentParser | argparse._ArgumentGroup, options: tuple[_Option, ...]
) -> None:
    for option in options:
        target.add_argument(*option.flags, **option.settings)


def _parent_parser(parent: _Parent) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False)
    _add_options(
        parser.add_argument_group(parent.title) if parent.title else parser, parent.options
    )
    return parser


def _add_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    table: tuple[_Command | _Group, ...],
    parents: dict[str, argparse.ArgumentParser],
    handler_prefix: str = "",
) -> None:
    for spec in table:
        if isinstance(spec, _Group):
            group = commands.add_parser(spec.name, help=spec.help)
            actions = group.add_subparsers(dest=spec.dest, metavar="ACTION", required=True)
            _add_commands(actions, spec.actions, parents, f"{spec.name}-")
            continue
        sub = commands.add_parser(
            spec.name,
            help=spec.help,
            description=spec.description or spec.help,
            parents=[parents[name] for name in spec.parents],
        )
        sub.set_defaults(handler=handler_prefix + spec.name)
        _add_options(sub, spec.options)


def build_parser() -> argparse.ArgumentParser:
    """The full parser; each command sets ``handler`` to its name in the handler table."""
    parser = argparse.ArgumentParser(
        prog="pleo-erp",
        description="Pleo accounting integration: export expenses, sync tags and accounts.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"pleo-erp {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    parents = {name: _parent_parser(parent) for name, parent in _PARENTS.items()}
    _add_commands(commands, _COMMANDS, parents)
    return parser


def flag_values(args: argparse.Namespace) -> dict[str, object]:
    """The settings given on the command line (``None`` for those not given)."""
    values: dict[str, object] = {}
    for spec in FIELDS:
        value = getattr(args, spec.name, None)
        if spec.name == "scopes" and value is not None:
            value = list(value)
        values[spec.name] = value
    return values
