"""The reference integration script runs end to end and leaves a clean ledger."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

# Load run.py under a unique module name ("run" alone could clash with other modules).
_spec = importlib.util.spec_from_file_location(
    "reference_integration_run", Path(__file__).with_name("run.py")
)
assert _spec is not None
assert _spec.loader is not None
_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_run)
LEDGER: str = _run.LEDGER
main = _run.main


def test_reference_integration_runs_all_three_levels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit code 0: a bean-check clean ledger, every job finished, nothing posted twice."""
    assert main(["--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for level in ("Level 3", "Level 2", "Level 1"):
        assert level in out
    assert "Second run: 0 jobs, 0 items" in out
    assert "Ledger check: 0 Beancount errors" in out
    text = (tmp_path / LEDGER).read_text(encoding="utf-8")
    assert "pleo-accounting-entry-id" in text


def test_existing_ledger_is_not_overwritten_by_accident(tmp_path: Path) -> None:
    """A second run into the same directory refuses unless ``--overwrite`` is given."""
    (tmp_path / LEDGER).write_text("; my books\n", encoding="utf-8")
    with pytest.raises(SystemExit):
        main(["--dir", str(tmp_path)])
    assert (tmp_path / LEDGER).read_text(encoding="utf-8") == "; my books\n"
