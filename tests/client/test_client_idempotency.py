"""Per-operation idempotency: what every client operation does after an ambiguous failure.

A 500 or a read timeout on the first attempt means the request may have been processed.
``docs/client.md`` ("Retries and idempotency") documents, per operation, whether the client
re-sends it then; ``RESENT_AFTER_AMBIGUOUS_FAILURE`` below is that table written out by hand
(never read from the code under test). Every operation of ``test_client_operations.CASES``
runs, sync and async, against a script that fails the first attempt and then answers the
case's exchanges in order (DESIGN "a POST is re-checked, not re-sent"; accounts rule 47 covers the
statuses that are never retried).
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import httpx
import pytest

from pleo_erp.client import (
    ApiKeyAuth,
    AsyncPaginator,
    AsyncPleoClient,
    Paginator,
    PleoClient,
)
from pleo_erp.client.errors import PleoError, PleoTimeoutError, ServerError
from tests.client.test_client_operations import CASES, KEY, Case

# docs/client.md, column "re-sent after an ambiguous failure", one row per case id.
RESENT_AFTER_AMBIGUOUS_FAILURE: dict[str, bool] = {
    # every read (list, get, me, secret, introspect): yes
    "export_jobs.list": True,
    "export_jobs.list_single_status": True,
    "export_jobs.get": True,
    "export_jobs.list_items": True,
    "export_items.list": True,
    "tag_groups.list": True,
    "tag_groups.get": True,
    "tags.list": True,
    "tags.get": True,
    "accounts.get": True,
    "tax_codes.get": True,
    "installations.me": True,
    "subscriptions.list": True,
    "subscriptions.get": True,
    "subscriptions.secret": True,
    "introspect": True,
    # the read-only :search POSTs and tags.archive (sets a state): yes
    "accounts.search": True,
    "accounts.search_archived_filter": True,
    "tags.search": True,
    "tax_codes.search": True,
    "tags.archive_150": True,
    # every update (PUT, full replace), export_jobs.update_items: yes
    "export_jobs.update_items_250": True,
    "tag_groups.update": True,
    "tags.update": True,
    "accounts.update_complete_body": True,
    "tax_codes.update": True,
    "installations.update": True,
    "subscriptions.update": True,
    # every delete: yes
    "accounts.delete": True,
    "tax_codes.delete": True,
    "installations.delete": True,
    "subscriptions.delete": True,
    # creates, batch create, job events, activate, subscriptions.create: no
    "export_jobs.create": False,
    "export_jobs.send_event_started": False,
    "export_jobs.send_event_failed": False,
    "tag_groups.create": False,
    "tags.create": False,
    "accounts.create": False,
    "accounts.create_matched_existing_200": False,
    "accounts.create_batch_2500": False,
    "tax_codes.create": False,
    "installations.create": False,
    "installations.activate": False,
    "subscriptions.create": False,
}

FAULTS = ("http_500", "read_timeout")
EXPECTED_ERROR: dict[str, type[PleoError]] = {
    "http_500": ServerError,
    "read_timeout": PleoTimeoutError,
}


class FailFirstThenAnswer:
    """A ``MockTransport`` handler: the first request fails ambiguously, later ones get the
    case's canned responses in order (checking each is the request the case expects)."""

    def __init__(self, case: Case, fault: str) -> None:
        self.case = case
        self.fault = fault
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        if len(self.requests) == 1:
            if self.fault == "http_500":
                return httpx.Response(500, json={"type": "INTERNAL_ERROR", "message": "boom"})
            raise httpx.ReadTimeout("read timed out", request=request)
        index = len(self.requests) - 2
        assert index < len(self.case.exchanges), "more requests than the operation needs"
        exchange = self.case.exchanges[index]
        assert (request.method, request.url.path) == (exchange.method, exchange.path)
        if exchange.response is None:
            return httpx.Response(exchange.status)
        return httpx.Response(exchange.status, json=exchange.response)


def _run_sync(case: Case, script: FailFirstThenAnswer, sleeps: list[float]) -> Any:
    http = httpx.Client(transport=httpx.MockTransport(script))
    with PleoClient(
        ApiKeyAuth(KEY),
        http_client=http,
        requests_per_minute=None,
        sleep=sleeps.append,  # no real sleep; records the backoff instead
        random=lambda: 1.0,
    ) as client:
        result = case.invoke(client)
        return result.to_list() if isinstance(result, Paginator) else result


def _run_async(case: Case, script: FailFirstThenAnswer, sleeps: list[float]) -> Any:
    async def record_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async def main() -> Any:
        http = httpx.AsyncClient(transport=httpx.MockTransport(script))
        async with AsyncPleoClient(
            ApiKeyAuth(KEY),
            http_client=http,
            requests_per_minute=None,
            sleep=record_sleep,
            random=lambda: 1.0,
        ) as client:
            result = case.invoke(client)
            if isinstance(result, AsyncPaginator):
                return await result.to_list()
            return await result if inspect.isawaitable(result) else result

    return asyncio.run(main())


def test_the_table_covers_exactly_the_operation_cases() -> None:
    """A new operation case must be classified here (from docs/client.md) before it passes;
    and everything the docs call not re-sendable is a POST."""
    assert set(RESENT_AFTER_AMBIGUOUS_FAILURE) == {case.id for case in CASES}
    for case in CASES:
        if not RESENT_AFTER_AMBIGUOUS_FAILURE[case.id]:
            assert case.exchanges[0].method == "POST", case.id


@pytest.mark.parametrize("flavour", ["sync", "async"])
@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_ambiguous_first_failure_is_retried_only_for_idempotent_operations(
    case: Case, fault: str, flavour: str
) -> None:
    script = FailFirstThenAnswer(case, fault)
    sleeps: list[float] = []
    run = _run_sync if flavour == "sync" else _run_async
    if RESENT_AFTER_AMBIGUOUS_FAILURE[case.id]:
        result = run(case, script, sleeps)
        # One failed attempt, re-sent identically, then the operation's normal exchanges.
        assert len(script.requests) == len(case.exchanges) + 1
        first, again = script.requests[:2]
        assert (again.method, again.url, again.content) == (first.method, first.url, first.content)
        assert len(sleeps) == 1  # backed off once, through the injected sleep
        assert sleeps[0] > 0
        assert case.check(result), case.id
    else:
        with pytest.raises(EXPECTED_ERROR[fault]) as info:
            run(case, script, sleeps)
        assert len(script.requests) == 1, "a non-idempotent POST was re-sent"
        assert sleeps == []
        if fault == "read_timeout":
            assert "may have reached Pleo" in str(info.value)
