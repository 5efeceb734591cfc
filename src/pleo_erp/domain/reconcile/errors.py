"""Errors the reconciliation engine raises before any write is made."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pleo_erp.domain.reconcile.guards import ArchiveGuard

__all__ = [
    "DuplicateExternalId",
    "DuplicateSourceKey",
    "MassArchiveRefused",
    "ReconcileError",
    "SelectionError",
]


class ReconcileError(Exception):
    """Root of the errors that stop a sync before it writes anything."""


class DuplicateSourceKey(ReconcileError):
    """The AS reported the same matching key twice among its active objects.

    Matching would be ambiguous, so the whole scope is refused before any write
    (accounts rule 36). ``keys`` lists the offending keys, sorted.
    """

    def __init__(self, scope: str, keys: Iterable[str]) -> None:
        self.scope = scope
        self.keys = tuple(sorted(set(keys)))
        shown = ", ".join(repr(k) for k in self.keys[:10])
        more = f" (+{len(self.keys) - 10} more)" if len(self.keys) > 10 else ""
        super().__init__(f"duplicate {scope} keys in the accounting system: {shown}{more}")


#: The name the accounts reference (rule 36) uses.
DuplicateExternalId = DuplicateSourceKey


class MassArchiveRefused(ReconcileError):
    """The plan would archive more than the allowed share of some collection's active objects.

    Nothing was written. Check the accounting system (a read that silently returned too
    little looks exactly like this) and re-run with ``force=True`` if the plan is right.
    """

    def __init__(self, guards: Sequence[ArchiveGuard], *, max_ratio: float) -> None:
        self.guards = tuple(guards)
        self.max_ratio = max_ratio
        shown = "; ".join(str(g) for g in self.guards[:5])
        more = f" (+{len(self.guards) - 5} more)" if len(self.guards) > 5 else ""
        super().__init__(
            f"refusing to archive more than {max_ratio:.0%} of the active objects "
            f"({shown}{more}); re-run with force=True if this is intended"
        )


class SelectionError(ReconcileError, ValueError):
    """A dimension selection breaks the rules: more than 5, inactive/unknown or duplicate codes.

    ``candidates`` lists the codes involved (e.g. every auto-selection candidate when the
    union with the manual picks would exceed the cap, tags rule 4).
    """

    def __init__(self, message: str, *, candidates: Iterable[str] = ()) -> None:
        self.candidates = tuple(candidates)
        super().__init__(message)
