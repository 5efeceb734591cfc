"""Scope constants and the local scope preflight of the syncs (accounts rules 49–50), and the
rule 32 decision (unknown response fields dropped, unknown enum values kept)."""

from __future__ import annotations

import inspect
import re
from typing import Any

import pytest

from pleo_erp.client import InsufficientScope, PermissionDenied, PleoAPIError, PleoError, scopes
from pleo_erp.client.serialization import structure
from pleo_erp.models import (
    BookkeepingAccountBatchCreateResponseV1,
    BookkeepingAccountBatchFailureReasonV1,
    BookkeepingAccountRestModelV1,
)
from pleo_erp.testing.inmemory_sources import InMemorySources
from pleo_erp.testing.sandbox import PleoSandbox

ALL_GRANTED = (
    "accounts:read accounts:write tax-codes:read tax-codes:write tag-groups:read tag-groups:write"
)

pytestmark = pytest.mark.sandbox(seed=5, company="Scoped")


@pytest.fixture
def source() -> InMemorySources:
    src = InMemorySources()
    src.add_account("ext-1", "1000", "Cash")
    src.add_account("ext-2", "2000", "Travel")
    src.add_tax_code("VAT25", "VAT 25 %", "0.25")
    src.add_dimension("DEPT", "Department")
    src.add_value("DEPT", "SALES", "Sales")
    return src


# ----------------------------------------------------------------------------- rule 49


@pytest.mark.rule("accounts-49")
def test_rule49_documented_scope_constants() -> None:
    """Rule 49: the names Pleo's docs state, verbatim."""
    assert scopes.ACCOUNTS_READ == "accounts:read"
    assert scopes.ACCOUNTS_WRITE == "accounts:write"
    assert scopes.EXPORT_JOBS_READ == "export-jobs:read"
    assert scopes.EXPORT_JOBS_WRITE == "export-jobs:write"
    assert scopes.EXPORT_ITEMS_READ == "export-items:read"
    assert scopes.USERS_READ == "users:read"


@pytest.mark.rule("accounts-49")
def test_rule49_unverified_names_are_marked() -> None:
    """Rule 49 (item 22) and tags §1.8: tax-code and tag-group names are third-party guesses."""
    assert scopes.TAX_CODES_READ == "tax-codes:read"
    assert scopes.TAX_CODES_WRITE == "tax-codes:write"
    assert scopes.TAG_GROUPS_READ == "tag-groups:read"
    assert scopes.TAG_GROUPS_WRITE == "tag-groups:write"
    assert {
        "tax-codes:read",
        "tax-codes:write",
        "tag-groups:read",
        "tag-groups:write",
    } == scopes.UNVERIFIED
    # Each unverified constant's docstring says so first.
    source = inspect.getsource(scopes)
    for name in ("TAX_CODES_READ", "TAX_CODES_WRITE", "TAG_GROUPS_READ", "TAG_GROUPS_WRITE"):
        assert re.search(rf'^{name} = "[^"]+"\n"""UNVERIFIED:', source, re.MULTILINE), name
    # None of the names Pleo states is flagged.
    documented = {"accounts:read", "accounts:write", "export-jobs:read", "export-jobs:write"}
    assert not documented & scopes.UNVERIFIED


@pytest.mark.rule("accounts-49")
def test_rule49_what_each_level_needs() -> None:
    """Accounts rule 49: a CoA sync needs accounts:read AND accounts:write; the export its three."""
    assert {"accounts:read", "accounts:write"} == scopes.CHART_OF_ACCOUNTS_SYNC
    assert {"tax-codes:read", "tax-codes:write"} == scopes.TAX_CODES_SYNC
    assert {"tag-groups:read", "tag-groups:write"} == scopes.TAGS_SYNC
    assert {"export-jobs:read", "export-jobs:write", "export-items:read"} == scopes.EXPORT
    assert all(isinstance(s, frozenset) for s in (scopes.CHART_OF_ACCOUNTS_SYNC, scopes.EXPORT))


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("accounts:read accounts:write", {"accounts:read", "accounts:write"}),
        ("  accounts:read\taccounts:write\n", {"accounts:read", "accounts:write"}),
        ("accounts:read,accounts:write", {"accounts:read", "accounts:write"}),
        (
            ["accounts:read", "accounts:write users:read"],
            {"accounts:read", "accounts:write", "users:read"},
        ),
        (("a:b", "a:b"), {"a:b"}),
        ("", set()),
        (None, set()),
        ("Accounts:Read", {"Accounts:Read"}),  # case-sensitive: kept as given
    ],
)
def test_rule49_parse_scopes(given: Any, expected: set[str]) -> None:
    assert scopes.parse_scopes(given) == expected
    assert isinstance(scopes.parse_scopes(given), frozenset)


