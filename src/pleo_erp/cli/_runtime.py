"""``pleo-erp connections add|list|remove``, ``pleo-erp status`` and ``pleo-erp serve``.

The reference integration of the production runtime: one Beancount ledger per connection.
``serve`` is the embedded runtime — scheduler, webhook receiver and worker threads in one
process on the SQLite state file, nothing else to install. ``--state`` (or ``PLEO_STATE``)
takes a SQLite path or a ``postgresql://`` URL (extra ``pleo-erp[postgres]``); by default the
CLI's state database is used.

Credentials of a connection:

* ``--auth api-key`` (default): the CLI's credential — ``PLEO_API_KEY`` or the key saved by
  ``pleo-erp auth set-key``. An organisation key serves every company of the organisation.
* ``--auth oauth``: the company's OAuth tokens in the state's token store under
  ``oauth:<company_id>`` (written by :func:`pleo_erp.runtime.complete_oauth_onboarding`),
  refreshed with ``PLEO_CLIENT_ID`` / ``PLEO_CLIENT_SECRET``.
"""

from __future__ import annotations

import logging
import signal
import threading
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from pleo_erp.cli._context import Context, open_ledger, token_url_for
from pleo_erp.cli._errors import ConfigError, ExitCode, UsageError
from pleo_erp.client import OAuth2Auth, PleoClient
from pleo_erp.client.webhooks import StandardWebhookVerifier
from pleo_erp.orchestration.schedule import ScheduledLevel
from pleo_erp.runtime import (
    Connection,
    EmbeddedRuntime,
    LevelResult,
    RuntimeState,
    WebhookListener,
    lease_key,
    open_state,
    redact_url,
)
from pleo_erp.runtime.onboarding import oauth_token_key
from pleo_erp.runtime.shared_http import SharedHttpClients

__all__ = [
    "BeancountConnectionFactory",
    "cmd_connections_add",
    "cmd_connections_list",
    "cmd_connections_remove",
    "cmd_serve",
    "cmd_status",
    "on_serving",
    "parse_duration",
]

logger = logging.getLogger("pleo_erp.cli.serve")

API_KEY_TOKEN_KEY = "cli:api-key"
"""The ``token_key`` of connections that use the CLI's API key (no per-company secret)."""

BEANCOUNT = "beancount"

_LEVEL_NAMES = {
    "coa": ScheduledLevel.CHART_OF_ACCOUNTS,
    "accounts": ScheduledLevel.CHART_OF_ACCOUNTS,
    "chart_of_accounts": ScheduledLevel.CHART_OF_ACCOUNTS,
    "tags": ScheduledLevel.TAGS,
    "export": ScheduledLevel.EXPORT,
}

on_serving: Any = None
"""Called with the :class:`EmbeddedRuntime` once ``serve`` runs (tests use it to stop it)."""


# ---- settings helpers -----------------------------------------------------------------------


def parse_duration(text: str) -> timedelta:
    """``90s``, ``5m``, ``1h``, ``1d`` (or plain seconds) as a positive ``timedelta``."""
    value = text.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    factor = 1
    if value and value[-1] in units:
        factor, value = units[value[-1]], value[:-1]
    try:
        seconds = float(value) * factor
    except ValueError:
        raise UsageError(f"not a duration: {text!r} (use e.g. 30s, 5m, 1h, 1d)") from None
    if seconds <= 0:
        raise UsageError(f"a duration must be positive, not {text!r}")
    return timedelta(seconds=seconds)


def _state_location(ctx: Context) -> str:
    given = getattr(ctx.args, "state", None) or ctx.env.get("PLEO_STATE", "").strip()
    if given:
        return str(given)
    assert ctx.settings.state_db is not None  # load_settings always fills it
    return str(ctx.settings.state_db)


def _open(ctx: Context) -> RuntimeState:
    location = _state_location(ctx)
    ctx.out.add_secret(*_url_password(location))
    try:
        return open_state(location)
    except ImportError as exc:
        raise ConfigError(str(exc), hint='pip install "pleo-erp[postgres]"') from None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise ConfigError(f"cannot open the state {redact_url(location)}: {exc}") from None


def _url_password(location: str) -> list[str]:
    if "://" not in location:
        return []
    password = httpx.URL(location).password
    return [password] if password else []


