"""Crash / resume and fault injection (issue 4; DESIGN "Orchestrators are idempotent").

A crash is a ``BaseException`` the orchestrator never catches — like a killed process. It is
injected at every step boundary (every progress event), inside every item (before the AS stores
the entry, after it stored it but before the result came back, during the lookup), while
reporting and while completing. Then a clean rerun must leave every item posted exactly once,
none lost, and the job finished. With Pleo failing 20 % of calls (429, 5xx, resets, lost
responses) repeated runs must converge to the fault-free result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest

from pleo_erp.accounting_system import Entry
from pleo_erp.domain.config import ExportConfig
from pleo_erp.orchestration.export import export_expenses
from pleo_erp.orchestration.report import ExportReport, ProgressEvent
from pleo_erp.state import StateDB
from pleo_erp.state.export_journal import ExportJournal, SQLiteExportJournal
from pleo_erp.testing.inmemory import InMemoryAccountingSystem
from pleo_erp.testing.sandbox import PleoSandbox
from pleo_erp.testing.sandbox.files import make_pdf
from tests.helpers.export import line, sandbox_item, tax
from tests.helpers.export_drivers import export_driver  # noqa: F401 - the fixture, used below

pytestmark = pytest.mark.usefixtures("export_driver")  # every test: blocking and async driver


class SimulatedCrash(BaseException):
    """The process dies here."""


class Scenario:
    """One company, one job of six items (one with a receipt), reporting in batches of 2."""

    CONFIG = ExportConfig(batch_size=2)

    def __init__(self, *, journal: bool = False) -> None:
        self.sb = PleoSandbox(seed=7)
        self.company = self.sb.add_company("Crash Co")
        self.client = self.sb.client()
        self.system = InMemoryAccountingSystem()
        self.journal: ExportJournal | None = SQLiteExportJournal(StateDB()) if journal else None
        pdf = make_pdf("receipt")
        file_id = self.sb.add_file(pdf, "application/pdf")
        receipt = [
            {"url": self.sb.file_placeholder(file_id), "type": "application/pdf", "size": len(pdf)}
        ]
        items = [
            sandbox_item(value=1000, files=receipt),
            sandbox_item(type="refund", value=400),
            sandbox_item(value=2500, lines=[line(2000, tax=tax(400)), line(500, account="6020")]),
            sandbox_item(type="out_of_pocket", value=700),
            sandbox_item(type="wallet_topup", value=50000, lines=[line(50000, no_account=True)]),
            sandbox_item(value=900, lines=[line(900, no_account=True)]),  # fails: C5
        ]
        self.ids = [UUID(i["accountingEntryId"]) for i in items]
        self.job = self.sb.create_export_job(self.company, items)

    def run(self, **kwargs: Any) -> ExportReport:
        return export_expenses(
            self.client,
            self.system,
            company_id=self.company,
            config=self.CONFIG,
            journal=self.journal,
            clock=self.sb.clock.now,
            sleep=self.sb.clock.sleep,
            **kwargs,
        )

    def run_until_done(self, limit: int = 6) -> None:
        for _ in range(limit):
            self.run()
            if self.sb.job_status(self.job) not in ("pending", "in_progress"):
                return
        raise AssertionError("the job never finished")

    def assert_converged(self) -> None:
        assert self.sb.job_status(self.job) == "completed_with_errors"
        statuses = self.sb.item_statuses(self.job)
        assert sorted(statuses.values()) == ["failed"] + ["successful"] * 5
        assert statuses[str(self.ids[-1])] == "failed"
        for aeid in self.ids[:-1]:
            assert self.system.post_count(aeid) == 1, aeid
        assert self.system.post_count(self.ids[-1]) == 0
        assert self.system.duplicates() == []
        assert self.system.is_balanced()
        stored = self.system.entry_for(self.ids[0])
        assert stored is not None
        assert list(stored.attachments) == [f"{self.ids[0]}:0"]  # the receipt, exactly once
        job_items = {i["accountingEntryId"]: i for i in self.sb.job_items(self.job)}
        for aeid in self.ids[:-1]:
            entry = self.system.entry_for(aeid)
            assert entry is not None
            assert job_items[str(aeid)]["externalId"] == entry.external_id
        finals = [
            r
            for r in self.sb.requests
            if r.method == "POST" and r.status == 202 and r.body["event"] != "started"
        ]
        assert len(finals) == 1  # exactly one final event


def _progress_events() -> int:
    seen: list[ProgressEvent] = []
    Scenario().run(progress=seen.append)
    return len(seen)


EVENT_COUNT = _progress_events()


@pytest.mark.parametrize("journal", [False, True])
@pytest.mark.parametrize("crash_at", range(EVENT_COUNT))
def test_crash_at_every_step_boundary_then_rerun(crash_at: int, journal: bool) -> None:
    scenario = Scenario(journal=journal)
    count = {"n": 0}

    def crash(event: ProgressEvent) -> None:
        if count["n"] == crash_at:
            raise SimulatedCrash(event.kind)
        count["n"] += 1

    with pytest.raises(SimulatedCrash):
        scenario.run(progress=crash)
    scenario.run_until_done()
    scenario.assert_converged()


POST_CRASHES: list[tuple[str, int]] = [
    (where, n) for where in ("before", "after") for n in range(1, 6)
]


@pytest.mark.parametrize(("where", "nth"), POST_CRASHES)
def test_crash_inside_an_item_around_posting(where: str, nth: int) -> None:
    """Before the AS stored the entry, and after it stored it but before reporting."""
    scenario = Scenario()
    posts = {"n": 0}

    def hook(entry: Entry) -> None:
        posts["n"] += 1
        if posts["n"] == nth:
            raise SimulatedCrash(f"{where} post {nth}")

    if where == "before":
        scenario.system.crash_before_post = hook
    else:
        scenario.system.crash_after_post = hook
    with pytest.raises(SimulatedCrash):
        scenario.run()
    scenario.system.crash_before_post = scenario.system.crash_after_post = None
    scenario.run_until_done()
    scenario.assert_converged()


@pytest.mark.parametrize("method", ["find_posted", "is_period_open", "check_ready", "capabilities"])
def test_crash_inside_as_lookups(method: str) -> None:
    scenario = Scenario()
    scenario.system.fail_next(method, SimulatedCrash(method))  # type: ignore[arg-type]
    with pytest.raises(SimulatedCrash):
        scenario.run()
    scenario.run_until_done()
    scenario.assert_converged()


def _wrap(scenario: Scenario, name: str, *, after: bool, nth: int = 1) -> Callable[..., Any]:
    real: Callable[..., Any] = getattr(scenario.client.export_jobs, name)
    calls = {"n": 0}

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == nth and not after:
            raise SimulatedCrash(f"before {name}")
        result = real(*args, **kwargs)
        if calls["n"] == nth and after:
            raise SimulatedCrash(f"after {name}")
        return result

    setattr(scenario.client.export_jobs, name, wrapper)
    return real


@pytest.mark.parametrize(
    ("name", "after", "nth"),
    [
        ("send_event", False, 1),  # before "started"
        ("send_event", True, 1),  # "started" applied, then crash
        ("update_items", False, 2),  # second batch never sent
        ("update_items", True, 2),  # second batch applied, then crash
        ("send_event", False, 2),  # everything reported, final event never sent
        ("send_event", True, 2),  # final event applied, then crash
        ("list_items", True, 1),
    ],
)
def test_crash_around_pleo_calls(name: str, after: bool, nth: int) -> None:
    scenario = Scenario()
    real = _wrap(scenario, name, after=after, nth=nth)
    with pytest.raises(SimulatedCrash):
        scenario.run()
    setattr(scenario.client.export_jobs, name, real)
    if scenario.sb.job_status(scenario.job) in ("pending", "in_progress"):
        scenario.run_until_done()
    scenario.assert_converged()


# --- fault injection on the demo queue


def _demo_outcome(
    faults: float | None, seed: int
) -> tuple[dict[str, str], dict[str, str], InMemoryAccountingSystem]:
    sb = PleoSandbox(seed=1)
    demo = sb.seed_demo()
    system = InMemoryAccountingSystem.from_demo(demo)
    client = sb.client(max_retries=4)
    if faults is not None:
        sb.faults.random(rate=faults, seed=seed)
    for _ in range(12):
        try:
            export_expenses(
                client, system, company_id=demo.company_id, clock=sb.clock.now, sleep=sb.clock.sleep
            )
        except Exception:  # listing the queue itself can fail after all retries: run again
            continue
        if all(job["status"] not in ("pending", "in_progress") for job in sb.jobs(demo.company_id)):
            break
    sb.faults.clear()
    jobs = {job["id"]: job["status"] for job in sb.jobs(demo.company_id)}
    items = {
        item["accountingEntryId"]: item["status"]
        for job in sb.jobs(demo.company_id)
        for item in sb.job_items(job["id"])
    }
    return jobs, items, system


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fault_injection_20_percent_converges_to_the_fault_free_result(seed: int) -> None:
    expected_jobs, expected_items, clean = _demo_outcome(None, 0)
    jobs, items, system = _demo_outcome(0.2, seed)
    assert jobs == expected_jobs
    assert items == expected_items
    assert system.duplicates() == []
    assert system.is_balanced()
    assert sorted(str(e.accounting_entry_id) for e in system.entries) == sorted(
        str(e.accounting_entry_id) for e in clean.entries
    )
