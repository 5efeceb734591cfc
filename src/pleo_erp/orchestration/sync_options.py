"""The keyword arguments of the syncs, one ``TypedDict`` per sync (PEP 692 ``Unpack``).

A blocking sync and its ``async`` twin take the same keywords, declared once here:
``sync_tags(client, source, **options: Unpack[TagsSyncOptions])`` and
``sync_tags_async(client, source, **options: Unpack[TagsSyncOptions])``. Type checkers check
every keyword (name, type, ``company_id`` required); at run time an unknown or missing keyword
raises the same ``TypeError`` as a plain signature. The defaults are given on each key.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from typing_extensions import TypedDict

from pleo_erp.domain.reconcile.accounts import AccountPlanOptions
from pleo_erp.orchestration.locks import CompanyLock
from pleo_erp.orchestration.sync_report import ProgressCallback
from pleo_erp.state._db import StateDB
from pleo_erp.state.selection import SelectionState

__all__ = [
    "AccountsSyncOptions",
    "ChartOfAccountsSyncOptions",
    "SyncOptions",
    "TagsSyncOptions",
    "TaxCodesSyncOptions",
]


class _SyncRequired(TypedDict):
    company_id: uuid.UUID | str
    """The Pleo company (a ``UUID`` or its text); required."""


# Required keys come from a total base class, not ``Required[...]``: with postponed
# annotations the runtime ``__required_keys__`` would not see ``Required``.
class SyncOptions(_SyncRequired, total=False):
    """The keywords every sync takes: ``company_id`` (required) and the optional ones below."""

    dry_run: bool
    """Read and plan only, write nothing (default ``False``); needs only the read scopes."""

    force: bool
    """Apply a plan that archives more than half of the active objects (default ``False``:
    such a plan raises ``MassArchiveRefused`` before any write)."""

    progress: ProgressCallback | None
    """Called with a :class:`~pleo_erp.orchestration.sync_report.SyncProgress` per step."""

    lock: CompanyLock | None
    """The run lock (default: one in-process lock); one run per sync and company at a time."""

    page_size: int | None
    """Page size of Pleo's list reads (default: the endpoint's)."""

    granted_scopes: str | Iterable[str] | None
    """The credential's scopes (e.g. ``client.introspect().scope``): when given, checked
    locally before any request (accounts rule 50); ``None`` (default, unknown) skips it."""


class TaxCodesSyncOptions(SyncOptions, total=False):
    """The keywords of ``sync_tax_codes`` and ``sync_tax_codes_async``: :class:`SyncOptions`."""


class ChartOfAccountsSyncOptions(SyncOptions, total=False):
    """The keywords of ``sync_chart_of_accounts`` and its ``async`` twin."""

    options: AccountPlanOptions | None
    """How accounts are planned (default :class:`AccountPlanOptions` ``()``)."""


class AccountsSyncOptions(ChartOfAccountsSyncOptions, total=False):
    """The keywords of ``sync_accounts`` and ``sync_accounts_async``."""

    batch_threshold: int
    """Creates go through the batch endpoint from this many on (default ``2``)."""


class TagsSyncOptions(SyncOptions, total=False):
    """The keywords of ``sync_tags`` and ``sync_tags_async``."""

    selection: Sequence[str] | None
    """The user's explicit choice of dimension codes (validated: ≤ 5, active); saved to
    ``state`` when given. ``None`` (default) uses the stored selection, minus dimensions gone
    inactive (rule 6), or auto-selects on first connection (rule 4)."""

    state: SelectionState | StateDB | None
    """Where the selection is persisted (a ``SelectionStore`` or a ``StateDB``). Without it
    (default) nothing is persisted and every run without ``selection`` is a first connection."""

    allow_group_renames: bool
    """Rename a group when its dimension's name changed (rule 10; default ``False``)."""

    only_dimension: str | None
    """Ad hoc run for one selected dimension: its group and tags only, no archive sweep of
    other groups (rule 25; default ``None``)."""
