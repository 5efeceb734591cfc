"""Tests of ``pleo_erp.domain``: bookkeeping, VAT, money, entries, reconciliation."""
