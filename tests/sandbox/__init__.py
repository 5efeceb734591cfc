"""Tests of the local Pleo sandbox (``pleo_erp.testing.sandbox``) and its demo data."""
