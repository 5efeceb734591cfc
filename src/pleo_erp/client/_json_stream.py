"""Read a list page's JSON text one ``data`` element at a time (issue 13).

``json.loads`` of a page of 1 000 export items (~4 MB of text) builds ~18 MB of dicts, all
alive together with the text and, while they are structured, with the typed items. Reading
the page's top-level object member by member, and each element of its ``data`` array on its
own (``JSONDecoder.raw_decode`` from an offset), lets the caller type an element and drop its
dict before the next is parsed: the page's transient peak is the text plus the typed items
plus one element's dicts.

Only the regular shape is read this way: a top-level object whose ``data`` member is an array
and appears once. Anything else (invalid JSON, another shape) raises :class:`IrregularPage`,
and the caller parses the whole text the usual way, which reports the problem exactly as for
any other response.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from pleo_erp.client._wire import _DECODER

__all__ = ["IrregularPage", "read_data_elements"]

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DATA = "data"


class IrregularPage(ValueError):
    """The text is not a JSON object with one ``data`` array (parse it whole instead)."""


def _skip(text: str, index: int) -> int:
    match = _WHITESPACE.match(text, index)
    assert match is not None  # ``*`` always matches
    return match.end()


def _expect(text: str, index: int, char: str) -> int:
    """The index after ``char`` (whitespace before it skipped)."""
    index = _skip(text, index)
    if text[index : index + 1] != char:
        raise IrregularPage(f"expected {char!r} at offset {index}")
    return index + 1


def read_data_elements(
    text: str, on_element: Callable[[Any], None], decoder: json.JSONDecoder = _DECODER
) -> dict[str, Any]:
    """Hand each element of ``text``'s top-level ``data`` array to ``on_element`` as soon as
    it is parsed; the other top-level members, parsed (``data`` itself maps to ``None``).

    Raises :class:`IrregularPage` when ``text`` is not such an object (elements may have been
    handed out already: the caller starts over with the whole text).
    """
    raw_decode = decoder.raw_decode
    members: dict[str, Any] = {}
    try:
        index = _expect(text, 0, "{")
        index = _skip(text, index)
        if text[index : index + 1] == "}":
            index += 1
        else:
            while True:
                key, index = raw_decode(text, _skip(text, index))
                if type(key) is not str or key in members:
                    raise IrregularPage("a member name is not a string, or repeats")
                index = _skip(text, _expect(text, index, ":"))
                if key == _DATA:
                    if text[index : index + 1] != "[":
                        raise IrregularPage("data is not an array")
                    index = _read_array(text, index + 1, on_element, raw_decode)
                    members[key] = None
                else:
                    members[key], index = raw_decode(text, index)
                index = _skip(text, index)
                if text[index : index + 1] == ",":
                    index += 1
                    continue
                index = _expect(text, index, "}")
                break
    except (json.JSONDecodeError, IndexError) as error:
        raise IrregularPage(str(error)) from None
    if _skip(text, index) != len(text) or _DATA not in members:
        raise IrregularPage("trailing text, or no data array")
    return members


def _read_array(
    text: str,
    index: int,
    on_element: Callable[[Any], None],
    raw_decode: Callable[[str, int], tuple[Any, int]],
) -> int:
    """Parse the array whose ``[`` is before ``index``; the index after its ``]``."""
    index = _skip(text, index)
    if text[index : index + 1] == "]":
        return index + 1
    while True:
        element, index = raw_decode(text, _skip(text, index))
        on_element(element)
        del element  # ``on_element`` typed it: its dicts go now, before the next is parsed
        index = _skip(text, index)
        if text[index : index + 1] == ",":
            index += 1
            continue
        return _expect(text, index, "]")
