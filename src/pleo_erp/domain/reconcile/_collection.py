"""The steps every flat collection planner shares (accounts, tax codes; tags in part).

Both sides are indexed by the matching key the same way — the AS's active set refuses
duplicates and sets aside invalid records (their Pleo twin is then *protected* from the
archive sweep); Pleo objects that share a key are reported and left untouched — and the
actions are gathered by phase into one :class:`Plan` with its archive guard.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Generic, Protocol, TypeVar

from attrs import Factory, define

from pleo_erp.domain.reconcile.errors import DuplicateSourceKey
from pleo_erp.domain.reconcile.plan import (
    Action,
    ActionKind,
    ArchiveGuard,
    IssueSeverity,
    ObjectKind,
    Plan,
    PlanIssue,
    Target,
)

__all__ = ["MISSING_IN_PLEO", "PlanParts", "index_pleo", "index_source"]

#: The reason of a create: the AS has the object, Pleo does not.
MISSING_IN_PLEO = "active in the accounting system, missing in Pleo"


class _SourceRecord(Protocol):
    @property
    def active(self) -> bool: ...


_S = TypeVar("_S", bound=_SourceRecord)
_M = TypeVar("_M")


@define
class PlanParts(Generic[_M]):
    """One collection's plan while it is being made: actions by phase, no-ops and issues."""

    kind: ObjectKind
    issues: list[PlanIssue] = Factory(list)
    creates: list[Action] = Factory(list)
    updates: list[Action] = Factory(list)
    archives: list[Action] = Factory(list)
    unchanged: list[_M] = Factory(list)

    def error(self, key: str, message: str, rule: str) -> None:
        """Report something excluded from the run."""
        self.issues.append(PlanIssue(IssueSeverity.ERROR, key, message, rule))

    def create(self, key: str, name: str, body: Any) -> None:
        """A create for an object the AS has and Pleo does not."""
        self.creates.append(
            Action(ActionKind.CREATE, Target(self.kind, key, None, name), MISSING_IN_PLEO, body)
        )

    def archive(self, key: str, pleo_id: Any, name: str, reason: str, body: Any) -> None:
        """An archive of an active Pleo object the AS does not have (any more)."""
        self.archives.append(
            Action(ActionKind.ARCHIVE, Target(self.kind, key, pleo_id, name), reason, body)
        )

    def plan(self, what: str, active_in_pleo: int) -> Plan:
        """The plan, in apply order, guarded by the mass-archive rule over ``what``."""
        return Plan(
            actions=(*self.creates, *self.updates, *self.archives),
            unchanged=self.unchanged,
            unchanged_kind=self.kind,
            issues=tuple(self.issues),
            guards=(ArchiveGuard(what, active_in_pleo, len(self.archives)),),
        )


def index_source(
    records: Iterable[_S],
    key_of: Callable[[_S], str],
    check: Callable[[_S, str], PlanIssue | None],
    parts: PlanParts[Any],
    *,
    what: str,
) -> tuple[dict[str, _S], set[str]]:
    """The AS's active records by key, and the keys of those set aside as invalid.

    ``check`` may return an issue: an error sets the record aside (its key is *protected*:
    the Pleo twin is left untouched, never archived), a warning is reported and the record
    kept. Issues go to ``parts`` in record order.

    Raises:
        DuplicateSourceKey: two active records share a key (named ``what``).
    """
    active: dict[str, _S] = {}
    duplicates: set[str] = set()
    protected: set[str] = set()
    for record in records:
        if not record.active:
            continue
        key = key_of(record)
        if key in active or key in protected:
            duplicates.add(key)
            continue
        issue = check(record, key)
        if issue is not None:
            parts.issues.append(issue)
            if issue.severity is IssueSeverity.ERROR:
                protected.add(key)
                continue
        active[key] = record
    if duplicates:
        raise DuplicateSourceKey(what, duplicates)
    return active, protected


def index_pleo(
    models: Iterable[_M],
    key_of: Callable[[_M], str],
    parts: PlanParts[_M],
    *,
    conflict: str,
    rule: str,
) -> tuple[dict[str, _M], set[str]]:
    """Pleo's objects by key; keys several objects share are reported and left out."""
    by_key: dict[str, _M] = {}
    conflicted: set[str] = set()
    for model in models:
        key = key_of(model)
        if key in by_key:
            conflicted.add(key)
        else:
            by_key[key] = model
    for key in sorted(conflicted):
        parts.error(key, conflict, rule)
        del by_key[key]
    return by_key, conflicted
