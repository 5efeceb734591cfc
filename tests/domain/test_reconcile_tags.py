"""Pure tests of the Level 2 rule set (tags-sync.md tables 2.1–2.4, rules 1–30)."""

from __future__ import annotations

import pytest

from pleo_erp.accounting_system.sources import Dimension, DimensionValue
from pleo_erp.domain.reconcile.errors import MassArchiveRefused, SelectionError
from pleo_erp.domain.reconcile.plan import ActionKind, check_mass_archive
from pleo_erp.domain.reconcile.tags import (
    GroupBinding,
    auto_select,
    choose_keeper,
    codes_match,
    plan_tag_groups,
    plan_tag_sync,
    plan_tags,
    resolve_selection,
    validate_selection,
)
from pleo_erp.models import TagCreateModel, TagGroupCreateModel, TagGroupUpdateModel, TagUpdateModel
from tests.helpers.sync import group, kinds, tag, uid

GID = uid(500)
BINDING = GroupBinding("DEPT", "Department", "DEPT", GID)


def dims(*codes: str, inactive: tuple[str, ...] = ()) -> list[Dimension]:
    return [Dimension(c, c.title(), c not in inactive) for c in codes]


# --------------------------------------------------------------- worked examples


def test_worked_example_tag_groups_finance_created_cost_centre_unarchived_region_archived() -> None:
    """HT-TG example: selection {Department, Project, Finance, Cost Centre}."""
    dimensions = [
        Dimension("DEPT", "Department"),
        Dimension("PROJ", "Project"),
        Dimension("FIN", "Finance"),
        Dimension("CC", "Cost Centre"),
    ]
    cost_centre = group("CC", "Cost Centre", archived=True, metadata={"x": "1"})
    region = group("REG", "Region")
    groups = [group("DEPT", "Department"), group("PROJ", "Project"), cost_centre, region]
    plan, bindings = plan_tag_groups(dimensions, groups)

    assert kinds(plan) == [("create", "FIN"), ("unarchive", "CC"), ("archive", "REG")]
    create, unarchive, archive = plan.actions
    assert create.body == TagGroupCreateModel(archived=False, code="FIN", name="Finance")
    assert unarchive.target.id == cost_centre.id
    assert unarchive.body == TagGroupUpdateModel(
        archived=False, code="CC", metadata={"x": "1"}, name="Cost Centre"
    )
    assert archive.body == TagGroupUpdateModel(
        archived=True, code="REG", metadata={}, name="Region"
    )
    assert plan.counts["noop"] == 2
    assert [b.group_id is None for b in bindings] == [False, False, True, False]


def test_worked_example_tags_engineering_kept_marketing_unarchived_sales_archived_ops_created() -> (
    None
):
    """HT-TAG example for the Department group."""
    values = [
        DimensionValue("ENG", "Engineering"),
        DimensionValue("MKT", "Marketing"),
        DimensionValue("OPS", "Operations"),
    ]
    eng = tag("ENG", "Engineering", group_id=GID)
    mkt = tag("MKT", "Marketing", group_id=GID, archived=True)
    sales = tag("SAL", "Sales", group_id=GID)
    plan = plan_tags(BINDING, values, [eng, mkt, sales])

    assert kinds(plan) == [("create", "OPS"), ("unarchive", "MKT"), ("archive", "SAL")]
    assert plan.actions[0].body == TagCreateModel(archived=False, code="OPS", name="Operations")
    assert plan.actions[1].body == TagUpdateModel(archived=False, code="MKT", name="Marketing")
    assert plan.actions[2].body == TagUpdateModel(archived=True, code="SAL", name="Sales")
    assert [a.target.id for a in plan.noops] == [eng.id]


# --------------------------------------------------------------- rule by rule


@pytest.mark.rule("tags-1")
def test_rule_1_codes_match_by_casefold_without_trimming() -> None:
    assert codes_match("DEPT", "dept")
    assert codes_match("Straße", "STRASSE")
    assert not codes_match("DEPT ", "DEPT")
    plan = plan_tags(
        BINDING, [DimensionValue("ENG", "Engineering")], [tag("eng", "Engineering"), tag("OPS ")]
    )
    assert kinds(plan) == [("archive", "OPS ")]
    assert plan.counts["noop"] == 1


