"""Webhook subscriptions (``/v1/subscriptions…``).

Credentials never show in a ``repr``: ``AuthCredential.password`` / ``token``, the custom
headers (they may carry a shared secret) and ``SubscriptionSecretModel.secret_key`` print as
``'***'``.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import TypeAlias

from attrs import define, field

from pleo_erp.models.common import CursorPage, DataResponse

__all__ = [
    "AuthCredential",
    "CursorPaginatedResponseSubscriptionActivityModel",
    "CursorPaginatedResponseSubscriptionModel",
    "EndpointAuth",
    "EndpointAuthType",
    "SubscriptionActivityModel",
    "SubscriptionModel",
    "SubscriptionOperationType",
    "SubscriptionRequest",
    "SubscriptionResponse",
    "SubscriptionSecretModel",
    "SubscriptionSecretResponse",
    "SubscriptionStatus",
]


def _redacted(value: object) -> str:
    """``repr`` of a secret: whether it is set, never what it is."""
    return "None" if value is None else "'***'"


class SubscriptionStatus(str, enum.Enum):
    """Whether Pleo delivers events to the subscription."""

    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"


class EndpointAuthType(str, enum.Enum):
    """How Pleo authenticates to the endpoint (besides the HMAC signature)."""

    NONE = "NONE"
    BASIC = "BASIC"


class SubscriptionOperationType(str, enum.Enum):
    """Kind of change recorded in a subscription's activity log."""

    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"


@define(frozen=True)
class AuthCredential:
    """Credentials Pleo presents to the endpoint (``username``/``password`` or ``token``)."""

    password: str | None = field(default=None, repr=_redacted)
    token: str | None = field(default=None, repr=_redacted)
    username: str | None = None


@define(frozen=True)
class EndpointAuth:
    """Endpoint authentication settings of a subscription (default type ``NONE``)."""

    credentials: AuthCredential | None = None
    type: EndpointAuthType | str | None = None


@define(frozen=True)
class SubscriptionModel:
    """A webhook subscription (``event_types`` e.g. ``("v1.export-job.created",)``)."""

    created_at: dt.datetime
    endpoint_url: str
    event_types: tuple[str, ...]
    id: uuid.UUID
    status: SubscriptionStatus | str
    updated_at: dt.datetime
    custom_headers: dict[str, str] | None = field(default=None, repr=_redacted)
    deleted_at: dt.datetime | None = None
    deleted_by: str | None = None
    endpoint_auth: EndpointAuth | None = None


@define(frozen=True)
class SubscriptionRequest:
    """Body of ``POST /v1/subscriptions`` and ``PUT /v1/subscriptions/{id}``."""

    endpoint_url: str
    event_types: tuple[str, ...]
    custom_headers: dict[str, str] | None = field(default=None, repr=_redacted)
    endpoint_auth: EndpointAuth | None = None
    status: SubscriptionStatus | None = None


@define(frozen=True)
class SubscriptionActivityModel:
    """One change to a subscription; ``actor_urn`` names who made it."""

    actor_urn: str
    created_at: dt.datetime
    description: str
    id: uuid.UUID
    operation_type: SubscriptionOperationType | str
    subscription_id: uuid.UUID


@define(frozen=True)
class SubscriptionSecretModel:
    """The subscription's signing secret (``whsec_…``) used to verify deliveries."""

    secret_key: str | None = field(default=None, repr=_redacted)


SubscriptionResponse: TypeAlias = DataResponse[SubscriptionModel]
"""One subscription (create, get, update)."""

SubscriptionSecretResponse: TypeAlias = DataResponse[SubscriptionSecretModel]
"""``GET /v1/subscriptions/{id}/secret`` response."""

CursorPaginatedResponseSubscriptionModel: TypeAlias = CursorPage[SubscriptionModel]
"""``GET /v1/subscriptions`` pages."""

CursorPaginatedResponseSubscriptionActivityModel: TypeAlias = CursorPage[SubscriptionActivityModel]
"""``GET /v1/subscriptions/{id}/activities`` pages."""