def _company(ctx: Context) -> uuid.UUID:
    company = ctx.settings.company_id
    if company is None:
        raise UsageError("which company? pass --company-id UUID")
    try:
        return uuid.UUID(str(company))
    except ValueError:
        raise UsageError(f"--company-id must be a UUID, not {company!r}") from None


def _levels(names: list[str] | None) -> tuple[ScheduledLevel, ...]:
    if not names:
        return tuple(ScheduledLevel)
    chosen: set[ScheduledLevel] = set()
    for part in ",".join(names).split(","):
        name = part.strip().lower().replace("-", "_")
        if not name:
            continue
        if name not in _LEVEL_NAMES:
            raise UsageError(f"unknown level {part!r} (choose from coa, tags, export)")
        chosen.add(_LEVEL_NAMES[name])
    return tuple(level for level in ScheduledLevel if level in chosen)


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


# ---- connections ----------------------------------------------------------------------------


def cmd_connections_add(ctx: Context) -> int:
    """Register (or update) a connection: a Pleo company and its Beancount ledger."""
    args, out = ctx.args, ctx.out
    company = _company(ctx)
    ledger = args.ledger or ctx.settings.ledger
    if ledger is None:
        raise UsageError("pass --ledger PATH: the Beancount ledger of this company")
    ledger_path = Path(ledger).expanduser().resolve()
    open_ledger(ledger_path)  # fail now, not at the first run
    cadence: dict[ScheduledLevel, timedelta] = {}
    for flag, level in (
        ("coa_every", ScheduledLevel.CHART_OF_ACCOUNTS),
        ("tags_every", ScheduledLevel.TAGS),
        ("export_every", ScheduledLevel.EXPORT),
    ):
        value = getattr(args, flag, None)
        if value:
            cadence[level] = parse_duration(value)
    oauth = args.auth == "oauth"
    with _open(ctx) as state:
        for other in state.registry.list():
            if other.company_id != company and other.settings.get("ledger") == str(ledger_path):
                raise UsageError(
                    f"{ledger_path} is already the ledger of company {other.company_id}",
                    hint="one ledger per connection",
                )
        existing = state.registry.get(company)
        token_key = oauth_token_key(company) if oauth else API_KEY_TOKEN_KEY
        if oauth and state.token_store(token_key).load() is None:
            out.warn(
                f"no OAuth tokens stored under {token_key} yet: onboard the company with "
                "pleo_erp.runtime.complete_oauth_onboarding before its first run"
            )
        connection = Connection(
            company_id=company,
            auth_kind="oauth" if oauth else "api_key",
            token_key=token_key,
            adapter=BEANCOUNT,
            settings={"ledger": str(ledger_path)},
            levels=_levels(args.levels),
            cadence=cadence,
            enabled=not args.disabled,
            created_at=existing.created_at if existing else datetime.now(timezone.utc),
        )
        state.registry.add(connection)
        location = state.location
    document = _connection_dict(connection)
    out.emit({"ok": True, "connection": document, "state": redact_url(location)})
    verb = "updated" if existing else "added"
    out.line(f"Connection {verb}: company {company} → {ledger_path}")
    out.line(f"  levels {document['levels']}; state {redact_url(location)}")
    if connection.enabled:
        out.line("  its levels are due now: run `pleo-erp serve` to start serving it")
    return int(ExitCode.OK)


def _connection_dict(connection: Connection) -> dict[str, Any]:
    return {
        "company_id": str(connection.company_id),
        "adapter": connection.adapter,
        "ledger": connection.settings.get("ledger"),
        "auth": connection.auth_kind,
        "token_key": connection.token_key,
        "levels": ",".join(level.value for level in connection.levels),
        "cadence": {lv.value: every.total_seconds() for lv, every in connection.cadence.items()},
        "enabled": connection.enabled,
        "created_at": connection.created_at.isoformat(),
    }


def cmd_connections_list(ctx: Context) -> int:
    """List the registered connections."""
    with _open(ctx) as state:
        connections = state.registry.list()
    documents = [_connection_dict(c) for c in connections]
    ctx.out.emit({"ok": True, "connections": documents})
    ctx.out.table(
        "Connections",
        ["company", "ledger", "auth", "levels", "enabled"],
        [
            [d["company_id"], d["ledger"], d["auth"], d["levels"], "yes" if d["enabled"] else "no"]
            for d in documents
        ],
        empty="none yet: pleo-erp connections add --company-id UUID --ledger PATH",
    )
    return int(ExitCode.OK)


