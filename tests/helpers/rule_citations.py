"""Find Pleo rule citations in text and resolve them against the rules catalogue (docs/rules.md).

A citation is any of the forms documented at the top of ``docs/rules.md``: ``C21``, ``B14``,
``export-7``, ``tags-22``, ``tags-A5``, ``accounts-46``, ``accounts-gap-22``, ``export-gap-6``,
``erp-A6`` (or "erp-processing A6"), "accounts §A5" / "§B3", "export-api.md §5.2" / "tags §1.8",
and the prose forms "accounts rule
46", "tags rules 1–30", "export-api.md Part 3 rule 7", "Part 2 item 6". A bare "rule N" takes its
topic from the nearest topic word earlier on the same line, else from the topic the file named
last above it. The catalogue test (``tests/docs/test_rules_catalogue.py``), the ``--rule`` /
``--rules-report`` options of the root ``conftest.py`` and the one-off marker script all use this
one reading, so "what does rule 46 mean here" has exactly one answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "docs" / "rules.md"

_ANCHOR = re.compile(r'<a id="([a-z0-9-]+)"></a>')

_TOPIC_WORDS = re.compile(
    r"(?P<accounts>accounts-sync-and-auth|\baccounts(?:-sync)?(?=[ -](?:rules?\b|part\b|§|gap))"
    r"|\baccounts-\d)"
    r"|(?P<tags>tags-sync|\btags(?=[ -](?:rules?\b|part\b|§|gap|a\d))|\btags-\d)"
    r"|(?P<export>export-api|\bexport(?= rules?\b| part\b| §)|\bexport-(?:gap-)?\d)",
    re.IGNORECASE,
)
_NUMBERS = r"\d+(?:\s*(?:[–-]|,|/|\+|and)\s*\d+)*"
_PROSE_RULE = re.compile(rf"\b(?:[Rr]ules?|Part 3 #)\s*(?P<nums>{_NUMBERS})")
_PROSE_GAP = re.compile(rf"\bPart 2 (?:items?\s*|#)(?P<nums>{_NUMBERS})")
_LETTER = re.compile(r"(?<![§\w–-])(?P<letter>[CB])(?P<num>\d{1,2})\b")
_SECTION = re.compile(r"§(?P<l1>[AB])(?P<n1>\d{1,2})(?:\s*[-–]\s*(?P<l2>[AB])?(?P<n2>\d{1,2}))?\b")
# A numbered section of a topic ("export-api.md §5.2", "tags §1.8"); RFC sections are not ours.
_NUMBERED_SECTION = re.compile(r"(?<![\w.])§(?P<num>\d+(?:\.\d+)*)")
_ERP_SECTION = re.compile(r"\berp-processing(?:\.md)? (?P<list>A\d+(?:/A\d+)*)")
_ID = re.compile(
    r"\b(?P<id>(?:tags|accounts|export)-gap-\d+|(?:tags|accounts|export)-\d+|tags-A\d+|erp-A\d+)\b"
)
_MARKER = re.compile(r"mark\.rule\((?P<args>[^)]*)\)")
_MARKER_ARG = re.compile(r"""["']([^"']+)["']""")
_TEST_NAME = re.compile(r"def (test_\w+)")
# A bare A-number cites nothing resolvable (tags gap? accounts topic or rule? ERP section?).
_BARE_A = re.compile(r"(?<![§\w–-])A(?P<num>\d{1,2})\b(?! (?:PDF|page|paper))")
# Letter-prefixed prose ids of an older convention ("Rule E18", "Rules E3, A18").
_OLD_LETTER_RULE = re.compile(r"\b[Rr]ules? [AE]\d")


@dataclass(frozen=True)
class Citation:
    """One cited id at one place; ``anchor`` is its catalogue anchor, or ``None`` if ambiguous."""

    path: str
    line: int
    text: str
    anchor: str | None


def catalogue_anchors(path: Path = CATALOGUE) -> set[str]:
    """Every anchor (``c21``, ``accounts-46``, ``accounts-sa5`` …) the catalogue defines."""
    return set(_ANCHOR.findall(path.read_text(encoding="utf-8")))


def anchor_of(rule_id: str) -> str:
    """The catalogue anchor of a canonical id: ``C21`` → ``c21``, ``§A5`` → ``accounts-sa5``."""
    rid = rule_id.strip()
    if rid.startswith("§"):
        return "accounts-s" + rid[1:].lower()
    return rid.lower()


def _expand(nums: str) -> list[int]:
    """``"33–44"`` → 33..44; ``"8, 9 and 10"`` → [8, 9, 10]; ``"22/42"`` → [22, 42]."""
    out: list[int] = []
    for part in re.split(r"\s*(?:,|/|\+|and)\s*", nums):
        bounds = re.split(r"\s*[–-]\s*", part)
        if len(bounds) == 2 and bounds[0] and bounds[1]:
            out.extend(range(int(bounds[0]), int(bounds[1]) + 1))
        elif part:
            out.append(int(bounds[0]))
    return out


def _topic_before(line: str, pos: int, current: str | None) -> str | None:
    """The topic named last on ``line`` before ``pos``, else the file's current topic."""
    found = current
    for m in _TOPIC_WORDS.finditer(line):
        if m.start() >= pos:
            break
        found = m.lastgroup
    return found


