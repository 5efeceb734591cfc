"""Receipt requests sent ahead on keep-alive connections (issue 13, performance).

``ReceiptDownloader(send_ahead=True).start(url)`` checks a receipt URL against the policy and
puts its request on the wire at once; ``PendingDownload.result()`` reads the answer later with
every rule of the usual download. These tests run against REAL loopback HTTP/1.1 servers
(``tests.helpers.loopback_http``) that count connections, requests and closes server-side —
no socket is mocked and nothing sleeps (waits are on events the server signals; the two
timeout tests use read limits of a tenth of a second).
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
import ssl
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pleo_erp.client._receipt_pipeline import ReceiptPipeline
from pleo_erp.client.files import (
    FileDownloadError,
    PendingDownload,
    ReceiptDownloader,
    ReceiptPolicy,
    download_file,
)
from tests.helpers.loopback_http import (
    Handler,
    LoopbackHost,
    loopback_hosts,
    send_body,
    send_chunked,
)

pytestmark = pytest.mark.http

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 8
StartHost = Callable[..., LoopbackHost]


@pytest.fixture
def hosts() -> Iterator[StartHost]:
    with loopback_hosts() as start:
        yield start


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False) as http:
        yield http


def _pdf(handler: Handler) -> None:
    send_body(handler, PDF, Content_Type="application/pdf")


def _no_sleep(seconds: float) -> None:
    raise AssertionError(f"no retry expected, but the download waited {seconds}s")


def _downloader(client: httpx.Client, *hosts: LoopbackHost, **options: Any) -> ReceiptDownloader:
    """A send-ahead downloader trusting ``hosts`` (no retry unless ``retries`` is given)."""
    options.setdefault("retries", 0)
    options.setdefault("sleep", _no_sleep)
    downloader = ReceiptDownloader(
        http_client=client,
        policy=ReceiptPolicy.local_sandbox(*(host.origin for host in hosts)),
        send_ahead=True,
        **options,
    )
    assert downloader.sends_ahead
    return downloader


def _fails_then_works_on_a_fresh_connection(
    downloader: ReceiptDownloader, host: LoopbackHost, reason: str
) -> None:
    """The first (sent-ahead) download fails with ``reason``; the next one succeeds, on a
    second connection (the broken one was not kept)."""
    pending = downloader.start(host.url())
    assert pending.sent
    assert _reason(pending) == reason
    assert downloader.start(host.url()).result().data == PDF
    assert (host.requests, host.connections) == (2, 2)
    downloader.close()


def _reason(pending: PendingDownload, **options: Any) -> str:
    with pytest.raises(FileDownloadError) as info:
        pending.result(**options)
    return info.value.reason


# ---- 1. the same file as the usual way, and sent before result() ---------------------------


def test_sent_ahead_download_equals_usual_download_and_reaches_the_host_before_result(
    hosts: StartHost, client: httpx.Client
) -> None:
    host = hosts(_pdf)
    downloader = _downloader(client, host)
    pending = downloader.start(host.url("/r?sig=abc"))
    sent_at_start = pending.sent
    assert sent_at_start
    # The host has the request although nobody asked for the answer yet.
    assert host.wait_for(lambda h: h.requests == 1)
    got = pending.result()
    assert not pending.sent
    usual = downloader.download(host.url("/r?sig=abc"))
    plain = download_file(host.url("/r?sig=abc"), http_client=client, policy=downloader.policy)
    for other in (usual, plain):
        assert (got.data, got.sha256, got.size, got.content_type, got.head) == (
            other.data,
            other.sha256,
            other.size,
            other.content_type,
            other.head,
        )
    assert got.data == PDF
    assert got.sha256 == hashlib.sha256(PDF).hexdigest()
    assert (got.size, got.content_type) == (len(PDF), "application/pdf")
    assert host.paths == ["/r?sig=abc"] * 3
    downloader.close()


def test_sent_ahead_download_spills_to_a_private_file(
    hosts: StartHost, client: httpx.Client, tmp_path: Path
) -> None:
    host = hosts(_pdf)
    downloader = _downloader(client, host, memory_limit=100)
    dest = tmp_path / "receipt.pdf"
    got = downloader.start(host.url()).result(dest)
    assert (got.path, got.data, got.size) == (dest, None, len(PDF))
    assert dest.read_bytes() == PDF
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    downloader.close()


def test_sent_requests_carry_only_the_receipt_headers(hosts: StartHost) -> None:
    host = hosts(_pdf)
    with httpx.Client(
        trust_env=False, headers={"Authorization": "Bearer SECRET", "User-Agent": "ua/1"}
    ) as http:
        downloader = _downloader(http, host)
        downloader.start(host.url()).result()
        downloader.close()
    (seen,) = host.request_headers
    assert sorted((name.lower(), value) for name, value in seen) == [
        ("accept", "*/*"),
        ("accept-encoding", "identity"),
        ("connection", "keep-alive"),
        ("host", f"127.0.0.1:{host.port}"),
        ("user-agent", "ua/1"),
    ]


# ---- 2. keep-alive reuse -------------------------------------------------------------------


def test_sequential_sent_ahead_downloads_share_one_connection(
    hosts: StartHost, client: httpx.Client
) -> None:
    host = hosts(_pdf)
    downloader = _downloader(client, host)
    for number in range(5):
        assert downloader.start(host.url(f"/r{number}")).result().data == PDF
    assert (host.requests, host.connections) == (5, 1)
    downloader.close()


def test_requests_in_flight_together_each_get_a_connection_then_are_reused(
    hosts: StartHost, client: httpx.Client
) -> None:
    host = hosts(_pdf)
    downloader = _downloader(client, host)
    pending = [downloader.start(host.url(f"/r{number}")) for number in range(3)]
    assert all(p.sent for p in pending)
    assert host.wait_for(lambda h: h.requests == 3)
    assert host.connections == 3
    assert [p.result().data for p in pending] == [PDF] * 3
    # The three connections are kept: three more in flight together open none.
    again = [downloader.start(host.url(f"/s{number}")) for number in range(3)]
    assert [p.result().data for p in again] == [PDF] * 3
    assert (host.requests, host.connections) == (6, 3)
    downloader.close()


def test_connections_on_descriptors_above_1024_are_still_reused(
    hosts: StartHost, client: httpx.Client
) -> None:
    """``select.select`` cannot watch a descriptor >= 1024 (a busy worker has many): the idle
    check must not take that for a closed connection, or nothing is ever reused."""
    import os
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"the hard descriptor limit ({hard}) leaves no room above 1024")
    if soft < 1200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (1200, hard))
    filler: list[int] = []
    try:
        while not filler or filler[-1] < 1030:
            filler.append(os.open(os.devnull, os.O_RDONLY))
        host = hosts(_pdf)
        downloader = _downloader(client, host)
        for number in range(3):
            assert downloader.start(host.url(f"/r{number}")).result().data == PDF
        assert (host.requests, host.connections) == (3, 1)
        downloader.close()
    finally:
        for fd in filler:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_nothing_is_sent_ahead_through_a_closed_client(hosts: StartHost) -> None:
    host = hosts(_pdf)
    http = httpx.Client(trust_env=False)
    downloader = _downloader(http, host)
    http.close()
    pending = downloader.start(host.url("/r"))
    assert not pending.sent
    with pytest.raises(RuntimeError, match="closed"):
        pending.result()
    assert host.requests == 0


# ---- 3. a kept connection the host closed --------------------------------------------------


def test_host_closing_idle_connections_costs_no_download(
    hosts: StartHost, client: httpx.Client
) -> None:
    def answer_then_hang_up(handler: Handler) -> None:
        _pdf(handler)  # keep-alive answer (no ``Connection: close``) ...
        handler.close_connection = True  # ... then the host drops the connection anyway

    host = hosts(answer_then_hang_up)
    downloader = _downloader(client, host)
    for number in range(4):
        assert downloader.start(host.url(f"/r{number}")).result().data == PDF
    assert host.requests == 4  # every request answered once: no retry (``_no_sleep``)
    downloader.close()


def test_kept_connection_closed_before_the_answer_is_sent_again_the_usual_way(
    hosts: StartHost, client: httpx.Client
) -> None:
    """The host takes the second request of a connection and closes it without a word: the
    download sends it again on a new connection at once (``StaleConnection``), no retry."""

    def one_per_connection(handler: Handler) -> None:
        if handler.served > 1:
            handler.close_connection = True
            return
        _pdf(handler)

    host = hosts(one_per_connection)
    downloader = _downloader(client, host)
    assert downloader.start(host.url("/first")).result().data == PDF
    pending = downloader.start(host.url("/second"))
    assert pending.sent  # on the kept connection
    assert pending.result().data == PDF
    assert host.paths == ["/first", "/second", "/second"]
    assert host.connections == 2
    downloader.close()


def test_read_timeout_on_a_kept_connection_is_not_taken_for_a_closed_one(
    hosts: StartHost, client: httpx.Client
) -> None:
    """A host that is merely slow on a kept connection gets no second request behind the
    download's back: the read timeout is a network failure like any other."""

    def slow_second(handler: Handler) -> None:
        if handler.served > 1:
            host.hang(handler)
            return
        _pdf(handler)

    host = hosts(slow_second)
    downloader = _downloader(client, host, timeout=0.1)
    assert downloader.start(host.url("/first")).result().data == PDF
    pending = downloader.start(host.url("/second"))
    assert pending.sent
    assert _reason(pending) == "network"
    assert host.paths == ["/first", "/second"]
    downloader.close()


