"""pleo-erp's tests; the folders mirror the package (see docs/operating.md, Developing)."""
