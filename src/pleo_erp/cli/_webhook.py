"""``pleo-erp webhook serve``: receive ``v1.export-job.created`` and run the export after the 2xx.

Three small parts (DESIGN decisions 10 and 13):

* :class:`WebhookReceiver` — HTTP-free: verify the signature *before* parsing, reject replays,
  pick the company, hand it to the dispatcher and answer at once. Unit-testable with a signed
  delivery from :func:`pleo_erp.client.webhooks.sign`.
* :class:`ExportDispatcher` — background worker threads, at most one export per company at a
  time; triggers arriving while one runs collapse into a single follow-up run (the export
  drains the whole queue, so one more pass picks up everything that arrived meanwhile).
* :func:`make_server` — a threaded ``http.server`` on loopback by default that feeds requests
  to the receiver, hardened for an open port (:class:`ServerLimits`): a body size cap, a
  deadline for reading each request (headers *and* body, idle keep-alive waits included), a
  cap on concurrent connections, no chunked request bodies, and every log line — request
  lines and broken connections alike — through the ``pleo_erp`` logger with control
  characters escaped.

The webhook is a trigger only: polling the export queue stays the source of truth.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from http.server import ThreadingHTTPServer
from typing import Literal

from attrs import define

from pleo_erp.client.webhooks import (
    ExportJobCreatedEvent,
    ReplayGuard,
    ReplayProtection,
    WebhookEvent,
    WebhookVerifier,
)
from pleo_erp.runtime.http import (
    MAX_BODY_BYTES,
    ServerLimits,
    WebhookResponse,
    escape_control,
    make_webhook_server,
)
from pleo_erp.runtime.webhooks import WebhookEndpoint

__all__ = [
    "DEFAULT_PATH",
    "MAX_BODY_BYTES",
    "ExportDispatcher",
    "RunOutcome",
    "ServerLimits",
    "WebhookReceiver",
    "WebhookResponse",
    "escape_control",
    "make_server",
]

logger = logging.getLogger("pleo_erp.cli.webhook")

DEFAULT_PATH = "/webhooks/pleo"
"""Where deliveries are expected unless ``--path`` says otherwise."""


Submission = Literal["started", "queued", "already_queued"]


@define(frozen=True)
class RunOutcome:
    """What one background export run ended with: its result, or the exception it raised."""

    company_id: uuid.UUID
    result: object = None
    error: BaseException | None = None


class ExportDispatcher:
    """Runs ``run(company_id)`` in worker threads: one at a time per company, never queued twice.

    ``submit`` returns at once. If the company's export is running, the trigger is remembered
    and exactly one more run follows the current one (however many triggers arrived).
    ``on_done`` is called (in the worker thread) after every run with its :class:`RunOutcome`;
    an exception from ``run`` is caught and reported there, never lost silently.
    """

    def __init__(
        self,
        run: Callable[[uuid.UUID], object],
        *,
        on_done: Callable[[RunOutcome], None] | None = None,
    ) -> None:
        """Dispatch to ``run``; report each finished run to ``on_done``."""
        self._run = run
        self._on_done = on_done
        self._lock = threading.Condition()
        self._running: set[uuid.UUID] = set()
        self._pending: set[uuid.UUID] = set()
        self._threads: list[threading.Thread] = []
        self.runs = 0
        """How many runs have finished (successfully or not)."""

    def submit(self, company_id: uuid.UUID) -> Submission:
        """Ask for an export of ``company_id``: started now, or queued behind the running one."""
        with self._lock:
            if company_id in self._running:
                if company_id in self._pending:
                    return "already_queued"
                self._pending.add(company_id)
                return "queued"
            self._running.add(company_id)
            thread = threading.Thread(
                target=self._work, args=(company_id,), name=f"export-{company_id}", daemon=True
            )
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()
        return "started"

    def busy(self) -> bool:
        """Whether any export is running or queued."""
        with self._lock:
            return bool(self._running)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no export runs or is queued; ``False`` if ``timeout`` passed first."""
        with self._lock:
            return self._lock.wait_for(lambda: not self._running, timeout=timeout)

    def _work(self, company_id: uuid.UUID) -> None:
        while True:
            outcome = self._run_once(company_id)
            if self._on_done is not None:
                try:
                    self._on_done(outcome)
                except Exception:
                    logger.exception("reporting the export outcome failed")
            with self._lock:
                self.runs += 1
                if company_id in self._pending:
                    self._pending.discard(company_id)
                    continue
                self._running.discard(company_id)
                self._lock.notify_all()
                return

    def _run_once(self, company_id: uuid.UUID) -> RunOutcome:
        try:
            return RunOutcome(company_id, result=self._run(company_id))
        except Exception as exc:  # reported through on_done; the worker must survive
            return RunOutcome(company_id, error=exc)


class WebhookReceiver(WebhookEndpoint):
    """Turns one HTTP delivery into a response and, for an export event, a dispatched export.

    Order per delivery (decision 13): path and method, size, **signature** (before the body is
    parsed), parse, replay check, then the trigger. Answers:

    * 202 — an export was started or queued for the event's company;
    * 200 — a verified delivery that needs nothing (a replay, another event type, a company
      this receiver is not configured for): 2xx, so Pleo does not redeliver it;
    * 400 — verified but malformed; 401 — signature, timestamp or credentials refused;
      404 / 405 / 413 — wrong path, method, or too large.
    """

    _log = logger

    def __init__(
        self,
        verifier: WebhookVerifier,
        dispatcher: ExportDispatcher,
        *,
        path: str = DEFAULT_PATH,
        replay_guard: ReplayProtection | None = None,
        company_id: uuid.UUID | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        """Verify with ``verifier``; dispatch exports to ``dispatcher``.

        ``company_id``, when given, restricts exports to that company (events of others are
        acknowledged and ignored). ``replay_guard`` is any :class:`ReplayProtection`
        (``seen``/``record``); it defaults to an in-memory :class:`ReplayGuard`.
        """
        self._bind(verifier, path, max_body_bytes)
        self.dispatcher = dispatcher
        self.replay_guard: ReplayProtection = (
            replay_guard if replay_guard is not None else ReplayGuard()
        )
        self.company_id = company_id

    def _accept(self, event: WebhookEvent, headers: Mapping[str, str]) -> WebhookResponse:
        if not isinstance(event, ExportJobCreatedEvent):
            logger.info("webhook event %s ignored (not an export trigger)", event.event_type)
            return WebhookResponse(200, {"status": "ignored"})
        if self.company_id is not None and event.company_id != self.company_id:
            logger.warning(
                "export event for company %s ignored: this receiver serves %s",
                event.company_id,
                self.company_id,
            )
            return WebhookResponse(200, {"status": "ignored"})
        submission = self.dispatcher.submit(event.company_id)
        logger.info(
            "export job %s of company %s: export %s",
            event.job_id,
            event.company_id,
            submission.replace("_", " "),
        )
        return WebhookResponse(
            202, {"status": "accepted", "export": submission, "jobId": str(event.job_id)}
        )


def make_server(
    receiver: WebhookReceiver,
    host: str,
    port: int,
    *,
    limits: ServerLimits | None = None,
) -> ThreadingHTTPServer:
    """A threaded HTTP server feeding ``receiver``; call ``serve_forever`` / ``shutdown``.

    ``limits`` bound what one client can hold (see :class:`ServerLimits`).
    """
    return make_webhook_server(receiver, host, port, limits=limits)
