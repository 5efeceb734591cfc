"""Pure domain logic: no I/O, no HTTP, no clock reads (time is passed in).

Level 1 (export): :mod:`~pleo_erp.domain.money`, :mod:`~pleo_erp.domain.bookkeeping`,
:mod:`~pleo_erp.domain.mapping`, :mod:`~pleo_erp.domain.config`,
:mod:`~pleo_erp.domain.entries`, :mod:`~pleo_erp.domain.vat`,
:mod:`~pleo_erp.domain.periods`, :mod:`~pleo_erp.domain.receipts`,
:mod:`~pleo_erp.domain.outcomes`, :mod:`~pleo_erp.domain.validation`.
Levels 2–3 (sync): :mod:`~pleo_erp.domain.reconcile`.

This package deliberately imports nothing eagerly: the vendor protocols in
:mod:`pleo_erp.accounting_system` import the leaf modules (money, failures) and the entry
builders import the protocols' value types, so eager imports here would create a cycle.
"""
