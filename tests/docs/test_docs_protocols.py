"""``docs/reference/protocols.md`` lists every public method of every adapter protocol (issue 11).

The page is written by hand so it reads in the repository; this test keeps it from drifting:
each protocol method has a heading and a ``text`` block with its exact current signature.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from pleo_erp.accounting_system import (
    AccountSource,
    AsyncAccountSource,
    AsyncDimensionSource,
    AsyncExportTarget,
    AsyncTaxCodeSource,
    DimensionSource,
    ExportTarget,
    TaxCodeSource,
)

PAGE = Path(__file__).resolve().parents[2] / "docs" / "reference" / "protocols.md"
PROTOCOLS = (
    ExportTarget,
    AsyncExportTarget,
    DimensionSource,
    AccountSource,
    TaxCodeSource,
    AsyncDimensionSource,
    AsyncAccountSource,
    AsyncTaxCodeSource,
)
#: Listed together in one section each, method signatures only.
ASYNC_TWINS = (AsyncExportTarget, AsyncDimensionSource, AsyncAccountSource, AsyncTaxCodeSource)


def public_methods(protocol: type) -> list[str]:
    return [
        name
        for name, member in vars(protocol).items()
        if not name.startswith("_") and inspect.isfunction(member)
    ]


def signature_line(protocol: type, name: str) -> str:
    """``name(self, arg: T) -> R`` as the page writes it (``async`` first for coroutines)."""
    function = vars(protocol)[name]
    text = f"{name}{inspect.signature(function)}"
    text = re.sub(r"'([^']*)'", r"\1", text)  # postponed annotations are strings
    return f"async {text}" if inspect.iscoroutinefunction(function) else text


CASES = [(p, name) for p in PROTOCOLS for name in public_methods(p)]


def test_there_is_something_to_check() -> None:
    assert len(CASES) >= 9 + 9 + 4
    assert "post" in public_methods(ExportTarget)


@pytest.mark.parametrize(("protocol", "name"), CASES, ids=lambda v: getattr(v, "__name__", v))
def test_every_protocol_method_is_listed_with_its_signature(protocol: type, name: str) -> None:
    page = PAGE.read_text(encoding="utf-8")
    assert signature_line(protocol, name) in page, (
        f"docs/reference/protocols.md lacks {protocol.__name__}.{name}: "
        f"{signature_line(protocol, name)}"
    )


@pytest.mark.parametrize(
    ("protocol", "name"),
    [(p, n) for p, n in CASES if p not in ASYNC_TWINS],
    ids=lambda v: getattr(v, "__name__", v),
)
def test_every_method_has_its_own_section(protocol: type, name: str) -> None:
    page = PAGE.read_text(encoding="utf-8")
    heading = f"### `{name}`" if protocol is ExportTarget else f"### `{protocol.__name__}.{name}`"
    assert heading in page
    section = page.split(heading, 1)[1].split("\n### ", 1)[0]
    assert "**When:**" in section
    assert "Raise" in section or "raise" in section or "Returns" in section


def test_the_page_is_in_the_site_nav() -> None:
    nav = (PAGE.parents[2] / "mkdocs.yml").read_text(encoding="utf-8")
    assert "reference/protocols.md" in nav
