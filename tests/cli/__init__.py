"""Tests of the ``pleo-erp`` CLI (``pleo_erp.cli``)."""
