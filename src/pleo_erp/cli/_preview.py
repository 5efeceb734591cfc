"""``pleo-erp export --dry-run``: the export preview as a table, or one JSON document.

Per job the outcome it would get; per item what it would get: the entry (kind, posting date,
receipts) with one line per posting (account, debit/credit in major units, tax code and
amount, dimensions), or the failure type and the reason Pleo would show.
"""

from __future__ import annotations

from typing import Any

from pleo_erp.accounting_system.export import Entry, EntryLine
from pleo_erp.cli._output import Output
from pleo_erp.cli._render import export_to_dict
from pleo_erp.domain.money import minor_to_major
from pleo_erp.orchestration.report import ExportReport, ItemResult, JobReport

__all__ = ["entry_to_dict", "preview_to_dict", "render_preview"]

_INDENT = 6


def _short(value: object) -> str:
    return str(value)[:8]


def _amount(value: int, currency: str) -> str:
    return str(minor_to_major(value, currency))


def _line_to_dict(line: EntryLine) -> dict[str, Any]:
    return {
        "account": line.account,
        "role": line.role,
        "debit": str(line.debit_major()),
        "credit": str(line.credit_major()),
        "currency": line.currency,
        "tax_code": line.tax_code,
        "tax_amount": str(minor_to_major(line.tax_amount, line.currency)),
        "tax_included": line.tax_included,
        "dimensions": {d.dimension: d.value for d in line.dimensions},
        "description": line.description,
    }


def entry_to_dict(entry: Entry) -> dict[str, Any]:
    """An entry as JSON-ready data (amounts as decimal strings in major units)."""
    document: dict[str, Any] = {
        "kind": entry.kind,
        "accounting_entry_id": str(entry.accounting_entry_id),
        "posting_date": entry.posting_date.isoformat(),
        "original_date": entry.original_date.isoformat() if entry.original_date else None,
        "posting_mode": entry.posting_mode,
        "currency": entry.currency,
        "total": str(minor_to_major(entry.total, entry.currency)),
        "description": entry.description,
        "reference": entry.reference,
        "lines": [_line_to_dict(line) for line in entry.lines],
    }
    vendor_name = getattr(entry, "vendor_name", None)
    if vendor_name is not None:
        document["vendor"] = {
            "name": vendor_name,
            "code": getattr(entry, "vendor_code", None),
            "ap_account": getattr(entry, "ap_account", None),
        }
    return document


def preview_to_dict(report: ExportReport) -> dict[str, Any]:
    """:func:`export_to_dict` plus, per job, the event it would get and, per item, its entry."""
    document = export_to_dict(report)
    document["dry_run"] = True
    for job, job_doc in zip(report.jobs, document["jobs"], strict=True):
        job_doc["would_send"] = job.would_send
        for item, item_doc in zip(job.items, job_doc["items"], strict=True):
            item_doc["entry"] = entry_to_dict(item.entry) if item.entry is not None else None
            item_doc["attachment_names"] = list(item.attachment_names)
    return document


def _job_title(job: JobReport) -> str:
    if job.deferred is not None:
        until = job.give_up_at.isoformat() if job.give_up_at else "?"
        return (
            f"Job {job.job_id} ({job.initial_status}): would be deferred, the accounting "
            f"system is temporarily unavailable (retried until {until})"
        )
    if job.interrupted:
        return f"Job {job.job_id} ({job.initial_status}): cannot be previewed: {job.interrupted}"
    return f"Job {job.job_id} ({job.initial_status}): would be {job.would_send}"


def _line_text(line: EntryLine, account_width: int) -> str:
    side = f"Dr {_amount(line.debit, line.currency)}" if line.debit else ""
    side = side or f"Cr {_amount(line.credit, line.currency)}"
    parts = [f"{line.account:<{account_width}}  {side:>14} {line.currency}", f"{line.role:<8}"]
    if line.tax_code:
        tax = f" {_amount(line.tax_amount, line.currency)}" if line.tax_amount else ""
        parts.append(f"VAT {line.tax_code}{tax}")
    if line.dimensions:
        parts.append(", ".join(f"{d.dimension}={d.value}" for d in line.dimensions))
    return "  ".join(parts).rstrip()


def _item_rows(job: JobReport) -> list[list[object]]:
    rows: list[list[object]] = []
    for item in job.items:
        if not item.ok:
            outcome = f"fail: {item.failure_type}"
        elif item.already_posted:
            outcome = f"already posted ({item.external_id})"
        else:
            outcome = f"post {item.entry_kind}"
        total = ""
        if item.entry is not None:
            total = f"{_amount(item.entry.total, item.entry.currency)} {item.entry.currency}"
        date = item.posting_date.isoformat() if item.posting_date else ""
        rows.append(
            [_short(item.accounting_entry_id), item.item_type or "", outcome, date, total,
             item.attachments]
        )  # fmt: skip
    return rows


def _item_details(out: Output, item: ItemResult) -> None:
    if not item.ok:
        out.line(f"  {_short(item.accounting_entry_id)}  would fail: {item.failure_type}")
        if item.failure_reason:
            out.wrapped(item.failure_reason, indent=_INDENT)
        return
    entry = item.entry
    if entry is None:
        return
    moved = f" (moved from {entry.original_date.isoformat()})" if entry.original_date else ""
    out.line(
        f"  {_short(item.accounting_entry_id)}  {entry.kind} on "
        f"{entry.posting_date.isoformat()}{moved}, {entry.posting_mode}, "
        f"{_amount(entry.total, entry.currency)} {entry.currency}"
    )
    width = max(len(line.account) for line in entry.lines)
    for line in entry.lines:
        out.line(" " * _INDENT + _line_text(line, width))
    for name in item.attachment_names:
        out.line(" " * _INDENT + f"receipt {name}")
    for warning in item.warnings:
        out.wrapped(f"warning: {warning}", indent=_INDENT)


def render_preview(out: Output, report: ExportReport) -> None:
    """The preview for a person: per job a table of items, then each item's entry lines."""
    out.heading("Export preview (dry run: nothing is written to Pleo or the accounting system)")
    if not report.jobs:
        out.line("  no pending export job: the queue is empty")
    for job in report.jobs:
        out.heading(_job_title(job))
        if job.failure_type:
            out.wrapped(
                f"the job would fail: {job.failure_type}: {job.failure_reason}", hanging=_INDENT
            )
        if job.skipped:
            out.line(f"  {job.skipped} item(s) already final, not previewed")
        if job.items:
            out.table(
                None,
                ["item", "type", "would", "posting date", "total", "receipts"],
                _item_rows(job),
            )
            for item in job.items:
                _item_details(out, item)
    counts = report.counts
    out.line()
    out.wrapped(
        f"{counts['successful']} items would be exported, {counts['failed']} would fail, "
        f"{len(report.jobs)} jobs, {report.requests} read requests to Pleo in "
        f"{report.duration:.2f}s; nothing was written"
    )
