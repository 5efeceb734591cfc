"""Security issue 10, findings 1, 4 and 6: receipt downloads attacked over loopback.

Every server here is a real ``http.server`` on 127.0.0.1 in a thread; names that "resolve" to
private or metadata addresses go through an injected resolver, so no traffic ever leaves
loopback and no real DNS is asked.
"""

from __future__ import annotations

import gzip
import json
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from uuid import uuid4

import httpx
import pytest

from pleo_erp.client import ApiKeyAuth, PleoClient
from pleo_erp.client.files import FileDownloadError, ReceiptPolicy, download_file
from pleo_erp.client.receipt_policy import is_public_address, receipt_policy_for
from pleo_erp.domain.config import ExportConfig
from pleo_erp.domain.receipts import ReceiptSpec
from pleo_erp.orchestration._receipts import _failure_for

PDF = b"%PDF-1.4\n" + b"p" * 200

Responder = Callable[[BaseHTTPRequestHandler], None]


class _Server:
    """A loopback HTTP server answering every GET with ``respond``; counts hits."""

    def __init__(self, respond: Responder) -> None:
        owner = self
        self.hits = 0

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                owner.hits += 1
                respond(self)

            def log_message(self, format: str, *args: object) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def servers() -> Iterator[Callable[[Responder], _Server]]:
    started: list[_Server] = []

    def start(respond: Responder) -> _Server:
        server = _Server(respond)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


def _send(handler: BaseHTTPRequestHandler, body: bytes, **headers: str) -> None:
    handler.send_response(200)
    handler.send_header("Content-Length", str(len(body)))
    for name, value in headers.items():
        handler.send_header(name.replace("_", "-"), value)
    handler.end_headers()
    handler.wfile.write(body)


def _pdf(handler: BaseHTTPRequestHandler) -> None:
    _send(handler, PDF, Content_Type="application/pdf")


def _secret_service(handler: BaseHTTPRequestHandler) -> None:
    _send(handler, b"%PDF-internal-admin-data", Content_Type="application/pdf")


def dns(mapping: dict[str, str]) -> Callable[[str, int], list[str]]:
    def resolve(host: str, port: int) -> list[str]:
        return [mapping[host]]

    return resolve


# ---- finding 1: SSRF -------------------------------------------------------------------------


