"""The sandbox's per-request latency over loopback (``serve(latency=…)``, ``--latency-ms``)."""

from __future__ import annotations

import threading

import httpx
import pytest

from pleo_erp.testing.sandbox import PleoSandbox
from pleo_erp.testing.sandbox.__main__ import _parser

pytestmark = pytest.mark.http


def test_every_request_waits_the_latency_before_it_is_handled() -> None:
    sandbox = PleoSandbox()
    company = sandbox.add_company()
    job_id = sandbox.create_export_job(company, 3)
    waits: list[float] = []
    handled_before_wait: list[int] = []
    lock = threading.Lock()

    def sleep(seconds: float) -> None:
        with lock:
            handled_before_wait.append(len(sandbox.requests))
            waits.append(seconds)

    with (
        sandbox.serve(latency=0.03, sleep=sleep) as base_url,
        httpx.Client(base_url=base_url, auth=httpx.BasicAuth(sandbox.api_key, ""), timeout=5) as h,
    ):
        for _ in range(3):
            assert h.get(f"/v3/export-jobs/{job_id}/items").status_code == 200
    assert waits == [0.03, 0.03, 0.03]
    assert handled_before_wait == [0, 1, 2]  # the wait comes before the answer


def test_no_latency_by_default() -> None:
    sandbox = PleoSandbox()
    waits: list[float] = []
    with (
        sandbox.serve(sleep=waits.append) as base_url,
        httpx.Client(base_url=base_url, timeout=5) as http,
    ):
        http.get("/v3/export-jobs")
    assert waits == []


def test_negative_latency_is_refused() -> None:
    with pytest.raises(ValueError, match="latency"), PleoSandbox().serve(latency=-1):
        pass


def test_cli_flag_takes_milliseconds() -> None:
    assert _parser().parse_args(["--latency-ms", "30"]).latency_ms == 30.0
    assert _parser().parse_args([]).latency_ms == 0.0
