"""PleoSandbox over loopback HTTP: ``serve()`` and ``python -m pleo_erp.testing.sandbox``."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx
import pytest

from pleo_erp.testing.sandbox import PleoSandbox
from pleo_erp.testing.sandbox.__main__ import main

pytestmark = pytest.mark.http


def _auth(key: str) -> httpx.BasicAuth:
    return httpx.BasicAuth(key, "")


def _port_open(base_url: str) -> bool:
    parts = urlsplit(base_url)
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((parts.hostname or "127.0.0.1", parts.port or 80)) == 0


def test_serve_answers_over_http_and_shuts_down_cleanly() -> None:
    sandbox = PleoSandbox()
    company = sandbox.add_company()
    job_id = sandbox.create_export_job(company, 30)
    with sandbox.serve() as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=base_url, auth=_auth(sandbox.api_key), timeout=5) as http:
            page = http.get(f"/v3/export-jobs/{job_id}/items").json()
            rest = http.get(
                f"/v3/export-jobs/{job_id}/items", params={"after": page["pagination"]["endCursor"]}
            )
            assert len(page["data"]) + len(rest.json()["data"]) == 30
            assert (
                http.post(
                    "/v3/export-job-events", json={"event": "started", "jobId": job_id}
                ).status_code
                == 202
            )
            assert http.get("/v3/export-jobs", params={"companyId": company}).status_code == 400
        assert sandbox.job_status(job_id) == "in_progress"
    assert not _port_open(base_url)


def test_receipt_links_use_the_served_address() -> None:
    sandbox = PleoSandbox()
    company = sandbox.add_company()
    file_id = sandbox.add_file(b"\x89PNG fake", "image/png")
    job_id = sandbox.create_export_job(
        company,
        [{"files": [{"url": sandbox.file_placeholder(file_id), "type": "image/png", "size": 9}]}],
    )
    with (
        sandbox.serve() as base_url,
        httpx.Client(base_url=base_url, auth=_auth(sandbox.api_key)) as http,
    ):
        url = http.get("/v3/export-items", params={"job_id": job_id}).json()["data"][0]["files"][0][
            "url"
        ]
        assert url.startswith(f"{base_url}/_sandbox/files/")
        assert httpx.get(url).content == b"\x89PNG fake"


def test_concurrent_clients_share_one_consistent_state() -> None:
    sandbox = PleoSandbox(validate_responses="sample")
    company = sandbox.add_company()
    job_id = sandbox.create_export_job(company, 200, status="in_progress")
    ids = list(sandbox.item_statuses(job_id))
    with sandbox.serve() as base_url:

        def report(chunk: list[str]) -> int:
            with httpx.Client(base_url=base_url, auth=_auth(sandbox.api_key)) as http:
                body = [{"accountingEntryId": i, "status": "successful"} for i in chunk]
                return http.put(f"/v3/export-jobs/{job_id}/items", json=body).status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            codes = list(pool.map(report, [ids[i : i + 10] for i in range(0, 200, 10)]))
    assert codes == [200] * 20
    assert set(sandbox.item_statuses(job_id).values()) == {"successful"}


def test_connection_faults_close_the_socket() -> None:
    sandbox = PleoSandbox()
    company = sandbox.add_company()
    job_id = sandbox.create_export_job(company, 1)
    sandbox.faults.add("POST /v3/export-job-events", kind="lost_response", times=1)
    sandbox.faults.add("GET /v3/export-jobs/*", kind="connection_reset", times=1)
    with (
        sandbox.serve() as base_url,
        httpx.Client(base_url=base_url, auth=_auth(sandbox.api_key)) as http,
    ):
        with pytest.raises(httpx.TransportError):
            http.post("/v3/export-job-events", json={"event": "started", "jobId": job_id})
        assert sandbox.job_status(job_id) == "in_progress"  # applied, answer lost
        with pytest.raises(httpx.TransportError):
            http.get(f"/v3/export-jobs/{job_id}")
        assert http.get(f"/v3/export-jobs/{job_id}").status_code == 200  # a new connection works


def test_a_contract_violation_becomes_a_500_naming_it() -> None:
    sandbox = PleoSandbox()
    company = sandbox.add_company()
    job_id = sandbox.create_export_job(company, 1)
    sandbox.state.jobs[job_id].data["status"] = 42
    with (
        sandbox.serve() as base_url,
        httpx.Client(base_url=base_url, auth=_auth(sandbox.api_key)) as http,
    ):
        response = http.get(f"/v3/export-jobs/{job_id}")
    assert response.status_code == 500
    assert response.json()["type"] == "SANDBOX_CONTRACT_VIOLATION"
    assert "$.data.status" in response.json()["message"]


def test_main_prints_what_a_client_needs_and_stops() -> None:
    lines: list[str] = []
    ready = threading.Event()
    stop = threading.Event()

    def out(line: str) -> None:
        lines.append(line)
        if line.startswith("OAuth client secret"):
            ready.set()

    runner = threading.Thread(
        target=main, args=(["--port", "0", "--seed", "4"],), kwargs={"stop": stop, "out": out}
    )
    runner.start()
    try:
        assert ready.wait(30)
        base_url = re.search(r"http://\S+", lines[0]).group(0)  # type: ignore[union-attr]
        company = lines[1].split(": ")[1]
        key = lines[2].split(": ")[1]
        with httpx.Client(base_url=base_url, auth=_auth(key)) as http:
            jobs = http.get("/v3/export-jobs", params={"company_id": company}).json()["data"]
        assert len(jobs) == 3
    finally:
        stop.set()
        runner.join(10)
    assert not runner.is_alive()


def test_module_runs_as_a_script() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "pleo_erp.testing.sandbox", "--port", "0", "--no-demo"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("Pleo sandbox listening on http://127.0.0.1:")
        base_url = first.split()[-1]
        assert process.stdout.readline().startswith("company id: (none")
        key = process.stdout.readline().split(": ")[1].strip()
        with httpx.Client(base_url=base_url, auth=_auth(key)) as http:
            assert http.get("/v1/introspect").json()["data"]["authMethod"] == "API_KEY"
    finally:
        process.terminate()
        process.wait(10)


def test_admin_routes_let_another_process_drive_the_sandbox() -> None:
    sandbox = PleoSandbox()
    company = sandbox.add_company()
    with (
        sandbox.serve() as base_url,
        httpx.Client(base_url=base_url, auth=_auth(sandbox.api_key)) as http,
    ):
        created = http.post("/_sandbox/export-jobs", json={"companyId": company, "count": 4})
        assert created.status_code == 201
        job = created.json()["data"]
        assert (job["status"], job["numberOfItems"]) == ("pending", 4)
        custom = http.post(
            "/_sandbox/export-jobs", json={"companyId": company, "items": [{"type": "fee"}]}
        )
        assert custom.status_code == 201
        bad = http.post(
            "/_sandbox/export-jobs", json={"companyId": company, "items": [{"type": 3}]}
        )
        assert bad.status_code == 400
        http.post("/v3/export-job-events", json={"event": "started", "jobId": job["id"]})
        assert http.post("/_sandbox/export-jobs", json={"companyId": company}).status_code == 409
        moved = http.post("/_sandbox/clock:advance", json={"seconds": 3600})
        assert moved.json()["data"]["now"] == "2026-10-01T10:00:00Z"
        state = http.get("/_sandbox/state").json()["data"]
        assert state["companies"][0]["jobs"][job["id"]] == "failed"  # expired after the hour
        assert http.post("/_sandbox/clock:advance", json={"seconds": -1}).status_code == 400
        assert (
            httpx.post(f"{base_url}/_sandbox/clock:advance", json={"seconds": 1}).status_code == 401
        )


def _raw_exchange(base_url: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` verbatim on a fresh connection; the status, headers and body."""
    parts = urlsplit(base_url)
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), 5) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines)}
    return int(status_line.split()[1]), headers, body


