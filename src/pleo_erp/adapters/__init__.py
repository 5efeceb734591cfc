"""Reference accounting-system adapters built on the vendor protocols.

Each adapter lives in its own subpackage and may need an optional extra; importing this
package imports none of them, so ``pleo_erp.adapters`` is always importable.

- :mod:`pleo_erp.adapters.beancount` — a Beancount ledger file (extra ``beancount``).
"""

__all__: list[str] = []
