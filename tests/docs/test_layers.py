"""The layer graph of ``pleo_erp`` holds in the test run too (issue 12, items 1 and 2).

``nox -s lint`` checks the import-linter contracts of ``pyproject.toml``; these tests walk the
``ast`` imports of every module (function-local and ``TYPE_CHECKING`` ones included) so the
same rules fail ``pytest`` without import-linter installed: no import cycle between the
subpackages, and every import goes down the ``[tool.importlinter]`` layers. They also pin the
relocation: the moved value types and records are the same objects under every old path,
imported without a warning.
"""

from __future__ import annotations

import ast
import functools
import subprocess
import sys
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

import pleo_erp

PACKAGE_DIR = Path(pleo_erp.__file__).parent
ROOT = "pleo_erp"
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"

Edges = dict[tuple[str, str], str]


def _module_name(path: Path, package_dir: Path) -> str:
    parts = [package_dir.name, *path.relative_to(package_dir).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported(node: ast.AST, module: str, is_package: bool) -> Iterator[str]:
    """The dotted names one import statement reaches (``from a import b`` → ``a.b``)."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        if node.level:  # relative: resolve against the importing module's package
            package = module.split(".") if is_package else module.split(".")[:-1]
            parts = package[: len(package) - node.level + 1]
            base = ".".join([*parts, node.module] if node.module else parts)
        else:
            base = node.module or ""
        yield from (f"{base}.{alias.name}" for alias in node.names)


def _top(module: str, root: str, known: set[str]) -> str | None:
    """The top-level subpackage a dotted name lies in (``pleo_erp.domain.money`` → ``domain``);
    ``root`` for the package itself and for names taken from its ``__init__``."""
    parts = module.split(".")
    if parts[0] != root:
        return None
    if len(parts) > 1 and parts[1] in known:
        return parts[1]
    return root


def _parse(path: Path) -> ast.Module:
    source = path.read_text(encoding="utf-8")
    for _attempt in range(3):
        try:
            return ast.parse(source, filename=str(path))
        except SystemError:  # pragma: no cover - CPython < 3.11.8 bug (gh-106905): the AST
            continue  # recursion counter is shared with other threads; parsing again works
    return ast.parse(source, filename=str(path))


@functools.cache
def subpackage_edges(package_dir: Path) -> Edges:
    """(importer, imported) subpackage pairs → one example ``module -> name`` line."""
    root = package_dir.name
    known = {p.name.removesuffix(".py") for p in package_dir.iterdir()} - {"__init__"}
    edges: Edges = {}
    for path in sorted(package_dir.rglob("*.py")):
        module = _module_name(path, package_dir)
        source = _top(module, root, known)
        tree = _parse(path)
        for node in ast.walk(tree):
            for target in _imported(node, module, path.name == "__init__.py"):
                imported = _top(target, root, known)
                if imported is not None and source is not None and imported != source:
                    edges.setdefault((source, imported), f"{module} -> {target}")
    return edges


def find_cycle(edges: Mapping[tuple[str, str], str]) -> list[str] | None:
    """One cycle of the graph as a node path (first node repeated at the end), or ``None``."""
    graph: dict[str, list[str]] = {}
    for a, b in sorted(edges):
        graph.setdefault(a, []).append(b)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)) is not None:
            return found
    return None


def _load_toml(path: Path) -> dict[str, object]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        tomllib = pytest.importorskip("tomli")
    with path.open("rb") as handle:
        loaded: dict[str, object] = tomllib.load(handle)
    return loaded


def declared_layers() -> list[list[str]]:
    """The ``layers`` contract of ``pyproject.toml``, top first; ``|`` joins siblings."""
    tool = _load_toml(PYPROJECT)["tool"]
    assert isinstance(tool, dict)
    contracts = tool["importlinter"]["contracts"]
    (contract,) = [c for c in contracts if c["type"] == "layers"]
    assert contract["containers"] == [ROOT]
    return [[name.strip() for name in layer.split("|")] for layer in contract["layers"]]


def layer_violations(edges: Mapping[tuple[str, str], str], layers: list[list[str]]) -> list[str]:
    """Every import that goes up a layer, across ``|`` siblings, or from an unlisted package."""
    rank = {name: index for index, layer in enumerate(layers) for name in layer}
    problems = []
    for (source, imported), example in sorted(edges.items()):
        if source == ROOT:  # the package root re-exports the public API from every layer
            continue
        if source not in rank or imported not in rank:
            missing = source if source not in rank else imported
            problems.append(f"{missing} is in no layer ({example})")
        elif rank[source] >= rank[imported]:
            problems.append(f"{source} may not import {imported}: {example}")
    return problems


# --------------------------------------------------------------------------- the real graph


def test_no_import_cycle_between_subpackages() -> None:
    """Issue 12 item 1: domain <-> accounting_system was a cycle; none may come back."""
    edges = subpackage_edges(PACKAGE_DIR)
    assert ("accounting_system", "domain") in edges  # the walk sees real imports
    cycle = find_cycle(edges)
    assert cycle is None, (
        "import cycle: "
        + " -> ".join(cycle or [])
        + "\n"
        + "\n".join(edges[a, b] for a, b in zip(cycle or [], (cycle or [])[1:], strict=False))
    )


def test_imports_follow_the_declared_layers() -> None:
    layers = declared_layers()
    listed = {name for layer in layers for name in layer}
    subpackages = {
        p.name.removesuffix(".py")
        for p in PACKAGE_DIR.iterdir()
        if (p.is_dir() and (p / "__init__.py").exists())
        or (p.suffix == ".py" and p.name != "__init__.py")
    }
    assert subpackages <= listed, f"not in any layer: {sorted(subpackages - listed)}"
    assert layer_violations(subpackage_edges(PACKAGE_DIR), layers) == []


def test_domain_and_client_import_only_downwards() -> None:
    """The domain imports no protocols, client, orchestration, state, adapters, testing or
    cli; the client imports no domain; no library package imports testing or cli."""
    edges = subpackage_edges(PACKAGE_DIR)
    above_domain = {"accounting_system", "client", "orchestration", "state", "adapters"}
    assert {b for a, b in edges if a == "domain"} & (above_domain | {"testing", "cli"}) == set()
    assert {b for a, b in edges if a == "client"} & {"domain", "accounting_system"} == set()
    library = {"models", "client", "domain", "accounting_system", "state", "orchestration"}
    library |= {"adapters", ROOT}
    assert [e for (a, b), e in edges.items() if a in library and b in {"testing", "cli"}] == []


CONCEPTS = PYPROJECT.parent / "docs" / "concepts.md"
_BOTTOM = {"_version", "_closing"}  # single modules every layer may import; not in the table


def documented_imports() -> dict[str, set[str]]:
    """The "import graph as it is" table of ``docs/concepts.md``: package → imported packages."""
    table: dict[str, set[str]] = {}
    text = CONCEPTS.read_text(encoding="utf-8").split("The import graph as it is", 1)[1]
    rows = text.split("\n\n", 2)[1]  # the paragraph that names it, then the table
    for line in rows.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0].startswith("`") and cells[0] != "`package`":
            imported = {name.strip(" `") for name in cells[1].split(",")} - {"—", ""}
            table[cells[0].strip("`")] = imported
    return table


def test_the_concepts_page_shows_the_import_graph_as_it_is() -> None:
    """Issue 12: ``docs/concepts.md`` shows the layer diagram as it now is; its import table is
    the real graph (the package root and the bottom helper modules left out)."""
    real: dict[str, set[str]] = {}
    for a, b in subpackage_edges(PACKAGE_DIR):
        if a != ROOT and a not in _BOTTOM:
            real.setdefault(a, set())
            if b not in _BOTTOM | {ROOT}:
                real[a].add(b)
    documented = documented_imports()
    for package in documented:
        real.setdefault(package, set())
    assert documented == real


@pytest.mark.parametrize(
    "module",
    [
        "pleo_erp.domain.journal",
        "pleo_erp.domain.entries",
        "pleo_erp.accounting_system.sources",
    ],
)
def test_each_layer_imports_first_in_a_fresh_interpreter(module: str) -> None:
    """A runtime cycle shows up only for some import orders: import each module first."""
    result = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(PACKAGE_DIR.parent), "PATH": ""},
        check=False,
    )
    assert result.returncode == 0, result.stderr


# --------------------------------------------------------------------------- the walker itself


def _write_package(tmp_path: Path, files: Mapping[str, str]) -> Path:
    package_dir = tmp_path / "pleo_erp"
    for name, text in files.items():
        path = package_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return package_dir


def test_the_walk_finds_a_cycle_through_relative_local_and_type_checking_imports(
    tmp_path: Path,
) -> None:
    package_dir = _write_package(
        tmp_path,
        {
            "__init__.py": "",
            "domain/__init__.py": "",
            "domain/values.py": "def f():\n    from ..protocols import x\n",
            "protocols/__init__.py": "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from pleo_erp.client import y\n",
            "client/__init__.py": "from pleo_erp import domain\n",
        },
    )
    edges = subpackage_edges(package_dir)
    assert set(edges) == {("domain", "protocols"), ("protocols", "client"), ("client", "domain")}
    assert edges["domain", "protocols"] == "pleo_erp.domain.values -> pleo_erp.protocols.x"
    cycle = find_cycle(edges)
    assert cycle is not None
    assert cycle[0] == cycle[-1]
    assert set(cycle) == {"domain", "protocols", "client"}


def test_the_layer_check_refuses_upward_and_sibling_imports() -> None:
    layers = [["cli"], ["orchestration", "adapters"], ["domain"]]
    edges = {
        ("cli", "domain"): "ok",
        ("domain", "orchestration"): "up",
        ("adapters", "orchestration"): "sibling",
        ("orchestration", "mystery"): "unlisted",
    }
    assert layer_violations(edges, layers) == [
        "adapters may not import orchestration: sibling",
        "domain may not import orchestration: up",
        "mystery is in no layer (unlisted)",
    ]
    assert find_cycle({("a", "b"): "", ("b", "c"): ""}) is None


# --------------------------------------------------------------------------- moved names


JOURNAL_NAMES = [
    "ATTACHMENT_MAX_BYTES",
    "PLEO_ATTACHMENT_EXTENSIONS",
    "AccountsMapping",
    "Attachment",
    "BankAccount",
    "Capabilities",
    "CreditNote",
    "Entry",
    "EntryDimension",
    "EntryLine",
    "InvoiceDetails",
    "JobContext",
    "JournalEntry",
    "LineRole",
    "PartyRef",
    "PostedEntry",
    "PostingMode",
    "SupplierInvoice",
    "SupplierPayment",
    "UnbalancedEntryError",
    "VatTreatment",
    "VendorAccount",
    "VendorKey",
    "VendorKeyField",
    "with_posting_date",
]
RECORD_NAMES = [
    "LEDGER_TAX_TYPES",
    "Dimension",
    "DimensionValue",
    "InvalidTaxCodeError",
    "LedgerAccount",
    "LedgerTaxCode",
    "LedgerTaxType",
    "parse_tax_type",
]


def test_moved_names_are_the_same_objects_under_every_old_path() -> None:
    from pleo_erp import accounting_system, domain
    from pleo_erp.accounting_system import export, sources
    from pleo_erp.domain import journal, records

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # re-exports are silent
        for name in JOURNAL_NAMES:
            moved = getattr(journal, name)
            assert getattr(export, name) is moved, name
            assert getattr(accounting_system, name) is moved, name
            assert getattr(domain, name) is moved, name
            assert name in export.__all__
            assert name in accounting_system.__all__
        for name in RECORD_NAMES:
            moved = getattr(records, name)
            assert getattr(sources, name) is moved, name
            assert getattr(accounting_system, name) is moved, name
            assert getattr(domain, name) is moved, name
            assert name in sources.__all__
            assert name in accounting_system.__all__
    assert export.JournalEntry.__module__ == "pleo_erp.domain.journal"
    assert sources.LedgerAccount.__module__ == "pleo_erp.domain.records"
    assert set(JOURNAL_NAMES) <= set(domain.__all__)
    assert set(RECORD_NAMES) <= set(domain.__all__)


def test_one_record_set_for_planners_and_the_beancount_chart() -> None:
    """Issue 12 item 2: the planners' ``Source*`` and Beancount's ``Chart*`` names are the
    domain records, not look-alike protocols."""
    pytest.importorskip("beancount")
    from pleo_erp.adapters.beancount import _create
    from pleo_erp.domain import records
    from pleo_erp.domain.reconcile import accounts, tags, tax_codes

    assert accounts.SourceAccount is records.LedgerAccount
    assert tax_codes.SourceTaxCode is records.LedgerTaxCode
    assert tags.SourceDimension is records.Dimension
    assert tags.SourceDimensionValue is records.DimensionValue
    assert _create.ChartAccount is records.LedgerAccount
    assert _create.ChartTaxCode is records.LedgerTaxCode
    assert _create.ChartDimension is records.Dimension
    assert _create.ChartDimensionValue is records.DimensionValue
