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

from typing_extensions import TypedDict, Unpack

from pleo_erp.client._request import Call, Operation, id_path, query
from pleo_erp.client.errors import ResponseValidationError
from pleo_erp.client.pagination import AsyncPaginator, PagedCall, Paginator
from pleo_erp.client.resources._base import (
    AsyncResource,
    SyncResource,
    check_enum,
    check_params,
    data_parser,
    no_result,
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

__all__ = [
    "AsyncSubscriptions",
    "SubscriptionListParams",
    "SubscriptionOptions",
    "Subscriptions",
]

_SUBSCRIPTIONS = "/v1/subscriptions"
_SUBSCRIPTION = data_parser(SubscriptionModel)
_SECRET = data_parser(SubscriptionSecretModel)


def _event_types(event_types: Iterable[str] | str | None) -> tuple[str, ...] | None:
    if event_types is None:
        return None
    if isinstance(event_types, str):
        return (event_types,)
    return tuple(dict.fromkeys(event_types))


def _status(status: SubscriptionStatus | str | None) -> SubscriptionStatus | None:
    return check_enum(SubscriptionStatus, status, "status") if status is not None else None


def _path(subscription_id: uuid.UUID | str, suffix: str = "") -> str:
    return id_path(_SUBSCRIPTIONS, subscription_id, "subscription_id", suffix)


class SubscriptionListParams(TypedDict, total=False):
    """Keywords of ``subscriptions.list`` (all optional): ``status`` (``ACTIVE``/``INACTIVE``),
    ``event_types`` (one or several), ``page_size``."""

    status: SubscriptionStatus | str | None
    event_types: Iterable[str] | str | None
    page_size: int | None


def list_op(**params: Unpack[SubscriptionListParams]) -> PagedCall[SubscriptionModel]:
    """``GET /v1/subscriptions?status&event_types…``."""
    check_params(SubscriptionListParams, params, "list")
    query_params = query(
        status=_status(params.get("status")),
        event_types=_event_types(params.get("event_types")),
    )
    call = Call("subscriptions.list", "GET", _SUBSCRIPTIONS, query_params)
    return paged(call, SubscriptionModel, params.get("page_size"))


class SubscriptionOptions(TypedDict, total=False):
    """Optional keywords of ``subscriptions.create`` and ``.update``: ``status``
    (``ACTIVE``/``INACTIVE``), ``custom_headers``, ``endpoint_auth`` (an ``EndpointAuth`` or
    its spec-shaped dict). They carry credentials: never logged."""

    status: SubscriptionStatus | str | None
    custom_headers: Mapping[str, str] | None
    endpoint_auth: EndpointAuth | Mapping[str, Any] | None


def _request(
    endpoint_url: str, event_types: Iterable[str] | str, options: SubscriptionOptions, method: str
) -> Any:
    check_params(SubscriptionOptions, options, method)
    endpoint_auth = options.get("endpoint_auth")
    custom_headers = options.get("custom_headers")
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
        status=_status(options.get("status")),
        custom_headers=dict(custom_headers) if custom_headers is not None else None,
        endpoint_auth=auth,
    )
    return unstructure(body)


def create_op(
    endpoint_url: str, event_types: Iterable[str] | str, **options: Unpack[SubscriptionOptions]
) -> Operation[SubscriptionModel]:
    """``POST /v1/subscriptions`` (a create: not re-sent after ambiguous failures)."""
    body = _request(endpoint_url, event_types, options, "create")
    call = Call("subscriptions.create", "POST", _SUBSCRIPTIONS, body=body, idempotent=False)
    return Operation(call, _SUBSCRIPTION)


def get_op(subscription_id: uuid.UUID | str) -> Operation[SubscriptionModel]:
    """``GET /v1/subscriptions/{id}``."""
    return Operation(Call("subscriptions.get", "GET", _path(subscription_id)), _SUBSCRIPTION)


