"""Webhook subscriptions: list, create, get, update, delete, and the signing secret.

- ``list(status=, event_types=)``: ``GET /v1/subscriptions`` (re-sendable)
- ``create(endpoint_url, event_types, …)``: ``POST /v1/subscriptions`` (a create)
- ``get(subscription_id)``: ``GET /v1/subscriptions/{id}`` (re-sendable)
- ``update(subscription_id, …)``: ``PUT /v1/subscriptions/{id}`` (re-sendable)
- ``delete(subscription_id)``: ``DELETE /v1/subscriptions/{id}`` (re-sendable)
- ``secret(subscription_id)``: ``GET /v1/subscriptions/{id}/secret`` (re-sendable)

Subscriptions carry credentials (``endpointAuth``, ``customHeaders``) and the ``whsec_`` secret
verifies deliveries (export-api.md §7, Part 3 rule 20): none of it is ever logged — the
transport logs no bodies at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from pleo_erp.client._request import Call, ensure_uuid, path_segment, query
from pleo_erp.client.errors import ResponseValidationError
from pleo_erp.client.pagination import AsyncPaginator, Paginator
from pleo_erp.client.resources._base import (
    AsyncResource,
    SyncResource,
    check_enum,
    data_of,
    paged,
)
from pleo_erp.client.serialization import structure, unstructure
from pleo_erp.models.subscriptions import (
    EndpointAuth,
    SubscriptionModel,
    SubscriptionRequest,
    SubscriptionSecretModel,
    SubscriptionStatus,
)

__all__ = ["AsyncSubscriptions", "Subscriptions"]

_SUBSCRIPTIONS = "/v1/subscriptions"


def _event_types(event_types: Iterable[str] | str | None) -> tuple[str, ...] | None:
    if event_types is None:
        return None
    if isinstance(event_types, str):
        return (event_types,)
    return tuple(dict.fromkeys(event_types))


def _status(status: SubscriptionStatus | str | None) -> SubscriptionStatus | None:
    return check_enum(SubscriptionStatus, status, "status") if status is not None else None


def _path(subscription_id: uuid.UUID | str, suffix: str = "") -> str:
    return (
        f"{_SUBSCRIPTIONS}/{path_segment(ensure_uuid(subscription_id, 'subscription_id'))}{suffix}"
    )


def list_call(
    status: SubscriptionStatus | str | None, event_types: Iterable[str] | str | None
) -> Call:
    """``GET /v1/subscriptions?status&event_types…``."""
    return Call(
        "subscriptions.list",
        "GET",
        _SUBSCRIPTIONS,
        query(status=_status(status), event_types=_event_types(event_types)),
    )


def _request(
    endpoint_url: str,
    event_types: Iterable[str] | str,
    status: SubscriptionStatus | str | None,
    custom_headers: Mapping[str, str] | None,
    endpoint_auth: EndpointAuth | Mapping[str, Any] | None,
) -> Any:
    if not isinstance(endpoint_url, str) or not endpoint_url.startswith(("https://", "http://")):
        raise ValueError("endpoint_url must be an http(s) URL")
    types = _event_types(event_types)
    if not types:
        raise ValueError("event_types must name at least one event type")
    auth: EndpointAuth | None
    if endpoint_auth is None or isinstance(endpoint_auth, EndpointAuth):
        auth = endpoint_auth
    else:
        try:
            auth = structure(dict(endpoint_auth), EndpointAuth)
        except ResponseValidationError as exc:
            # Say what is wrong, never the value (it holds credentials).
            raise ValueError(f"endpoint_auth does not fit EndpointAuth: {exc.errors[0]}") from None
    body = SubscriptionRequest(
        endpoint_url=endpoint_url,
        event_types=types,
        status=_status(status),
        custom_headers=dict(custom_headers) if custom_headers is not None else None,
        endpoint_auth=auth,
    )
    return unstructure(body)


def create_call(
    endpoint_url: str,
    event_types: Iterable[str] | str,
    status: SubscriptionStatus | str | None,
    custom_headers: Mapping[str, str] | None,
    endpoint_auth: EndpointAuth | Mapping[str, Any] | None,
) -> Call:
    """``POST /v1/subscriptions`` (a create: not re-sent after ambiguous failures)."""
    body = _request(endpoint_url, event_types, status, custom_headers, endpoint_auth)
    return Call("subscriptions.create", "POST", _SUBSCRIPTIONS, body=body, idempotent=False)


def get_call(subscription_id: uuid.UUID | str) -> Call:
    """``GET /v1/subscriptions/{id}``."""
    return Call("subscriptions.get", "GET", _path(subscription_id))


def update_call(
    subscription_id: uuid.UUID | str,
    endpoint_url: str,
    event_types: Iterable[str] | str,
    status: SubscriptionStatus | str | None,
    custom_headers: Mapping[str, str] | None,
    endpoint_auth: EndpointAuth | Mapping[str, Any] | None,
) -> Call:
    """``PUT /v1/subscriptions/{id}`` with the complete subscription."""
    body = _request(endpoint_url, event_types, status, custom_headers, endpoint_auth)
    return Call("subscriptions.update", "PUT", _path(subscription_id), body=body)


def delete_call(subscription_id: uuid.UUID | str) -> Call:
    """``DELETE /v1/subscriptions/{id}``."""
    return Call("subscriptions.delete", "DELETE", _path(subscription_id))


def secret_call(subscription_id: uuid.UUID | str) -> Call:
    """``GET /v1/subscriptions/{id}/secret``."""
    return Call("subscriptions.secret", "GET", _path(subscription_id, "/secret"))


class Subscriptions(SyncResource):
    """Webhook subscriptions (``client.subscriptions``)."""

    def list(
        self,
        *,
        status: SubscriptionStatus | str | None = None,
        event_types: Iterable[str] | str | None = None,
        page_size: int | None = None,
    ) -> Paginator[SubscriptionModel]:
        """Iterate the app's subscriptions (``status``: ``ACTIVE``/``INACTIVE``)."""
        return self._paginate(paged(list_call(status, event_types), SubscriptionModel, page_size))

    def create(
        self,
        endpoint_url: str,
        event_types: Iterable[str] | str,
        *,
        status: SubscriptionStatus | str | None = None,
        custom_headers: Mapping[str, str] | None = None,
        endpoint_auth: EndpointAuth | Mapping[str, Any] | None = None,
    ) -> SubscriptionModel:
        """Subscribe ``endpoint_url`` to ``event_types`` (e.g. ``v1.export-job.created``)."""
        call = create_call(endpoint_url, event_types, status, custom_headers, endpoint_auth)
        return data_of(self._transport.request(call), SubscriptionModel)

    def get(self, subscription_id: uuid.UUID | str) -> SubscriptionModel:
        """One subscription."""
        return data_of(self._transport.request(get_call(subscription_id)), SubscriptionModel)

    def update(
        self,
        subscription_id: uuid.UUID | str,
        endpoint_url: str,
        event_types: Iterable[str] | str,
        *,
        status: SubscriptionStatus | str | None = None,
        custom_headers: Mapping[str, str] | None = None,
        endpoint_auth: EndpointAuth | Mapping[str, Any] | None = None,
    ) -> SubscriptionModel:
        """Replace the subscription's endpoint, event types, status and endpoint auth."""
        call = update_call(
            subscription_id, endpoint_url, event_types, status, custom_headers, endpoint_auth
        )
        return data_of(self._transport.request(call), SubscriptionModel)

    def delete(self, subscription_id: uuid.UUID | str) -> None:
        """Delete a subscription."""
        self._transport.request(delete_call(subscription_id))

    def secret(self, subscription_id: uuid.UUID | str) -> SubscriptionSecretModel:
        """The ``whsec_…`` secret that verifies this subscription's deliveries."""
        body = self._transport.request(secret_call(subscription_id))
        return data_of(body, SubscriptionSecretModel)


