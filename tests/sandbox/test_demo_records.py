"""The demo chart is made of the domain records (issue 12: one set of record types).

``DemoDimension``/``DemoDimensionValue`` are the domain's ``Dimension``/``DimensionValue``;
``DemoAccount``/``DemoTaxCode`` keep their old argument order and return ``LedgerAccount``/
``LedgerTaxCode``, so the demo chart equals what a source returns for the same records.
"""

from __future__ import annotations

import warnings
from decimal import Decimal

import pytest
from attrs import evolve

from pleo_erp.accounting_system.sources import (
    Dimension,
    DimensionValue,
    InvalidTaxCodeError,
    LedgerAccount,
    LedgerTaxCode,
)
from pleo_erp.adapters.beancount._create import ChartAccount, ChartTaxCode
from pleo_erp.testing import InMemoryAccountingSystem
from pleo_erp.testing.sandbox.demo import (
    DemoAccount,
    DemoDimension,
    DemoDimensionValue,
    DemoTaxCode,
    build_demo,
)

CHART = build_demo(1).chart


def test_dimensions_and_values_are_the_domain_records() -> None:
    assert DemoDimension is Dimension
    assert DemoDimensionValue is DimensionValue
    department = CHART.dimension("DEPT")
    assert type(department) is Dimension
    assert all(type(value) is DimensionValue for value in department.values)
    edited = evolve(department, values=[DemoDimensionValue("NEW", "New")])  # converter runs
    assert edited.values == (DimensionValue("NEW", "New"),)


def test_demo_account_keeps_its_argument_order_and_returns_a_ledger_account() -> None:
    """``kind`` is 4th in ``DemoAccount`` and last in ``LedgerAccount``: an alias would put
    the kind into ``active``."""
    account = DemoAccount("ext-6010", "6010", "Travel", "expense", False, "I25")
    assert type(account) is LedgerAccount
    assert account == LedgerAccount(
        external_id="ext-6010",
        code="6010",
        name="Travel",
        active=False,
        tax_code_external_id="I25",
        kind="expense",
    )
    assert DemoAccount("ext-1", "1", "Cash", "asset").active is True
    assert all(type(a) is LedgerAccount and a.kind is not None for a in CHART.accounts)


def test_demo_tax_code_returns_a_ledger_tax_code() -> None:
    tax = DemoTaxCode("I25", "VAT 25 %", Decimal("0.25"), "inclusive", True, "7800", None)
    assert type(tax) is LedgerTaxCode
    assert tax == LedgerTaxCode("I25", "VAT 25 %", Decimal("0.25"), "inclusive", True, "7800")
    assert all(type(t) is LedgerTaxCode for t in CHART.tax_codes)
    with pytest.raises(InvalidTaxCodeError):
        DemoTaxCode("X", "float rate", 0.25, "inclusive")  # type: ignore[arg-type]


def test_the_old_exempt_type_warns_and_becomes_inclusive() -> None:
    with pytest.warns(DeprecationWarning, match="inclusive") as caught:
        tax = DemoTaxCode("E0", "Exempt", Decimal("0"), "exempt")
    assert caught[0].filename == __file__  # the warning points at the caller
    assert tax == LedgerTaxCode("E0", "Exempt", Decimal("0"), "inclusive")


def test_pleo_type_is_a_deprecated_alias_of_type() -> None:
    tax = CHART.tax_code("RC25")
    with pytest.warns(DeprecationWarning, match=r"\.type"):
        assert tax.pleo_type == tax.type == "reverse"


def test_the_demo_chart_builds_no_deprecated_records() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        build_demo(2)


def test_the_in_memory_system_holds_the_demo_records_unchanged() -> None:
    system = InMemoryAccountingSystem.from_demo(CHART)
    assert system.list_accounts() == list(CHART.accounts)
    assert system.list_tax_codes() == list(CHART.tax_codes)
    assert system.list_dimensions() == [evolve(d, values=()) for d in CHART.dimensions]
    for dimension in CHART.dimensions:
        assert system.list_dimension_values(dimension.code) == list(dimension.values)


def test_beancount_chart_records_are_the_same_types() -> None:
    assert ChartAccount is LedgerAccount
    assert ChartTaxCode is LedgerTaxCode
