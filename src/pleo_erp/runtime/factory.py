"""The vendor's part of the runtime: build a connection's Pleo client and AS adapter.

The runtime knows connections only as rows (:class:`~pleo_erp.runtime.stores.Connection`); a
:class:`ConnectionFactory` turns one into live objects for one run. A typical factory picks the
credential by ``connection.auth_kind`` — an API key from the vendor's secret store, or
``OAuth2Auth(client_id, client_secret, token_store=state.token_store(connection.token_key))``
— and builds the tenant's adapter from ``connection.adapter`` and ``connection.settings``.

The reference factory for the Beancount adapter lives in the CLI (``pleo-erp serve``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, TypeAlias, runtime_checkable

from pleo_erp.client._client import PleoClient
from pleo_erp.orchestration.schedule import ScheduledLevel
from pleo_erp.runtime.stores import Connection

__all__ = ["BuiltConnection", "ConnectionFactory", "LevelOptions"]

LevelOptions: TypeAlias = Mapping[ScheduledLevel, Mapping[str, Any]]
"""Keyword arguments per level for its orchestrator (e.g. ``{EXPORT: {"config": ...}}``)."""

BuiltConnection: TypeAlias = tuple[PleoClient, object, LevelOptions]
"""What :meth:`ConnectionFactory.build` returns: the client, the AS adapter, level options."""


@runtime_checkable
class ConnectionFactory(Protocol):
    """Builds what one run of a connection needs. Called once per run, from worker threads.

    The runtime closes the returned client after the run; the adapter is closed too if it has
    a ``close()`` method. ``level_options`` may set any orchestrator keyword argument; the
    runtime adds the export ``journal`` and the tags selection ``state`` from its stores when
    the options do not set them, and wraps ``progress`` to check the company lease.
    """

    def build(self, connection: Connection) -> BuiltConnection:
        """The client, the accounting-system adapter and per-level options for ``connection``."""
        ...
