"""Levels 2/3 sync: plan time, its scaling, and the requests a sync sends against the floor.

Plan times are best-of-7 CPU seconds, the two sizes measured alternately (see ``_best_pair``);
the scaling of a bare dict index-and-lookup loop over the same keys is printed beside them.

1. ``plan_accounts`` for 100 000 AS accounts against 100 000 Pleo accounts (5 % renamed,
   1 % new, 1 % gone, 1 % archived in Pleo) — target ≤ 0.5 s — and t(200 000)/t(100 000)
   — target ≤ 2.2 (linear).
2. ``plan_tags`` for 100 000 dimension values against 100 000 tags in one group, same mix
   and targets.
3. Requests for an initial sync of 5 000 accounts (batch endpoint, pages of 1000) and for a
   no-change resync, against the floor: reads ⌈n/page⌉ (at least 1) plus, initially,
   ⌈n/1000⌉ batch writes; a resync writes nothing.

Run ``python benchmarks/bench_sync.py`` (or ``nox -s bench``). Prints a report; the exit
status is 0 either way: this is a report, not a test (`nox -s bench` runs every benchmark).
"""

from __future__ import annotations

import math
import sys
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone

from pleo_erp.accounting_system.sources import DimensionValue, LedgerAccount
from pleo_erp.domain.reconcile.accounts import plan_accounts
from pleo_erp.domain.reconcile.tags import GroupBinding, plan_tags
from pleo_erp.models import BookkeepingAccountRestModelV1, TagModel
from pleo_erp.orchestration.sync import sync_accounts
from pleo_erp.testing.inmemory_sources import InMemorySources
from pleo_erp.testing.sandbox import PleoSandbox

PLAN_TARGET = 0.5
SCALING_TARGET = 2.2
COMPANY = uuid.UUID("00000000-0000-4000-8000-00000000beef")
T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def _accounts(n: int) -> tuple[list[LedgerAccount], list[BookkeepingAccountRestModelV1]]:
    source: list[LedgerAccount] = []
    pleo: list[BookkeepingAccountRestModelV1] = []
    for i in range(n):
        ext = f"ext-{i}"
        if i % 100 != 1:  # 1 % only in Pleo → archive
            source.append(LedgerAccount(ext, str(i), f"Account {i}", tax_code_external_id="S25"))
        if i % 100 == 2:  # 1 % only in the AS → create
            continue
        pleo.append(
            BookkeepingAccountRestModelV1(
                archived=i % 100 == 3,  # 1 % archived in Pleo → unarchive
                company_id=COMPANY,
                external_id=ext,
                id=uuid.UUID(int=i + 1),
                name=f"Account {i}" if i % 20 else f"Old {i}",  # 5 % renamed
                code=str(i),
                tax_code_external_id="S25",
            )
        )
    return source, pleo


def _tags(n: int) -> tuple[list[DimensionValue], list[TagModel]]:
    values: list[DimensionValue] = []
    tags: list[TagModel] = []
    group = uuid.UUID(int=10**9)
    for i in range(n):
        code = f"V{i}"
        if i % 100 != 1:
            values.append(DimensionValue(code, f"Value {i}"))
        if i % 100 == 2:
            continue
        tags.append(
            TagModel(
                archived=i % 100 == 3,
                code=code.lower() if i % 2 else code,  # codes match ignoring case
                created_at=T0,
                group_id=group,
                id=uuid.UUID(int=i + 1),
                updated_at=T0,
                name=f"Value {i}" if i % 20 else f"Old {i}",
            )
        )
    return values, tags


def _best_pair(
    small: Callable[[], object], large: Callable[[], object], repeat: int = 7
) -> tuple[float, float]:
    """Best CPU seconds of ``small`` and ``large``, measured alternately ``repeat`` times.

    Planning is single-threaded pure Python, so CPU time is what it costs; wall time on a busy
    machine (CI, parallel test workers) would mostly measure the other processes. Alternating
    the two sizes exposes both to the same background load, which keeps their ratio honest.
    """
    best_small = best_large = float("inf")
    for _ in range(repeat):
        for fn, which in ((small, 0), (large, 1)):
            start = time.process_time()
            fn()
            elapsed = time.process_time() - start
            if which == 0:
                best_small = min(best_small, elapsed)
            else:
                best_large = min(best_large, elapsed)
    return best_small, best_large