# ---- 4. the policy before anything is sent -------------------------------------------------


def test_url_on_an_untrusted_loopback_port_is_never_sent(
    hosts: StartHost, client: httpx.Client
) -> None:
    trusted = hosts(_pdf)
    internal = hosts(_pdf)
    downloader = _downloader(client, trusted)
    pending = downloader.start(internal.url("/admin"))
    assert not pending.sent
    assert _reason(pending) == "insecure_url"
    assert internal.requests == internal.connections == 0
    downloader.close()


def test_url_with_credentials_on_a_trusted_origin_is_never_sent(
    hosts: StartHost, client: httpx.Client
) -> None:
    host = hosts(_pdf)
    downloader = _downloader(client, host)
    pending = downloader.start(f"http://user:pw@127.0.0.1:{host.port}/r")
    assert not pending.sent
    assert _reason(pending) == "insecure_url"
    assert host.requests == host.connections == 0
    downloader.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://files.example.test/r", "only https"),  # plain http to a public name
        ("https://files.example.test/r", "non-public address"),  # a name resolving to loopback
    ],
)
def test_refused_public_looking_urls_are_not_sent(
    client: httpx.Client, url: str, message: str
) -> None:
    # The policy's resolver maps every name to loopback; the system never resolves ``.test``.
    policy = ReceiptPolicy(resolver=lambda host, port: ["127.0.0.1"])
    downloader = ReceiptDownloader(
        http_client=client, policy=policy, send_ahead=True, retries=0, sleep=_no_sleep
    )
    pending = downloader.start(url)
    assert not pending.sent
    with pytest.raises(FileDownloadError, match=message) as info:
        pending.result()
    assert info.value.reason == "insecure_url"
    downloader.close()


