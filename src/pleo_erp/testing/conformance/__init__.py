"""The conformance kit: prove an ``AccountingSystem`` adapter works with the SDK.

Two ways to run the same checks against a vendor's adapter:

- **pytest**: subclass :class:`ConformanceSuite` in a test module and implement
  ``make_adapter(setup)``; pytest collects its ``test_*`` methods.
- **a function**: ``run_conformance(make_adapter, ...)`` returns a
  :class:`ConformanceReport` (for a CLI or a CI script).

Every check builds fresh adapters holding the sandbox demo's chart (:class:`AdapterSetup`)
and, where Pleo is involved, a fresh :class:`~pleo_erp.testing.PleoSandbox` with the demo
company. Property checks are hypothesis-driven and bounded (``max_examples``, no deadline).
See ``docs/conformance.md`` for what each check proves.

The chart an adapter is set up with (``AdapterSetup.chart``) is a :class:`DemoChart`; it and
its parts (:class:`DemoAccount`, :class:`DemoTaxCode`, :class:`DemoDimension`,
:class:`DemoDimensionValue`, :class:`DemoVendor`, :class:`DemoAccountsMapping`) are exported
here so an adapter's test code can type its factories with public names. The chart's
accounts, tax codes, dimensions and values are the domain records
(:class:`~pleo_erp.accounting_system.LedgerAccount`, ``LedgerTaxCode``, ``Dimension``,
``DimensionValue``): ``DemoDimension``/``DemoDimensionValue`` are aliases, ``DemoAccount`` and
``DemoTaxCode`` build the records with the demo's argument order.
"""

from pleo_erp.testing.conformance._recording import RecordingTarget, SimulatedCrash
from pleo_erp.testing.conformance._registry import CHECKS, Check
from pleo_erp.testing.conformance._runner import run_check, run_conformance
from pleo_erp.testing.conformance._subject import Subject
from pleo_erp.testing.conformance._suite import ConformanceSuite
from pleo_erp.testing.conformance._types import (
    AdapterFactory,
    AdapterSetup,
    CheckResult,
    CheckStatus,
    ConformanceFailure,
    ConformanceReport,
    ConformanceSkipped,
    LedgerEntry,
    LedgerPosting,
    LedgerReader,
    ReopenHook,
    SourcesFactory,
)
from pleo_erp.testing.sandbox.demo import (
    DemoAccount,
    DemoAccountsMapping,
    DemoChart,
    DemoDimension,
    DemoDimensionValue,
    DemoTaxCode,
    DemoVendor,
)

__all__ = [
    "CHECKS",
    "AdapterFactory",
    "AdapterSetup",
    "Check",
    "CheckResult",
    "CheckStatus",
    "ConformanceFailure",
    "ConformanceReport",
    "ConformanceSkipped",
    "ConformanceSuite",
    "DemoAccount",
    "DemoAccountsMapping",
    "DemoChart",
    "DemoDimension",
    "DemoDimensionValue",
    "DemoTaxCode",
    "DemoVendor",
    "LedgerEntry",
    "LedgerPosting",
    "LedgerReader",
    "RecordingTarget",
    "ReopenHook",
    "SimulatedCrash",
    "SourcesFactory",
    "Subject",
    "run_check",
    "run_conformance",
]
