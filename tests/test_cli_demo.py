"""``pleo-erp demo``: the quick start's command — sandbox over loopback HTTP, a fresh Beancount
ledger, the three levels, a readable report, and a ledger that bean-check accepts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from beancount import loader
from beancount.core import data

from pleo_erp.cli import main
from pleo_erp.cli._demo import DEMO_MARKER, prepare_demo_dir
from pleo_erp.cli._errors import UsageError

pytestmark = pytest.mark.http


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty working directory with no PLEO_* settings and a private home."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "home" / ".state"))
    for name in ("API_KEY", "BASE_URL", "ENVIRONMENT", "COMPANY_ID", "LEDGER", "STATE_DB"):
        monkeypatch.delenv(f"PLEO_{name}", raising=False)
    return tmp_path


def _transactions(ledger: Path) -> list[data.Transaction]:
    entries, errors, _ = loader.load_file(str(ledger))
    assert errors == [], [e.message for e in errors]
    return [e for e in entries if isinstance(e, data.Transaction)]


def test_demo_end_to_end(isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    captured = capsys.readouterr()
    out = captured.out
    for level in ("Level 3", "Level 2", "Level 1"):
        assert level in out
    # Per level: the action counts; per job: outcomes; failed items with their reasons.
    for word in ("create", "update", "unarchive", "archive", "noop"):
        assert word in out
    assert "completed_with_errors" in out
    assert "vendor_unknown" in out
    assert "requests" in out
    assert "bean-check     0 errors" in out
    assert "fava demo-ledger/ledger.beancount" in out
    ledger = isolated / "demo-ledger" / "ledger.beancount"
    transactions = _transactions(ledger)
    assert len(transactions) == 37
    assert all("pleo-accounting-entry-id" in t.meta for t in transactions)
    assert (isolated / "demo-ledger" / DEMO_MARKER).is_file()
    assert "error" not in captured.err


def test_demo_json_and_rerun_recreates_the_ledger(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = isolated / "out" / "books"
    assert main(["demo", "--json", "--ledger", str(target)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is True
    assert set(document["levels"]) == {"chart_of_accounts", "tags", "export"}
    assert document["bean_check"]["errors"] == 0
    assert document["unexpected"] == []
    assert document["requests"] > 0
    export = document["levels"]["export"]
    assert [job["final_event"] for job in export["jobs"]] == [
        "completed",
        "completed",
        "completed_with_errors",
    ]
    failed = [i for job in export["jobs"] for i in job["items"] if i["status"] == "failed"]
    assert len(failed) == document["expected_failures"] == 7
    assert all(item["failure_reason"] for item in failed)
    chart = document["levels"]["chart_of_accounts"]
    assert chart["objects"]["accounts"]["create"] > 0
    assert chart["related"]["tax_codes"]["objects"]["tax codes"]["unarchive"] == 1

    # A second run starts from scratch: same result, no duplicated entries.
    (target / "stray.txt").write_text("left over", encoding="utf-8")
    assert main(["demo", "--json", "--ledger", str(target)]) == 0
    capsys.readouterr()
    assert not (target / "stray.txt").exists()
    assert len(_transactions(target / "ledger.beancount")) == 37


def test_demo_refuses_to_delete_a_directory_it_did_not_create(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    precious = isolated / "books"
    precious.mkdir()
    (precious / "ledger.beancount").write_text("; my real books\n", encoding="utf-8")
    assert main(["demo", "--ledger", "books"]) == 2
    assert "refusing to delete" in capsys.readouterr().err
    assert (precious / "ledger.beancount").read_text(encoding="utf-8") == "; my real books\n"


def test_prepare_demo_dir_refuses_dangerous_targets(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    for target in (tmp_path, home, Path("/")):
        with pytest.raises(UsageError):
            prepare_demo_dir(target, cwd=tmp_path, home=home)
    a_file = tmp_path / "file"
    a_file.write_text("x", encoding="utf-8")
    with pytest.raises(UsageError):
        prepare_demo_dir(a_file, cwd=tmp_path, home=home)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert prepare_demo_dir(empty, cwd=tmp_path, home=home) == empty
    assert (empty / DEMO_MARKER).is_file()