# ---- 5. redirects from a sent-ahead first hop ----------------------------------------------


def test_same_origin_redirect_from_a_sent_hop_is_followed(
    hosts: StartHost, client: httpx.Client
) -> None:
    def bounce(handler: Handler) -> None:
        if handler.path == "/r":
            send_body(handler, b"moved", 302, Location="/final")
        else:
            _pdf(handler)

    host = hosts(bounce)
    downloader = _downloader(client, host)
    pending = downloader.start(host.url("/r"))
    assert pending.sent
    assert pending.result().data == PDF
    assert host.paths == ["/r", "/final"]
    downloader.close()


def test_cross_origin_redirect_from_a_sent_hop_is_refused(
    hosts: StartHost, client: httpx.Client
) -> None:
    other = hosts(_pdf)
    host = hosts(lambda h: send_body(h, b"", 302, Location=other.url("/x")))
    # Both origins trusted: the refusal is the redirect rule's, not the policy's.
    downloader = _downloader(client, host, other)
    pending = downloader.start(host.url("/r"))
    assert pending.sent
    assert _reason(pending) == "redirect"
    assert other.requests == other.connections == 0
    downloader.close()


# ---- 6. transient answers ------------------------------------------------------------------


@pytest.mark.parametrize(("status", "retry_after", "wait"), [(503, None, 0.25), (429, "0", 0.0)])
def test_transient_answer_to_a_sent_request_is_retried(
    hosts: StartHost, client: httpx.Client, status: int, retry_after: str | None, wait: float
) -> None:
    def busy_once(handler: Handler) -> None:
        if host.requests == 1:
            extra = {} if retry_after is None else {"Retry_After": retry_after}
            send_body(handler, b"busy", status, **extra)
        else:
            _pdf(handler)

    host = hosts(busy_once)
    waits: list[float] = []
    downloader = _downloader(client, host, retries=2, backoff=0.25, sleep=waits.append)
    pending = downloader.start(host.url())
    assert pending.sent
    assert pending.result().data == PDF
    assert waits == [wait]
    assert host.requests == 2
    downloader.close()


# ---- 7. body rules on the sent-ahead path --------------------------------------------------


