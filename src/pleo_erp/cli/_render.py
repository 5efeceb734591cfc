"""Turn sync and export reports into tables for people and dicts for ``--json``.

Counts are per object kind (tax codes, accounts, tag groups, tags) and action kind (create,
update, rename, unarchive, archive, no-op, failed): what was *applied* in a real run, what is
*planned* in a dry run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from pleo_erp.cli._output import Output
from pleo_erp.domain.reconcile.plan import Action, ActionKind, ObjectKind
from pleo_erp.orchestration.report import ExportReport, ItemResult, JobReport
from pleo_erp.orchestration.sync_report import SyncReport

__all__ = [
    "ACTION_COLUMNS",
    "OBJECT_LABELS",
    "export_to_dict",
    "plan_rows",
    "render_export",
    "render_export_jobs",
    "render_failed_items",
    "render_plan",
    "render_sync_counts",
    "sync_counts",
    "sync_to_dict",
]

ACTION_COLUMNS: tuple[ActionKind, ...] = (
    ActionKind.CREATE,
    ActionKind.UPDATE,
    ActionKind.RENAME,
    ActionKind.UNARCHIVE,
    ActionKind.ARCHIVE,
    ActionKind.NOOP,
)

OBJECT_LABELS: dict[ObjectKind, str] = {
    ObjectKind.TAX_CODE: "tax codes",
    ObjectKind.ACCOUNT: "accounts",
    ObjectKind.TAG_GROUP: "tag groups",
    ObjectKind.TAG: "tags",
}

_SHORT_ID = 8

# Reasons (and the continuation of long job lines) are indented under their item's line.
_REASON_INDENT = 4


def _short(value: object) -> str:
    text = str(value)
    return text[:_SHORT_ID] if len(text) > _SHORT_ID else text


# ---- syncs ----------------------------------------------------------------------------------


def _with_related(report: SyncReport) -> list[SyncReport]:
    """The report and those run inside it (tax codes inside a chart-of-accounts sync) first."""
    return [*report.related.values(), report]


def sync_counts(report: SyncReport) -> dict[str, dict[str, int]]:
    """``{object label: {action: n, ..., "failed": n}}`` — applied, or planned in a dry run."""
    table: dict[str, Counter[str]] = {}

    def bump(kind: ObjectKind, column: str) -> None:
        table.setdefault(OBJECT_LABELS.get(kind, kind.value), Counter())[column] += 1

    for part in _with_related(report):
        if part.dry_run:
            for action in part.plan.actions:
                bump(action.target.kind, action.kind.value)
        else:
            for applied in part.applied:
                bump(applied.action.target.kind, applied.action.kind.value)
            for failure in part.failures:
                bump(failure.action.target.kind, "failed")
        for noop in part.plan.noops:
            bump(noop.target.kind, ActionKind.NOOP.value)
        if not part.plan.actions and not part.plan.noops:
            # Keep an empty row so the level still shows up ("nothing to do").
            table.setdefault(_scope_label(part), Counter())
    columns = [k.value for k in ACTION_COLUMNS] + ["failed"]
    return {label: {c: counts[c] for c in columns} for label, counts in table.items()}


def _scope_label(report: SyncReport) -> str:
    return {"tags": "tags", "accounts": "accounts", "tax_codes": "tax codes"}.get(
        report.scope.value, report.scope.value
    )


def render_sync_counts(out: Output, title: str | None, reports: Iterable[SyncReport]) -> None:
    """One table with a row per object kind over ``reports``."""
    rows: list[list[object]] = []
    for report in reports:
        for label, counts in sync_counts(report).items():
            rows.append([label, *counts.values()])
    columns = ["objects", *(k.value for k in ACTION_COLUMNS), "failed"]
    out.table(title, columns, rows)


def plan_rows(actions: Sequence[Action]) -> list[list[str]]:
    """Table rows for plan actions: action, object, key, name, parent, reason."""
    rows = []
    for action in actions:
        target = action.target
        rows.append(
            [
                action.kind.value,
                OBJECT_LABELS.get(target.kind, target.kind.value).rstrip("s"),
                target.key,
                target.name or "",
                target.parent_key or "",
                action.reason,
            ]
        )
    return rows


def render_plan(out: Output, report: SyncReport, *, show_noops: bool) -> None:
    """The dry-run plan: every write (and the no-ops with ``show_noops``) with its reason."""
    for part in _with_related(report):
        actions: Sequence[Action] = part.plan.actions
        if show_noops:
            actions = (*actions, *part.plan.noops)
        title = f"Plan for {_scope_label(part)} (dry run: nothing was written)"
        columns = ["action", "object", "key", "name", "group", "reason"]
        rows = plan_rows(actions)
        if not any(row[4] for row in rows):
            # Only tags have a parent group: leave the empty column out elsewhere.
            columns.pop(4)
            rows = [row[:4] + row[5:] for row in rows]
        out.table(title, columns, rows, empty="nothing to do")
        hidden = len(part.plan.noops)
        if hidden and not show_noops:
            out.line(f"  + {hidden} unchanged (show them with --verbose)")


def render_sync_details(out: Output, report: SyncReport) -> None:
    """Failures, scope errors, plan issues, warnings and the selection, when there are any."""
    for part in _with_related(report):
        label = _scope_label(part)
        if part.selection is not None:
            sel = part.selection
            line = "dimensions synced: " + (", ".join(sel.selected) or "none")
            if sel.auto_selected:
                line += f" (auto-selected: {', '.join(sel.auto_selected)})"
            if sel.deselected:
                line += f" (deselected, inactive: {', '.join(sel.deselected)})"
            out.line(f"  {line}")
        if part.failures:
            out.table(
                f"Failed {label} actions",
                ["action", "object", "key", "reason"],
                [
                    [f.action.kind.value, f.action.target.kind.value, f.action.target.key, _why(f)]
                    for f in part.failures
                ],
            )
        for error in part.errors:
            out.line(f"  error: {error}")
        for issue in part.plan.issues:
            out.line(f"  {issue}")
        for warning in part.warnings:
            out.line(f"  warning: {warning}")


def _why(failure: Any) -> str:
    status = f" [HTTP {failure.status_code}]" if failure.status_code is not None else ""
    reasons = f" ({', '.join(failure.reasons)})" if failure.reasons else ""
    return f"{failure.message}{status}{reasons}"


def sync_to_dict(report: SyncReport) -> dict[str, Any]:
    """``report.as_dict()`` plus the table counts, the write plan and related reports."""
    document = report.as_dict()
    document["ok"] = report.ok
    document["objects"] = sync_counts(report)
    document["plan"] = [
        {
            "action": a.kind.value,
            "object": a.target.kind.value,
            "key": a.target.key,
            "name": a.target.name,
            "group": a.target.parent_key,
            "reason": a.reason,
        }
        for a in report.plan.actions
    ]
    document["unchanged"] = len(report.plan.noops)
    if report.selection is not None:
        sel = report.selection
        document["selection"] = {
            "selected": list(sel.selected),
            "auto_selected": list(sel.auto_selected),
            "deselected": list(sel.deselected),
            "first_connection": sel.first_connection,
        }
    document["related"] = {name: sync_to_dict(r) for name, r in report.related.items()}
    return document


# ---- exports --------------------------------------------------------------------------------


def _job_outcome(job: JobReport) -> str:
    if job.final_event:
        return job.final_event
    if job.deferred is not None:
        return "deferred"
    return f"unfinished: {job.interrupted}" if job.interrupted else "unfinished"


def render_export(out: Output, report: ExportReport, *, verbose: bool = False) -> None:
    """The jobs (:func:`render_export_jobs`), then the failed items in their own section."""
    render_export_jobs(out, report, verbose=verbose)
    render_failed_items(out, report)


def render_export_jobs(out: Output, report: ExportReport, *, verbose: bool = False) -> None:
    """A row per job (in the order processed: oldest first), then job-level problems.

    The table has no title: it is the body of the caller's section (``out.heading``).
    """
    if not report.jobs:
        out.line("  no pending export job: the queue is empty")
    else:
        out.table(
            None,
            ["job", "was", "outcome", "successful", "failed", "skipped", "requests", "seconds"],
            [
                [
                    _short(job.job_id),
                    job.initial_status,
                    _job_outcome(job),
                    job.successful,
                    job.failed,
                    job.skipped,
                    job.requests,
                    f"{job.duration:.2f}",
                ]
                for job in report.jobs
            ],
        )
    for job in report.jobs:
        if job.failure_type:
            out.wrapped(
                f"job {_short(job.job_id)} failed: {job.failure_type}: {job.failure_reason}",
                hanging=_REASON_INDENT,
            )
        for error in job.update_errors:
            out.wrapped(
                f"Pleo refused the outcome of item {_short(error.accounting_entry_id)}: "
                f"{error.type}: {error.message}",
                hanging=_REASON_INDENT,
            )
    if verbose:
        for item in report.items:
            if item.ok:
                extra = " (already posted)" if item.already_posted else ""
                out.line(
                    f"  ok {_short(item.accounting_entry_id)} {item.item_type or ''} → "
                    f"{item.external_id or ''}{extra}"
                )
            for warning in item.warnings:
                out.wrapped(
                    f"warning {_short(item.accounting_entry_id)}: {warning}",
                    hanging=_REASON_INDENT,
                )


def render_failed_items(out: Output, report: ExportReport) -> None:
    """A section with a line per failed item, its reason wrapped on the lines below.

    The reasons are long sentences (what Pleo shows the bookkeeper), so they get their own
    indented lines instead of a table column far wider than a terminal; the item lines stay
    within 80 columns. Nothing is printed when no item failed.
    """
    failed = [(job, item) for job in report.jobs for item in job.items if not item.ok]
    if not failed:
        return
    out.heading("Failed items (reported to Pleo with these reasons)")
    rows = [
        [
            _short(job.job_id),
            _short(item.accounting_entry_id),
            item.item_type or "",
            item.failure_type or "",
        ]
        for job, item in failed
    ]
    header = ["job", "item", "type", "failure"]
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]

    def aligned(cells: Sequence[str]) -> str:
        return ("  " + "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))).rstrip()

    out.line(aligned(header))
    out.line(aligned(["-" * w for w in widths]))
    for row, (_, item) in zip(rows, failed, strict=True):
        out.line(aligned(row))
        if item.failure_reason:
            out.wrapped(item.failure_reason, indent=_REASON_INDENT)


def _item_dict(item: ItemResult) -> dict[str, Any]:
    return {
        "accounting_entry_id": str(item.accounting_entry_id),
        "status": item.status,
        "type": item.item_type,
        "entry_kind": item.entry_kind,
        "external_id": item.external_id,
        "external_url": item.external_url,
        "failure_type": item.failure_type,
        "failure_reason": item.failure_reason,
        "posting_date": item.posting_date.isoformat() if item.posting_date else None,
        "already_posted": item.already_posted,
        "attachments": item.attachments,
        "warnings": list(item.warnings),
        "reported": item.reported,
        "report_error": item.report_error,
    }


def export_to_dict(report: ExportReport) -> dict[str, Any]:
    """The export report as JSON-ready data: totals, jobs, and every item's outcome."""
    return {
        "company_id": str(report.company_id) if report.company_id else None,
        "ok": report.ok,
        "counts": report.counts,
        "interrupted": report.interrupted,
        "deferred": report.deferred,
        "requests": report.requests,
        "duration": round(report.duration, 3),
        "started_at": report.started_at.isoformat(),
        "finished_at": report.finished_at.isoformat(),
        "jobs": [
            {
                "job_id": str(job.job_id),
                "initial_status": job.initial_status,
                "final_event": job.final_event,
                "failure_type": job.failure_type,
                "failure_reason": job.failure_reason,
                "interrupted": job.interrupted,
                "outcome": job.outcome,
                "deferred": job.deferred,
                "deferred_failure_type": job.deferred_failure_type,
                "give_up_at": job.give_up_at.isoformat() if job.give_up_at else None,
                "counts": job.counts,
                "skipped": job.skipped,
                "requests": job.requests,
                "duration": round(job.duration, 3),
                "update_errors": [
                    {
                        "accounting_entry_id": str(e.accounting_entry_id),
                        "type": e.type,
                        "message": e.message,
                    }
                    for e in job.update_errors
                ],
                "items": [_item_dict(item) for item in job.items],
            }
            for job in report.jobs
        ],
    }
