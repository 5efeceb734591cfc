"""``sync_accounts`` / ``sync_tax_codes`` end to end against the sandbox (accounts rules 25–47)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest

from pleo_erp.accounting_system.sources import SourceReadError
from pleo_erp.domain.reconcile.errors import DuplicateExternalId, MassArchiveRefused
from pleo_erp.orchestration.locks import InProcessLock
from pleo_erp.orchestration.sync import SyncAlreadyRunning
from pleo_erp.testing.inmemory_sources import InMemorySources
from pleo_erp.testing.sandbox import PleoSandbox
from tests.helpers.sync import writes

pytestmark = pytest.mark.sandbox(seed=3, company="Acme")


def _accounts(sandbox: PleoSandbox, company: str) -> dict[str, dict[str, Any]]:
    return {a["externalId"]: a for a in sandbox.accounts(company)}


def _worked_example(sandbox: PleoSandbox, company: str) -> tuple[InMemorySources, dict[str, str]]:
    ids = {
        "ext-1000": sandbox.add_account(company, "ext-1000", "Office Supplies", code="1000"),
        "ext-2000": sandbox.add_account(company, "ext-2000", "Travel", code="2000", archived=True),
        "ext-4000": sandbox.add_account(company, "ext-4000", "Advertising", code="4000"),
        "5000": sandbox.add_account(company, "5000", "Entertainment", code="5000"),
    }
    source = InMemorySources()
    source.add_account("ext-1000", "1000", "Office Supplies")
    source.add_account("ext-2000", "2000", "Travel")
    source.add_account("ext-3000", "3000", "Software")
    source.add_account("ext-4000", "4000", "Marketing")
    return source, ids


@pytest.mark.rule("accounts-40")
def test_worked_example_exact_requests_then_a_resync_writes_nothing(
    sandbox: PleoSandbox, company: str, client: Any, sync_accounts: Any
) -> None:
    """HT-SYNC / HT-CUA (rule 40): create ext-3000, unarchive ext-2000, update ext-4000,
    archive 5000, nothing for ext-1000."""
    source, ids = _worked_example(sandbox, company)
    report = sync_accounts(client, source, company_id=company)
    assert report.ok, report.summary()
    sent = [(r.method, r.path, r.body) for r in writes(sandbox)]
    assert sent == [
        (
            "POST",
            "/v1/chart-of-accounts",
            {
                "companyId": company,
                "externalId": "ext-3000",
                "code": "3000",
                "name": "Software",
                "archived": False,
            },
        ),
        (
            "PUT",
            f"/v1/chart-of-accounts/{ids['ext-2000']}",
            {
                "archived": False,
                "name": "Travel",
                "code": "2000",
                "taxCodeExternalId": None,
                "metadata": None,
            },
        ),
        (
            "PUT",
            f"/v1/chart-of-accounts/{ids['ext-4000']}",
            {
                "archived": False,
                "name": "Marketing",
                "code": "4000",
                "taxCodeExternalId": None,
                "metadata": None,
            },
        ),
        (
            "PUT",
            f"/v1/chart-of-accounts/{ids['5000']}",
            {
                "archived": True,
                "name": "Entertainment",
                "code": "5000",
                "taxCodeExternalId": None,
                "metadata": None,
            },
        ),
    ]
    # Rule 30: the read is a search with companyId and both flags, no archived filter.
    (search,) = [r for r in sandbox.requests if r.path == "/v1/chart-of-accounts:search"]
    assert search.body == {
        "companyId": company,
        "excludeIfAssignedToCategory": False,
        "excludeIfAssignedToContraAccount": False,
    }
    assert report.counts["applied"] == {
        "create": 1,
        "update": 1,
        "rename": 0,
        "unarchive": 1,
        "archive": 1,
        "noop": 1,
    }
    state = _accounts(sandbox, company)
    assert {k for k, a in state.items() if not a["archived"]} == {
        "ext-1000",
        "ext-2000",
        "ext-3000",
        "ext-4000",
    }
    sandbox.clear_requests()
    again = sync_accounts(client, source, company_id=company)
    assert again.plan.is_empty
    assert writes(sandbox) == []
    assert again.write_requests == 0


@pytest.mark.rule("accounts-27")
def test_rule_27_batch_create_in_chunks_of_1000(
    sandbox: PleoSandbox, company: str, client: Any, sync_accounts: Any
) -> None:
    source = InMemorySources()
    for i in range(2500):
        source.add_account(f"e{i}", str(i), f"Account {i}")
    report = sync_accounts(client, source, company_id=company, page_size=1000)
    assert report.ok
    assert report.counts["applied"]["create"] == 2500
    batches = [r for r in writes(sandbox) if r.path == "/v1/chart-of-accounts/batch"]
    assert [len(r.body["items"]) for r in batches] == [1000, 1000, 500]
    assert all("companyId" not in item for item in batches[0].body["items"])
    assert len(writes(sandbox)) == 3


@pytest.mark.rule("accounts-27")
def test_rule_27_batch_failures_are_surfaced_per_item(
    sandbox: PleoSandbox, company: str, client: Any, sync_accounts: Any
) -> None:
    source = InMemorySources()
    source.add_account("good", "1", "Good")
    source.add_account("unknown-tax", "2", "Unknown tax code", tax_code_external_id="NOPE")
    source.add_account("too-long", "3", "x" * 256)  # excluded by the planner (rule 26)
    source.add_account("also-good", "4", "Also good")
    report = sync_accounts(client, source, company_id=company)
    assert report.counts["applied"]["create"] == 2
    (failure,) = report.failures
    assert failure.action.target.key == "unknown-tax"
    assert failure.reasons == ("OTHER",)
    assert any("name is longer than 255" in e for e in report.errors)
    assert not report.ok
    assert set(_accounts(sandbox, company)) == {"good", "also-good"}


@pytest.mark.rule("accounts-42")
def test_rule_42_conflict_on_create_rereads_and_replans(
    sandbox: PleoSandbox, company: str, client: Any, sync_accounts: Any
) -> None:
    source = InMemorySources()
    source.add_account("e1", "1", "One")
    source.add_account("e2", "2", "Two")
    # Somebody creates e1 (with another name) between our read and our write.
    original = client.accounts.search

    def racing_search(*args: Any, **kwargs: Any) -> Any:
        result = list(original(*args, **kwargs))
        if "e1" not in _accounts(sandbox, company):
            sandbox.add_account(company, "e1", "Racer", code="1")
        return result

    client.accounts.search = racing_search
    report = sync_accounts(client, source, company_id=company)
    assert report.ok, report.summary()
    assert report.replans == 1
    state = _accounts(sandbox, company)
    assert state["e1"]["name"] == "One"
    assert state["e2"]["name"] == "Two"
    assert len(state) == 2


@pytest.mark.rule("accounts-42")
def test_rule_42_lost_batch_response_does_not_duplicate(
    sandbox: PleoSandbox, company: str, client: Any, sync_accounts: Any
) -> None:
    source = InMemorySources()
    for i in range(5):
        source.add_account(f"e{i}", str(i), f"A{i}")
    sandbox.faults.add("POST /v1/chart-of-accounts/batch", kind="lost_response", on_calls={1})
    report = sync_accounts(client, source, company_id=company)
    assert report.ok, report.summary()
    assert report.replans == 1
    assert len(sandbox.accounts(company)) == 5
    assert sync_accounts(client, source, company_id=company).write_requests == 0


@pytest.mark.rule("accounts-28")
def test_rule_28_put_bodies_are_complete_and_keep_pleo_only_fields(
    sandbox: PleoSandbox, company: str, client: Any, sync_accounts: Any
) -> None:
    pid = sandbox.add_account(
        company,
        "e1",
        "Old",
        code="1",
        tax_code_external_id="S25",
        metadata={"owner": {"team": "fin"}},
    )
    source = InMemorySources()
    source.add_account("e1", "1", "New", tax_code_external_id="S25")
    sync_accounts(client, source, company_id=company)
    (put,) = writes(sandbox)
    assert put.path == f"/v1/chart-of-accounts/{pid}"
    assert put.body == {
        "archived": False,
        "name": "New",
        "code": "1",
        "taxCodeExternalId": "S25",
        "metadata": {"owner": {"team": "fin"}},
    }


@pytest.mark.rule("accounts-29")
def test_rule_29_the_sync_never_deletes(
    sandbox: PleoSandbox, company: str, client: Any, sync_accounts: Any
) -> None:
    source, _ = _worked_example(sandbox, company)
    for ext in ("ext-1000", "ext-2000", "ext-3000", "ext-4000"):
        source.remove_account(ext)
    with pytest.raises(MassArchiveRefused):
        sync_accounts(client, source, company_id=company)  # rule 41: empty AS looks broken
    sync_accounts(client, source, company_id=company, force=True)
    assert not [r for r in sandbox.requests if r.method == "DELETE"]
    assert all(a["archived"] for a in sandbox.accounts(company))
    assert len(sandbox.accounts(company)) == 4


@pytest.mark.rule("accounts-31")
def test_rule_31_every_page_is_read(
    sandbox: PleoSandbox, company: str, client: Any, sync_accounts: Any
) -> None:
    source = InMemorySources()
    for i in range(60):
        sandbox.add_account(company, f"e{i}", f"A{i}", code=str(i))
        source.add_account(f"e{i}", str(i), f"A{i}")
    sandbox.clear_requests()
    report = sync_accounts(client, source, company_id=company, page_size=25)
    assert report.plan.is_empty
    assert len([r for r in sandbox.requests if r.path.endswith(":search")]) == 3


@pytest.mark.rule("accounts-36")
def test_rule_36_duplicate_external_id_in_the_source_writes_nothing(
    sandbox: PleoSandbox, company: str, client: Any, sync_accounts: Any
) -> None:
    source, _ = _worked_example(sandbox, company)
    source.add_account("ext-1000", "1001", "Twin")
    with pytest.raises(DuplicateExternalId):
        sync_accounts(client, source, company_id=company)
    assert writes(sandbox) == []


@pytest.mark.rule("accounts-41")
def test_rule_41_failed_source_read_writes_nothing(
    sandbox: PleoSandbox, company: str, client: Any, sync_accounts: Any
) -> None:
    source, _ = _worked_example(sandbox, company)
    source.fail_reads("accounts")
    with pytest.raises(SourceReadError):
        sync_accounts(client, source, company_id=company)
    assert sandbox.requests == []


@pytest.mark.rule("accounts-43")
def test_rule_43_tax_codes_first_and_a_tax_code_400_is_per_account(
    sandbox: PleoSandbox, company: str, client: Any, sync_accounts: Any, sync_chart_of_accounts: Any
) -> None:
    source = InMemorySources()
    source.add_tax_code("S25", "Standard", Decimal("0.25"))
    source.add_account("e1", "1", "One", tax_code_external_id="S25")
    source.add_account("e2", "2", "Two")
    report = sync_chart_of_accounts(client, source, company_id=company)
    assert report.ok, report.summary()
    paths = [r.path for r in writes(sandbox)]
    assert paths[0] == "/v0/tax-codes"
    assert paths[1].startswith("/v1/chart-of-accounts")
    assert report.related["tax_codes"].counts["applied"]["create"] == 1
    (code,) = sandbox.tax_codes(company)
    assert code["code"] == "S25"
    assert Decimal(str(code["rate"])) == Decimal("0.25")

    # A reference to a tax code Pleo does not have: 400 for that account only.
    source.rename_account("e1", "One renamed")
    source.set_account_tax_code("e2", "GONE")
    report = sync_accounts(client, source, company_id=company)
    assert [f.action.target.key for f in report.failures] == ["e2"]
    assert report.failures[0].status_code == 400
    assert _accounts(sandbox, company)["e1"]["name"] == "One renamed"


def test_tax_codes_decision_table_against_the_sandbox(
    sandbox: PleoSandbox, company: str, client: Any, sync_tax_codes: Any
) -> None:
    keep = sandbox.add_tax_code(company, "Standard", 0.25, code="S25")
    old = sandbox.add_tax_code(company, "Reduced", 0.12, code="R12", archived=True)
    pleo_made = sandbox.add_tax_code(company, "Pleo default", 0.25)
    source = InMemorySources()
    source.add_tax_code("S25", "Standard", "0.25")
    source.add_tax_code("R12", "Reduced 12", "0.12")
    source.add_tax_code("RC", "Reverse", "0.25", "reverse")
    report = sync_tax_codes(client, source, company_id=company)
    assert report.ok, report.summary()
    by_id = {t["id"]: t for t in sandbox.tax_codes(company)}
    assert by_id[keep]["archived"] is False
    assert by_id[old]["archived"] is False
    assert by_id[old]["name"] == "Reduced 12"
    assert by_id[pleo_made]["archived"] is True
    (put_old,) = [r for r in writes(sandbox) if r.path == f"/v0/tax-codes/{old}"]
    assert put_old.body["companyId"] == company
    assert put_old.body["archived"] is False
    assert sync_tax_codes(client, source, company_id=company).write_requests == 0


@pytest.mark.rule("accounts-47")
def test_rule_47_transient_faults_converge(
    sandbox: PleoSandbox, company: str, client: Any, sync_accounts: Any
) -> None:
    source, _ = _worked_example(sandbox, company)
    for i in range(30):
        source.add_account(f"bulk-{i}", str(9000 + i), f"Bulk {i}")
    sandbox.faults.random(rate=0.35, seed=11)
    for _ in range(8):
        try:
            report = sync_accounts(client, source, company_id=company)
        except Exception:
            continue
        if report.ok and report.plan.is_empty:
            break
    sandbox.faults.clear()
    final = sync_accounts(client, source, company_id=company)
    assert final.plan.is_empty, final.plan.summary()
    ext_ids = [a["externalId"] for a in sandbox.accounts(company)]
    assert len(ext_ids) == len(set(ext_ids)) == 35


def test_one_accounts_run_per_company(
    sandbox: PleoSandbox, company: str, client: Any, sync_accounts: Any, sync_tax_codes: Any
) -> None:
    lock = InProcessLock()
    source = InMemorySources()
    assert lock.acquire(f"sync:accounts:{uuid.UUID(company)}", "someone")
    with pytest.raises(SyncAlreadyRunning):
        sync_accounts(client, source, company_id=company, lock=lock)
    sync_tax_codes(client, source, company_id=company, lock=lock)  # another scope is free


@pytest.mark.rule("accounts-44")
def test_rule_44_report_has_a_result_per_account_and_counts_per_action(
    sandbox: PleoSandbox, company: str, client: Any, sync_accounts: Any
) -> None:
    source, ids = _worked_example(sandbox, company)
    report = sync_accounts(client, source, company_id=company)
    by_key = {a.action.target.key: a for a in report.applied}
    assert set(by_key) == {"ext-2000", "ext-3000", "ext-4000", "5000"}
    assert by_key["ext-2000"].pleo_id == uuid.UUID(ids["ext-2000"])
    assert by_key["ext-3000"].pleo_id == uuid.UUID(_accounts(sandbox, company)["ext-3000"]["id"])
    summary = report.as_dict()
    assert summary["counts"]["planned"]["create"] == 1
    assert summary["write_requests"] == 4
    assert set(report.timings) >= {"read", "plan", "apply", "total"}
    assert "accounts (applied)" in report.summary()


@pytest.mark.rule("accounts-48")
def test_rule_48_a_permission_error_stops_the_remaining_writes(
    sandbox: PleoSandbox, company: str, client: Any, sync_accounts: Any
) -> None:
    source, _ = _worked_example(sandbox, company)
    original = client.accounts.update
    calls: list[Any] = []

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        from pleo_erp.client.errors import PermissionDenied

        calls.append(args)
        raise PermissionDenied("missing scope accounts:write", status_code=403)

    client.accounts.update = forbidden
    report = sync_accounts(client, source, company_id=company)
    client.accounts.update = original
    assert len(calls) == 1  # the first PUT failed with 403; the other two were not sent
    assert [f.skipped for f in report.failures] == [False, True, True]
    assert report.failures[0].status_code == 403
    assert report.counts["applied"]["create"] == 1


def test_dry_run_plans_with_the_exact_bodies_and_writes_nothing(
    sandbox: PleoSandbox, company: str, client: Any, sync_accounts: Any
) -> None:
    source, _ = _worked_example(sandbox, company)
    report = sync_accounts(client, source, company_id=company, dry_run=True)
    assert report.dry_run
    assert writes(sandbox) == []
    assert report.applied == []
    assert [str(a.kind.value) for a in report.plan.actions] == [
        "create",
        "unarchive",
        "update",
        "archive",
    ]
    assert report.counts["applied"]["noop"] == 0


def test_chart_of_accounts_checks_both_plans_before_writing(
    sandbox: PleoSandbox, company: str, client: Any, sync_chart_of_accounts: Any
) -> None:
    sandbox.add_tax_code(company, "Old A", 0.1, code="A")
    sandbox.add_tax_code(company, "Old B", 0.1, code="B")
    source = InMemorySources()
    source.add_account("e1", "1", "One")  # accounts alone would be fine
    with pytest.raises(MassArchiveRefused):
        sync_chart_of_accounts(client, source, company_id=company)
    assert writes(sandbox) == []
