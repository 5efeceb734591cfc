"""Tests of ``pleo_erp.state``: the SQLite state, leases, token store."""
