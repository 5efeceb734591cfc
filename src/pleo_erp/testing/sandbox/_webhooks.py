"""Deliver ``v1.export-job.created`` to subscribed endpoints when a job is created.

Deliveries are queued while the state lock is held and sent after it is released, so a
receiver that calls back into the sandbox (to list jobs) cannot deadlock. The body and
signature come from :mod:`.webhook_delivery`; every attempt is recorded.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from functools import partial

import httpx
from attrs import define

from ._jobs import job_view
from ._state import Job, SandboxState, Subscription
from .webhook_delivery import EXPORT_JOB_CREATED, build_export_job_created_event, deliver

__all__ = ["WebhookDelivery", "WebhookDispatcher"]


@define(frozen=True)
class WebhookDelivery:
    """One delivery attempt: where it went and what came back (``error`` if nothing did)."""

    subscription_id: str
    url: str
    msg_id: str
    event_id: str
    job_id: str
    status_code: int | None
    error: str | None


def _extra_headers(subscription: Subscription) -> dict[str, str]:
    headers = dict(subscription.data.get("customHeaders") or {})
    auth = subscription.endpoint_auth or {}
    credentials = auth.get("credentials") or {}
    if auth.get("type") == "BASIC" and credentials.get("username") is not None:
        pair = f"{credentials['username']}:{credentials.get('password') or ''}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    return headers


class WebhookDispatcher:
    """Listens for new jobs and delivers the event to every matching active subscription."""

    def __init__(self, state: SandboxState, http_client: Callable[[], httpx.Client]) -> None:
        self._state = state
        self._http_client = http_client
        self.enabled = False
        self.deliveries: list[WebhookDelivery] = []

    def on_job_created(self, job: Job) -> None:
        """Queue a delivery per matching subscription (called under the state lock)."""
        if not self.enabled:
            return
        state = self._state
        for subscription in state.subscriptions.values():
            data = subscription.data
            covered = subscription.company_ids is None or job.company_id in subscription.company_ids
            if (
                data["status"] != "ACTIVE"
                or EXPORT_JOB_CREATED not in data["eventTypes"]
                or not covered
            ):
                continue
            event_id = state.new_id()
            body = build_export_job_created_event(
                job.id,
                job.company_id,
                event_id,
                str(job.data["createdAt"]),
                job=job_view(state, job),
            )
            state.after_commit.append(
                partial(
                    self._send,
                    subscription_id=str(data["id"]),
                    url=str(data["endpointUrl"]),
                    secret=subscription.secret,
                    body=body,
                    msg_id=state.new_token("msg_", 12),
                    event_id=event_id,
                    job_id=job.id,
                    timestamp=int(state.now_epoch()),
                    headers=_extra_headers(subscription),
                )
            )

    def _send(
        self,
        *,
        subscription_id: str,
        url: str,
        secret: str,
        body: bytes,
        msg_id: str,
        event_id: str,
        job_id: str,
        timestamp: int,
        headers: dict[str, str],
    ) -> None:
        status: int | None = None
        error: str | None = None
        try:
            response = deliver(
                url, secret, body, msg_id, timestamp, self._http_client(), extra_headers=headers
            )
            status = response.status_code
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        with self._state.lock:
            self.deliveries.append(
                WebhookDelivery(subscription_id, url, msg_id, event_id, job_id, status, error)
            )
