"""Tests of ``export_expenses``: jobs, journal, leases, crashes."""
