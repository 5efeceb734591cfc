"""What an accounting system may add so that an export preview predicts its rejections.

An export preview (``export_expenses(..., dry_run=True)``, ``pleo-erp export --dry-run``) asks
the AS only read-only questions: ``check_ready``, ``capabilities``, ``accounts_mapping``,
``find_posted``, ``find_vendor``, ``is_period_open`` and ``next_open_date``. Failures the AS
raises only while *posting* (an unknown account, tax code or dimension value) are invisible to
it, unless the AS also implements :class:`EntryValidator`: the preview then hands it every
entry it would post, and reports what ``validate_entry`` raises as that item's failure.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from pleo_erp.accounting_system.export import Entry

__all__ = ["EntryValidator"]


@runtime_checkable
class EntryValidator(Protocol):
    """Optional: check an entry as :meth:`ExportTarget.post` would, without writing anything."""

    def validate_entry(self, entry: Entry) -> None:
        """Raise the :class:`~pleo_erp.accounting_system.AccountingSystemError` that ``post``
        would raise for ``entry`` (``UnknownAccountError``, ``UnknownTaxCodeError`` …), or
        return ``None`` when it would be accepted. Must not write to the AS."""
        ...
