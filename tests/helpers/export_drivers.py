"""Run the export behaviour tests through either driver (issue 12 item 5).

A test module opts in with ``pytestmark = pytest.mark.usefixtures("export_driver")`` (and
imports the fixture): every test then runs twice, once as written (the blocking driver) and
once with ``export_expenses`` / ``process_job`` in its namespace replaced by shims that run
:func:`export_expenses_async` / :func:`process_job_async` with an ``AsyncPleoClient`` twin of
the test's client (same sandbox, same request counter) and the test's accounting system behind
async methods. Tests that patch the blocking client's methods cannot be mirrored and are
skipped for the async driver.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date
from typing import Any
from uuid import UUID

import httpx
import pytest

from pleo_erp.accounting_system import (
    AccountsMapping,
    Capabilities,
    Entry,
    JobContext,
    PostedEntry,
    VendorAccount,
    VendorKey,
)
from pleo_erp.client import AsyncPleoClient, PleoClient
from pleo_erp.client._transport import AsyncTransport
from pleo_erp.orchestration import export as _export
from pleo_erp.orchestration.report import ExportReport


class AsyncTarget:
    """An ``AsyncExportTarget`` over a blocking one; each call first yields to the loop, so
    concurrent tasks really interleave. Other attributes are the wrapped target's."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def _call(self, name: str, *args: Any) -> Any:
        await asyncio.sleep(0)
        return getattr(self.inner, name)(*args)

    async def capabilities(self) -> Capabilities:
        result: Capabilities = await self._call("capabilities")
        return result

    async def accounts_mapping(self) -> AccountsMapping:
        result: AccountsMapping = await self._call("accounts_mapping")
        return result

    async def check_ready(self, job: JobContext) -> None:
        await self._call("check_ready", job)

    async def find_vendor(self, key: VendorKey) -> VendorAccount | None:
        result: VendorAccount | None = await self._call("find_vendor", key)
        return result

    async def is_period_open(self, on: date) -> bool:
        return bool(await self._call("is_period_open", on))

    async def next_open_date(self, after: date) -> date | None:
        result: date | None = await self._call("next_open_date", after)
        return result

    async def find_posted(self, accounting_entry_id: UUID) -> PostedEntry | None:
        result: PostedEntry | None = await self._call("find_posted", accounting_entry_id)
        return result

    async def post(self, entry: Entry, attachments: Any) -> PostedEntry:
        result: PostedEntry = await self._call("post", entry, attachments)
        return result

    async def attach(self, posted: PostedEntry, attachments: Any) -> PostedEntry:
        result: PostedEntry = await self._call("attach", posted, attachments)
        return result


def _async_sleep(sleep: Callable[[float], Any]) -> Callable[[float], Any]:
    async def wait(seconds: float) -> None:
        sleep(seconds)

    return wait


def async_twin(client: PleoClient) -> AsyncPleoClient:
    """An ``AsyncPleoClient`` on the same transport core (auth, limiter, request counter) and
    the same in-process sandbox transport as ``client``."""
    sync_transport = client._transport
    mock = sync_transport.http._transport
    if isinstance(mock, httpx.MockTransport):  # the in-process sandbox
        http = httpx.AsyncClient(transport=mock, base_url=client.base_url)
    else:  # a sandbox served over loopback HTTP
        http = httpx.AsyncClient(base_url=client.base_url)
    twin = object.__new__(AsyncPleoClient)
    twin._setup(
        AsyncTransport(sync_transport.core, http, sleep=_async_sleep(sync_transport.sleep)),
        owns_http=True,
    )
    return twin


_PATCHABLE = ("export_jobs", "export_items")


def _patched(client: PleoClient) -> bool:
    """Whether a test replaced a method of the client's export resources on the instance."""
    for name in _PATCHABLE:
        resource = getattr(client, name)
        if any(callable(v) and hasattr(type(resource), k) for k, v in vars(resource).items()):
            return True
    return False


def _async_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    sleep = kwargs.get("sleep")
    if sleep is not None:
        kwargs["sleep"] = _async_sleep(sleep)
    return kwargs


def export_expenses_via_async(client: PleoClient, system: Any, **kwargs: Any) -> ExportReport:
    """``export_expenses``' signature, run by ``export_expenses_async``."""
    if kwargs.get("dry_run"):
        return _export.export_expenses(client, system, **kwargs)
    kwargs.pop("dry_run", None)
    if _patched(client):
        pytest.skip("patches the blocking client's methods")
    twin = async_twin(client)
    return asyncio.run(
        _export.export_expenses_async(twin, AsyncTarget(system), **_async_kwargs(kwargs))
    )


def process_job_via_async(
    client: PleoClient, system: Any, job_id: Any, **kwargs: Any
) -> ExportReport:
    """``process_job``' signature, run by ``process_job_async``."""
    if kwargs.get("dry_run"):
        return _export.process_job(client, system, job_id, **kwargs)
    kwargs.pop("dry_run", None)
    if _patched(client):
        pytest.skip("patches the blocking client's methods")
    twin = async_twin(client)
    return asyncio.run(
        _export.process_job_async(twin, AsyncTarget(system), job_id, **_async_kwargs(kwargs))
    )


@pytest.fixture(params=["sync", "async"])
def export_driver(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the module's tests through the blocking driver, then through the async one."""
    driver: str = request.param
    if driver == "async":
        module = request.module
        if hasattr(module, "export_expenses"):
            monkeypatch.setattr(module, "export_expenses", export_expenses_via_async)
        if hasattr(module, "process_job"):
            monkeypatch.setattr(module, "process_job", process_job_via_async)
    return driver
