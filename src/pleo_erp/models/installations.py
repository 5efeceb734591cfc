"""App-marketplace installations (``/v1/installations/me…``): the integration's installation
for the calling company. Responses are the bare ``InstallationResponse`` (no ``data`` envelope).
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from attrs import define

__all__ = [
    "CreateClientInstallationRequest",
    "InstallationErrorCode",
    "InstallationResponse",
    "InstallationStatus",
    "UpdateInstallationRequest",
]


class InstallationStatus(str, enum.Enum):
    """Lifecycle status of an installation."""

    ACTIVATED = "ACTIVATED"
    INACTIVE = "INACTIVE"
    AUTHORIZED = "AUTHORIZED"
    PENDING_INTEGRATION = "PENDING_INTEGRATION"
    ERROR = "ERROR"


class InstallationErrorCode(str, enum.Enum):
    """Why an installation is inactive."""

    NOT_ENTITLED = "NOT_ENTITLED"
    AUTH_ERROR = "AUTH_ERROR"


@define(frozen=True)
class InstallationResponse:
    """An installation; ``resource`` is the URN of what it is installed on
    (``urn:pleo:company:<uuid>``)."""

    application_id: uuid.UUID
    created_at: dt.datetime
    id: uuid.UUID
    metadata: dict[str, Any]
    resource: str
    status: InstallationStatus | str
    updated_at: dt.datetime
    error_code: InstallationErrorCode | str | None = None


@define(frozen=True)
class CreateClientInstallationRequest:
    """Body of ``POST /v1/installations/me``."""

    metadata: dict[str, Any] | None = None
    status: InstallationStatus | None = None


@define(frozen=True)
class UpdateInstallationRequest:
    """Body of ``PUT /v1/installations/me``."""

    status: InstallationStatus
    error_code: InstallationErrorCode | None = None
    metadata: dict[str, Any] | None = None