@pytest.mark.rule("tags-2")
def test_rule_2_names_never_match() -> None:
    # Same name, different code: not a match (create + archive), right code wrong name: rename.
    plan = plan_tags(
        BINDING,
        [DimensionValue("ENG", "Engineering"), DimensionValue("FIN", "Finance")],
        [tag("ENGX", "Engineering"), tag("FIN", "Money")],
    )
    assert kinds(plan) == [("create", "ENG"), ("rename", "FIN"), ("archive", "ENGX")]


@pytest.mark.rule("tags-3")
def test_rule_3_selection_cap_and_active_only() -> None:
    six = dims("A", "B", "C", "D", "E", "F")
    with pytest.raises(SelectionError, match="at most 5"):
        validate_selection(["A", "B", "C", "D", "E", "F"], six)
    with pytest.raises(SelectionError, match="not an active dimension"):
        validate_selection(["A", "B"], dims("A", "B", inactive=("B",)))
    with pytest.raises(SelectionError, match="not an active dimension"):
        validate_selection(["ZZ"], six)
    with pytest.raises(SelectionError, match="twice"):
        validate_selection(["A", "a"], six)
    # Codes come back in the AS's spelling.
    assert validate_selection(["a", "c"], six) == ("A", "C")


@pytest.mark.rule("tags-4")
def test_rule_4_auto_select_uses_active_groups_only() -> None:
    dimensions = dims("DEPT", "PROJ", "CC", "OLD", inactive=("OLD",))
    groups = [group("dept"), group("CC", archived=True), group("PROJ"), group("OLD")]
    assert auto_select(dimensions, groups) == ("DEPT", "PROJ")
    outcome = resolve_selection(dimensions, groups, stored=None)
    assert outcome.first_connection
    assert outcome.auto_selected == ("DEPT", "PROJ")
    assert outcome.changed


@pytest.mark.rule("tags-4")
def test_rule_4_auto_select_over_the_cap_raises_with_candidates() -> None:
    codes = ("A", "B", "C", "D", "E")
    dimensions = dims(*codes, "M")
    groups = [group(c) for c in codes]
    with pytest.raises(SelectionError) as info:
        auto_select(dimensions, groups, manual=["M"])
    assert set(info.value.candidates) == {"M", *codes}


@pytest.mark.rule("tags-5")
def test_rule_5_no_active_dimension_exits_step_1() -> None:
    planned = plan_tag_sync(
        dims("A", inactive=("A",)), [group("A")], values={}, tags={}, stored_selection=None
    )
    assert not planned.selection.persist
    assert planned.plan.is_empty
    assert any("rule 5" in str(i) for i in planned.issues)


@pytest.mark.rule("tags-6")
def test_rule_6_selected_dimension_gone_inactive_is_deselected_and_its_group_archived() -> None:
    dimensions = dims("DEPT", "PROJ", inactive=("PROJ",))
    proj = group("PROJ")
    groups = [group("DEPT"), proj]
    planned = plan_tag_sync(
        dimensions,
        groups,
        values={"DEPT": []},
        tags={groups[0].id: []},
        stored_selection=["DEPT", "PROJ"],
    )
    assert planned.selection.selected == ("DEPT",)
    assert planned.selection.deselected == ("PROJ",)
    assert planned.selection.changed
    assert kinds(planned.groups) == [("archive", "PROJ")]


@pytest.mark.rule("tags-7")
def test_rule_7_group_create_body() -> None:
    plan, (binding,) = plan_tag_groups([Dimension("Dept", "Department")], [])
    (action,) = plan.actions
    assert action.kind is ActionKind.CREATE
    assert action.body == TagGroupCreateModel(archived=False, code="Dept", name="Department")
    assert binding.group_id is None
    assert binding.group_code == "Dept"


@pytest.mark.rule("tags-8")
def test_rule_8_group_unarchive_keeps_code_name_and_metadata() -> None:
    archived = group("dept", "Old name", archived=True, metadata={"k": "v"})
    plan, (binding,) = plan_tag_groups([Dimension("DEPT", "Department")], [archived])
    (action,) = plan.actions
    assert action.kind is ActionKind.UNARCHIVE
    assert action.body == TagGroupUpdateModel(
        archived=False, code="dept", metadata={"k": "v"}, name="Old name"
    )
    assert binding.group_id == archived.id


