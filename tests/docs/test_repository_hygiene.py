"""The repository is self-contained: nothing in it reads (or points at) files beside it.

The test suite once read Pleo's specs from a ``shared/`` directory next to the checkout, which
exists on no user's machine and in no sdist, so ``nox -s tests`` failed from a fresh clone.
What the tests need is vendored (``tests/specs/pleo-openapi``); this guard fails as soon as a
source, test, benchmark, example, script or build file mentions a parent-directory ``shared``
path again. ``.ci/run`` additionally runs the suite from a copy with nothing beside it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCANNED_DIRS = ("src", "tests", "benchmarks", "examples", "scripts", "docs", ".ci")
SCANNED_FILES = ("conftest.py", "noxfile.py", "mkdocs.yml", "pyproject.toml", "README.md")
TEXT_SUFFIXES = {".py", ".md", ".yml", ".yaml", ".toml", ".cfg", ".ini", ".txt", ".json", ""}
SKIPPED_PARTS = {"__pycache__", ".nox", ".venv", "site", ".mypy_cache", ".ruff_cache"}

_SHARED = "shar" + "ed"  # split so this file does not match its own patterns
#: A reference to a ``shared`` directory outside the repository, however it is spelled.
FORBIDDEN = re.compile(
    "|".join(
        [
            r"\.\.[/\\]+" + _SHARED + r"\b",  # dot-dot slash (or backslash)
            r"/work/" + _SHARED + r"\b",  # the absolute path of this machine's mirror
            r"""\.parents?\b[^\n]*/\s*["']""" + _SHARED + r"""["']""",  # .parent / the name
            r"""["']\.\.["']\s*,\s*["']""" + _SHARED + r"""["']""",  # a ("..", name) pair
            r"""\bjoin\([^)\n]*["']""" + _SHARED + r"""["']""",  # os.path.join(anything, name)
        ]
    )
)


def _scanned_files(root: Path) -> Iterator[Path]:
    for name in SCANNED_DIRS:
        directory = root / name
        if not directory.is_dir():
            continue
        for path in sorted(directory.rglob("*")):
            relative = path.relative_to(root)
            if SKIPPED_PARTS & set(relative.parts) or not path.is_file():
                continue
            if path.suffix in TEXT_SUFFIXES:
                yield path
    for name in SCANNED_FILES:
        if (root / name).is_file():
            yield root / name


def offenders(root: Path) -> list[str]:
    """``path:line: text`` for every line under ``root`` that points outside the repository."""
    found = []
    for path in _scanned_files(root):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if FORBIDDEN.search(line):
                found.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
    return found


def test_nothing_reads_a_shared_directory_beside_the_repository() -> None:
    problems = offenders(REPO_ROOT)
    assert not problems, (
        "files must not read outside the repository; vendor what they need "
        "(e.g. into tests/specs/):\n" + "\n".join(problems)
    )


@pytest.mark.parametrize(
    "line",
    [
        'SPECS = Path(__file__).resolve().parents[1].parent / "' + _SHARED + '" / "pleo-openapi"',
        "DEFAULT = REPO_ROOT.parent / '" + _SHARED + "' / 'pleo-openapi'",
        'yaml.safe_load(open("../' + _SHARED + '/pleo-openapi/tags.yml"))',
        "Rule numbers refer to /work/" + _SHARED + "/reference",
        'os.path.join(os.pardir, "' + _SHARED + '", "x.yml")',
        'os.path.join("..", "' + _SHARED + '")',
        "see ``..\\" + _SHARED + "\\reference``",
    ],
)
def test_the_guard_catches_every_spelling(tmp_path: Path, line: str) -> None:
    """The scan is not vacuous: each way of pointing beside the repository is reported."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text(f"x = 1\n{line}\n", encoding="utf-8")
    assert offenders(tmp_path) == [f"tests/test_x.py:2: {line.strip()}"]


def test_the_guard_leaves_ordinary_uses_of_the_word_alone(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "m.py").write_text(
        '"""One ' + _SHARED + " connection, a " + _SHARED + ' secret."""\n'
        "with db.transaction() as " + _SHARED + ":\n    pass\n"
        'ROOT = Path(__file__).resolve().parents[1] / "tests" / "specs"\n',
        encoding="utf-8",
    )
    assert offenders(tmp_path) == []


def test_the_vendored_specs_are_in_the_repository() -> None:
    """What the tests used to read from outside is here (and in the sdist: ``tests/``)."""
    vendored = REPO_ROOT / "tests" / "specs" / "pleo-openapi"
    assert len(sorted(vendored.glob("*.yml"))) == 8
    assert len(sorted((vendored / "examples").glob("*.json"))) == 3
