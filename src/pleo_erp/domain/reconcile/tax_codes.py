"""Level 3 rule set: reconcile the AS's tax codes with Pleo's tax codes.

The same pattern as accounts (§A5), keyed on the tax code's ``code`` — Pleo documents it as
"the accounting system's internal identifier of the tax code", and it is what an account's
``taxCodeExternalId`` refers to. Matching is exact. Tax codes are synced before accounts so
those references resolve (accounts rule 43).

| AS         | Pleo match by ``code`` | Pleo state | details equal? | action    |
|------------|------------------------|------------|----------------|-----------|
| active     | none                   | —          | —              | CREATE    |
| active     | found                  | active     | yes            | NOOP      |
| active     | found                  | active     | no             | UPDATE    |
| active     | found                  | archived   | either         | UNARCHIVE |
| not active | found / no ``code``    | active     | —              | ARCHIVE   |
| not active | found                  | archived   | —              | NOOP      |

"Details" are ``name``, ``rate`` (compared as decimals: ``0.25 == 0.250``), ``type`` and
the ingoing/outgoing tax accounts. A Pleo tax code without a ``code`` cannot match anything
and is archived while active, like any other Pleo object the AS does not have (tags rule
9 / accounts rule 39 applied to tax codes). PUT bodies are complete (the spec's create and
update body is the same ``TaxCodeCreateUpdateModel``).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from operator import attrgetter
from typing import TypeAlias
from uuid import UUID

from pleo_erp.domain.reconcile._collection import PlanParts, index_pleo, index_source
from pleo_erp.domain.reconcile.plan import (
    IssueSeverity,
    ObjectKind,
    Plan,
    PlanIssue,
    Target,
    change_action,
)
from pleo_erp.domain.records import LedgerTaxCode
from pleo_erp.models import TaxCodeCreateUpdateModel, TaxCodeModel, TaxCodeTypeModel

__all__ = ["TAX_CODE_TYPES", "SourceTaxCode", "plan_tax_codes"]

#: The ``type`` values Pleo accepts on a create/update body.
TAX_CODE_TYPES = frozenset(member.value for member in TaxCodeTypeModel)

_RULE = "tax codes"
_CODE = attrgetter("code")


SourceTaxCode: TypeAlias = LedgerTaxCode
"""What the planner reads from an AS tax code: the record
:class:`~pleo_erp.domain.records.LedgerTaxCode` (this name is kept as an alias)."""


def _blank_to_none(value: str | None) -> str | None:
    return value or None


def _validate(tax_code: LedgerTaxCode) -> str | None:
    """Why this tax code cannot be synced, or ``None``."""
    if not tax_code.code:
        return "code is empty"
    if not tax_code.name:
        return "name is empty"
    if not isinstance(tax_code.rate, Decimal) or not tax_code.rate.is_finite():
        return "rate is not a finite Decimal"
    if tax_code.rate < 0 or tax_code.rate > 1:
        return f"rate {tax_code.rate} is not a fraction between 0 and 1 (25 % is 0.25)"
    if str(tax_code.type) not in TAX_CODE_TYPES:
        return f"type {tax_code.type!r} is not one of {sorted(TAX_CODE_TYPES)}"
    return None


def _changes(source: LedgerTaxCode, pleo: TaxCodeModel) -> list[str]:
    changes = []
    if source.name != pleo.name:
        changes.append(f"name {pleo.name!r} → {source.name!r}")
    if Decimal(source.rate) != Decimal(str(pleo.rate)):
        changes.append(f"rate {pleo.rate} → {source.rate}")
    if str(source.type) != str(_enum_value(pleo.type)):
        changes.append(f"type {_enum_value(pleo.type)!r} → {source.type!r}")
    if _blank_to_none(source.ingoing_tax_account) != _blank_to_none(pleo.ingoing_tax_account):
        changes.append(
            f"ingoingTaxAccount {pleo.ingoing_tax_account!r} → {source.ingoing_tax_account!r}"
        )
    if _blank_to_none(source.outgoing_tax_account) != _blank_to_none(pleo.outgoing_tax_account):
        changes.append(
            f"outgoingTaxAccount {pleo.outgoing_tax_account!r} → {source.outgoing_tax_account!r}"
        )
    return changes


def _enum_value(value: object) -> object:
    return getattr(value, "value", value)


def _known_type(value: object) -> TaxCodeTypeModel | None:
    """The enum member for a type string, or ``None`` for a value Pleo's requests refuse."""
    try:
        return TaxCodeTypeModel(str(_enum_value(value)))
    except ValueError:
        return None


