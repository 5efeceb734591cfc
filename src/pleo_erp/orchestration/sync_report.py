"""What a Level 2/3 sync returns: the plan, what was applied, what failed, counts and timings."""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any
from uuid import UUID

from attrs import define, field

from pleo_erp.domain.reconcile.plan import Action, ActionKind, Plan
from pleo_erp.domain.reconcile.tags import SelectionOutcome

__all__ = [
    "ActionFailure",
    "AppliedAction",
    "ProgressCallback",
    "SyncPhase",
    "SyncProgress",
    "SyncReport",
    "SyncScope",
]


class SyncScope(str, enum.Enum):
    """Which sync produced a report."""

    TAGS = "tags"
    ACCOUNTS = "accounts"
    TAX_CODES = "tax_codes"


class SyncPhase(str, enum.Enum):
    """Where a sync is, for progress callbacks."""

    READ = "read"
    PLAN = "plan"
    APPLY = "apply"
    DONE = "done"


@define(frozen=True)
class SyncProgress:
    """One progress event: ``done`` of ``total`` steps of ``phase``; ``action`` when applying."""

    scope: SyncScope
    phase: SyncPhase
    done: int
    total: int
    action: Action | None = None
    message: str = ""


#: The callback type every sync accepts as ``progress=``.
ProgressCallback = Callable[[SyncProgress], None]


@define(frozen=True)
class AppliedAction:
    """An action Pleo accepted; ``pleo_id`` is the id of the created/updated object."""

    action: Action
    pleo_id: UUID | None = None


@define(frozen=True)
class ActionFailure:
    """An action Pleo refused (or that was skipped because something it needs failed).

    ``reasons`` carries the batch endpoint's ``failed[].reasons`` (e.g.
    ``EXTERNAL_ID_ALREADY_EXISTS``); ``status_code`` the HTTP status when there was one.
    ``retryable`` says whether the next run can be expected to succeed as is.
    """

    action: Action
    message: str
    status_code: int | None = None
    reasons: tuple[str, ...] = ()
    retryable: bool = False
    skipped: bool = False

    def __str__(self) -> str:
        status = f" [HTTP {self.status_code}]" if self.status_code is not None else ""
        reasons = f" ({', '.join(self.reasons)})" if self.reasons else ""
        return f"{self.action.kind.value} {self.action.target}: {self.message}{status}{reasons}"


@define(repr=False)
class SyncReport:
    """The typed outcome of ``sync_tags`` / ``sync_accounts`` / ``sync_tax_codes``.

    Attributes:
        scope: which sync ran.
        company_id: the Pleo company.
        dry_run: ``True`` if nothing was applied (``applied`` is then empty).
        plan: every planned action (writes in apply order, no-ops, issues, guards).
        applied: actions Pleo accepted, in the order they were sent.
        failures: actions Pleo refused or that were skipped, with the reason.
        errors: scope-level problems (a failed read of one dimension's values, …).
        warnings: things worth a look that changed nothing (e.g. auto-deselections).
        selection: Level 2 only — the dimension selection used and how it changed.
        timings: seconds per phase (``read``, ``plan``, ``apply``, ``total``).
        requests: HTTP requests the client sent during the run (retries included).
        write_requests: write requests the sync issued (POST/PUT, batch and bulk calls).
        replans: how often a create conflict (409) made the sync re-read and re-plan.
        lock_key: the run lock that was held.
        related: reports of syncs run as part of this one (tax codes before accounts).
    """

    scope: SyncScope
    company_id: UUID
    dry_run: bool
    plan: Plan
    applied: list[AppliedAction] = field(factory=list)
    failures: list[ActionFailure] = field(factory=list)
    errors: list[str] = field(factory=list)
    warnings: list[str] = field(factory=list)
    selection: SelectionOutcome | None = None
    timings: dict[str, float] = field(factory=dict)
    requests: int = 0
    write_requests: int = 0
    replans: int = 0
    lock_key: str = ""
    related: dict[str, SyncReport] = field(factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the run did everything it planned with no failure or scope error."""
        return not self.failures and not self.errors and not self.plan.errors

    @property
    def counts(self) -> dict[str, dict[str, int]]:
        """``{"planned": {...}, "applied": {...}, "failed": {...}}`` per action kind."""
        applied = {kind.value: 0 for kind in ActionKind}
        failed = {kind.value: 0 for kind in ActionKind}
        for done in self.applied:
            applied[done.action.kind.value] += 1
        for failure in self.failures:
            failed[failure.action.kind.value] += 1
        if not self.dry_run:
            applied[ActionKind.NOOP.value] = self.plan.counts[ActionKind.NOOP.value]
        return {"planned": dict(self.plan.counts), "applied": applied, "failed": failed}

    def applied_of(self, kind: ActionKind) -> list[AppliedAction]:
        """The applied actions of one kind."""
        return [a for a in self.applied if a.action.kind is kind]

    def summary(self) -> str:
        """A one-line human summary, with each :attr:`related` report after a ``|``.

        ``sync_chart_of_accounts`` returns the accounts report with the tax codes report
        under ``related["tax_codes"]``; its summary shows both, e.g.
        ``accounts (applied): create 3, noop 2; 5 requests (1 writes) | tax_codes (applied):
        update 1, noop 4; 3 requests (1 writes)``.
        """
        mode = "dry run" if self.dry_run else "applied"
        parts = [f"{self.scope.value} ({mode}): {self.plan.summary()}"]
        if self.failures:
            parts.append(f"{len(self.failures)} failed")
        if self.errors:
            parts.append(f"{len(self.errors)} errors")
        parts.append(f"{self.requests} requests ({self.write_requests} writes)")
        lines = ["; ".join(parts)]
        lines += [related.summary() for related in self.related.values()]
        return " | ".join(lines)

    def __repr__(self) -> str:
        """One short line (the full plan is in :attr:`plan`, the details in :meth:`as_dict`)."""
        mode = "dry_run" if self.dry_run else "applied"
        related = f", related={sorted(self.related)}" if self.related else ""
        return (
            f"<SyncReport {self.scope.value} {mode} ok={self.ok} "
            f"planned=[{self.plan.summary()}] applied={len(self.applied)} "
            f"failures={len(self.failures)} errors={len(self.errors)}{related}>"
        )

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (for logs and the CLI): counts, failures, errors, timings."""
        return {
            "scope": self.scope.value,
            "company_id": str(self.company_id),
            "dry_run": self.dry_run,
            "counts": self.counts,
            "failures": [str(f) for f in self.failures],
            "errors": list(self.errors),
            "warnings": list(self.warnings),
            "issues": [str(i) for i in self.plan.issues],
            "timings": dict(self.timings),
            "requests": self.requests,
            "write_requests": self.write_requests,
            "replans": self.replans,
        }
