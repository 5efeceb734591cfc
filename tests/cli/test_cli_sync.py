"""``pleo-erp sync-* / export`` against a sandbox served over loopback HTTP, into a Beancount
ledger: plans, exit codes, company resolution, and the accounting system options."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest
from beancount import loader

from tests.helpers.cli import SENTINEL, cli, make_ledger, served_demo

pytestmark = pytest.mark.http


def test_sync_accounts_dry_run_prints_the_plan_and_writes_nothing(tmp_path: Path) -> None:
    with served_demo() as served:
        ledger = make_ledger(tmp_path, served.demo)
        before = ledger.read_bytes()
        served.sandbox.clear_requests()
        result = cli(
            tmp_path,
            "sync-accounts",
            "--dry-run",
            "--base-url",
            served.base_url,
            "--ledger",
            str(ledger),
            env={"PLEO_API_KEY": served.sandbox.api_key, "PLEO_COMPANY_ID": served.company_id},
        )
        assert result.code == 0, result.err
        # The demo's designed first-sync actions appear with their keys (accounts rules 33-44).
        assert "Plan for accounts (dry run: nothing was written)" in result.out
        assert "Plan for tax codes" in result.out
        for key in ("ext-6020", "ext-6200", "ext-6990", "ext-9999", "RCG25", "SE12"):
            assert key in result.out
        assert "unarchive" in result.out
        assert "archive" in result.out
        assert "Dry run: nothing was written." in result.out
        assert served.writes() == []
        assert served.sandbox.requests, "the plan was read from Pleo"
        assert ledger.read_bytes() == before


def test_sync_accounts_applies_then_converges_with_zero_writes(tmp_path: Path) -> None:
    with served_demo() as served:
        ledger = make_ledger(tmp_path, served.demo)
        env = served.env(PLEO_LEDGER=str(ledger))
        first = cli(tmp_path, "sync-accounts", "--json", env=env)
        assert first.code == 0, first.err
        document = first.json()
        assert document["ok"] is True
        assert document["objects"]["accounts"]["create"] > 0
        assert document["related"]["tax_codes"]["objects"]["tax codes"]["create"] == 1
        assert document["write_requests"] > 0
        served.sandbox.clear_requests()
        second = cli(tmp_path, "sync-accounts", "--json", env=env)
        assert second.code == 0
        assert second.json()["write_requests"] == 0
        assert second.json()["related"]["tax_codes"]["write_requests"] == 0
        assert served.writes() == []


def test_sync_tags_and_tax_codes(tmp_path: Path) -> None:
    with served_demo() as served:
        ledger = make_ledger(tmp_path, served.demo)
        env = served.env(PLEO_LEDGER=str(ledger))
        tax = cli(tmp_path, "sync-tax-codes", env=env)
        assert tax.code == 0, tax.err
        assert "Tax codes" in tax.out
        assert "Done." in tax.out
        tags = cli(tmp_path, "sync-tags", "--json", env=env)
        assert tags.code == 0, tags.err
        document = tags.json()
        assert document["selection"]["first_connection"] is True
        assert set(document["selection"]["selected"]) == {"DEPT", "PROJ"}
        assert document["objects"]["tags"]["create"] >= 1
        # The selection was saved in the state database: the next run is not a first one.
        again = cli(tmp_path, "sync-tags", "--json", env=env)
        assert again.json()["selection"]["first_connection"] is False
        assert again.json()["write_requests"] == 0


def test_company_comes_from_introspect_for_a_company_key(tmp_path: Path) -> None:
    with served_demo() as served:
        ledger = tmp_path / "plain.beancount"
        # A ledger without a pleo-company directive, so only introspection can tell.
        text = make_ledger(tmp_path, served.demo).read_text(encoding="utf-8")
        ledger.write_text(
            "\n".join(line for line in text.splitlines() if '"pleo-company"' not in line) + "\n",
            encoding="utf-8",
        )
        key = served.sandbox.issue_api_key(served.company_id)
        env = {"PLEO_BASE_URL": served.base_url, "PLEO_API_KEY": key}
        result = cli(
            tmp_path, "sync-tax-codes", "--dry-run", "--json", "--ledger", str(ledger), env=env
        )
        assert result.code == 0, result.err
        assert result.json()["company_id"] == served.company_id
        # An organisation key covers several companies: the user must choose.
        served.sandbox.add_company("Second ApS")
        org = cli(
            tmp_path,
            "sync-tax-codes",
            "--dry-run",
            "--ledger",
            str(ledger),
            env={"PLEO_BASE_URL": served.base_url, "PLEO_API_KEY": served.sandbox.api_key},
        )
        assert org.code == 2
        assert "--company-id" in org.err


def test_export_reports_failed_items_and_exit_1_then_empty_queue(tmp_path: Path) -> None:
    with served_demo() as served:
        ledger = make_ledger(tmp_path, served.demo)
        env = served.env(PLEO_LEDGER=str(ledger))
        first = cli(tmp_path, "export", "--max-jobs", "1", "--json", env=env)
        assert first.code == 0, first.err  # job 1 of the demo is all valid
        assert len(first.json()["jobs"]) == 1
        rest = cli(tmp_path, "export", env=env)
        # Job 3 of the demo fails some items on purpose: the run completes, exit code 1.
        assert rest.code == 1
        assert "completed_with_errors" in rest.out
        assert "Failed items" in rest.out
        for failure in ("vendor_unknown", "missing_configuration", "tax_code_unknown"):
            assert failure in rest.out
        # Sections in one style; the failed items after the totals, reasons wrapped to 100
        # columns (no terminal, no COLUMNS) on their own indented lines.
        lines = rest.out.splitlines()
        assert [line for line in lines if line.startswith("==")] == [
            "== Export jobs (oldest first) ==",
            "== Failed items (reported to Pleo with these reasons) ==",
        ]
        failed_at = lines.index("== Failed items (reported to Pleo with these reasons) ==")
        assert any("items exported" in line for line in lines[:failed_at])
        assert all(not line or line.startswith(("==", "  ")) for line in lines)
        section = lines[failed_at + 1 :]
        assert section[0].split() == ["job", "item", "type", "failure"]
        assert all(len(line) <= 100 for line in section)
        assert sum(line.startswith("    ") for line in section) > 7  # wrapped reasons
        assert "finished with" in rest.err
        statuses = {job["id"]: job["status"] for job in served.sandbox.jobs(served.company_id)}
        assert statuses == served.demo.expected_job_statuses
        empty = cli(tmp_path, "export", "--json", env=env)
        assert empty.code == 0
        assert empty.json()["jobs"] == []
        entries, errors, _ = loader.load_file(str(ledger))
        assert errors == []
        assert entries


def test_wrong_api_key_is_exit_3_without_echoing_it(tmp_path: Path) -> None:
    with served_demo() as served:
        ledger = make_ledger(tmp_path, served.demo)
        env = served.env(PLEO_API_KEY=SENTINEL, PLEO_LEDGER=str(ledger))
        for argv in (["sync-accounts"], ["export", "--json"], ["auth", "status", "-v"]):
            result = cli(tmp_path, *argv, env=env)
            assert result.code == 3, (argv, result.err)
            assert SENTINEL not in result.text
            assert "auth" in result.err


def test_unreachable_pleo_is_exit_4(tmp_path: Path) -> None:
    with served_demo() as served:
        ledger = make_ledger(tmp_path, served.demo)
    # The server is gone: connection refused on its port.
    env = served.env(PLEO_LEDGER=str(ledger))
    result = cli(tmp_path, "sync-tax-codes", "--max-retries", "0", env=env)
    assert result.code == 4
    assert "could not reach Pleo" in result.err


@pytest.mark.rule("accounts-41")
def test_adapter_factory_and_mass_archive_guard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--adapter module:factory`` loads a vendor adapter; a plan archiving more than half of
    the accounts needs ``--force`` (DESIGN decision 8, accounts rule 41)."""
    module = tmp_path / "tiny_erp.py"
    module.write_text(
        textwrap.dedent(
            """
            from pleo_erp.accounting_system import LedgerAccount

            class TinyErp:
                def list_accounts(self):
                    return [LedgerAccount(external_id="ext-6010", code="6010", name="Travel")]

                def list_tax_codes(self):
                    return []

            def connect():
                return TinyErp()
            """
        ),
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with served_demo() as served:
        env = served.env(PLEO_ADAPTER="tiny_erp:connect")
        refused = cli(tmp_path, "sync-accounts", "--skip-tax-codes", env=env)
        assert refused.code == 1
        assert "--force" in refused.err
        assert served.writes() == []
        forced = cli(tmp_path, "sync-accounts", "--skip-tax-codes", "--force", "--json", env=env)
        assert forced.code == 0, forced.err
        assert forced.json()["objects"]["accounts"]["archive"] >= 1
    sys.modules.pop("tiny_erp", None)


def test_bad_adapter_specs_are_config_errors(tmp_path: Path) -> None:
    env = {"PLEO_API_KEY": SENTINEL}
    assert cli(tmp_path, "sync-tags", "--adapter", "nocolon", env=env).code == 2
    missing = cli(tmp_path, "sync-tags", "--adapter", "json:no_such_factory", env=env)
    assert missing.code == 2
    assert "has no 'no_such_factory'" in missing.err
    no_ledger = cli(tmp_path, "sync-tags", "--ledger", str(tmp_path / "none.beancount"), env=env)
    assert no_ledger.code == 2
    assert "ledger file not found" in no_ledger.err


def test_export_while_another_worker_holds_the_lock_is_exit_1(tmp_path: Path) -> None:
    from pleo_erp.orchestration.locks import SQLiteCompanyLock
    from pleo_erp.state import StateDB

    with served_demo() as served:
        ledger = make_ledger(tmp_path, served.demo)
        db_path = tmp_path / "state" / "state.db"
        with StateDB(db_path) as db:
            assert SQLiteCompanyLock(db).acquire(served.company_id, "webhook-worker")
            result = cli(tmp_path, "export", env=served.env(PLEO_LEDGER=str(ledger)))
        assert result.code == 1
        # The refusal says what is true: who holds it, until when, and that it frees itself.
        assert f"process {os.getpid()} on" in result.err
        assert " UTC" in result.err
        assert "frees itself" in result.err
        assert served.writes() == []


def test_export_one_job_by_id(tmp_path: Path) -> None:
    with served_demo() as served:
        ledger = make_ledger(tmp_path, served.demo)
        env = served.env(PLEO_LEDGER=str(ledger))
        second = served.demo.jobs[1].job["id"]
        result = cli(tmp_path, "export", "--job", str(second), "--json", env=env)
        assert result.code == 0, result.err
        assert [job["job_id"] for job in result.json()["jobs"]] == [str(second)]
        assert served.sandbox.job_status(str(second)) == "completed"
        assert served.sandbox.job_status(str(served.demo.jobs[0].job["id"])) == "pending"
        assert cli(tmp_path, "export", "--job", "nope", env=env).code == 2
        assert cli(tmp_path, "export", "--job", str(second), "--max-jobs", "1", env=env).code == 2
