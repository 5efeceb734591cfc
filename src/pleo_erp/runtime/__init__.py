"""The production runtime: serve many Pleo companies from a scheduler, webhooks and workers.

Engine-neutral core (no dependency beyond the SDK's):

* the stores (:mod:`pleo_erp.runtime.stores`; SQLite by default, :func:`open_state` picks the
  backend from a path or a ``postgresql://`` URL);
* :func:`run_level` — one level of one company under the company lease, recorded in the
  schedule; :func:`tick` — claim due schedule rows and enqueue them;
  :func:`handle_export_webhook` — dedupe, mark due, enqueue;
* OAuth onboarding (:func:`begin_oauth_onboarding`, :func:`complete_oauth_onboarding`);
* :class:`EmbeddedRuntime` — all of it in one process on SQLite (``pleo-erp serve``);
* :class:`SharedHttpClients` — one ``httpx.Client`` per process for every run's client.

The vendor supplies a :class:`ConnectionFactory`. See ``docs/operate-at-scale.md``.
"""

from pleo_erp.runtime.embedded import EmbeddedRuntime, WebhookListener
from pleo_erp.runtime.factory import BuiltConnection, ConnectionFactory, LevelOptions
from pleo_erp.runtime.onboarding import (
    OAuthApp,
    OnboardingError,
    OnboardingResult,
    PendingAuthorization,
    begin_oauth_onboarding,
    complete_oauth_onboarding,
    oauth_token_key,
)
from pleo_erp.runtime.run import (
    LevelResult,
    RuntimeConfig,
    Trigger,
    lease_key,
    recover_interrupted,
    run_level,
)
from pleo_erp.runtime.shared_http import SharedHttpClients
from pleo_erp.runtime.state import open_state, redact_url, register_state_backend
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
from pleo_erp.runtime.tick import Enqueue, TickResult, tick
from pleo_erp.runtime.webhooks import (
    RuntimeWebhookReceiver,
    WebhookDisposition,
    handle_export_webhook,
)

__all__ = [
    "AuthKind",
    "BuiltConnection",
    "Connection",
    "ConnectionFactory",
    "ConnectionRegistry",
    "DueRun",
    "EmbeddedRuntime",
    "Enqueue",
    "LevelOptions",
    "LevelResult",
    "OAuthApp",
    "OnboardingError",
    "OnboardingResult",
    "PendingAuthorization",
    "RunOutcome",
    "RuntimeConfig",
    "RuntimeState",
    "RuntimeWebhookReceiver",
    "ScheduleRow",
    "ScheduleStore",
    "SharedHttpClients",
    "TickResult",
    "Trigger",
    "WebhookDisposition",
    "WebhookInbox",
    "WebhookListener",
    "begin_oauth_onboarding",
    "complete_oauth_onboarding",
    "handle_export_webhook",
    "lease_key",
    "oauth_token_key",
    "open_state",
    "recover_interrupted",
    "redact_url",
    "register_state_backend",
    "run_level",
    "tick",
]