def update_op(
    subscription_id: uuid.UUID | str,
    endpoint_url: str,
    event_types: Iterable[str] | str,
    **options: Unpack[SubscriptionOptions],
) -> Operation[SubscriptionModel]:
    """``PUT /v1/subscriptions/{id}`` with the complete subscription."""
    body = _request(endpoint_url, event_types, options, "update")
    call = Call("subscriptions.update", "PUT", _path(subscription_id), body=body)
    return Operation(call, _SUBSCRIPTION)


def delete_op(subscription_id: uuid.UUID | str) -> Operation[None]:
    """``DELETE /v1/subscriptions/{id}``."""
    return Operation(Call("subscriptions.delete", "DELETE", _path(subscription_id)), no_result)


def secret_op(subscription_id: uuid.UUID | str) -> Operation[SubscriptionSecretModel]:
    """``GET /v1/subscriptions/{id}/secret``."""
    return Operation(
        Call("subscriptions.secret", "GET", _path(subscription_id, "/secret")), _SECRET
    )


class Subscriptions(SyncResource):
    """Webhook subscriptions (``client.subscriptions``)."""

    def list(self, **params: Unpack[SubscriptionListParams]) -> Paginator[SubscriptionModel]:
        """Iterate the app's subscriptions (``status``: ``ACTIVE``/``INACTIVE``).

        Keywords: see :class:`SubscriptionListParams`.
        """
        return self._paginate(list_op(**params))

    def create(
        self,
        endpoint_url: str,
        event_types: Iterable[str] | str,
        **options: Unpack[SubscriptionOptions],
    ) -> SubscriptionModel:
        """Subscribe ``endpoint_url`` to ``event_types`` (e.g. ``v1.export-job.created``).

        Keywords: see :class:`SubscriptionOptions`.
        """
        return self._run(create_op(endpoint_url, event_types, **options))

    def get(self, subscription_id: uuid.UUID | str) -> SubscriptionModel:
        """One subscription."""
        return self._run(get_op(subscription_id))

    def update(
        self,
        subscription_id: uuid.UUID | str,
        endpoint_url: str,
        event_types: Iterable[str] | str,
        **options: Unpack[SubscriptionOptions],
    ) -> SubscriptionModel:
        """Replace the subscription's endpoint, event types, status and endpoint auth."""
        return self._run(update_op(subscription_id, endpoint_url, event_types, **options))

    def delete(self, subscription_id: uuid.UUID | str) -> None:
        """Delete a subscription."""
        self._run(delete_op(subscription_id))

    def secret(self, subscription_id: uuid.UUID | str) -> SubscriptionSecretModel:
        """The ``whsec_…`` secret that verifies this subscription's deliveries."""
        return self._run(secret_op(subscription_id))


class AsyncSubscriptions(AsyncResource):
    """Webhook subscriptions (``client.subscriptions`` on the async client)."""

    def list(self, **params: Unpack[SubscriptionListParams]) -> AsyncPaginator[SubscriptionModel]:
        """Async twin of :meth:`Subscriptions.list` (iterate with ``async for``)."""
        return self._paginate(list_op(**params))

    async def create(
        self,
        endpoint_url: str,
        event_types: Iterable[str] | str,
        **options: Unpack[SubscriptionOptions],
    ) -> SubscriptionModel:
        """Async twin of :meth:`Subscriptions.create`."""
        return await self._run(create_op(endpoint_url, event_types, **options))

    async def get(self, subscription_id: uuid.UUID | str) -> SubscriptionModel:
        """Async twin of :meth:`Subscriptions.get`."""
        return await self._run(get_op(subscription_id))

    async def update(
        self,
        subscription_id: uuid.UUID | str,
        endpoint_url: str,
        event_types: Iterable[str] | str,
        **options: Unpack[SubscriptionOptions],
    ) -> SubscriptionModel:
        """Async twin of :meth:`Subscriptions.update`."""
        return await self._run(update_op(subscription_id, endpoint_url, event_types, **options))

    async def delete(self, subscription_id: uuid.UUID | str) -> None:
        """Async twin of :meth:`Subscriptions.delete`."""
        await self._run(delete_op(subscription_id))

    async def secret(self, subscription_id: uuid.UUID | str) -> SubscriptionSecretModel:
        """Async twin of :meth:`Subscriptions.secret`."""
        return await self._run(secret_op(subscription_id))
