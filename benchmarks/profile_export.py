"""CPU profile of an export, grouped by area (not part of ``nox -s bench``).

Run ``python benchmarks/profile_export.py --items 10000``: cProfile over ``process_job``
against the in-process sandbox (no sockets; the sandbox's own cost is shown as its own area),
into a minimal accounting system. Prints the cumulative time of the SDK's areas — domain
(``build_entry``, validation), structuring (cattrs), orchestration, receipts (downloads and
their checks), the client, the sandbox — and the top functions by own time.
``--out FILE`` keeps the raw profile for ``snakeviz``/``pstats``.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
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
    # CPU time, not wall time: the machine may be shared, and waiting is not a cost here.
    profile = cProfile.Profile(time.process_time)
    t0 = time.perf_counter()
    profile.enable()
    report = process_job(client, target, job_id, config=ExportConfig(page_size=1000))
    profile.disable()
    wall = time.perf_counter() - t0
    (job,) = report.jobs
    print(f"{job.successful + job.failed} items ({job.failed} failed) in {wall:.1f} s (profiled)")
    if args.out:
        profile.dump_stats(args.out)
    stats = pstats.Stats(profile)
    own: dict[str, float] = defaultdict(float)
    raw = stats.stats  # type: ignore[attr-defined]
    total = 0.0
    for (filename, _line, function), (_cc, _nc, tottime, _ct, _callers) in raw.items():
        own[area_of(filename, function)] += tottime
        total += tottime
    print(f"\nown time by area (total {total:.1f} s CPU of the profiled thread):")
    for name, seconds in sorted(own.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<36} {seconds:7.2f} s  {100 * seconds / total:5.1f} %")
    print(f"\ntop {args.top} functions by own time:")
    stats.sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
