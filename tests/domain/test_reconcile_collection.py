"""The indexing both flat planners share (accounts, tax codes): what is set aside, what is
reported, in which order, and what stays protected from the archive sweep."""

from __future__ import annotations

from decimal import Decimal

from pleo_erp.accounting_system.sources import LedgerAccount, LedgerTaxCode
from pleo_erp.domain.reconcile.accounts import plan_accounts
from pleo_erp.domain.reconcile.plan import IssueSeverity
from pleo_erp.domain.reconcile.tax_codes import plan_tax_codes
from tests.helpers.sync import COMPANY, account, kinds, tax_code


def test_tax_codes_a_warning_keeps_the_code_an_error_protects_its_twin() -> None:
    source = [
        LedgerTaxCode("EX", "Exclusive", Decimal("0.2"), type="exclusive"),
        LedgerTaxCode("BAD", "", Decimal("0.1")),
        LedgerTaxCode("OK", "Standard", Decimal("0.25")),
    ]
    pleo = [
        tax_code("BAD", "Bad in Pleo", "0.1"),
        tax_code("TWIN", "One", "0.1"),
        tax_code("TWIN", "Two", "0.1"),
    ]
    plan = plan_tax_codes(source, pleo, company_id=COMPANY)
    # Issues in source order first, then Pleo's shared codes.
    assert [(i.severity, i.key) for i in plan.issues] == [
        (IssueSeverity.WARNING, "EX"),
        (IssueSeverity.ERROR, "BAD"),
        (IssueSeverity.ERROR, "TWIN"),
    ]
    assert plan.issues[2].message == "several Pleo tax codes share this code; left untouched"
    # EX is kept despite its warning; BAD's Pleo twin is protected; the TWINs are left alone.
    assert kinds(plan) == [("create", "EX"), ("create", "OK")]
    assert plan.actions[0].reason == "active in the accounting system, missing in Pleo"
    assert plan.guards[0].active == 1  # BAD; shared codes are out of the sweep entirely
    assert plan.guards[0].archiving == 0


def test_accounts_invalid_rows_and_pleo_twins_are_reported_in_order() -> None:
    source = [
        LedgerAccount("e1", "1000", "x" * 256),
        LedgerAccount("e2", "2000", "Fine"),
        LedgerAccount("", "3000", "No id"),
    ]
    pleo = [account("e1", "Long", code="1000"), account("t", "A"), account("t", "B")]
    plan = plan_accounts(source, pleo, company_id=COMPANY)
    assert [(i.key, i.rule) for i in plan.issues] == [
        ("e1", "accounts rule 26"),
        ("", "accounts rule 26"),
        ("t", "accounts rule 36"),
    ]
    assert plan.issues[0].message == "name is longer than 255 characters"
    assert kinds(plan) == [("create", "e2")]  # e1's twin is protected, not archived
