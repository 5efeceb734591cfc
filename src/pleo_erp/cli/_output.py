"""Human and machine output: rich tables and progress bars on a terminal, plain text elsewhere,
one JSON document with ``--json``.

Every line passes through :meth:`Output.scrub`, which replaces each known secret value by
``***``, so even an unexpected exception text cannot print a credential. Errors and warnings go
to stderr; results go to stdout (in ``--json`` mode stdout carries the JSON document only).
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

from pleo_erp.cli._config import MASK

__all__ = ["DEFAULT_WIDTH", "Output", "ProgressUpdate", "rich_available", "width_from_env"]

DEFAULT_WIDTH = 100
"""Columns to wrap prose to when the output is not a terminal and ``COLUMNS`` is not set."""

# Narrower than this, wrapped prose would be a word per line: wrap at this width instead.
_MIN_WIDTH = 40

ProgressUpdate = Callable[[int, int], None]
"""``update(done, total)``: advance a progress bar (``total`` may grow as work is discovered)."""

# Secrets shorter than this are not scrubbed: replacing "a" everywhere would garble output,
# and no real credential is this short.
_MIN_SECRET_LENGTH = 6


def rich_available() -> bool:
    """Whether the optional ``rich`` package (the ``cli`` extra) is importable."""
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


class Output:
    """Where a command writes: stdout for results, stderr for problems.

    Args:
        json_mode: ``--json``: only :meth:`emit` writes to stdout.
        stdout / stderr: the streams (tests pass ``capsys``'s).
        fancy: force rich on or off; default: rich if installed and stdout is a terminal.
        verbose: show :meth:`detail` lines.
        width: columns to wrap prose to (:meth:`wrapped`); default: the terminal's width,
            else :data:`DEFAULT_WIDTH`.
    """

    def __init__(
        self,
        *,
        json_mode: bool = False,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
        fancy: bool | None = None,
        verbose: bool = False,
        width: int | None = None,
    ) -> None:
        self.json_mode = json_mode
        self.stdout = stdout if stdout is not None else sys.stdout
        self.stderr = stderr if stderr is not None else sys.stderr
        self.verbose = verbose
        self._width = width
        if fancy is None:
            fancy = not json_mode and rich_available() and _isatty(self.stdout)
        self.fancy = fancy
        self._secrets: set[str] = set()
        self._console: Any = None
        if self.fancy:
            from rich.console import Console

            self._console = Console(file=self.stdout, highlight=False, soft_wrap=False, width=width)

    # ---- secrecy ----------------------------------------------------------------------------

    def add_secret(self, *values: str | None) -> None:
        """Remember values that must never be printed."""
        for value in values:
            if value and len(value.strip()) >= _MIN_SECRET_LENGTH:
                self._secrets.add(value.strip())

    def scrub(self, text: str) -> str:
        """``text`` with every remembered secret replaced by ``***`` (longest first)."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    # ---- human output -----------------------------------------------------------------------

    def line(self, text: str = "", *, style: str | None = None) -> None:
        """A line of human output on stdout (nothing in ``--json`` mode)."""
        if self.json_mode:
            return
        text = self.scrub(text)
        if self._console is not None:
            from rich.text import Text

            self._console.print(Text(text, style=style or ""))
        else:
            print(text, file=self.stdout)

    @property
    def width(self) -> int:
        """Columns available for a line: as given, else the terminal's, else 100."""
        if self._width is not None:
            width = self._width
        elif self._console is not None:
            width = int(self._console.width)
        else:
            width = _stream_columns(self.stdout) or DEFAULT_WIDTH
        return max(width, _MIN_WIDTH)

    def wrapped(self, text: str, *, indent: int = 2, hanging: int | None = None) -> None:
        """``text`` as lines wrapped to :attr:`width`, indented (later lines by ``hanging``).

        Secrets are scrubbed *before* wrapping, so a line break cannot split one into parts
        that :meth:`scrub` would no longer recognise.
        """
        if self.json_mode:
            return
        later = indent if hanging is None else hanging
        lines = textwrap.wrap(
            self.scrub(text),
            width=self.width,
            initial_indent=" " * indent,
            subsequent_indent=" " * later,
            break_long_words=False,
            break_on_hyphens=False,
        )
        for line in lines:
            self.line(line)

    def command(self, text: str, *, indent: int = 4) -> None:
        """A shell command to copy: one line, never wrapped (the terminal folds it if long)."""
        if self.json_mode:
            return
        text = " " * indent + self.scrub(text)
        if self._console is not None:
            from rich.text import Text

            self._console.print(Text(text), soft_wrap=True)
        else:
            print(text, file=self.stdout)

    def heading(self, text: str) -> None:
        """A section title."""
        if self.json_mode:
            return
        if self._console is not None:
            self.line()
            self.line(text, style="bold")
        else:
            self.line()
            self.line(f"== {text} ==")

    def detail(self, text: str) -> None:
        """A line shown only with ``--verbose``."""
        if self.verbose:
            self.line(text)

    def note(self, text: str) -> None:
        """Information that is not the result (goes to stderr in ``--json`` mode)."""
        if self.json_mode:
            print(self.scrub(text), file=self.stderr)
        else:
            self.line(text)

    def warn(self, text: str) -> None:
        """A warning on stderr."""
        print(self.scrub(f"pleo-erp: warning: {text}"), file=self.stderr)

    def error(self, text: str, hint: str | None = None) -> None:
        """An error (and what to do about it) on stderr."""
        print(self.scrub(f"pleo-erp: error: {text}"), file=self.stderr)
        if hint:
            print(self.scrub(f"pleo-erp: hint: {hint}"), file=self.stderr)

    def table(
        self,
        title: str | None,
        columns: Sequence[str],
        rows: Sequence[Sequence[object]],
        *,
        empty: str = "(none)",
    ) -> None:
        """A table: rich on a terminal, aligned plain text otherwise."""
        if self.json_mode:
            return
        cells = [[self.scrub("" if c is None else str(c)) for c in row] for row in rows]
        if self._console is not None:
            from rich.table import Table

            table = Table(title=title, title_justify="left", show_lines=False)
            for column in columns:
                numeric = column.lower() in _NUMERIC_COLUMNS
                table.add_column(column, justify="right" if numeric else "left")
            for row in cells:
                table.add_row(*row)
            if not cells:
                self.line(f"{title}: {empty}" if title else empty)
                return
            self._console.print(table)
            return
        if title:
            self.line(title)
        if not cells:
            self.line(f"  {empty}")
            return
        widths = [len(c) for c in columns]
        for row in cells:
            for index, cell in enumerate(row):
                widths[index] = max(widths[index], len(cell))
        self.line(
            "  " + "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()
        )
        self.line("  " + "  ".join("-" * w for w in widths))
        for row in cells:
            self.line(
                "  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            )

    def pairs(self, title: str | None, items: Sequence[tuple[str, object]]) -> None:
        """``key: value`` lines under an optional title."""
        if self.json_mode:
            return
        if title:
            self.line(title)
        width = max((len(k) for k, _ in items), default=0)
        for key, value in items:
            self.line(f"  {key.ljust(width)}  {'' if value is None else value}")

    @contextmanager
    def progress(self, description: str, total: int = 0) -> Iterator[ProgressUpdate]:
        """A progress bar for a long step; yields ``update(done, total)``.

        On a terminal with rich: a live bar (transient). Elsewhere: silent while running,
        then one line with the count and the time taken (nothing in ``--json`` mode).
        """
        started = time.monotonic()
        state = {"done": 0, "total": total}
        if self._console is None:

            def plain_update(done: int, new_total: int) -> None:
                state["done"], state["total"] = done, max(new_total, done)

            yield plain_update
            if not self.json_mode and state["total"]:
                elapsed = time.monotonic() - started
                self.line(f"  {description}: {state['done']}/{state['total']} in {elapsed:.1f}s")
            return

        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        bar = Progress(
            TextColumn("  {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self._console,
            transient=True,
        )
        task = bar.add_task(self.scrub(description), total=total or None)

        def rich_update(done: int, new_total: int) -> None:
            state["done"], state["total"] = done, max(new_total, done)
            bar.update(task, completed=done, total=state["total"] or None)

        with bar:
            yield rich_update
        if state["total"]:
            elapsed = time.monotonic() - started
            self.line(f"  {description}: {state['done']}/{state['total']} in {elapsed:.1f}s")

    # ---- machine output ---------------------------------------------------------------------

    def emit(self, document: Mapping[str, Any]) -> None:
        """Write the command's one JSON document to stdout (only in ``--json`` mode)."""
        if not self.json_mode:
            return
        text = json.dumps(document, indent=2, sort_keys=False, default=_json_default)
        print(self.scrub(text), file=self.stdout)
        self.stdout.flush()


_NUMERIC_COLUMNS = frozenset(
    {"create", "update", "rename", "unarchive", "archive", "noop", "failed", "items"}
    | {"successful", "requests", "time", "count", "planned", "applied", "seconds", "skipped"}
)


def _json_default(value: object) -> object:
    """JSON for the odd value reports carry: enums, UUIDs, dates, Decimals, paths, sets."""
    if hasattr(value, "value") and not callable(value.value):
        return value.value
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def width_from_env(env: Mapping[str, str]) -> int | None:
    """The ``COLUMNS`` setting of ``env`` as a width, or ``None`` when unset or not a number."""
    try:
        columns = int(env.get("COLUMNS", ""))
    except ValueError:
        return None
    return columns if columns > 0 else None


def _stream_columns(stream: TextIO) -> int | None:
    """The width of the terminal ``stream`` writes to; ``None`` when it is no terminal."""
    if not _isatty(stream):
        return None
    try:
        return os.get_terminal_size(stream.fileno()).columns or None
    except (AttributeError, OSError, ValueError):
        return None


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
