"""Export webhooks in the runtime: verify, dedupe on ``webhook-id``, mark due, enqueue, 2xx.

:func:`handle_export_webhook` is the engine-neutral step after verification: it records the
delivery in the :class:`~pleo_erp.runtime.stores.WebhookInbox` (a redelivery is acknowledged
and nothing more), marks the company's export due in the schedule and enqueues
``run_level(company, EXPORT, "webhook")``. :class:`RuntimeWebhookReceiver` wraps it for HTTP
(:func:`~pleo_erp.runtime.http.make_webhook_server` serves it): path, method and size, the
Standard-Webhooks signature before the body is parsed, then the handler. It answers at once;
the export runs in a worker.

The webhook is a trigger only (Pleo: webhooks preferred, polling alongside). The mark in the
schedule is the safety net for a lost enqueue: the next tick runs the export. A delivery that
crashes between the inbox record and the mark is left to the regular export poll.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from uuid import UUID

from pleo_erp.client.webhooks import (
    ExportJobCreatedEvent,
    ReplayProtection,
    WebhookEvent,
    WebhookPayloadError,
    WebhookReplayError,
    WebhookVerificationError,
    WebhookVerifier,
    verify_and_parse,
)
from pleo_erp.orchestration.schedule import ScheduledLevel
from pleo_erp.runtime.http import MAX_BODY_BYTES, WebhookResponse
from pleo_erp.runtime.stores import ConnectionRegistry, ScheduleStore, WebhookInbox
from pleo_erp.runtime.tick import Enqueue

__all__ = [
    "DEFAULT_WEBHOOK_PATH",
    "RuntimeWebhookReceiver",
    "WebhookDisposition",
    "WebhookEndpoint",
    "handle_export_webhook",
]

logger = logging.getLogger("pleo_erp.runtime.webhook")

DEFAULT_WEBHOOK_PATH = "/webhooks/pleo"
"""Where deliveries are expected unless configured otherwise."""


class WebhookDisposition(str, enum.Enum):
    """What :func:`handle_export_webhook` did with a verified delivery."""

    ACCEPTED = "accepted"
    """The company's export was marked due and enqueued."""
    QUEUED_BY_SCHEDULE = "queued_by_schedule"
    """Marked due, but the engine refused the message: the next tick runs it."""
    DUPLICATE = "duplicate"
    """This ``webhook-id`` was handled before; nothing to do."""
    IGNORED = "ignored"
    """Not an export trigger (another event type)."""
    UNKNOWN_COMPANY = "unknown_company"
    """No enabled connection exports for the event's company."""


