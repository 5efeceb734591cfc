"""Every ```python block a reader sees in ``docs/`` is tested (issue 11).

A block is run unless the HTML comment on the line right above its fence (invisible on GitHub
and in the built site) says otherwise:

- no marker: run as written, in a fresh namespace, in an empty temporary directory;
- ``<!-- docs-test: sandbox -->``: run with a demo sandbox's names already defined
  (``sandbox``, ``demo``, ``client``, ``company_id`` / ``company``, ``my_as``, ``api_key``,
  ``auth`` / ``auth_a`` / ``auth_b``, ``job_id``, ``group_id``, ``state`` / ``state_db``);
- ``<!-- docs-test: continue -->``: run in the namespace of the previous run block of the page;
- ``<!-- docs-test: mirrors PATH:REGION -->``: must equal the region between
  ``# --8<-- [start:REGION]`` and ``# --8<-- [end:REGION]`` of ``PATH`` (dedented), a file
  that has tests of its own, so the copy in the Markdown cannot drift;
- ``<!-- docs-test: illustrative REASON -->``: not run (it needs credentials, a real service
  or your own code, said in REASON); it must still compile and its imports must resolve.
"""

from __future__ import annotations

import ast
import os
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from attrs import define

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

_FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
_MARKER = re.compile(r"<!-- docs-test: (\w+)(?: (.*?))? -->\s*\Z")
KINDS = frozenset({"run", "sandbox", "continue", "mirrors", "illustrative"})


@define(frozen=True)
class Block:
    """One fenced python block of a page."""

    page: str
    line: int
    kind: str
    argument: str
    code: str

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def page_blocks(path: Path) -> list[Block]:
    """The python blocks of one page, with their markers."""
    text = path.read_text(encoding="utf-8")
    blocks = []
    for match in _FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = _MARKER.search(before)
        kind, argument = (marker.group(1), marker.group(2) or "") if marker else ("run", "")
        line = text.count("\n", 0, match.start()) + 1
        name = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name
        blocks.append(Block(name, line, kind, argument, match[1]))
    return blocks


def all_pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def all_blocks() -> list[Block]:
    return [block for page in all_pages() for block in page_blocks(page)]


def region(path: str, name: str) -> str:
    """The lines between the snippet markers ``name`` of ``path``, dedented."""
    lines = (ROOT / path).read_text(encoding="utf-8").splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == f"# --8<-- [start:{name}]"]
    ends = [i for i, line in enumerate(lines) if line.strip() == f"# --8<-- [end:{name}]"]
    assert len(starts) == len(ends) == 1, f"{path} has no single region {name!r}"
    return textwrap.dedent("\n".join(lines[starts[0] + 1 : ends[0]])).strip("\n") + "\n"


@pytest.fixture
def in_tmp(tmp_path: Path) -> Iterator[Path]:
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        os.chdir(cwd)


def sandbox_names(tmp: Path) -> dict[str, Any]:
    """A demo sandbox and the names the ``sandbox`` blocks use."""
    from pleo_erp import ApiKeyAuth
    from pleo_erp.state import StateDB
    from pleo_erp.testing import InMemoryAccountingSystem, PleoSandbox

    sandbox = PleoSandbox(seed=1)
    demo = sandbox.seed_demo()
    company = UUID(demo.company_id)
    auth = ApiKeyAuth(sandbox.api_key)
    state = StateDB(str(tmp / "state.sqlite"))
    return {
        "sandbox": sandbox,
        "demo": demo,
        "client": sandbox.client(),
        "company_id": company,
        "company": company,
        "my_as": InMemoryAccountingSystem.from_demo(demo),
        "api_key": sandbox.api_key,
        "auth": auth,
        "auth_a": auth,
        "auth_b": ApiKeyAuth(sandbox.issue_api_key(demo.company_id)),
        "job_id": UUID(str(demo.jobs[0].job["id"])),
        "group_id": UUID(str(demo.tag_groups[0]["id"])),
        "state": state,
        "state_db": state,
    }


