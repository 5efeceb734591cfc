"""Latency-bound export: wall time against the ideal ``max(Pleo path, AS path)``.

Run ``python benchmarks/bench_latency.py`` (``nox -s bench`` runs it too). Real accounting
systems answer in 100–500 ms and Pleo is an internet hop away, so a real export waits far
more than it computes. This benchmark models that over loopback:

- the sandbox runs in its own process with a real per-request delay
  (``python -m pleo_erp.testing.sandbox --latency-ms 30``), for API calls and receipt
  downloads alike; it holds a bulk job of ``--items`` (2 000) items, one receipt each;
- the accounting system's ``post`` takes ``--post-ms`` (50 ms) of real waiting and declares
  ``Capabilities.max_concurrent_posts = 8``;
- ``process_job`` exports the job with ``post_concurrency`` 1 and 8.

The ideal wall time is computed from the calls actually counted in the run:

- Pleo path = API requests × latency (they are sequential) + receipt downloads × latency /
  ``receipt_concurrency`` (that many downloads at a time: requests sent ahead by the
  blocking driver);
- AS path = posts × post time / ``post_concurrency``;
- ideal = max(Pleo path, AS path): a perfect pipeline overlaps the two completely.

Target: wall ≤ 1.25 × ideal at ``post_concurrency=8``. ``post_concurrency=1`` is printed for
contrast. The script is a report and exits 0.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_export import _bulk_job, _start_sandbox

from pleo_erp.accounting_system import (
    AccountsMapping,
    Attachment,
    BaseExportTarget,
    Capabilities,
    Entry,
    PostedEntry,
    VendorAccount,
    VendorKey,
)
from pleo_erp.client import ApiKeyAuth, PleoClient
from pleo_erp.domain.config import ExportConfig
from pleo_erp.orchestration.export import process_job

TARGET_RATIO = 1.25
PAGE = 1000
MAX_CONCURRENT_POSTS = 8

_MAPPING = AccountsMapping(
    wallet="1930",
    out_of_pocket="2890",
    balancing="1999",
    accounts_payable="2440",
    vat_input="2640",
    vat_output="2614",
)


class SlowTarget(BaseExportTarget):
    """An AS whose ``post`` waits ``post_seconds`` (a remote API's latency); thread-safe."""

    def __init__(self, post_seconds: float) -> None:
        self.post_seconds = post_seconds
        self.posted: dict[UUID, PostedEntry] = {}
        self.posts = 0
        self.attachments = 0
        self._lock = threading.Lock()

    def capabilities(self) -> Capabilities:
        return Capabilities(max_concurrent_posts=MAX_CONCURRENT_POSTS)

    def accounts_mapping(self) -> AccountsMapping:
        return _MAPPING

    def find_vendor(self, key: VendorKey) -> VendorAccount | None:
        return VendorAccount(vendor_id=key.value, name=key.value)

    def find_posted(self, accounting_entry_id: UUID) -> PostedEntry | None:
        with self._lock:
            return self.posted.get(accounting_entry_id)

    def post(self, entry: Entry, attachments: Sequence[Attachment]) -> PostedEntry:
        time.sleep(self.post_seconds)
        for attachment in attachments:
            attachment.read_bytes()
        with self._lock:
            self.posts += 1
            self.attachments += len(attachments)
            posted = PostedEntry(
                accounting_entry_id=entry.accounting_entry_id,
                external_id=f"E{self.posts}",
                attachment_keys={a.key for a in attachments},
            )
            self.posted[entry.accounting_entry_id] = posted
        return posted


def run_once(
    *, items: int, latency_ms: float, post_ms: float, post_concurrency: int, receipts: int
) -> dict[str, Any]:
    """Export a fresh ``items``-item job once; wall time, counted calls and the ideal."""
    process, info = _start_sandbox(items, latency_ms=latency_ms)
    try:
        job_id = _bulk_job(info["base_url"], info["key"], info["company"])
        client = PleoClient(
            ApiKeyAuth(info["key"]), base_url=info["base_url"], requests_per_minute=None
        )
        target = SlowTarget(post_ms / 1000)
        config = ExportConfig(
            page_size=PAGE, receipt_concurrency=receipts, post_concurrency=post_concurrency
        )
        requests0 = client.request_count
        t0 = time.perf_counter()
        report = process_job(client, target, job_id, config=config)
        wall = time.perf_counter() - t0
        client.close()
    finally:
        process.terminate()
        process.wait(timeout=30)
    (job,) = report.jobs
    latency = latency_ms / 1000
    api_requests = client.request_count - requests0
    pleo_path = api_requests * latency + target.attachments * latency / max(receipts, 1)
    as_path = target.posts * (post_ms / 1000) / post_concurrency
    return {
        "wall": wall,
        "ideal": max(pleo_path, as_path),
        "pleo_path": pleo_path,
        "as_path": as_path,
        "api_requests": api_requests,
        "downloads": target.attachments,
        "posts": target.posts,
        "final": job.final_event,
        "failed": job.failed,
    }


def ideal_only(
    *, items: int, latency_ms: float, post_ms: float, post_concurrency: int, receipts: int
) -> float:
    """The ideal for a run not made: the request floor for ``items``, one receipt each."""
    api = 1 + 2 * -(-items // PAGE) + -(-items // 100) + 2  # job read, pages, updates, events
    pleo_path = api * latency_ms / 1000 + items * latency_ms / 1000 / max(receipts, 1)
    return max(pleo_path, items * post_ms / 1000 / post_concurrency)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000, help="items in the job (2 000)")
    parser.add_argument("--latency-ms", type=float, default=30.0, help="sandbox delay (30 ms)")
    parser.add_argument("--post-ms", type=float, default=50.0, help="AS post time (50 ms)")
    parser.add_argument("--receipt-concurrency", type=int, default=4)
    args = parser.parse_args(argv)
    common = {
        "items": args.items,
        "latency_ms": args.latency_ms,
        "post_ms": args.post_ms,
        "receipts": args.receipt_concurrency,
    }
    print(
        f"Latency-bound export: {args.items} items with one receipt each, sandbox latency "
        f"{args.latency_ms:g} ms per request, AS post {args.post_ms:g} ms, "
        f"{args.receipt_concurrency} receipt downloads at a time"
    )
    for concurrency in (MAX_CONCURRENT_POSTS, 1):
        label = f"post_concurrency={concurrency}"
        r = run_once(post_concurrency=concurrency, **common)
        ratio = r["wall"] / r["ideal"]
        print(
            f"   {label:<20}: {r['wall']:6.1f} s wall; ideal {r['ideal']:6.1f} s = max(Pleo "
            f"{r['pleo_path']:.1f} s [{r['api_requests']} API calls + {r['downloads']} "
            f"downloads], AS {r['as_path']:.1f} s [{r['posts']} posts]); final "
            f"{r['final']}, {r['failed']} failed"
        )
        if concurrency > 1:
            met = "met" if ratio <= TARGET_RATIO else "missed"
            print(f"   {'':<20}  ratio {ratio:.2f}x ideal (target <= {TARGET_RATIO:.2f}x: {met})")
        else:
            serial = r["pleo_path"] + r["as_path"]
            print(
                f"   {'':<20}  ratio {ratio:.2f}x its own ideal (contrast; fully serial "
                f"would be {serial:.1f} s)"
            )
            best = ideal_only(post_concurrency=MAX_CONCURRENT_POSTS, **common)
            print(
                f"   {'':<20}  {r['wall'] / best:.2f}x the post_concurrency="
                f"{MAX_CONCURRENT_POSTS} ideal of {best:.1f} s (target <= {TARGET_RATIO:.2f}x)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
