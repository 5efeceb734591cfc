"""Sandbox throughput: requests per second in-process and over loopback HTTP.

Run ``python benchmarks/bench_sandbox.py`` (``nox -s bench`` runs it too). Later end-to-end
numbers (an export of the 10 000-item demo job) are best read against these: they bound
how fast any client can go against the sandbox.

Each workload is a realistic mix from an export run: reading a job, paging its items
(control layer) and their payloads (data layer), and reporting outcomes in chunks of 100.
"""

from __future__ import annotations

import argparse
import base64
import gc
import json
import time
from collections.abc import Callable, Sequence
from itertools import cycle
from typing import Any

import httpx

from pleo_erp.testing.sandbox import PleoSandbox, ResponseMode

Call = Callable[[], Any]

#: The sandbox must not be what limits an in-process end-to-end run.
TARGET_CORE_RPS = 1_000


def _setup(items: int, mode: ResponseMode) -> tuple[PleoSandbox, str, list[str]]:
    gc.unfreeze()
    sandbox = PleoSandbox(validate_responses=mode, record_requests=False)
    demo = sandbox.seed_demo(volume=items)
    job_id = str(demo.jobs[-1].job["id"])
    entry_ids = [str(item["accountingEntryId"]) for item in demo.jobs[-1].items]
    # Millions of long-lived objects would make every full collection a pause that has
    # nothing to do with the sandbox; park them outside the collector.
    gc.collect()
    gc.freeze()
    return sandbox, job_id, entry_ids


def _mix(
    send: Callable[[str, str, dict[str, Any], Any], None], job_id: str, ids: Sequence[str]
) -> list[Call]:
    chunks = cycle([list(ids[i : i + 100]) for i in range(0, len(ids), 100)])
    statuses = cycle(["successful", "in_progress"])

    def put() -> None:
        status = next(statuses)
        send(
            "PUT",
            f"/v3/export-jobs/{job_id}/items",
            {},
            [{"accountingEntryId": i, "status": status} for i in next(chunks)],
        )

    return [
        lambda: send("GET", f"/v3/export-jobs/{job_id}", {}, None),
        lambda: send("GET", f"/v3/export-jobs/{job_id}/items", {"limit": "25"}, None),
        lambda: send("GET", "/v3/export-items", {"job_id": job_id, "limit": "25"}, None),
        put,
    ]


def _measure(calls: list[Call], seconds: float) -> tuple[float, dict[str, float]]:
    names = ["GET job", "GET job items (25)", "GET export items (25)", "PUT 100 item updates"]
    per_call: dict[str, float] = {}
    total_requests = 0
    total_time = 0.0
    for name, call in zip(names, calls, strict=True):
        count = 0
        started = time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds / len(calls):
            call()
            count += 1
        per_call[name] = count / elapsed
        total_requests += count
        total_time += elapsed
    return total_requests / total_time, per_call


def bench_core(items: int, mode: ResponseMode, seconds: float) -> tuple[float, dict[str, float]]:
    """``sandbox.handle`` directly: the emulator's own cost."""
    sandbox, job_id, ids = _setup(items, mode)
    headers = {
        "authorization": "Basic " + base64.b64encode(f"{sandbox.api_key}:".encode()).decode(),
        "content-type": "application/json",
    }
    sandbox.handle(
        "POST",
        "/v3/export-job-events",
        (),
        headers,
        json.dumps({"event": "started", "jobId": job_id}).encode(),
    )

    def send(method: str, path: str, query: dict[str, Any], body: Any) -> None:
        payload = b"" if body is None else json.dumps(body).encode()
        status, _, _ = sandbox.handle(method, path, query, headers, payload)
        assert status < 300, (method, path, status)

    return _measure(_mix(send, job_id, ids), seconds)


def bench_client(
    http: httpx.Client, job_id: str, ids: Sequence[str], seconds: float
) -> tuple[float, dict[str, float]]:
    """Through an httpx client (in-process transport or loopback HTTP)."""
    http.post("/v3/export-job-events", json={"event": "started", "jobId": job_id})

    def send(method: str, path: str, query: dict[str, Any], body: Any) -> None:
        response = http.request(method, path, params=query, json=body)
        assert response.status_code < 300, response.text
        response.json()

    return _measure(_mix(send, job_id, ids), seconds)


def main(argv: Sequence[str] | None = None) -> None:
    """Print requests/s in-process (core and httpx MockTransport) and over loopback HTTP."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000, help="items in the benchmark job")
    parser.add_argument("--seconds", type=float, default=2.0, help="time per workload")
    parser.add_argument("--validate", choices=("full", "sample", "off"), default="sample")
    args = parser.parse_args(argv)
    mode: ResponseMode = args.validate

    rows: list[tuple[str, float, dict[str, float]]] = []
    rows.append(("in-process, sandbox.handle()", *bench_core(args.items, mode, args.seconds)))
    sandbox, job_id, ids = _setup(args.items, mode)
    with sandbox.http_client() as http:
        rows.append(
            ("in-process, httpx MockTransport", *bench_client(http, job_id, ids, args.seconds))
        )
    sandbox, job_id, ids = _setup(args.items, mode)
    with (
        sandbox.serve() as base_url,
        httpx.Client(base_url=base_url, auth=httpx.BasicAuth(sandbox.api_key, "")) as http,
    ):
        rows.append(("loopback HTTP (keep-alive)", *bench_client(http, job_id, ids, args.seconds)))

    print(f"Sandbox throughput ({args.items} items in the job, response validation: {mode})")
    for name, overall, per_call in rows:
        print(f"  {name:<34} {overall:>9,.0f} req/s")
        for call, rate in per_call.items():
            print(f"      {call:<30} {rate:>9,.0f} req/s")
    core = rows[0][1]
    verdict = "met" if core >= TARGET_CORE_RPS else "NOT met"
    print(f"  target: >= {TARGET_CORE_RPS:,} req/s in-process (sandbox.handle, mix) - {verdict}")


if __name__ == "__main__":
    main()
