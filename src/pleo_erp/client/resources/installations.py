"""The app's own installation (App Marketplace API): read, create, update, activate, delete.

- ``me(company_id=None)``: ``GET /v1/installations/me`` (re-sendable)
- ``create(status=, metadata=)``: ``POST /v1/installations/me`` (a create)
- ``update(status, error_code=, metadata=)``: ``PUT /v1/installations/me`` (re-sendable)
- ``activate()``: ``POST /v1/installations/me:activate`` (not re-sendable)
- ``delete()``: ``DELETE /v1/installations/me`` (re-sendable)

Responses are a bare ``InstallationResponse`` (no ``data`` envelope). Activate after the first
syncs succeeded (accounts-sync-and-auth.md rule 24). Deleting the installation revokes every
access and refresh token of the client (§B6).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from pleo_erp.client._request import Call, ensure_uuid, query
from pleo_erp.client.resources._base import AsyncResource, SyncResource, check_enum
from pleo_erp.client.serialization import structure, unstructure
from pleo_erp.models.installations import (
    CreateClientInstallationRequest,
    InstallationErrorCode,
    InstallationResponse,
    InstallationStatus,
    UpdateInstallationRequest,
)

__all__ = ["AsyncInstallations", "Installations"]

_ME = "/v1/installations/me"


def me_call(company_id: uuid.UUID | str | None) -> Call:
    """``GET /v1/installations/me`` (``company_id`` narrows an organisation credential)."""
    company = ensure_uuid(company_id, "company_id") if company_id is not None else None
    return Call("installations.me", "GET", _ME, query(company_id=company))


def create_call(
    status: InstallationStatus | str | None, metadata: Mapping[str, Any] | None
) -> Call:
    """``POST /v1/installations/me`` (a create: not re-sent after ambiguous failures)."""
    body = CreateClientInstallationRequest(
        status=check_enum(InstallationStatus, status, "status") if status is not None else None,
        metadata=dict(metadata) if metadata is not None else None,
    )
    return Call("installations.create", "POST", _ME, body=unstructure(body), idempotent=False)


def update_call(
    status: InstallationStatus | str,
    error_code: InstallationErrorCode | str | None,
    metadata: Mapping[str, Any] | None,
) -> Call:
    """``PUT /v1/installations/me``."""
    body = UpdateInstallationRequest(
        status=check_enum(InstallationStatus, status, "status"),
        error_code=(
            check_enum(InstallationErrorCode, error_code, "error_code")
            if error_code is not None
            else None
        ),
        metadata=dict(metadata) if metadata is not None else None,
    )
    return Call("installations.update", "PUT", _ME, body=unstructure(body))


def activate_call() -> Call:
    """``POST /v1/installations/me:activate`` (no body)."""
    return Call("installations.activate", "POST", f"{_ME}:activate", idempotent=False)


def delete_call() -> Call:
    """``DELETE /v1/installations/me``."""
    return Call("installations.delete", "DELETE", _ME)


def _installation(body: Any) -> InstallationResponse:
    return structure(body, InstallationResponse)


class Installations(SyncResource):
    """The app's installation (``client.installations``)."""

    def me(self, company_id: uuid.UUID | str | None = None) -> InstallationResponse:
        """This app's installation for the credential's company."""
        return _installation(self._transport.request(me_call(company_id)))

    def create(
        self,
        *,
        status: InstallationStatus | str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> InstallationResponse:
        """Create the installation (needed with API keys; OAuth creates it automatically)."""
        return _installation(self._transport.request(create_call(status, metadata)))

    def update(
        self,
        status: InstallationStatus | str,
        *,
        error_code: InstallationErrorCode | str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> InstallationResponse:
        """Set the installation's status (and error code / metadata)."""
        call = update_call(status, error_code, metadata)
        return _installation(self._transport.request(call))

    def activate(self) -> InstallationResponse:
        """Mark the installation active once the first syncs succeeded."""
        return _installation(self._transport.request(activate_call()))

    def delete(self) -> None:
        """Uninstall: revokes all of the client's tokens (``NotFound`` if not installed)."""
        self._transport.request(delete_call())


class AsyncInstallations(AsyncResource):
    """The app's installation (``client.installations`` on the async client)."""

    async def me(self, company_id: uuid.UUID | str | None = None) -> InstallationResponse:
        """This app's installation; see :meth:`Installations.me`."""
        return _installation(await self._transport.request(me_call(company_id)))

    async def create(
        self,
        *,
        status: InstallationStatus | str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> InstallationResponse:
        """Create the installation; see :meth:`Installations.create`."""
        return _installation(await self._transport.request(create_call(status, metadata)))

    async def update(
        self,
        status: InstallationStatus | str,
        *,
        error_code: InstallationErrorCode | str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> InstallationResponse:
        """Set the installation's status; see :meth:`Installations.update`."""
        call = update_call(status, error_code, metadata)
        return _installation(await self._transport.request(call))

    async def activate(self) -> InstallationResponse:
        """Mark the installation active; see :meth:`Installations.activate`."""
        return _installation(await self._transport.request(activate_call()))

    async def delete(self) -> None:
        """Uninstall; see :meth:`Installations.delete`."""
        await self._transport.request(delete_call())
