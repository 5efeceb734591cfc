"""The demo's closing hints: commands that work from the user's shell, spelled for the Python
that runs the CLI (the quick start's nox virtualenv is not on PATH, and bare pip may be
refused under PEP 668)."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from pleo_erp.cli._next_steps import Interpreter, bean_check_command, fava_command

LEDGER = "demo-ledger/ledger.beancount"


def _venv(
    root: Path,
    *,
    scripts: tuple[str, ...] = ("bean-check",),
    has_pip: bool = True,
    externally_managed: bool = False,
) -> Interpreter:
    """A fake environment under ``root/.nox/demo`` holding the given console scripts."""
    bin_dir = root / ".nox" / "demo" / "bin"
    bin_dir.mkdir(parents=True)
    for name in ("python", *scripts):
        (bin_dir / name).write_text("#!/bin/sh\n", encoding="utf-8")
    return Interpreter(
        executable=bin_dir / "python",
        scripts=bin_dir,
        has_pip=has_pip,
        externally_managed=externally_managed,
    )


def test_bean_check_uses_the_script_next_to_the_interpreter_relative_to_cwd(
    tmp_path: Path,
) -> None:
    venv = _venv(tmp_path)
    command = bean_check_command(LEDGER, cwd=tmp_path, interpreter=venv)
    assert command == f".nox/demo/bin/bean-check {LEDGER}"


def test_paths_are_absolute_when_that_is_shorter(tmp_path: Path) -> None:
    venv = _venv(tmp_path / "project")
    # Deep enough that the way up ("../" per level) is longer than the absolute path.
    far_away = tmp_path.joinpath(*["d"] * (len(str(venv.scripts)) // 3 + 1))
    far_away.mkdir(parents=True)
    command = bean_check_command(LEDGER, cwd=far_away, interpreter=venv)
    assert command == f"{venv.scripts / 'bean-check'} {LEDGER}"


def test_bean_check_falls_back_to_the_module_when_no_script_is_installed(
    tmp_path: Path,
) -> None:
    venv = _venv(tmp_path, scripts=())
    command = bean_check_command(LEDGER, cwd=tmp_path, interpreter=venv)
    assert command == f".nox/demo/bin/python -m beancount.scripts.check {LEDGER}"


def test_fava_is_installed_with_the_interpreters_own_pip_then_run_from_its_bin(
    tmp_path: Path,
) -> None:
    venv = _venv(tmp_path)
    command = fava_command(LEDGER, cwd=tmp_path, interpreter=venv)
    assert command == (f".nox/demo/bin/python -m pip install fava && .nox/demo/bin/fava {LEDGER}")
    assert not command.startswith("pip ")


def test_fava_already_installed_is_just_run(tmp_path: Path) -> None:
    venv = _venv(tmp_path, scripts=("bean-check", "fava"))
    assert fava_command(LEDGER, cwd=tmp_path, interpreter=venv) == f".nox/demo/bin/fava {LEDGER}"


def test_fava_without_pip_or_on_an_externally_managed_python(tmp_path: Path) -> None:
    no_pip = _venv(tmp_path / "uv", has_pip=False)
    assert fava_command(LEDGER, cwd=tmp_path / "uv", interpreter=no_pip) == (
        f"uv pip install --python .nox/demo/bin/python fava && .nox/demo/bin/fava {LEDGER}"
    )
    system = _venv(tmp_path / "system", externally_managed=True)
    assert fava_command(LEDGER, cwd=tmp_path / "system", interpreter=system) == (
        f"pipx install fava && fava {LEDGER}"
    )


def test_a_script_in_the_working_directory_is_not_a_bare_name(tmp_path: Path) -> None:
    venv = _venv(tmp_path)
    command = bean_check_command(LEDGER, cwd=venv.scripts, interpreter=venv)
    # A bare `bean-check` would be looked up on PATH; `./bean-check` runs this one.
    assert command.split()[0] == "./bean-check"


def test_paths_with_spaces_are_quoted(tmp_path: Path) -> None:
    venv = _venv(tmp_path / "my projects")
    command = bean_check_command("my books/ledger.beancount", cwd=tmp_path, interpreter=venv)
    assert shlex.split(command) == [
        "my projects/.nox/demo/bin/bean-check",
        "my books/ledger.beancount",
    ]


def test_the_current_interpreter_is_described_by_sys_executable() -> None:
    current = Interpreter.current()
    assert current.executable == Path(sys.executable)
    # Beancount is installed into the interpreter running the tests: its script is found.
    assert current.script("bean-check").is_file()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX shell syntax")
def test_the_command_for_this_interpreter_really_checks_a_ledger(tmp_path: Path) -> None:
    """Not a string comparison: the printed command runs and accepts a clean ledger."""
    ledger = tmp_path / "books" / "ledger.beancount"
    ledger.parent.mkdir()
    ledger.write_text("2024-01-01 open Assets:Cash DKK\n", encoding="utf-8")
    command = bean_check_command("books/ledger.beancount", cwd=tmp_path)
    result = subprocess.run(
        shlex.split(command), cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    ledger.write_text("2024-01-01 open Assets:Cash DKK\n2024-01-02 * x\n  Nope 1 DKK\n")
    broken = subprocess.run(
        shlex.split(command), cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert broken.returncode != 0
