"""Checks through the sandbox: the demo queue, re-exports, crashes, closed-period moves."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from pleo_erp.accounting_system.export import Capabilities, ExportTarget
from pleo_erp.domain.config import ExportConfig
from pleo_erp.orchestration.report import ExportReport
from pleo_erp.testing.conformance._entries import (
    check_conserved,
    check_ledger_matches,
    entries_by_id,
)
from pleo_erp.testing.conformance._pleo import (
    CLOSED_PERIOD_FAILURE,
    DemoWorld,
    ItemExpectation,
    describe_item,
    expected_outcomes,
)
from pleo_erp.testing.conformance._recording import CrashKind, RecordingTarget, SimulatedCrash
from pleo_erp.testing.conformance._subject import Subject, Workspace
from pleo_erp.testing.conformance._types import AdapterSetup, ConformanceFailure, ConformanceSkipped

__all__ = [
    "check_demo_export",
    "check_exactly_once_crash",
    "check_exactly_once_rerun",
    "check_period_adjustment",
]


def _interruptions(reports: list[ExportReport]) -> str:
    reasons = [
        f"job {job.job_id}: {job.interrupted}"
        for report in reports
        for job in report.jobs
        if job.interrupted
    ]
    return "; ".join(reasons) or "no reason reported"


def _verify(
    subject: Subject,
    world: DemoWorld,
    adapter: ExportTarget,
    recorder: RecordingTarget,
    jobs: Mapping[str, str],
    items: Mapping[str, ItemExpectation],
    *,
    label: str,
) -> dict[UUID, str]:
    """Pleo and the AS agree with the expectations; returns aeid → externalId of exports."""
    statuses = world.job_statuses()
    pleo_items = world.items_by_entry(list(jobs))
    for job_id, expected in jobs.items():
        actual = statuses.get(job_id)
        if actual != expected:
            wrong = [
                describe_item(item)
                for item in world.job_items(job_id)
                if (exp := items.get(str(item["accountingEntryId"]))) is not None
                and item["status"] != exp.status
            ]
            job = world.sandbox.job(job_id)
            raise ConformanceFailure(
                f"{label}: job {job_id} ended {actual!r}, expected {expected!r}"
                + (
                    f" (job failure: {job.get('failureReasonType')}: {job.get('failureReason')})"
                    if actual == "failed"
                    else ""
                )
                + (f"; unexpected items: {wrong[:6]}" if wrong else "")
            )
    exported: dict[UUID, str] = {}
    not_posted: list[UUID] = []
    for aeid_text, expectation in items.items():
        aeid = UUID(aeid_text)
        item = pleo_items[aeid_text]
        status = item["status"]
        if expectation.status == "successful":
            if status != "successful" or not item.get("externalId"):
                raise ConformanceFailure(
                    f"{label}: item {describe_item(item)}; expected successful with an externalId"
                )
            exported[aeid] = str(item["externalId"])
            continue
        not_posted.append(aeid)
        if expectation.status == "failed" and (
            status != "failed" or item.get("failureReasonType") != expectation.failure_type
        ):
            raise ConformanceFailure(
                f"{label}: item {describe_item(item)}; expected failed with "
                f"{expectation.failure_type} (the demo's deliberate failure: raise the "
                "AccountingSystemError subclass for it, or let the domain refuse it)"
            )
        if expectation.status == "failed" and not str(item.get("failureReason") or "").strip():
            raise ConformanceFailure(f"{label}: item {aeid} failed without a failureReason")
        if expectation.status == "not_exported" and status == "successful":
            raise ConformanceFailure(
                f"{label}: item {aeid} was exported although its job had to fail"
            )
    _verify_adapter(subject, adapter, recorder, exported, not_posted, label=label)
    return exported


def _verify_adapter(
    subject: Subject,
    adapter: ExportTarget,
    recorder: RecordingTarget,
    exported: Mapping[UUID, str],
    not_posted: list[UUID],
    *,
    label: str,
) -> None:
    # Duplicates first: they are the most telling symptom of a broken find_posted.
    for aeid in {p.entry.accounting_entry_id for p in recorder.posts}:
        distinct = {p.posted.external_id for p in recorder.posts_for(aeid)}
        if len(distinct) > 1:
            raise ConformanceFailure(
                f"{label}: accountingEntryId {aeid} was posted {len(distinct)} times "
                f"(AS ids {sorted(distinct)}); find_posted must find the first entry so the "
                "export never posts it again"
            )
    ledger = subject.ledger(adapter)
    if ledger is None:
        _verify_find_posted(adapter, exported, not_posted, label=label)
        return
    grouped = entries_by_id(ledger)
    check_ledger_matches(grouped, exported, forbidden=not_posted)
    strangers = set(grouped) - set(exported)
    if strangers:
        raise ConformanceFailure(
            f"{label}: the AS holds entries for ids Pleo does not show as exported: "
            f"{sorted(map(str, strangers))[:5]}"
        )
    for record in recorder.posts:
        stored = grouped.get(record.entry.accounting_entry_id)
        if stored:
            check_conserved(record.entry, stored[0])
    _verify_find_posted(adapter, exported, not_posted, label=label)


def _verify_find_posted(
    adapter: ExportTarget, exported: Mapping[UUID, str], not_posted: list[UUID], *, label: str
) -> None:
    for aeid, external_id in exported.items():
        found = adapter.find_posted(aeid)
        if found is None or found.external_id != external_id:
            raise ConformanceFailure(
                f"{label}: Pleo shows {aeid} exported as {external_id!r} but find_posted "
                f"returns {None if found is None else found.external_id!r}"
            )
    for aeid in not_posted:
        if adapter.find_posted(aeid) is not None:
            raise ConformanceFailure(
                f"{label}: {aeid} failed in Pleo but find_posted finds an entry for it"
            )


def _start(
    space: Workspace, world: DemoWorld, subject: Subject, *, policy: str = "fail"
) -> tuple[AdapterSetup, ExportTarget, Capabilities, dict[str, str], dict[str, ItemExpectation]]:
    subject.note_without_dimensions("refusing the demo's unknown tag (the item is exported)")
    setup = space.setup(company_id=world.company_id)
    adapter = space.adapter(setup)
    caps = adapter.capabilities()
    jobs, items = expected_outcomes(
        world.demo,
        caps,
        closed_periods=subject.closed_periods,
        closed_period_policy=policy,
        dimensions=subject.uses_dimensions,
    )
    return setup, adapter, caps, jobs, items


def _export_once(world: DemoWorld, target: ExportTarget, label: str, **kwargs: Any) -> None:
    report = world.export(target, **kwargs)
    if world.open_jobs():
        raise ConformanceFailure(
            f"{label}: the export left jobs unfinished: {_interruptions([report])}"
        )


# --------------------------------------------------------------------------- the demo queue


def check_demo_export(subject: Subject) -> None:
    """The demo queue exports: every item ends as the demo expects, in Pleo and in the AS."""
    with subject.workspace() as space, DemoWorld() as world:
        _, adapter, _, jobs, items = _start(space, world, subject)
        recorder = RecordingTarget(inner=adapter)
        _export_once(world, recorder, "demo export")
        _verify(subject, world, adapter, recorder, jobs, items, label="demo export")


def check_exactly_once_rerun(subject: Subject) -> None:
    """A second run posts nothing; a re-export of exported items finds them instead (C5)."""
    with subject.workspace() as space, DemoWorld() as world:
        setup, adapter, _, jobs, items = _start(space, world, subject)
        recorder = RecordingTarget(inner=adapter)
        _export_once(world, recorder, "first export")
        exported = _verify(subject, world, adapter, recorder, jobs, items, label="first export")
        if not exported:
            raise ConformanceSkipped("nothing was exported, so nothing can be exported twice")
        before = _attachment_counts(subject, adapter)

        adapter = space.reopen(adapter, setup)
        again = RecordingTarget(inner=adapter)
        report = world.export(again)
        if report.jobs or again.posts:
            raise ConformanceFailure(
                f"second run: {len(report.jobs)} jobs processed, {len(again.posts)} posts; "
                "expected nothing to do"
            )

        # Pleo's "re-export": the same accountingEntryIds arrive again in new jobs.
        vendor_based = {
            str(j.job["id"]): bool(j.job.get("vendorBasedBookkeeping")) for j in world.demo.jobs
        }
        new_jobs: dict[str, str] = {}
        for job_id in jobs:
            ids = [a for a, e in items.items() if e.job_id == job_id and UUID(a) in exported]
            if ids:
                new_jobs[world.reexport(ids, vendor_based=vendor_based[job_id])] = "completed"
        _export_once(world, again, "re-export")
        if again.posts:
            ids = sorted({str(p.entry.accounting_entry_id) for p in again.posts})
            raise ConformanceFailure(
                f"re-export: {len(again.posts)} entries were posted again ({ids[:5]}); "
                "find_posted must find every entry exported before"
            )
        reexported = world.items_by_entry(list(new_jobs))
        for aeid, external_id in exported.items():
            item = reexported[str(aeid)]
            if item["status"] != "successful" or item.get("externalId") != external_id:
                raise ConformanceFailure(
                    f"re-export: {describe_item(item)} with externalId "
                    f"{item.get('externalId')!r}; expected successful with the first "
                    f"export's {external_id!r}"
                )
        for job_id, expected in new_jobs.items():
            if world.sandbox.job_status(job_id) != expected:
                raise ConformanceFailure(f"re-export job {job_id} did not complete")
        _verify_adapter(subject, adapter, recorder, exported, [], label="re-export")
        after = _attachment_counts(subject, adapter)
        if before is not None and after is not None and after != before:
            grown = [(str(k), before.get(k), v) for k, v in after.items() if before.get(k) != v]
            raise ConformanceFailure(
                f"re-export attached receipts again (id, before, after): {grown[:5]}"
                "; report attachment keys from find_posted and skip known keys in attach"
            )


def _attachment_counts(subject: Subject, adapter: ExportTarget) -> dict[UUID, int] | None:
    ledger = subject.ledger(adapter)
    if ledger is None or any(e.attachment_count is None for e in ledger):
        return None
    return {e.accounting_entry_id: e.attachment_count or 0 for e in ledger}


_CRASH_PLANS = st.lists(
    st.tuples(st.integers(min_value=1, max_value=36), st.sampled_from(["crash", "lost_response"])),
    min_size=1,
    max_size=3,
)


def check_exactly_once_crash(subject: Subject) -> None:
    """Crashes and lost responses right after the AS stored an entry never cause a duplicate.

    Each example schedules up to three failures after the N-th post of a run: the process
    dies (the next run, with a reopened adapter, must find the entry and report it) or the
    AS response is lost (the export must find the entry before retrying). In the end Pleo
    shows every item as expected and every entry exists exactly once.
    """

    @given(plan=_CRASH_PLANS)
    def never_twice(plan: list[tuple[int, CrashKind]]) -> None:
        with subject.workspace() as space, DemoWorld() as world:
            setup, adapter, _, jobs, items = _start(space, world, subject)
            recorder = RecordingTarget(inner=adapter)
            reports: list[ExportReport] = []
            for after_posts, kind in plan:
                recorder.arm(after_posts, kind)
                try:
                    reports.append(world.export(recorder))
                except SimulatedCrash:
                    adapter = space.reopen(adapter, setup)
                    recorder = RecordingTarget(inner=adapter, posts=recorder.posts)
                if not world.open_jobs():
                    break
            recorder.disarm()
            for _ in range(3):
                if not world.open_jobs():
                    break
                reports.append(world.export(recorder))
            if world.open_jobs():
                raise ConformanceFailure(
                    f"after crashes {plan} and three clean runs, jobs are still open: "
                    f"{_interruptions(reports)}"
                )
            _verify(subject, world, adapter, recorder, jobs, items, label=f"crash plan {plan}")

    subject.property_test(never_twice)()


# --------------------------------------------------------------------------- periods


def check_period_adjustment(subject: Subject) -> None:
    """With ``closed_period="next_open"`` the demo's closed-period item is booked later (C21)."""
    if not subject.closed_periods:
        raise ConformanceSkipped("the adapter has no accounting periods (closed_periods=False)")
    config = ExportConfig(closed_period="next_open")
    with subject.workspace() as space, DemoWorld() as world:
        closed_until = world.demo.chart.closed_until
        if closed_until is None:
            raise ConformanceSkipped("the chart has no lock date")
        _, adapter, _, jobs, items = _start(space, world, subject, policy="next_open")
        recorder = RecordingTarget(inner=adapter)
        _export_once(world, recorder, "export with closed_period=next_open", config=config)
        exported = _verify(
            subject, world, adapter, recorder, jobs, items, label="closed_period=next_open"
        )
        moved = [
            UUID(aeid)
            for aeid, kind in world.demo.expected_failures.items()
            if kind == CLOSED_PERIOD_FAILURE
        ]
        dates = {e.accounting_entry_id: e.posting_date for e in subject.ledger(adapter) or []}
        for aeid in moved:
            if aeid not in exported:
                continue  # its job was refused as a whole (no AP support)
            posted = adapter.find_posted(aeid)
            booked = (posted.posting_date if posted is not None else None) or dates.get(aeid)
            if booked is not None and (
                booked <= closed_until or not adapter.is_period_open(booked)
            ):
                raise ConformanceFailure(
                    f"{aeid} dated in a closed period was booked on {booked}, which is not an "
                    f"open date after the lock date {closed_until}"
                )