def _body_from_source(
    source: LedgerTaxCode, *, company_id: UUID, archived: bool
) -> TaxCodeCreateUpdateModel:
    return TaxCodeCreateUpdateModel(
        archived=archived,
        company_id=company_id,
        name=source.name,
        rate=source.rate,
        type=TaxCodeTypeModel(str(source.type)),  # validated by _validate
        code=source.code,
        ingoing_tax_account=source.ingoing_tax_account,
        outgoing_tax_account=source.outgoing_tax_account,
    )


def _archive_body(pleo: TaxCodeModel, *, company_id: UUID) -> TaxCodeCreateUpdateModel | None:
    """The complete PUT body archiving ``pleo``; ``None`` if its type cannot be sent back."""
    known = _known_type(pleo.type)
    if known is None:
        return None
    return TaxCodeCreateUpdateModel(
        archived=True,
        company_id=company_id,
        name=pleo.name,
        rate=pleo.rate,
        type=known,
        code=pleo.code,
        ingoing_tax_account=pleo.ingoing_tax_account,
        outgoing_tax_account=pleo.outgoing_tax_account,
    )


def _check(tax_code: LedgerTaxCode, key: str) -> PlanIssue | None:
    """An invalid tax code is an error (set aside, its twin protected); ``exclusive`` warns."""
    problem = _validate(tax_code)
    if problem is not None:
        return PlanIssue(IssueSeverity.ERROR, key, problem, _RULE)
    if str(tax_code.type) == "exclusive":
        return PlanIssue(
            IssueSeverity.WARNING,
            key,
            "Pleo documents 'exclusive' tax codes as not currently supported",
            _RULE,
        )
    return None


def plan_tax_codes(
    source: Sequence[LedgerTaxCode],
    pleo: Sequence[TaxCodeModel],
    *,
    company_id: UUID,
) -> Plan:
    """Plan the writes that make Pleo's tax codes match the AS.

    ``source`` is every AS tax code; ``pleo`` every Pleo tax code of the company, archived
    included.

    Raises:
        DuplicateSourceKey: two active AS tax codes share a ``code``.

    Invalid AS tax codes (empty code or name, a rate outside 0…1, an unknown type) are
    reported and excluded; their Pleo twin is left untouched. Pleo tax codes that share a
    ``code`` are reported and left untouched.
    """
    parts: PlanParts[TaxCodeModel] = PlanParts(ObjectKind.TAX_CODE)
    active, protected = index_source(source, _CODE, _check, parts, what="tax code")
    coded = [model for model in pleo if model.code]
    uncoded = [model for model in pleo if not model.code]
    by_code, conflicted = index_pleo(
        coded,
        _CODE,
        parts,
        conflict="several Pleo tax codes share this code; left untouched",
        rule=_RULE,
    )

    for key, tax_code in active.items():
        if key in conflicted:
            continue
        match = by_code.get(key)
        if match is None:
            body = _body_from_source(tax_code, company_id=company_id, archived=False)
            parts.create(key, tax_code.name, body)
            continue
        changes = _changes(tax_code, match)
        if not match.archived and not changes:
            parts.unchanged.append(match)
            continue
        target = Target(ObjectKind.TAX_CODE, key, match.id, tax_code.name)
        body = _body_from_source(tax_code, company_id=company_id, archived=False)
        parts.updates.append(change_action(target, changes, body, archived_in_pleo=match.archived))

    active_in_pleo = 0
    for model in [*by_code.values(), *uncoded]:
        key = model.code or ""
        if model.archived:
            if not key or key not in active:
                parts.unchanged.append(model)
            continue
        active_in_pleo += 1
        if key and (key in active or key in protected):
            continue
        reason = (
            "no active tax code with this code in the accounting system"
            if key
            else "Pleo tax code without a code: it cannot match the accounting system"
        )
        archive_body = _archive_body(model, company_id=company_id)
        if archive_body is None:
            message = f"cannot archive: Pleo sent an unknown tax code type {model.type!r}"
            parts.error(key, message, _RULE)
        else:
            parts.archive(key, model.id, model.name, reason, archive_body)
    return parts.plan("tax codes", active_in_pleo)
