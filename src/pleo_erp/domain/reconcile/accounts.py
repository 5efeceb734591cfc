"""Level 3 rule set: reconcile the AS chart of accounts with Pleo's accounts.

Implements the §A5 decision table of ``accounts-sync-and-auth.md`` (rules 33–41):

| AS        | Pleo match by ``externalId`` | Pleo state | details equal? | action    |
|-----------|------------------------------|------------|----------------|-----------|
| active    | none                         | —          | —              | CREATE    |
| active    | found                        | active     | yes            | NOOP      |
| active    | found                        | active     | no             | UPDATE    |
| active    | found                        | archived   | either         | UNARCHIVE |
| not active| found                        | active     | —              | ARCHIVE   |
| not active| found                        | archived   | —              | NOOP      |
| inactive  | none                         | —          | —              | nothing   |

"Details" are ``name`` and ``code`` and, unless disabled, ``taxCodeExternalId``. Matching is
on ``externalId`` only, exactly (case-sensitive, no trimming). Every PUT body is complete
(``archived``, ``name``, ``code``, ``taxCodeExternalId``, ``metadata``), carrying Pleo's
current values for anything the sync does not own, so nothing is cleared by accident
(rule 28). The function is pure and runs in linear time (one dict index per side).
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter
from typing import TypeAlias
from uuid import UUID

from attrs import define

from pleo_erp.domain.reconcile._collection import PlanParts, index_pleo, index_source
from pleo_erp.domain.reconcile.plan import (
    IssueSeverity,
    ObjectKind,
    Plan,
    PlanIssue,
    Target,
    change_action,
)
from pleo_erp.domain.records import LedgerAccount
from pleo_erp.models import (
    BookkeepingAccountCreateRequestV1,
    BookkeepingAccountRestModelV1,
    BookkeepingAccountUpdateRequestV1,
)

__all__ = ["MAX_FIELD_LENGTH", "AccountPlanOptions", "SourceAccount", "plan_accounts"]

#: Pleo's limit for ``externalId``, ``name`` and ``code`` (spec ``maxLength: 255``).
MAX_FIELD_LENGTH = 255

_EXTERNAL_ID = attrgetter("external_id")


SourceAccount: TypeAlias = LedgerAccount
"""What the planner reads from an AS account: the record
:class:`~pleo_erp.domain.records.LedgerAccount` (this name is kept as an alias)."""


@define(frozen=True)
class AccountPlanOptions:
    """Knobs of the accounts rule set.

    ``sync_tax_code_refs``: a ``taxCodeExternalId`` difference triggers an UPDATE, and
    creates carry the AS tax code (rule 37, default on). When off, Pleo's current value is
    kept in every PUT body. ``empty_code_equals_none``: ``code`` ``None`` and ``""`` count as
    equal (rule 37, default on).
    """

    sync_tax_code_refs: bool = True
    empty_code_equals_none: bool = True


def _norm(value: str | None, empty_equals_none: bool) -> str | None:
    if empty_equals_none and value == "":
        return None
    return value


def _validate(account: LedgerAccount) -> str | None:
    """Why Pleo would refuse this account (rule 26), or ``None`` if it is acceptable."""
    if not account.external_id:
        return "externalId is empty"
    if len(account.external_id) > MAX_FIELD_LENGTH:
        return f"externalId is longer than {MAX_FIELD_LENGTH} characters"
    if not account.name:
        return "name is empty"
    if len(account.name) > MAX_FIELD_LENGTH:
        return f"name is longer than {MAX_FIELD_LENGTH} characters"
    if account.code is not None and len(account.code) > MAX_FIELD_LENGTH:
        return f"code is longer than {MAX_FIELD_LENGTH} characters"
    return None


def _changes(
    source: LedgerAccount,
    pleo: BookkeepingAccountRestModelV1,
    options: AccountPlanOptions,
) -> list[str]:
    """Human-readable differences between the AS account and its Pleo twin."""
    empty = options.empty_code_equals_none
    changes = []
    if source.name != pleo.name:
        changes.append(f"name {pleo.name!r} → {source.name!r}")
    if _norm(source.code, empty) != _norm(pleo.code, empty):
        changes.append(f"code {pleo.code!r} → {source.code!r}")
    if options.sync_tax_code_refs and _norm(source.tax_code_external_id, True) != _norm(
        pleo.tax_code_external_id, True
    ):
        changes.append(
            f"taxCodeExternalId {pleo.tax_code_external_id!r} → {source.tax_code_external_id!r}"
        )
    return changes


def _put_body(
    pleo: BookkeepingAccountRestModelV1,
    *,
    archived: bool,
    source: LedgerAccount | None,
    options: AccountPlanOptions,
) -> BookkeepingAccountUpdateRequestV1:
    """A complete PUT body: AS-owned fields from ``source`` (if any), the rest from Pleo."""
    if source is None:
        name, code, tax = pleo.name, pleo.code, pleo.tax_code_external_id
    else:
        name, code = source.name, source.code
        tax = (
            source.tax_code_external_id
            if options.sync_tax_code_refs
            else (pleo.tax_code_external_id)
        )
    return BookkeepingAccountUpdateRequestV1(
        archived=archived,
        name=name,
        code=code,
        tax_code_external_id=tax,
        metadata=pleo.metadata,
    )


def _check(account: LedgerAccount, key: str) -> PlanIssue | None:
    """Rule 26: an account Pleo would refuse is an error (set aside, its twin protected)."""
    # Cheap inline check first; _validate only runs to explain a problem.
    name, code = account.name, account.code
    if (
        key
        and name
        and len(key) <= MAX_FIELD_LENGTH
        and len(name) <= MAX_FIELD_LENGTH
        and (code is None or len(code) <= MAX_FIELD_LENGTH)
    ):
        return None
    problem = _validate(account)
    return (
        None
        if problem is None
        else PlanIssue(IssueSeverity.ERROR, key, problem, "accounts rule 26")
    )


def _unchanged(
    account: LedgerAccount, match: BookkeepingAccountRestModelV1, opts: AccountPlanOptions
) -> bool:
    """Fast path for the common case: everything equal and active."""
    empty = opts.empty_code_equals_none
    return (
        not match.archived
        and account.name == match.name
        and (account.code == match.code or _norm(account.code, empty) == _norm(match.code, empty))
        and (
            not opts.sync_tax_code_refs
            or account.tax_code_external_id == match.tax_code_external_id
            or _norm(account.tax_code_external_id, True) == _norm(match.tax_code_external_id, True)
        )
    )


def plan_accounts(
    source: Sequence[LedgerAccount],
    pleo: Sequence[BookkeepingAccountRestModelV1],
    *,
    company_id: UUID,
    options: AccountPlanOptions | None = None,
) -> Plan:
    """Plan the writes that make Pleo's accounts match the AS (§A5, rules 33–41).

    ``source`` is every AS account (inactive ones are simply not in the active set);
    ``pleo`` every Pleo account of the company, archived included.

    Raises:
        DuplicateSourceKey: two *active* AS accounts share an ``externalId`` (rule 36).

    AS accounts Pleo would refuse (empty or over-long fields, rule 26) are reported as plan
    errors and excluded; their Pleo twin, if any, is left untouched rather than archived.
    Pleo accounts that share an ``externalId`` (rule 36, ``PleoDataConflict``) are reported
    and left untouched.
    """
    opts = options or AccountPlanOptions()
    parts: PlanParts[BookkeepingAccountRestModelV1] = PlanParts(ObjectKind.ACCOUNT)
    # Index both sides; anything ambiguous in the AS stops the run before any write, twins
    # on Pleo's side are skipped, never guessed at.
    active, protected = index_source(source, _EXTERNAL_ID, _check, parts, what="account externalId")
    by_external_id, conflicted = index_pleo(
        pleo,
        _EXTERNAL_ID,
        parts,
        conflict="PleoDataConflict: several Pleo accounts share this externalId; left untouched",
        rule="accounts rule 36",
    )

    get = by_external_id.get
    for key, account in active.items():
        if key in conflicted:
            continue
        match = get(key)
        if match is None:
            tax = account.tax_code_external_id if opts.sync_tax_code_refs else None
            parts.create(
                key,
                account.name,
                BookkeepingAccountCreateRequestV1(
                    company_id=company_id,
                    external_id=key,
                    name=account.name,
                    archived=False,
                    code=account.code,
                    tax_code_external_id=tax,
                ),
            )
        elif _unchanged(account, match, opts):
            parts.unchanged.append(match)
        else:
            changes = _changes(account, match, opts)
            target = Target(ObjectKind.ACCOUNT, key, match.id, account.name)
            body = _put_body(match, archived=False, source=account, options=opts)
            parts.updates.append(
                change_action(target, changes, body, archived_in_pleo=match.archived)
            )

    active_in_pleo = 0
    for key, match in by_external_id.items():
        if match.archived:
            if key not in active:
                parts.unchanged.append(match)
            continue
        active_in_pleo += 1
        if key not in active and key not in protected:
            parts.archive(
                key,
                match.id,
                match.name,
                "no active account with this externalId in the accounting system",
                _put_body(match, archived=True, source=None, options=opts),
            )
    return parts.plan("accounts", active_in_pleo)
