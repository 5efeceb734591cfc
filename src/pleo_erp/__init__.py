"""pleo-erp: the Python SDK for building Pleo accounting integrations."""

from pleo_erp._version import __version__

__all__ = ["__version__"]
