"""Exit codes and the errors that carry them: one place decides what a shell user sees.

| code | meaning |
|---|---|
| 0 | success |
| 1 | the run finished, but some items or actions failed (or the accounting system did) |
| 2 | usage or configuration error (nothing was attempted) |
| 3 | authentication: the credential was refused (401/403) or a reauthorization is required |
| 4 | Pleo or the network failed, even after retries |
| 5 | export deferred: the accounting system is temporarily unavailable; the next run retries |
| 130 | interrupted (Ctrl-C) |
"""

from __future__ import annotations

import enum

from pleo_erp.accounting_system import AccountingSystemError, SourceReadError
from pleo_erp.client.errors import (
    AuthenticationError,
    PermissionDenied,
    PleoAPIError,
    PleoConnectionError,
    PleoError,
    ReauthorizationRequired,
)
from pleo_erp.domain.reconcile.errors import MassArchiveRefused, ReconcileError
from pleo_erp.orchestration._failures import redact_text
from pleo_erp.orchestration.locks import ExportAlreadyRunning
from pleo_erp.orchestration.sync import SyncAlreadyRunning
from pleo_erp.state import LeaseBusy, LeaseLost, StateDatabaseDamaged, StateError
from pleo_erp.state._db import is_damage

__all__ = [
    "DAMAGED_STATE_HINT",
    "AuthError",
    "CLIError",
    "ConfigError",
    "ExitCode",
    "RunFailed",
    "UsageError",
    "classify",
    "is_unexpected",
]


class ExitCode(enum.IntEnum):
    """The process exit statuses of ``pleo-erp``."""

    OK = 0
    FAILURES = 1
    USAGE = 2
    AUTH = 3
    PLEO = 4
    DEFERRED = 5
    INTERRUPTED = 130


class CLIError(Exception):
    """An error with a message meant for the user, an exit code and an optional hint."""

    exit_code: ExitCode = ExitCode.USAGE

    def __init__(
        self, message: str, *, hint: str | None = None, exit_code: ExitCode | None = None
    ) -> None:
        """Describe the problem; ``hint`` says what to do about it."""
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(CLIError):
    """The command line is wrong (a missing or contradictory option)."""

    exit_code = ExitCode.USAGE


class ConfigError(CLIError):
    """The configuration (file, environment, state database) is unusable."""

    exit_code = ExitCode.USAGE


class AuthError(CLIError):
    """No usable credential, or the one given was refused."""

    exit_code = ExitCode.AUTH


class RunFailed(CLIError):
    """The command ran but could not do its job (the accounting system failed, a plan refused)."""

    exit_code = ExitCode.FAILURES


DAMAGED_STATE_HINT = (
    "delete the file (and its -wal/-shm files) and run again: that is safe, the accounting "
    "system is the source of truth for what was booked; save the credential again afterwards "
    "(`pleo-erp auth set-key` or `pleo-erp auth login`)"
)
"""What to do about a damaged state database."""

_RUNNING_HINT = (
    "wait for that run, or run again once its process has stopped: the lock frees itself at "
    "once when the holder on this machine dies, else when its hold expires"
)

_AUTH_HINT = (
    "check PLEO_API_KEY (or run `pleo-erp auth set-key`), or reconnect with `pleo-erp auth login`"
)


def classify(exc: BaseException) -> tuple[ExitCode, str, str | None]:
    """The exit code, message and hint for an exception that reached the top level.

    Only the SDK's own, secret-free messages are shown; anything unexpected is reported by
    type and message (the caller scrubs known secrets from every line it prints).
    """
    if isinstance(exc, CLIError):
        return exc.exit_code, exc.message, exc.hint
    if isinstance(exc, KeyboardInterrupt):
        return ExitCode.INTERRUPTED, "interrupted", None
    if isinstance(exc, ReauthorizationRequired):
        return ExitCode.AUTH, str(exc), "run `pleo-erp auth login` to authorize again"
    if isinstance(exc, (AuthenticationError, PermissionDenied)):
        what = "refused" if isinstance(exc, AuthenticationError) else "not allowed"
        return ExitCode.AUTH, f"Pleo {what} the credential: {exc}", _AUTH_HINT
    if isinstance(exc, PleoConnectionError):
        return ExitCode.PLEO, f"could not reach Pleo: {exc}", "check the network and --base-url"
    if isinstance(exc, PleoAPIError):
        hint = "Pleo is failing; try again later" if exc.retryable else None
        return ExitCode.PLEO, f"Pleo error: {exc}", hint
    if isinstance(exc, (ExportAlreadyRunning, SyncAlreadyRunning, LeaseBusy)):
        return ExitCode.FAILURES, f"{exc}", _RUNNING_HINT
    if isinstance(exc, LeaseLost):
        return (
            ExitCode.FAILURES,
            f"stopped: {exc}",
            "another run took over this company's export and resumes the job; nothing is lost",
        )
    if isinstance(exc, StateDatabaseDamaged) or is_damage(exc):
        return ExitCode.USAGE, f"state database is damaged: {exc}", DAMAGED_STATE_HINT
    if isinstance(exc, StateError):
        return ExitCode.USAGE, f"state database: {exc}", "check --state-db / PLEO_STATE_DB"
    if isinstance(exc, MassArchiveRefused):
        return ExitCode.FAILURES, str(exc), "check the accounting system, then re-run with --force"
    if isinstance(exc, ReconcileError):
        return ExitCode.FAILURES, f"nothing was written: {exc}", None
    if isinstance(exc, (SourceReadError, AccountingSystemError)):
        return ExitCode.FAILURES, f"accounting system error: {exc}", None
    if isinstance(exc, PleoError):
        return ExitCode.PLEO, f"{type(exc).__name__}: {exc}", None
    # Unclassified text may quote a connection string: redact it as the logs do.
    return ExitCode.FAILURES, f"{type(exc).__name__}: {redact_text(str(exc))}", None


_KNOWN: tuple[type[BaseException], ...] = (
    CLIError,
    KeyboardInterrupt,
    PleoError,
    ReconcileError,
    SourceReadError,
    AccountingSystemError,
)


def is_unexpected(exc: BaseException) -> bool:
    """Whether ``exc`` is outside every family :func:`classify` knows (likely a bug)."""
    return not isinstance(exc, _KNOWN)
