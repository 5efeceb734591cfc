"""What every command needs: settings, output, a Pleo client, the company, the accounting system.

Credentials are resolved in this order (the first that exists wins):

1. ``PLEO_API_KEY`` (or ``api_key`` in the config file) → API key;
2. the credential saved in the state database by ``pleo-erp auth set-key`` (API key) or
   ``pleo-erp auth login`` (OAuth, with its tokens in the same database).

The API base URL is ``--base-url`` / ``--env`` (flags > env > file); else, when the saved
credential is used, the one it was made for; else production.
"""

from __future__ import annotations

import argparse
import importlib
import sqlite3
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

import httpx
from attrs import define, field

from pleo_erp.cli._config import Settings, environment_url
from pleo_erp.cli._credentials import CredentialStore, StoredCredential
from pleo_erp.cli._errors import DAMAGED_STATE_HINT, AuthError, ConfigError, UsageError
from pleo_erp.cli._output import Output
from pleo_erp.client import PRODUCTION, ApiKeyAuth, OAuth2Auth, PleoClient
from pleo_erp.client.auth import TOKEN_PATH, Environment, auth_base_url
from pleo_erp.state import StateDatabaseDamaged, StateDB

__all__ = [
    "Connection",
    "Context",
    "load_accounting_system",
    "resolve_company_id",
    "token_url_for",
]


@define
class Connection:
    """A ready client and how it authenticates (``auth_method``, ``credential_source``)."""

    client: PleoClient
    base_url: str
    auth_method: str
    credential_source: str
    auth: httpx.Auth


@define
class Context:
    """One command run: parsed arguments, settings, output, and the process surroundings."""

    args: argparse.Namespace
    settings: Settings
    out: Output
    env: Mapping[str, str]
    stdin: TextIO
    cwd: Path
    home: Path
    _state: StateDB | None = field(default=None, alias="_state")

    # ---- state database ---------------------------------------------------------------------

    def state_db(self) -> StateDB:
        """The SQLite state database (opened, and created mode 0600, on first use)."""
        if self._state is None:
            path = self.settings.state_db
            assert path is not None  # load_settings always fills it
            try:
                self._state = StateDB(path)
            except StateDatabaseDamaged as exc:
                raise ConfigError(str(exc), hint=DAMAGED_STATE_HINT) from None
            except (OSError, sqlite3.Error) as exc:
                reason = getattr(exc, "strerror", None) or exc
                raise ConfigError(
                    f"cannot open the state database {path}: {reason}",
                    hint="set --state-db or PLEO_STATE_DB to a writable path",
                ) from None
        return self._state

    def credentials(self) -> CredentialStore:
        """The saved-credential store in the state database."""
        return CredentialStore(self.state_db())

    def close(self) -> None:
        """Release the state database."""
        if self._state is not None:
            self._state.close()
            self._state = None

    # ---- Pleo -------------------------------------------------------------------------------

    def stored_credential(self) -> StoredCredential | None:
        """The credential ``auth set-key`` / ``auth login`` saved, if any."""
        return self.credentials().load()

    def base_url(self, stored: StoredCredential | None = None) -> str:
        """The API base URL: settings, else the saved credential's, else production."""
        return self.settings.api_base_url or (stored.base_url if stored else None) or PRODUCTION

    def connect(self) -> Connection:
        """A :class:`PleoClient` with the best available credential (see the module doc)."""
        settings = self.settings
        max_retries = getattr(self.args, "max_retries", None)
        if max_retries is not None and max_retries < 0:
            raise UsageError("--max-retries must not be negative")
        if settings.api_key:
            base_url = self.base_url()
            auth: httpx.Auth = ApiKeyAuth(settings.api_key.reveal())
            method, source = "API key", settings.sources.get("api_key", "")
        else:
            stored = self.stored_credential()
            if stored is None:
                raise AuthError(
                    "no Pleo credential configured",
                    hint="set PLEO_API_KEY, run `pleo-erp auth set-key`, or `pleo-erp auth login`",
                )
            base_url = self.base_url(stored)
            auth, method = self._stored_auth(stored, base_url)
            source = f"saved by `pleo-erp auth` in {settings.state_db}"
        for secret in settings.secrets():
            self.out.add_secret(secret)
        kwargs: dict[str, Any] = {}
        if max_retries is not None:
            kwargs["max_retries"] = max_retries
        try:
            client = PleoClient(auth, base_url=base_url, **kwargs)
        except ValueError as exc:
            raise ConfigError(f"invalid Pleo base URL {base_url!r}: {exc}") from None
        return Connection(client, base_url, method, source, auth)

    def _stored_auth(self, stored: StoredCredential, base_url: str) -> tuple[httpx.Auth, str]:
        if stored.method == "api_key":
            if not stored.api_key:
                raise AuthError("the saved API key is empty", hint="run `pleo-erp auth set-key`")
            self.out.add_secret(stored.api_key.reveal())
            return ApiKeyAuth(stored.api_key.reveal()), "API key"
        client_id = self.settings.client_id or stored.client_id
        secret = self.settings.client_secret or stored.client_secret
        if not client_id or not secret:
            raise AuthError(
                "the saved OAuth login has no client id/secret",
                hint="set PLEO_CLIENT_ID and PLEO_CLIENT_SECRET, or run `pleo-erp auth login`",
            )
        self.out.add_secret(secret.reveal())
        token_url = stored.token_url or token_url_for(self.settings, base_url)
        try:
            auth = OAuth2Auth(
                client_id,
                secret.reveal(),
                self.credentials().token_store(),
                token_url=token_url,
            )
        except ValueError as exc:
            raise ConfigError(f"invalid OAuth token URL {token_url!r}: {exc}") from None
        return auth, "OAuth"


