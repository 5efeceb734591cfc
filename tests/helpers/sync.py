"""Factories shared by the Level 2/3 sync tests (pure-domain and sandbox)."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import attrs
import httpx

from pleo_erp.client import AsyncPleoClient, PleoClient
from pleo_erp.client._transport import AsyncTransport
from pleo_erp.models import (
    BookkeepingAccountRestModelV1,
    TagGroupModel,
    TagModel,
    TaxCodeModel,
)
from pleo_erp.orchestration import sync, sync_async
from pleo_erp.orchestration.sync_report import SyncReport

COMPANY = uuid.UUID("00000000-0000-4000-8000-00000000c0de")
T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
_counter = itertools.count(1)


def uid(n: int | None = None) -> uuid.UUID:
    """A readable, increasing UUID (ids sort in creation order)."""
    return uuid.UUID(int=n if n is not None else next(_counter))


def group(
    code: str,
    name: str | None = None,
    *,
    archived: bool = False,
    id: uuid.UUID | None = None,
    created: int = 0,
    metadata: dict[str, str] | None = None,
) -> TagGroupModel:
    """A Pleo tag group as the API returns it."""
    return TagGroupModel(
        archived=archived,
        code=code,
        company_id=COMPANY,
        created_at=T0 + timedelta(minutes=created),
        id=id or uid(),
        metadata=metadata if metadata is not None else {},
        name=name if name is not None else code,
        updated_at=T0,
    )


def tag(
    code: str,
    name: str | None = None,
    *,
    group_id: uuid.UUID | None = None,
    archived: bool = False,
    id: uuid.UUID | None = None,
    created: int = 0,
) -> TagModel:
    """A Pleo tag as the API returns it."""
    return TagModel(
        archived=archived,
        code=code,
        created_at=T0 + timedelta(minutes=created),
        group_id=group_id or uid(10_000),
        id=id or uid(),
        name=name,
        updated_at=T0,
    )


def account(
    external_id: str,
    name: str,
    *,
    code: str | None = None,
    archived: bool = False,
    tax: str | None = None,
    metadata: dict[str, Any] | None = None,
    id: uuid.UUID | None = None,
) -> BookkeepingAccountRestModelV1:
    """A Pleo account as the API returns it."""
    return BookkeepingAccountRestModelV1(
        archived=archived,
        company_id=COMPANY,
        external_id=external_id,
        id=id or uid(),
        name=name,
        code=code,
        metadata=metadata,
        tax_code_external_id=tax,
    )


def tax_code(
    code: str | None,
    name: str,
    rate: str = "0.25",
    *,
    type: str = "inclusive",
    archived: bool = False,
    ingoing: str | None = None,
    outgoing: str | None = None,
    id: uuid.UUID | None = None,
) -> TaxCodeModel:
    """A Pleo tax code as the API returns it."""
    return TaxCodeModel(
        archived=archived,
        company_id=COMPANY,
        created_at=T0,
        id=id or uid(),
        name=name,
        rate=Decimal(rate),
        type=type,
        updated_at=T0,
        code=code,
        ingoing_tax_account=ingoing,
        outgoing_tax_account=outgoing,
    )


def kinds(plan: Any) -> list[tuple[str, str]]:
    """``[(kind, key), ...]`` of a plan's writes, in apply order."""
    return [(a.kind.value, a.target.key) for a in plan.actions]


def writes(sandbox: Any) -> list[Any]:
    """The write requests in a sandbox's log (anything but GET and read-only searches)."""
    return [r for r in sandbox.requests if r.method != "GET" and not r.path.endswith(":search")]


# ----------------------------------------------------------------------------- both drivers

#: The resources the syncs call (a test's override of one of their methods is mirrored).
_SYNC_RESOURCES = ("tag_groups", "tags", "accounts", "tax_codes")


def async_twin(client: PleoClient) -> AsyncPleoClient:
    """An ``AsyncPleoClient`` that is ``client`` in every respect but being ``async``.

    It shares ``client``'s transport core (credential, retry policy, rate limiter, request
    counter) and talks to the same in-process sandbox transport, with ``client``'s (sandbox)
    sleep. A method a test replaced on one of ``client``'s sync resources (``client.accounts
    .update = forbidden``) is replaced on the twin by a coroutine calling the same function.
    """
    transport = client.http_client._transport
    assert isinstance(transport, httpx.AsyncBaseTransport)  # the sandbox's MockTransport is both
    http = httpx.AsyncClient(transport=transport, base_url=client.base_url)
    sleep = client.sleep

    async def async_sleep(seconds: float) -> None:
        sleep(seconds)

    twin = object.__new__(AsyncPleoClient)
    twin._setup(AsyncTransport(client._core, http, sleep=async_sleep), owns_http=True)
    for name in _SYNC_RESOURCES:
        resource, twin_resource = getattr(client, name), getattr(twin, name)
        for attr, override in vars(resource).items():
            if not attr.startswith("_") and callable(override):
                setattr(twin_resource, attr, _as_coroutine(override))
    return twin


def _as_coroutine(function: Callable[..., Any]) -> Callable[..., Any]:
    async def call(*args: Any, **kwargs: Any) -> Any:
        return function(*args, **kwargs)

    return call


@attrs.frozen
class SyncDriver:
    """The four syncs with their blocking signatures, run blocking or through their twins.

    ``"async"`` runs ``sync_*_async`` with ``asyncio.run`` on :func:`async_twin` of the given
    client, so a test body written for the blocking syncs checks both drivers unchanged.
    """

    name: str

    def _run(
        self,
        blocking: Callable[..., SyncReport],
        twin: Callable[..., Awaitable[SyncReport]],
        client: PleoClient,
        *args: Any,
        **kwargs: Any,
    ) -> SyncReport:
        if self.name == "blocking":
            return blocking(client, *args, **kwargs)

        async def main() -> SyncReport:
            async with async_twin(client) as aclient:
                return await twin(aclient, *args, **kwargs)

        return asyncio.run(main())

    def tags(self, client: PleoClient, *args: Any, **kwargs: Any) -> SyncReport:
        """``sync_tags`` or ``sync_tags_async``."""
        return self._run(sync.sync_tags, sync_async.sync_tags_async, client, *args, **kwargs)

    def accounts(self, client: PleoClient, *args: Any, **kwargs: Any) -> SyncReport:
        """``sync_accounts`` or ``sync_accounts_async``."""
        return self._run(
            sync.sync_accounts, sync_async.sync_accounts_async, client, *args, **kwargs
        )

    def tax_codes(self, client: PleoClient, *args: Any, **kwargs: Any) -> SyncReport:
        """``sync_tax_codes`` or ``sync_tax_codes_async``."""
        return self._run(
            sync.sync_tax_codes, sync_async.sync_tax_codes_async, client, *args, **kwargs
        )

    def chart_of_accounts(self, client: PleoClient, *args: Any, **kwargs: Any) -> SyncReport:
        """``sync_chart_of_accounts`` or ``sync_chart_of_accounts_async``."""
        return self._run(
            sync.sync_chart_of_accounts,
            sync_async.sync_chart_of_accounts_async,
            client,
            *args,
            **kwargs,
        )


SYNC_DRIVERS = ("blocking", "async")
