"""Every rule citation in the repository resolves in ``docs/rules.md`` (issue 12, item 9).

Code, tests and docs cite Pleo's rules by id (``C21``, ``B14``, "accounts rule 46"). The
catalogue states each one in our words with its page on developers.pleo.io; these tests keep
every citation pointing at an entry, and check the ``--rule`` / ``--rules-report`` options of
the root ``conftest.py`` (item 8) in a throw-away pytest run.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers.rule_citations import (
    CATALOGUE,
    ROOT,
    anchor_of,
    catalogue_anchors,
    citations_in_text,
)

pytest_plugins = ["pytester"]

#: This file and the reader hold example citations on purpose.
_SELF = {Path(__file__).resolve(), (ROOT / "tests" / "helpers" / "rule_citations.py").resolve()}
#: Where a user or contributor meets citations.
_SCANNED = ("src", "tests", "docs", "examples")


def _scanned_files() -> list[Path]:
    files = [ROOT / "README.md"]
    for top in _SCANNED:
        files += sorted(p for p in (ROOT / top).rglob("*") if p.suffix in (".py", ".md"))
    return [p for p in files if p.resolve() not in _SELF and p.resolve() != CATALOGUE]


def test_every_citation_in_the_repository_resolves() -> None:
    anchors = catalogue_anchors()
    unresolved = [
        f"{c.path}:{c.line}: {c.text!r} → "
        + (c.anchor or "ambiguous: name the topic (docs/rules.md, 'Id scheme')")
        for path in _scanned_files()
        for c in citations_in_text(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
        if c.anchor not in anchors
    ]
    assert not unresolved, "rule citations not in docs/rules.md:\n" + "\n".join(unresolved)


def test_nothing_points_at_the_private_research_notes() -> None:
    notes = re.compile(r"reference/(?:export-api|erp-processing|tags-sync|accounts-sync-and-auth)")
    hits = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in _scanned_files()
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if notes.search(line)
    ]
    assert not hits, f"point at docs/rules.md instead: {hits}"


def test_catalogue_defines_every_numbered_rule_once() -> None:
    text = CATALOGUE.read_text(encoding="utf-8")
    ids = re.findall(r'<a id="([a-z0-9-]+)"></a>', text)
    assert len(ids) == len(set(ids)), "duplicate anchors"
    expected = (
        [f"c{n}" for n in range(1, 29)]
        + [f"b{n}" for n in range(1, 21)]
        + [f"export-{n}" for n in range(1, 23)]
        + [f"export-gap-{n}" for n in range(1, 37)]
        + [f"tags-{n}" for n in range(1, 31)]
        + [f"tags-a{n}" for n in range(1, 20)]
        + [f"accounts-{n}" for n in range(1, 51)]
        + [f"accounts-gap-{n}" for n in range(1, 27)]
        + [f"accounts-s{x}{n}" for x in "ab" for n in range(1, 12)]
        + [f"erp-a{n}" for n in range(1, 13)]
        + [f"export-s{n}" for n in range(1, 10)]
        + [f"export-s4-{n}" for n in range(1, 9)]
        + [f"export-s5-{n}" for n in range(1, 5)]
        + [f"tags-s1-{n}" for n in range(1, 11)]
        + [f"tags-s2-{n}" for n in range(1, 5)]
    )
    assert sorted(ids) == sorted(expected)


def test_every_entry_names_a_public_pleo_source_page() -> None:
    text = CATALOGUE.read_text(encoding="utf-8")
    links = dict(re.findall(r"^\[([a-z0-9-]+)\]: (\S+)$", text, re.M))
    assert all(
        url.startswith(("https://developers.pleo.io/", "https://updates.pleo.io/"))
        for url in links.values()
    ), links
    used = set(re.findall(r"\]\[([a-z0-9-]+)\]", text))
    assert used <= set(links), f"undefined source links: {sorted(used - set(links))}"
    assert set(links) <= used, f"unused source links: {sorted(set(links) - used)}"
    # Each entry (a list item or a table row with an anchor) carries at least one source link.
    entries = re.split(r"(?=^- <a id=|^\| <a id=)", text, flags=re.M)[1:]
    assert len(entries) == len(re.findall(r'<a id="', text))
    for entry in entries:
        body = entry.split("\n\n")[0].split("\n## ")[0]
        if body.startswith("|"):
            body = body.split("\n")[0]
        assert re.search(r"\]\[[a-z0-9-]+\]", body), body[:80]


def test_catalogue_is_in_the_docs_nav() -> None:
    assert "rules.md" in (ROOT / "mkdocs.yml").read_text(encoding="utf-8")


# ---- the reader ---------------------------------------------------------------------------


def _anchors(text: str) -> list[str | None]:
    return [c.anchor for c in citations_in_text(text)]


def test_letter_ids_and_canonical_ids() -> None:
    assert _anchors("rules C11, B14; see export-7, tags-22, tags-A5, accounts-gap-22") == [
        "c11",
        "b14",
        "export-7",
        "tags-22",
        "tags-a5",
        "accounts-gap-22",
    ]
    assert _anchors("def test_c11_b14_reverse_charge():") == ["c11", "b14"]
    assert _anchors("accounts §A6-A7, erp-processing A2/A7") == [
        "accounts-sa6",
        "accounts-sa7",
        "erp-a2",
        "erp-a7",
    ]


def test_bare_rule_takes_the_topic_named_on_its_line_then_in_the_file() -> None:
    text = "(tags rule 22, accounts rule 42)\nfirst (rule 12), then rules 13–14\n"
    assert _anchors(text) == ["tags-22", "accounts-42", "accounts-12", "accounts-13", "accounts-14"]
    assert _anchors("export-api.md Part 3 #6; Part 2 item 4-5") == [
        "export-6",
        "export-gap-4",
        "export-gap-5",
    ]
    assert _anchors("Rules 45 + 50 (accounts)") == [None, None]  # topic after: not known yet


def test_numbered_sections_take_their_topic() -> None:
    assert _anchors("(export-api.md §7 and tags-sync §1.8)") == ["export-s7", "tags-s1-8"]
    assert _anchors("export-api.md §4, §8\nreads do not (§5.2)") == [
        "export-s4",
        "export-s8",
        "export-s5-2",
    ]


def test_ambiguous_forms_resolve_to_nothing() -> None:
    assert _anchors("a bare rule 46") == [None]
    assert _anchors("case of codes (A5)") == [None]
    assert _anchors("Rule E18: retries") == [None]
    assert _anchors("a one-page A4 PDF") == []
    assert _anchors("see §3 below; RFC 6749 §4.1.2") == []  # the page's own section, an RFC


def test_marker_ids_are_read_from_the_marker() -> None:
    marked = _anchors('@pytest.mark.rule("C21", "accounts-46", "§B3")')
    assert set(marked) == {"c21", "accounts-46", "accounts-sb3"}
    assert anchor_of("§A5") == "accounts-sa5"
    assert anchor_of("tags-A5") == "tags-a5"


# ---- the --rule / --rules-report options ---------------------------------------------------

_SAMPLE_TESTS = """
import pytest

