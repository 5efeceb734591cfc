"""Shared helpers of the CLI tests (``tests/cli/``): run the CLI in-process, serve a sandbox."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pleo_erp.cli import run
from pleo_erp.testing.sandbox import PleoSandbox

SENTINEL = "sk_SENTINEL_do_not_print_0123456789"
"""A fake secret: tests assert it never appears in any output."""


@dataclass
class Result:
    """What one CLI run produced."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    @property
    def text(self) -> str:
        return self.out + self.err


def cli(
    tmp_path: Path, *argv: str, env: Mapping[str, str] | None = None, stdin: str = ""
) -> Result:
    """Run ``pleo-erp argv`` with an isolated environment, home and state database."""
    out, err = io.StringIO(), io.StringIO()
    environment = {"PLEO_STATE_DB": str(tmp_path / "state" / "state.db"), **(env or {})}
    code = run(
        list(argv),
        env=environment,
        stdin=io.StringIO(stdin),
        stdout=out,
        stderr=err,
        cwd=tmp_path,
        home=tmp_path / "home",
    )
    return Result(code, out.getvalue(), err.getvalue())


@dataclass
class Served:
    """A served demo sandbox and what tests need to drive it."""

    sandbox: PleoSandbox
    demo: Any
    base_url: str

    @property
    def company_id(self) -> str:
        return str(self.demo.company_id)

    def env(self, **extra: str) -> dict[str, str]:
        """``PLEO_*`` variables that point the CLI at this sandbox with its API key."""
        return {
            "PLEO_BASE_URL": self.base_url,
            "PLEO_API_KEY": self.sandbox.api_key,
            "PLEO_COMPANY_ID": self.company_id,
            **extra,
        }

    def writes(self) -> list[str]:
        """Every write the sandbox received (``METHOD path``): not GET, not a ``:search``."""
        return [
            f"{r.method} {r.path}"
            for r in self.sandbox.requests
            if r.method != "GET" and not r.path.endswith(":search")
        ]


@contextmanager
def served_demo(seed: int = 1) -> Iterator[Served]:
    """A sandbox seeded with the demo company, served on loopback."""
    sandbox = PleoSandbox(seed=seed)
    demo = sandbox.seed_demo()
    with sandbox.serve() as base_url:
        yield Served(sandbox, demo, base_url)


def make_ledger(tmp_path: Path, demo: Any, name: str = "ledger.beancount") -> Path:
    """A fresh Beancount ledger from the demo chart (connected to the demo company)."""
    from pleo_erp.adapters.beancount import create_ledger

    return create_ledger(
        tmp_path / "books" / name,
        demo.chart,
        currency=demo.currency,
        company_id=demo.company_id,
    )
