"""Open a deployment's stores from one setting: a SQLite path or a ``postgresql://`` URL.

``open_state("state.db")`` (or ``sqlite:///state.db``) opens the embedded SQLite state;
``open_state("postgresql://user@host/db")`` opens the distributed one from the
``pleo-erp[postgres]`` extra (``pleo_erp.runtime.postgres.open_runtime_state``). Other engines
plug in with :func:`register_state_backend`.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable

from pleo_erp.runtime.stores import RuntimeState
from pleo_erp.state.urls import redact_url

__all__ = ["StateOpener", "open_state", "redact_url", "register_state_backend"]

StateOpener = Callable[[str], RuntimeState]
"""Opens the stores for a URL of its scheme."""

# scheme -> "module:function", imported on first use so the core needs no driver installed.
_LAZY: dict[str, str] = {
    "postgresql": "pleo_erp.runtime.postgres:open_runtime_state",
    "postgres": "pleo_erp.runtime.postgres:open_runtime_state",
}
_OPENERS: dict[str, StateOpener] = {}


def register_state_backend(scheme: str, opener: StateOpener) -> None:
    """Make :func:`open_state` open URLs of ``scheme`` (e.g. ``"postgresql"``) with ``opener``."""
    if not scheme or not scheme.isascii():
        raise ValueError("scheme must be a non-empty ASCII string")
    _OPENERS[scheme.lower()] = opener


def _scheme(location: str) -> str | None:
    if "://" not in location:
        return None
    return location.split("://", 1)[0].lower()


def open_state(location: str | os.PathLike[str]) -> RuntimeState:
    """The stores at ``location``: a SQLite file path, ``sqlite:///path``, or a database URL.

    A SQLite file is created (owner-only permissions) and migrated on first use. A URL scheme
    without a registered backend raises ``ValueError``; a known backend whose extra is not
    installed raises ``ImportError`` naming the extra.
    """
    text = os.fspath(location)
    scheme = _scheme(text)
    if scheme is None or scheme == "sqlite":
        from pleo_erp.runtime.sqlite import open_sqlite_state

        path = text
        if scheme == "sqlite":  # sqlite:///relative.db, sqlite:////absolute.db (SQLAlchemy)
            path = text.split("://", 1)[1]
            path = path[1:] if path.startswith("/") else path
        return open_sqlite_state(path or ":memory:")
    opener = _OPENERS.get(scheme)
    if opener is None and scheme in _LAZY:
        module_name, _, attr = _LAZY[scheme].partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ImportError(
                f"{scheme}:// state needs the Postgres extra: pip install 'pleo-erp[postgres]'"
            ) from exc
        opener = getattr(module, attr)
    if opener is None:
        raise ValueError(f"no state backend for {scheme}:// (known: sqlite, postgresql)")
    return opener(text)
