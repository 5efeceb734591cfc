"""Level 1 export: requests against the floor, and a 10 000-item job over loopback HTTP.

Run ``python benchmarks/bench_export.py`` (``nox -s bench`` runs it too). Two reports:

1. **Requests per job** — for jobs of N items (one receipt each) exported in-process, the Pleo
   API requests the export made against the floor
   ``⌈N/page⌉ (job items) + ⌈N/page⌉ (export items) + ⌈N/100⌉ (updates) + 2 (events)``, plus
   one download per receipt.
2. **10 000 items over loopback** — the sandbox runs in its own process
   (``python -m pleo_erp.testing.sandbox --volume 10000``); in a fresh client process each,
   ``process_job`` exports the bulk job into a minimal accounting system (it keeps one
   ``PostedEntry`` per item, for exactly-once), and a
   hand-written raw-``httpx`` script makes the same calls with no processing (start, every
   page of job items and export items, every receipt, updates in chunks of 100, complete).
   Reported: wall time of each, their ratio (target ≤ 1.10×), the client processes' CPU time
   (``time.process_time``) and its ratio (target ≤ 1.5×), items/s, and the client
   process's peak RSS (``resource.getrusage``; target ≤ 150 MB).

   Both clients make the same 123 API calls (job read, ``started``, 10 + 10 pages of 1 000,
   100 update chunks, ``completed``) and the same 10 000 receipt downloads; the export
   keeps ``--receipt-concurrency`` receipt requests on the wire at once (the SDK default, 4:
   sent ahead on keep-alive connections, read when each item is posted), the script downloads
   one after the other. The sandbox's memory never counts: it is another process, and the export's
   worker imports only the SDK (not ``pleo_erp.testing``). Runs alternate raw / export, a
   fresh sandbox each, and the medians of ``--repeat`` rounds are compared.
The memory ratio of a 50 000-item job against a 10 000-item one is ``bench_memory.py``'s: its
accounting system keeps the ids it booked in a compact table, whereas this one keeps a
``PostedEntry`` per item (≈ 400 bytes each), which would measure the AS's growth, not the SDK's.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from typing import Any

import httpx

# Worker processes import only what they use (the sandbox stays out of their memory): the
# heavier imports live inside the functions that need them.

TARGET_RATIO = 1.10
TARGET_CPU_RATIO = 1.5
TARGET_RSS_MB = 150.0
PAGE = 1000


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


# --------------------------------------------------------------------------- 1. request floor


def floor(n: int, page: int, receipts: int) -> int:
    """The fewest Pleo API requests a job of ``n`` items can take (receipts counted apart)."""
    return math.ceil(n / page) * 2 + math.ceil(n / 100) + 2 + 0 * receipts


def requests_report(sizes: list[int]) -> None:
    from pleo_erp.orchestration.export import export_expenses
    from pleo_erp.testing.inmemory import InMemoryAccountingSystem
    from pleo_erp.testing.sandbox import DEFAULT_PAGE_SIZE, PleoSandbox
    from pleo_erp.testing.sandbox.files import make_pdf

    print(f"1. Requests per job (in-process sandbox, page size {DEFAULT_PAGE_SIZE})")
    print(f"   {'N':>6} {'API requests':>13} {'floor':>6} {'receipts':>9} {'downloads':>10}")
    pdf = make_pdf("receipt")
    for n in sizes:
        sb = PleoSandbox(seed=5, validate_responses="sample")
        company = sb.add_company("Bench Co")
        file_id = sb.add_file(pdf, "application/pdf")
        receipt = {"url": sb.file_placeholder(file_id), "type": "application/pdf", "size": len(pdf)}
        sb.create_export_job(company, [{"files": [receipt]} for _ in range(n)])
        sb.clear_requests()
        report = export_expenses(
            sb.client(), InMemoryAccountingSystem(), company_id=company, clock=sb.clock.now
        )
        (job,) = report.jobs
        downloads = sum(1 for r in sb.requests if r.path.startswith("/_sandbox/files/"))
        expected = floor(n, DEFAULT_PAGE_SIZE, n)
        mark = "ok" if job.requests == expected and downloads == n else "ABOVE FLOOR"
        print(f"   {n:>6} {job.requests:>13} {expected:>6} {n:>9} {downloads:>10}  {mark}")


# --------------------------------------------------------------------------- 2. 10 000 items


def _start_sandbox(
    volume: int, *, latency_ms: float = 0.0
) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """A sandbox process holding a bulk job of ``volume`` items (``latency_ms`` per request)."""
    latency = ["--latency-ms", str(latency_ms)] if latency_ms else []
    process = subprocess.Popen(
        [sys.executable, "-m", "pleo_erp.testing.sandbox", "--port", "0", "--volume", str(volume),
         "--validate-responses", "off", *latency],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    info: dict[str, str] = {}
    assert process.stdout is not None
    for line in process.stdout:
        if m := re.match(r"Pleo sandbox listening on (\S+)", line):
            info["base_url"] = m.group(1)
        elif m := re.match(r"company id: (\S+)", line):
            info["company"] = m.group(1)
        elif m := re.match(r"API key: (\S+)", line):
            info["key"] = m.group(1)
            break
    return process, info


def _bulk_job(base_url: str, key: str, company: str) -> str:
    with httpx.Client(base_url=base_url, auth=(key, ""), timeout=60) as http:
        jobs = http.get("/v3/export-jobs", params={"company_id": company}).json()["data"]
    return str(max(jobs, key=lambda j: j["createdAt"])["id"])


def worker_sdk(base_url: str, key: str, company: str, job_id: str) -> dict[str, Any]:
    from collections.abc import Sequence
    from uuid import UUID

    from pleo_erp.accounting_system import (
        AccountsMapping,
        Attachment,
        BaseExportTarget,
        Entry,
        PostedEntry,
        VendorAccount,
        VendorKey,
    )
    from pleo_erp.client import ApiKeyAuth, PleoClient
    from pleo_erp.domain.config import ExportConfig
    from pleo_erp.orchestration.export import process_job

    # The in-memory AS's accounts, spelled out: importing ``pleo_erp.testing`` would load the
    # sandbox, jsonschema and rich (~6 MB) into a process that measures the SDK's memory.
    mapping = AccountsMapping(
        wallet="1930",
        out_of_pocket="2890",
        balancing="1999",
        accounts_payable="2440",
        vat_input="2640",
        vat_output="2614",
    )

    class CountingTarget(BaseExportTarget):
        """An AS that keeps only what exactly-once needs: the SDK's own cost is measured
        (the raw script has no AS at all)."""

        def __init__(self) -> None:
            self.posted: dict[UUID, PostedEntry] = {}

        def find_posted(self, accounting_entry_id: UUID) -> PostedEntry | None:
            return self.posted.get(accounting_entry_id)

        def post(self, entry: Entry, attachments: Sequence[Attachment]) -> PostedEntry:
            for attachment in attachments:
                attachment.read_bytes()
            posted = PostedEntry(
                accounting_entry_id=entry.accounting_entry_id,
                external_id=f"E{len(self.posted) + 1}",
                attachment_keys={a.key for a in attachments},
            )
            self.posted[entry.accounting_entry_id] = posted
            return posted

        def accounts_mapping(self) -> AccountsMapping:
            return mapping

        def find_vendor(self, key: VendorKey) -> VendorAccount | None:
            return VendorAccount(vendor_id=key.value, name=key.value)

    client = PleoClient(ApiKeyAuth(key), base_url=base_url, requests_per_minute=None)
    system = CountingTarget()
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    concurrency = int(os.environ.get("BENCH_RECEIPT_CONCURRENCY", "4"))
    config = ExportConfig(page_size=PAGE, receipt_concurrency=concurrency)
    report = process_job(client, system, job_id, config=config)
    elapsed = time.perf_counter() - t0
    (job,) = report.jobs
    return {
        "seconds": elapsed,
        "items": job.successful + job.failed,
        "failed": job.failed,
        "final": job.final_event,
        "requests": client.request_count,  # with process_job's first read of the job
        "cpu": time.process_time() - cpu0,
        "rss_mb": _peak_rss_mb(),
    }


def worker_raw(base_url: str, key: str, company: str, job_id: str) -> dict[str, Any]:
    """The same calls as the export, with no processing at all."""
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    requests = 0
    with httpx.Client(base_url=base_url, auth=(key, "")) as http:
        http.get(f"/v3/export-jobs/{job_id}").raise_for_status()
        http.post("/v3/export-job-events", json={"event": "started", "jobId": job_id})
        requests += 2

        def pages(path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
            nonlocal requests
            out: list[dict[str, Any]] = []
            cursor = None
            while True:
                query = {**params, "limit": PAGE, **({"after": cursor} if cursor else {})}
                body = http.get(path, params=query).json()
                requests += 1
                out.extend(body["data"])
                if not body["pagination"]["hasNextPage"]:
                    return out
                cursor = body["pagination"]["endCursor"]

        job_items = pages(f"/v3/export-jobs/{job_id}/items", {})
        items = pages("/v3/export-items", {"job_id": job_id})
        assert len(job_items) == len(items)
        with httpx.Client() as files:
            for item in items:
                for file in item.get("files") or ():
                    files.get(file["url"]).read()
        ids = [item["accountingEntryId"] for item in items]
        for start in range(0, len(ids), 100):
            chunk = [
                {"accountingEntryId": i, "status": "successful"} for i in ids[start : start + 100]
            ]
            http.put(f"/v3/export-jobs/{job_id}/items", json=chunk).raise_for_status()
            requests += 1
        http.post("/v3/export-job-events", json={"event": "completed", "jobId": job_id})
        requests += 1
    return {
        "seconds": time.perf_counter() - t0,
        "items": len(ids),
        "requests": requests,
        "cpu": time.process_time() - cpu0,
        "rss_mb": _peak_rss_mb(),
    }


def _run_worker(kind: str, volume: int) -> dict[str, Any]:
    process, info = _start_sandbox(volume)
    try:
        job_id = _bulk_job(info["base_url"], info["key"], info["company"])
        out = subprocess.run(
            [sys.executable, __file__, "--worker", kind, info["base_url"], info["key"],
             info["company"], job_id],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return dict(json.loads(out.stdout.strip().splitlines()[-1]))
    finally:
        process.terminate()
        process.wait(timeout=30)


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(float(r[key]) for r in runs))


def loopback_report(volume: int, repeat: int) -> float:
    print(f"\n2. {volume} items over loopback HTTP (sandbox in its own process, page {PAGE})")
    raws: list[dict[str, Any]] = []
    sdks: list[dict[str, Any]] = []
    for _ in range(repeat):  # alternate, so a burst of load hits both sides
        raws.append(_run_worker("raw", volume))
        sdks.append(_run_worker("sdk", volume))
    print(f"   median of {repeat} run(s) each:")
    for name, runs in (("raw httpx script", raws), ("export (process_job)", sdks)):
        wall = _median(runs, "seconds")
        print(f"   {name:<21}: {wall:7.2f} s wall, {_median(runs, 'cpu'):6.2f} s client CPU, "
              f"{volume / wall:6.0f} items/s, peak RSS {_median(runs, 'rss_mb'):6.1f} MB, "
              f"{runs[0]['requests']} API requests")  # fmt: skip
    finals = sorted({str(r["final"]) for r in sdks})
    print(
        f"   export: final event {', '.join(finals)}, {max(r['failed'] for r in sdks)} failed items"
    )
    ratio = _median(sdks, "seconds") / _median(raws, "seconds")
    rss = _median(sdks, "rss_mb")
    met = "met" if ratio <= TARGET_RATIO else "missed"
    print(f"   wall-time ratio {ratio:.2f}x   (target <= {TARGET_RATIO:.2f}x: {met})")
    cpu_ratio = _median(sdks, "cpu") / _median(raws, "cpu")
    met = "met" if cpu_ratio <= TARGET_CPU_RATIO else "missed"
    print(f"   client CPU ratio {cpu_ratio:.2f}x  (target <= {TARGET_CPU_RATIO:.2f}x: {met})")
    met = "met" if rss <= TARGET_RSS_MB else "missed"
    print(f"   export peak RSS {rss:.1f} MB (target <= {TARGET_RSS_MB:.0f} MB: {met})")
    return rss


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--volume", type=int, default=10_000)
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each client (medians compared)"
    )
    parser.add_argument("--sizes", default="1,25,26,100,101,250,1000")
    parser.add_argument(
        "--receipt-concurrency", type=int, default=4, help="ExportConfig.receipt_concurrency"
    )
    parser.add_argument("--worker", nargs=5, metavar=("KIND", "URL", "KEY", "COMPANY", "JOB"))
    args = parser.parse_args(argv)
    if args.worker:
        kind, url, key, company, job = args.worker
        result = (worker_sdk if kind == "sdk" else worker_raw)(url, key, company, job)
        print(json.dumps(result))
        return 0
    os.environ["BENCH_RECEIPT_CONCURRENCY"] = str(args.receipt_concurrency)
    requests_report([int(s) for s in args.sizes.split(",")])
    loopback_report(args.volume, args.repeat)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
