"""Test support that ships with the SDK: run an integration without Pleo credentials.

- :class:`PleoSandbox` — a local, stateful emulator of the Pleo APIs (in-process or over
  loopback HTTP) with demo data and fault injection.
- :class:`InMemoryAccountingSystem` — a complete accounting system in memory (``ExportTarget``
  plus the three source protocols), with switches to fail like a real one.
- ``pleo_erp.testing.conformance`` — the test suite a vendor runs against their own adapter.
- :class:`DemoChart` (and its parts) — the demo company's chart of accounts, tax codes,
  dimensions, vendors and accounts mapping: what a conformance-kit adapter is set up with.
"""

from pleo_erp.testing.inmemory import InMemoryAccountingSystem, StoredAttachment, StoredEntry
from pleo_erp.testing.inmemory_sources import InMemorySources
from pleo_erp.testing.sandbox import PleoSandbox, SandboxClock
from pleo_erp.testing.sandbox.demo import (
    DemoAccount,
    DemoAccountsMapping,
    DemoChart,
    DemoData,
    DemoDimension,
    DemoDimensionValue,
    DemoTaxCode,
    DemoVendor,
)

__all__ = [
    "DemoAccount",
    "DemoAccountsMapping",
    "DemoChart",
    "DemoData",
    "DemoDimension",
    "DemoDimensionValue",
    "DemoTaxCode",
    "DemoVendor",
    "InMemoryAccountingSystem",
    "InMemorySources",
    "PleoSandbox",
    "SandboxClock",
    "StoredAttachment",
    "StoredEntry",
]