def test_loopback_receipt_url_refused_in_production(servers, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    internal = servers(_secret_service)
    with httpx.Client() as http, pytest.raises(FileDownloadError) as info:
        download_file(f"{internal.origin}/admin", tmp_path / "a", http_client=http, retries=0)
    assert info.value.reason == "insecure_url"
    assert internal.hits == 0  # never contacted


def test_sandbox_policy_allows_only_its_own_origin_not_another_loopback_port(  # type: ignore[no-untyped-def]
    servers, tmp_path: Path
) -> None:
    sandbox = servers(_pdf)
    internal = servers(_secret_service)
    policy = ReceiptPolicy.local_sandbox(sandbox.origin)
    with httpx.Client() as http:
        got = download_file(f"{sandbox.origin}/r", tmp_path / "ok", http_client=http, policy=policy)
        assert got.read_bytes() == PDF
        with pytest.raises(FileDownloadError) as info:
            download_file(
                f"{internal.origin}/admin", tmp_path / "x", http_client=http, policy=policy
            )
    assert info.value.reason == "insecure_url"
    assert internal.hits == 0


def test_redirect_to_another_loopback_port_refused(servers, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The reproduction: same host, other port — was followed because only the host was
    compared. Now the origin is compared and every hop passes the policy."""
    internal = servers(_secret_service)

    def bounce(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(302)
        handler.send_header("Location", f"{internal.origin}/admin")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    sandbox = servers(bounce)
    policy = ReceiptPolicy.local_sandbox(sandbox.origin)
    with httpx.Client() as http:
        with pytest.raises(FileDownloadError) as info:
            download_file(f"{sandbox.origin}/r", tmp_path / "a", http_client=http, policy=policy)
        assert info.value.reason == "redirect"
        # Even with cross-origin redirects allowed, the hop itself must pass the policy.
        with pytest.raises(FileDownloadError) as info:
            download_file(
                f"{sandbox.origin}/r",
                tmp_path / "b",
                http_client=http,
                policy=policy,
                allow_cross_host_redirects=True,
            )
        assert info.value.reason == "insecure_url"
    assert internal.hits == 0


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.0.0.5", "169.254.169.254", "192.168.1.1", "::1", "fd00::1",
     "::ffff:127.0.0.1", "100.64.0.1", "0.0.0.0"],
)  # fmt: skip
def test_names_resolving_to_non_public_addresses_refused(address: str, tmp_path: Path) -> None:
    contacted: list[httpx.Request] = []

    def transport(request: httpx.Request) -> httpx.Response:
        contacted.append(request)
        return httpx.Response(200, content=PDF)

    policy = ReceiptPolicy(resolver=dns({"receipts.example": address}))
    with httpx.Client(transport=httpx.MockTransport(transport)) as http:
        with pytest.raises(FileDownloadError) as info:
            download_file(
                "https://receipts.example/r", tmp_path / "a", http_client=http, policy=policy
            )
    assert info.value.reason == "insecure_url"
    assert not contacted


def test_redirect_hop_to_a_name_resolving_to_metadata_refused(tmp_path: Path) -> None:
    contacted: list[str] = []

    def transport(request: httpx.Request) -> httpx.Response:
        contacted.append(request.url.host)
        return httpx.Response(302, headers={"location": "https://meta.example/latest"})

    resolver = dns({"files.example": "93.184.215.14", "meta.example": "169.254.169.254"})
    policy = ReceiptPolicy(resolver=resolver)
    with httpx.Client(transport=httpx.MockTransport(transport)) as http:
        with pytest.raises(FileDownloadError) as info:
            download_file(
                "https://files.example/r",
                tmp_path / "a",
                http_client=http,
                policy=policy,
                allow_cross_host_redirects=True,
            )
    assert info.value.reason == "insecure_url"
    assert contacted == ["files.example"]


def test_private_networks_only_with_the_explicit_relaxation(tmp_path: Path) -> None:
    def transport(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=PDF)

    resolver = dns({"minio.internal": "10.0.0.5", "meta.internal": "169.254.169.254"})
    relaxed = ReceiptPolicy(allow_private_networks=True, resolver=resolver)
    with httpx.Client(transport=httpx.MockTransport(transport)) as http:
        got = download_file(
            "https://minio.internal/r", tmp_path / "a", http_client=http, policy=relaxed
        )
        assert got.size == len(PDF)
        with pytest.raises(FileDownloadError):  # link-local stays refused
            download_file(
                "https://meta.internal/r", tmp_path / "b", http_client=http, policy=relaxed
            )


def test_public_address_classification() -> None:
    assert is_public_address("93.184.215.14")
    assert is_public_address("2606:4700::1111")
    for address in ("127.0.0.1", "10.1.2.3", "169.254.169.254", "::1", "fe80::1", "224.0.0.1"):
        assert not is_public_address(address)


def test_failure_text_for_pleo_has_no_network_detail(servers, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The reason sent to Pleo must not reveal which ports answer (port scan via C20)."""

    def missing(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(404)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    server = servers(missing)
    policy = ReceiptPolicy.local_sandbox(server.origin)
    spec = ReceiptSpec(
        accounting_entry_id=uuid4(),
        index=0,
        url=f"{server.origin}/r",
        key="k",
        extension="pdf",
        declared_size=10,
        max_bytes=1000,
    )
    texts = []
    with httpx.Client() as http:
        for url in (f"{server.origin}/r", "http://127.0.0.1:1/r"):
            for chosen in (policy, ReceiptPolicy()):
                with pytest.raises(FileDownloadError) as info:
                    download_file(url, tmp_path / "x", http_client=http, policy=chosen, retries=0)
                texts.append(_failure_for(spec, info.value).message)
    for text in texts:
        assert "127.0.0.1" not in text
        assert str(server.port) not in text
        assert "404" not in text
        assert "Connect" not in text


def test_client_policy_reaches_downloads_and_loopback_base_url_trusts_only_itself() -> None:
    with PleoClient(ApiKeyAuth("k"), base_url="http://127.0.0.1:8123") as client:
        policy = client.receipt_policy
        assert policy.trusts(httpx.URL("http://127.0.0.1:8123/_sandbox/files/1"))
        assert not policy.trusts(httpx.URL("http://127.0.0.1:6379/"))
        assert receipt_policy_for(client.http_client) is policy
    with PleoClient(ApiKeyAuth("k")) as production:
        assert production.receipt_policy.trusted_origins == frozenset()
    explicit = PleoClient(
        ApiKeyAuth("k"),
        base_url="https://external.sandbox.pleo.invalid",
        allow_local_receipts_from="http://localhost:9000",
    )
    assert explicit.receipt_policy.trusts(httpx.URL("http://localhost:9000/x"))
    explicit.close()


def test_sandbox_client_trusts_its_in_process_origin() -> None:
    from pleo_erp.testing.sandbox import PleoSandbox

    client = PleoSandbox().client()
    assert client.receipt_policy.trusts(httpx.URL(client.base_url + "/_sandbox/files/x"))
    assert not client.receipt_policy.trusts(httpx.URL("http://127.0.0.1:80/"))


# ---- finding 4: an overall deadline ------------------------------------------------------------


def test_dripping_server_stopped_by_the_overall_deadline(servers, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """One byte per chunk: each read is fast, so the per-read timeout never fires. The
    deadline (measured on an injected clock, one 'second' per look) ends the download."""
    release = threading.Event()

    def drip(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/pdf")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        for byte in PDF[:10]:
            handler.wfile.write(b"1\r\n" + bytes([byte]) + b"\r\n")
            handler.wfile.flush()
        release.wait(10)  # then hold the connection open, like a drip that never ends

    server = servers(drip)
    ticks = iter(range(10_000))
    policy = ReceiptPolicy.local_sandbox(server.origin)
    try:
        with httpx.Client() as http, pytest.raises(FileDownloadError) as info:
            download_file(
                f"{server.origin}/r",
                tmp_path / "a",
                http_client=http,
                policy=policy,
                timeout=5.0,
                deadline=3.0,
                clock=lambda: float(next(ticks)),
            )
    finally:
        release.set()
    assert info.value.reason == "timeout"
    assert not info.value.transient
    assert not (tmp_path / "a").exists()


def test_deadline_also_bounds_retries(tmp_path: Path) -> None:
    now = [0.0]
    waits: list[float] = []

    def unavailable(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503)

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    policy = ReceiptPolicy(resolver=dns({"f.example": "93.184.215.14"}))
    with httpx.Client(transport=httpx.MockTransport(unavailable)) as http:
        with pytest.raises(FileDownloadError):
            download_file(
                "https://f.example/r",
                tmp_path / "a",
                http_client=http,
                policy=policy,
                retries=10,
                backoff=1.0,
                deadline=5.0,
                clock=lambda: now[0],
                sleep=sleep,
            )
    assert sum(waits) < 5.0  # 1 + 2 = 3; waiting 4 more would overrun the deadline


def test_fetcher_passes_receipt_timeout_as_the_deadline() -> None:
    from pleo_erp.orchestration._receipts import ReceiptFetcher

    config = ExportConfig(receipt_timeout=7.5)
    with httpx.Client() as http:
        fetcher = ReceiptFetcher(http, config, sleep=lambda _: None)
        downloader = fetcher._downloader
    assert downloader is not None
    assert downloader.deadline == 7.5  # the whole download, not only each read
    assert downloader.timeout["read"] == 7.5
    assert ExportConfig().receipt_timeout > 0


# ---- finding 6: compression bombs ----------------------------------------------------------------


def test_gzip_bomb_streams_to_disk_under_the_cap(servers, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    inflated_size = 24 * 1024 * 1024
    bomb = gzip.compress(b"%PDF-1.4\n" + b"\0" * (inflated_size - 9), compresslevel=9)
    assert len(bomb) < 64 * 1024

    def serve_bomb(handler: BaseHTTPRequestHandler) -> None:
        _send(handler, bomb, Content_Type="application/pdf", Content_Encoding="gzip")

    server = servers(serve_bomb)
    policy = ReceiptPolicy.local_sandbox(server.origin)
    with httpx.Client() as http:
        tracemalloc.start()
        try:
            got = download_file(
                f"{server.origin}/r",
                tmp_path / "bomb",
                http_client=http,
                policy=policy,
                memory_limit=1024 * 1024,
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert got.size == inflated_size
        assert got.path is not None
        assert got.path.stat().st_size == inflated_size
        assert peak < 6 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"
        with pytest.raises(FileDownloadError) as info:  # the cap counts inflated bytes
            download_file(
                f"{server.origin}/r",
                tmp_path / "capped",
                http_client=http,
                policy=policy,
                max_bytes=4 * 1024 * 1024,
            )
    assert info.value.reason == "too_large"
    assert not (tmp_path / "capped").exists()


def test_unsupported_content_encoding_refused(servers, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    def brotli(handler: BaseHTTPRequestHandler) -> None:
        _send(handler, b"\x0b\x02\x80", Content_Type="application/pdf", Content_Encoding="br")

    server = servers(brotli)
    policy = ReceiptPolicy.local_sandbox(server.origin)
    with httpx.Client() as http, pytest.raises(FileDownloadError) as info:
        download_file(f"{server.origin}/r", tmp_path / "a", http_client=http, policy=policy)
    assert info.value.reason == "content_type"


def test_sandbox_policy_skips_dns_but_keeps_the_scheme_rule(tmp_path: Path) -> None:
    from pleo_erp.testing.sandbox import PleoSandbox

    client = PleoSandbox().client()
    policy = client.receipt_policy
    assert not policy.check_addresses  # in-process transport: no DNS lookups from tests
    with pytest.raises(FileDownloadError) as info:
        download_file(
            "http://127.0.0.1:6379/", tmp_path / "a", http_client=client.http_client, retries=0
        )
    assert info.value.reason == "insecure_url"
    with PleoClient(ApiKeyAuth("k"), base_url="http://127.0.0.1:8123") as served:
        assert served.receipt_policy.check_addresses  # a real network client always checks


@pytest.mark.http
def test_export_through_a_served_sandbox_never_fetches_an_internal_port(servers) -> None:  # type: ignore[no-untyped-def]
    """The reproduction end to end: a receipt URL on another loopback port than the sandbox's.
    Before, its answer was filed in the ledger and the failure texts told Pleo which ports
    answer. Now the internal service is never contacted and Pleo hears no network detail."""
    from pleo_erp.orchestration.export import export_expenses
    from pleo_erp.testing.inmemory import InMemoryAccountingSystem
    from pleo_erp.testing.sandbox import PleoSandbox
    from pleo_erp.testing.sandbox.files import make_pdf
    from tests.helpers.export import sandbox_item

    internal = servers(_secret_service)
    sandbox = PleoSandbox(seed=3)
    company = sandbox.add_company("Test Co")
    good_pdf = make_pdf("fine")
    good = sandbox.add_file(good_pdf, "application/pdf")
    items = [
        sandbox_item(
            files=[
                {
                    "url": sandbox.file_placeholder(good),
                    "type": "application/pdf",
                    "size": len(good_pdf),
                }
            ]
        ),
        sandbox_item(
            files=[{"url": f"{internal.origin}/admin", "type": "application/pdf", "size": 24}]
        ),
        sandbox_item(
            files=[{"url": "http://127.0.0.1:1/closed", "type": "application/pdf", "size": 24}]
        ),
    ]
    job = sandbox.create_export_job(company, items)
    system = InMemoryAccountingSystem()
    with sandbox.serve() as base_url:
        with PleoClient(ApiKeyAuth(sandbox.api_key), base_url=base_url) as client:
            report = export_expenses(client, system, company_id=company, sleep=lambda s: None)
    statuses = [item.status for item in report.items]
    assert statuses.count("successful") == 1
    failed = [item for item in report.items if item.status != "successful"]
    assert {item.failure_type for item in failed} == {"receipt_download_failure"}
    assert internal.hits == 0
    sent = json.dumps(sandbox.job_items(job))
    assert str(internal.port) not in sent
    assert "127.0.0.1:1" not in sent
    assert "Connect" not in sent
    assert "could not be downloaded" in sent  # the reasons did reach Pleo, minus the detail
