"""``pleo-erp demo``: the quick start's command — sandbox over loopback HTTP, a fresh Beancount
ledger, the three levels, a readable report, and a ledger that bean-check accepts."""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from beancount import loader
from beancount.core import data

from pleo_erp.cli import main, run
from pleo_erp.cli._demo import DEMO_MARKER, prepare_demo_dir, remove_lock_file
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
    monkeypatch.delenv("COLUMNS", raising=False)  # not a terminal: wrap at 100 columns
    return tmp_path


@dataclass(frozen=True)
class DemoRun:
    """One ``pleo-erp demo`` in plain-text mode, shared by the tests that only read it."""

    cwd: Path
    code: int
    out: str
    err: str


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """The demo run once per module, in its own directory, off a terminal, no COLUMNS set."""
    cwd = tmp_path_factory.mktemp("demo-run")
    out, err = io.StringIO(), io.StringIO()
    code = run(["demo"], env={}, stdout=out, stderr=err, cwd=cwd, home=cwd / "home")
    return DemoRun(cwd, code, out.getvalue(), err.getvalue())


def _section(out: str, title: str) -> list[str]:
    """The lines of the ``== title ==`` section, up to the next heading."""
    lines = out.splitlines()
    start = lines.index(f"== {title} ==") + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("==")), len(lines))
    return [line for line in lines[start:end] if line]


def _transactions(ledger: Path) -> list[data.Transaction]:
    entries, errors, _ = loader.load_file(str(ledger))
    assert errors == [], [e.message for e in errors]
    return [e for e in entries if isinstance(e, data.Transaction)]


def test_demo_end_to_end(demo_run: DemoRun) -> None:
    assert demo_run.code == 0, demo_run.err
    out = demo_run.out
    for level in ("Level 3", "Level 2", "Level 1"):
        assert level in out
    # Per level: the action counts; per job: outcomes; failed items with their reasons.
    for word in ("create", "update", "unarchive", "archive", "noop"):
        assert word in out
    assert "completed_with_errors" in out
    assert "vendor_unknown" in out
    assert "requests" in out
    assert "bean-check     0 errors" in out
    directory = demo_run.cwd / "demo-ledger"
    transactions = _transactions(directory / "ledger.beancount")
    assert len(transactions) == 37
    assert all("pleo-accounting-entry-id" in t.meta for t in transactions)
    assert (directory / DEMO_MARKER).is_file()
    # The adapter's lock file is released and removed: nothing stray is left behind.
    assert not (directory / "ledger.beancount.lock").exists()
    assert "error" not in demo_run.err


def test_demo_report_sections_share_one_style(demo_run: DemoRun) -> None:
    out = demo_run.out
    headings = [line for line in out.splitlines() if line.startswith("==")]
    assert [h.split(" - ")[0].strip("= ") for h in headings] == [
        "Level 3",
        "Level 2",
        "Level 1",
        "Failed items (reported to Pleo with these reasons)",
        "Summary",
        "Next steps",
    ]
    # After the banner, every line is a heading or indented in its section.
    body = out.split("\n\n", 1)[1].splitlines()
    assert all(not line or line.startswith(("==", "  ")) for line in body)
    assert "Export jobs" not in out  # the Level 1 heading says it: no second title


def test_demo_failed_items_are_compact_with_reasons_wrapped(
    demo_run: DemoRun,
    isolated: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """One short line per failed item, its reason word for word on indented lines below,
    nothing wider than the terminal (100 columns off a terminal, else ``COLUMNS``)."""
    assert main(["demo", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    failed = [
        item
        for job in document["levels"]["export"]["jobs"]
        for item in job["items"]
        if item["status"] == "failed"
    ]
    assert len(failed) == 7
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["demo"]) == 0
    narrow = capsys.readouterr().out
    for columns, out in ((100, demo_run.out), (80, narrow)):
        section = _section(out, "Failed items (reported to Pleo with these reasons)")
        assert section[0].split() == ["job", "item", "type", "failure"]
        assert all(len(line) <= columns for line in section), columns
        for item in failed:
            short = item["accounting_entry_id"][:8]
            (row,) = [i for i, line in enumerate(section) if re.match(rf"  \S+  {short} ", line)]
            assert section[row].split()[2:] == [item["type"], item["failure_type"]]
            reason: list[str] = []
            for line in section[row + 1 :]:
                if not line.startswith("    "):
                    break
                reason.append(line.strip())
            assert " ".join(reason) == item["failure_reason"]
        # Wrapped where needed: the longest reason takes several lines at these widths.
        assert len(section) > 2 + 2 * len(failed)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX shell syntax")
def test_demo_next_steps_are_commands_that_work(demo_run: DemoRun) -> None:
    steps = _section(demo_run.out, "Next steps")
    check = shlex.split(steps[steps.index("  check the ledger with Beancount:") + 1])
    assert check[-1] == "demo-ledger/ledger.beancount"
    assert check[0] != "bean-check"  # not a bare name that the quick start's PATH lacks
    # What is printed runs, from the directory the demo ran in, and accepts the ledger.
    result = subprocess.run(check, cwd=demo_run.cwd, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    fava = shlex.split(steps[-1])
    assert fava[-1] == "demo-ledger/ledger.beancount"
    assert Path(fava[-2]).name == "fava"
    if "pip" in fava:  # Fava is installed with the pip of the interpreter running the CLI
        assert fava[1:5] == ["-m", "pip", "install", "fava"]
        assert os.path.samefile(demo_run.cwd / fava[0], sys.executable)


def test_the_lock_file_is_kept_while_another_process_holds_it(tmp_path: Path) -> None:
    fcntl = pytest.importorskip("fcntl")
    lock_path = tmp_path / "ledger.beancount.lock"
    lock_path.write_bytes(b"")
    # A separate open file description with flock: how another process holds the lock.
    fd = os.open(lock_path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert remove_lock_file(lock_path) is False
        assert lock_path.exists()
    finally:
        os.close(fd)
    assert remove_lock_file(lock_path) is True
    assert not lock_path.exists()
    assert remove_lock_file(lock_path) is True  # already gone: nothing to do


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