def test_rule49_parse_scopes_refuses_non_strings() -> None:
    with pytest.raises(TypeError):
        scopes.parse_scopes([b"accounts:read"])  # type: ignore[list-item]


def test_rule49_missing_scopes() -> None:
    need = scopes.CHART_OF_ACCOUNTS_SYNC
    assert scopes.missing_scopes("accounts:read accounts:write", need) == frozenset()
    assert scopes.missing_scopes("accounts:read", need) == {"accounts:write"}
    assert scopes.missing_scopes(None, need) == need
    # A write scope does not imply the read one (nothing in Pleo's docs says it does).
    assert scopes.missing_scopes("accounts:write", need) == {"accounts:read"}
    # Not a prefix/substring match.
    assert scopes.missing_scopes("accounts:readonly accounts:write", need) == {"accounts:read"}


def test_rule49_singular_tag_group_spelling_satisfies_the_tags_scopes() -> None:
    """Tags §1.8: third-party code reports `tag-group:*` in production, plural on staging."""
    assert scopes.missing_scopes("tag-group:read tag-group:write", scopes.TAGS_SYNC) == set()
    assert scopes.missing_scopes("tag-group:read", scopes.TAGS_SYNC) == {"tag-groups:write"}


def test_rule49_read_only_subset_for_dry_runs() -> None:
    assert scopes.read_only(scopes.CHART_OF_ACCOUNTS_SYNC | scopes.EXPORT) == {
        "accounts:read",
        "export-jobs:read",
        "export-items:read",
    }


# ------------------------------------------------------------------- accounts rule 50: the error


@pytest.mark.rule("accounts-50")
def test_rule50_insufficient_scope_is_a_local_pleo_error() -> None:
    """Accounts rule 50: not an HTTP error (no status), never retryable, lists the missing names."""
    with pytest.raises(InsufficientScope) as caught:
        scopes.check_scopes(
            "accounts:read users:read", scopes.CHART_OF_ACCOUNTS_SYNC, operation="the accounts sync"
        )
    error = caught.value
    assert isinstance(error, PleoError)
    assert not isinstance(error, (PleoAPIError, PermissionDenied))
    assert error.retryable is False
    assert error.missing == {"accounts:write"}
    assert error.required == {"accounts:read", "accounts:write"}
    assert isinstance(error.missing, frozenset)
    assert "accounts:write" in str(error)
    assert "the accounts sync" in str(error)
    assert "users:read" not in str(error)  # the granted set is not echoed
    assert "possibly named otherwise" not in str(error)  # verified names: no caveat


def test_rule50_message_flags_unverified_names() -> None:
    with pytest.raises(InsufficientScope) as caught:
        scopes.check_scopes("accounts:read", scopes.TAX_CODES_SYNC)
    message = str(caught.value)
    assert "tax-codes:read" in message
    assert "tax-codes:write" in message
    assert "possibly named otherwise" in message
    assert "granted_scopes=None" in message


def test_rule50_check_passes_silently_when_everything_is_granted() -> None:
    scopes.check_scopes(ALL_GRANTED, scopes.CHART_OF_ACCOUNTS_SYNC)
    scopes.check_scopes(
        ["export-jobs:read", "export-jobs:write", "export-items:read"], scopes.EXPORT
    )


