"""The ``pleo-erp`` command: demo, export, syncs, auth, webhook receiver (extra ``cli``).

``main(argv)`` parses the command line, resolves the settings (flags > ``PLEO_*`` environment >
TOML file), runs the command and turns every outcome into an exit code (see
:class:`~pleo_erp.cli._errors.ExitCode`) and a message on stderr. No secret ever reaches the
terminal: every line of output and every log record is scrubbed of the secrets in play.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from pleo_erp.cli._output import Output

__all__ = ["main", "run"]


def _handlers() -> dict[str, Callable[[Any], int]]:
    # Imported here so `pleo-erp --version` and usage errors stay fast and work even when an
    # optional dependency of one command is missing.
    from pleo_erp.cli._auth import (
        cmd_auth_login,
        cmd_auth_logout,
        cmd_auth_set_key,
        cmd_auth_status,
    )
    from pleo_erp.cli._commands import (
        cmd_config_show,
        cmd_export,
        cmd_sync_accounts,
        cmd_sync_tags,
        cmd_sync_tax_codes,
    )
    from pleo_erp.cli._demo import cmd_demo
    from pleo_erp.cli._distributed import cmd_scheduler, cmd_worker
    from pleo_erp.cli._distributed_demo import cmd_demo_distributed
    from pleo_erp.cli._runtime import (
        cmd_connections_add,
        cmd_connections_list,
        cmd_connections_remove,
        cmd_serve,
        cmd_status,
    )
    from pleo_erp.cli._serve import cmd_webhook_serve

    return {
        "demo": cmd_demo,
        "export": cmd_export,
        "sync-tags": cmd_sync_tags,
        "sync-accounts": cmd_sync_accounts,
        "sync-tax-codes": cmd_sync_tax_codes,
        "auth-login": cmd_auth_login,
        "auth-set-key": cmd_auth_set_key,
        "auth-status": cmd_auth_status,
        "auth-logout": cmd_auth_logout,
        "webhook-serve": cmd_webhook_serve,
        "config-show": cmd_config_show,
        "connections-add": cmd_connections_add,
        "connections-list": cmd_connections_list,
        "connections-remove": cmd_connections_remove,
        "status": cmd_status,
        "serve": cmd_serve,
        "worker": cmd_worker,
        "scheduler": cmd_scheduler,
        "demo-distributed": cmd_demo_distributed,
    }


class _ScrubFilter(logging.Filter):
    """Formats each record and replaces known secrets in it before it is written."""

    def __init__(self, scrub: Callable[[str], str]) -> None:
        super().__init__()
        self._scrub = scrub

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self._scrub(record.getMessage()), None
        return True


@contextmanager
def _logging_to(stream: TextIO, level: int, scrub: Callable[[str], str]) -> Iterator[None]:
    """Send the SDK's log records (``pleo_erp.*``) to ``stream`` for one run, scrubbed."""
    handler = logging.StreamHandler(stream)
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_ScrubFilter(scrub))
    logger = logging.getLogger("pleo_erp")
    previous = logger.level
    logger.addHandler(handler)
    if previous == logging.NOTSET or previous > level:
        logger.setLevel(level)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``pleo-erp`` with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    return run(argv)


def run(
    argv: Sequence[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    cwd: Path | None = None,
    home: Path | None = None,
) -> int:
    """:func:`main` with the process surroundings injectable (tests, embedding)."""
    from pleo_erp.cli._parser import build_parser

    stdout = stdout if stdout is not None else sys.stdout
    stderr = stderr if stderr is not None else sys.stderr
    environment = dict(os.environ if env is None else env)
    parser = build_parser()
    try:
        old_streams = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = stdout, stderr  # argparse writes usage/help/version there
        try:
            args = parser.parse_args(list(argv) if argv is not None else None)
        finally:
            sys.stdout, sys.stderr = old_streams
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 2)

    # Imported after parsing: `--version` and usage errors need none of the SDK.
    from pleo_erp.cli._output import Output, width_from_env

    out: Output = Output(
        json_mode=args.json,
        stdout=stdout,
        stderr=stderr,
        verbose=args.verbose,
        width=width_from_env(environment),
    )
    # Scrub the secrets of the environment even before the settings are parsed.
    for name in ("PLEO_API_KEY", "PLEO_CLIENT_SECRET", "PLEO_WEBHOOK_SECRET"):
        out.add_secret(environment.get(name))
    level = logging.DEBUG if args.verbose else logging.WARNING
    serving = getattr(args, "webhook_command", None) == "serve" or args.handler == "serve"
    if serving and not args.verbose:
        level = logging.INFO
    with _logging_to(stderr, level, out.scrub):
        try:
            return _run_command(args, out, environment, stdin, cwd, home)
        except (Exception, KeyboardInterrupt) as exc:
            return _report_failure(out, exc, args)


def _run_command(
    args: argparse.Namespace,
    out: Output,
    environment: dict[str, str],
    stdin: TextIO | None,
    cwd: Path | None,
    home: Path | None,
) -> int:
    """Resolve the settings and run the chosen command (exceptions go to the caller)."""
    from pleo_erp.cli._config import load_settings
    from pleo_erp.cli._context import Context
    from pleo_erp.cli._parser import flag_values

    ctx: Context | None = None
    try:
        settings, warnings = load_settings(
            flag_values(args),
            env=environment,
            cwd=cwd or Path.cwd(),
            home=home or Path.home(),
            config_path=Path(args.config) if args.config else None,
        )
        out.add_secret(*settings.secrets())
        for warning in warnings:
            out.warn(warning)
        ctx = Context(
            args=args,
            settings=settings,
            out=out,
            env=environment,
            stdin=stdin if stdin is not None else sys.stdin,
            cwd=cwd or Path.cwd(),
            home=home or Path.home(),
        )
        return int(_handlers()[args.handler](ctx))
    finally:
        if ctx is not None:
            ctx.close()


def _report_failure(out: Output, exc: BaseException, args: argparse.Namespace) -> int:
    from pleo_erp.cli._errors import classify, is_unexpected

    code, message, hint = classify(exc)
    unexpected = is_unexpected(exc)
    if unexpected and getattr(args, "verbose", False):
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        print(out.scrub(text), file=out.stderr)
    elif unexpected:
        hint = hint or "run again with --verbose for the traceback"
    out.error(message, hint)
    out.emit(
        {
            "ok": False,
            "exit_code": int(code),
            "error": {"type": type(exc).__name__, "message": message, "hint": hint},
        }
    )
    return int(code)
