"""Pure tests of the Level 3 rule sets: accounts (§A5, accounts rules 33–41) and tax codes."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pleo_erp.accounting_system.sources import LedgerAccount, LedgerTaxCode
from pleo_erp.domain.reconcile.accounts import AccountPlanOptions, plan_accounts
from pleo_erp.domain.reconcile.errors import DuplicateExternalId, MassArchiveRefused
from pleo_erp.domain.reconcile.plan import ActionKind, check_mass_archive
from pleo_erp.domain.reconcile.tax_codes import plan_tax_codes
from pleo_erp.models import (
    BookkeepingAccountCreateRequestV1,
    BookkeepingAccountUpdateRequestV1,
    TaxCodeCreateUpdateModel,
    TaxCodeTypeModel,
)
from tests.helpers.sync import COMPANY, account, kinds, tax_code


@pytest.mark.rule("accounts-40")
def test_worked_example_accounts() -> None:
    """HT-SYNC/HT-CUA: ext-1000 no-op, ext-2000 unarchive, ext-3000 create, ext-4000 update,
    5000 archive (rule 40)."""
    source = [
        LedgerAccount("ext-1000", "1000", "Office Supplies"),
        LedgerAccount("ext-2000", "2000", "Travel"),
        LedgerAccount("ext-3000", "3000", "Software"),
        LedgerAccount("ext-4000", "4000", "Marketing"),
    ]
    pleo = [
        account("ext-1000", "Office Supplies", code="1000"),
        account("ext-2000", "Travel", code="2000", archived=True),
        account("ext-4000", "Advertising", code="4000", metadata={"k": {"v": 1}}),
        account("5000", "Entertainment", code="5000", tax="T1"),
    ]
    plan = plan_accounts(source, pleo, company_id=COMPANY)
    assert kinds(plan) == [
        ("create", "ext-3000"),
        ("unarchive", "ext-2000"),
        ("update", "ext-4000"),
        ("archive", "5000"),
    ]
    assert [a.target.key for a in plan.noops] == ["ext-1000"]
    create, unarchive, update, archive = plan.actions
    assert create.body == BookkeepingAccountCreateRequestV1(
        company_id=COMPANY, external_id="ext-3000", name="Software", archived=False, code="3000"
    )
    assert unarchive.body == BookkeepingAccountUpdateRequestV1(
        archived=False, name="Travel", code="2000"
    )
    assert update.body == BookkeepingAccountUpdateRequestV1(
        archived=False, name="Marketing", code="4000", metadata={"k": {"v": 1}}
    )
    assert "'Advertising' → 'Marketing'" in update.reason
    # Archive keeps name, code, tax code and metadata (rule 28, 39).
    assert archive.body == BookkeepingAccountUpdateRequestV1(
        archived=True, name="Entertainment", code="5000", tax_code_external_id="T1"
    )
    assert plan.guards[0].active == 3
    assert plan.guards[0].archiving == 1


@pytest.mark.rule("accounts-33")
def test_rule_33_inactive_as_accounts_are_never_created() -> None:
    plan = plan_accounts([LedgerAccount("x", "1", "X", active=False)], [], company_id=COMPANY)
    assert plan.is_empty
    assert plan.counts["noop"] == 0


@pytest.mark.rule("accounts-34")
def test_rule_34_code_change_alone_is_an_update() -> None:
    plan = plan_accounts(
        [LedgerAccount("e1", "9999", "Cash")],
        [account("e1", "Cash", code="1000")],
        company_id=COMPANY,
    )
    assert kinds(plan) == [("update", "e1")]
    assert plan.actions[0].body.code == "9999"


@pytest.mark.rule("accounts-35")
def test_rule_35_external_id_matches_exactly() -> None:
    plan = plan_accounts(
        [LedgerAccount("EXT-1", None, "A")],
        [account("ext-1", "A"), account("EXT-1 ", "A")],
        company_id=COMPANY,
    )
    assert kinds(plan) == [("create", "EXT-1"), ("archive", "ext-1"), ("archive", "EXT-1 ")]


@pytest.mark.rule("accounts-36")
def test_rule_36_duplicate_external_ids_in_the_source_raise_before_planning() -> None:
    with pytest.raises(DuplicateExternalId, match="'e1'"):
        plan_accounts(
            [LedgerAccount("e1", "1", "A"), LedgerAccount("e1", "2", "B")], [], company_id=COMPANY
        )
    # An inactive twin is not a duplicate of the active set.
    plan = plan_accounts(
        [LedgerAccount("e1", "1", "A"), LedgerAccount("e1", "2", "B", active=False)],
        [],
        company_id=COMPANY,
    )
    assert kinds(plan) == [("create", "e1")]


@pytest.mark.rule("accounts-36")
def test_rule_36_duplicate_external_ids_in_pleo_are_skipped_and_reported() -> None:
    plan = plan_accounts(
        [LedgerAccount("e1", "1", "A")],
        [account("e1", "A", code="1"), account("e1", "B")],
        company_id=COMPANY,
    )
    assert plan.is_empty
    assert "PleoDataConflict" in str(plan.errors[0])


@pytest.mark.rule("accounts-37")
def test_rule_37_details_and_tax_code_option() -> None:
    source = [LedgerAccount("e1", "", "A", tax_code_external_id="VAT25")]
    pleo = [account("e1", "A", code=None, tax="VAT12")]
    plan = plan_accounts(source, pleo, company_id=COMPANY)
    assert kinds(plan) == [("update", "e1")]  # tax code differs; "" == None for code
    assert plan.actions[0].body.tax_code_external_id == "VAT25"
    off = AccountPlanOptions(sync_tax_code_refs=False, empty_code_equals_none=False)
    plan = plan_accounts(source, pleo, company_id=COMPANY, options=off)
    assert kinds(plan) == [("update", "e1")]  # now only "" vs None counts
    assert plan.actions[0].body.tax_code_external_id == "VAT12"  # Pleo's value kept
    same = plan_accounts(
        source, [account("e1", "A", code="", tax="VAT12")], company_id=COMPANY, options=off
    )
    assert same.is_empty


@pytest.mark.rule("accounts-38")
def test_rule_38_archived_match_is_unarchived_even_with_equal_details() -> None:
    plan = plan_accounts(
        [LedgerAccount("e1", "1", "A")],
        [account("e1", "A", code="1", archived=True)],
        company_id=COMPANY,
    )
    (action,) = plan.actions
    assert action.kind is ActionKind.UNARCHIVE
    assert action.body.archived is False


@pytest.mark.rule("accounts-39")
def test_rule_39_archived_unmatched_is_a_noop() -> None:
    plan = plan_accounts([], [account("gone", "G", archived=True)], company_id=COMPANY)
    assert plan.is_empty
    assert plan.counts["noop"] == 1


@pytest.mark.rule("accounts-26")
def test_rule_26_invalid_source_accounts_are_excluded_and_protect_their_twin() -> None:
    source = [
        LedgerAccount("e1", "1", ""),
        LedgerAccount("e2", "2", "x" * 256),
        LedgerAccount("", "3", "No id"),
        LedgerAccount("e4", "4", "Fine"),
    ]
    pleo = [account("e1", "Old"), account("e2", "Old")]
    plan = plan_accounts(source, pleo, company_id=COMPANY)
    assert kinds(plan) == [("create", "e4")]
    assert len(plan.errors) == 3


@pytest.mark.rule("accounts-41")
def test_rule_41_mass_archive_needs_force() -> None:
    pleo = [account(f"e{i}", "A") for i in range(4)]
    plan = plan_accounts([LedgerAccount("e0", None, "A")], pleo, company_id=COMPANY)
    with pytest.raises(MassArchiveRefused):
        check_mass_archive(plan)
    check_mass_archive(plan, force=True)
    empty = plan_accounts([], pleo, company_id=COMPANY)
    with pytest.raises(MassArchiveRefused):
        check_mass_archive(empty)


@pytest.mark.rule(
    "tags-20",
    "accounts-33",
    "accounts-34",
    "accounts-35",
    "accounts-36",
    "accounts-37",
    "accounts-38",
    "accounts-39",
    "accounts-40",
)
@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        st.text("abc", min_size=1, max_size=3),
        st.tuples(st.sampled_from(["A", "B"]), st.booleans()),
        max_size=8,
    ),
    st.dictionaries(
        st.text("abc", min_size=1, max_size=3),
        st.tuples(st.sampled_from(["A", "B"]), st.booleans()),
        max_size=8,
    ),
)
def test_applying_a_plan_converges_and_a_second_plan_is_empty(
    source_map: dict[str, tuple[str, bool]], pleo_map: dict[str, tuple[str, bool]]
) -> None:
    """Tags rule 20, accounts rules 33–40 as a property: apply the plan to Pleo, re-plan: no-op."""
    source = [LedgerAccount(k, None, n, active) for k, (n, active) in source_map.items()]
    state = {k: account(k, n, archived=archived) for k, (n, archived) in pleo_map.items()}
    plan = plan_accounts(source, list(state.values()), company_id=COMPANY)
    for action in plan.actions:
        body = action.body
        if action.kind is ActionKind.CREATE:
            state[body.external_id] = account(body.external_id, body.name, code=body.code)
        else:
            old = state[action.target.key]
            state[action.target.key] = account(
                old.external_id, body.name, code=body.code, archived=body.archived, id=old.id
            )
    assert plan_accounts(source, list(state.values()), company_id=COMPANY).is_empty
    active_source = {k for k, (_, a) in source_map.items() if a}
    assert {k for k, m in state.items() if not m.archived} == active_source
    assert set(pleo_map) <= set(state)  # nothing deleted


def test_plan_for_20k_accounts_updates_exactly_the_renamed_ones() -> None:
    """A large chart plans one update per renamed account and nothing else (the speed target
    is measured by ``benchmarks/bench_sync.py``, not asserted here)."""
    n = 20_000
    source = [LedgerAccount(f"e{i}", str(i), f"A{i}") for i in range(n)]
    pleo = [account(f"e{i}", f"A{i}" if i % 10 else "old", code=str(i)) for i in range(n)]
    plan = plan_accounts(source, pleo, company_id=COMPANY)
    assert plan.counts["update"] == n // 10
    assert {action.target.key for action in plan.of_kind(ActionKind.UPDATE)} == {
        f"e{i}" for i in range(0, n, 10)
    }


# --------------------------------------------------------------- tax codes


def test_tax_codes_decision_table() -> None:
    source = [
        LedgerTaxCode("S25", "Standard 25%", Decimal("0.25")),
        LedgerTaxCode("R12", "Reduced", Decimal("0.12")),
        LedgerTaxCode(
            "RC",
            "Reverse charge",
            Decimal("0.25"),
            "reverse",
            ingoing_tax_account="2614",
            outgoing_tax_account="2645",
        ),
        LedgerTaxCode("Z0", "Zero", Decimal("0"), active=False),
        LedgerTaxCode("NEW", "New", Decimal("0.06")),
    ]
    pleo = [
        tax_code("S25", "Standard 25%", "0.250"),  # equal: 0.25 == 0.250
        tax_code("R12", "Reduced", "0.12", archived=True),
        tax_code("RC", "Reverse charge", "0.25", type="reverse", ingoing="2614"),
        tax_code("Z0", "Zero", "0"),
        tax_code(None, "Pleo default", "0.25"),
        tax_code("OLD", "Old", "0.1", archived=True),
    ]
    plan = plan_tax_codes(source, pleo, company_id=COMPANY)
    assert kinds(plan) == [
        ("create", "NEW"),
        ("unarchive", "R12"),
        ("update", "RC"),
        ("archive", "Z0"),
        ("archive", ""),
    ]
    assert plan.actions[0].body == TaxCodeCreateUpdateModel(
        archived=False,
        company_id=COMPANY,
        name="New",
        rate=Decimal("0.06"),
        type=TaxCodeTypeModel.INCLUSIVE,
        code="NEW",
    )
    assert "outgoingTaxAccount" in plan.actions[2].reason
    assert plan.actions[3].body.archived is True
    assert plan.actions[3].body.code == "Z0"
    assert plan.counts["noop"] == 2  # S25 and the archived OLD


def test_tax_codes_duplicates_and_invalid_rows() -> None:
    with pytest.raises(DuplicateExternalId):
        plan_tax_codes(
            [LedgerTaxCode("A", "A", Decimal("0.1")), LedgerTaxCode("A", "B", Decimal("0.2"))],
            [],
            company_id=COMPANY,
        )
    # An object that only fits the SourceTaxCode protocol can still carry an unknown type
    # (LedgerTaxCode refuses one at construction); the planner reports it.
    odd = SimpleNamespace(
        code="T", name="T", rate=Decimal("0.1"), type="odd", active=True,
        ingoing_tax_account=None, outgoing_tax_account=None,
    )  # fmt: skip
    plan = plan_tax_codes(
        [LedgerTaxCode("P", "Percent", Decimal("25")), odd],  # type: ignore[list-item]
        [tax_code("P", "Percent", "0.25")],
        company_id=COMPANY,
    )
    assert plan.is_empty
    assert len(plan.errors) == 2


def test_ledger_tax_code_rate_refuses_floats() -> None:
    with pytest.raises(TypeError):
        LedgerTaxCode("A", "A", 0.25)  # type: ignore[arg-type]
    assert LedgerTaxCode("A", "A", "0.25").rate == Decimal("0.25")
