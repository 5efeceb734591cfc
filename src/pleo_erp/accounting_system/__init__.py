"""The protocols a vendor's accounting system (AS) implements, and the values they exchange.

- Level 1 (export, :mod:`.export`): :class:`ExportTarget` (or :class:`AsyncExportTarget`)
  receives balanced entries — :class:`JournalEntry`, :class:`SupplierInvoice`,
  :class:`SupplierPayment`, :class:`CreditNote` — and raises :class:`AccountingSystemError`
  subclasses that name the Pleo failure type they mean.
- Levels 2–3 (sync, :mod:`.sources`): :class:`DimensionSource`, :class:`AccountSource`,
  :class:`TaxCodeSource` are read and mirrored into Pleo (``async`` twins:
  :class:`AsyncDimensionSource`, :class:`AsyncAccountSource`, :class:`AsyncTaxCodeSource`).

This package is the protocols and their errors. The values they exchange are defined in the
domain layer (:mod:`pleo_erp.domain.journal`, :mod:`pleo_erp.domain.records`) and re-exported
here under the same names, so imports from ``pleo_erp.accounting_system`` keep working.
"""

# Each module's own ``__all__`` is the list (star imports: seen by type checkers).
from pleo_erp.accounting_system import ap_split as _ap_split
from pleo_erp.accounting_system import dry_run as _dry_run
from pleo_erp.accounting_system import export as _export
from pleo_erp.accounting_system import sources as _sources
from pleo_erp.accounting_system.ap_split import *  # noqa: F403
from pleo_erp.accounting_system.dry_run import *  # noqa: F403
from pleo_erp.accounting_system.export import *  # noqa: F403
from pleo_erp.accounting_system.sources import *  # noqa: F403

# The domain values that .export and .sources re-export, imported here directly as well:
# type checkers do not follow a star import of a star import.
from pleo_erp.domain.journal import *  # noqa: F403
from pleo_erp.domain.records import *  # noqa: F403

__all__ = [*_ap_split.__all__, *_dry_run.__all__, *_export.__all__, *_sources.__all__]