@pytest.mark.rule("tags-9")
def test_rule_9_sweep_archives_pleo_made_and_empty_code_groups_but_not_archived_ones() -> None:
    groups = [group("DEPT"), group("MANUAL"), group(""), group("GONE", archived=True)]
    plan, _ = plan_tag_groups([Dimension("DEPT", "Dept")], groups)
    assert kinds(plan) == [("archive", "MANUAL"), ("archive", "")]


@pytest.mark.rule("tags-10")
def test_rule_10_group_renames_are_opt_in() -> None:
    groups = [group("DEPT", "Departments")]
    plan, _ = plan_tag_groups([Dimension("DEPT", "Department")], groups)
    assert plan.is_empty
    plan, _ = plan_tag_groups([Dimension("DEPT", "Department")], groups, allow_group_renames=True)
    (action,) = plan.actions
    assert action.kind is ActionKind.RENAME
    assert action.body == TagGroupUpdateModel(
        archived=False, code="DEPT", metadata={}, name="Department"
    )


@pytest.mark.rule("tags-11")
def test_rule_11_duplicate_groups_keep_one_archive_the_other_active_ones() -> None:
    a = group("DEPT", "Dept A", created=1)
    b = group("dept", "Department", archived=True, created=2)
    c = group("Dept", "Dept C", created=3)
    plan, (binding,) = plan_tag_groups([Dimension("DEPT", "Department")], [a, b, c])
    # b is the only name match: kept and unarchived; a and c archived.
    assert binding.group_id == b.id
    assert kinds(plan) == [("unarchive", "dept"), ("archive", "DEPT"), ("archive", "Dept")]


@pytest.mark.rule("tags-12")
def test_rule_12_only_bindings_of_selected_active_dimensions_get_a_tag_pass() -> None:
    dimensions = dims("DEPT", "PROJ")
    groups = [group("DEPT"), group("PROJ")]
    planned = plan_tag_sync(
        dimensions,
        groups,
        values={"DEPT": [], "PROJ": []},
        tags={g.id: [] for g in groups},
        selection=["DEPT"],
        stored_selection=["DEPT", "PROJ"],
    )
    assert [b.dimension_code for b in planned.bindings] == ["DEPT"]
    assert set(planned.tags) == {"DEPT"}


@pytest.mark.rule("tags-13")
def test_rule_13_duplicates_single_name_match_is_kept() -> None:
    t1 = tag("ENG", "Eng", created=1)
    t2 = tag("eng", "Engineering", archived=True, created=2)
    t3 = tag("ENG", "Other", created=3)
    plan = plan_tags(BINDING, [DimensionValue("ENG", "Engineering")], [t1, t2, t3])
    assert [(a.kind, a.target.id) for a in plan.actions] == [
        (ActionKind.UNARCHIVE, t2.id),
        (ActionKind.ARCHIVE, t1.id),
        (ActionKind.ARCHIVE, t3.id),
    ]
    assert plan.actions[0].body == TagUpdateModel(archived=False, code="eng", name="Engineering")


@pytest.mark.rule("tags-13")
def test_rule_13_duplicates_no_name_match_prefers_active_then_oldest_then_smallest_id() -> None:
    archived_old = tag("ENG", "X", archived=True, created=0)
    active_new = tag("ENG", "Y", created=5)
    active_old = tag("ENG", "Z", created=1)
    plan = plan_tags(
        BINDING, [DimensionValue("ENG", "Engineering")], [archived_old, active_new, active_old]
    )
    assert [(a.kind, a.target.id) for a in plan.actions] == [
        (ActionKind.RENAME, active_old.id),
        (ActionKind.ARCHIVE, active_new.id),
    ]
    # Same creation time: smallest id wins; the order of the input does not matter.
    same = [tag("ENG", "Q", id=uid(9002)), tag("ENG", "R", id=uid(9001))]
    for ordering in (same, same[::-1]):
        assert choose_keeper(ordering, "Engineering").id == uid(9001)


@pytest.mark.rule("tags-13")
def test_rule_13_duplicates_several_name_matches_keep_one_of_them() -> None:
    a = tag("ENG", "Engineering", archived=True, created=0)
    b = tag("ENG", "Engineering", created=3)
    c = tag("ENG", "Other", created=1)
    plan = plan_tags(BINDING, [DimensionValue("ENG", "Engineering")], [a, b, c])
    # b (active name match) kept unchanged; c archived; a already archived: no call.
    assert [(x.kind, x.target.id) for x in plan.actions] == [(ActionKind.ARCHIVE, c.id)]
    assert [x.target.id for x in plan.noops] == [b.id]


