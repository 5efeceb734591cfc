"""Level 2 rule set: AS dimensions → Pleo tag groups, dimension values → tags.

Implements ``tags-sync.md`` decision tables 2.1–2.4 and rules 1–30 as three pure steps:

1. :func:`resolve_selection` — which dimensions take part (≤ 5, active only, auto-selection
   on first connection, auto-deselection of dimensions that went inactive);
2. :func:`plan_tag_groups` — create / unarchive / (opt-in) rename the selected dimensions'
   groups and archive every other active group, Pleo-made ones included;
3. :func:`plan_tags` — per (dimension, group) pair: create / rename / unarchive(+rename)
   tags and archive every active tag without an active AS value.

:func:`plan_tag_sync` composes them over already-read data (used by dry runs and tests);
the orchestrator calls the same three functions, reading between steps.

Codes match case-insensitively (``str.casefold``, no trimming: rule 1); names never match
(rule 2) and only break ties between duplicates (rule 13). Writes reuse Pleo's stored code
verbatim (rule 19). Nothing is ever deleted (rule 18). Everything is linear in the input
size: one dict index per side.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import TypeAlias, TypeVar
from uuid import UUID

from attrs import define

from pleo_erp.domain.reconcile._collection import PlanParts
from pleo_erp.domain.reconcile.errors import SelectionError
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
from pleo_erp.domain.records import Dimension, DimensionValue
from pleo_erp.models import (
    TagCreateModel,
    TagGroupCreateModel,
    TagGroupModel,
    TagGroupUpdateModel,
    TagModel,
    TagUpdateModel,
)

__all__ = [
    "MAX_SELECTED_DIMENSIONS",
    "GroupBinding",
    "SelectionOutcome",
    "SourceDimension",
    "SourceDimensionValue",
    "TagSyncPlan",
    "auto_select",
    "choose_keeper",
    "codes_match",
    "combine_tag_plans",
    "plan_tag_groups",
    "plan_tag_sync",
    "plan_tags",
    "resolve_selection",
    "validate_selection",
]

#: At most this many dimensions may be selected (tags rule 3).
MAX_SELECTED_DIMENSIONS = 5


SourceDimension: TypeAlias = Dimension
"""What the planner reads from an AS dimension: the record
:class:`~pleo_erp.domain.records.Dimension` (this name is kept as an alias)."""


SourceDimensionValue: TypeAlias = DimensionValue
"""What the planner reads from an AS dimension value: the record
:class:`~pleo_erp.domain.records.DimensionValue` (this name is kept as an alias)."""


def codes_match(a: str, b: str) -> bool:
    """Rule 1: codes are equal ignoring case (``casefold``), with no other normalisation."""
    return a.casefold() == b.casefold()


_D = TypeVar("_D", TagModel, TagGroupModel)


def choose_keeper(candidates: Sequence[_D], wanted_name: str) -> _D:
    """Rule 13 (and rule 11 for groups): which of several code-matching objects to keep.

    The single candidate whose name equals ``wanted_name`` exactly; otherwise, among the
    name matches (or all candidates if none match), the first by (active before archived,
    earliest ``createdAt``, smallest id). Deterministic where the docs say "random".
    """
    named = [c for c in candidates if c.name == wanted_name]
    if len(named) == 1:
        return named[0]
    pool = named or list(candidates)
    return min(pool, key=lambda c: (c.archived, c.created_at, c.id))


# --------------------------------------------------------------------------- Step 1


@define(frozen=True)
class SelectionOutcome:
    """Which dimensions a run syncs, and how the persisted selection changes.

    ``selected``: codes (AS spelling) synced this run. ``stored``: the persisted selection
    before the run (``None`` on first connection). ``auto_selected``: codes added by
    auto-selection (rule 4). ``deselected``: stored codes dropped because the dimension is
    missing or inactive in the AS (rule 6). ``persist``: whether ``selected`` should be
    saved (``False`` when Step 1 exits because the AS has no active dimension, rule 5).
    """

    selected: tuple[str, ...]
    stored: tuple[str, ...] | None = None
    auto_selected: tuple[str, ...] = ()
    deselected: tuple[str, ...] = ()
    first_connection: bool = False
    persist: bool = True

    @property
    def changed(self) -> bool:
        """Whether the selection to persist differs from the stored one."""
        return self.persist and (self.stored is None or self.selected != self.stored)


def _active_by_fold(dimensions: Sequence[Dimension]) -> dict[str, Dimension]:
    """Active dimensions by folded code; the first wins (collisions are reported elsewhere)."""
    result: dict[str, Dimension] = {}
    for dim in dimensions:
        if dim.active and dim.code:
            result.setdefault(dim.code.casefold(), dim)
    return result


def validate_selection(
    codes: Sequence[str],
    dimensions: Sequence[Dimension],
    *,
    limit: int = MAX_SELECTED_DIMENSIONS,
) -> tuple[str, ...]:
    """Rule 3: check a user's selection and return it in the AS's spelling.

    Raises:
        SelectionError: more than ``limit`` codes, a code given twice, or a code that is
            not an active dimension of the AS.
    """
    if len(codes) > limit:
        raise SelectionError(
            f"at most {limit} dimensions can be selected, got {len(codes)}", candidates=codes
        )
    active = _active_by_fold(dimensions)
    seen: set[str] = set()
    result: list[str] = []
    for code in codes:
        folded = code.casefold()
        if folded in seen:
            raise SelectionError(f"dimension {code!r} is selected twice", candidates=[code])
        seen.add(folded)
        dim = active.get(folded)
        if dim is None:
            raise SelectionError(
                f"dimension {code!r} is not an active dimension of the accounting system",
                candidates=[code],
            )
        result.append(dim.code)
    return tuple(result)


def auto_select(
    dimensions: Sequence[Dimension],
    groups: Sequence[TagGroupModel],
    *,
    manual: Sequence[str] = (),
    limit: int = MAX_SELECTED_DIMENSIONS,
) -> tuple[str, ...]:
    """Rule 4: the selection on first connection.

    The ``manual`` picks (validated) followed by every active dimension whose code matches an
    **active** tag group; archived groups never trigger auto-selection.

    Raises:
        SelectionError: the union exceeds ``limit``; ``candidates`` lists every code
            involved instead of truncating silently.
    """
    chosen = list(validate_selection(manual, dimensions, limit=limit))
    folded = {c.casefold() for c in chosen}
    active_groups = {g.code.casefold() for g in groups if not g.archived}
    for dim in dimensions:
        key = dim.code.casefold()
        if dim.active and dim.code and key in active_groups and key not in folded:
            chosen.append(dim.code)
            folded.add(key)
    if len(chosen) > limit:
        raise SelectionError(
            f"auto-selection found {len(chosen)} dimensions but at most {limit} can be "
            "selected; choose explicitly",
            candidates=chosen,
        )
    return tuple(chosen)


def resolve_selection(
    dimensions: Sequence[Dimension],
    groups: Sequence[TagGroupModel],
    *,
    stored: Sequence[str] | None,
    requested: Sequence[str] | None = None,
    limit: int = MAX_SELECTED_DIMENSIONS,
) -> SelectionOutcome:
    """Step 1: decide which dimensions this run syncs.

    - ``requested`` (the user's explicit choice) wins and is validated (rule 3);
    - else the ``stored`` selection minus dimensions now missing/inactive (rule 6);
    - else (first connection) auto-selection (rule 4); if the AS has no active dimension
      at all, Step 1 changes nothing and the run exits (rule 5, ``persist=False``).
    """
    stored_t = tuple(stored) if stored is not None else None
    if requested is not None:
        selected = validate_selection(requested, dimensions, limit=limit)
        return SelectionOutcome(selected, stored_t, first_connection=stored_t is None)
    if stored_t is not None:
        if len(stored_t) > limit:
            raise SelectionError(
                f"the stored selection has {len(stored_t)} dimensions; at most {limit} allowed",
                candidates=stored_t,
            )
        active = _active_by_fold(dimensions)
        kept: list[str] = []
        dropped: list[str] = []
        for code in stored_t:
            dim = active.get(code.casefold())
            if dim is None:
                dropped.append(code)
            else:
                kept.append(dim.code)
        return SelectionOutcome(tuple(kept), stored_t, deselected=tuple(dropped))
    if not any(d.active and d.code for d in dimensions):
        return SelectionOutcome((), None, first_connection=True, persist=False)
    auto = auto_select(dimensions, groups, limit=limit)
    return SelectionOutcome(auto, None, auto_selected=auto, first_connection=True)


# --------------------------------------------------------------------------- Step 2


@define(frozen=True)
class GroupBinding:
    """A selected dimension and the Pleo tag group that represents it after Step 2.

    ``group_id`` is ``None`` while the group is still to be created; ``group_code`` is the
    code the group has (or will have) in Pleo.
    """

    dimension_code: str
    dimension_name: str
    group_code: str
    group_id: UUID | None


def _collisions(codes: Sequence[str]) -> set[str]:
    """Folded codes that occur more than once."""
    seen: set[str] = set()
    clashes: set[str] = set()
    for code in codes:
        key = code.casefold()
        if key in seen:
            clashes.add(key)
        seen.add(key)
    return clashes


def plan_tag_groups(
    selected: Sequence[Dimension],
    groups: Sequence[TagGroupModel],
    *,
    allow_group_renames: bool = False,
    sweep: bool = True,
    protected_codes: frozenset[str] = frozenset(),
) -> tuple[Plan, tuple[GroupBinding, ...]]:
    """Step 2 (table 2.2, rules 7–11): tag groups for the selected, active dimensions.

    ``selected`` must already be filtered to selected + active dimensions. ``groups`` is
    every group of the company, archived included. With ``sweep`` (default; off for a
    single-dimension run, rule 25) every other active group is archived (rule 9), except
    those whose folded code is in ``protected_codes`` (ambiguous AS dimensions, rule 29).

    Returns the plan and, per dimension, the group its tags go into.
    """
    by_code: dict[str, list[TagGroupModel]] = {}
    for group in groups:
        by_code.setdefault(group.code.casefold(), []).append(group)

    actions: list[Action] = []
    unchanged: list[Target] = []
    bindings: list[GroupBinding] = []
    kept_ids: set[UUID] = set()
    claimed: set[str] = set()
    for dim in selected:
        key = dim.code.casefold()
        claimed.add(key)
        name = dim.name or dim.code
        matches = by_code.get(key, [])
        if not matches:
            actions.append(
                Action(
                    ActionKind.CREATE,
                    Target(ObjectKind.TAG_GROUP, dim.code, None, name),
                    "selected dimension has no tag group with this code (rule 7)",
                    TagGroupCreateModel(archived=False, code=dim.code, name=name),
                )
            )
            bindings.append(GroupBinding(dim.code, name, dim.code, None))
            continue
        keeper = choose_keeper(matches, name)
        kept_ids.add(keeper.id)
        bindings.append(GroupBinding(dim.code, name, keeper.code, keeper.id))
        target = Target(ObjectKind.TAG_GROUP, keeper.code, keeper.id, keeper.name)
        new_name = name if allow_group_renames else keeper.name
        metadata = dict(keeper.metadata or {})
        if keeper.archived:
            rename = f" and rename to {name!r}" if new_name != keeper.name else ""
            actions.append(
                Action(
                    ActionKind.UNARCHIVE,
                    target,
                    f"selected dimension's tag group is archived (rule 8){rename}",
                    TagGroupUpdateModel(
                        archived=False, code=keeper.code, metadata=metadata, name=new_name
                    ),
                )
            )
        elif new_name != keeper.name:
            actions.append(
                Action(
                    ActionKind.RENAME,
                    target,
                    f"name {keeper.name!r} → {name!r} (rule 10, group renames enabled)",
                    TagGroupUpdateModel(
                        archived=False, code=keeper.code, metadata=metadata, name=new_name
                    ),
                )
            )
        else:
            unchanged.append(target)
        for other in matches:
            if other.id != keeper.id and not other.archived:
                actions.append(
                    Action(
                        ActionKind.ARCHIVE,
                        Target(ObjectKind.TAG_GROUP, other.code, other.id, other.name),
                        f"duplicate of tag group {keeper.id} for dimension {dim.code!r} (rule 11)",
                        _group_archive_body(other),
                    )
                )

    active_groups = 0
    for group in groups:
        if group.archived:
            continue
        active_groups += 1
        key = group.code.casefold()
        if not sweep or group.id in kept_ids or key in claimed or key in protected_codes:
            continue
        actions.append(
            Action(
                ActionKind.ARCHIVE,
                Target(ObjectKind.TAG_GROUP, group.code, group.id, group.name),
                "active tag group matches no selected, active dimension (rule 9)",
                _group_archive_body(group),
            )
        )
    ordered = sorted(actions, key=lambda a: a.kind.phase)
    archiving = sum(1 for a in ordered if a.kind is ActionKind.ARCHIVE)
    plan = Plan(
        actions=tuple(ordered),
        unchanged=unchanged,
        guards=(ArchiveGuard("tag groups", active_groups, archiving),),
    )
    return plan, tuple(bindings)


def _group_archive_body(group: TagGroupModel) -> TagGroupUpdateModel:
    """Rule 9: archive with the group's existing code, name and metadata."""
    return TagGroupUpdateModel(
        archived=True, code=group.code, metadata=dict(group.metadata or {}), name=group.name
    )


# --------------------------------------------------------------------------- Step 3


def plan_tags(
    binding: GroupBinding,
    values: Sequence[DimensionValue],
    tags: Sequence[TagModel],
) -> Plan:
    """Step 3 (table 2.3/2.4, rules 13–17, 29) for one (dimension, group) pair.

    ``values`` are every value of the dimension (inactive ones count as absent); ``tags``
    every tag of the group, archived included (empty for a group still to be created).
    """
    issues: list[PlanIssue] = []
    # Validate the AS side first (rule 29): empty codes are dropped, case-insensitive
    # collisions are dropped *and* protect their tags from the archive sweep.
    active: dict[str, DimensionValue] = {}
    clashes: set[str] = set()
    for value in values:
        if not value.active:
            continue
        code = value.code
        if not code:
            issues.append(
                PlanIssue(
                    IssueSeverity.ERROR, code, "dimension value with an empty code", "rule 29"
                )
            )
            continue
        key = code.casefold()
        if key in active or key in clashes:
            clashes.add(key)
            continue
        if not value.name:
            issues.append(
                PlanIssue(
                    IssueSeverity.WARNING, code, "empty name: the code is used as name", "rule 29"
                )
            )
        active[key] = value
    for key in sorted(clashes):
        clash = active.pop(key, None)
        issues.append(
            PlanIssue(
                IssueSeverity.ERROR,
                clash.code if clash is not None else key,
                "several active values share this code (ignoring case); left untouched",
                "rule 29",
            )
        )

    index: dict[str, TagModel] = {}
    duplicates: dict[str, list[TagModel]] = {}
    active_tags = 0
    setdefault = index.setdefault
    for tag in tags:
        if not tag.archived:
            active_tags += 1
        key = tag.code.casefold()
        first = setdefault(key, tag)
        if first is not tag:
            if key in duplicates:
                duplicates[key].append(tag)
            else:
                duplicates[key] = [first, tag]

    group_code, group_id = binding.group_code, binding.group_id
    parts: PlanParts[TagModel] = PlanParts(ObjectKind.TAG, issues)

    def target(tag: TagModel) -> Target:
        return Target(ObjectKind.TAG, tag.code, tag.id, tag.name, group_code, group_id)

    lookup = index.get
    for key, value in active.items():
        code = value.code
        name = value.name or code  # rule 29: a nameless value is named by its code
        keeper = lookup(key)
        if keeper is None:
            parts.creates.append(
                Action(
                    ActionKind.CREATE,
                    Target(ObjectKind.TAG, code, None, name, group_code, group_id),
                    "active dimension value has no tag with this code (rule 14)",
                    TagCreateModel(archived=False, code=code, name=name),
                )
            )
            continue
        dups = duplicates.get(key) if duplicates else None
        if dups is not None:
            keeper = choose_keeper(dups, name)
            for other in dups:
                if other is not keeper and not other.archived:
                    parts.archives.append(
                        Action(
                            ActionKind.ARCHIVE,
                            target(other),
                            f"duplicate code; tag {keeper.id} is kept (rule 13)",
                            TagUpdateModel(archived=True, code=other.code, name=other.name),
                        )
                    )
        if keeper.archived:
            rename = f" and rename {keeper.name!r} → {name!r}" if keeper.name != name else ""
            parts.updates.append(
                Action(
                    ActionKind.UNARCHIVE,
                    target(keeper),
                    f"active dimension value, archived tag (rule 16){rename}",
                    TagUpdateModel(archived=False, code=keeper.code, name=name),
                )
            )
        elif keeper.name != name:
            parts.updates.append(
                Action(
                    ActionKind.RENAME,
                    target(keeper),
                    f"name {keeper.name!r} → {name!r} (rule 15)",
                    TagUpdateModel(archived=False, code=keeper.code, name=name),
                )
            )
        else:
            parts.unchanged.append(keeper)

    for key, tag in index.items():
        if key in active or key in clashes:
            continue
        for candidate in duplicates.get(key, (tag,)):
            if candidate.archived:
                continue
            parts.archives.append(
                Action(
                    ActionKind.ARCHIVE,
                    target(candidate),
                    "active tag matches no active dimension value (rule 17)",
                    TagUpdateModel(archived=True, code=candidate.code, name=candidate.name),
                )
            )

    return parts.plan(f"tags of group {group_code!r}", active_tags)


# --------------------------------------------------------------------------- composition


@define(frozen=True)
class TagSyncPlan:
    """The whole Level 2 plan: the selection, Step 2's plan and Step 3's plan per dimension.

    :attr:`plan` is Step 2 followed by every Step 3 plan, the order the orchestrator applies.
    ``skipped`` lists dimension codes whose Step 3 could not be planned (a failed read).
    """

    selection: SelectionOutcome
    groups: Plan
    bindings: tuple[GroupBinding, ...]
    tags: Mapping[str, Plan]
    issues: tuple[PlanIssue, ...] = ()
    skipped: tuple[str, ...] = ()

    @classmethod
    def nothing_to_sync(cls, selection: SelectionOutcome) -> TagSyncPlan:
        """Rule 5: the AS has no active dimension; an empty plan with that one warning."""
        issue = PlanIssue(
            IssueSeverity.WARNING,
            "",
            "the accounting system has no active dimension: nothing to sync",
            "rule 5",
        )
        return cls(selection, Plan(), (), {}, (issue,))

    @cached_property
    def plan(self) -> Plan:
        """All actions in apply order, with every issue and guard."""
        combined = self.groups
        for code in (b.dimension_code for b in self.bindings):
            tag_plan = self.tags.get(code)
            if tag_plan is not None:
                combined = combined.concat(tag_plan)
        return Plan(
            actions=combined.actions,
            unchanged=combined.unchanged,
            issues=self.issues + combined.issues,
            guards=combined.guards,
        )


def _dimension_issues(
    dimensions: Sequence[Dimension],
) -> tuple[list[PlanIssue], frozenset[str]]:
    """Rule 29 for dimensions: empty codes and case-insensitive collisions among active ones."""
    issues: list[PlanIssue] = []
    active_codes = [d.code for d in dimensions if d.active and d.code]
    if any(d.active and not d.code for d in dimensions):
        issues.append(
            PlanIssue(IssueSeverity.ERROR, "", "active dimension with an empty code", "rule 29")
        )
    clashes = frozenset(_collisions(active_codes))
    for key in sorted(clashes):
        issues.append(
            PlanIssue(
                IssueSeverity.ERROR,
                key,
                "several active dimensions share this code (ignoring case); not synced",
                "rule 29",
            )
        )
    return issues, clashes


def combine_tag_plans(
    dimensions: Sequence[Dimension],
    groups: Sequence[TagGroupModel],
    selection: SelectionOutcome,
    *,
    allow_group_renames: bool = False,
    only_dimension: str | None = None,
) -> tuple[Plan, tuple[GroupBinding, ...], tuple[PlanIssue, ...]]:
    """Step 2 for a resolved selection, applying rules 25 and 29 to the dimension list.

    Returns Step 2's plan, the bindings whose Step 3 should run, and the dimension issues.
    Raises :class:`SelectionError` if ``only_dimension`` is not part of the selection.
    """
    issues, clashes = _dimension_issues(dimensions)
    active = _active_by_fold(dimensions)
    chosen = [active[c.casefold()] for c in selection.selected if c.casefold() in active]
    if only_dimension is not None:
        wanted = only_dimension.casefold()
        chosen = [d for d in chosen if d.code.casefold() == wanted]
        if not chosen:
            raise SelectionError(
                f"dimension {only_dimension!r} is not selected and active",
                candidates=[only_dimension],
            )
    synced = [d for d in chosen if d.code.casefold() not in clashes]
    group_plan, bindings = plan_tag_groups(
        synced,
        groups,
        allow_group_renames=allow_group_renames,
        sweep=only_dimension is None,
        protected_codes=clashes,
    )
    for code in selection.deselected:
        issues.append(
            PlanIssue(
                IssueSeverity.WARNING,
                code,
                "dimension is no longer active in the accounting system: deselected",
                "rule 6",
            )
        )
    return group_plan, bindings, tuple(issues)


def plan_tag_sync(
    dimensions: Sequence[Dimension],
    groups: Sequence[TagGroupModel],
    *,
    values: Mapping[str, Sequence[DimensionValue]],
    tags: Mapping[UUID, Sequence[TagModel]],
    stored_selection: Sequence[str] | None = None,
    selection: Sequence[str] | None = None,
    allow_group_renames: bool = False,
    only_dimension: str | None = None,
) -> TagSyncPlan:
    """The complete Level 2 plan over already-read data (a pure dry run).

    ``values`` maps a dimension code (AS spelling) to its values; ``tags`` maps a group id
    to its tags. A missing entry means the read failed: that pair's Step 3 is skipped
    (rule 21) and reported in ``skipped``. Groups to be created need no ``tags`` entry.
    """
    outcome = resolve_selection(dimensions, groups, stored=stored_selection, requested=selection)
    if not outcome.persist:
        return TagSyncPlan.nothing_to_sync(outcome)
    group_plan, bindings, issues = combine_tag_plans(
        dimensions,
        groups,
        outcome,
        allow_group_renames=allow_group_renames,
        only_dimension=only_dimension,
    )
    tag_plans: dict[str, Plan] = {}
    skipped: list[str] = []
    extra: list[PlanIssue] = []
    for binding in bindings:
        dim_values = values.get(binding.dimension_code)
        group_tags: Sequence[TagModel] | None = (
            () if binding.group_id is None else tags.get(binding.group_id)
        )
        if dim_values is None or group_tags is None:
            skipped.append(binding.dimension_code)
            extra.append(
                PlanIssue(
                    IssueSeverity.ERROR,
                    binding.dimension_code,
                    "could not read both sides; tags of this dimension not synced",
                    "rule 21",
                )
            )
            continue
        tag_plans[binding.dimension_code] = plan_tags(binding, dim_values, group_tags)
    return TagSyncPlan(outcome, group_plan, bindings, tag_plans, (*issues, *extra), tuple(skipped))
