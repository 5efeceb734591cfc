"""``sync_tags`` end to end against the sandbox: exact requests, tags rules 1–30, faults."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from pleo_erp.accounting_system.sources import SourceReadError
from pleo_erp.domain.reconcile.errors import MassArchiveRefused, SelectionError
from pleo_erp.orchestration.locks import InProcessLock
from pleo_erp.orchestration.sync import SyncAlreadyRunning
from pleo_erp.orchestration.sync_report import SyncPhase, SyncProgress
from pleo_erp.state._db import StateDB
from pleo_erp.state.selection import SelectionStore
from pleo_erp.testing.inmemory_sources import InMemorySources
from pleo_erp.testing.sandbox import PleoSandbox
from tests.helpers.sync import writes

pytestmark = pytest.mark.sandbox(seed=7, company="Acme")


def _active_tags(sandbox: PleoSandbox, group_id: str) -> dict[str, str | None]:
    return {t["code"]: t.get("name") for t in sandbox.tags(group_id) if not t["archived"]}


def _groups(sandbox: PleoSandbox, company: str) -> dict[str, dict[str, Any]]:
    return {g["code"]: g for g in sandbox.tag_groups(company)}


def _worked_example(sandbox: PleoSandbox, company: str) -> tuple[InMemorySources, dict[str, str]]:
    """Pleo and AS state of the how-to examples (HT-TG and HT-TAG)."""
    ids = {
        "DEPT": sandbox.add_tag_group(company, "DEPT", "Department"),
        "PROJ": sandbox.add_tag_group(company, "PROJ", "Project"),
        "CC": sandbox.add_tag_group(company, "CC", "Cost Centre", archived=True),
        "REG": sandbox.add_tag_group(company, "REG", "Region"),
    }
    ids["ENG"] = sandbox.add_tag(ids["DEPT"], "ENG", "Engineering")
    ids["MKT"] = sandbox.add_tag(ids["DEPT"], "MKT", "Marketing", archived=True)
    ids["SAL"] = sandbox.add_tag(ids["DEPT"], "SAL", "Sales")
    source = InMemorySources()
    for code, name in (
        ("DEPT", "Department"),
        ("PROJ", "Project"),
        ("FIN", "Finance"),
        ("CC", "Cost Centre"),
    ):
        source.add_dimension(code, name)
    source.add_value("DEPT", "ENG", "Engineering")
    source.add_value("DEPT", "MKT", "Marketing")
    source.add_value("DEPT", "OPS", "Operations")
    return source, ids


def test_worked_example_exact_requests_then_a_resync_writes_nothing(
    sandbox: PleoSandbox, company: str, client: Any, sync_tags: Any
) -> None:
    source, ids = _worked_example(sandbox, company)
    sandbox.clear_requests()
    report = sync_tags(client, source, company_id=company, selection=["DEPT", "PROJ", "FIN", "CC"])
    assert report.ok, report.summary()
    fin_id = _groups(sandbox, company)["FIN"]["id"]

    sent = [(r.method, r.path, r.query, r.body) for r in writes(sandbox)]
    assert sent == [
        (
            "POST",
            "/v0/tag-groups",
            {"company_id": [company]},
            {"archived": False, "code": "FIN", "name": "Finance"},
        ),
        (
            "PUT",
            f"/v0/tag-groups/{ids['CC']}",
            {},
            {"archived": False, "code": "CC", "metadata": {}, "name": "Cost Centre"},
        ),
        (
            "PUT",
            f"/v0/tag-groups/{ids['REG']}",
            {},
            {"archived": True, "code": "REG", "metadata": {}, "name": "Region"},
        ),
        (
            "POST",
            f"/v0/tag-groups/{ids['DEPT']}/tags",
            {},
            {"archived": False, "code": "OPS", "name": "Operations"},
        ),
        (
            "PUT",
            f"/v0/tags/{ids['MKT']}",
            {},
            {"archived": False, "code": "MKT", "name": "Marketing"},
        ),
        (
            "POST",
            "/v0/tags/archive",
            {},
            {"archived": True, "companyId": company, "tagIds": [ids["SAL"]]},
        ),
    ]
    # Reads (rule 23): all groups with archived ones, then every synced existing group's tags;
    # never the tags of Region (rule 12) nor of the new Finance group (it has none).
    reads = [(r.method, r.path, r.query) for r in sandbox.requests if r.method == "GET"]
    assert reads[0] == (
        "GET",
        "/v0/tag-groups",
        {"company_id": [company], "include_archived": ["true"]},
    )
    tag_reads = {r[1] for r in reads[1:]}
    assert tag_reads == {f"/v0/tag-groups/{ids[c]}/tags" for c in ("DEPT", "PROJ", "CC")}
    assert all(r[2].get("include_archived") == ["true"] for r in reads[1:])
    assert f"/v0/tag-groups/{fin_id}/tags" not in tag_reads

    assert report.counts["applied"] == {
        "create": 2,
        "update": 0,
        "rename": 0,
        "unarchive": 2,
        "archive": 2,
        "noop": 3,
    }
    assert _active_tags(sandbox, ids["DEPT"]) == {
        "ENG": "Engineering",
        "MKT": "Marketing",
        "OPS": "Operations",
    }

    # Rule 20: the second run on unchanged inputs sends reads only.
    sandbox.clear_requests()
    again = sync_tags(client, source, company_id=company, selection=["DEPT", "PROJ", "FIN", "CC"])
    assert again.plan.is_empty
    assert again.write_requests == 0
    assert writes(sandbox) == []
    assert again.requests == len(sandbox.requests)


@pytest.mark.rule("tags-4")
def test_rule_4_and_6_selection_is_persisted_auto_selected_then_auto_deselected(
    sandbox: PleoSandbox, company: str, client: Any, sync_tags: Any
) -> None:
    store = SelectionStore(StateDB())
    sandbox.add_tag_group(company, "dept", "Department")
    sandbox.add_tag_group(company, "CC", "Cost Centre", archived=True)
    source = InMemorySources()
    source.add_dimension("DEPT", "Department")
    source.add_dimension("CC", "Cost Centre")

    report = sync_tags(client, source, company_id=company, state=store)
    assert report.selection is not None
    assert report.selection.auto_selected == ("DEPT",)
    assert store.load(uuid_of(company)) == ("DEPT",)
    assert report.plan.is_empty  # the archived CC group is not auto-selected

    source.deactivate_dimension("DEPT")
    report = sync_tags(client, source, company_id=company, state=store, force=True)
    assert report.selection is not None
    assert report.selection.deselected == ("DEPT",)
    assert store.load(uuid_of(company)) == ()
    assert _groups(sandbox, company)["dept"]["archived"] is True


def uuid_of(company: str) -> Any:
    import uuid

    return uuid.UUID(company)


@pytest.mark.rule("tags-5")
def test_rule_5_no_active_dimension_on_first_connection_writes_nothing(
    sandbox: PleoSandbox, company: str, client: Any, sync_tags: Any
) -> None:
    store = SelectionStore(StateDB())
    sandbox.add_tag_group(company, "MANUAL")
    source = InMemorySources()
    source.add_dimension("OLD", active=False)
    report = sync_tags(client, source, company_id=company, state=store)
    assert writes(sandbox) == []
    assert report.write_requests == 0
    assert store.load(uuid_of(company)) is None
    assert [w for w in report.warnings if "rule 5" in w] == [
        "warning: '': the accounting system has no active dimension: nothing to sync (rule 5)"
    ]
    assert [issue.rule for issue in report.plan.issues] == ["rule 5"]  # reported once


@pytest.mark.rule("tags-3")
def test_rule_3_explicit_selection_is_validated(
    sandbox: PleoSandbox, company: str, client: Any, sync_tags: Any
) -> None:
    source = InMemorySources()
    for code in "ABCDEF":
        source.add_dimension(code)
    with pytest.raises(SelectionError):
        sync_tags(client, source, company_id=company, selection=list("ABCDEF"))
    source.deactivate_dimension("A")
    with pytest.raises(SelectionError):
        sync_tags(client, source, company_id=company, selection=["A"])
    assert writes(sandbox) == []


@pytest.mark.rule("tags-12")
def test_rule_12_and_27_deselected_group_is_archived_and_its_tags_never_touched(
    sandbox: PleoSandbox, company: str, client: Any, sync_tags: Any
) -> None:
    dept = sandbox.add_tag_group(company, "DEPT")
    proj = sandbox.add_tag_group(company, "PROJ")
    sandbox.add_tag(proj, "P1", "Stale name")
    source = InMemorySources()
    source.add_dimension("DEPT")
    source.add_dimension("PROJ")
    source.add_value("PROJ", "P1", "Fresh name")
    sandbox.clear_requests()
    sync_tags(client, source, company_id=company, selection=["DEPT"], force=True)
    assert all(proj not in r.path or r.path == f"/v0/tag-groups/{proj}" for r in sandbox.requests)
    assert _groups(sandbox, company)["PROJ"]["archived"] is True
    assert _active_tags(sandbox, proj) == {"P1": "Stale name"}
    assert _groups(sandbox, company)["DEPT"]["id"] == dept

    # Rule 28: re-selecting unarchives the group and syncs its tags again.
    sync_tags(client, source, company_id=company, selection=["DEPT", "PROJ"])
    assert _groups(sandbox, company)["PROJ"]["archived"] is False
    assert _active_tags(sandbox, proj) == {"P1": "Fresh name"}


@pytest.mark.rule("tags-13")
def test_rule_13_duplicates_in_pleo_are_resolved(
    sandbox: PleoSandbox, company: str, client: Any, sync_tags: Any
) -> None:
    # Pleo refuses exact duplicate codes on create, so real duplicates differ in case.
    dept = sandbox.add_tag_group(company, "DEPT")
    sandbox.add_tag(dept, "ENG", "Eng")
    keeper = sandbox.add_tag(dept, "eng", "Engineering", archived=True)
    sandbox.add_tag(dept, "Eng", "Other")
    source = InMemorySources()
    source.add_dimension("DEPT")
    source.add_value("DEPT", "ENG", "Engineering")
    report = sync_tags(client, source, company_id=company, selection=["DEPT"], force=True)
    assert report.ok, report.summary()
    active = [t for t in sandbox.tags(dept) if not t["archived"]]
    assert [(t["id"], t["code"], t["name"]) for t in active] == [(keeper, "eng", "Engineering")]


@pytest.mark.rule("tags-18")
def test_rule_18_no_delete_is_ever_sent(
    sandbox: PleoSandbox, company: str, client: Any, sync_tags: Any
) -> None:
    source, _ = _worked_example(sandbox, company)
    source.remove_value("DEPT", "ENG")
    source.remove_dimension("PROJ")
    sync_tags(client, source, company_id=company, selection=["DEPT", "FIN"], force=True)
    assert not [r for r in sandbox.requests if r.method == "DELETE"]


@pytest.mark.rule("tags-21")
def test_rule_21_failed_dimension_read_aborts_and_failed_value_read_skips_one_pair(
    sandbox: PleoSandbox, company: str, client: Any, sync_tags: Any
) -> None:
    source, ids = _worked_example(sandbox, company)
    source.fail_reads("dimensions")
    with pytest.raises(SourceReadError):
        sync_tags(client, source, company_id=company, selection=["DEPT"])
    assert writes(sandbox) == []

    source.restore_reads()
    source.fail_reads(dimension="DEPT")
    report = sync_tags(client, source, company_id=company, selection=["DEPT", "PROJ", "FIN", "CC"])
    assert not report.ok
    assert any("rule 21" in e for e in report.errors)
    # Step 2 ran; DEPT's tags were left alone.
    assert "FIN" in _groups(sandbox, company)
    assert _active_tags(sandbox, ids["DEPT"]) == {"ENG": "Engineering", "SAL": "Sales"}


@pytest.mark.rule("tags-21")
def test_rule_21_a_vendor_exception_becomes_a_source_read_error(
    sandbox: PleoSandbox, company: str, client: Any, sync_tags: Any
) -> None:
    class Broken(InMemorySources):
        def list_dimensions(self) -> Any:
            raise ConnectionError("password=hunter2 at erp.local")

    with pytest.raises(SourceReadError) as info:
        sync_tags(client, Broken(), company_id=company, selection=[])
    assert "hunter2" not in str(info.value)


@pytest.mark.rule("tags-22")
def test_rule_22_lost_response_on_create_does_not_duplicate(
    sandbox: PleoSandbox, company: str, client: Any, sync_tags: Any
) -> None:
    dept = sandbox.add_tag_group(company, "DEPT")
    source = InMemorySources()
    source.add_dimension("DEPT")
    source.add_value("DEPT", "A", "Alpha")
    source.add_value("DEPT", "B", "Beta")
    sandbox.faults.add("POST /v0/tag-groups/*/tags", kind="lost_response", on_calls={1})
    sandbox.faults.add("POST /v0/tag-groups", kind="lost_response", on_calls={1})
    source.add_dimension("NEW")
    report = sync_tags(client, source, company_id=company, selection=["DEPT", "NEW"])
    assert report.ok, report.summary()
    assert report.replans == 2
    assert sorted(t["code"] for t in sandbox.tags(dept)) == ["A", "B"]
    assert [g["code"] for g in sandbox.tag_groups(company)].count("NEW") == 1
    assert writes(sandbox)
    assert (
        sync_tags(client, source, company_id=company, selection=["DEPT", "NEW"]).write_requests == 0
    )


@pytest.mark.rule("tags-23")
def test_rule_23_all_pages_are_read(
    sandbox: PleoSandbox, company: str, client: Any, sync_tags: Any
) -> None:
    dept = sandbox.add_tag_group(company, "DEPT")
    source = InMemorySources()
    source.add_dimension("DEPT")
    for i in range(60):
        sandbox.add_tag(dept, f"T{i}", f"Tag {i}")
        source.add_value("DEPT", f"T{i}", f"Tag {i}")
    sandbox.clear_requests()
    report = sync_tags(client, source, company_id=company, selection=["DEPT"], page_size=25)
    assert report.plan.is_empty  # a missed page would show up as creates
    pages = [r for r in sandbox.requests if r.path.endswith("/tags")]
    assert len(pages) == 3


@pytest.mark.rule("tags-24")
def test_rule_24_rate_limits_and_server_errors_are_retried(
    sandbox: PleoSandbox, company: str, client: Any, sync_tags: Any
) -> None:
    source, ids = _worked_example(sandbox, company)
    sandbox.faults.add("PUT /v0/tags/*", kind="rate_limited", times=2, retry_after=1)
    sandbox.faults.add("POST /v0/tags/archive", kind="service_unavailable", times=1)
    report = sync_tags(client, source, company_id=company, selection=["DEPT", "PROJ", "FIN", "CC"])
    assert report.ok, report.summary()
    assert report.requests > len(writes(sandbox)) - 3  # retries counted by the client
    assert _active_tags(sandbox, ids["DEPT"]) == {
        "ENG": "Engineering",
        "MKT": "Marketing",
        "OPS": "Operations",
    }


@pytest.mark.rule("tags-25")
def test_rule_25_single_dimension_run(
    sandbox: PleoSandbox, company: str, client: Any, sync_tags: Any
) -> None:
    source, ids = _worked_example(sandbox, company)
    store = SelectionStore(StateDB())
    store.save(uuid_of(company), ["DEPT", "PROJ", "FIN", "CC"])
    report = sync_tags(client, source, company_id=company, state=store, only_dimension="dept")
    assert report.ok
    groups = _groups(sandbox, company)
    assert groups["REG"]["archived"] is False
    assert "FIN" not in groups
    assert _active_tags(sandbox, ids["DEPT"]) == {
        "ENG": "Engineering",
        "MKT": "Marketing",
        "OPS": "Operations",
    }


@pytest.mark.rule("tags-26")
def test_rule_26_one_run_per_company(
    sandbox: PleoSandbox, company: str, client: Any, sync_tags: Any
) -> None:
    lock = InProcessLock()
    source = InMemorySources()
    source.add_dimension("DEPT")
    entered = threading.Event()
    release = threading.Event()
    outcome: list[BaseException] = []

    class Slow(InMemorySources):
        def list_dimensions(self) -> Any:
            entered.set()
            release.wait(5)
            return source.list_dimensions()

    def first() -> None:
        sync_tags(client, Slow(), company_id=company, selection=["DEPT"], lock=lock)

    worker = threading.Thread(target=first)
    worker.start()
    assert entered.wait(5)
    try:
        with pytest.raises(SyncAlreadyRunning):
            sync_tags(client, source, company_id=company, selection=["DEPT"], lock=lock)
        other = sandbox.add_company("Other")
        sync_tags(client, source, company_id=other, selection=["DEPT"], lock=lock)
    except BaseException as exc:  # pragma: no cover - surfaced below
        outcome.append(exc)
    finally:
        release.set()
        worker.join(5)
    assert not outcome
    sync_tags(client, source, company_id=company, selection=["DEPT"], lock=lock)


@pytest.mark.rule("tags-30")
def test_rule_30_writes_are_ordered(
    sandbox: PleoSandbox, company: str, client: Any, sync_tags: Any
) -> None:
    source, _ = _worked_example(sandbox, company)
    sync_tags(client, source, company_id=company, selection=["DEPT", "PROJ", "FIN", "CC"])
    methods = [(r.method, r.body.get("archived")) for r in writes(sandbox)]
    groups, tags = methods[:3], methods[3:]
    for step in (groups, tags):
        rank = [0 if m == "POST" and not a else 1 if a is False else 2 for m, a in step]
        assert rank == sorted(rank)


def test_safety_rule_refuses_before_any_write_and_dry_run_writes_nothing(
    sandbox: PleoSandbox, company: str, client: Any, sync_tags: Any
) -> None:
    source, ids = _worked_example(sandbox, company)
    for code in ("ENG", "MKT", "OPS"):
        source.remove_value("DEPT", code)  # looks like a broken read: archive all DEPT tags
    with pytest.raises(MassArchiveRefused):
        sync_tags(client, source, company_id=company, selection=["DEPT", "PROJ", "FIN", "CC"])
    assert writes(sandbox) == []
    report = sync_tags(
        client,
        source,
        company_id=company,
        selection=["DEPT", "PROJ", "FIN", "CC"],
        dry_run=True,
        force=True,
    )
    assert writes(sandbox) == []
    assert report.dry_run
    assert report.plan.counts["archive"] == 3
    sync_tags(
        client, source, company_id=company, selection=["DEPT", "PROJ", "FIN", "CC"], force=True
    )
    assert _active_tags(sandbox, ids["DEPT"]) == {}


def test_progress_callback_sees_every_phase(
    sandbox: PleoSandbox, company: str, client: Any, sync_tags: Any
) -> None:
    source, _ = _worked_example(sandbox, company)
    events: list[SyncProgress] = []
    sync_tags(
        client,
        source,
        company_id=company,
        selection=["DEPT", "PROJ", "FIN", "CC"],
        progress=events.append,
    )
    phases = [e.phase for e in events]
    assert phases[0] is SyncPhase.READ
    assert phases[-1] is SyncPhase.DONE
    applied = [e for e in events if e.phase is SyncPhase.APPLY and e.action is not None]
    assert len(applied) == 6
    assert applied[-1].done == applied[-1].total == 6


def test_a_refused_write_is_reported_and_the_rest_applied(
    sandbox: PleoSandbox, company: str, client: Any, sync_tags: Any
) -> None:
    source, _ = _worked_example(sandbox, company)
    sandbox.faults.add("PUT /v0/tags/*", kind="server_error", status=500, times=100)
    report = sync_tags(client, source, company_id=company, selection=["DEPT", "PROJ", "FIN", "CC"])
    assert [f.action.target.key for f in report.failures] == ["MKT"]
    assert report.failures[0].status_code == 500
    assert report.failures[0].retryable
    assert not report.ok
    assert report.counts["applied"]["archive"] == 2
    sandbox.faults.clear()
    report = sync_tags(client, source, company_id=company, selection=["DEPT", "PROJ", "FIN", "CC"])
    assert report.ok
    assert report.counts["applied"]["unarchive"] == 1


def test_dry_run_on_first_connection_persists_nothing(
    sandbox: PleoSandbox, company: str, client: Any, sync_tags: Any
) -> None:
    store = SelectionStore(StateDB())
    sandbox.add_tag_group(company, "DEPT")
    source = InMemorySources()
    source.add_dimension("DEPT")
    source.add_value("DEPT", "A", "Alpha")
    report = sync_tags(client, source, company_id=company, state=store, dry_run=True)
    assert report.selection is not None
    assert report.selection.auto_selected == ("DEPT",)
    assert store.load(uuid_of(company)) is None
    assert [a.kind.value for a in report.plan.actions] == ["create"]
    assert writes(sandbox) == []


@pytest.mark.rule("tags-10")
def test_rule_10_group_rename_through_the_orchestrator(
    sandbox: PleoSandbox, company: str, client: Any, sync_tags: Any
) -> None:
    group = sandbox.add_tag_group(company, "DEPT", "Departments", metadata={"k": "v"})
    source = InMemorySources()
    source.add_dimension("DEPT", "Department")
    sync_tags(client, source, company_id=company, selection=["DEPT"])
    assert writes(sandbox) == []
    sync_tags(client, source, company_id=company, selection=["DEPT"], allow_group_renames=True)
    (put,) = writes(sandbox)
    assert put.path == f"/v0/tag-groups/{group}"
    assert put.body == {
        "archived": False,
        "code": "DEPT",
        "metadata": {"k": "v"},
        "name": "Department",
    }
