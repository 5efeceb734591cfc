"""Tests of ``pleo_erp.client``: transport, auth, resources, pagination, webhooks."""
