"""Client CPU of reporting item outcomes (``export_jobs.update_items``), in µs per item.

An export reports every item once, through ``PUT /v3/export-jobs/{jobId}/items`` in chunks of
100, so this call's cost per item is part of the export's client CPU (issue 13: ≤ 1.5× a
raw-``httpx`` script). Measured over ``httpx.MockTransport`` with pre-rendered responses (the
server's work is not counted), on ``--batches`` batches of 100 outcomes, 1 in 10 failed:

- ``update_items``: the whole typed call (bodies, JSON, transport, response).
- ``raw httpx``: the same PUTs with pre-encoded bodies and ``response.json()``: the floor.
- ``bodies, fast`` / ``bodies, checked``: the JSON objects of the typed updates as the call
  builds them, and as the cattrs path does (``unstructure`` and every dict check).
- ``response, deferred`` / ``response, full``: the response as the call reads it (``errors``
  now, ``items`` on first access) and structured in full.

Run ``PYTHONPATH=src python benchmarks/bench_update_items.py``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from pleo_erp.client import ApiKeyAuth, PleoClient
from pleo_erp.client._request import encode_json
from pleo_erp.client.resources.export_jobs import (
    item_update_body,
    merge_update_results,
    merge_update_results_deferred,
)
from pleo_erp.client.serialization import unstructure
from pleo_erp.models.export_jobs import (
    ExportJobItemFailureReasonType,
    ExportJobItemStatus,
    UpdateExportJobItemV3,
)

BASE_URL = "https://external.pleo.io"
JOB = uuid.UUID("6f1c1a52-8e0b-4a57-9a59-2f6f2d7c3a10")
BATCH = 100


def _batch(seed: int) -> list[UpdateExportJobItemV3]:
    updates = []
    for i in range(BATCH):
        entry = uuid.UUID(int=seed * BATCH + i + 1, version=4)
        if i % 10:
            updates.append(
                UpdateExportJobItemV3(
                    accounting_entry_id=entry,
                    status=ExportJobItemStatus.SUCCESSFUL,
                    exported_at=dt.datetime(2024, 5, 1, 10, 0, i % 60, tzinfo=dt.timezone.utc),
                    external_id=f"JE-{seed}-{i}",
                    external_url=f"https://as.example/entries/{seed}-{i}",
                )
            )
        else:
            updates.append(
                UpdateExportJobItemV3(
                    accounting_entry_id=entry,
                    status=ExportJobItemStatus.FAILED,
                    failure_reason="Konto 4000 findes ikke (ukendt konto)",
                    failure_reason_type=ExportJobItemFailureReasonType.ACCOUNT_UNKNOWN,
                )
            )
    return updates


def _response(body: list[dict[str, Any]]) -> dict[str, Any]:
    """What Pleo answers: every update back as an item of the job, no errors."""
    data = [
        {
            "accountingEntryId": u["accountingEntryId"],
            "exportJobId": str(JOB),
            "status": u["status"],
            "exportedAt": u.get("exportedAt"),
            "externalId": u.get("externalId"),
            "externalUrl": u.get("externalUrl"),
            "failureReason": u.get("failureReason"),
            "failureReasonType": u.get("failureReasonType"),
        }
        for u in body
    ]
    return {"data": data, "errors": []}


def _best_us_per_item(fn: Callable[[], object], items: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best / items * 1e6


def run(batches: int = 100, repeat: int = 7) -> dict[str, float]:
    """Best µs per item of each variant."""
    updates = [_batch(seed) for seed in range(batches)]
    bodies = [[item_update_body(u) for u in batch] for batch in updates]
    encoded = [encode_json(body) for body in bodies]
    responses = {  # keyed by the request body: the handler only looks the answer up
        raw: json.dumps(_response(body)).encode() for raw, body in zip(encoded, bodies, strict=True)
    }
    decoded = [json.loads(responses[raw]) for raw in encoded]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, content=responses[request.content], headers={"Content-Type": "application/json"}
        )

    transport = httpx.MockTransport(handler)
    client = PleoClient(
        ApiKeyAuth("bench-key-0123456789"),
        base_url=BASE_URL,
        http_client=httpx.Client(transport=transport),
        requests_per_minute=None,
    )
    raw_client = httpx.Client(transport=transport)
    url = f"{BASE_URL}/v3/export-jobs/{JOB}/items"
    headers = {"Content-Type": "application/json;charset=UTF-8", "Authorization": "bench"}

    def sdk() -> None:
        for batch in updates:
            client.export_jobs.update_items(JOB, batch)

    def raw() -> None:
        for content in encoded:
            raw_client.put(url, content=content, headers=headers).json()

    def bodies_fast() -> None:
        for batch in updates:
            [item_update_body(u) for u in batch]

    def bodies_checked() -> None:
        for batch in updates:
            [item_update_body(unstructure(u)) for u in batch]

    def response_deferred() -> None:
        for body in decoded:
            merge_update_results_deferred([body]).errors  # noqa: B018

    def response_full() -> None:
        for body in decoded:
            merge_update_results([body])

    variants = {
        "update_items": sdk,
        "raw httpx": raw,
        "bodies, fast": bodies_fast,
        "bodies, checked": bodies_checked,
        "response, deferred": response_deferred,
        "response, full": response_full,
    }
    items = batches * BATCH
    try:
        return {name: _best_us_per_item(fn, items, repeat) for name, fn in variants.items()}
    finally:
        client.close()
        raw_client.close()


def main() -> None:
    """Print µs per item of each variant."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    results = run(args.batches, args.repeat)
    print(f"update_items, {args.batches} batches of {BATCH} (best of {args.repeat}, CPU time)")
    for name, us in results.items():
        print(f"  {name:<20} {us:7.2f} µs/item")


if __name__ == "__main__":
    main()
