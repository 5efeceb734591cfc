"""Tests of ``pleo_erp.models`` and the one cattrs converter (wire shapes)."""