@pytest.mark.parametrize("method", ["TRACE", "OPTIONS", "HEAD", "CONNECT"])
def test_other_standard_methods_get_a_json_405_with_allow(method: str) -> None:
    """Not ``http.server``'s HTML 501 page: the same JSON 405 (with ``Allow``) as any wrong
    method on a known path."""
    sandbox = PleoSandbox()
    with sandbox.serve() as base_url:
        with httpx.Client(base_url=base_url, auth=_auth(sandbox.api_key), timeout=5) as http:
            response = http.request(method, "/v3/export-jobs")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, POST"
    assert response.headers["Content-Type"].startswith("application/json")
    if method != "HEAD":  # a HEAD answer has no body
        assert response.json()["type"] == "METHOD_NOT_ALLOWED"


@pytest.mark.parametrize(
    ("request_bytes", "status", "error_type"),
    [
        (b"FROBNICATE /v3/export-jobs HTTP/1.1\r\nHost: x\r\n\r\n", 501, "NOT_IMPLEMENTED"),
        (b"GET /v3/export-jobs HTTP/1.1 extra\r\nHost: x\r\n\r\n", 400, "BAD_REQUEST"),
        (b"GET /v3/export-jobs HTTP/9.0\r\nHost: x\r\n\r\n", 505, "HTTP_VERSION_NOT_SUPPORTED"),
    ],
)
def test_protocol_errors_answer_json_not_html(
    request_bytes: bytes, status: int, error_type: str
) -> None:
    sandbox = PleoSandbox()
    with sandbox.serve() as base_url:
        got_status, headers, body = _raw_exchange(base_url, request_bytes)
    assert got_status == status
    assert headers["content-type"].startswith("application/json")
    assert int(headers["content-length"]) == len(body)
    document = json.loads(body)
    assert document["type"] == error_type
    assert document["message"]
    assert b"<html" not in body.lower()
