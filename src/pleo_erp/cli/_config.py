"""The CLI's settings: command-line flags over ``PLEO_*`` environment variables over a TOML file.

The file is ``--config PATH``, else ``./pleo-erp.toml``, else ``config.toml`` in the per-user
configuration directory (``$XDG_CONFIG_HOME/pleo-erp``, else the platform's from
:mod:`platformdirs`: ``~/.config/pleo-erp`` on Linux). It holds flat
``key = value`` lines named like the environment variables without ``PLEO_``, lower case::

    environment = "staging"
    company_id = "6f1c…"
    ledger = "books/ledger.beancount"     # relative paths are relative to this file

Secrets (API key, OAuth client secret, webhook secret) are never accepted on the command line
(they would land in shell history and ``ps``); they come from the environment, the file, or the
state database (``pleo-erp auth set-key`` / ``auth login``). They are held in :class:`Secret`,
whose ``repr`` and ``str`` are ``***``, and every dump masks them.
"""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from attrs import define, field

from pleo_erp.cli import _toml
from pleo_erp.cli._errors import ConfigError, UsageError

__all__ = [
    "CONFIG_FILE_NAME",
    "FIELDS",
    "MASK",
    "ConfigField",
    "Secret",
    "Settings",
    "default_config_paths",
    "default_state_db",
    "environment_url",
    "load_settings",
]

MASK = "***"
"""What a secret looks like in every dump, log line and error message."""

CONFIG_FILE_NAME = "pleo-erp.toml"
"""The project-local configuration file looked up in the working directory."""

ENVIRONMENTS = ("production", "staging")
"""The Pleo environments ``--env`` / ``PLEO_ENVIRONMENT`` accept."""

Kind = Literal["str", "secret", "path", "uuid", "scopes", "environment", "int"]


class Secret:
    """A secret string that never shows itself: ``repr``/``str`` give ``***``.

    Call :meth:`reveal` at the one place the value is needed (building the auth header).
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        """Wrap ``value`` (leading/trailing whitespace from files and pipes is dropped)."""
        self._value = value.strip()

    def reveal(self) -> str:
        """The secret itself. Never print or log the result."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        return MASK


@define(frozen=True)
class ConfigField:
    """One setting: its name (file key and flag dest), environment variable, kind and help."""

    name: str
    env: str
    kind: Kind
    help: str

    @property
    def secret(self) -> bool:
        """Whether the value must never be shown."""
        return self.kind == "secret"


FIELDS: tuple[ConfigField, ...] = (
    ConfigField("environment", "PLEO_ENVIRONMENT", "environment", "production or staging"),
    ConfigField("base_url", "PLEO_BASE_URL", "str", "Pleo API base URL (overrides environment)"),
    ConfigField("auth_url", "PLEO_AUTH_URL", "str", "OAuth server base URL (default: per env)"),
    ConfigField("company_id", "PLEO_COMPANY_ID", "uuid", "the Pleo company to act on"),
    ConfigField("api_key", "PLEO_API_KEY", "secret", "Pleo API key (never on the command line)"),
    ConfigField("client_id", "PLEO_CLIENT_ID", "str", "OAuth client id"),
    ConfigField("client_secret", "PLEO_CLIENT_SECRET", "secret", "OAuth client secret"),
    ConfigField("scopes", "PLEO_SCOPES", "scopes", "OAuth scopes to request"),
    ConfigField("webhook_secret", "PLEO_WEBHOOK_SECRET", "secret", "whsec_… signing secret"),
    ConfigField("ledger", "PLEO_LEDGER", "path", "Beancount ledger file (the AS)"),
    ConfigField("adapter", "PLEO_ADAPTER", "str", "module:factory of a custom AS adapter"),
    ConfigField("state_db", "PLEO_STATE_DB", "path", "SQLite state database (tokens, keys)"),
)
"""Every setting the CLI reads, in display order."""

_BY_NAME = {f.name: f for f in FIELDS}


APP_NAME = "pleo-erp"
"""The directory name of the CLI's per-user configuration and state."""


def _user_dir(env: Mapping[str, str], variable: str, home: Path, kind: str, fallback: str) -> Path:
    """``$<variable>/pleo-erp`` when set (absolute), else the platform's per-user directory.

    The platform's directory comes from :mod:`platformdirs` (``~/.config/pleo-erp`` on Linux,
    ``~/Library/Application Support/pleo-erp`` on macOS, ``%LOCALAPPDATA%\\pleo-erp`` on
    Windows). It answers for the user running the process; the CLI may be run for another
    ``home`` (tests, embedding), so a path under the real home is re-rooted under ``home``.
    Without :mod:`platformdirs` (the ``cli`` extra is not installed) it is the XDG default
    ``home/<fallback>/pleo-erp``, as on Linux.
    """
    value = env.get(variable, "").strip()
    if value and os.path.isabs(value):
        return Path(value) / APP_NAME
    try:
        import platformdirs
    except ImportError:
        return _legacy_dir(home, fallback)
    native: Callable[..., Path] = getattr(platformdirs, f"user_{kind}_path")
    path = native(APP_NAME, appauthor=False)
    try:
        return home / path.relative_to(Path.home())
    except ValueError:  # outside the home directory (an XDG variable of this process)
        return path


