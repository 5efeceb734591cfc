"""Beancount adapter as DimensionSource / AccountSource / TaxCodeSource (Levels 2 and 3)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from beancount import loader

from pleo_erp.accounting_system import (
    AccountSource,
    Dimension,
    DimensionSource,
    DimensionValue,
    LedgerAccount,
    LedgerTaxCode,
    SourceReadError,
    TaxCodeSource,
)
from pleo_erp.adapters.beancount import (
    BeancountAccountingSystem,
    account_name_for,
    create_ledger,
)
from pleo_erp.testing.sandbox.demo import DemoChart, build_demo


@pytest.fixture(scope="module")
def chart() -> DemoChart:
    return build_demo(1).chart


@pytest.fixture
def system(tmp_path: Path, chart: DemoChart) -> BeancountAccountingSystem:
    return BeancountAccountingSystem(create_ledger(tmp_path / "l.beancount", chart, currency="DKK"))


def test_created_demo_ledger_is_bean_check_clean(system: BeancountAccountingSystem) -> None:
    _, errors, options = loader.load_file(str(system.path))
    assert errors == []
    assert options["operating_currency"] == ["DKK"]


def test_implements_the_three_source_protocols(system: BeancountAccountingSystem) -> None:
    assert isinstance(system, DimensionSource)
    assert isinstance(system, AccountSource)
    assert isinstance(system, TaxCodeSource)


def test_accounts_match_the_chart_exactly(
    system: BeancountAccountingSystem, chart: DemoChart
) -> None:
    expected = {
        LedgerAccount(
            external_id=a.external_id,
            code=a.code,
            name=a.name,
            active=a.active,
            tax_code_external_id=a.tax_code_external_id,
        )
        for a in chart.accounts
    }
    assert set(system.list_accounts()) == expected
    assert any(not a.active for a in system.list_accounts())  # close → inactive


def test_tax_codes_match_the_chart_with_pleo_types(
    system: BeancountAccountingSystem, chart: DemoChart
) -> None:
    expected = [
        LedgerTaxCode(
            code=t.code,
            name=t.name,
            rate=t.rate,
            type=t.type,
            active=t.active,
            ingoing_tax_account=t.ingoing_tax_account,
            outgoing_tax_account=t.outgoing_tax_account,
        )
        for t in chart.tax_codes
    ]
    assert system.list_tax_codes() == expected
    exempt = next(t for t in system.list_tax_codes() if t.code == "E0")
    assert (exempt.type, exempt.rate) == ("inclusive", Decimal("0"))


def test_dimensions_and_values_match_the_chart(
    system: BeancountAccountingSystem, chart: DemoChart
) -> None:
    assert system.list_dimensions() == [
        Dimension(d.code, d.name, d.active) for d in chart.dimensions
    ]
    for dimension in chart.dimensions:
        assert system.list_dimension_values(dimension.code.lower()) == [
            DimensionValue(v.code, v.name, v.active) for v in dimension.values
        ]
    assert system.list_dimension_values("NOPE") == []


def test_account_ids_override_and_default(tmp_path: Path) -> None:
    path = tmp_path / "x.beancount"
    path.write_text(
        '2026-01-01 open Expenses:Travel\n  code: "6000"\n'
        '2026-01-01 open Assets:Bank\n  external-id: "gl-1"\n  name: "Main bank"\n',
        encoding="utf-8",
    )
    accounts = BeancountAccountingSystem(path).list_accounts()
    assert accounts == [
        LedgerAccount(external_id="Expenses:Travel", code="6000", name="Travel"),
        LedgerAccount(external_id="gl-1", code=None, name="Main bank"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        '2026-01-01 * "x"\n  Expenses:A  1 EUR\n  Assets:B  -1 EUR\n',  # unopened accounts
        '2026-01-01 custom "pleo-dimension" "ONLY-CODE"\n',  # malformed pleo directive
    ],
)
def test_a_failed_read_raises_never_returns_empty(tmp_path: Path, text: str) -> None:
    """Rule: "could not read" is never "empty" (DESIGN decision 8)."""
    path = tmp_path / "bad.beancount"
    path.write_text(text, encoding="utf-8")
    system = BeancountAccountingSystem(path)
    for read in (system.list_accounts, system.list_dimensions, system.list_tax_codes):
        with pytest.raises(SourceReadError):
            read()
    with pytest.raises(SourceReadError):
        system.list_dimension_values("X")
    with pytest.raises(SourceReadError):
        BeancountAccountingSystem(tmp_path / "missing.beancount").list_accounts()


@pytest.mark.parametrize(
    ("kind", "name", "expected"),
    [
        ("expense", "Travel", "Expenses:Travel"),
        ("liability", "AP - Nordic Office Supplies", "Liabilities:AP:Nordic-Office-Supplies"),
        ("asset", "Pleo Clearing (Contra)", "Assets:Pleo-Clearing-Contra"),
        ("expense", "entertainment (old)", "Expenses:Entertainment-old"),
        ("income", "3% interest", "Income:3-interest"),
        ("expense", "Købsmoms", "Expenses:Købsmoms"),
        ("expense", "../../etc", "Expenses:Etc"),
    ],
)
def test_account_names_derived_from_the_chart(kind: str, name: str, expected: str) -> None:
    assert account_name_for(kind, name) == expected


def test_create_ledger_refuses_to_overwrite(tmp_path: Path, chart: DemoChart) -> None:
    path = create_ledger(tmp_path / "l.beancount", chart, currency="DKK")
    with pytest.raises(FileExistsError):
        create_ledger(path, chart, currency="DKK")
    assert create_ledger(path, chart, currency="DKK", overwrite=True) == path