@pytest.mark.rule("tags-14")
def test_rule_14_tag_create_body() -> None:
    plan = plan_tags(BINDING, [DimensionValue("Ops", "Operations")], [])
    (action,) = plan.actions
    assert action.body == TagCreateModel(archived=False, code="Ops", name="Operations")
    assert action.body.other_dimension_values is None
    assert (action.target.parent_key, action.target.parent_id) == ("DEPT", GID)


@pytest.mark.rule("tags-15")
def test_rule_15_tag_rename_keeps_existing_code() -> None:
    existing = tag("eng", "Eng")
    plan = plan_tags(BINDING, [DimensionValue("ENG", "Engineering")], [existing])
    (action,) = plan.actions
    assert action.kind is ActionKind.RENAME
    assert action.body == TagUpdateModel(archived=False, code="eng", name="Engineering")
    assert plan_tags(BINDING, [DimensionValue("ENG", "Eng")], [existing]).is_empty


@pytest.mark.rule("tags-16")
def test_rule_16_tag_unarchive_folds_the_rename() -> None:
    plan = plan_tags(
        BINDING, [DimensionValue("ENG", "Engineering")], [tag("ENG", "Eng", archived=True)]
    )
    (action,) = plan.actions
    assert action.kind is ActionKind.UNARCHIVE
    assert action.body == TagUpdateModel(archived=False, code="ENG", name="Engineering")


@pytest.mark.rule("tags-17")
def test_rule_17_archive_sweep_covers_inactive_values_and_pleo_made_tags() -> None:
    values = [DimensionValue("OLD", "Old", active=False), DimensionValue("KEEP", "Keep")]
    tags = [tag("OLD", "Old"), tag("MANUAL", None), tag("KEEP", "Keep"), tag("X", archived=True)]
    plan = plan_tags(BINDING, values, tags)
    assert kinds(plan) == [("archive", "OLD"), ("archive", "MANUAL")]
    assert plan.actions[1].body == TagUpdateModel(archived=True, code="MANUAL", name=None)


@pytest.mark.rule("tags-18")
def test_rule_18_no_plan_ever_contains_a_delete() -> None:
    assert {k.value for k in ActionKind} == {
        "create",
        "update",
        "rename",
        "unarchive",
        "archive",
        "noop",
    }


@pytest.mark.rule("tags-19")
def test_rule_19_codes_are_written_as_stored() -> None:
    plan = plan_tags(
        BINDING,
        [DimensionValue("ENG", "Engineering"), DimensionValue("NewCode", "New")],
        [tag("eNg", "old")],
    )
    assert [a.body.code for a in plan.actions] == ["NewCode", "eNg"]


@pytest.mark.rule("tags-20")
def test_rule_20_unchanged_inputs_plan_no_writes() -> None:
    values = [DimensionValue("A", "Alpha"), DimensionValue("B", "Beta")]
    plan = plan_tags(
        BINDING, values, [tag("A", "Alpha"), tag("b", "Beta"), tag("C", archived=True)]
    )
    assert plan.is_empty
    assert plan.counts == {
        "create": 0,
        "update": 0,
        "rename": 0,
        "unarchive": 0,
        "archive": 0,
        "noop": 2,
    }


@pytest.mark.rule("tags-21")
def test_rule_21_a_pair_whose_read_failed_is_skipped_and_an_empty_read_archives() -> None:
    dimensions = dims("DEPT", "PROJ")
    dept, proj = group("DEPT"), group("PROJ")
    planned = plan_tag_sync(
        dimensions,
        [dept, proj],
        values={"PROJ": []},  # DEPT's values could not be read
        tags={dept.id: [tag("X")], proj.id: [tag("Y")]},
        stored_selection=["DEPT", "PROJ"],
    )
    assert planned.skipped == ("DEPT",)
    assert kinds(planned.plan) == [("archive", "Y")]
    assert any("rule 21" in str(i) for i in planned.plan.errors)