def _legacy_dir(home: Path, fallback: str) -> Path:
    # Before platformdirs, every platform used the XDG default under the home directory.
    return home / fallback / APP_NAME


def default_config_paths(env: Mapping[str, str], cwd: Path, home: Path) -> tuple[Path, ...]:
    """Where a configuration file is looked for when ``--config`` is not given, in order.

    ``./pleo-erp.toml``, then ``config.toml`` in the per-user configuration directory
    (``$XDG_CONFIG_HOME/pleo-erp``, else the platform's, via :mod:`platformdirs`), then, where
    that differs (macOS, Windows), ``~/.config/pleo-erp/config.toml`` where earlier versions
    looked.
    """
    user = _user_dir(env, "XDG_CONFIG_HOME", home, "config", ".config") / "config.toml"
    legacy = _legacy_dir(home, ".config") / "config.toml"
    return (cwd / CONFIG_FILE_NAME, user) + ((legacy,) if legacy != user else ())


def default_state_db(env: Mapping[str, str], home: Path) -> Path:
    """``state.db`` in the per-user state directory.

    ``$XDG_STATE_HOME/pleo-erp``, else the platform's (via :mod:`platformdirs`:
    ``~/.local/state/pleo-erp`` on Linux). A database that an earlier version created at
    ``~/.local/state/pleo-erp/state.db`` on macOS or Windows is kept in use (it holds tokens
    and keys) as long as none exists at the new place.
    """
    path = _user_dir(env, "XDG_STATE_HOME", home, "state", ".local/state") / "state.db"
    legacy = _legacy_dir(home, ".local/state") / "state.db"
    if legacy != path and not path.exists() and legacy.exists():
        return legacy
    return path


def environment_url(environment: str) -> str:
    """The API base URL of a Pleo environment (``production`` or ``staging``)."""
    from pleo_erp.client import PRODUCTION, STAGING

    return {"production": PRODUCTION, "staging": STAGING}[environment]


