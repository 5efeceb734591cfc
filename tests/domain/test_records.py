"""One record set (issue 12 item 2): the domain records serve sources, planners and adapters.

A chart built only from :mod:`pleo_erp.domain.records` (plus an ``AccountsMapping``) creates a
Beancount ledger, the ledger reads back the same records, and the planners take them as they
are. The two fields the records gained for that (``LedgerAccount.kind``, ``Dimension.values``)
are optional and change nothing for existing callers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import attrs
import pytest

from pleo_erp.adapters.beancount import BeancountAccountingSystem, create_ledger
from pleo_erp.adapters.beancount._create import ChartVendor
from pleo_erp.domain import AccountsMapping
from pleo_erp.domain.reconcile import plan_accounts, plan_tag_sync
from pleo_erp.domain.records import (
    LEDGER_ACCOUNT_KINDS,
    Dimension,
    DimensionValue,
    LedgerAccount,
    LedgerTaxCode,
)

COMPANY = UUID("00000000-0000-4000-8000-000000000001")


@attrs.define(frozen=True)
class RecordsChart:
    """A chart made of the domain records only (what ``create_ledger`` reads)."""

    accounts: Sequence[LedgerAccount]
    tax_codes: Sequence[LedgerTaxCode]
    dimensions: Sequence[Dimension]
    mapping: AccountsMapping
    vendors: Sequence[ChartVendor] = ()
    closed_until: date | None = None


ACCOUNTS = (
    LedgerAccount("gl-6000", "6000", "Travel", True, "S25", kind="expense"),
    LedgerAccount("gl-6100", "6100", "Old software", False, kind="expense"),
    LedgerAccount("gl-2000", "2000", "Payables", kind="liability"),
    LedgerAccount("gl-5610", "5610", "Input VAT", kind="asset"),
    LedgerAccount("gl-1000", None, "Petty cash", kind="asset"),  # no code: keyed by its id
    LedgerAccount("gl-6200", "6200", "Meals"),  # no kind: booked under Expenses
)
TAX_CODES = (
    LedgerTaxCode("S25", "Standard 25 %", Decimal("0.25"), ingoing_tax_account="5610"),
    LedgerTaxCode("RC", "Reverse charge", Decimal("0.25"), "reverse", active=False),
)
DIMENSIONS = (
    Dimension(
        "DEPT",
        "Department",
        values=[DimensionValue("D1", "Sales"), DimensionValue("D2", "Ops", active=False)],
    ),
    Dimension("PROJ", "Project", active=False),
)


@pytest.fixture
def ledger(tmp_path: Path) -> BeancountAccountingSystem:
    chart = RecordsChart(
        ACCOUNTS,
        TAX_CODES,
        DIMENSIONS,
        AccountsMapping(wallet="gl-1000", accounts_payable="2000", balancing=None),
    )
    path = create_ledger(tmp_path / "records.beancount", chart, currency="DKK")
    return BeancountAccountingSystem(path)


def test_a_chart_of_records_round_trips_through_a_beancount_ledger(
    ledger: BeancountAccountingSystem,
) -> None:
    accounts = ledger.list_accounts()
    # The ledger does not store ``kind`` (it is the ledger root); everything else comes back.
    assert sorted(accounts, key=lambda a: a.external_id) == sorted(
        (attrs.evolve(a, kind=None) for a in ACCOUNTS), key=lambda a: a.external_id
    )
    assert ledger.list_tax_codes() == list(TAX_CODES)
    assert ledger.list_dimensions() == [attrs.evolve(d, values=()) for d in DIMENSIONS]
    assert ledger.list_dimension_values("DEPT") == list(DIMENSIONS[0].values)


def test_kind_picks_the_ledger_root_and_a_missing_code_keys_by_external_id(
    ledger: BeancountAccountingSystem,
) -> None:
    text = ledger.path.read_text(encoding="utf-8")
    assert "open Expenses:Travel" in text
    assert "open Liabilities:Payables" in text
    assert "open Assets:Petty-cash" in text
    assert "open Expenses:Meals" in text  # kind None → Expenses
    mapping = ledger.accounts_mapping()
    assert mapping.wallet == "Assets:Petty-cash"  # referred to by its external id
    assert mapping.accounts_payable == "Liabilities:Payables"
    assert mapping.balancing is None  # an AccountsMapping leaves unset accounts out
    assert mapping.vat_input == "Assets:Input-VAT"  # from the active tax codes


def test_the_new_record_fields_are_optional_and_change_nothing_for_old_callers() -> None:
    old_style = LedgerAccount("gl-1", "1000", "Bank", True, None)
    assert old_style.kind is None
    assert old_style == LedgerAccount(external_id="gl-1", code="1000", name="Bank")
    assert Dimension("DEPT", "Department").values == ()
    assert Dimension("DEPT", "Department", True) == Dimension("DEPT", "Department")
    listed = Dimension("D", "D", values=[DimensionValue("A", "A")])
    assert listed.values == (DimensionValue("A", "A"),)  # any iterable, stored as a tuple
    assert set(LEDGER_ACCOUNT_KINDS) == {"expense", "income", "asset", "liability", "equity"}


def test_the_planners_ignore_kind_and_values() -> None:
    """The syncs read values from ``list_dimension_values`` and never read ``kind``."""
    with_kind = plan_accounts(list(ACCOUNTS), [], company_id=COMPANY)
    without = plan_accounts([attrs.evolve(a, kind=None) for a in ACCOUNTS], [], company_id=COMPANY)
    assert with_kind.actions == without.actions
    assert with_kind.actions  # the active accounts are created

    values = {"DEPT": list(DIMENSIONS[0].values)}
    bare = [attrs.evolve(d, values=()) for d in DIMENSIONS]
    full = plan_tag_sync(list(DIMENSIONS), [], values=values, tags={}, selection=["DEPT"])
    plain = plan_tag_sync(bare, [], values=values, tags={}, selection=["DEPT"])
    assert full.plan.actions == plain.plan.actions
    assert full.plan.actions  # the DEPT group is created
