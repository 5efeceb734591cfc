"""Adapters to task engines (optional extras): :mod:`pleo_erp.contrib.celery`."""
