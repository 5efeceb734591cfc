"""Text fields of an entry: the consolidated description (C13) and reference fields (C14).

Pleo asks for ``supplier.name`` + ``user.name`` + ``note``, "using initials if the field is
short" (DM), without saying how (B20). Our deterministic order of shortening, applied only
while the text is too long:

1. the user's name becomes initials ("Jane Mary Doe" → "JMD");
2. the note is cut (with "…"), down to nothing;
3. the supplier's name is cut (with "…");
4. the whole text is cut.

References (``reconciliationId``, ``reconciledEntries``) and attendees are never cut: Pleo
needs them whole to reconcile, so a value that does not fit fails the item as a configuration
problem (C14).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pleo_erp.domain.outcomes import DomainFailure

__all__ = ["build_description", "check_fits", "initials"]

_ELLIPSIS = "…"
_WORD = re.compile(r"[^\s\-]+")


def _clean(text: str | None) -> str:
    return " ".join(text.split()) if text else ""


def initials(name: str) -> str:
    """Upper-case initials of a name: ``"Jane Mary Doe"`` → ``"JMD"``, ``"Anne-Li"`` → ``"AL"``."""
    return "".join(word[0].upper() for word in _WORD.findall(name))


def _cut(text: str, length: int) -> str:
    if len(text) <= length:
        return text
    if length <= 0:
        return ""
    return text[: length - 1].rstrip() + _ELLIPSIS


def build_description(
    supplier: str | None,
    user: str | None,
    note: str | None,
    *,
    max_length: int | None = None,
    separator: str = " - ",
) -> str:
    """The consolidated description, shortened as the module docstring says to fit."""
    sup, usr, nte = _clean(supplier), _clean(user), _clean(note)

    def join() -> str:
        return separator.join(part for part in (sup, usr, nte) if part)

    text = join()
    if max_length is None or len(text) <= max_length:
        return text
    if usr:
        usr = initials(usr)
        text = join()
        if len(text) <= max_length:
            return text
    if nte:
        others = separator.join(part for part in (sup, usr) if part)
        room = max_length - len(others) - (len(separator) if others else 0)
        nte = _cut(nte, room) if room > 1 else ""
        text = join()
        if len(text) <= max_length:
            return text
    if sup:
        room = max_length - len(usr) - (len(separator) if usr else 0)
        sup = _cut(sup, room) if room > 1 else ""
        text = join()
    return _cut(text, max_length)


def check_fits(values: Sequence[str], limit: int | None, field_label: str) -> None:
    """Fail with ``invalid_configuration`` when a reference value would not fit its field."""
    if limit is None:
        return
    for value in values:
        if len(value) > limit:
            raise DomainFailure(
                "invalid_configuration",
                f"The {field_label} ({len(value)} characters) does not fit the accounting "
                f"system's field of {limit}; map it to a field that holds at least "
                f"{len(value)} characters.",
            )
