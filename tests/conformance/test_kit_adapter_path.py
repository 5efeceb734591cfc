"""Issue 11, "the adapter author's path": kit options, typed tax codes, public chart, short reprs.

A connector for a ledger without dimensions (GnuCash through piecash) was written from the docs
alone; each test pins one point it stumbled over.
"""

from __future__ import annotations

import pydoc
import time
import typing
import warnings
from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import attrs
import pytest
from attrs import evolve

from pleo_erp.accounting_system import (
    LEDGER_TAX_TYPES,
    AccountingSystemRateLimited,
    AccountsMapping,
    Attachment,
    Entry,
    InvalidTaxCodeError,
    LedgerTaxCode,
    LineRole,
    PostedEntry,
    PostingMode,
    parse_tax_type,
)
from pleo_erp.domain.reconcile.plan import Plan
from pleo_erp.models import TaxCodeTypeModel
from pleo_erp.orchestration.export import export_expenses
from pleo_erp.orchestration.sync_report import SyncReport, SyncScope
from pleo_erp.testing import InMemoryAccountingSystem, PleoSandbox
from pleo_erp.testing.conformance import (
    AdapterSetup,
    Check,
    ConformanceFailure,
    ConformanceSuite,
    DemoAccountsMapping,
    DemoChart,
    DemoTaxCode,
    Subject,
    run_check,
    run_conformance,
)
from pleo_erp.testing.sandbox.demo import build_demo
from tests.conformance.test_conformance_inmemory import inmemory_entries, inmemory_for

CHART = build_demo(1).chart


# --------------------------------------------------------------------------- typed tax codes


def test_ledger_tax_types_are_exactly_pleos_tax_code_types() -> None:
    assert set(LEDGER_TAX_TYPES) == {member.value for member in TaxCodeTypeModel}


@pytest.mark.parametrize("bad", ["exempt", "Inclusive", "", "vat"])
def test_an_unknown_tax_type_is_a_typed_error_at_construction(bad: str) -> None:
    with pytest.raises(InvalidTaxCodeError, match="inclusive, exclusive, reverse"):
        LedgerTaxCode("E0", "Exempt", Decimal("0"), bad)  # type: ignore[arg-type]


def test_the_exempt_error_says_how_to_express_it() -> None:
    with pytest.raises(InvalidTaxCodeError, match=r"type='inclusive' with rate=Decimal\('0'\)"):
        parse_tax_type("exempt")


def test_invalid_tax_code_error_is_also_the_old_type_error() -> None:
    """A float rate raised TypeError before; code catching that keeps working."""
    with pytest.raises(TypeError):
        LedgerTaxCode("A", "A", 0.25)  # type: ignore[arg-type]
    with pytest.raises(InvalidTaxCodeError, match="finite"):
        LedgerTaxCode("A", "A", Decimal("NaN"))
    with pytest.raises(InvalidTaxCodeError, match="not a decimal"):
        LedgerTaxCode("A", "A", "25 %")
    assert issubclass(InvalidTaxCodeError, ValueError)


def test_what_worked_before_and_is_valid_still_works() -> None:
    assert LedgerTaxCode("R", "R", "0.25", TaxCodeTypeModel.REVERSE).type == "reverse"
    assert LedgerTaxCode("I", "I", 0).rate == Decimal(0)
    assert LedgerTaxCode("I", "I", Decimal("0.25")).type == "inclusive"
    assert parse_tax_type("exclusive") == "exclusive"


def test_the_constructor_is_typed_narrowly_for_mypy() -> None:
    """mypy --strict reads the converter's parameter types: Literal types and no float."""
    hints = typing.get_type_hints(LedgerTaxCode.__init__)
    accepted = typing.get_args(hints["type"])
    literals = {value for arg in accepted for value in typing.get_args(arg)}
    assert literals == set(LEDGER_TAX_TYPES)
    assert str not in accepted
    assert TaxCodeTypeModel in accepted
    assert float not in typing.get_args(hints["rate"])
    assert Decimal in typing.get_args(hints["rate"])


def test_the_kit_chart_holds_only_tax_codes_the_sync_accepts() -> None:
    for tax in CHART.tax_codes:
        assert tax.type in LEDGER_TAX_TYPES
        LedgerTaxCode(tax.code, tax.name, tax.rate, tax.type)  # never raises
    exempt = CHART.tax_code("E0")
    assert (exempt.type, exempt.rate) == ("inclusive", Decimal("0"))


def test_the_old_exempt_chart_type_still_builds_with_a_warning() -> None:
    with pytest.warns(DeprecationWarning, match="inclusive"):
        tax = DemoTaxCode("E0", "Exempt", Decimal("0"), "exempt")
    assert tax.type == "inclusive"
    with pytest.warns(DeprecationWarning, match="use .type"):
        assert tax.pleo_type == "inclusive"


# --------------------------------------------------------------------------- the public chart


def test_the_chart_type_is_public_where_the_kit_is() -> None:
    import pleo_erp.testing as testing
    import pleo_erp.testing.conformance as kit

    assert kit.DemoChart is DemoChart is testing.DemoChart
    hints = typing.get_type_hints(AdapterSetup)
    assert hints["chart"] is kit.DemoChart
    assert {"DemoChart", "DemoAccountsMapping", "DemoTaxCode"} <= set(kit.__all__)