def test_declared_length_above_the_cap_is_too_large(hosts: StartHost, client: httpx.Client) -> None:
    host = hosts(_pdf)
    downloader = _downloader(client, host)
    pending = downloader.start(host.url())
    assert pending.sent
    assert _reason(pending, max_bytes=len(PDF) - 1) == "too_large"
    downloader.close()


def test_chunked_body_above_the_cap_is_too_large(hosts: StartHost, client: httpx.Client) -> None:
    host = hosts(lambda h: send_chunked(h, [b"x" * 600] * 3, Content_Type="application/pdf"))
    downloader = _downloader(client, host)
    pending = downloader.start(host.url())
    assert pending.sent
    assert _reason(pending, max_bytes=1000) == "too_large"
    downloader.close()


def test_disallowed_content_type_is_refused(hosts: StartHost, client: httpx.Client) -> None:
    host = hosts(lambda h: send_body(h, b"<html/>", Content_Type="text/html; charset=utf-8"))
    downloader = _downloader(client, host, allowed_content_types={"application/pdf"})
    pending = downloader.start(host.url())
    assert pending.sent
    assert _reason(pending) == "content_type"
    downloader.close()


def test_gzip_body_is_inflated(hosts: StartHost, client: httpx.Client) -> None:
    packed = gzip.compress(PDF)
    host = hosts(
        lambda h: send_body(h, packed, Content_Type="application/pdf", Content_Encoding="gzip")
    )
    downloader = _downloader(client, host)
    got = downloader.start(host.url()).result()
    assert (got.data, got.size, got.sha256) == (PDF, len(PDF), hashlib.sha256(PDF).hexdigest())
    downloader.close()


def test_chunked_body_is_assembled_and_its_connection_kept(
    hosts: StartHost, client: httpx.Client
) -> None:
    chunks = [PDF[:5], PDF[5:700], PDF[700:]]
    host = hosts(lambda h: send_chunked(h, chunks, Content_Type="application/pdf"))
    downloader = _downloader(client, host)
    for _ in range(2):
        got = downloader.start(host.url()).result()
        assert (got.data, got.size) == (PDF, len(PDF))
    assert host.connections == 1  # the chunked body's end was read: connection reused
    downloader.close()


def test_large_response_headers_are_read_like_httpx_reads_them(
    hosts: StartHost, client: httpx.Client
) -> None:
    """httpx (httpcore) accepts a response head of up to 100 KiB; so does a sent request
    (h11 alone stops at 16 KiB of a head that has not fully arrived)."""

    def big_head_in_two_parts(handler: Handler) -> None:
        head = (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/pdf\r\n"
            b"X-Big: " + b"b" * 40_000 + b"\r\nContent-Length: %d\r\n\r\n" % len(PDF)
        )
        handler.wfile.write(head[:30_000])
        handler.wfile.flush()
        host.release.wait(0.1)  # the client reads the first 30 KB on their own first
        handler.wfile.write(head[30_000:] + PDF)

    host = hosts(big_head_in_two_parts)
    downloader = _downloader(client, host)
    assert downloader.download(host.url()).data == PDF
    pending = downloader.start(host.url())
    assert pending.sent
    assert pending.result().data == PDF
    assert host.requests == 2
    downloader.close()


# ---- 8. broken answers and timeouts --------------------------------------------------------


def test_host_closing_mid_body_is_a_network_failure_and_the_connection_is_dropped(
    hosts: StartHost, client: httpx.Client
) -> None:
    def cut_first(handler: Handler) -> None:
        if host.requests == 1:
            handler.send_response(200)
            handler.send_header("Content-Length", str(len(PDF)))
            handler.end_headers()
            handler.wfile.write(PDF[:100])
            handler.close_connection = True
        else:
            _pdf(handler)

    host = hosts(cut_first)
    downloader = _downloader(client, host)
    _fails_then_works_on_a_fresh_connection(downloader, host, "network")


def test_host_that_never_answers_is_a_network_failure_on_a_fresh_connection_after(
    hosts: StartHost, client: httpx.Client
) -> None:
    def hang_first(handler: Handler) -> None:
        if host.requests == 1:
            host.hang(handler)
        else:
            _pdf(handler)

    host = hosts(hang_first)
    downloader = _downloader(client, host, timeout=0.1)
    _fails_then_works_on_a_fresh_connection(downloader, host, "network")


