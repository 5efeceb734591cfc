"""Beancount adapter: configuration and chart read from ``open``/``close``/``custom`` directives."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from pleo_erp.accounting_system.sources import Dimension, DimensionValue, LedgerAccount
from pleo_erp.adapters.beancount._config import LedgerConfigError
from pleo_erp.adapters.beancount._ledger import BeancountLedger, LedgerErrors

LEDGER = """\
option "title" "Config test"
option "operating_currency" "EUR"

2026-01-01 open Assets:Pleo:Wallet EUR
  code: "1900"
  name: "Pleo wallet"
2026-01-01 open Assets:VAT:Input EUR
2026-01-01 open Liabilities:VAT:Output EUR
2026-01-01 open Liabilities:AP:Acme EUR
2026-01-01 open Expenses:Travel EUR
  code: "6000"
  name: "Travel"
  tax-code: "VAT25"
2026-01-01 open Expenses:Old
  code: "6999"
2026-02-01 close Expenses:Old

2026-01-01 custom "pleo-company" "company-1"
2026-01-01 custom "pleo-dimension" "CC" "Cost centre" TRUE
2026-01-01 custom "pleo-dimension" "REGION" "Region"
2026-01-01 custom "pleo-dimension-value" "CC" "ENG" "Engineering" TRUE
2026-01-01 custom "pleo-dimension-value" "CC" "OPS" "Operations"
2026-03-01 custom "pleo-dimension-value" "CC" "OPS" "Operations" FALSE
2026-03-01 custom "pleo-dimension" "REGION" "Regions" FALSE
2026-01-01 custom "pleo-tax-code" "VAT25" "Standard VAT 25%" 0.25 "inclusive" TRUE
  account: Assets:VAT:Input
2026-01-01 custom "pleo-tax-code" "RC25" "Reverse charge 25%" 0.25 "reverse"
  account: Assets:VAT:Input
  ingoing-account: Assets:VAT:Input
  outgoing-account: Liabilities:VAT:Output
2026-01-01 custom "pleo-mapping" "wallet" Assets:Pleo:Wallet
2026-01-01 custom "pleo-vendor" "ACME" "Acme Ltd" Liabilities:AP:Acme
2026-01-01 custom "pleo-lock-date" 2026-01-31
2026-04-01 custom "pleo-lock-date" 2026-03-31
"""


def _ledger(tmp_path: Path, text: str = LEDGER) -> BeancountLedger:
    path = tmp_path / "books.beancount"
    path.write_text(text, encoding="utf-8")
    return BeancountLedger(path)


def test_chart_from_open_and_close_metadata(tmp_path: Path) -> None:
    config = _ledger(tmp_path).snapshot().config
    accounts = {a.name: a.to_ledger_account() for a in config.accounts.values()}
    assert accounts["Expenses:Travel"] == LedgerAccount(
        external_id="Expenses:Travel", code="6000", name="Travel", tax_code_external_id="VAT25"
    )
    assert accounts["Assets:Pleo:Wallet"].name == "Pleo wallet"
    # No name metadata: the last component; close → inactive.
    assert accounts["Expenses:Old"] == LedgerAccount(
        external_id="Expenses:Old", code="6999", name="Old", active=False
    )
    assert accounts["Assets:VAT:Input"].code is None


def test_dimensions_values_latest_directive_wins(tmp_path: Path) -> None:
    config = _ledger(tmp_path).snapshot().config
    assert config.dimensions == {
        "CC": Dimension("CC", "Cost centre", True),
        "REGION": Dimension("REGION", "Regions", False),
    }
    assert config.dimension_values["CC"] == {
        "ENG": DimensionValue("ENG", "Engineering", True),
        "OPS": DimensionValue("OPS", "Operations", False),
    }
    # Tags rule: codes match case-insensitively.
    assert config.find_dimension_value("cc", "eng") == DimensionValue("ENG", "Engineering")


def test_tax_codes_mapping_vendors_lock_date(tmp_path: Path) -> None:
    config = _ledger(tmp_path).snapshot().config
    vat = config.tax_codes["VAT25"]
    assert (vat.name, vat.rate, vat.type, vat.active) == (
        "Standard VAT 25%",
        Decimal("0.25"),
        "inclusive",
        True,
    )
    rc = config.tax_codes["RC25"]
    assert (rc.ingoing_tax_account, rc.outgoing_tax_account) == (
        "Assets:VAT:Input",
        "Liabilities:VAT:Output",
    )
    assert config.tax_posting_accounts == {"VAT25": "Assets:VAT:Input", "RC25": "Assets:VAT:Input"}
    assert config.mapping == {"wallet": "Assets:Pleo:Wallet"}
    assert config.find_vendor("acme") is not None
    assert config.find_vendor("ACME").account == "Liabilities:AP:Acme"  # type: ignore[union-attr]
    assert config.company_id == "company-1"
    assert config.lock_date == date(2026, 3, 31)
    assert not config.is_period_open(date(2026, 3, 31))
    assert config.is_period_open(date(2026, 4, 1))
    assert config.operating_currencies == ("EUR",)


def test_account_found_by_name_or_unique_code(tmp_path: Path) -> None:
    config = _ledger(tmp_path).snapshot().config
    assert config.find_account("Expenses:Travel") is config.find_account("6000")
    assert config.find_account("nope") is None


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ('2026-01-01 custom "pleo-dimension" "CC"\n', "expected 2 to 3 values"),
        ('2026-01-01 custom "pleo-dimension" "CC" "Name" "yes"\n', "TRUE or FALSE"),
        ('2026-01-01 custom "pleo-tax-code" "X" "X" 0.25 "weird"\n', "inclusive, exclusive"),
        ('2026-01-01 custom "pleo-tax-code" "X" "X" 1.5 "inclusive"\n', "fraction"),
        ('2026-01-01 custom "pleo-lock-date" "soon"\n', "must be a date"),
        ('2026-01-01 custom "pleo-mapping" "wallet" Assets:Nowhere\n', "not opened"),
        ('2026-01-01 custom "pleo-frobnicate" "x"\n', "unknown directive"),
        ('2026-01-01 custom "pleo-dimension-value" "NOPE" "A" "A"\n', "unknown dimension"),
    ],
)
def test_malformed_configuration_is_an_error_with_location(
    tmp_path: Path, extra: str, fragment: str
) -> None:
    with pytest.raises(LedgerConfigError) as info:
        _ledger(tmp_path, LEDGER + extra).snapshot()
    assert fragment in str(info.value)
    assert "books.beancount:" in str(info.value)


def test_a_ledger_with_beancount_errors_is_refused(tmp_path: Path) -> None:
    broken = LEDGER + '2026-05-01 * "x"\n  Expenses:Nowhere  1 EUR\n  Assets:Pleo:Wallet  -1 EUR\n'
    with pytest.raises(LedgerErrors, match=r"Expenses:Nowhere"):
        _ledger(tmp_path, broken).snapshot()


def test_snapshot_is_cached_until_the_file_changes(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path)
    first = ledger.snapshot()
    assert ledger.snapshot() is first
    with ledger.path.open("a", encoding="utf-8") as handle:
        handle.write('2026-05-01 custom "pleo-lock-date" 2026-04-30\n')
    second = ledger.snapshot()
    assert second is not first
    assert second.config.lock_date == date(2026, 4, 30)
