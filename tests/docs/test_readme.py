"""The runnable snippets of README.md and docs/getting-started.md run exactly as written.

Issue 4: ``export_expenses(sandbox.client(), InMemoryAccountingSystem(),
company_id=sandbox.demo_company_id)`` must work with no other argument.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def python_blocks(path: Path) -> list[str]:
    """The fenced ```python blocks of a markdown file."""
    return re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)


def sandbox_snippets() -> list[tuple[str, str]]:
    snippets = []
    for name in ("README.md", "docs/getting-started.md"):
        for block in python_blocks(ROOT / name):
            if "PleoSandbox(" in block:  # the ones that need no credentials
                snippets.append((name, block))
    return snippets


@pytest.mark.parametrize(("source", "code"), sandbox_snippets(), ids=lambda v: str(v)[:40])
def test_snippet_runs_as_written(
    source: str, code: str, capsys: pytest.CaptureFixture[str]
) -> None:
    namespace: dict[str, object] = {}
    exec(compile(code, source, "exec"), namespace)  # our own documentation
    report = namespace["report"]
    assert report.successful > 0  # type: ignore[attr-defined]
    assert all(job.finished for job in report.jobs)  # type: ignore[attr-defined]


def test_there_are_snippets_to_run() -> None:
    assert len(sandbox_snippets()) >= 2