def cmd_connections_remove(ctx: Context) -> int:
    """Remove a connection and its schedule (its tokens and journal rows stay)."""
    company = _company(ctx)
    with _open(ctx) as state:
        removed = state.registry.remove(company)
    ctx.out.emit({"ok": removed, "company_id": str(company), "removed": removed})
    if not removed:
        ctx.out.error(f"no connection for company {company}")
        return int(ExitCode.FAILURES)
    ctx.out.line(f"Connection removed: company {company}")
    return int(ExitCode.OK)


# ---- status ---------------------------------------------------------------------------------


def cmd_status(ctx: Context) -> int:
    """Per connection and level: last run, outcome, next due, and who holds the lease."""
    only = _company(ctx) if getattr(ctx.args, "company_id", None) else None
    now = datetime.now(timezone.utc)
    documents: list[dict[str, Any]] = []
    with _open(ctx) as state:
        rows = state.schedule.rows(only)
        holders = {
            company: state.leases.holder(lease_key(company))
            for company in {r.company_id for r in rows}
        }
        location = state.location
    for row in rows:
        holder = holders.get(row.company_id)
        held = holder is not None and holder.owner is not None
        documents.append(
            {
                "company_id": str(row.company_id),
                "level": row.level.value,
                "enabled": row.enabled,
                "last_started_at": row.last_started_at,
                "last_finished_at": row.last_finished_at,
                "last_outcome": row.last_outcome,
                "last_error": row.last_error,
                "next_due": row.next_due,
                "overdue_seconds": max(0.0, (now - row.next_due).total_seconds()),
                "every_seconds": row.every.total_seconds(),
                "lease_holder": holder.owner if held and holder else None,
                "lease_generation": holder.generation if holder else 0,
            }
        )
    ctx.out.emit({"ok": True, "state": redact_url(location), "levels": documents})
    ctx.out.table(
        f"Status ({redact_url(location)})",
        ["company", "level", "last run", "outcome", "next due", "lease holder", "error"],
        [
            [
                d["company_id"],
                d["level"] + ("" if d["enabled"] else " (off)"),
                _when(d["last_finished_at"] or d["last_started_at"]),
                d["last_outcome"] or ("running" if d["last_started_at"] else "never ran"),
                "now" if d["overdue_seconds"] > 0 else _when(d["next_due"]),
                d["lease_holder"] or "-",
                d["last_error"] or "",
            ]
            for d in documents
        ],
        empty="no connections: pleo-erp connections add --company-id UUID --ledger PATH",
    )
    return int(ExitCode.OK)


# ---- serve ----------------------------------------------------------------------------------


