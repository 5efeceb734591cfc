"""The reconciliation engine's output: a :class:`Plan` of typed :class:`Action` objects.

A plan is what one sync *would* do, computed purely from both sides' current state. Every
write action carries the exact request model it implies (``body``), so a dry run shows the
wire payloads and the orchestrator only has to send them. Write actions are ordered
creates → updates/renames/unarchives → archives, so a run that stops half-way never leaves
fewer usable objects than before (tags rule 30, accounts rule 40).

Unchanged objects are kept as references to the Pleo objects, not as ``Action`` instances,
so that planning 100 000 in-sync objects allocates almost nothing; :attr:`Plan.noops`
materializes them on demand.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from functools import cached_property
from typing import Any, Generic
from uuid import UUID

from attrs import define, field
from typing_extensions import TypeVar

from pleo_erp.domain.reconcile.errors import MassArchiveRefused
from pleo_erp.domain.reconcile.guards import DEFAULT_MAX_ARCHIVE_RATIO, ArchiveGuard

__all__ = [
    "DEFAULT_MAX_ARCHIVE_RATIO",
    "Action",
    "ActionKind",
    "ArchiveGuard",
    "BodyT",
    "IssueSeverity",
    "ObjectKind",
    "Plan",
    "PlanIssue",
    "Target",
    "change_action",
    "check_mass_archive",
    "order_actions",
]


class ActionKind(str, enum.Enum):
    """What a plan does to one Pleo object."""

    CREATE = "create"
    UPDATE = "update"
    RENAME = "rename"
    UNARCHIVE = "unarchive"
    ARCHIVE = "archive"
    NOOP = "noop"

    @property
    def phase(self) -> int:
        """Apply order: creates (0) → updates/renames/unarchives (1) → archives (2)."""
        return _PHASES[self]


_PHASES = {
    ActionKind.CREATE: 0,
    ActionKind.UPDATE: 1,
    ActionKind.RENAME: 1,
    ActionKind.UNARCHIVE: 1,
    ActionKind.ARCHIVE: 2,
    ActionKind.NOOP: 3,
}


class ObjectKind(str, enum.Enum):
    """Which kind of Pleo object an action targets."""

    TAG_GROUP = "tag_group"
    TAG = "tag"
    ACCOUNT = "account"
    TAX_CODE = "tax_code"


@define(frozen=True, slots=True)
class Target:
    """The object an action is about.

    ``key`` is the matching key (tag/group ``code``, account ``externalId``, tax code
    ``code``) as the AS spells it for creates and as Pleo stores it otherwise. ``id`` is
    the Pleo id (``None`` for a create). For tags, ``parent_key`` is the tag group's code
    and ``parent_id`` its Pleo id (``None`` while the group is still to be created).
    """

    kind: ObjectKind
    key: str
    id: UUID | None = None
    name: str | None = None
    parent_key: str | None = None
    parent_id: UUID | None = None

    def __str__(self) -> str:
        where = f" in {self.parent_key!r}" if self.parent_key is not None else ""
        return f"{self.kind.value} {self.key!r}{where}"


#: The request model an :class:`Action` carries (``Action[TagCreateModel]`` …); a bare
#: ``Action`` is ``Action[Any]``, as before the class was generic.
BodyT = TypeVar("BodyT", default=Any)


@define(frozen=True, slots=True)
class Action(Generic[BodyT]):
    """One step of a plan: its kind, its target, why, and the request body it implies.

    ``body`` is the typed request model from :mod:`pleo_erp.models` (e.g. a
    ``TagCreateModel`` or a complete ``BookkeepingAccountUpdateRequestV1``); it is
    ``None`` only for no-ops. ``Action[TagCreateModel]`` says which model a write carries.
    """

    kind: ActionKind
    target: Target
    reason: str
    # A no-op carries no body; its type stays ``Action[Any]``, so ``None`` is sound there.
    body: BodyT = field(default=None)

    @property
    def is_write(self) -> bool:
        """Whether applying the action sends a request to Pleo."""
        return self.kind is not ActionKind.NOOP

    def __str__(self) -> str:
        return f"{self.kind.value} {self.target}: {self.reason}"


class IssueSeverity(str, enum.Enum):
    """How bad a plan issue is: an ``error`` excluded something from the run."""

    ERROR = "error"
    WARNING = "warning"


@define(frozen=True, slots=True)
class PlanIssue:
    """Something the planner refused or adjusted, with the rule that made it do so."""

    severity: IssueSeverity
    key: str
    message: str
    rule: str | None = None

    def __str__(self) -> str:
        rule = f" ({self.rule})" if self.rule else ""
        return f"{self.severity.value}: {self.key!r}: {self.message}{rule}"


def change_action(
    target: Target, changes: Sequence[str], body: BodyT, *, archived_in_pleo: bool
) -> Action[BodyT]:
    """The write for an object active in the AS that differs in Pleo.

    An object archived in Pleo is unarchived (and updated in the same complete body);
    otherwise the action is an update whose reason lists ``changes``.
    """
    if archived_in_pleo:
        detail = f" and update {', '.join(changes)}" if changes else ""
        reason = f"active in the accounting system, archived in Pleo: unarchive{detail}"
        return Action(ActionKind.UNARCHIVE, target, reason, body)
    return Action(ActionKind.UPDATE, target, "; ".join(changes), body)


def order_actions(actions: Iterable[Action]) -> tuple[Action, ...]:
    """Stable sort into apply order: creates → updates/renames/unarchives → archives."""
    return tuple(sorted(actions, key=lambda a: _PHASES[a.kind]))


@define(frozen=True)
class Plan:
    """An ordered list of write actions plus the unchanged objects, issues and guards.

    ``actions`` holds the writes in apply order. ``unchanged`` holds the Pleo objects that
    already match (materialized as NOOP actions by :attr:`noops`). ``issues`` lists source
    problems that excluded something (rule 29, accounts rule 36). ``guards`` measure the
    archive share of every collection for the safety rule.
    """

    actions: tuple[Action, ...] = ()
    unchanged: Sequence[Any] = ()
    unchanged_kind: ObjectKind | None = None
    issues: tuple[PlanIssue, ...] = ()
    guards: tuple[ArchiveGuard, ...] = ()
    noop_reason: str = "in sync"

    @property
    def writes(self) -> tuple[Action, ...]:
        """The actions that send a request (all of :attr:`actions`)."""
        return self.actions

    @cached_property
    def noops(self) -> tuple[Action, ...]:
        """One NOOP action per unchanged object."""
        return tuple(
            Action(ActionKind.NOOP, _target_of(obj, self.unchanged_kind), self.noop_reason)
            for obj in self.unchanged
        )

    def all_actions(self) -> tuple[Action, ...]:
        """The writes in apply order followed by the no-ops."""
        return self.actions + self.noops

    @cached_property
    def counts(self) -> dict[str, int]:
        """Number of actions per kind (``noop`` included), every kind present."""
        result = {kind.value: 0 for kind in ActionKind}
        for action in self.actions:
            result[action.kind.value] += 1
        result[ActionKind.NOOP.value] = len(self.unchanged)
        return result

    @property
    def is_empty(self) -> bool:
        """Whether applying the plan sends no write request."""
        return not self.actions

    @property
    def errors(self) -> tuple[PlanIssue, ...]:
        """The issues of severity ``error``."""
        return tuple(i for i in self.issues if i.severity is IssueSeverity.ERROR)

    def of_kind(self, kind: ActionKind | str) -> tuple[Action, ...]:
        """The actions of one kind (an ``ActionKind`` or its value, e.g. ``"update"``), in
        plan order (NOOP included)."""
        kind = ActionKind(kind)
        if kind is ActionKind.NOOP:
            return self.noops
        return tuple(a for a in self.actions if a.kind is kind)

    def find(self, key: str, *, kind: ObjectKind | None = None) -> tuple[Action, ...]:
        """Every action (NOOPs included) whose target key is ``key``."""
        return tuple(
            a
            for a in self.all_actions()
            if a.target.key == key and (kind is None or a.target.kind is kind)
        )

    def suspicious(self, max_ratio: float = DEFAULT_MAX_ARCHIVE_RATIO) -> tuple[ArchiveGuard, ...]:
        """The collections in which the plan archives more than ``max_ratio`` of the active."""
        return tuple(g for g in self.guards if g.exceeds(max_ratio))

    def summary(self) -> str:
        """One line of counts per kind, e.g. ``create 1, unarchive 1, archive 1, noop 1``."""
        parts = [f"{kind} {n}" for kind, n in self.counts.items() if n]
        if self.errors:
            parts.append(f"errors {len(self.errors)}")
        return ", ".join(parts) if parts else "nothing to do"

    def concat(self, other: Plan) -> Plan:
        """This plan's steps followed by ``other``'s (each keeps its own internal order).

        Used for tags: Step 2 (groups) is applied completely before Step 3 (tags).
        """
        targets = tuple(self.noops) + tuple(other.noops)
        return Plan(
            actions=self.actions + other.actions,
            unchanged=tuple(a.target for a in targets),
            unchanged_kind=None,
            issues=self.issues + other.issues,
            guards=self.guards + other.guards,
        )


def _target_of(obj: Any, kind: ObjectKind | None) -> Target:
    """A :class:`Target` for an unchanged Pleo object (or the target itself)."""
    if isinstance(obj, Target):
        return obj
    if kind is ObjectKind.ACCOUNT:
        return Target(ObjectKind.ACCOUNT, obj.external_id, obj.id, obj.name)
    if kind is ObjectKind.TAG:
        return Target(ObjectKind.TAG, obj.code, obj.id, obj.name, parent_id=obj.group_id)
    if kind is ObjectKind.TAG_GROUP:
        return Target(ObjectKind.TAG_GROUP, obj.code, obj.id, obj.name)
    if kind is ObjectKind.TAX_CODE:
        return Target(ObjectKind.TAX_CODE, obj.code or "", obj.id, obj.name)
    raise TypeError(f"cannot make a target from {type(obj).__name__}")


def check_mass_archive(
    plan: Plan, *, force: bool = False, max_ratio: float = DEFAULT_MAX_ARCHIVE_RATIO
) -> None:
    """Raise :class:`MassArchiveRefused` if ``plan`` archives too much and ``force`` is off.

    Protects against an AS read that silently returned too little (DESIGN decision 8,
    accounts rule 41): archiving more than ``max_ratio`` of a collection's active objects
    needs an explicit ``force=True``.
    """
    if force:
        return
    bad = plan.suspicious(max_ratio)
    if bad:
        raise MassArchiveRefused(bad, max_ratio=max_ratio)
