"""Issue 13: an export's per-item bookkeeping does not grow with the job beyond a few bytes.

The report of a job holds plain successes column-wise (``ItemResultLog``) and only failures
whole; the open ids are 17 bytes each (``CompactIdSet``). Sizes are measured with
``tracemalloc`` on synthetic data, which is exact and deterministic (no RSS, no load).
"""

from __future__ import annotations

import gc
import pickle
import random
import tracemalloc
from collections.abc import Callable
from datetime import date, datetime, timezone
from typing import Any
from uuid import UUID

import pytest
from attrs import evolve

from pleo_erp.orchestration import _heap
from pleo_erp.orchestration._item_log import CompactIdSet, ItemResultLog, StatusTally
from pleo_erp.orchestration.report import ExportReport, ItemResult, JobReport
from pleo_erp.testing.inmemory import InMemoryAccountingSystem
from pleo_erp.testing.sandbox import PleoSandbox

_NOW = datetime(2024, 3, 1, tzinfo=timezone.utc)


def _uuid(rng: random.Random) -> UUID:
    return UUID(int=rng.getrandbits(128), version=4)


def _success(rng: random.Random, n: int, **extra: Any) -> ItemResult:
    fields: dict[str, Any] = {
        "external_id": f"E{n}",
        "external_url": f"https://books.example/e/{n}" if n % 2 else None,
        "item_type": "card_purchase" if n % 3 else "invoice",
        "entry_kind": "expense",
        "posting_date": date(2024, 3, 1 + n % 28) if n % 5 else None,
        "already_posted": n % 7 == 0,
        "attachments": n % 3,
        "reported": n % 4 == 0,
    }
    return ItemResult(accounting_entry_id=_uuid(rng), status="successful", **(fields | extra))


def _failure(rng: random.Random, n: int) -> ItemResult:
    return ItemResult(
        accounting_entry_id=_uuid(rng),
        status="failed",
        failure_type="account_unknown",
        failure_reason=f"Item {n}: map an account.",
        item_type="card_purchase",
    )


def _mixed(count: int, *, failures_every: int = 10, seed: int = 1) -> list[ItemResult]:
    rng = random.Random(seed)
    results: list[ItemResult] = []
    for n in range(count):
        if n % failures_every == 3:
            results.append(_failure(rng, n))
        elif n % 13 == 0:
            results.append(_success(rng, n, warnings=("receipt 2 left out",)))
        elif n % 17 == 0:
            results.append(_success(rng, n, report_error="INVALID: refused"))
        else:
            results.append(_success(rng, n))
    return results


# --- ItemResultLog behaves like the tuple it replaces


def test_log_reads_back_every_result_equal_and_in_order() -> None:
    results = _mixed(300)
    log = ItemResultLog(results).freeze()
    assert len(log) == 300
    assert list(log) == results
    assert log == tuple(results)
    assert tuple(results) == log
    assert log[0] == results[0]
    assert log[-1] == results[-1]
    assert log[123] == results[123]
    assert log[10:20] == tuple(results[10:20])
    assert log[::-7] == tuple(results[::-7])
    assert log.index(results[42]) == 42
    assert results[5] in log
    assert hash(log) == hash(tuple(results))
    assert list(log.ids()) == [r.accounting_entry_id for r in results]
    assert list(log.statuses()) == [r.status for r in results]
    with pytest.raises(IndexError):
        log[300]
    with pytest.raises(IndexError):
        log[-301]


def test_log_counts_and_failures_without_building_results() -> None:
    results = _mixed(1000)
    log = ItemResultLog(results)
    failed = [r for r in results if r.status == "failed"]
    assert log.counts() == {"successful": 1000 - len(failed), "failed": len(failed)}
    assert log.failures() == tuple(failed)


