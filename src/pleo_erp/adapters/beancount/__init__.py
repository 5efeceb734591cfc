"""The reference accounting system: a Beancount ledger (optional extra ``beancount``).

```python
from pleo_erp.adapters.beancount import BeancountAccountingSystem, create_ledger

create_ledger("books/ledger.beancount", demo.chart, currency="DKK")
ledger = BeancountAccountingSystem("books/ledger.beancount")
report = export_expenses(client, ledger, company_id=...)
```

:class:`BeancountAccountingSystem` implements ``ExportTarget``, ``DimensionSource``,
``AccountSource`` and ``TaxCodeSource`` over one ``.beancount`` file; its configuration lives
in the ledger itself (see :mod:`pleo_erp.adapters.beancount._config` for the directives).
Every write is locked, atomic and checked with Beancount's own loader, so the ledger is always
``bean-check`` clean and can be opened in Fava (``fava ledger.beancount``).
"""

from pleo_erp.adapters.beancount._config import (
    MAPPING_KEYS,
    AccountInfo,
    LedgerConfig,
    LedgerConfigError,
    VendorInfo,
)
from pleo_erp.adapters.beancount._create import (
    ChartLike,
    account_name_for,
    create_ledger,
    render_ledger,
)
from pleo_erp.adapters.beancount._documents import DocumentRejected, safe_name
from pleo_erp.adapters.beancount._ledger import (
    ATTACHMENT_KEY,
    ENTRY_ID_KEY,
    BeancountLedger,
    LedgerErrors,
    LedgerSnapshot,
)
from pleo_erp.adapters.beancount._lock import LedgerLock, LockTimeout
from pleo_erp.adapters.beancount._system import SUPPORTED_FORMATS, BeancountAccountingSystem
from pleo_erp.adapters.beancount._translate import (
    dimension_key,
    entry_link,
    invoice_link,
    reference_link,
    to_transaction,
)

__all__ = [
    "ATTACHMENT_KEY",
    "ENTRY_ID_KEY",
    "MAPPING_KEYS",
    "SUPPORTED_FORMATS",
    "AccountInfo",
    "BeancountAccountingSystem",
    "BeancountLedger",
    "ChartLike",
    "DocumentRejected",
    "LedgerConfig",
    "LedgerConfigError",
    "LedgerErrors",
    "LedgerLock",
    "LedgerSnapshot",
    "LockTimeout",
    "VendorInfo",
    "account_name_for",
    "create_ledger",
    "dimension_key",
    "entry_link",
    "invoice_link",
    "reference_link",
    "render_ledger",
    "safe_name",
    "to_transaction",
]
