"""Beancount text for the directives the adapter writes, with safe quoting.

The adapter never concatenates untrusted text into the ledger unquoted: every string goes
through :func:`quote`, metadata keys, links and accounts are checked against the lexer's
patterns, and amounts are exact ``Decimal`` values printed in plain notation. A
:class:`TransactionDraft` must balance exactly per currency before it is rendered.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

__all__ = [
    "AccountToken",
    "DocumentDraft",
    "PostingDraft",
    "RenderError",
    "TransactionDraft",
    "check_account",
    "check_currency",
    "check_link",
    "check_meta_key",
    "format_number",
    "quote",
    "render_custom",
    "render_document",
    "render_transaction",
]

_META_KEY = re.compile(r"^[a-z][a-zA-Z0-9_-]+$")
_LINK = re.compile(r"^[A-Za-z0-9_/.-]+$")
_CURRENCY = re.compile(r"^[A-Z][A-Z0-9'._-]{0,22}[A-Z0-9]$|^[A-Z]$")
_ACCOUNT = re.compile(
    r"^(?:[A-Z]|[\u0080-\U0010ffff])(?:[A-Za-z0-9-]|[\u0080-\U0010ffff])*"
    r"(?::(?:[A-Z0-9]|[\u0080-\U0010ffff])(?:[A-Za-z0-9-]|[\u0080-\U0010ffff])*)+$"
)
# Control characters (and Unicode line/paragraph separators) other than the three we escape.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u2028\u2029]")
_INDENT = "  "


class RenderError(ValueError):
    """A draft cannot be written as valid Beancount (bad key, account, or unbalanced)."""


def quote(text: str) -> str:
    """``text`` as a Beancount string literal that round-trips through the parser.

    Backslash, quote, newline, carriage return and tab are escaped; other control
    characters become spaces (they have no business in a ledger).
    """
    escaped = (
        _CONTROL.sub(" ", text)
        .replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return f'"{escaped}"'


def _checked(pattern: re.Pattern[str], value: str, what: str) -> str:
    if not pattern.match(value):
        raise RenderError(f"invalid {what} {value!r}")
    return value


def check_meta_key(key: str) -> str:
    """Return ``key`` if Beancount accepts it as a metadata key, else raise."""
    return _checked(_META_KEY, key, "metadata key")


def check_link(link: str) -> str:
    """Return ``link`` if Beancount accepts it as a ``^link``, else raise."""
    return _checked(_LINK, link, "link")


def check_account(account: str) -> str:
    """Return ``account`` if it is a syntactically valid Beancount account name, else raise."""
    return _checked(_ACCOUNT, account, "account name")


def check_currency(currency: str) -> str:
    """Return ``currency`` if Beancount accepts it as a commodity, else raise."""
    return _checked(_CURRENCY, currency, "currency")


def format_number(value: Decimal) -> str:
    """Plain decimal notation (never exponent form), as the parser expects."""
    if not value.is_finite():
        raise RenderError("amounts must be finite")
    return format(value, "f")


Meta = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class PostingDraft:
    """One posting: account, signed amount (debit positive) and string metadata."""

    account: str
    amount: Decimal
    currency: str
    meta: Meta = ()


@dataclass(frozen=True)
class TransactionDraft:
    """A transaction ready to render; ``flag`` is ``*`` (final) or ``!`` (draft)."""

    day: date
    flag: str
    narration: str
    postings: tuple[PostingDraft, ...]
    payee: str | None = None
    meta: Meta = ()
    links: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class DocumentDraft:
    """A ``document`` directive linking a stored receipt to an account (and a transaction)."""

    day: date
    account: str
    relative_path: str
    links: tuple[str, ...] = ()
    meta: Meta = ()


def _render_meta(meta: Meta, indent: str) -> list[str]:
    return [f"{indent}{check_meta_key(key)}: {quote(value)}" for key, value in meta]


def _check_balanced(draft: TransactionDraft) -> None:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for posting in draft.postings:
        totals[posting.currency] += posting.amount
    unbalanced = {c: t for c, t in totals.items() if t != 0}
    if unbalanced:
        shown = ", ".join(f"{format_number(t)} {c}" for c, t in sorted(unbalanced.items()))
        raise RenderError(f"transaction does not balance: residual {shown}")


def render_transaction(draft: TransactionDraft) -> str:
    """The transaction as Beancount text, ending with a newline."""
    if draft.flag not in ("*", "!"):
        raise RenderError(f"invalid transaction flag {draft.flag!r}")
    if len(draft.postings) < 2:
        raise RenderError("a transaction needs at least two postings")
    _check_balanced(draft)
    head = [draft.day.isoformat(), draft.flag]
    if draft.payee is not None:
        head.append(quote(draft.payee))
    head.append(quote(draft.narration))
    head += [f"#{check_link(tag)}" for tag in draft.tags]
    head += [f"^{check_link(link)}" for link in draft.links]
    lines = [" ".join(head), *_render_meta(draft.meta, _INDENT)]
    for posting in draft.postings:
        number = format_number(posting.amount)
        account = check_account(posting.account)
        lines.append(f"{_INDENT}{account}  {number} {check_currency(posting.currency)}")
        lines += _render_meta(posting.meta, _INDENT * 2)
    return "\n".join(lines) + "\n"


def render_document(draft: DocumentDraft) -> str:
    """The ``document`` directive as Beancount text, ending with a newline."""
    head = [
        draft.day.isoformat(),
        "document",
        check_account(draft.account),
        quote(draft.relative_path),
    ]
    head += [f"^{check_link(link)}" for link in draft.links]
    return "\n".join([" ".join(head), *_render_meta(draft.meta, _INDENT)]) + "\n"


def render_custom(day: date, kind: str, *values: str | bool | Decimal | date) -> str:
    """A ``custom`` directive as Beancount text, ending with a newline.

    Plain strings are quoted; wrap an account name in :class:`AccountToken` to write it as
    a bare account token. A directive without values would crash Beancount's plugins, so
    at least one value is required.
    """
    if not values:
        raise RenderError("a custom directive needs at least one value")
    rendered: list[str] = []
    for value in values:
        if isinstance(value, AccountToken):
            rendered.append(check_account(value))
        elif isinstance(value, bool):
            rendered.append("TRUE" if value else "FALSE")
        elif isinstance(value, Decimal):
            rendered.append(format_number(value))
        elif isinstance(value, date):
            rendered.append(value.isoformat())
        else:
            rendered.append(quote(value))
    return f"{day.isoformat()} custom {quote(kind)} {' '.join(rendered)}\n"


class AccountToken(str):
    """A string that :func:`render_custom` writes as a bare account name, not a quoted string."""

    __slots__ = ()