def test_log_texts_survive_unicode_and_empty_strings() -> None:
    rng = random.Random(3)
    results = [
        _success(rng, 1, external_id="", external_url=""),
        evolve(_success(rng, 2), external_id="Bilag ø–€ 😀", external_url=None),
        evolve(_success(rng, 3), external_id=None, external_url="https://x/ü"),
        evolve(_success(rng, 4), attachments=2**32 + 1),  # too big for the column: kept whole
    ]
    assert ItemResultLog(results) == tuple(results)


def test_replacing_a_result_as_the_export_does_once_pleo_accepted_it() -> None:
    results = _mixed(50)
    log = ItemResultLog(results)
    for index in (0, 3, 13, 17, 49):  # plain, failed, warned, report error, plain
        log[index] = evolve(results[index], reported=True, report_error=None)
        results[index] = evolve(results[index], reported=True, report_error=None)
    log[-2] = evolve(results[-2], status="failed", failure_type="unexpected_failure")
    results[-2] = log[-2]
    assert log == tuple(results)
    assert log.counts()["failed"] == sum(r.status == "failed" for r in results)
    with pytest.raises(ValueError, match="same item"):
        log[1] = results[2]


def test_a_frozen_log_is_read_only_and_pickles() -> None:
    results = _mixed(40)
    log = ItemResultLog(results).freeze()
    with pytest.raises(TypeError):
        log.append(results[0])
    with pytest.raises(TypeError):
        log[0] = results[0]
    copy = pickle.loads(pickle.dumps(log))
    assert copy == log
    assert isinstance(copy, ItemResultLog)
    with pytest.raises(TypeError):
        copy.append(results[0])


# --- the reports on top of it


def _job(items: Any, **extra: Any) -> JobReport:
    return JobReport(
        job_id=UUID(int=1),
        company_id=UUID(int=2),
        initial_status="pending",
        final_event="completed_with_errors",
        items=items,
        started_at=_NOW,
        **extra,
    )


def test_job_and_export_reports_read_the_log_like_a_tuple() -> None:
    first, second = _mixed(30, seed=1), _mixed(20, seed=2)
    logged = (_job(ItemResultLog(first).freeze()), _job(ItemResultLog(second).freeze()))
    plain = (_job(tuple(first)), _job(tuple(second)))
    for jobs in (logged, plain):
        report = ExportReport(company_id=UUID(int=2), jobs=jobs, started_at=_NOW, finished_at=_NOW)
        assert report.items == tuple(first + second)
        assert len(report.items) == 50
        assert report.items[31] == second[1]
        assert report.items[-1] == second[-1]
        assert report.items[:2] == tuple(first[:2])
        assert report.counts == {
            "successful": sum(r.ok for r in first + second),
            "failed": sum(not r.ok for r in first + second),
        }
        assert jobs[0].failed_items == tuple(r for r in first if not r.ok)
        summary = report.summary()
        for failed in jobs[1].failed_items:
            assert f"failed {failed.accounting_entry_id}: account_unknown" in summary
    assert logged[0] == plain[0]  # the compact report equals the tuple-built one


# --- memory: O(failures) objects, a few dozen bytes an item


def _retained(build: Callable[[], object]) -> tuple[int, object]:
    gc.collect()
    tracemalloc.start()
    try:
        kept = build()
        gc.collect()
        size, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return size, kept


def _log_of(results: list[ItemResult]) -> Callable[[], object]:
    def build() -> object:
        log = ItemResultLog()
        for result in results:
            log.append(result)
        return log.freeze()

    return build


def test_report_of_n_items_holds_o_failures_objects_and_bytes() -> None:
    """Issue 13: 20 000 plain successes cost < 64 bytes each (an ``ItemResult`` with its UUID
    and strings cost ~270); the objects alive do not grow with the successes."""
    rng = random.Random(7)
    plain = [_success(rng, n, external_url=None) for n in range(20_000)]
    size, log = _retained(_log_of(plain))
    per_item = size / len(plain)
    assert per_item < 64, per_item
    tuple_size, kept = _retained(lambda: tuple(_success(rng, n) for n in range(2_000)))
    assert tuple_size / 2_000 > 4 * per_item  # the tuple of results it replaces
    del kept

    def tracked(build: Callable[[], object]) -> int:
        gc.collect()
        before = len(gc.get_objects())
        kept = build()
        gc.collect()
        alive = len(gc.get_objects()) - before
        del kept
        return alive

    few = _mixed(2_000, failures_every=1_000)  # 2 failures (+ a few warned items)
    many = _mixed(20_000, failures_every=10_000)
    assert abs(tracked(_log_of(many)) - tracked(_log_of(few))) <= 2 * 20_000 // 13
    del log


