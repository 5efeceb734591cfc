"""Export memory does not grow with the job: peak RSS of 10 000 vs 50 000 items (issue 13).

Run ``python benchmarks/bench_memory.py`` (``--sizes 10000,50000``). For each size a sandbox
process is started with one bulk job of that many items (one receipt each), and a fresh
worker process exports it with :func:`~pleo_erp.process_job` into an accounting system that
keeps only the ids it booked, 16 bytes each in an open-addressing table (the SDK's own memory
is measured, not an AS's: a ``set`` of ``UUID`` objects alone grew by ~140 bytes an item, about
half of what the target allows), pages of 1 000.
Reported per size: the worker's peak RSS (``resource.getrusage``), wall time and items/s; then
the ratio of the largest to the smallest (target ≤ 1.10×: export items are streamed page by
page, and only ids and outcomes of done items are kept).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_export import _bulk_job, _start_sandbox

TARGET_RATIO = 1.10
PAGE = 1000


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


class _IdTable:
    """A set of UUIDs at 17 bytes a slot (linear probing, at most half full): the benchmark's
    accounting system remembers what it booked without growing like a ``set`` of ``UUID``."""

    def __init__(self, slots: int = 1024) -> None:
        from array import array

        self._hi = array("Q", bytes(8 * slots))
        self._lo = array("Q", bytes(8 * slots))
        self._full = bytearray(slots)
        self._used = 0

    def _probe(self, number: int) -> tuple[int, bool]:
        hi, lo = number >> 64, number & (2**64 - 1)
        mask = len(self._full) - 1
        index = (lo ^ hi) & mask
        while self._full[index]:
            if self._hi[index] == hi and self._lo[index] == lo:
                return index, True
            index = (index + 1) & mask
        return index, False

    def __contains__(self, value: object) -> bool:
        from uuid import UUID

        return isinstance(value, UUID) and self._probe(value.int)[1]

    def add(self, value: Any) -> None:
        self._add(value.int)

    def _add(self, number: int) -> None:
        index, found = self._probe(number)
        if found:
            return
        self._hi[index], self._lo[index] = number >> 64, number & (2**64 - 1)
        self._full[index] = 1
        self._used += 1
        if 2 * self._used > len(self._full):
            old = (self._hi, self._lo, self._full)
            self.__init__(2 * len(self._full))  # type: ignore[misc]
            for hi, lo, full in zip(*old, strict=True):
                if full:
                    self._add(hi << 64 | lo)


def _proc_status_mb(field: str) -> float:
    """A ``/proc/self/status`` memory line (``VmRSS``, ``VmHWM``) in MB (0 where absent)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class _HeapSampler:
    """Samples glibc's ``mallinfo2`` (every arena) and ``VmRSS`` in a daemon thread, keeping
    the maxima: the C heap's figures do not depend on the machine's load or timing, unlike a
    peak RSS. All zeros where the C library has no ``mallinfo2`` (glibc < 2.33, not Linux)."""

    _FIELDS = ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
               "uordblks", "fordblks", "keepcost")  # fmt: skip

    def __init__(self, interval: float = 0.005) -> None:
        import ctypes
        import ctypes.util
        import threading

        class MallInfo2(ctypes.Structure):
            _fields_ = [(name, ctypes.c_size_t) for name in self._FIELDS]

        self._info: Any = None
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            self._mallinfo2 = libc.mallinfo2
            self._mallinfo2.restype = MallInfo2
            self._info = self._mallinfo2
        except (OSError, AttributeError):
            pass
        self.peak = {"heap_mb": 0.0, "in_use_mb": 0.0, "free_mb": 0.0, "rss_mb": 0.0}
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> dict[str, float]:
        """The current figures, MB: heap (``arena`` + ``hblkhd``), in use, free in the heaps."""
        now = {"heap_mb": 0.0, "in_use_mb": 0.0, "free_mb": 0.0}
        if self._info is not None:
            info = self._info()
            now = {
                "heap_mb": (info.arena + info.hblkhd) / 2**20,
                "in_use_mb": (info.uordblks + info.hblkhd) / 2**20,
                "free_mb": info.fordblks / 2**20,
            }
        now["rss_mb"] = _proc_status_mb("VmRSS")
        return now

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            for key, value in self.sample().items():
                self.peak[key] = max(self.peak[key], value)

    def __enter__(self) -> _HeapSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def _diagnosis(report: Any, top: int = 25) -> dict[str, Any]:
    """What is alive at the end of the run (the report still held): tracemalloc's biggest
    allocation sites, the most numerous object types and the Python heap's total."""
    import gc
    import tracemalloc
    from collections import Counter

    gc.collect()
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, tracemalloc.__file__)]
    )
    stats = snapshot.statistics("lineno")
    types = Counter(type(o).__name__ for o in gc.get_objects())
    current, peak = tracemalloc.get_traced_memory()
    del report
    return {
        "traced_mb": current / 2**20,
        "traced_peak_mb": peak / 2**20,
        "top_sites": [
            f"{s.size / 1024:9.1f} KiB {s.count:8d} blocks  {s.traceback[0]}" for s in stats[:top]
        ],
        "top_types": [f"{n:8d} {name}" for name, n in types.most_common(top)],
    }


