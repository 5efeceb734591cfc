"""``import pleo_erp`` is cheap and every public name still resolves (PEP 562 lazy import).

Each measurement runs in a fresh interpreter: this test process has long since imported
everything. Before the lazy import, ``import pleo_erp`` loaded 78 ``pleo_erp`` modules (and
httpx, cattrs, attrs…, 413 modules in all).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest

import pleo_erp

#: The package itself and its version module; a few more would still be "a handful".
MAX_PLEO_MODULES = 3


def _run(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return result.stdout


def test_import_loads_only_a_handful_of_modules() -> None:
    out = _run(
        "import sys, json; before = set(sys.modules); import pleo_erp; "
        "print(json.dumps(sorted(m for m in sys.modules if m not in before)))"
    )
    loaded = json.loads(out)
    ours = [name for name in loaded if name.startswith("pleo_erp")]
    assert len(ours) <= MAX_PLEO_MODULES, ours
    # None of the heavy third-party stacks is pulled in by the bare import.
    assert not {"httpx", "cattrs", "attrs"} & {name.split(".")[0] for name in loaded}


def test_every_public_name_resolves_in_a_fresh_interpreter() -> None:
    out = _run(
        "import pleo_erp, json; "
        "print(json.dumps({n: type(getattr(pleo_erp, n)).__name__ for n in pleo_erp.__all__}))"
    )
    assert set(json.loads(out)) == set(pleo_erp.__all__)


def test_from_import_and_subpackage_attributes_work() -> None:
    out = _run(
        "from pleo_erp import PleoClient, export_expenses, ExportConfig, __version__; "
        "import pleo_erp; "
        "print(PleoClient.__module__, export_expenses.__name__, pleo_erp.models.__name__)"
    )
    assert out.split() == ["pleo_erp.client._client", "export_expenses", "pleo_erp.models"]


def test_public_names_are_the_objects_of_their_subpackages() -> None:
    from pleo_erp import client, orchestration

    assert pleo_erp.PleoClient is client.PleoClient
    assert pleo_erp.export_expenses is orchestration.export_expenses


def test_dir_lists_public_names_before_they_are_imported() -> None:
    out = _run("import pleo_erp; print(' '.join(dir(pleo_erp)))")
    names = set(out.split())
    assert set(pleo_erp.__all__) <= names
    assert {"client", "models", "orchestration"} <= names


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        pleo_erp.no_such_name  # noqa: B018


def test_library_logger_has_a_null_handler() -> None:
    """Without logging configured by the application, pleo_erp prints nothing (stdlib advice
    for libraries); the last-resort handler would otherwise write warnings to stderr."""
    handlers = logging.getLogger("pleo_erp").handlers
    assert any(isinstance(handler, logging.NullHandler) for handler in handlers)
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import logging, pleo_erp; logging.getLogger('pleo_erp.export').warning('boom')",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert out.stderr == ""
