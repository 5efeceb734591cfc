"""Regenerate the OpenAPI specs the package ships, from the YAML vendored in ``tests/specs``.

Pleo's specs (YAML) are vendored in ``tests/specs/pleo-openapi/``. The sandbox and the model
tests read them as JSON from ``src/pleo_erp/testing/sandbox/specs/<name>.json``, so that an
installed package works without YAML or the test tree. The content is converted, not edited:
fix-ups for validators belong to the code that reads the files. To take a newer release of
Pleo's specs, replace the vendored YAML (or pass ``--source DIR``) and run this script.

Usage::

    python scripts/sync_specs.py            # rewrite the JSON copies
    python scripts/sync_specs.py --check    # exit 1 if a copy is missing or out of date
    python scripts/sync_specs.py --source DIR --target DIR
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO_ROOT / "tests" / "specs" / "pleo-openapi"
DEFAULT_TARGET = REPO_ROOT / "src" / "pleo_erp" / "testing" / "sandbox" / "specs"


def render(spec_path: Path) -> str:
    """The JSON text shipped for one YAML spec (stable: same input, same bytes)."""
    document: Any = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


def sync(source: Path, target: Path, *, check: bool) -> list[str]:
    """Write (or, with ``check``, compare) every ``*.yml`` of ``source``; returns the names
    that were out of date."""
    specs = sorted(source.glob("*.yml"))
    if not specs:
        raise FileNotFoundError(f"no *.yml specs in {source}")
    stale = []
    if not check:
        target.mkdir(parents=True, exist_ok=True)
    for spec in specs:
        out = target / f"{spec.stem}.json"
        text = render(spec)
        current = out.read_text(encoding="utf-8") if out.exists() else None
        if current != text:
            stale.append(out.name)
            if not check:
                out.write_text(text, encoding="utf-8")
    return stale


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description="Sync the shipped JSON copies of Pleo's specs.")
    parser.add_argument(
        "--source", type=Path, default=DEFAULT_SOURCE, help="directory of Pleo's *.yml specs"
    )
    parser.add_argument("--target", type=Path, default=DEFAULT_TARGET)
    parser.add_argument("--check", action="store_true", help="only report stale copies")
    args = parser.parse_args(argv)
    stale = sync(args.source, args.target, check=args.check)
    if args.check:
        for name in stale:
            print(f"out of date: {name}", file=sys.stderr)
        return 1 if stale else 0
    print(f"{len(stale)} spec(s) written to {args.target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
