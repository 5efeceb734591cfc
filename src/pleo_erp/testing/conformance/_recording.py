"""A transparent proxy around the adapter under test: records posts, injects crashes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Literal
from uuid import UUID

from attrs import define, field

from pleo_erp.accounting_system.export import (
    AccountingSystemTimeout,
    AccountsMapping,
    Attachment,
    Capabilities,
    Entry,
    ExportTarget,
    JobContext,
    PostedEntry,
    VendorAccount,
    VendorKey,
)

__all__ = ["CrashKind", "PostRecord", "RecordingTarget", "SimulatedCrash"]

CrashKind = Literal["crash", "lost_response"]
"""How a post "goes wrong" after the AS stored the entry.

- ``crash``: the exporting process dies (a :class:`SimulatedCrash` propagates out of the
  export, like a kill); nothing is reported to Pleo for that item.
- ``lost_response``: the AS call times out after the entry was stored (the adapter would
  raise :class:`AccountingSystemTimeout`); the export must find the entry and report it.
"""


class SimulatedCrash(BaseException):
    """The kit's stand-in for a process dying right after the AS stored an entry.

    A ``BaseException`` (like ``KeyboardInterrupt``) so no ``except Exception`` in the
    export turns it into an item failure.
    """


@define(frozen=True, slots=True, kw_only=True)
class PostRecord:
    """One ``post`` call that returned: the entry handed over and what the adapter answered."""

    entry: Entry
    posted: PostedEntry
    attachment_keys: frozenset[str]


@define(slots=True, kw_only=True)
class _Plan:
    after_posts: int
    kind: CrashKind


@define(slots=True, kw_only=True)
class RecordingTarget:
    """Delegates every ``ExportTarget`` call to ``inner``; records posts; may crash once.

    :meth:`arm` schedules one failure after the N-th successful ``post`` of this proxy.
    """

    inner: ExportTarget
    posts: list[PostRecord] = field(factory=list)
    rejected: list[tuple[Entry, BaseException]] = field(factory=list)
    attaches: int = 0
    _plan: _Plan | None = None
    _fired: int = 0

    def arm(self, after_posts: int, kind: CrashKind) -> None:
        """Fail right after the ``after_posts``-th successful post from now on."""
        self._plan = _Plan(after_posts=len(self.posts) + after_posts, kind=kind)

    def disarm(self) -> None:
        """Cancel a scheduled failure."""
        self._plan = None

    @property
    def fired(self) -> int:
        """How many scheduled failures fired."""
        return self._fired

    def capabilities(self) -> Capabilities:
        """Delegated."""
        return self.inner.capabilities()

    def accounts_mapping(self) -> AccountsMapping:
        """Delegated."""
        return self.inner.accounts_mapping()

    def check_ready(self, job: JobContext) -> None:
        """Delegated."""
        self.inner.check_ready(job)

    def find_vendor(self, key: VendorKey) -> VendorAccount | None:
        """Delegated."""
        return self.inner.find_vendor(key)

    def is_period_open(self, on: date) -> bool:
        """Delegated."""
        return self.inner.is_period_open(on)

    def next_open_date(self, after: date) -> date | None:
        """Delegated."""
        return self.inner.next_open_date(after)

    def find_posted(self, accounting_entry_id: UUID) -> PostedEntry | None:
        """Delegated."""
        return self.inner.find_posted(accounting_entry_id)

    def post(self, entry: Entry, attachments: Sequence[Attachment]) -> PostedEntry:
        """Delegated and recorded; fires the scheduled failure once the entry is stored."""
        try:
            posted = self.inner.post(entry, attachments)
        except BaseException as error:
            self.rejected.append((entry, error))
            raise
        self.posts.append(
            PostRecord(
                entry=entry, posted=posted, attachment_keys=frozenset(a.key for a in attachments)
            )
        )
        plan = self._plan
        if plan is not None and len(self.posts) >= plan.after_posts:
            self._plan = None
            self._fired += 1
            if plan.kind == "crash":
                raise SimulatedCrash(f"simulated crash after posting {entry.accounting_entry_id}")
            raise AccountingSystemTimeout(
                "simulated timeout: the accounting system stored the entry but the response "
                "was lost"
            )
        return posted

    def attach(self, posted: PostedEntry, attachments: Sequence[Attachment]) -> PostedEntry:
        """Delegated and counted."""
        self.attaches += 1
        return self.inner.attach(posted, attachments)

    def posts_for(self, accounting_entry_id: UUID) -> list[PostRecord]:
        """The recorded posts of one Pleo ``accountingEntryId``."""
        return [p for p in self.posts if p.entry.accounting_entry_id == accounting_entry_id]
