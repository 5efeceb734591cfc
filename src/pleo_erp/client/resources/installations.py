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

from pleo_erp.client._request import Call, Operation, ensure_uuid, query
from pleo_erp.client.resources._base import AsyncResource, SyncResource, check_enum, no_result
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


def _installation(body: Any) -> InstallationResponse:
    return structure(body, InstallationResponse)


def me_op(company_id: uuid.UUID | str | None) -> Operation[InstallationResponse]:
    """``GET /v1/installations/me`` (``company_id`` narrows an organisation credential)."""
    company = ensure_uuid(company_id, "company_id") if company_id is not None else None
    return Operation(Call("installations.me", "GET", _ME, query(company_id=company)), _installation)


def create_op(
    status: InstallationStatus | str | None, metadata: Mapping[str, Any] | None
) -> Operation[InstallationResponse]:
    """``POST /v1/installations/me`` (a create: not re-sent after ambiguous failures)."""
    body = CreateClientInstallationRequest(
        status=check_enum(InstallationStatus, status, "status") if status is not None else None,
        metadata=dict(metadata) if metadata is not None else None,
    )
    call = Call("installations.create", "POST", _ME, body=unstructure(body), idempotent=False)
    return Operation(call, _installation)


def update_op(
    status: InstallationStatus | str,
    error_code: InstallationErrorCode | str | None,
    metadata: Mapping[str, Any] | None,
) -> Operation[InstallationResponse]:
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
    call = Call("installations.update", "PUT", _ME, body=unstructure(body))
    return Operation(call, _installation)


# Neither takes an argument, so each is one constant operation.
_ACTIVATE = Operation(  # no body; not re-sent after ambiguous failures
    Call("installations.activate", "POST", f"{_ME}:activate", idempotent=False), _installation
)
_DELETE = Operation(Call("installations.delete", "DELETE", _ME), no_result)


class Installations(SyncResource):
    """The app's installation (``client.installations``)."""

    def me(self, company_id: uuid.UUID | str | None = None) -> InstallationResponse:
        """This app's installation for the credential's company."""
        return self._run(me_op(company_id))

    def create(
        self,
        *,
        status: InstallationStatus | str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> InstallationResponse:
        """Create the installation (needed with API keys; OAuth creates it automatically)."""
        return self._run(create_op(status, metadata))

    def update(
        self,
        status: InstallationStatus | str,
        *,
        error_code: InstallationErrorCode | str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> InstallationResponse:
        """Set the installation's status (and error code / metadata)."""
        return self._run(update_op(status, error_code, metadata))

    def activate(self) -> InstallationResponse:
        """Mark the installation active once the first syncs succeeded."""
        return self._run(_ACTIVATE)

    def delete(self) -> None:
        """Uninstall: revokes all of the client's tokens (``NotFound`` if not installed)."""
        self._run(_DELETE)


class AsyncInstallations(AsyncResource):
    """The app's installation (``client.installations`` on the async client)."""

    async def me(self, company_id: uuid.UUID | str | None = None) -> InstallationResponse:
        """Async twin of :meth:`Installations.me`."""
        return await self._run(me_op(company_id))

    async def create(
        self,
        *,
        status: InstallationStatus | str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> InstallationResponse:
        """Async twin of :meth:`Installations.create`."""
        return await self._run(create_op(status, metadata))

    async def update(
        self,
        status: InstallationStatus | str,
        *,
        error_code: InstallationErrorCode | str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> InstallationResponse:
        """Async twin of :meth:`Installations.update`."""
        return await self._run(update_op(status, error_code, metadata))

    async def activate(self) -> InstallationResponse:
        """Async twin of :meth:`Installations.activate`."""
        return await self._run(_ACTIVATE)

    async def delete(self) -> None:
        """Async twin of :meth:`Installations.delete`."""
        await self._run(_DELETE)
