"""Wire types of Pleo's webhook deliveries (the request body Pleo POSTs to a subscription).

No OpenAPI spec declares these bodies, so the names are ours; the shapes follow Pleo's
webhook docs (export-api.md §7 and Part 2 items 4-6):

* ``{"eventType": ..., "eventId": ..., "data": {...}}`` — :class:`WebhookEventPayload`;
* the newer docs wrap the same object in ``"payload"`` next to copies of the signature
  headers — :class:`WrappedWebhookPayload` (the copies are ignored; the real headers are
  what gets verified);
* ``v1.export-job.created`` carries the export job in ``data`` —
  :class:`ExportJobCreatedPayload` with :class:`ExportJobCreatedData`.

``pleo_erp.client.webhooks.parse_event`` structures these with the one cattrs converter, so
unknown keys are ignored, scalars are checked, date-times follow the converter's rules and a
bad body raises an error naming the JSON path.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Generic, TypeVar

from attrs import define, field

__all__ = [
    "ExportJobCreatedData",
    "ExportJobCreatedPayload",
    "WebhookEventPayload",
    "WrappedWebhookPayload",
]

P = TypeVar("P")


@define(frozen=True)
class WebhookEventPayload:
    """Any webhook event: its type, optional id and the raw ``data`` object.

    ``data`` stays a plain dict here: its shape depends on ``event_type`` and unknown event
    types must still parse (they are passed on untyped).
    """

    event_type: str
    event_id: str | None = None
    data: dict[str, Any] = field(factory=dict)


@define(frozen=True)
class ExportJobCreatedData:
    """``data`` of ``v1.export-job.created``: the export job as it was when the event fired.

    Only ``id`` and ``companyId`` are required: the event is a trigger (the job is fetched
    afterwards), and the docs' examples omit fields the ``ExportJobV3`` schema requires.
    ``status`` is kept as the raw string.
    """

    id: uuid.UUID
    company_id: uuid.UUID
    status: str | None = None
    created_at: dt.datetime | None = None
    created_by: str | None = None
    expires_in: int | None = None
    number_of_items: int | None = None


@define(frozen=True)
class ExportJobCreatedPayload:
    """A ``v1.export-job.created`` event (or one of its documented spellings), typed."""

    event_type: str
    data: ExportJobCreatedData
    event_id: str | None = None


@define(frozen=True)
class WrappedWebhookPayload(Generic[P]):
    """The newer docs' body shape: the event under ``"payload"`` (other keys ignored)."""

    payload: P
