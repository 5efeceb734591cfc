"""``pleo-erp worker`` / ``scheduler`` / ``demo-distributed`` (real Postgres, Redis, processes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.cli import cli


@pytest.mark.parametrize("command", ["worker", "scheduler"])
def test_the_distributed_commands_need_a_postgres_state(tmp_path: Path, command: str) -> None:
    result = cli(tmp_path, command, "--state", str(tmp_path / "state.db"), "--broker", "redis://x")
    assert result.code == 2
    assert "postgresql://" in result.err


@pytest.mark.parametrize("command", ["worker", "scheduler"])
def test_the_distributed_commands_need_a_redis_broker(tmp_path: Path, command: str) -> None:
    url = "postgresql://u:hunter2@127.0.0.1:1/db"
    result = cli(tmp_path, command, "--state", url)
    assert result.code == 2
    assert "--broker" in result.err
    result = cli(tmp_path, command, "--state", url, "--broker", "amqp://u:s3cret@host//")
    assert result.code == 2
    assert "redis://" in result.err
    assert "s3cret" not in result.text
    assert "hunter2" not in result.text


@pytest.mark.postgres
@pytest.mark.slow
def test_demo_distributed_runs_every_level_through_workers_and_the_scheduler(
    tmp_path: Path, postgres_server: object
) -> None:
    """Services + 2 ``pleo-erp worker`` + ``pleo-erp scheduler`` processes, stopped by PID."""
    src = Path(__file__).resolve().parents[2] / "src"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), *sys.path])}
    done = subprocess.run(
        [
            *(sys.executable, "-m", "pleo_erp.cli", "demo-distributed", "--json"),
            *("--ledger", str(tmp_path / "ledger"), "--timeout", "150"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["ok"] is True
    assert set(report["levels"]) == {"chart_of_accounts", "tags", "export"}
    assert report["levels"]["chart_of_accounts"] == "ok"
    assert report["levels"]["tags"] == "ok"
    assert report["jobs"]
    assert all(status.startswith("completed") for status in report["jobs"])
    ledger = Path(report["ledger"]).read_text(encoding="utf-8")
    assert ledger.count("pleo-accounting-entry-id:") >= 1  # the workers posted into the ledger
