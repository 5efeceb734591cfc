"""Tests of the conformance kit (``pleo_erp.testing.conformance``) and in-memory AS."""