def worker(
    base_url: str, key: str, job_id: str, concurrency: int, diagnose: bool = False
) -> dict[str, Any]:
    """Export the job; return the peak RSS and timings (``diagnose``: and what stays alive)."""
    if diagnose:
        import tracemalloc

        tracemalloc.start()
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

    mapping = AccountsMapping(
        wallet="1930",
        out_of_pocket="2890",
        balancing="1999",
        accounts_payable="2440",
        vat_input="2640",
        vat_output="2614",
    )

    class IdsOnlyTarget(BaseExportTarget):
        """Keeps the ids it booked (compactly), nothing else."""

        def __init__(self) -> None:
            self.booked = _IdTable()

        def find_posted(self, accounting_entry_id: UUID) -> PostedEntry | None:
            if accounting_entry_id not in self.booked:
                return None
            return PostedEntry(accounting_entry_id=accounting_entry_id, external_id="E")

        def post(self, entry: Entry, attachments: Sequence[Attachment]) -> PostedEntry:
            for attachment in attachments:
                attachment.read_bytes()
            self.booked.add(entry.accounting_entry_id)
            return PostedEntry(
                accounting_entry_id=entry.accounting_entry_id,
                external_id="E",
                attachment_keys={a.key for a in attachments},
            )

        def accounts_mapping(self) -> AccountsMapping:
            return mapping

        def find_vendor(self, key: VendorKey) -> VendorAccount | None:
            return VendorAccount(vendor_id=key.value, name=key.value)

    client = PleoClient(ApiKeyAuth(key), base_url=base_url, requests_per_minute=None)
    config = ExportConfig(page_size=PAGE, post_concurrency=concurrency)
    t0 = time.perf_counter()
    with _HeapSampler() as heap:
        report = process_job(client, IdsOnlyTarget(), job_id, config=config)
    (job,) = report.jobs
    end = heap.sample()
    result: dict[str, Any] = {
        "seconds": time.perf_counter() - t0,
        "items": job.successful + job.failed,
        "final": job.final_event,
        "rss_mb": _peak_rss_mb(),
        "rss_end_mb": _proc_status_mb("VmRSS"),
        "hwm_mb": _proc_status_mb("VmHWM"),
        **{f"peak_{key}": value for key, value in heap.peak.items()},
        **{f"end_{key}": value for key, value in end.items() if key != "rss_mb"},
    }
    if diagnose:
        result.update(_diagnosis(report))
    return result


def measure(
    volume: int, concurrency: int, mmap_threshold: int | None, diagnose: bool = False
) -> dict[str, Any]:
    """One sandbox and one worker process for a job of ``volume`` items."""
    env = dict(os.environ)
    if mmap_threshold is not None:
        # glibc raises its mmap threshold after each large free (a page's JSON), so later
        # large buffers come from the heap, which then cannot shrink: fix the threshold.
        env["MALLOC_MMAP_THRESHOLD_"] = str(mmap_threshold)
    sandbox, info = _start_sandbox(volume)
    try:
        job_id = _bulk_job(info["base_url"], info["key"], info["company"])
        args = ["--worker", info["base_url"], info["key"], job_id, str(concurrency)]
        args += ["--diagnose"] if diagnose else []
        out = subprocess.run(
            [sys.executable, __file__, *args], capture_output=True, text=True, check=True, env=env
        ).stdout
        result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        return result
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,50000")
    parser.add_argument("--post-concurrency", type=int, default=1)
    parser.add_argument(
        "--malloc-mmap-threshold",
        type=int,
        default=None,
        help="set glibc's MALLOC_MMAP_THRESHOLD_ in the worker (e.g. 131072)",
    )
    parser.add_argument(
        "--diagnose",
        action="store_true",
        help="trace allocations (tracemalloc) and list what is alive at the end of each run "
        "(RSS figures are then inflated by the tracing)",
    )
    parser.add_argument("--worker", nargs=4, metavar=("URL", "KEY", "JOB", "CONCURRENCY"))
    args = parser.parse_args(argv)
    if args.worker:
        url, key, job, concurrency = args.worker
        print(json.dumps(worker(url, key, job, int(concurrency), args.diagnose)))
        return 0
    sizes = [int(s) for s in args.sizes.split(",")]
    results = {
        size: measure(size, args.post_concurrency, args.malloc_mmap_threshold, args.diagnose)
        for size in sizes
    }
    for size, r in results.items():
        rate = r["items"] / r["seconds"] if r["seconds"] else 0.0
        print(
            f"{size:>7} items: peak RSS {r['rss_mb']:.1f} MB, {r['seconds']:.1f} s "
            f"({rate:.0f} items/s), final {r['final']}, RSS at the end {r['rss_end_mb']:.1f} MB"
        )
        print(
            f"  C heap (mallinfo2, every arena) at its peak: {r['peak_heap_mb']:.1f} MB from the "
            f"OS, {r['peak_in_use_mb']:.1f} MB in use, {r['peak_free_mb']:.1f} MB free; at the "
            f"end: {r['end_heap_mb']:.1f} / {r['end_in_use_mb']:.1f} / {r['end_free_mb']:.1f} MB; "
            f"sampled RSS peak {r['peak_rss_mb']:.1f} MB"
        )
        if args.diagnose:
            print(f"  traced {r['traced_mb']:.1f} MB at the end, {r['traced_peak_mb']:.1f} MB peak")
            print("\n".join(f"  {line}" for line in r["top_sites"] + r["top_types"]))
    small, large = results[min(sizes)], results[max(sizes)]
    ratio = large["rss_mb"] / small["rss_mb"]
    met = "met" if ratio <= TARGET_RATIO else "missed"
    print(
        f"peak RSS ratio {max(sizes)}/{min(sizes)}: {ratio:.2f}x (target <= {TARGET_RATIO}x: {met})"
    )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
