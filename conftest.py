"""Repository-wide pytest configuration (applies to tests/ and examples/).

Hypothesis runs derandomized under CI (``CI`` set), so a CI run is reproducible and cannot
fail on an example no one can replay; locally it explores new examples on every run.

Rule traceability (docs/rules.md): a test marked ``@pytest.mark.rule("C21", "B14")`` checks
those Pleo rules. ``pytest --rule C21`` runs only the tests marked with C21 (repeatable, ids
are case-insensitive); ``pytest --rules-report`` lists, per rule id, the tests that cite it and
runs nothing. An id the catalogue does not define is a usage error, never an empty selection.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)


_RULES_CATALOGUE = Path(__file__).resolve().parent / "docs" / "rules.md"
_RULES_REPORT = pytest.StashKey[dict[str, list[str]]]()


def _rule_key(rule_id: str) -> str:
    """The catalogue anchor of a rule id: ``C21`` → ``c21``, ``§A5`` → ``accounts-sa5``."""
    rid = rule_id.strip()
    if rid.startswith("§"):
        return "accounts-s" + rid[1:].lower()
    return rid.lower()


def _known_rules() -> set[str] | None:
    """Every id docs/rules.md defines, or ``None`` when the catalogue is not there."""
    if not _RULES_CATALOGUE.is_file():
        return None
    return set(re.findall(r'<a id="([a-z0-9-]+)"></a>', _RULES_CATALOGUE.read_text("utf-8")))


def _rule_display(key: str) -> str:
    """The id as docs/rules.md writes it: ``c21`` → ``C21``, ``accounts-sa5`` → ``§A5``."""
    if re.fullmatch(r"[cb]\d+", key):
        return key.upper()
    if key.startswith("accounts-s") and key[10:11] in ("a", "b"):
        return "§" + key[10:].upper()
    return re.sub(r"^(tags|erp)-a(\d+)$", r"\1-A\2", key)


def _rule_sort_key(key: str) -> tuple[str, int, str]:
    """Order ids by topic prefix, then numerically (``c2`` before ``c10``)."""
    m = re.fullmatch(r"(.*?)(\d+)", key)
    return (m.group(1), int(m.group(2)), key) if m else (key, 0, key)


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--rule ID`` (repeatable) and ``--rules-report``."""
    group = parser.getgroup("rules", "Pleo rule traceability (docs/rules.md)")
    group.addoption(
        "--rule",
        action="append",
        default=[],
        metavar="ID",
        help="run only the tests marked @pytest.mark.rule(ID); repeat for several rules",
    )
    group.addoption(
        "--rules-report",
        action="store_true",
        default=False,
        help="list, per rule id, the tests that cite it (with --rule: only those ids); "
        "runs no test",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``rule`` marker (also listed in pyproject.toml)."""
    config.addinivalue_line(
        "markers", "rule(*ids): the Pleo rule ids (docs/rules.md) this test checks"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Check every ``rule`` marker id, then apply ``--rule`` and ``--rules-report``."""
    known = _known_rules()
    wanted = {_rule_key(r) for r in config.getoption("rule")}
    problems = [f"--rule {r}" for r in sorted(wanted) if known is not None and r not in known]
    cited: dict[str, set[str]] = {}
    for item in items:
        keys: set[str] = set()
        for mark in item.iter_markers("rule"):
            if not mark.args:
                problems.append(f"{item.nodeid}: @pytest.mark.rule() without an id")
            for arg in mark.args:
                if not isinstance(arg, str) or (known is not None and _rule_key(arg) not in known):
                    problems.append(f"{item.nodeid}: rule {arg!r}")
                    continue
                keys.add(_rule_key(arg))
        cited[item.nodeid] = keys
    if problems:
        raise pytest.UsageError(
            "unknown rule id(s), not in docs/rules.md:\n  " + "\n  ".join(problems)
        )
    if wanted:
        keep = [i for i in items if cited[i.nodeid] & wanted]
        dropped = [i for i in items if not cited[i.nodeid] & wanted]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
        items[:] = keep
    if config.getoption("rules_report"):
        report: dict[str, list[str]] = {}
        for item in items:
            for key in cited[item.nodeid]:
                # One line per test function: parametrized cases cite the same rules.
                nodeid = item.nodeid.split("[", 1)[0]
                if wanted and key not in wanted:
                    continue
                tests = report.setdefault(key, [])
                if nodeid not in tests:
                    tests.append(nodeid)
        config.stash[_RULES_REPORT] = report
        if items:
            config.hook.pytest_deselected(items=list(items))
        items[:] = []


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    """Print the ``--rules-report`` listing: each rule id, then the tests citing it."""
    report = config.stash.get(_RULES_REPORT, None)
    if report is None:
        return
    tests = {t for ts in report.values() for t in ts}
    terminalreporter.section("rules report")
    terminalreporter.write_line(
        f"{len(report)} rule ids cited by {len(tests)} tests (docs/rules.md)"
    )
    for key in sorted(report, key=_rule_sort_key):
        terminalreporter.write_line(f"{_rule_display(key)} ({len(report[key])})")
        for nodeid in sorted(report[key]):
            terminalreporter.write_line(f"    {nodeid}")


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """``--rules-report`` runs nothing on purpose: that is success, not "no tests collected"."""
    if (
        session.config.getoption("rules_report")
        and exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED
    ):
        session.exitstatus = pytest.ExitCode.OK
