"""OAuth scope names, what each integration level needs, and a local preflight check.

Pleo scopes have the form ``resource:permission`` and a call outside the granted set is
refused at request time (accounts rule 49, §B7). When the granted set is known (from
``client.introspect().scope`` or the OAuth token response's ``scope``), the syncs can check it
*before* sending anything (rule 50):

```python
from pleo_erp.client import scopes

granted = scopes.parse_scopes(client.introspect().scope)
scopes.missing_scopes(granted, scopes.CHART_OF_ACCOUNTS_SYNC)   # frozenset() when all there
sync_accounts(client, my_as, company_id=company, granted_scopes=granted)
```

Only the names Pleo's docs state are verified (accounts, export jobs, export items, users).
The tax-code and tag-group names come from third-party code and are listed in
:data:`UNVERIFIED`; a tag-group scope is also satisfied by the singular spelling third-party
code reports for production (``tag-group:read``), see :data:`ALIASES`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from pleo_erp.client.errors import InsufficientScope

__all__ = [
    "ACCOUNTS_READ",
    "ACCOUNTS_WRITE",
    "ALIASES",
    "ALL_LEVELS",
    "CHART_OF_ACCOUNTS_SYNC",
    "EXPORT",
    "EXPORT_ITEMS_READ",
    "EXPORT_JOBS_READ",
    "EXPORT_JOBS_WRITE",
    "TAGS_SYNC",
    "TAG_GROUPS_READ",
    "TAG_GROUPS_WRITE",
    "TAX_CODES_READ",
    "TAX_CODES_SYNC",
    "TAX_CODES_WRITE",
    "UNVERIFIED",
    "USERS_READ",
    "check_scopes",
    "missing_scopes",
    "parse_scopes",
    "read_only",
]

# ----------------------------------------------------------------------------- verified names

ACCOUNTS_READ = "accounts:read"
"""Get one account, search accounts (Chart of Accounts API; stated by Pleo)."""

ACCOUNTS_WRITE = "accounts:write"
"""Create, update and delete accounts (Chart of Accounts API; stated by Pleo)."""

EXPORT_JOBS_READ = "export-jobs:read"
"""List and get export jobs and their items (Export API v3; stated by Pleo)."""

EXPORT_JOBS_WRITE = "export-jobs:write"
"""Create export jobs and events, update job items (Export API v3; stated by Pleo)."""

EXPORT_ITEMS_READ = "export-items:read"
"""``GET /v3/export-items`` (Export API v3; stated by Pleo)."""

USERS_READ = "users:read"
"""Read users (stated by Pleo; none of the orchestrators needs it)."""

# ----------------------------------------------------------------------------- unverified names

TAX_CODES_READ = "tax-codes:read"
"""UNVERIFIED: search and get tax codes. Pleo documents no tax-code scope; this name comes
from third-party code (accounts Part 2 item 22)."""

TAX_CODES_WRITE = "tax-codes:write"
"""UNVERIFIED: create and update tax codes. Pleo documents no tax-code scope; this name comes
from third-party code (accounts Part 2 item 22)."""

TAG_GROUPS_READ = "tag-groups:read"
"""UNVERIFIED: read tag groups and tags (tags-sync §1.8: third-party code; Pleo's "Tags API
Scopes" page could not be read). The singular ``tag-group:read`` also satisfies it."""

TAG_GROUPS_WRITE = "tag-groups:write"
"""UNVERIFIED: create, update and archive tag groups and tags (tags-sync §1.8, third-party
code). The singular ``tag-group:write`` also satisfies it."""

UNVERIFIED: frozenset[str] = frozenset(
    {TAX_CODES_READ, TAX_CODES_WRITE, TAG_GROUPS_READ, TAG_GROUPS_WRITE}
)
"""Scope names no Pleo page states; a preflight failure on one of them says so."""

ALIASES: Mapping[str, frozenset[str]] = {
    # Third-party code reports the singular in production and the plural on staging.
    TAG_GROUPS_READ: frozenset({"tag-group:read"}),
    TAG_GROUPS_WRITE: frozenset({"tag-group:write"}),
}
"""Other spellings that satisfy a required scope (the key) when granted."""

# ----------------------------------------------------------------------------- per level

CHART_OF_ACCOUNTS_SYNC: frozenset[str] = frozenset({ACCOUNTS_READ, ACCOUNTS_WRITE})
"""What ``sync_accounts`` needs: ``accounts:read`` **and** ``accounts:write`` (accounts rule 49)."""

TAX_CODES_SYNC: frozenset[str] = frozenset({TAX_CODES_READ, TAX_CODES_WRITE})
"""What ``sync_tax_codes`` needs (unverified names)."""

TAGS_SYNC: frozenset[str] = frozenset({TAG_GROUPS_READ, TAG_GROUPS_WRITE})
"""What ``sync_tags`` needs (unverified names; singular spellings accepted)."""

EXPORT: frozenset[str] = frozenset({EXPORT_JOBS_READ, EXPORT_JOBS_WRITE, EXPORT_ITEMS_READ})
"""What ``export_expenses`` needs: list/get jobs and items, send events, update items."""

ALL_LEVELS: tuple[str, ...] = (
    EXPORT_JOBS_READ,
    EXPORT_JOBS_WRITE,
    EXPORT_ITEMS_READ,
    TAG_GROUPS_READ,
    TAG_GROUPS_WRITE,
    "tags:read",
    "tags:write",
    ACCOUNTS_READ,
    ACCOUNTS_WRITE,
    TAX_CODES_READ,
    TAX_CODES_WRITE,
)
"""What a full three-level integration asks for, in request order: the default scopes of
``pleo-erp auth login``, of the runtime's OAuth onboarding and of the sandbox's credentials."""

# ----------------------------------------------------------------------------- helpers

# OAuth joins scopes with spaces; commas are tolerated because no scope name contains one.
_SEPARATORS = re.compile(r"[\s,]+")


def parse_scopes(scope_string: str | Iterable[str] | None) -> frozenset[str]:
    """The set of scope names in ``scope_string``.

    Accepts the space-separated string Pleo returns (``"accounts:read accounts:write"``),
    a comma-separated one, an iterable of names (each may itself hold several), or ``None``
    (no scope). Names are kept as given: scopes are case-sensitive.
    """
    if scope_string is None:
        return frozenset()
    parts = [scope_string] if isinstance(scope_string, str) else list(scope_string)
    names: set[str] = set()
    for part in parts:
        if not isinstance(part, str):
            raise TypeError(f"a scope must be a string, not {type(part).__name__}")
        names.update(name for name in _SEPARATORS.split(part) if name)
    return frozenset(names)


def missing_scopes(
    granted: str | Iterable[str] | None, required: str | Iterable[str]
) -> frozenset[str]:
    """The names in ``required`` that ``granted`` does not satisfy (empty when all are there).

    A required scope is satisfied by its own name or by one of its :data:`ALIASES`. No scope
    implies another (``accounts:write`` does not grant ``accounts:read``): Pleo says nothing
    about it, so the check does not assume it.
    """
    have = parse_scopes(granted)
    return frozenset(
        scope
        for scope in parse_scopes(required)
        if scope not in have and not (ALIASES.get(scope, frozenset()) & have)
    )


def read_only(required: Iterable[str]) -> frozenset[str]:
    """The ``…:read`` scopes of ``required``: what a dry run (reads only) needs."""
    return frozenset(scope for scope in parse_scopes(required) if scope.endswith(":read"))


def check_scopes(
    granted: str | Iterable[str] | None,
    required: Iterable[str],
    *,
    operation: str | None = None,
) -> None:
    """Raise :class:`~pleo_erp.client.errors.InsufficientScope` if ``granted`` lacks a scope.

    Makes no request. ``operation`` names what needs the scopes, for the message.
    """
    needed = parse_scopes(required)
    missing = missing_scopes(granted, needed)
    if missing:
        raise InsufficientScope(missing, needed, operation=operation, unverified=UNVERIFIED)
