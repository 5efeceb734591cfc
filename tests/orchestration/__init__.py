"""Tests of ``pleo_erp.orchestration``: the export and sync orchestrators."""