@pytest.mark.rule("tags-25")
def test_rule_25_single_dimension_run_has_no_group_sweep() -> None:
    dimensions = dims("DEPT", "PROJ")
    groups = [group("REGION"), group("DEPT", "Dept A"), group("dept", "Dept B", created=1)]
    planned = plan_tag_sync(
        dimensions,
        groups,
        values={"DEPT": []},
        tags={groups[1].id: []},
        stored_selection=["DEPT", "PROJ"],
        only_dimension="dept",
    )
    # No archive of REGION, no create for PROJ; the DEPT duplicate is still cleaned up (rule 11).
    assert kinds(planned.groups) == [("archive", "dept")]
    with pytest.raises(SelectionError):
        plan_tag_sync(
            dimensions, groups, values={}, tags={}, stored_selection=["PROJ"], only_dimension="DEPT"
        )


@pytest.mark.rule("tags-27")
def test_rule_27_deselected_group_archived_and_its_tags_left_alone() -> None:
    dept, proj = group("DEPT"), group("PROJ")
    planned = plan_tag_sync(
        dims("DEPT", "PROJ"),
        [dept, proj],
        values={"DEPT": [], "PROJ": []},
        tags={dept.id: [], proj.id: [tag("P1")]},
        stored_selection=["DEPT", "PROJ"],
        selection=["DEPT"],
    )
    assert kinds(planned.plan) == [("archive", "PROJ")]


@pytest.mark.rule("tags-28")
def test_rule_28_reselect_unarchives_group_and_tags() -> None:
    proj = group("PROJ", archived=True)
    planned = plan_tag_sync(
        dims("PROJ"),
        [proj],
        values={"PROJ": [DimensionValue("P1", "P one")]},
        tags={proj.id: [tag("P1", "P one", archived=True)]},
        selection=["PROJ"],
    )
    assert kinds(planned.plan) == [("unarchive", "PROJ"), ("unarchive", "P1")]


@pytest.mark.rule("tags-29")
def test_rule_29_invalid_values_are_reported_and_excluded() -> None:
    values = [
        DimensionValue("", "No code"),
        DimensionValue("DUP", "One"),
        DimensionValue("dup", "Two"),
        DimensionValue("NONAME", ""),
    ]
    existing_dup = tag("DUP", "One")
    plan = plan_tags(BINDING, values, [existing_dup])
    # The colliding code protects its tag from the sweep; the nameless value uses its code.
    assert kinds(plan) == [("create", "NONAME")]
    assert plan.actions[0].body.name == "NONAME"
    messages = [str(i) for i in plan.issues]
    assert len(plan.errors) == 2
    assert len(messages) == 3


@pytest.mark.rule("tags-29")
def test_rule_29_colliding_dimensions_are_not_synced_and_their_groups_untouched() -> None:
    dimensions = [Dimension("DEPT", "Dept"), Dimension("dept", "Dept 2"), Dimension("PROJ", "P")]
    groups = [group("DEPT"), group("PROJ")]
    planned = plan_tag_sync(
        dimensions,
        groups,
        values={"PROJ": []},
        tags={groups[1].id: []},
        stored_selection=["DEPT", "PROJ"],
    )
    assert planned.plan.is_empty
    assert any("share this code" in str(i) for i in planned.plan.errors)


@pytest.mark.rule("tags-30")
def test_rule_30_creates_then_updates_then_archives() -> None:
    values = [DimensionValue("A", "Alpha"), DimensionValue("C", "Gamma"), DimensionValue("D", "D")]
    tags = [tag("Z"), tag("A", "old"), tag("C", "Gamma", archived=True)]
    plan = plan_tags(BINDING, values, tags)
    phases = [a.kind.phase for a in plan.actions]
    assert phases == sorted(phases)
    assert kinds(plan) == [("create", "D"), ("rename", "A"), ("unarchive", "C"), ("archive", "Z")]


def test_safety_rule_refuses_archiving_more_than_half_unless_forced() -> None:
    plan = plan_tags(BINDING, [DimensionValue("A", "A")], [tag("A", "A"), tag("B"), tag("C")])
    with pytest.raises(MassArchiveRefused, match="archive 2 of 3"):
        check_mass_archive(plan)
    check_mass_archive(plan, force=True)
    # Exactly half is allowed.
    check_mass_archive(plan_tags(BINDING, [DimensionValue("A", "A")], [tag("A", "A"), tag("B")]))
    # An empty (but successful) read archives everything, so it needs force.
    with pytest.raises(MassArchiveRefused):
        check_mass_archive(plan_tags(BINDING, [], [tag("A", "A")]))
