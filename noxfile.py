"""Developer sessions: `nox -s tests`, `lint`, `typecheck`, `docs`, `bench`, `demo`, `audit`,
`distributed`, `demo_distributed`.

Every session installs what it needs into its own virtualenv, so a fresh machine with only
Python >= 3.10 and pip (plus `pip install nox`) can run any of them.
"""

from __future__ import annotations

import os
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True

BENCHMARKS = [
    "benchmarks/bench_models.py",
    "benchmarks/bench_client.py",
    "benchmarks/bench_receipts.py",
    "benchmarks/bench_sandbox.py",
    "benchmarks/bench_export.py",
    "benchmarks/bench_memory.py",
    "benchmarks/bench_update_items.py",
    "benchmarks/bench_latency.py",
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
    """ruff check + ruff format --check + the layer contracts (`lint-imports`)."""
    session.install("ruff>=0.17,<0.18", "import-linter>=2.1,<3")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    # import-linter reads the sources (it imports nothing), so `src` on the path is enough;
    # the contracts are in pyproject.toml [tool.importlinter] (layer graph: docs/concepts.md).
    session.run("lint-imports", env={"PYTHONPATH": "src"})


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package, its tests and the examples (files in pyproject)."""
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


# A probe per service: the request pip-audit will make, for a package that certainly exists.
_ADVISORY_PROBES = {
    "pypi": ("https://pypi.org/pypi/pip/24.0/json", None),
    "osv": (
        "https://api.osv.dev/v1/query",
        b'{"package": {"name": "pip", "ecosystem": "PyPI"}, "version": "24.0"}',
    ),
}


def _advisory_service_problem(service: str) -> str | None:
    """Why the advisory service cannot answer from here, or ``None`` if it can."""
    import json
    import urllib.request

    url, body = _ADVISORY_PROBES[service]
    # Constant https URLs (above), never user input.
    request = urllib.request.Request(url, data=body, headers={"Accept": "application/json"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310
            document = json.load(response)
    except Exception as error:  # DNS, TLS, HTTP 4xx/5xx from a stand-in mirror, bad JSON
        return f"{url} did not answer ({type(error).__name__}: {error})"
    if service == "pypi" and "vulnerabilities" not in document:
        return f"{url} answered without vulnerability data (not PyPI's JSON API)"
    return None


@nox.session
def audit(session: nox.Session) -> None:
    """Dependency audit: `pip-audit` over everything `pip install pleo-erp[demo]` installs.

    Needs the advisory service (PyPI's JSON API, or OSV with `PIP_AUDIT_SERVICE=osv`), so it
    is not part of `.ci/run`, which must pass offline; run it where the network is. It never
    passes silently: an unreachable service fails the session with that reason, and
    `--strict` fails it for any dependency that could not be checked.
    """
    service = os.environ.get("PIP_AUDIT_SERVICE", "pypi")
    if service not in _ADVISORY_PROBES:
        session.error(f"PIP_AUDIT_SERVICE must be one of {sorted(_ADVISORY_PROBES)}")
    problem = _advisory_service_problem(service)
    if problem is not None:
        session.error(
            f"audit not run: the {service} advisory service cannot be reached from this "
            f"machine: {problem}; run `nox -s audit` where it can"
        )
    session.install("-e", ".[demo]")
    frozen = session.run(
        "python", "-m", "pip", "freeze", "--exclude-editable", silent=True, external=False
    )
    requirements = Path(session.create_tmp()) / "audit-requirements.txt"
    requirements.write_text(str(frozen))
    session.install("pip-audit>=2.7")
    session.run(
        "pip-audit",
        "--strict",
        "--no-deps",
        "--disable-pip",
        "--progress-spinner",
        "off",
        "--vulnerability-service",
        service,
        "--requirement",
        str(requirements),
    )


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
