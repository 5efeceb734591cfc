"""Read a TOML file on every supported Python: ``tomllib`` (3.11+), ``tomli``, or a tiny parser.

The CLI's configuration file is flat (``key = value`` lines, values strings, integers,
booleans or one-line arrays of strings), so on Python 3.10 without ``tomli`` a small parser
of exactly that subset is enough; anything beyond it is refused with a message that says to
install ``tomli`` rather than misread silently.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any, BinaryIO

__all__ = ["TOMLError", "loads"]


class TOMLError(ValueError):
    """The text is not (the supported subset of) TOML; the message names the line."""


def _library_loader() -> Callable[[str], dict[str, Any]] | None:
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib.loads
    try:  # Python 3.10: the tomllib backport, if installed
        import tomli  # type: ignore[import-not-found,unused-ignore]
    except ModuleNotFoundError:
        return None
    loader: Callable[[str], dict[str, Any]] = tomli.loads
    return loader


def loads(text: str) -> dict[str, Any]:
    """Parse TOML ``text`` into a dict; raise :class:`TOMLError` with the line on failure."""
    loader = _library_loader()
    if loader is None:
        return loads_flat(text)
    try:
        return loader(text)
    except ValueError as exc:  # tomllib.TOMLDecodeError subclasses ValueError
        raise TOMLError(str(exc)) from None


def load(fp: BinaryIO) -> dict[str, Any]:
    """Parse a TOML file opened in binary mode."""
    try:
        text = fp.read().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TOMLError(f"not UTF-8: {exc}") from None
    return loads(text)


_KEY = r"[A-Za-z0-9_-]+"
_LINE = re.compile(rf"^\s*(?P<key>{_KEY})\s*=\s*(?P<value>.+?)\s*$")
_FALLBACK_HINT = (
    " (Python 3.10 without tomli reads strings, integers, booleans and one-line arrays only;"
    " quote the value or pip install tomli)"
)
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}


def loads_flat(text: str) -> dict[str, Any]:
    """Parse the flat TOML subset the CLI config uses (the Python 3.10 fallback).

    Supports comments, ``[table]`` headers (one level), and values that are basic or literal
    strings, integers, booleans or one-line arrays of those.
    """
    root: dict[str, Any] = {}
    table = root
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        header = re.fullmatch(rf"\[\s*({_KEY})\s*\](\s*#.*)?", line)
        if header:
            name = header.group(1)
            if name in root:
                raise TOMLError(f"line {number}: table [{name}] defined twice")
            table = root[name] = {}
            continue
        match = _LINE.match(line)
        if match is None:
            raise TOMLError(f"line {number}: unsupported TOML{_FALLBACK_HINT}")
        key = match.group("key")
        if key in table:
            raise TOMLError(f"line {number}: key {key!r} defined twice")
        value, rest = _value(match.group("value"), number)
        if rest.strip() and not rest.strip().startswith("#"):
            raise TOMLError(f"line {number}: unexpected text after the value")
        table[key] = value
    return root


def _value(text: str, number: int) -> tuple[Any, str]:
    """One value from the start of ``text``; returns it and the unparsed rest."""
    if text.startswith('"'):
        return _basic_string(text, number)
    if text.startswith("'"):
        end = text.find("'", 1)
        if end < 0:
            raise TOMLError(f"line {number}: unterminated string")
        return text[1:end], text[end + 1 :]
    if text.startswith("["):
        return _array(text, number)
    token = re.match(r"[^\s,\]#]+", text)
    if token is None:
        raise TOMLError(f"line {number}: missing value")
    word, rest = token.group(0), text[token.end() :]
    if word in ("true", "false"):
        return word == "true", rest
    if re.fullmatch(r"[+-]?\d[\d_]*", word):
        return int(word.replace("_", "")), rest
    raise TOMLError(f"line {number}: unsupported value {word!r}{_FALLBACK_HINT}")


def _basic_string(text: str, number: int) -> tuple[str, str]:
    out: list[str] = []
    index = 1
    while index < len(text):
        char = text[index]
        if char == '"':
            return "".join(out), text[index + 1 :]
        if char == "\\":
            code = text[index + 1 : index + 2]
            if code in _ESCAPES:
                out.append(_ESCAPES[code])
                index += 2
                continue
            if code in ("u", "U"):
                width = 4 if code == "u" else 8
                digits = text[index + 2 : index + 2 + width]
                if not re.fullmatch(rf"[0-9A-Fa-f]{{{width}}}", digits):
                    raise TOMLError(f"line {number}: bad unicode escape")
                scalar = int(digits, 16)
                if 0xD800 <= scalar <= 0xDFFF or scalar > 0x10FFFF:
                    raise TOMLError(f"line {number}: escape is not a Unicode scalar value")
                out.append(chr(scalar))
                index += 2 + width
                continue
            raise TOMLError(f"line {number}: unsupported escape in string")
        out.append(char)
        index += 1
    raise TOMLError(f"line {number}: unterminated string")


def _array(text: str, number: int) -> tuple[list[Any], str]:
    items: list[Any] = []
    rest = text[1:].lstrip()
    while True:
        if rest.startswith("]"):
            return items, rest[1:]
        if not rest:
            raise TOMLError(f"line {number}: unterminated array (arrays must fit on one line)")
        item, rest = _value(rest, number)
        items.append(item)
        rest = rest.lstrip()
        if rest.startswith(","):
            rest = rest[1:].lstrip()
        elif not rest.startswith("]"):
            raise TOMLError(f"line {number}: expected ',' or ']' in array")