def test_rule50_insufficient_scope_exported_from_the_client_package() -> None:
    import pleo_erp.client as client_pkg

    assert "InsufficientScope" in client_pkg.__all__
    assert client_pkg.InsufficientScope is InsufficientScope


# ------------------------------------------------------------------- accounts rule 50: syncs


@pytest.mark.rule("accounts-50")
def test_rule50_accounts_sync_without_write_scope_raises_before_any_request(
    sandbox: PleoSandbox, company: str, client: Any, source: InMemorySources, sync_accounts: Any
) -> None:
    """Accounts rule 50: `accounts:write` missing → InsufficientScope, the sandbox saw no request,
    the AS was not read either."""
    reads_before = dict(source.reads)
    with pytest.raises(InsufficientScope) as caught:
        sync_accounts(client, source, company_id=company, granted_scopes="accounts:read")
    assert caught.value.missing == {"accounts:write"}
    assert sandbox.requests == []
    assert dict(source.reads) == reads_before
    assert sandbox.accounts(company) == []


def test_rule50_accounts_sync_runs_when_the_scopes_are_granted(
    sandbox: PleoSandbox, company: str, client: Any, source: InMemorySources, sync_accounts: Any
) -> None:
    report = sync_accounts(
        client, source, company_id=company, granted_scopes=["accounts:read", "accounts:write"]
    )
    assert report.ok, report.summary()
    assert {a["externalId"] for a in sandbox.accounts(company)} == {"ext-1", "ext-2"}
    assert sandbox.requests


def test_rule50_granted_scopes_from_introspect(
    sandbox: PleoSandbox, company: str, source: InMemorySources, sync_accounts: Any
) -> None:
    """The string `whoami().scope` returns feeds the check as is."""
    narrow = sandbox.client(sandbox.issue_api_key(company, scopes=["accounts:read"]))
    granted = narrow.introspect().scope
    sandbox.clear_requests()
    with pytest.raises(InsufficientScope):
        sync_accounts(narrow, source, company_id=company, granted_scopes=granted)
    assert sandbox.requests == []

    wide = sandbox.client(
        sandbox.issue_api_key(company, scopes=["accounts:read", "accounts:write"])
    )
    report = sync_accounts(wide, source, company_id=company, granted_scopes=wide.introspect().scope)
    assert report.ok


def test_rule50_no_granted_scopes_means_no_check(
    sandbox: PleoSandbox, company: str, client: Any, source: InMemorySources, sync_accounts: Any
) -> None:
    """Scopes are not always known (an API key, a token response without `scope`)."""
    report = sync_accounts(client, source, company_id=company, granted_scopes=None)
    assert report.ok
    assert len(sandbox.accounts(company)) == 2


def test_rule50_dry_run_needs_only_the_read_scope(
    sandbox: PleoSandbox, company: str, client: Any, source: InMemorySources, sync_accounts: Any
) -> None:
    report = sync_accounts(
        client, source, company_id=company, dry_run=True, granted_scopes="accounts:read"
    )
    assert report.plan.counts["create"] == 2
    assert sandbox.accounts(company) == []
    sandbox.clear_requests()
    with pytest.raises(InsufficientScope) as caught:
        sync_accounts(
            client, source, company_id=company, dry_run=True, granted_scopes="accounts:write"
        )
    assert caught.value.missing == {"accounts:read"}
    assert sandbox.requests == []


def test_rule50_chart_of_accounts_sync_checks_tax_code_scopes_too(
    sandbox: PleoSandbox,
    company: str,
    client: Any,
    source: InMemorySources,
    sync_chart_of_accounts: Any,
) -> None:
    with pytest.raises(InsufficientScope) as caught:
        sync_chart_of_accounts(
            client,
            source,
            company_id=company,
            granted_scopes="accounts:read accounts:write tax-codes:read",
        )
    assert caught.value.missing == {"tax-codes:write"}
    assert sandbox.requests == []
    report = sync_chart_of_accounts(client, source, company_id=company, granted_scopes=ALL_GRANTED)
    assert report.ok
    assert report.related["tax_codes"].ok
    assert len(sandbox.tax_codes(company)) == 1