@pytest.mark.rule("C21")
def test_closed_period():
    pass

@pytest.mark.rule("c21", "accounts-46")
def test_both():
    pass

@pytest.mark.rule("accounts-46")
def test_limiter():
    pass

def test_unmarked():
    pass
"""


@pytest.fixture
def rules_pytester(pytester: pytest.Pytester) -> pytest.Pytester:
    """A throw-away project with the repository's root conftest and a two-rule catalogue."""
    pytester.makeconftest((ROOT / "conftest.py").read_text(encoding="utf-8"))
    docs = pytester.path / "docs"
    docs.mkdir()
    (docs / "rules.md").write_text(
        '- <a id="c21"></a>**C21** — x\n- <a id="accounts-46"></a>**accounts-46** — y\n',
        encoding="utf-8",
    )
    pytester.makeini("[pytest]\naddopts = --strict-markers -p no:cacheprovider\n")
    pytester.makepyfile(test_sample=_SAMPLE_TESTS)
    return pytester


def test_rule_option_runs_only_the_marked_tests(rules_pytester: pytest.Pytester) -> None:
    result = rules_pytester.runpytest("--rule", "C21", "-v")
    result.assert_outcomes(passed=2, deselected=2)
    result.stdout.fnmatch_lines(["*test_closed_period PASSED*", "*test_both PASSED*"])

    both = rules_pytester.runpytest("--rule", "c21", "--rule", "ACCOUNTS-46")
    both.assert_outcomes(passed=3, deselected=1)


def test_rules_report_lists_tests_per_rule_and_runs_nothing(
    rules_pytester: pytest.Pytester,
) -> None:
    result = rules_pytester.runpytest("--rules-report")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "*rules report*",
            "2 rule ids cited by 3 tests*",
            "accounts-46 (2)",
            "    test_sample.py::test_both",
            "    test_sample.py::test_limiter",
            "C21 (2)",
            "    test_sample.py::test_both",
            "    test_sample.py::test_closed_period",
        ]
    )
    assert "passed" not in result.stdout.str()

    one = rules_pytester.runpytest("--rules-report", "--rule", "accounts-46")
    one.stdout.fnmatch_lines(["1 rule ids cited by 2 tests*"])
    assert "C21 (" not in one.stdout.str()


def test_unknown_rule_ids_are_usage_errors(rules_pytester: pytest.Pytester) -> None:
    typo = rules_pytester.runpytest("--rule", "C99")
    assert typo.ret == pytest.ExitCode.USAGE_ERROR
    typo.stderr.fnmatch_lines(["*unknown rule id*", "*--rule c99*"])

    rules_pytester.makepyfile(
        test_bad='import pytest\n\n@pytest.mark.rule("X1")\ndef test_x():\n    pass\n'
    )
    bad_marker = rules_pytester.runpytest()
    assert bad_marker.ret == pytest.ExitCode.USAGE_ERROR
    bad_marker.stderr.fnmatch_lines(["*test_bad.py::test_x: rule 'X1'*"])
