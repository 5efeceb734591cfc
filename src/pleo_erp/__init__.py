"""pleo-erp: the Python SDK for building Pleo accounting integrations.

```python
from pleo_erp import PleoClient, ApiKeyAuth, export_expenses, sync_accounts, sync_tags

client = PleoClient(auth=ApiKeyAuth("…"), base_url="https://external.staging.pleo.io")
sync_accounts(client, my_accounting_system, company_id=company_id)
sync_tags(client, my_accounting_system, company_id=company_id)
report = export_expenses(client, my_accounting_system, company_id=company_id)
```

The names below are the stable public API; everything else is reachable through the
subpackages (``pleo_erp.client``, ``pleo_erp.models``, ``pleo_erp.domain``,
``pleo_erp.accounting_system``, ``pleo_erp.orchestration``, ``pleo_erp.state``,
``pleo_erp.testing``).
"""

# The package is imported lazily (PEP 562): ``import pleo_erp`` loads only this module and the
# version, and a public name below imports its subpackage on first use. A CLI run, a worker
# that only needs the client or ``python -c "import pleo_erp"`` no longer pays for the whole SDK
# (httpx, cattrs, the orchestrators: 78 modules before this change).

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from pleo_erp._version import __version__

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time __getattr__ resolves these
    from pleo_erp.accounting_system import (
        AccountingSystemError,
        AccountSource,
        AsyncAccountSource,
        AsyncDimensionSource,
        AsyncTaxCodeSource,
        DimensionSource,
        ExportTarget,
        TaxCodeSource,
    )
    from pleo_erp.client import (
        PRODUCTION,
        STAGING,
        ApiKeyAuth,
        AsyncPleoClient,
        OAuth2Auth,
        PleoAPIError,
        PleoClient,
        PleoError,
    )
    from pleo_erp.domain.config import ExportConfig
    from pleo_erp.orchestration import (
        ExportReport,
        SyncReport,
        export_expenses,
        export_expenses_async,
        process_job,
        process_job_async,
        sync_accounts,
        sync_accounts_async,
        sync_chart_of_accounts,
        sync_chart_of_accounts_async,
        sync_tags,
        sync_tags_async,
        sync_tax_codes,
        sync_tax_codes_async,
    )


# A library must not print log records when the application configured no logging: Python's
# last-resort handler would print WARNING and above to stderr. The application decides.
logging.getLogger("pleo_erp").addHandler(logging.NullHandler())

#: public name -> the module that defines it (imported on first access).
_EXPORTS: dict[str, str] = {
    "AccountSource": "pleo_erp.accounting_system",
    "AccountingSystemError": "pleo_erp.accounting_system",
    "AsyncAccountSource": "pleo_erp.accounting_system",
    "AsyncDimensionSource": "pleo_erp.accounting_system",
    "AsyncTaxCodeSource": "pleo_erp.accounting_system",
    "DimensionSource": "pleo_erp.accounting_system",
    "ExportTarget": "pleo_erp.accounting_system",
    "TaxCodeSource": "pleo_erp.accounting_system",
    "ApiKeyAuth": "pleo_erp.client",
    "AsyncPleoClient": "pleo_erp.client",
    "OAuth2Auth": "pleo_erp.client",
    "PRODUCTION": "pleo_erp.client",
    "PleoAPIError": "pleo_erp.client",
    "PleoClient": "pleo_erp.client",
    "PleoError": "pleo_erp.client",
    "STAGING": "pleo_erp.client",
    "ExportConfig": "pleo_erp.domain.config",
    "ExportReport": "pleo_erp.orchestration",
    "SyncReport": "pleo_erp.orchestration",
    "export_expenses": "pleo_erp.orchestration",
    "export_expenses_async": "pleo_erp.orchestration",
    "process_job": "pleo_erp.orchestration",
    "process_job_async": "pleo_erp.orchestration",
    "sync_accounts": "pleo_erp.orchestration",
    "sync_chart_of_accounts": "pleo_erp.orchestration",
    "sync_tags": "pleo_erp.orchestration",
    "sync_tax_codes": "pleo_erp.orchestration",
    "sync_accounts_async": "pleo_erp.orchestration",
    "sync_chart_of_accounts_async": "pleo_erp.orchestration",
    "sync_tags_async": "pleo_erp.orchestration",
    "sync_tax_codes_async": "pleo_erp.orchestration",
}

#: Subpackages reachable as attributes (``pleo_erp.client``) without an explicit import.
_SUBPACKAGES = frozenset(
    {
        "accounting_system",
        "adapters",
        "cli",
        "client",
        "contrib",
        "domain",
        "models",
        "orchestration",
        "runtime",
        "state",
        "testing",
    }
)


def __getattr__(name: str) -> Any:
    """Import a public name (or a subpackage) on first access (PEP 562)."""
    module_name = _EXPORTS.get(name)
    if module_name is not None:
        value = getattr(importlib.import_module(module_name), name)
        globals()[name] = value  # later lookups skip this function
        return value
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public names and subpackages, whether or not they are imported yet."""
    return sorted({*globals(), *__all__, *_SUBPACKAGES})


__all__ = [
    "PRODUCTION",
    "STAGING",
    "AccountSource",
    "AccountingSystemError",
    "ApiKeyAuth",
    "AsyncAccountSource",
    "AsyncDimensionSource",
    "AsyncPleoClient",
    "AsyncTaxCodeSource",
    "DimensionSource",
    "ExportConfig",
    "ExportReport",
    "ExportTarget",
    "OAuth2Auth",
    "PleoAPIError",
    "PleoClient",
    "PleoError",
    "SyncReport",
    "TaxCodeSource",
    "__version__",
    "export_expenses",
    "export_expenses_async",
    "process_job",
    "process_job_async",
    "sync_accounts",
    "sync_accounts_async",
    "sync_chart_of_accounts",
    "sync_chart_of_accounts_async",
    "sync_tags",
    "sync_tags_async",
    "sync_tax_codes",
    "sync_tax_codes_async",
]