@define(frozen=True)
class Settings:
    """The resolved settings of one command run, with where each value came from.

    ``sources`` maps a setting name to ``"flag"``, ``"env PLEO_…"``, ``"file <path>"`` or
    ``"default"``; unset settings are absent from it.
    """

    environment: str | None = None
    base_url: str | None = None
    auth_url: str | None = None
    company_id: uuid.UUID | None = None
    api_key: Secret | None = None
    client_id: str | None = None
    client_secret: Secret | None = None
    scopes: tuple[str, ...] = ()
    webhook_secret: Secret | None = None
    ledger: Path | None = None
    adapter: str | None = None
    state_db: Path | None = None
    config_file: Path | None = None
    sources: Mapping[str, str] = field(factory=dict)

    @property
    def api_base_url(self) -> str | None:
        """The API base URL the settings name (``base_url``, else the environment's), if any."""
        if self.base_url:
            return self.base_url
        if self.environment:
            return environment_url(self.environment)
        return None

    def secrets(self) -> list[str]:
        """Every secret value held, for scrubbing output (never for display)."""
        held = (self.api_key, self.client_secret, self.webhook_secret)
        return [s.reveal() for s in held if s]

    def rows(self) -> list[tuple[str, str, str]]:
        """``(name, shown value, source)`` per setting; secrets shown as ``***``."""
        rows: list[tuple[str, str, str]] = []
        for spec in FIELDS:
            value = getattr(self, spec.name)
            source = self.sources.get(spec.name, "")
            if value is None or value == ():
                rows.append((spec.name, "", "unset"))
            elif spec.secret:
                rows.append((spec.name, MASK, source))
            elif isinstance(value, tuple):
                rows.append((spec.name, " ".join(value), source))
            else:
                rows.append((spec.name, str(value), source))
        if self.config_file is not None:
            rows.append(("config_file", str(self.config_file), "read"))
        return rows

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dump with secrets masked (``***`` when set, ``null`` when not)."""
        out: dict[str, Any] = {}
        for spec in FIELDS:
            value = getattr(self, spec.name)
            if value is None or value == ():
                out[spec.name] = None
            elif spec.secret:
                out[spec.name] = MASK
            elif isinstance(value, tuple):
                out[spec.name] = list(value)
            else:
                out[spec.name] = str(value)
        out["config_file"] = str(self.config_file) if self.config_file else None
        out["sources"] = dict(self.sources)
        return out


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            document = _toml.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except _toml.TOMLError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    unknown = sorted(k for k in document if k not in _BY_NAME)
    if unknown:
        raise ConfigError(
            f"unknown key {unknown[0]!r} in config file {path}",
            hint="known keys: " + ", ".join(f.name for f in FIELDS),
        )
    return document


def _warn_if_exposed(path: Path, document: Mapping[str, Any]) -> str | None:
    """A warning when a file holding a secret is readable by others (POSIX only)."""
    if os.name != "posix" or not any(_BY_NAME[k].secret for k in document):
        return None
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return f"config file {path} holds a secret but is readable by others; run chmod 600 on it"
    return None


def _convert(spec: ConfigField, raw: object, where: str, base_dir: Path) -> object:
    """Turn a raw flag/env/file value into the setting's type; ConfigError names ``where``."""
    if spec.kind == "scopes":
        if isinstance(raw, (list, tuple)) and all(isinstance(s, str) for s in raw):
            scopes = tuple(s for s in raw if s)
        elif isinstance(raw, str):
            scopes = tuple(raw.replace(",", " ").split())
        else:
            raise ConfigError(f"{spec.name} from {where} must be a list of strings")
        return scopes or None
    if not isinstance(raw, str):
        raise ConfigError(f"{spec.name} from {where} must be a string")
    text = raw.strip()
    if not text:
        return None
    if spec.kind == "secret":
        return Secret(text)
    if spec.kind == "environment":
        value = text.lower()
        if value not in ENVIRONMENTS:
            raise ConfigError(
                f"{spec.name} from {where} must be 'production' or 'staging', not {text!r}"
            )
        return value
    if spec.kind == "uuid":
        try:
            return uuid.UUID(text)
        except ValueError:
            raise ConfigError(f"{spec.name} from {where} is not a UUID: {text!r}") from None
    if spec.kind == "path":
        path = Path(text).expanduser()
        return path if path.is_absolute() else base_dir / path
    if spec.name in ("base_url", "auth_url"):
        if not text.startswith(("http://", "https://")):
            raise ConfigError(f"{spec.name} from {where} must be an http(s) URL, not {text!r}")
        return text.rstrip("/")
    return text


def load_settings(
    flags: Mapping[str, object],
    *,
    env: Mapping[str, str],
    cwd: Path,
    home: Path,
    config_path: Path | None = None,
) -> tuple[Settings, list[str]]:
    """Resolve every setting: flags > environment > config file. Returns settings + warnings.

    ``flags`` holds the command line's values by setting name (``None`` = not given).
    ``config_path`` is ``--config``: it must exist; otherwise the default locations are tried.
    Secrets are refused in ``flags`` (the parser offers no such options anyway).
    """
    warnings: list[str] = []
    if config_path is not None:
        path: Path | None = config_path.expanduser()
        if path is not None and not path.is_absolute():
            path = cwd / path
        document = _read_file(path) if path is not None else {}
    else:
        path = next((p for p in default_config_paths(env, cwd, home) if p.is_file()), None)
        document = _read_file(path) if path is not None else {}
    if path is not None:
        exposed = _warn_if_exposed(path, document)
        if exposed:
            warnings.append(exposed)

    values: dict[str, object] = {}
    sources: dict[str, str] = {}
    levels: dict[str, int] = {}
    for spec in FIELDS:
        flag_value = flags.get(spec.name)
        env_value = env.get(spec.env)
        if flag_value is not None and spec.secret:
            raise UsageError(f"{spec.name} cannot be given on the command line")
        candidates: list[tuple[int, object, str, Path]] = [
            (3, flag_value, "flag", cwd),
            (2, env_value, f"env {spec.env}", cwd),
        ]
        if path is not None:
            candidates.append((1, document.get(spec.name), f"file {path}", path.parent))
        for level, raw, where, base_dir in candidates:
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                continue
            converted = _convert(spec, raw, where, base_dir)
            if converted is None:
                continue
            values[spec.name] = converted
            sources[spec.name] = where
            levels[spec.name] = level
            break

    # environment and base_url name the same thing: the one given with higher precedence wins.
    if "environment" in values and "base_url" in values:
        env_level, url_level = levels["environment"], levels["base_url"]
        if env_level == url_level == 3:
            raise UsageError("use --env or --base-url, not both")
        if env_level > url_level:
            del values["base_url"]
            del sources["base_url"]
    if "state_db" not in values:
        values["state_db"] = default_state_db(env, home)
        sources["state_db"] = "default"
    settings = Settings(config_file=path, sources=sources, **values)  # type: ignore[arg-type]
    return settings, warnings