class BeancountConnectionFactory:
    """The reference :class:`~pleo_erp.runtime.ConnectionFactory`: Beancount ledger per company.

    API-key connections share the CLI's credential; OAuth connections get one
    :class:`OAuth2Auth` per token key over the state's token store (shared by the threads).
    Every run's ``PleoClient`` sends through one shared ``httpx.Client`` per base URL
    (:class:`~pleo_erp.runtime.shared_http.SharedHttpClients`: no new SSL context and TLS
    handshake per run); the credential stays the run's own, passed with each request.
    :meth:`close` closes the shared clients once the runtime has stopped.
    """

    def __init__(
        self, ctx: Context, state: RuntimeState, http: SharedHttpClients | None = None
    ) -> None:
        self._ctx = ctx
        self._state = state
        self._lock = threading.Lock()
        self._auths: dict[str, httpx.Auth] = {}
        self._base_url: str | None = None
        self._http = http if http is not None else SharedHttpClients()

    def _auth(self, connection: Connection) -> tuple[httpx.Auth, str]:
        with self._lock:
            if connection.auth_kind == "api_key":
                if API_KEY_TOKEN_KEY not in self._auths:
                    resolved = self._ctx.connect()  # PLEO_API_KEY or `auth set-key`
                    resolved.client.close()
                    self._auths[API_KEY_TOKEN_KEY] = resolved.auth
                    self._base_url = resolved.base_url
                return self._auths[API_KEY_TOKEN_KEY], self._base_url or self._ctx.base_url()
            base_url = self._ctx.base_url()
            if connection.token_key not in self._auths:
                settings = self._ctx.settings
                if not settings.client_id or not settings.client_secret:
                    raise ConfigError(
                        "OAuth connections need PLEO_CLIENT_ID and PLEO_CLIENT_SECRET"
                    )
                self._auths[connection.token_key] = OAuth2Auth(
                    settings.client_id,
                    settings.client_secret.reveal(),
                    self._state.token_store(connection.token_key),
                    token_url=token_url_for(settings, base_url),
                )
            return self._auths[connection.token_key], base_url

    def build(
        self, connection: Connection
    ) -> tuple[PleoClient, object, Mapping[ScheduledLevel, Mapping[str, Any]]]:
        """A client with the connection's credential and its Beancount ledger."""
        if connection.adapter != BEANCOUNT:
            raise ConfigError(
                f"the CLI serves Beancount connections only, not {connection.adapter!r}"
            )
        ledger = connection.settings.get("ledger")
        if not ledger:
            raise ConfigError(f"connection {connection.company_id} has no ledger setting")
        system = open_ledger(Path(ledger))
        auth, base_url = self._auth(connection)
        retries = getattr(self._ctx.args, "max_retries", None)
        extra: dict[str, Any] = {} if retries is None else {"max_retries": retries}
        client = PleoClient(auth, base_url=base_url, http_client=self._http.get(base_url), **extra)
        return client, system, {}

    def close(self) -> None:
        """Close the shared HTTP clients (after the runtime stopped; idempotent)."""
        self._http.close()


def _log_result(result: LevelResult) -> None:
    for each in (result, *result.followups):
        logger.info("%s", each)


def cmd_serve(ctx: Context) -> int:
    """The embedded runtime: scheduler + webhook receiver + workers, until SIGTERM/SIGINT."""
    args, settings, out = ctx.args, ctx.settings, ctx.out
    if args.workers < 1:
        raise UsageError("--workers must be at least 1")
    if args.tick_interval <= 0:
        raise UsageError("--tick-interval must be positive")
    webhook: WebhookListener | None = None
    if settings.webhook_secret and not args.no_webhooks:
        try:
            verifier = StandardWebhookVerifier(settings.webhook_secret.reveal())
        except ValueError:
            raise ConfigError("the webhook secret is not a valid whsec_… secret") from None
        webhook = WebhookListener(verifier=verifier, host=args.host, port=args.port, path=args.path)
    elif not args.no_webhooks:
        out.warn("PLEO_WEBHOOK_SECRET is not set: polling only (no webhook receiver)")
    state = _open(ctx)
    stop = threading.Event()
    try:
        if not state.registry.list():
            out.warn("no connections yet: add one with `pleo-erp connections add`")
        factory = BeancountConnectionFactory(ctx, state)
        try:
            runtime = EmbeddedRuntime(
                state,
                factory,
                workers=args.workers,
                tick_interval=args.tick_interval,
                webhook=webhook,
                on_result=_log_result,
            )
        except OSError as exc:
            factory.close()
            raise ConfigError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
        previous = _install_signal_handlers(stop)
        try:
            runtime.start()
            logger.info(
                "serving %d connections from %s (SIGTERM or Ctrl-C to stop)",
                len(state.registry.list()),
                redact_url(state.location),
            )
            if on_serving is not None:
                on_serving(runtime, stop)
            stop.wait()
        finally:
            logger.info("stopping: finishing running levels")
            runtime.stop(timeout=args.drain_timeout)
            factory.close()
            _restore_signal_handlers(previous)
    finally:
        state.close()
    out.emit({"ok": True, "outcomes": dict(runtime.outcomes), "ticks": runtime.ticks})
    return int(ExitCode.OK)


def _install_signal_handlers(stop: threading.Event) -> dict[int, Any]:
    """SIGTERM and SIGINT set ``stop`` (main thread only; elsewhere the caller stops it)."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum: int, _frame: FrameType | None) -> None:
        logger.info("received %s", signal.Signals(signum).name)
        stop.set()

    previous: dict[int, Any] = {}
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous[signum] = signal.signal(signum, handler)
    return previous


def _restore_signal_handlers(previous: dict[int, Any]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)
