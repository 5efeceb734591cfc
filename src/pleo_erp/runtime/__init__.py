"""The production runtime: serve many Pleo companies from a scheduler, webhooks and workers.

Engine-neutral core (no dependency beyond the SDK's): the stores
(:mod:`pleo_erp.runtime.stores`, SQLite by default), ``run_level`` (one level of one company
under the company lease), ``tick`` (claim due schedule rows and enqueue them), the export
webhook handler, OAuth onboarding, and :class:`EmbeddedRuntime` (everything in one process on
SQLite). See ``docs/operate-at-scale.md``.
"""

from pleo_erp.runtime.stores import (
    AuthKind,
    Connection,
    ConnectionRegistry,
    DueRun,
    RunOutcome,
    RuntimeState,
    ScheduleRow,
    ScheduleStore,
    WebhookInbox,
)

__all__ = [
    "AuthKind",
    "Connection",
    "ConnectionRegistry",
    "DueRun",
    "RunOutcome",
    "RuntimeState",
    "ScheduleRow",
    "ScheduleStore",
    "WebhookInbox",
]
