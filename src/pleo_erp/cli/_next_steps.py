"""Shell commands to check and browse a ledger, spelled for the interpreter running the CLI.

The quick start runs ``pleo-erp`` inside a virtualenv that is not activated in the user's
shell (``.nox/demo/bin/``), so a bare ``bean-check`` is not on their PATH and a bare ``pip``
may install elsewhere or be refused (PEP 668). The commands printed here name the scripts
directory of ``sys.executable`` (where Beancount's ``bean-check`` was installed with this
package, and where ``python -m pip`` puts Fava), relative to the working directory when that
is shorter.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path

from attrs import define

__all__ = ["Interpreter", "bean_check_command", "fava_command"]


@define(frozen=True)
class Interpreter:
    """The Python that runs the CLI, and how to find what is installed into it.

    Attributes:
        executable: the interpreter, as started (``sys.executable``, not resolved: a
            virtualenv's ``bin/python`` is a symlink to the base interpreter).
        scripts: where console scripts of its packages live (``bin/`` or ``Scripts\\``).
        has_pip: whether ``python -m pip`` works (``uv venv`` environments have no pip).
        externally_managed: a system Python whose pip refuses to install (PEP 668).
        windows: spell executables with ``.exe`` and quote for ``cmd.exe``.
    """

    executable: Path
    scripts: Path
    has_pip: bool
    externally_managed: bool
    windows: bool = False

    @classmethod
    def current(cls) -> Interpreter:
        """The running interpreter."""
        executable = Path(sys.executable or "python3")
        scripts = sysconfig.get_path("scripts")
        in_virtualenv = sys.prefix != sys.base_prefix
        stdlib = sysconfig.get_path("stdlib")
        return cls(
            executable=executable,
            scripts=Path(scripts) if scripts else executable.parent,
            has_pip=importlib.util.find_spec("pip") is not None,
            externally_managed=not in_virtualenv
            and bool(stdlib)
            and (Path(stdlib) / "EXTERNALLY-MANAGED").is_file(),
            windows=os.name == "nt",
        )

    def script(self, name: str) -> Path:
        """The path the console script ``name`` has (or would have) in :attr:`scripts`."""
        return self.scripts / (f"{name}.exe" if self.windows else name)


def bean_check_command(ledger: str, *, cwd: Path, interpreter: Interpreter | None = None) -> str:
    """How to run ``bean-check`` on ``ledger`` with the Beancount this CLI uses.

    Beancount 3 installs ``bean-check`` next to the interpreter; when it is not there (a
    ``--user`` or system install puts scripts elsewhere), ``python -m
    beancount.scripts.check`` runs the same checker.
    """
    py = interpreter or Interpreter.current()
    quote = _quoter(py)
    script = py.script("bean-check")
    if script.is_file():
        return f"{_program(script, cwd, quote)} {quote(ledger)}"
    return f"{_program(py.executable, cwd, quote)} -m beancount.scripts.check {quote(ledger)}"


def fava_command(ledger: str, *, cwd: Path, interpreter: Interpreter | None = None) -> str:
    """How to open ``ledger`` in Fava, installing Fava next to this CLI first if needed.

    Fava is installed into the CLI's own environment, where Beancount already is; ``pipx``
    is the fallback for an externally managed system Python, whose pip refuses to install.
    """
    py = interpreter or Interpreter.current()
    quote = _quoter(py)
    fava = py.script("fava")
    run_fava = f"{_program(fava, cwd, quote)} {quote(ledger)}"
    if fava.is_file():
        return run_fava
    python = _program(py.executable, cwd, quote)
    if py.externally_managed:
        return f"pipx install fava && fava {quote(ledger)}"
    if py.has_pip:
        return f"{python} -m pip install fava && {run_fava}"
    return f"uv pip install --python {python} fava && {run_fava}"


def _program(path: Path, cwd: Path, quote: Callable[[str], str]) -> str:
    """``path`` as typed in a shell: relative to ``cwd`` when shorter, never a bare name."""
    text = str(path)
    try:
        relative = os.path.relpath(path, cwd)
    except ValueError:  # another drive (Windows)
        relative = text
    if len(relative) < len(text):
        text = relative
    if os.sep not in text and (os.altsep is None or os.altsep not in text):
        # A bare name would be looked up on PATH, not in the working directory.
        text = os.curdir + os.sep + text
    return quote(text)


def _quoter(interpreter: Interpreter) -> Callable[[str], str]:
    if interpreter.windows:
        return lambda text: subprocess.list2cmdline([text])
    return shlex.quote