def _dict_baseline(keys_small: list[str], keys_large: list[str]) -> float:
    """Scaling of a bare index-and-look-up loop over the same keys: the memory hierarchy's
    own t(200k)/t(100k) on this machine, printed for context."""

    def run(keys: list[str]) -> None:
        index = {k.casefold(): k for k in keys}
        for k in keys:
            index.get(k.casefold())

    small, large = _best_pair(lambda: run(keys_small), lambda: run(keys_large))
    return large / small


def bench_plans() -> list[tuple[str, float, float, float, bool]]:
    """``(name, seconds at 100k, t200k/t100k, dict baseline ratio, ok)`` for both planners."""
    rows = []
    acc100, acc200 = _accounts(100_000), _accounts(200_000)
    t100, t200 = _best_pair(
        lambda: plan_accounts(*acc100, company_id=COMPANY),
        lambda: plan_accounts(*acc200, company_id=COMPANY),
    )
    base = _dict_baseline([a.external_id for a in acc100[0]], [a.external_id for a in acc200[0]])
    plan = plan_accounts(*acc100, company_id=COMPANY)
    print(f"  accounts plan (100k): {plan.summary()}")
    rows.append(
        (
            "plan_accounts",
            t100,
            t200 / t100,
            base,
            t100 <= PLAN_TARGET and t200 / t100 <= SCALING_TARGET,
        )
    )
    binding = GroupBinding("DIM", "Dimension", "DIM", uuid.UUID(int=10**9))
    tag100, tag200 = _tags(100_000), _tags(200_000)
    t100, t200 = _best_pair(
        lambda: plan_tags(binding, *tag100), lambda: plan_tags(binding, *tag200)
    )
    base = _dict_baseline([v.code for v in tag100[0]], [v.code for v in tag200[0]])
    plan = plan_tags(binding, *tag100)
    print(f"  tags plan (100k):     {plan.summary()}")
    rows.append(
        (
            "plan_tags",
            t100,
            t200 / t100,
            base,
            t100 <= PLAN_TARGET and t200 / t100 <= SCALING_TARGET,
        )
    )
    return rows


def bench_requests(n: int = 5000, page_size: int = 1000) -> list[tuple[str, int, int, int]]:
    """``(run, requests, writes, floor)`` for an initial sync and a no-change resync."""
    sandbox = PleoSandbox(seed=1, validate_responses="sample")
    company = sandbox.add_company("Bench")
    client = sandbox.client(requests_per_minute=None)
    source = InMemorySources(
        accounts=[LedgerAccount(f"ext-{i}", str(i), f"Account {i}") for i in range(n)]
    )
    rows = []
    for label, floor_writes in (("initial sync", math.ceil(n / 1000)), ("no-change resync", 0)):
        sandbox.clear_requests()
        report = sync_accounts(client, source, company_id=company, page_size=page_size)
        assert report.ok, report.summary()
        requests = len(sandbox.requests)
        writes = sum(1 for r in sandbox.requests if not r.path.endswith(":search"))
        existing = 0 if floor_writes else n
        floor_reads = max(1, math.ceil(existing / page_size))
        rows.append((label, requests, writes, floor_reads + floor_writes))
    return rows


def main() -> int:
    """Run every benchmark and print the report (always 0: a report, not a test)."""
    print("Levels 2/3 sync benchmark")
    ok = True
    print(f"\nPlan time (targets: ≤ {PLAN_TARGET} s at 100k, t(200k)/t(100k) ≤ {SCALING_TARGET})")
    for name, t100, ratio, base, good in bench_plans():
        ok &= good
        print(
            f"  {name:<14} {t100 * 1000:8.1f} ms   scaling {ratio:4.2f} "
            f"(bare dict loop: {base:4.2f})   {'ok' if good else 'MISSED'}"
        )
    print("\nRequests for 5 000 accounts (pages of 1000; floor = reads + batch writes)")
    for label, requests, writes, floor in bench_requests():
        good = requests == floor
        ok &= good
        print(
            f"  {label:<17} {requests:4d} requests ({writes} writes)   floor {floor:4d}   "
            f"{'ok' if good else 'ABOVE FLOOR'}"
        )
    print()
    print("all targets met" if ok else "some targets missed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
