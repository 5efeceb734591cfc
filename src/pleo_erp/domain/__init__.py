"""Pure domain logic: no I/O, no HTTP, no clock reads (time is passed in).

Values: :mod:`~pleo_erp.domain.journal` (the entries, receipts, capabilities and accounts
mapping the export hands to an accounting system) and :mod:`~pleo_erp.domain.records` (the
chart's records: accounts, tax codes, dimensions and their values); both are re-exported
here, and by :mod:`pleo_erp.accounting_system`.
Level 1 (export): :mod:`~pleo_erp.domain.money`, :mod:`~pleo_erp.domain.bookkeeping`,
:mod:`~pleo_erp.domain.mapping`, :mod:`~pleo_erp.domain.config`,
:mod:`~pleo_erp.domain.entries`, :mod:`~pleo_erp.domain.vat`,
:mod:`~pleo_erp.domain.periods`, :mod:`~pleo_erp.domain.receipts`,
:mod:`~pleo_erp.domain.outcomes`, :mod:`~pleo_erp.domain.validation`.
Levels 2–3 (sync): :mod:`~pleo_erp.domain.reconcile`.

The domain is the bottom layer: it imports only the wire models (:mod:`pleo_erp.models`),
never the accounting-system protocols, the client, the orchestrators, the state store, the
adapters or the testing kit (``lint-imports`` checks this; see ``docs/concepts.md``).
"""

# Re-exports: each module's own ``__all__`` is the list (star imports: seen by type checkers).
from pleo_erp.domain import journal as _journal
from pleo_erp.domain import records as _records
from pleo_erp.domain.journal import *  # noqa: F403
from pleo_erp.domain.records import *  # noqa: F403

__all__ = [*_journal.__all__, *_records.__all__]
