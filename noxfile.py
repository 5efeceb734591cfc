"""Developer sessions: `nox -s tests`, `lint`, `typecheck`, `docs`, `bench`, `demo`, `distributed`,
`demo_distributed`.

Every session installs what it needs into its own virtualenv, so a fresh machine with only
Python >= 3.10 and pip (plus `pip install nox`) can run any of them.
"""

from __future__ import annotations

import os

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True

BENCHMARKS = [
    "benchmarks/bench_models.py",
    "benchmarks/bench_client.py",
    "benchmarks/bench_sandbox.py",
    "benchmarks/bench_export.py",
    "benchmarks/bench_sync.py",
    "benchmarks/bench_runtime.py",
]


@nox.session
def tests(session: nox.Session) -> None:
    """The full test suite (unit, wire, contract, property, end-to-end)."""
    session.install("-e", ".[test]")
    workers = os.environ.get("PYTEST_WORKERS", "auto")
    session.run("pytest", "-n", workers, "-q", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check + ruff format --check."""
    session.install("ruff>=0.17,<0.18")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package."""
    session.install("-e", ".[test]", "mypy>=2.4,<3", "types-PyYAML")
    session.run("mypy", "--strict")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site with `mkdocs build --strict`."""
    session.install("-e", ".[docs,demo]")
    session.run("mkdocs", "build", "--strict", "--site-dir", "site")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks: a report with numbers against their targets (not a pass/fail test)."""
    session.install("-e", ".[demo]")
    for script in session.posargs or BENCHMARKS:
        session.run("python", script)


@nox.session
def demo(session: nox.Session) -> None:
    """The reference integration end to end: sandbox + Beancount ledger + all three levels."""
    session.install("-e", ".[demo]")
    session.run("pleo-erp", "demo", *session.posargs)


@nox.session
def distributed(session: nox.Session) -> None:
    """Chaos test of the distributed runtime: Postgres + Redis + Celery workers vs the sandbox.

    Starts its own PostgreSQL and redis-server on loopback (installed with apt when missing and
    running as root), 4 workers and 2 beats; kills, pauses and restarts them; checks that every
    entry was posted exactly once. Bounded to a few minutes; ``-- --seed N`` reproduces a run.
    """
    session.install("-e", ".[distributed]")
    session.run("python", "tests/distributed/chaos.py", *(session.posargs or ["--seed", "1"]))


@nox.session(name="demo_distributed")
def demo_distributed(session: nox.Session) -> None:
    """The distributed runtime on one machine: Postgres, Redis, sandbox, 2 workers, scheduler."""
    session.install("-e", ".[distributed]")
    session.run("pleo-erp", "demo-distributed", *session.posargs)