def citations_in_text(text: str, path: str = "<text>") -> Iterator[Citation]:
    """Yield every rule citation of ``text`` with the anchor it resolves to (or ``None``)."""
    topic: str | None = None
    for lineno, line in enumerate(text.splitlines(), 1):

        def cite(raw: str, anchor: str | None, _lineno: int = lineno) -> Citation:
            return Citation(path, _lineno, raw, anchor)

        for m in _LETTER.finditer(line):
            yield cite(m.group(0), m.group(0).lower())
        name = _TEST_NAME.search(line)
        if name:
            for token in name.group(1).split("_"):
                if re.fullmatch(r"[cb]\d{1,2}", token):
                    yield cite(token, token)
            # ``test_rule_13_keeper`` cites "rule 13" of the file's topic.
            for m in re.finditer(r"_rules?_(\d+)(?=_|$)", name.group(1)):
                yield cite(m.group(0), f"{topic}-{m.group(1)}" if topic else None)
        for m in _SECTION.finditer(line):
            first, last = int(m["n1"]), int(m["n2"] or m["n1"])
            letter = m["l1"].lower()
            if m["l2"] and m["l2"] != m["l1"]:
                yield cite(m.group(0), None)
                continue
            for n in range(first, last + 1):
                yield cite(m.group(0), f"accounts-s{letter}{n}")
        if "RFC" not in line:
            for m in _NUMBERED_SECTION.finditer(line):
                where = _topic_before(line, m.start(), topic)
                if where is not None:  # with no topic at all, "see §3" is the page's own section
                    yield cite(m.group(0), f"{where}-s{m['num'].replace('.', '-')}")
        for m in _ERP_SECTION.finditer(line):
            for item in m["list"].split("/"):
                yield cite(item, "erp-" + item.lower())
        for m in _ID.finditer(line):
            yield cite(m["id"], m["id"].lower())
        for m in _MARKER.finditer(line):
            for arg in _MARKER_ARG.findall(m["args"]):
                yield cite(arg, anchor_of(arg))
        for m in _PROSE_RULE.finditer(line):
            where = _topic_before(line, m.start(), topic)
            for n in _expand(m["nums"]):
                yield cite(m.group(0), f"{where}-{n}" if where else None)
        for m in _PROSE_GAP.finditer(line):
            where = _topic_before(line, m.start(), topic)
            for n in _expand(m["nums"]):
                ok = where in ("export", "accounts")
                yield cite(m.group(0), f"{where}-gap-{n}" if ok else None)
        for m in _BARE_A.finditer(line):
            if not _ERP_SECTION.search(line[: m.end()]):
                yield cite(m.group(0), None)
        for m in _OLD_LETTER_RULE.finditer(line):
            yield cite(m.group(0), None)
        for m in _TOPIC_WORDS.finditer(line):
            topic = m.lastgroup
