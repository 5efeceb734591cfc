"""The export's receipt fetcher: spilled receipt files live only as long as their item."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from pleo_erp.client.receipt_policy import ReceiptPolicy, attach_receipt_policy
from pleo_erp.domain.config import ExportConfig
from pleo_erp.domain.receipts import ReceiptPlan, ReceiptSpec
from pleo_erp.orchestration._receipts import ReceiptFetcher

PDF = b"%PDF-1.4\n" + b"x" * 4096


def _plan() -> ReceiptPlan:
    aeid = uuid.uuid4()
    spec = ReceiptSpec(
        key=f"{aeid}:0",
        accounting_entry_id=aeid,
        index=0,
        url=f"https://files.example/{aeid}.pdf",
        extension="pdf",
        declared_size=len(PDF),
        max_bytes=1024 * 1024,
    )
    return ReceiptPlan(receipts=(spec,))


def _client() -> httpx.Client:
    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=PDF, headers={"Content-Type": "application/pdf"})

    http = httpx.Client(transport=httpx.MockTransport(serve))
    policy = ReceiptPolicy(check_addresses=False).with_origins(["https://files.example"])
    attach_receipt_policy(http, policy)
    return http


def _files(fetcher: ReceiptFetcher) -> list[Path]:
    return sorted(fetcher._dir.iterdir())


@pytest.mark.parametrize("concurrency", [0, 2])
def test_a_spilled_receipt_is_deleted_when_its_item_is_released(concurrency: int) -> None:
    config = ExportConfig(receipt_memory_limit=0, receipt_concurrency=concurrency)
    plan = _plan()
    with _client() as http, ReceiptFetcher(http, config, sleep=lambda _: None) as fetcher:
        (attachment,) = fetcher.attachments(plan)
        assert attachment.path is not None
        assert attachment.read_bytes() == PDF
        assert _files(fetcher) == [attachment.path]
        fetcher.release(plan.receipts[0].accounting_entry_id)
        assert _files(fetcher) == []


def test_a_prefetched_receipt_never_used_is_deleted_too() -> None:
    # An item that fails before its receipts are attached: its download still finished.
    config = ExportConfig(receipt_memory_limit=0, receipt_concurrency=1)
    plan = _plan()
    with _client() as http, ReceiptFetcher(http, config, sleep=lambda _: None) as fetcher:
        fetcher.schedule(plan)
        (future,) = fetcher._futures[plan.receipts[0].accounting_entry_id]
        future.result(timeout=10)  # the worker thread finished the download
        assert len(_files(fetcher)) == 1
        fetcher.release(plan.receipts[0].accounting_entry_id)
        assert _files(fetcher) == []


def test_small_receipts_stay_in_memory_and_leave_no_file() -> None:
    plan = _plan()
    with _client() as http, ReceiptFetcher(http, ExportConfig(), sleep=lambda _: None) as f:
        (attachment,) = f.attachments(plan)
        assert attachment.path is None
        assert attachment.data == PDF
        assert _files(f) == []
        f.release(plan.receipts[0].accounting_entry_id)
