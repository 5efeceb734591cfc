"""Tests of the reference adapters (``pleo_erp.adapters``)."""