def test_rule50_tax_codes_sync_preflight(
    sandbox: PleoSandbox, company: str, client: Any, source: InMemorySources, sync_tax_codes: Any
) -> None:
    with pytest.raises(InsufficientScope):
        sync_tax_codes(client, source, company_id=company, granted_scopes="accounts:read")
    assert sandbox.requests == []
    assert sync_tax_codes(client, source, company_id=company, granted_scopes=ALL_GRANTED).ok


def test_rule50_tags_sync_preflight(
    sandbox: PleoSandbox, company: str, client: Any, source: InMemorySources, sync_tags: Any
) -> None:
    with pytest.raises(InsufficientScope) as caught:
        sync_tags(client, source, company_id=company, granted_scopes="tag-groups:read")
    assert caught.value.missing == {"tag-groups:write"}
    assert sandbox.requests == []
    # The singular spelling reported for production is accepted.
    report = sync_tags(
        client,
        source,
        company_id=company,
        selection=["DEPT"],
        granted_scopes="tag-group:read tag-group:write",
    )
    assert report.ok, report.summary()
    assert [g["code"] for g in sandbox.tag_groups(company)] == ["DEPT"]


def test_rule50_a_refused_run_does_not_hold_the_lock(
    company: str, client: Any, source: InMemorySources, sync_accounts: Any
) -> None:
    """The preflight runs before the run lock: a refused run leaves nothing behind."""
    with pytest.raises(InsufficientScope):
        sync_accounts(client, source, company_id=company, granted_scopes="")
    assert sync_accounts(client, source, company_id=company).ok


# ------------------------------------------------------------------- accounts rule 32


@pytest.mark.rule("accounts-32")
def test_rule32_unknown_account_fields_are_dropped_unknown_enum_values_kept() -> None:
    """Accounts rule 32 (decision): the converter drops unknown response keys (no `extra` dict) and
    keeps an unknown enum value as its raw string."""
    company = "00000000-0000-4000-8000-000000000001"
    account = structure(
        {
            "id": "00000000-0000-4000-8000-000000000002",
            "companyId": company,
            "externalId": "ext-1",
            "name": "Cash",
            "archived": False,
            "accountingSystem": "netsuite",
            "somethingNew": {"nested": [1, 2]},
        },
        BookkeepingAccountRestModelV1,
    )
    assert account.external_id == "ext-1"
    assert not hasattr(account, "extra")
    assert not hasattr(account, "accounting_system")

    batch = structure(
        {
            "created": [],
            "failed": [
                {
                    "request": {"externalId": "x", "name": "X", "archived": False},
                    "reasons": ["NAME_EMPTY", "BRAND_NEW_REASON"],
                }
            ],
        },
        BookkeepingAccountBatchCreateResponseV1,
    )
    assert batch.failed[0].reasons == (
        BookkeepingAccountBatchFailureReasonV1.NAME_EMPTY,
        "BRAND_NEW_REASON",
    )


def test_one_default_scope_list_covers_every_level_for_login_onboarding_and_sandbox() -> None:
    # The CLI's `auth login`, the runtime's onboarding and the sandbox share ALL_LEVELS.
    from pleo_erp.cli._auth import DEFAULT_SCOPES as CLI_SCOPES
    from pleo_erp.runtime.onboarding import DEFAULT_ONBOARDING_SCOPES
    from pleo_erp.testing.sandbox._auth import DEFAULT_SCOPES as SANDBOX_SCOPES

    needed = scopes.EXPORT | scopes.TAGS_SYNC | scopes.CHART_OF_ACCOUNTS_SYNC
    assert needed | scopes.TAX_CODES_SYNC <= set(scopes.ALL_LEVELS)
    assert len(set(scopes.ALL_LEVELS)) == len(scopes.ALL_LEVELS)
    assert CLI_SCOPES == DEFAULT_ONBOARDING_SCOPES == SANDBOX_SCOPES == scopes.ALL_LEVELS
