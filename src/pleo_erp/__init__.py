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

from pleo_erp._version import __version__
from pleo_erp.accounting_system import (
    AccountingSystemError,
    AccountSource,
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
    sync_chart_of_accounts,
    sync_tags,
    sync_tax_codes,
)

__all__ = [
    "PRODUCTION",
    "STAGING",
    "AccountSource",
    "AccountingSystemError",
    "ApiKeyAuth",
    "AsyncPleoClient",
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
    "sync_chart_of_accounts",
    "sync_tags",
    "sync_tax_codes",
]