def test_report_bytes_grow_linearly_with_failures_only() -> None:
    small, _ = _retained(_log_of(_mixed(5_000, failures_every=50)))
    large, _ = _retained(_log_of(_mixed(25_000, failures_every=50)))
    # Five times the items: the compact part grows five times, never the whole results.
    assert large - small < 20_000 * 180


# --- the open ids and the previous statuses


def test_compact_id_set_is_a_set_of_uuids() -> None:
    rng = random.Random(5)
    ids = [_uuid(rng) for _ in range(2_000)]
    ids += [UUID(int=ids[0].int >> 64 << 64 | 1), UUID(int=ids[0].int >> 64 << 64 | 2)]
    compact = CompactIdSet(ids + ids[:10])  # duplicates count once
    reference = set(ids)
    assert len(compact) == len(reference)
    gone = ids[::3]
    for value in gone:
        compact.discard(value)
        reference.discard(value)
    compact.discard(_uuid(rng))  # absent: no effect
    assert len(compact) == len(reference)
    assert set(compact) == reference
    assert all((v in compact) == (v in reference) for v in ids)
    assert "not a uuid" not in compact
    assert _uuid(rng) not in compact
    assert bool(CompactIdSet()) is False


def test_compact_id_set_costs_under_20_bytes_an_id() -> None:
    rng = random.Random(9)
    ids = [_uuid(rng) for _ in range(20_000)]

    def build() -> object:
        compact = CompactIdSet()
        for value in ids:
            compact.add(value)
        assert ids[0] in compact  # sorted now
        return compact

    size, _ = _retained(build)
    assert size / len(ids) < 20


def test_status_tally_counts_instead_of_listing() -> None:
    tally = StatusTally()
    for status in ["successful"] * 500 + ["failed"] * 3:
        tally.append(status)
    assert len(tally) == 503
    assert sorted(tally) == ["failed"] * 3 + ["successful"] * 500


# --- the heap trim and the export using all of it


def test_release_free_heap_is_a_safe_no_op_when_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_heap, "_loaded", False)
    monkeypatch.setenv("PLEO_ERP_NO_MALLOC_TRIM", "1")
    assert _heap.release_free_heap() is False
    monkeypatch.setattr(_heap, "_loaded", False)
    monkeypatch.delenv("PLEO_ERP_NO_MALLOC_TRIM")
    expected = _heap._load() is not None  # glibc Linux: True; elsewhere nothing to call
    monkeypatch.setattr(_heap, "_loaded", False)
    assert _heap.release_free_heap() is expected


def test_export_report_is_compact_and_keeps_failures_whole() -> None:
    """An export's ``JobReport.items`` is the compact log; it reads back what happened."""
    from pleo_erp import export_expenses

    sandbox = PleoSandbox(seed=41)
    company = sandbox.add_company("Compact Co")
    sandbox.create_export_job(company, 12)
    system = InMemoryAccountingSystem()
    report = export_expenses(
        sandbox.client(), system, company_id=company, clock=sandbox.clock.now,
        sleep=sandbox.clock.sleep,
    )  # fmt: skip
    (job,) = report.jobs
    assert isinstance(job.items, ItemResultLog)
    assert len(job.items) == 12
    assert job.successful == 12
    assert all(item.reported and item.external_id for item in job.items)
    assert {item.accounting_entry_id for item in job.items} == {
        entry.accounting_entry_id for entry in system.entries
    }
