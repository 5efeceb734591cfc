"""Accounts rules 25 and 29: the chart-of-accounts conflicts carry what the caller needs.

Against the sandbox: a different account with an existing ``externalId`` is a 409, and an
account referenced by an export item cannot be deleted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from pleo_erp.client import AccountExternalIdConflict, AccountInUse, Conflict
from pleo_erp.testing import PleoSandbox


def test_rule25_create_with_an_existing_external_id_names_it() -> None:
    sandbox = PleoSandbox(seed=5)
    company = sandbox.add_company("Rule 25")
    client = sandbox.client()
    client.accounts.create(company, external_id="ext-1", name="Travel", code="6000")
    with pytest.raises(AccountExternalIdConflict) as info:
        client.accounts.create(company, external_id="ext-1", name="Something else")
    error = info.value
    assert isinstance(error, Conflict)  # callers catching Conflict keep working
    assert error.external_id == "ext-1"
    assert error.status_code == 409
    assert "ext-1" in str(error)
    assert isinstance(error.__cause__, Conflict)


def test_rule25_async_create_conflict_is_refined_too() -> None:
    sandbox = PleoSandbox(seed=5)
    company = sandbox.add_company("Rule 25 async")
    sandbox.client().accounts.create(company, external_id="ext-9", name="Travel")

    async def create_again() -> None:
        async with sandbox.async_client() as client:
            await client.accounts.create(company, external_id="ext-9", name="Other")

    with pytest.raises(AccountExternalIdConflict) as info:
        asyncio.run(create_again())
    assert info.value.external_id == "ext-9"


def test_rule29_deleting_an_account_in_use_says_archive_instead() -> None:
    sandbox = PleoSandbox(seed=5)
    sandbox.seed_demo()
    client = sandbox.client()
    company_id = sandbox.demo_company_id
    assert company_id is not None
    accounts = client.accounts.search(company_id).to_list()
    failures = []
    for account in accounts:
        try:
            client.accounts.delete(account.id)
        except AccountInUse as error:
            failures.append(error)
    assert failures, "the demo's export items reference some accounts"
    assert all(error.status_code == 409 and "archive" in str(error) for error in failures)
    assert {error.account_id for error in failures} <= {str(a.id) for a in accounts}


@pytest.mark.parametrize(
    ("refine", "attribute", "value"),
    [
        (AccountExternalIdConflict, "external_id", "ext-3"),
        (AccountInUse, "account_id", "acc-7"),
    ],
)
def test_refined_conflicts_keep_every_response_fact(
    refine: Callable[[str, Conflict], Conflict], attribute: str, value: str
) -> None:
    """The specific error describes the same answer: status, type, body, request id, call."""
    conflict = Conflict(
        "taken",
        status_code=409,
        type="conflict",
        body={"type": "CONFLICT", "message": "taken"},
        request_id="req-1",
        method="POST",
        path="/v1/chart-of-accounts",
        headers={"x-request-id": "req-1"},
    )
    refined = refine(value, conflict)
    assert getattr(refined, attribute) == value
    facts = ("status_code", "type", "body", "request_id", "method", "path", "headers")
    assert {f: getattr(refined, f) for f in facts} == {f: getattr(conflict, f) for f in facts}
    assert "taken" in refined.message
    assert "[request id req-1]" in str(refined)
