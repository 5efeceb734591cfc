"""The syncs' keywords are one ``TypedDict`` per sync, shared by the blocking and async twins.

Type checkers check every keyword (``tests/orchestration/sync/typing/sync_params.py``, run
through mypy); at run time a wrong or missing keyword is the same ``TypeError`` as with a
plain signature, raised before any request; the set of keywords each sync takes is pinned.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from pleo_erp.client import AsyncPleoClient, PleoClient
from pleo_erp.orchestration import sync, sync_async, sync_options
from pleo_erp.testing.inmemory_sources import InMemorySources
from tests.helpers.typing_check import assert_mypy_errors

TYPING_FILE = Path(__file__).parent / "typing" / "sync_params.py"
COMPANY = uuid.UUID(int=1)

COMMON = {"company_id", "dry_run", "force", "progress", "lock", "page_size", "granted_scopes"}

#: Every sync's keywords, as they were when each had a plain keyword-only signature.
KEYWORDS: dict[str, set[str]] = {
    "sync_tax_codes": COMMON,
    "sync_accounts": COMMON | {"options", "batch_threshold"},
    "sync_chart_of_accounts": COMMON | {"options"},
    "sync_tags": COMMON | {"selection", "state", "allow_group_renames", "only_dimension"},
}
OPTIONS = {
    "sync_tax_codes": sync_options.TaxCodesSyncOptions,
    "sync_accounts": sync_options.AccountsSyncOptions,
    "sync_chart_of_accounts": sync_options.ChartOfAccountsSyncOptions,
    "sync_tags": sync_options.TagsSyncOptions,
}


def _refuse(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"no request expected, got {request.method} {request.url}")


def _call(name: str, twin: bool, **kwargs: Any) -> Any:
    """Call the blocking sync ``name`` or its async twin on clients that refuse any request."""
    source = InMemorySources()
    if not twin:
        client = PleoClient(None, http_client=httpx.Client(transport=httpx.MockTransport(_refuse)))
        blocking: Callable[..., Any] = getattr(sync, name)
        return blocking(client, source, **kwargs)

    async def main() -> Any:
        transport = httpx.MockTransport(_refuse)
        async with AsyncPleoClient(None, http_client=httpx.AsyncClient(transport=transport)) as c:
            coroutine: Callable[..., Any] = getattr(sync_async, f"{name}_async")
            return await coroutine(c, source, **kwargs)

    return asyncio.run(main())


@pytest.mark.parametrize("name", sorted(KEYWORDS))
def test_each_sync_takes_exactly_its_keywords(name: str) -> None:
    params = OPTIONS[name]
    assert params.__required_keys__ == {"company_id"}
    assert params.__required_keys__ | params.__optional_keys__ == KEYWORDS[name]
    assert name in sync.__all__
    assert params.__name__ in sync.__all__


@pytest.mark.parametrize("twin", [False, True], ids=["blocking", "async"])
@pytest.mark.parametrize("name", sorted(KEYWORDS))
def test_a_wrong_keyword_is_a_type_error_before_any_request(name: str, twin: bool) -> None:
    called = f"{name}_async" if twin else name
    with pytest.raises(
        TypeError, match=rf"^{called}\(\) got an unexpected keyword argument 'dryrun'"
    ):
        _call(name, twin, company_id=COMPANY, dryrun=True)
    with pytest.raises(TypeError, match=rf"^{called}\(\) missing .*'company_id'"):
        _call(name, twin, dry_run=True)


def test_the_twins_document_the_same_keywords() -> None:
    """Each blocking sync and its twin annotate ``**options`` with the same ``TypedDict``."""
    for name, params in OPTIONS.items():
        for function in (getattr(sync, name), getattr(sync_async, f"{name}_async")):
            annotation = function.__annotations__["options"]
            assert annotation == f"Unpack[{params.__name__}]", function


@pytest.mark.slow
def test_mypy_checks_every_keyword_of_both_twins() -> None:
    assert_mypy_errors(TYPING_FILE, at_least=6)
