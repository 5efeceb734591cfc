"""The mass-archive measure: how much of one collection a plan archives.

A leaf module (it imports nothing from the reconcile package) so that both
:mod:`~pleo_erp.domain.reconcile.plan` and :mod:`~pleo_erp.domain.reconcile.errors` can use it
without importing each other.
"""

from __future__ import annotations

from attrs import define

__all__ = ["DEFAULT_MAX_ARCHIVE_RATIO", "ArchiveGuard"]

#: A plan may archive at most this share of the active objects of one collection without
#: ``force=True`` (DESIGN decision 8, accounts rule 41).
DEFAULT_MAX_ARCHIVE_RATIO = 0.5


@define(frozen=True, slots=True)
class ArchiveGuard:
    """How much of one collection (all groups, one group's tags, accounts …) a plan archives."""

    collection: str
    active: int
    archiving: int

    def exceeds(self, max_ratio: float = DEFAULT_MAX_ARCHIVE_RATIO) -> bool:
        """Whether more than ``max_ratio`` of the active objects would be archived."""
        return self.active > 0 and self.archiving > self.active * max_ratio

    def __str__(self) -> str:
        return f"{self.collection}: archive {self.archiving} of {self.active} active"