class WebhookEndpoint:
    """A webhook receiver without the HTTP server: checks a delivery, then acts on its event.

    A subclass calls :meth:`_bind` (and sets ``replay_guard`` to reject replays itself) and
    implements ``_accept``, which :meth:`handle` calls with each verified event.
    """

    verifier: WebhookVerifier
    path: str
    max_body_bytes: int
    replay_guard: ReplayProtection | None = None
    _log: logging.Logger = logger

    def _bind(self, verifier: WebhookVerifier, path: str, max_body_bytes: int) -> None:
        self.verifier = verifier
        self.path = path if path.startswith("/") else "/" + path
        self.max_body_bytes = max_body_bytes

    def verified(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> WebhookEvent | WebhookResponse:
        """The verified event of one delivery, or the response refusing it (never raises).

        404 on another path, 405 for anything but ``POST``, 413 above ``max_body_bytes``, 401
        when verification fails, 400 for a malformed event, and 200 ``duplicate`` for a
        replay ``replay_guard`` caught (a 2xx, so Pleo does not redeliver it).
        """
        if path.split("?", 1)[0] != self.path:
            return WebhookResponse(404, {"error": "not found"})
        if method.upper() != "POST":
            return WebhookResponse(405, {"error": "use POST"})
        if len(body) > self.max_body_bytes:
            return WebhookResponse(413, {"error": "delivery too large"})
        try:
            return verify_and_parse(headers, body, self.verifier, self.replay_guard)
        except WebhookReplayError:
            self._log.info("duplicate webhook delivery ignored")
            return WebhookResponse(200, {"status": "duplicate"})
        except WebhookVerificationError as exc:
            self._log.warning("webhook refused: %s", exc)
            return WebhookResponse(401, {"error": "verification failed"})
        except WebhookPayloadError as exc:
            self._log.warning("webhook payload refused: %s", exc)
            return WebhookResponse(400, {"error": "malformed event"})

    def handle(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> WebhookResponse:
        """Answer one delivery (never raises for a bad delivery)."""
        event = self.verified(method, path, headers, body)
        return event if isinstance(event, WebhookResponse) else self._accept(event, headers)

    def _accept(self, event: WebhookEvent, headers: Mapping[str, str]) -> WebhookResponse:
        """Act on a verified event; the response tells Pleo whether to redeliver."""
        raise NotImplementedError


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def handle_export_webhook(
    event: WebhookEvent,
    *,
    webhook_id: str,
    inbox: WebhookInbox,
    schedule: ScheduleStore,
    enqueue: Enqueue,
    registry: ConnectionRegistry | None = None,
    now: datetime | None = None,
) -> WebhookDisposition:
    """React to one *verified* delivery (see the module docstring). Never raises for the engine.

    Args:
        event: the parsed event (:func:`~pleo_erp.client.webhooks.verify_and_parse`).
        webhook_id: the delivery's ``webhook-id`` (or the event id), the dedupe key.
        inbox: where delivery ids are remembered across restarts.
        schedule: whose export row is marked due.
        enqueue: hands ``(company_id, EXPORT, "webhook")`` to the engine.
        registry: when given, events of companies without an enabled exporting connection
            are acknowledged and ignored.
        now: the receive time (default: now, UTC).
    """
    company: UUID | None = event.company_id if isinstance(event, ExportJobCreatedEvent) else None
    received = now if now is not None else _utcnow()
    if not inbox.record(webhook_id, company_id=company, received_at=received):
        logger.info("duplicate webhook delivery ignored")
        return WebhookDisposition.DUPLICATE
    if not isinstance(event, ExportJobCreatedEvent):
        logger.info("webhook event %s ignored (not an export trigger)", event.event_type)
        return WebhookDisposition.IGNORED
    if registry is not None:
        connection = registry.get(event.company_id)
        if (
            connection is None
            or not connection.enabled
            or ScheduledLevel.EXPORT not in connection.levels
        ):
            logger.warning(
                "export event for company %s ignored: no enabled connection exports for it",
                event.company_id,
            )
            return WebhookDisposition.UNKNOWN_COMPANY
    schedule.mark_due(event.company_id, ScheduledLevel.EXPORT)
    try:
        enqueue(event.company_id, ScheduledLevel.EXPORT, "webhook")
    except Exception:
        logger.warning(
            "could not enqueue the export of company %s; the next tick runs it",
            event.company_id,
            exc_info=True,
        )
        return WebhookDisposition.QUEUED_BY_SCHEDULE
    logger.info("export job %s of company %s: export queued", event.job_id, event.company_id)
    return WebhookDisposition.ACCEPTED


class RuntimeWebhookReceiver(WebhookEndpoint):
    """HTTP-free receiver: one delivery in, one :class:`WebhookResponse` out, at once.

    Order per delivery: path and method, size, **signature** (before the body is parsed),
    parse, then :func:`handle_export_webhook`. Answers 202 (export queued), 200 (a verified
    delivery needing nothing: duplicate, other event type, unknown company — 2xx so Pleo does
    not redeliver), 400 (verified but malformed), 401 (refused), 404/405/413, 503 (the state
    store failed: Pleo redelivers later).
    """

    def __init__(
        self,
        verifier: WebhookVerifier,
        *,
        inbox: WebhookInbox,
        schedule: ScheduleStore,
        enqueue: Enqueue,
        registry: ConnectionRegistry | None = None,
        path: str = DEFAULT_WEBHOOK_PATH,
        max_body_bytes: int = MAX_BODY_BYTES,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        """Verify with ``verifier``, dedupe in ``inbox``, trigger via ``schedule``/``enqueue``."""
        self._bind(verifier, path, max_body_bytes)
        self.inbox = inbox
        self.schedule = schedule
        self.enqueue = enqueue
        self.registry = registry
        self._clock = clock

    def _accept(self, event: WebhookEvent, headers: Mapping[str, str]) -> WebhookResponse:
        lowered = {key.lower(): value for key, value in headers.items()}
        webhook_id = lowered.get("webhook-id", "").strip() or (event.event_id or "")
        if not webhook_id:
            return WebhookResponse(400, {"error": "missing webhook-id"})
        try:
            disposition = handle_export_webhook(
                event,
                webhook_id=webhook_id,
                inbox=self.inbox,
                schedule=self.schedule,
                enqueue=self.enqueue,
                registry=self.registry,
                now=self._clock(),
            )
        except Exception:  # the state store is down: let Pleo redeliver
            logger.exception("webhook could not be recorded")
            return WebhookResponse(503, {"error": "try again later"})
        if disposition in (WebhookDisposition.ACCEPTED, WebhookDisposition.QUEUED_BY_SCHEDULE):
            body_out: dict[str, str] = {"status": "accepted", "export": disposition.value}
            if isinstance(event, ExportJobCreatedEvent):
                body_out["jobId"] = str(event.job_id)
            return WebhookResponse(202, body_out)
        return WebhookResponse(200, {"status": disposition.value})
