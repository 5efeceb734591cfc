"""CLI output: plain tables when not on a terminal, rich when asked, one JSON document with
``--json``, secrets scrubbed from every line."""

from __future__ import annotations

import io
import json

import pytest

from pleo_erp.cli._output import Output

SENTINEL = "sk_SENTINEL_do_not_print_0123456789"


def _output(**kwargs: object) -> tuple[Output, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return Output(stdout=out, stderr=err, **kwargs), out, err  # type: ignore[arg-type]


def test_plain_table_is_aligned() -> None:
    output, out, _ = _output()
    assert not output.fancy  # a StringIO is not a terminal
    output.table("Counts", ["objects", "create"], [["tax codes", 1], ["accounts", 12]])
    lines = out.getvalue().splitlines()
    assert lines[0] == "Counts"
    assert lines[1].split() == ["objects", "create"]
    assert lines[3].split() == ["tax", "codes", "1"]
    # Columns start at the same offset on every row.
    assert lines[1].index("create") == lines[3].index("1") == lines[4].index("12")


def test_empty_table_says_so() -> None:
    output, out, _ = _output()
    output.table("Plan", ["action"], [], empty="nothing to do")
    assert out.getvalue() == "Plan\n  nothing to do\n"


def test_rich_table_on_request() -> None:
    pytest.importorskip("rich")
    output, out, _ = _output(fancy=True)
    output.table("Counts", ["objects", "create"], [["accounts", 12]])
    text = out.getvalue()
    assert "accounts" in text
    assert "12" in text


def test_secrets_are_scrubbed_everywhere() -> None:
    output, out, err = _output()
    output.add_secret(SENTINEL, None, "short")
    output.line(f"key is {SENTINEL}")
    output.table(None, ["k"], [[SENTINEL]])
    output.pairs(None, [("key", SENTINEL)])
    output.warn(f"w {SENTINEL}")
    output.error(f"e {SENTINEL}", hint=f"h {SENTINEL}")
    text = out.getvalue() + err.getvalue()
    assert SENTINEL not in text
    assert text.count("***") == 6
    # Too-short values are not treated as secrets (they would garble ordinary words).
    assert output.scrub("short") == "short"


def test_longest_secret_is_scrubbed_first() -> None:
    output, _, _ = _output()
    output.add_secret("abcdef", "abcdefghij")
    assert output.scrub("xabcdefghijx") == "x***x"


def test_json_mode_prints_only_the_document() -> None:
    output, out, err = _output(json_mode=True)
    output.add_secret(SENTINEL)
    output.line("human text")
    output.heading("heading")
    output.table("t", ["a"], [["b"]])
    with output.progress("work", 3) as update:
        update(3, 3)
    output.note("a note")
    output.emit({"ok": True, "key": SENTINEL, "n": 1})
    assert json.loads(out.getvalue()) == {"ok": True, "key": "***", "n": 1}
    assert err.getvalue() == "a note\n"


def test_plain_progress_prints_one_summary_line() -> None:
    output, out, _ = _output()
    with output.progress("exporting", 0) as update:
        for done in range(1, 6):
            update(done, 5)
    text = out.getvalue()
    assert text.count("\n") == 1
    assert "exporting: 5/5 in" in text


def test_verbose_details() -> None:
    quiet, quiet_out, _ = _output()
    quiet.detail("hidden")
    loud, loud_out, _ = _output(verbose=True)
    loud.detail("shown")
    assert quiet_out.getvalue() == ""
    assert loud_out.getvalue() == "shown\n"


def test_wrapped_prose_fits_the_width_and_keeps_every_word() -> None:
    output, out, _ = _output(width=60)
    text = " ".join(f"word{n}" for n in range(40))
    output.wrapped(text, indent=4)
    lines = out.getvalue().splitlines()
    assert len(lines) > 1
    assert all(len(line) <= 60 and line.startswith("    word") for line in lines)
    assert " ".join(line.strip() for line in lines) == text


def test_width_defaults_to_100_off_a_terminal_and_never_gets_tiny() -> None:
    assert _output()[0].width == 100
    assert _output(width=132)[0].width == 132
    assert _output(width=5)[0].width == 40


def test_width_from_env_reads_columns() -> None:
    from pleo_erp.cli._output import width_from_env

    assert width_from_env({"COLUMNS": "80"}) == 80
    assert width_from_env({}) is None
    assert width_from_env({"COLUMNS": "wide"}) is None
    assert width_from_env({"COLUMNS": "0"}) is None


def test_a_secret_is_scrubbed_before_wrapping_could_split_it() -> None:
    output, out, _ = _output(width=40)
    secret = "correct horse battery staple"  # a passphrase: wrapping may break at its spaces
    output.add_secret(secret)
    output.wrapped(f"{'a ' * 15}{secret} " * 3)
    text = out.getvalue()
    for word in ("horse", "battery", "staple"):
        assert word not in text
    assert text.count("***") == 3


def test_commands_are_never_wrapped_even_by_rich() -> None:
    pytest.importorskip("rich")
    command = "/a/long/path/bin/python -m pip install fava && /a/long/path/bin/fava " + "x" * 80
    for fancy in (False, True):
        output, out, _ = _output(fancy=fancy, width=60)
        output.command(command)
        assert out.getvalue() == f"    {command}\n"