def run_page(path: Path, tmp: Path) -> int:
    """Run every runnable block of ``path`` in order; return how many ran."""
    namespace: dict[str, Any] | None = None
    ran = 0
    for block in page_blocks(path):
        if block.kind in ("mirrors", "illustrative"):
            continue
        if block.kind == "run":
            namespace = {"__name__": "__docs__"}
        elif block.kind == "sandbox":
            namespace = {"__name__": "__docs__", **sandbox_names(tmp)}
        elif namespace is None:
            pytest.fail(f"{block.id}: 'continue' needs a run block before it")
        try:
            exec(compile(block.code, block.id, "exec"), namespace)  # our own documentation
        except Exception as error:
            raise AssertionError(f"{block.id} failed: {type(error).__name__}: {error}") from error
        ran += 1
    return ran


RUNNABLE_PAGES = [
    page
    for page in all_pages()
    if any(b.kind in ("run", "sandbox", "continue") for b in page_blocks(page))
]


@pytest.mark.parametrize("page", RUNNABLE_PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_page_blocks_run_as_written(page: Path, in_tmp: Path) -> None:
    assert run_page(page, in_tmp) > 0


@pytest.mark.parametrize(
    "block", [b for b in all_blocks() if b.kind == "mirrors"], ids=lambda b: b.id
)
def test_mirrored_blocks_equal_their_tested_source(block: Block) -> None:
    path, _, name = block.argument.rpartition(":")
    assert path
    assert name
    assert block.code == region(path, name), (
        f"{block.id} drifted from {block.argument}; copy the region into the page again"
    )


@pytest.mark.parametrize(
    "block", [b for b in all_blocks() if b.kind == "illustrative"], ids=lambda b: b.id
)
def test_illustrative_blocks_compile_and_import(block: Block) -> None:
    assert len(block.argument.split()) >= 3, f"{block.id}: say why it is not run"
    tree = ast.parse(block.code, block.id)
    imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    local = {"erp_adapter", "my_connector"}  # the reader's own modules
    kept: list[ast.stmt] = [
        n
        for n in imports
        if not (isinstance(n, ast.ImportFrom) and (n.module or "").split(".")[0] in local)
    ]
    exec(compile(ast.Module(body=kept, type_ignores=[]), block.id, "exec"), {})


def test_every_block_has_a_known_marker() -> None:
    blocks = all_blocks()
    assert len(blocks) >= 30
    unknown = [b.id for b in blocks if b.kind not in KINDS]
    assert not unknown


def test_no_include_markers_left_in_the_docs() -> None:
    """The pages read complete on GitHub: no snippet includes, no code hidden elsewhere."""
    for page in all_pages():
        if page == DOCS / "changelog.md":
            continue  # the site's copy of CHANGELOG.md at the root, which GitHub shows itself
        text = page.read_text(encoding="utf-8")
        assert "--8<--" not in text, page


def test_the_tutorial_shows_the_adapters_code() -> None:
    text = (DOCS / "tutorial-adapter.md").read_text(encoding="utf-8")
    mirrored = {b.argument for b in page_blocks(DOCS / "tutorial-adapter.md")}
    assert "examples/custom_adapter/erp_adapter.py:exactly_once" in mirrored
    assert "def find_posted(self, accounting_entry_id: UUID)" in text
    # The text names both spellings the example code and the protocol use.
    assert "entry.posting_mode" in text
    assert "entry.draft" in text


def test_the_marker_parser_sees_markers_and_defaults(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "```python\nx = 1\n```\n\n<!-- docs-test: continue -->\n```python\nassert x == 1\n```\n"
        "<!-- docs-test: illustrative needs real credentials -->\n```python\nimport os\n```\n",
        encoding="utf-8",
    )
    kinds = [(b.kind, b.argument) for b in page_blocks(page)]
    assert kinds == [("run", ""), ("continue", ""), ("illustrative", "needs real credentials")]


@pytest.mark.parametrize(
    ("page", "names"),
    [
        ("sandbox.md", ["sandbox.api_key", "demo.items()", "/_sandbox/files/", "client.sleep"]),
        ("export.md", ["job.items", "client.sleep", "entry.posting_mode", "entry.draft"]),
        ("sync.md", ['related["tax_codes"]', "LedgerTaxType", "parse_tax_type", "exempt"]),
        ("conformance.md", ["dimensions", "DemoChart", "balancing", "accounts_payable"]),
    ],
)
def test_names_a_vendor_had_to_discover_are_documented(page: str, names: list[str]) -> None:
    """Issue 11: each of these was found by introspection; now a page says it, in a block
    that runs (see test_page_blocks_run_as_written) or in the text."""
    text = (DOCS / page).read_text(encoding="utf-8")
    missing = [name for name in names if name not in text]
    assert not missing