class AsyncSubscriptions(AsyncResource):
    """Webhook subscriptions (``client.subscriptions`` on the async client)."""

    def list(
        self,
        *,
        status: SubscriptionStatus | str | None = None,
        event_types: Iterable[str] | str | None = None,
        page_size: int | None = None,
    ) -> AsyncPaginator[SubscriptionModel]:
        """Iterate (``async for``) the app's subscriptions; see :meth:`Subscriptions.list`."""
        return self._paginate(paged(list_call(status, event_types), SubscriptionModel, page_size))

    async def create(
        self,
        endpoint_url: str,
        event_types: Iterable[str] | str,
        *,
        status: SubscriptionStatus | str | None = None,
        custom_headers: Mapping[str, str] | None = None,
        endpoint_auth: EndpointAuth | Mapping[str, Any] | None = None,
    ) -> SubscriptionModel:
        """Create a subscription; see :meth:`Subscriptions.create`."""
        call = create_call(endpoint_url, event_types, status, custom_headers, endpoint_auth)
        return data_of(await self._transport.request(call), SubscriptionModel)

    async def get(self, subscription_id: uuid.UUID | str) -> SubscriptionModel:
        """One subscription."""
        body = await self._transport.request(get_call(subscription_id))
        return data_of(body, SubscriptionModel)

    async def update(
        self,
        subscription_id: uuid.UUID | str,
        endpoint_url: str,
        event_types: Iterable[str] | str,
        *,
        status: SubscriptionStatus | str | None = None,
        custom_headers: Mapping[str, str] | None = None,
        endpoint_auth: EndpointAuth | Mapping[str, Any] | None = None,
    ) -> SubscriptionModel:
        """Replace a subscription; see :meth:`Subscriptions.update`."""
        call = update_call(
            subscription_id, endpoint_url, event_types, status, custom_headers, endpoint_auth
        )
        return data_of(await self._transport.request(call), SubscriptionModel)

    async def delete(self, subscription_id: uuid.UUID | str) -> None:
        """Delete a subscription."""
        await self._transport.request(delete_call(subscription_id))

    async def secret(self, subscription_id: uuid.UUID | str) -> SubscriptionSecretModel:
        """The subscription's ``whsec_…`` secret; see :meth:`Subscriptions.secret`."""
        body = await self._transport.request(secret_call(subscription_id))
        return data_of(body, SubscriptionSecretModel)
