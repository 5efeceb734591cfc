"""CPU profile of an export, grouped by area (not part of ``nox -s bench``).

Run ``python benchmarks/profile_export.py --items 10000``: cProfile over ``process_job``
against the in-process sandbox (no sockets; the sandbox's own cost is shown as its own area),
into a minimal accounting system. Prints the cumulative time of the SDK's areas — domain
(``build_entry``, validation), structuring (cattrs), orchestration, receipts (downloads and
their checks), the client, the sandbox — and the top functions by own time.
``--out FILE`` keeps the raw profile for ``snakeviz``/``pstats``.

Every thread is profiled (the main thread and the export's pool threads: page fetches,
receipt downloads), each with its own CPU clock (``time.thread_time``): a process-wide clock
would charge the main thread with the CPU its receipt threads burn meanwhile, and a wall
clock with the time it waits for them. The threads' profiles are merged.
"""

from __future__ import annotations

import argparse
import concurrent.futures.thread as futures_thread
import cProfile
import pstats
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from pleo_erp.accounting_system import (
    Attachment,
    BaseExportTarget,
    Entry,
    PostedEntry,
    VendorAccount,
    VendorKey,
)
from pleo_erp.domain.config import ExportConfig
from pleo_erp.orchestration.export import process_job
from pleo_erp.testing.inmemory import DEFAULT_MAPPING
from pleo_erp.testing.sandbox import PleoSandbox

AREAS = (
    ("sandbox (not SDK)", "pleo_erp/testing/"),
    ("structuring (serialization/models)", "<cattrs generated"),
    ("models", "<attrs generated methods pleo_erp.models"),
    ("accounting_system entries", "<attrs generated methods pleo_erp.accounting_system"),
    ("domain", "<attrs generated methods pleo_erp.domain"),
    ("domain", "pleo_erp/domain/"),
    ("accounting_system entries", "pleo_erp/accounting_system/"),
    ("structuring (serialization/models)", "pleo_erp/client/serialization"),
    ("models", "pleo_erp/models/"),
    ("receipts: client/files", "pleo_erp/client/files"),
    ("receipts: orchestration/_receipts", "pleo_erp/orchestration/_receipts"),
    ("orchestration/export", "pleo_erp/orchestration/export"),
    ("client (transport, resources)", "pleo_erp/client/"),
    ("cattrs", "/cattrs/"),
    ("attrs", "/attr/"),
    ("httpx/httpcore", "/httpx/"),
    ("threading/queue (contention)", "/threading.py"),
    ("json", "/json/"),
)


class MinimalTarget(BaseExportTarget):
    """Keeps one ``PostedEntry`` per item: the SDK's cost is what the profile shows."""

    def __init__(self) -> None:
        self.posted: dict[UUID, PostedEntry] = {}

    def accounts_mapping(self):  # type: ignore[no-untyped-def]
        return DEFAULT_MAPPING

    def find_vendor(self, key: VendorKey) -> VendorAccount | None:
        return VendorAccount(vendor_id=key.value, name=key.value)

    def find_posted(self, accounting_entry_id: UUID) -> PostedEntry | None:
        return self.posted.get(accounting_entry_id)

    def post(self, entry: Entry, attachments: Sequence[Attachment]) -> PostedEntry:
        posted = PostedEntry(
            accounting_entry_id=entry.accounting_entry_id,
            external_id=f"E{len(self.posted) + 1}",
            attachment_keys={a.key for a in attachments},
        )
        self.posted[entry.accounting_entry_id] = posted
        return posted


def area_of(filename: str, function: str) -> str:
    if filename == "~" and "acquire" in function:
        return "threading/queue (contention)"
    for name, marker in AREAS:
        if marker in filename:
            return name
    return "other"


def profile_pool_threads(profiles: list[cProfile.Profile]) -> Callable[[], None]:
    """Profile every ``concurrent.futures`` worker thread started from now on (each with its
    own CPU clock); the returned function restores the worker. ``profiles`` collects them."""
    original = futures_thread._worker  # type: ignore[attr-defined]
    lock = threading.Lock()

    def profiled_worker(*args: Any, **kwargs: Any) -> None:
        profile = cProfile.Profile(time.thread_time)
        profile.enable()
        try:
            original(*args, **kwargs)
        finally:
            profile.disable()
            with lock:
                profiles.append(profile)

    futures_thread._worker = profiled_worker  # type: ignore[attr-defined]

    def restore() -> None:
        futures_thread._worker = original  # type: ignore[attr-defined]

    return restore


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    sandbox = PleoSandbox(seed=1, validate_responses="off", record_requests=False)
    demo = sandbox.seed_demo(volume=args.items)
    job_id = max(sandbox.jobs(demo.company_id), key=lambda j: j["createdAt"])["id"]
    client = sandbox.client()
    target = MinimalTarget()
    # CPU time of each thread, not wall time: the machine may be shared, and waiting is not a
    # cost here.
    profile = cProfile.Profile(time.thread_time)
    workers: list[cProfile.Profile] = []
    restore = profile_pool_threads(workers)
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    profile.enable()
    try:
        report = process_job(client, target, job_id, config=ExportConfig(page_size=1000))
    finally:
        profile.disable()
        restore()
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    (job,) = report.jobs
    print(
        f"{job.successful + job.failed} items ({job.failed} failed) in {wall:.1f} s wall, "
        f"{cpu:.1f} s CPU (profiled; {len(workers)} pool threads)"
    )
    stats = pstats.Stats(profile)
    for worker in workers:
        stats.add(worker)
    if args.out:
        stats.dump_stats(args.out)
    own: dict[str, float] = defaultdict(float)
    raw = stats.stats  # type: ignore[attr-defined]
    total = 0.0
    for (filename, _line, function), (_cc, _nc, tottime, _ct, _callers) in raw.items():
        own[area_of(filename, function)] += tottime
        total += tottime
    print(f"\nown time by area (total {total:.1f} s CPU of all threads):")
    for name, seconds in sorted(own.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<36} {seconds:7.2f} s  {100 * seconds / total:5.1f} %")
    print(f"\ntop {args.top} functions by own time:")
    stats.sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