def test_chart_mapping_speaks_the_accounts_mapping_vocabulary() -> None:
    mapping = CHART.mapping
    names = {f.name for f in attrs.fields(DemoAccountsMapping)} - {"vendor_ap"}
    assert names <= {f.name for f in attrs.fields(AccountsMapping)}
    converted = mapping.to_accounts_mapping()
    assert converted.balancing == mapping.balancing == "5830"
    assert converted.accounts_payable == mapping.accounts_payable == "7200"
    assert converted.wallet_for("EUR") == "5811"


def test_old_mapping_names_are_deprecated_aliases() -> None:
    mapping = CHART.mapping
    with pytest.warns(DeprecationWarning, match="balancing"):
        assert mapping.contra == mapping.balancing
    with pytest.warns(DeprecationWarning, match="accounts_payable"):
        assert mapping.fallback_ap == mapping.accounts_payable
    with (
        pytest.warns(DeprecationWarning, match="contra"),
        pytest.warns(DeprecationWarning, match="fallback_ap"),
    ):
        old = DemoAccountsMapping(
            wallet="1", wallet_by_currency={}, out_of_pocket="2", contra="3",
            external_reimbursement="4", fallback_ap="5", vendor_ap={},
        )  # fmt: skip
    assert (old.balancing, old.accounts_payable) == ("3", "5")
    # mypy's attrs plugin sees no fields in an init=False class (evolve works at runtime).
    assert evolve(old, balancing="9").balancing == "9"  # type: ignore[call-arg]
    both: dict[str, Any] = {
        "wallet": "1", "wallet_by_currency": {}, "out_of_pocket": "2", "contra": "3",
        "balancing": "3", "external_reimbursement": "4", "accounts_payable": "5", "vendor_ap": {},
    }  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(TypeError, match="not both"):
            DemoAccountsMapping(**both)


# --------------------------------------------------------------------------- short reprs


def test_chart_and_setup_reprs_are_one_short_line(tmp_path: Any) -> None:
    text = repr(CHART)
    assert "\n" not in text
    assert len(text) < 120
    assert "28 accounts" in text
    assert "closed_until=2026-06-30" in text
    setup = AdapterSetup(chart=CHART, workdir=tmp_path, company_id=uuid4())
    assert len(repr(setup)) < 400
    assert "ext-6010" in CHART.describe()  # the full listing is one call away


def test_a_failing_check_puts_the_reason_first_and_keeps_examples_short() -> None:
    def failing(subject: Subject) -> None:
        error = ConformanceFailure("account 6010: Pleo has the wrong name")
        # BaseException.add_note is 3.11+; hypothesis sets __notes__ directly on 3.10.
        error.__notes__ = ["Falsifying example: converges(edited=(" + "x" * 5000 + "))"]  # type: ignore[attr-defined]
        raise error

    result = run_check(Check("demo", "a demo check", failing), Subject(lambda s: None))  # type: ignore[arg-type,return-value]
    assert result.status == "failed"
    assert result.detail.splitlines()[0] == "account 6010: Pleo has the wrong name"
    assert len(result.detail) < 600


def test_sync_report_repr_is_short_and_summary_shows_related() -> None:
    company = uuid4()
    taxes = SyncReport(scope=SyncScope.TAX_CODES, company_id=company, dry_run=False, plan=Plan())
    accounts = SyncReport(
        scope=SyncScope.ACCOUNTS,
        company_id=company,
        dry_run=False,
        plan=Plan(),
        errors=["x" * 3000],
        related={"tax_codes": taxes},
    )
    text = repr(accounts)
    assert "\n" not in text
    assert len(text) < 250
    assert "accounts" in text
    assert "errors=1" in text
    assert "tax_codes" in text
    summary = accounts.summary()
    assert summary.startswith("accounts (applied)")
    assert "| tax_codes (applied)" in summary
    assert "\n" not in summary


def test_sync_chart_of_accounts_summary_shows_both_scopes() -> None:
    from pleo_erp.orchestration.sync import sync_chart_of_accounts

    sandbox = PleoSandbox(seed=1)
    demo = sandbox.seed_demo()
    with sandbox.client() as client:
        report = sync_chart_of_accounts(
            client, InMemoryAccountingSystem.from_demo(demo), company_id=demo.company_id
        )
    assert report.scope is SyncScope.ACCOUNTS
    assert report.related["tax_codes"].scope is SyncScope.TAX_CODES
    assert "accounts (applied)" in report.summary()
    assert "tax_codes (applied)" in report.summary()


# --------------------------------------------------------------------------- dimensions=False