def test_deadline_passing_while_waiting_for_a_sent_answer_is_a_timeout(
    hosts: StartHost, client: httpx.Client
) -> None:
    def never_answer(handler: Handler) -> None:
        host.hang(handler)

    host = hosts(never_answer)
    downloader = _downloader(client, host, timeout=30.0, deadline=0.1)
    pending = downloader.start(host.url())
    assert pending.sent
    assert _reason(pending) == "timeout"
    assert host.requests == 1
    downloader.close()


# ---- 9. cancel and close -------------------------------------------------------------------


def test_cancel_closes_the_connection_of_a_sent_request(
    hosts: StartHost, client: httpx.Client
) -> None:
    host = hosts(_pdf)
    downloader = _downloader(client, host)
    pending = downloader.start(host.url())
    assert host.wait_for(lambda h: h.requests == 1)
    sent = pending._sent
    assert sent is not None
    # Held, so only ``cancel`` (not garbage collection) can close its socket.
    held = sent._connection
    assert held is not None
    pending.cancel()
    assert not pending.sent
    assert host.wait_for(lambda h: h.closed == 1)  # the host saw the connection end
    assert downloader.start(host.url()).result().data == PDF
    assert host.connections == 2
    downloader.close()


def test_closing_the_downloader_closes_kept_connections(
    hosts: StartHost, client: httpx.Client
) -> None:
    host = hosts(_pdf)
    downloader = _downloader(client, host)
    for _ in range(2):
        assert downloader.start(host.url()).result().data == PDF
    assert host.closed == 0  # kept
    pipeline = downloader.pipeline
    assert pipeline is not None
    # Held, so only ``close`` (not garbage collection) can close their sockets.
    held = [connection for kept in pipeline._idle.values() for connection in kept]
    assert len(held) == 1
    downloader.close()
    assert host.wait_for(lambda h: h.closed == 1)
    # Still usable: a request sent after ``close`` is answered, its connection not kept.
    assert downloader.start(host.url()).result().data == PDF
    assert host.wait_for(lambda h: h.closed == 2)


# ---- 12. https ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (made with the ``openssl`` command)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is not installed: no certificate for the https tests")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def _tls_host(hosts: StartHost, certificate: tuple[Path, Path]) -> LoopbackHost:
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(*certificate)
    return hosts(_pdf, tls=server)


def test_https_sent_ahead_verifies_the_certificate_and_reuses_the_connection(
    hosts: StartHost, certificate: tuple[Path, Path]
) -> None:
    host = _tls_host(hosts, certificate)
    trusting = ssl.create_default_context(cafile=str(certificate[0]))
    with httpx.Client(verify=trusting, trust_env=False) as http:
        downloader = _downloader(http, host)
        for _ in range(3):
            pending = downloader.start(host.url())
            assert pending.sent
            assert pending.result().data == PDF
        downloader.close()
    assert (host.requests, host.connections) == (3, 1)


def test_https_untrusted_certificate_is_a_network_failure(
    hosts: StartHost, certificate: tuple[Path, Path]
) -> None:
    host = _tls_host(hosts, certificate)
    # The system's trust store: the self-signed certificate is unknown.
    with httpx.Client(trust_env=False) as http:
        pipeline = ReceiptPipeline.for_client(http)
        assert pipeline is not None
        with pytest.raises(httpx.ConnectError):
            pipeline.send(httpx.URL(host.url()), httpx.Headers(), {"connect": 5.0})
        downloader = _downloader(http, host)
        pending = downloader.start(host.url())
        assert not pending.sent
        assert _reason(pending) == "network"
        downloader.close()
    assert host.requests == 0


def test_an_origin_that_refused_a_connection_is_not_sent_ahead_again(
    client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One connect stall per unreachable host on the scheduling thread, not one per receipt:
    after a failed connect its receipts go the usual way (which reports the failure)."""
    import socket

    with socket.socket() as probe:  # a loopback port with nobody listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    origin = f"http://127.0.0.1:{port}"
    downloader = ReceiptDownloader(
        http_client=client,
        policy=ReceiptPolicy.local_sandbox(origin),
        send_ahead=True,
        retries=0,
        sleep=_no_sleep,
    )
    connects: list[object] = []
    real_connect = socket.create_connection

    def counting_connect(*args: Any, **kwargs: Any) -> socket.socket:
        connects.append(args[0])
        return real_connect(*args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", counting_connect)
    first = downloader.start(f"{origin}/r1")
    second = downloader.start(f"{origin}/r2")
    assert (first.sent, second.sent) == (False, False)
    assert len(connects) == 1  # the second receipt did not try to connect ahead
    assert _reason(second) == "network"  # the usual way still reports it
    downloader.close()