def token_url_for(settings: Settings, base_url: str) -> str:
    """The OAuth token endpoint for these settings.

    ``auth_url`` if set; else Pleo's auth server for the environment; else (a custom base URL,
    e.g. the sandbox, which serves ``/oauth/*`` itself) the base URL.
    """
    return authorize_base_for(settings, base_url) + TOKEN_PATH


def authorize_base_for(settings: Settings, base_url: str) -> str:
    """The OAuth server base URL (see :func:`token_url_for`)."""
    if settings.auth_url:
        return settings.auth_url
    environments: tuple[Environment, ...] = ("production", "staging")
    for name in environments:
        if base_url == environment_url(name) or (
            not settings.base_url and settings.environment == name
        ):
            return auth_base_url(name)
    return base_url.rstrip("/")


def resolve_company_id(
    connection: Connection, settings: Settings, accounting_system: Any = None
) -> uuid.UUID:
    """The company to act on: ``--company-id`` / env / file, else the accounting system's own
    (a ledger's ``pleo-company``), else the credential's only company (``GET /v1/introspect``).
    """
    if settings.company_id is not None:
        return settings.company_id
    hinted = _adapter_company(accounting_system)
    if hinted is not None:
        return hinted
    info = connection.client.introspect()
    companies = company_ids_of(info)
    if len(companies) == 1:
        return companies[0]
    if not companies:
        raise UsageError(
            "this credential is not tied to one company; pass --company-id",
            hint="or set PLEO_COMPANY_ID / company_id in the config file",
        )
    shown = ", ".join(str(c) for c in companies[:5])
    raise UsageError(
        f"this credential covers {len(companies)} companies ({shown}…); pass --company-id"
    )


def company_ids_of(info: object) -> list[uuid.UUID]:
    """The company ids an introspection result names (one for a company credential)."""
    single = getattr(info, "company_id", None)
    if single is not None:
        return [uuid.UUID(str(single))]
    many = getattr(info, "company_ids", None) or ()
    return [uuid.UUID(str(c)) for c in many]


def _adapter_company(accounting_system: Any) -> uuid.UUID | None:
    """The Pleo company an adapter says it belongs to, if it says (never fails)."""
    if accounting_system is None:
        return None
    value = getattr(accounting_system, "company_id", None)
    if value is None:
        try:
            value = accounting_system.ledger.snapshot().config.company_id
        except Exception:  # a hint only: the sync/export reports real ledger problems
            value = None
    if value is None:
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def load_accounting_system(settings: Settings) -> Any:
    """The accounting system: ``--ledger PATH`` (Beancount) or ``--adapter module:factory``."""
    if settings.ledger is not None and settings.adapter is not None:
        raise UsageError(
            "choose one accounting system: --ledger or --adapter, not both "
            f"(ledger from {settings.sources.get('ledger')}, "
            f"adapter from {settings.sources.get('adapter')})"
        )
    if settings.ledger is not None:
        return open_ledger(settings.ledger)
    if settings.adapter is not None:
        return import_adapter(settings.adapter)
    raise UsageError(
        "no accounting system: pass --ledger PATH (a Beancount ledger) or --adapter module:factory",
        hint="or set PLEO_LEDGER / ledger in the config file",
    )


def open_ledger(path: Path) -> Any:
    """A :class:`~pleo_erp.adapters.beancount.BeancountAccountingSystem` over ``path``."""
    try:
        from pleo_erp.adapters.beancount import BeancountAccountingSystem
    except ImportError:
        raise ConfigError(
            "the Beancount adapter needs the beancount package",
            hint='pip install "pleo-erp[beancount]"',
        ) from None
    if path.is_dir():
        candidate = path / "ledger.beancount"
        if not candidate.is_file():
            raise ConfigError(f"{path} is a directory without a ledger.beancount file")
        path = candidate
    if not path.is_file():
        raise ConfigError(f"ledger file not found: {path}")
    return BeancountAccountingSystem(path)


def import_adapter(spec: str) -> Any:
    """Import ``module:factory`` and call the factory (no arguments) to get the adapter.

    ``factory`` may be a dotted attribute path (``package.mod:Class.from_env``). If it is not
    callable it is used as the adapter itself.
    """
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise UsageError(f"--adapter must look like module:factory, not {spec!r}")
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"cannot import adapter module {module_name!r}: {exc}") from None
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ConfigError(f"adapter module {module_name!r} has no {attribute!r}") from None
    if not callable(target):
        return target
    try:
        return target()
    except TypeError as exc:
        raise ConfigError(
            f"adapter factory {spec!r} must be callable without arguments: {exc}"
        ) from None