class NoDimensionsLedger:
    """A ledger without dimensions (like GnuCash): ignores tags, implements no DimensionSource.

    It wraps the in-memory AS (built from the chart it is given) and drops every line's
    dimensions before posting; it exposes accounts and tax codes, never dimensions.
    """

    def __init__(self, inner: InMemoryAccountingSystem) -> None:
        self.inner = inner

    def capabilities(self) -> Any:
        return self.inner.capabilities()

    def accounts_mapping(self) -> Any:
        return self.inner.accounts_mapping()

    def check_ready(self, job: Any) -> None:
        self.inner.check_ready(job)

    def find_vendor(self, key: Any) -> Any:
        return self.inner.find_vendor(key)

    def is_period_open(self, day: Any) -> bool:
        return self.inner.is_period_open(day)

    def next_open_date(self, day: Any) -> Any:
        return self.inner.next_open_date(day)

    def find_posted(self, accounting_entry_id: UUID) -> PostedEntry | None:
        return self.inner.find_posted(accounting_entry_id)

    def post(self, entry: Entry, attachments: Sequence[Attachment]) -> PostedEntry:
        lines = tuple(evolve(line, dimensions=()) for line in entry.lines)
        return self.inner.post(evolve(entry, lines=lines), attachments)

    def attach(self, posted: PostedEntry, attachments: Sequence[Attachment]) -> PostedEntry:
        return self.inner.attach(posted, attachments)

    def list_accounts(self) -> Any:
        return self.inner.list_accounts()

    def list_tax_codes(self) -> Any:
        return self.inner.list_tax_codes()


def test_dimensions_default_from_the_adapter() -> None:
    assert Subject(inmemory_for).uses_dimensions is True
    plain = Subject(lambda setup: NoDimensionsLedger(inmemory_for(setup)))
    assert plain.uses_dimensions is False
    assert plain.chart.dimensions == ()
    assert Subject(inmemory_for, dimensions=False).uses_dimensions is False
    # Either side with dimensions turns them on: the adapter, or the make_sources sources.
    assert Subject(inmemory_for, make_sources=lambda setup: None).uses_dimensions is True
    with_sources = Subject(
        lambda setup: NoDimensionsLedger(inmemory_for(setup)),
        make_sources=inmemory_for,
    )
    assert with_sources.uses_dimensions is True


def test_a_ledger_without_dimensions_passes_without_inventing_any() -> None:
    """No placeholder dimensions: the adapter's chart has none, the tag cases are skipped."""
    charts: list[DemoChart] = []

    def make(setup: AdapterSetup) -> Any:
        charts.append(setup.chart)
        return NoDimensionsLedger(inmemory_for(setup))

    def read(adapter: Any) -> Any:
        return inmemory_entries(adapter.inner)

    report = run_conformance(
        make,
        read_entries=read,
        checks=["balanced_entries", "failure_mapping", "demo_export", "sync_idempotent"],
        max_examples=3,
        seed=7,
    )
    assert report.ok, report.summary()
    for name in ("failure_mapping", "demo_export", "sync_idempotent"):
        assert "dimensions=False" in report.result(name).detail
    assert "note: unknown and inactive tag cases skipped" in report.summary()
    assert report.result("balanced_entries").detail == ""
    assert charts
    assert all(chart.dimensions == () for chart in charts)


def test_forcing_dimensions_on_a_ledger_without_them_fails_the_demo() -> None:
    """The switch decides: with dimensions=True the unknown tag must be refused."""
    report = run_conformance(
        lambda setup: NoDimensionsLedger(inmemory_for(setup)),
        checks=["demo_export"],
        dimensions=True,
        max_examples=1,
    )
    result = report.result("demo_export")
    assert result.status == "failed"
    assert "tag_unknown" in result.detail.splitlines()[0]


def test_the_suite_has_the_dimensions_switch() -> None:
    class Suite(ConformanceSuite):
        dimensions = False

        def make_adapter(self, setup: AdapterSetup) -> Any:
            return NoDimensionsLedger(inmemory_for(setup))

    assert ConformanceSuite.dimensions is None
    subject = Suite().conformance_subject()
    assert subject.uses_dimensions is False


# --------------------------------------------------------------------------- names


def test_a_sandbox_client_brings_the_sandbox_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    """AS retries in export_expenses wait on sandbox time without sleep= being passed."""

    def real_sleep(seconds: float) -> None:
        raise AssertionError(f"slept {seconds}s for real")

    monkeypatch.setattr(time, "sleep", real_sleep)

    class FlakyOnce(InMemoryAccountingSystem):
        posts = 0

        def post(self, entry: Entry, attachments: Sequence[Attachment]) -> PostedEntry:
            FlakyOnce.posts += 1
            if FlakyOnce.posts == 1:
                raise AccountingSystemRateLimited("ledger busy", retry_after=30)
            return super().post(entry, attachments)

    sandbox = PleoSandbox(seed=1)
    demo = sandbox.seed_demo()
    before = sandbox.clock.now()
    with sandbox.client() as client:
        assert client.sleep == sandbox.clock.sleep
        report = export_expenses(client, FlakyOnce.from_demo(demo), company_id=demo.company_id)
    assert report.successful > 0
    assert FlakyOnce.posts > 1
    assert sandbox.clock.now() > before


def test_line_role_and_posting_mode_have_help() -> None:
    assert "'payable'" in pydoc.render_doc(LineRole)
    assert "Entry.posting_mode" in pydoc.render_doc(PostingMode)
