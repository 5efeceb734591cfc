"""The tests mirror the package: no test module at ``tests/`` root, every test folder a package.

A test file added at the root, or a new folder without ``__init__.py``, would still run, but
imports as a top-level module (``from _x_helpers import`` working by accident, two
``conftest`` modules for mypy); this says where it goes instead (README, Developing).
"""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
#: Folders that are not packages: data, the mypy fixture that must fail to type-check, and the
#: distributed harness (its chaos test also runs as a script and imports its siblings bare).
NOT_PACKAGES = {"specs", "typing", "distributed", "__pycache__"}


def _relative(path: Path) -> str:
    return path.relative_to(TESTS.parent).as_posix()


def test_no_test_module_at_the_tests_root() -> None:
    stray = sorted(_relative(p) for p in TESTS.glob("*.py") if p.name.startswith(("test_", "_")))
    stray = [p for p in stray if not p.endswith("/__init__.py")]
    assert stray == [], (
        "move these into the folder of the package area they test (tests/client/, "
        "tests/orchestration/export/, ...; shared helpers into tests/helpers/): " + ", ".join(stray)
    )


def test_every_test_folder_is_a_package() -> None:
    missing = sorted(
        _relative(folder)
        for folder in [TESTS, *(p for p in TESTS.rglob("*") if p.is_dir())]
        if not NOT_PACKAGES.intersection(folder.relative_to(TESTS).parts)
        and any(folder.glob("*.py"))
        and not (folder / "__init__.py").is_file()
    )
    assert missing == [], "add an __init__.py (imports are tests.<area>.<module>): " + ", ".join(
        missing
    )
