"""Run mypy over a typing fixture and compare its errors with the fixture's ``# E: …`` marks.

A fixture line that ends in ``# E: <text>`` must produce a mypy error containing ``<text>``;
every other line must type-check.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def expected_errors(fixture: Path) -> dict[int, str]:
    """Line number → the text its mypy error must contain."""
    expected = {}
    for number, line in enumerate(fixture.read_text().splitlines(), start=1):
        match = re.search(r"# E: (.+)$", line)
        if match:
            expected[number] = match.group(1).strip()
    return expected


def assert_mypy_errors(fixture: Path, *, at_least: int) -> None:
    """mypy --strict reports exactly the marked lines of ``fixture`` (at least ``at_least``)."""
    api = pytest.importorskip("mypy.api")
    stdout, stderr, _ = api.run(
        [
            "--strict",
            "--config-file",
            str(PYPROJECT),
            "--no-error-summary",
            "--show-error-codes",
            str(fixture),
        ]
    )
    pattern = re.compile(rf"(?:.*[/\\])?{re.escape(fixture.name)}:(\d+): error: (.+)$")
    errors: dict[int, list[str]] = {}
    for line in stdout.splitlines():
        match = pattern.match(line)
        if match:
            errors.setdefault(int(match.group(1)), []).append(match.group(2))
    expected = expected_errors(fixture)
    assert len(expected) >= at_least
    unexpected = {n: e for n, e in errors.items() if n not in expected}
    assert not unexpected, f"lines that should type-check: {unexpected}\n{stderr}"
    for number, text in expected.items():
        assert any(text in message for message in errors.get(number, [])), (
            f"line {number}: expected an error with {text!r}, got {errors.get(number)}"
        )
