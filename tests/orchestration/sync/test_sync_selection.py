"""The persisted dimension selection (tags rule 3) and the in-memory sources."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from pleo_erp.accounting_system.sources import (
    AccountSource,
    Dimension,
    DimensionSource,
    SourceReadError,
    TaxCodeSource,
)
from pleo_erp.domain.reconcile.errors import SelectionError
from pleo_erp.state._db import StateDB
from pleo_erp.state.selection import FEATURE, SelectionState, SelectionStore
from pleo_erp.testing.inmemory_sources import InMemorySources

COMPANY = uuid.UUID("11111111-2222-4333-8444-555555555555")
OTHER = uuid.UUID("11111111-2222-4333-8444-666666666666")
DIMS = [
    Dimension("DEPT", "Department"),
    Dimension("PROJ", "Project"),
    Dimension("OLD", "Old", False),
]


@pytest.fixture
def store() -> SelectionStore:
    return SelectionStore(StateDB(), clock=lambda: datetime(2024, 5, 1, tzinfo=timezone.utc))


def test_nothing_stored_differs_from_an_empty_selection(store: SelectionStore) -> None:
    assert store.load(COMPANY) is None
    assert store.save(COMPANY, []) == ()
    assert store.load(COMPANY) == ()
    store.clear(COMPANY)
    assert store.load(COMPANY) is None


def test_selection_is_per_company_and_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    with StateDB(path) as db:
        SelectionStore(db).save(COMPANY, ["DEPT", "PROJ"])
        SelectionStore(db).save(OTHER, ["PROJ"])
    with StateDB(path) as db:
        again = SelectionStore(db)  # migrations are idempotent
        assert again.load(COMPANY) == ("DEPT", "PROJ")
        assert again.load(OTHER) == ("PROJ",)
        assert db.schema_version(FEATURE) == 1


@pytest.mark.rule("tags-3")
def test_rule_3_store_validates_cap_duplicates_and_activity(store: SelectionStore) -> None:
    with pytest.raises(SelectionError, match="at most 5"):
        store.save(COMPANY, ["A", "B", "C", "D", "E", "F"])
    with pytest.raises(SelectionError, match="twice"):
        store.save(COMPANY, ["DEPT", "dept"])
    with pytest.raises(SelectionError, match="empty"):
        store.save(COMPANY, [""])
    with pytest.raises(SelectionError):
        store.save(COMPANY, "DEPT")  # a string is not a list of codes
    with pytest.raises(SelectionError, match="not an active dimension"):
        store.save(COMPANY, ["OLD"], dimensions=DIMS)
    assert store.load(COMPANY) is None  # nothing stored by a refused save
    assert store.save(COMPANY, ["dept"], dimensions=DIMS) == ("DEPT",)  # AS spelling kept


@pytest.mark.rule("tags-27")
def test_rule_27_deselect_one_dimension(store: SelectionStore) -> None:
    store.save(COMPANY, ["DEPT", "PROJ"])
    assert store.deselect(COMPANY, "proj") == ("DEPT",)
    assert store.load(COMPANY) == ("DEPT",)


def test_a_corrupt_row_is_an_error_not_a_guess(store: SelectionStore) -> None:
    with store.db.transaction() as conn:
        conn.execute(
            "INSERT INTO dimension_selection VALUES (?, ?, ?)", (str(COMPANY), '{"x": 1}', "now")
        )
    with pytest.raises(SelectionError, match="corrupt"):
        store.load(COMPANY)


def test_store_satisfies_the_protocol(store: SelectionStore) -> None:
    assert isinstance(store, SelectionState)


# --------------------------------------------------------------- InMemorySources


def test_in_memory_sources_implement_the_three_protocols() -> None:
    sources = InMemorySources()
    assert isinstance(sources, DimensionSource)
    assert isinstance(sources, AccountSource)
    assert isinstance(sources, TaxCodeSource)


def test_edit_helpers_change_what_reads_return() -> None:
    s = InMemorySources()
    s.add_dimension("DEPT", "Department")
    s.add_value("DEPT", "ENG", "Engineering")
    s.rename_value("DEPT", "ENG", "Eng")
    s.recode_value("DEPT", "ENG", "ENGR")
    s.add_value("DEPT", "OPS")
    s.deactivate_value("DEPT", "OPS")
    s.recode_dimension("DEPT", "DEP")
    s.rename_dimension("DEP", "Dept")
    assert [(d.code, d.name) for d in s.list_dimensions()] == [("DEP", "Dept")]
    assert [(v.code, v.name, v.active) for v in s.list_dimension_values("DEP")] == [
        ("ENGR", "Eng", True),
        ("OPS", "OPS", False),
    ]
    assert s.list_dimension_values("DEPT") == []

    s.add_account("e1", "1000", "Cash")
    s.recode_account("e1", "1001")
    s.set_account_tax_code("e1", "S25")
    s.deactivate_account("e1")
    (account,) = s.list_accounts()
    assert (account.code, account.tax_code_external_id, account.active) == ("1001", "S25", False)

    s.add_tax_code("S25", "Standard", "0.25")
    s.update_tax_code("S25", code="S26", rate=Decimal("0.26"))
    (tax,) = s.list_tax_codes()
    assert (tax.code, tax.rate) == ("S26", Decimal("0.26"))
    with pytest.raises(KeyError):
        s.rename_account("nope", "x")


def test_reads_return_snapshots_and_are_counted() -> None:
    s = InMemorySources()
    s.add_account("e1", "1", "A")
    first = s.list_accounts()
    s.add_account("e2", "2", "B")
    assert len(first) == 1
    assert s.reads["accounts"] == 1


def test_fail_reads_switch() -> None:
    s = InMemorySources()
    s.add_dimension("DEPT")
    s.add_dimension("PROJ")
    s.fail_reads(dimension="DEPT")
    assert s.list_dimension_values("PROJ") == []
    with pytest.raises(SourceReadError):
        s.list_dimension_values("DEPT")
    s.restore_reads()
    s.fail_reads("accounts")
    with pytest.raises(SourceReadError):
        s.list_accounts()
    assert s.list_tax_codes() == []
    s.fail_reads()
    for read in (s.list_dimensions, s.list_tax_codes):
        with pytest.raises(SourceReadError):
            read()
    with pytest.raises(ValueError, match="unknown read scope"):
        s.fail_reads("bogus")  # type: ignore[arg-type]
    s.restore_reads()
    assert [d.code for d in s.list_dimensions()] == ["DEPT", "PROJ"]
