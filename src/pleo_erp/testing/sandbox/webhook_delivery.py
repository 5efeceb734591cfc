"""Build and deliver the sandbox's ``v1.export-job.created`` webhook (export-api.md §7).

The body is ``{"data": <export job>, "eventId": ..., "eventType": "v1.export-job.created"}``,
the "Event Body" form of Pleo's docs; the Standard Webhooks headers ``webhook-id``,
``webhook-timestamp`` and ``webhook-signature`` travel as HTTP headers (export-api.md Part 2
item 5 explains the two shapes the docs show; DESIGN decision 10). The signature is made by
:func:`pleo_erp.client.webhooks.sign`, so the sandbox and the SDK's verifier share one
definition of the scheme, while the tests of this module check it against an independent
HMAC computation.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, Final

import httpx

__all__ = ["EXPORT_JOB_CREATED", "build_export_job_created_event", "deliver"]

EXPORT_JOB_CREATED: Final = "v1.export-job.created"
"""The event type in payloads and subscription examples (export-api.md §7, Part 2 item 4)."""

_DEFAULT_EXPIRES_IN: Final = 3600
_RESERVED_HEADERS: Final = frozenset({"webhook-id", "webhook-timestamp", "webhook-signature"})


def _date_time(value: datetime | str) -> str:
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        raise ValueError("created_at must be timezone-aware")
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_export_job_created_event(
    job_id: str | uuid.UUID,
    company_id: str | uuid.UUID,
    event_id: str | uuid.UUID,
    created_at: datetime | str,
    *,
    job: Mapping[str, Any] | None = None,
    created_by: str | None = None,
    number_of_items: int | None = None,
    expires_in: int = _DEFAULT_EXPIRES_IN,
) -> bytes:
    """The JSON body of a ``v1.export-job.created`` delivery, as UTF-8 bytes.

    ``data`` represents the export job as it was when the event fired: pass the sandbox's
    ``ExportJobV3`` dict as ``job`` to include all of it; otherwise ``data`` holds the fields
    of Pleo's example (``id``, ``companyId``, ``createdAt``, ``status`` ``pending``,
    ``expiresIn`` and, when given, ``createdBy`` and ``numberOfItems``). Ids may be strings or
    ``uuid.UUID``; ``created_at`` an aware datetime or an already formatted string. A ``job``
    whose id or company differs from the arguments raises ``ValueError``.
    """
    data: dict[str, Any] = {
        "id": str(job_id),
        "companyId": str(company_id),
        "createdAt": _date_time(created_at),
        "status": "pending",
        "expiresIn": expires_in,
    }
    if created_by is not None:
        data["createdBy"] = created_by
    if number_of_items is not None:
        data["numberOfItems"] = number_of_items
    if job is not None:
        for key in ("id", "companyId"):
            if key in job and str(job[key]) != data[key]:
                raise ValueError(f"job[{key!r}] does not match the event arguments")
        # The snapshot wins for every other field (it *is* the resource); ids stay as given.
        data = {**data, **job, "id": data["id"], "companyId": data["companyId"]}
    payload = {"data": data, "eventId": str(event_id), "eventType": EXPORT_JOB_CREATED}
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def deliver(
    url: str,
    secret: str,
    body: bytes,
    msg_id: str,
    timestamp: int | datetime,
    http_client: httpx.Client,
    *,
    extra_headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> httpx.Response:
    """POST one signed webhook delivery and return the receiver's response.

    Headers: ``content-type: application/json``, ``webhook-id`` (``msg_id``),
    ``webhook-timestamp`` (Unix seconds) and ``webhook-signature`` from
    :func:`pleo_erp.client.webhooks.sign` with the subscription's ``whsec_`` ``secret``.
    ``extra_headers`` carries a subscription's custom headers or Basic credentials; it cannot
    replace the three ``webhook-*`` headers. A non-2xx answer is returned, not raised (the
    caller decides about retries); transport failures raise ``httpx.HTTPError``. The secret
    never appears in an exception or log line raised from here.
    """
    # Imported here: the client package is heavier than this module, and the sandbox may
    # load demo data without ever delivering a webhook.
    from pleo_erp.client.webhooks import sign

    if isinstance(timestamp, datetime):
        if timestamp.tzinfo is None:
            raise ValueError("timestamp must be timezone-aware")
        seconds = int(timestamp.timestamp())
    else:
        seconds = timestamp
    headers: dict[str, str] = {}
    for name, value in (extra_headers or {}).items():
        if name.lower() in _RESERVED_HEADERS:
            raise ValueError(f"extra_headers must not set {name!r}")
        headers[name] = value
    headers["content-type"] = "application/json"
    headers["webhook-id"] = msg_id
    headers["webhook-timestamp"] = str(seconds)
    headers["webhook-signature"] = sign(secret, msg_id, seconds, body)
    return http_client.post(url, content=body, headers=headers, timeout=timeout)
