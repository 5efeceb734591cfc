"""Which way a receipt hop goes, and that every way gives the same answer (issue 13).

A receipt hop goes straight to httpx's ``httpcore`` pool when the client's transport is the
stock ``httpx.HTTPTransport``, through the transport's ``handle_request`` otherwise, and a
request may be *sent ahead* (``ReceiptPipeline``) only over the plainest transport. Whatever
a test library (``pytest-httpx``, ``respx``), a mount, a proxy or a subclass put in between
must see every request. The servers are real loopback HTTP/1.1 servers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpcore
import httpx
import pytest
from pytest_httpx import HTTPXMock

from pleo_erp.client._receipt_hop import (
    TRANSPORT_ERRORS,
    Hop,
    _HttpxHop,
    _PoolHop,
    open_hop,
    stock_pool,
)
from pleo_erp.client._receipt_pipeline import ReceiptPipeline, SentRequest
from pleo_erp.client.files import FileDownloadError, ReceiptDownloader, ReceiptPolicy
from tests.helpers.loopback_http import Handler, LoopbackHost, loopback_hosts, send_body

pytestmark = pytest.mark.http

PDF = b"%PDF-1.4\n" + b"q" * 500
HEADERS = httpx.Headers({"Accept": "*/*", "Accept-Encoding": "identity", "User-Agent": "t/1"})
TIMEOUT: dict[str, float | None] = {"connect": 5.0, "read": 5.0, "write": 5.0, "pool": 5.0}
StartHost = Callable[..., LoopbackHost]


@pytest.fixture
def hosts() -> Iterator[StartHost]:
    with loopback_hosts() as start:
        yield start


def _pdf(handler: Handler) -> None:
    send_body(handler, PDF, Content_Type="application/pdf")


def _no_sleep(seconds: float) -> None:
    raise AssertionError(f"no retry expected, but the download waited {seconds}s")


def _downloader(client: httpx.Client, *origins: str) -> ReceiptDownloader:
    return ReceiptDownloader(
        http_client=client,
        policy=ReceiptPolicy.local_sandbox(*origins),
        send_ahead=True,
        retries=0,
        sleep=_no_sleep,
    )


class _SubclassTransport(httpx.HTTPTransport):
    """A vendor's own transport: it must see every request."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        return super().handle_request(request)


# ---- 10. which clients send ahead ----------------------------------------------------------


def _mock_transport() -> httpx.BaseTransport:
    return httpx.MockTransport(lambda request: httpx.Response(200, content=PDF))


def _http2_transport() -> httpx.BaseTransport:
    pytest.importorskip("h2", reason="HTTP/2 needs the h2 package, not installed here")
    return httpx.HTTPTransport(http2=True)


@pytest.mark.parametrize(
    "make_client",
    [
        pytest.param(lambda: httpx.Client(transport=_mock_transport()), id="mock-transport"),
        pytest.param(lambda: httpx.Client(proxy="http://127.0.0.1:9"), id="proxy"),
        pytest.param(
            lambda: httpx.Client(mounts={"https://": httpx.HTTPTransport()}), id="scheme-mount"
        ),
        pytest.param(lambda: httpx.Client(transport=_SubclassTransport()), id="subclass"),
        pytest.param(lambda: httpx.Client(transport=_http2_transport()), id="http2"),
        pytest.param(
            lambda: httpx.Client(transport=httpx.HTTPTransport(uds="/nonexistent.sock")), id="uds"
        ),
        pytest.param(
            lambda: httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.1")),
            id="local-address",
        ),
    ],
)
def test_clients_whose_transport_is_not_the_plain_one_do_not_send_ahead(
    make_client: Callable[[], httpx.Client],
) -> None:
    with make_client() as client:
        assert ReceiptPipeline.for_client(client) is None
        assert not _downloader(client).sends_ahead


def test_the_plain_client_sends_ahead() -> None:
    with httpx.Client(trust_env=False) as client:
        assert _downloader(client).sends_ahead
    with httpx.Client(trust_env=False) as client:
        assert not ReceiptDownloader(http_client=client).sends_ahead  # only when asked


def test_a_mounted_origin_is_not_sent_ahead_its_transport_gets_the_request(
    hosts: StartHost,
) -> None:
    mounted = hosts(_pdf)
    direct = hosts(_pdf)
    seen: list[httpx.Request] = []

    def mock(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"mounted", headers={"Content-Type": "application/pdf"})

    with httpx.Client(
        mounts={mounted.origin: httpx.MockTransport(mock)}, trust_env=False
    ) as client:
        downloader = _downloader(client, mounted.origin, direct.origin)
        assert downloader.sends_ahead  # the default transport is plain ...
        pipeline = downloader.pipeline
        assert pipeline is not None
        assert not pipeline.accepts(client, httpx.URL(mounted.url()))  # ... this origin not
        assert pipeline.accepts(client, httpx.URL(direct.url()))
        pending = downloader.start(mounted.url())
        assert not pending.sent
        assert pending.result().data == b"mounted"
        other = downloader.start(direct.url())
        assert other.sent
        assert other.result().data == PDF
        downloader.close()
    assert [str(request.url) for request in seen] == [mounted.url()]
    assert mounted.requests == 0
    assert direct.requests == 1


def test_a_client_behind_an_environment_proxy_does_not_send_ahead(
    hosts: StartHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``sends_ahead`` must say False (the export then downloads on its pool threads): with
    True, nothing would be sent ahead and every receipt be fetched one after the other."""
    host = hosts(_pdf)
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens: refused
    with httpx.Client() as client:  # proxies from the environment
        downloader = _downloader(client, host.origin)
        assert not downloader.sends_ahead
        pending = downloader.start(host.url())
        assert not pending.sent
        with pytest.raises(FileDownloadError) as info:
            pending.result()  # through the (absent) proxy, never straight to the host
        assert info.value.reason == "network"
        downloader.close()
    assert host.requests == host.connections == 0


# ---- 11. every way gives the same answer ---------------------------------------------------


def _varied(handler: Handler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/pdf")
    handler.send_header("X-Multi", "a")
    handler.send_header("X-Multi", "b")
    handler.send_header("X-Name", "café".encode().decode("latin-1"))  # UTF-8 on the wire
    handler.send_header("Content-Length", str(len(PDF)))
    handler.end_headers()
    handler.wfile.write(PDF)


def _answer(hop: Hop) -> tuple[int, dict[str, str | None], bytes]:
    try:
        names = ("content-type", "x-multi", "x-name", "content-length", "absent")
        body = hop.read_body()
        if body is None:
            body = b"".join(hop.raw_chunks())
        return hop.status_code, {name: hop.header(name) for name in names}, body
    finally:
        hop.close()


def test_pool_transport_and_sent_ahead_hops_agree(hosts: StartHost) -> None:
    host = hosts(_varied)
    url = httpx.URL(host.url("/r?sig=1"))
    with (
        httpx.Client(trust_env=False) as stock,
        httpx.Client(transport=_SubclassTransport()) as custom,
    ):
        assert stock_pool(stock._transport) is not None
        assert stock_pool(custom._transport) is None
        pool_hop = open_hop(stock, url, HEADERS, TIMEOUT)
        transport_hop = open_hop(custom, url, HEADERS, TIMEOUT)
        assert isinstance(pool_hop, _PoolHop)
        assert isinstance(transport_hop, _HttpxHop)
        pipeline = ReceiptPipeline.for_client(stock)
        assert pipeline is not None
        sent_hop = pipeline.send(url, HEADERS, TIMEOUT).response(TIMEOUT)
        assert isinstance(sent_hop, SentRequest)
        answers = [_answer(pool_hop), _answer(transport_hop), _answer(sent_hop)]
        pipeline.close()
    expected = (
        200,
        {
            "content-type": "application/pdf",
            "x-multi": "a, b",  # joined as ``httpx.Headers.get`` joins them
            "x-name": "café",
            "content-length": str(len(PDF)),
            "absent": None,
        },
        PDF,
    )
    assert answers == [expected] * 3
    # The same request went out every way.
    sent = [sorted((k.lower(), v) for k, v in headers) for headers in host.request_headers]
    assert sent[0] == sent[1] == sent[2]
    assert ("host", f"127.0.0.1:{host.port}") in sent[0]
    assert host.paths == ["/r?sig=1"] * 3


def test_network_failures_of_every_way_are_transport_errors(hosts: StartHost) -> None:
    host = hosts(_pdf)
    port = host.port
    host.close()  # nothing listens there any more
    url = httpx.URL(f"http://127.0.0.1:{port}/r")
    with (
        httpx.Client(trust_env=False) as stock,
        httpx.Client(transport=_SubclassTransport()) as custom,
    ):
        for client in (stock, custom):
            with pytest.raises(TRANSPORT_ERRORS):
                open_hop(client, url, HEADERS, TIMEOUT)
        pipeline = ReceiptPipeline.for_client(stock)
        assert pipeline is not None
        with pytest.raises(TRANSPORT_ERRORS):
            pipeline.send(url, HEADERS, TIMEOUT)


# ---- test libraries that patch httpx or httpcore -------------------------------------------

_REAL_TRANSPORT_HANDLE = httpx.HTTPTransport.handle_request
_REAL_POOL_HANDLE = httpcore.ConnectionPool.handle_request
_patched_saw: list[str] = []


def _patched_transport_handle(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
    """What ``pytest-httpx`` puts in place of ``HTTPTransport.handle_request``."""
    _patched_saw.append(str(request.url))
    return _REAL_TRANSPORT_HANDLE(self, request)


def _patched_pool_handle(
    self: httpcore.ConnectionPool, request: httpcore.Request
) -> httpcore.Response:
    """What ``respx`` puts in place of ``httpcore.ConnectionPool.handle_request``."""
    _patched_saw.append(f"{request.url.scheme.decode()}://{request.url.host.decode()}")
    return _REAL_POOL_HANDLE(self, request)


@pytest.fixture
def patched_saw() -> Iterator[list[str]]:
    _patched_saw.clear()
    yield _patched_saw
    _patched_saw.clear()


def test_a_patched_transport_sees_every_receipt_request(
    hosts: StartHost, monkeypatch: pytest.MonkeyPatch, patched_saw: list[str]
) -> None:
    host = hosts(_pdf)
    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", _patched_transport_handle)
    with httpx.Client(trust_env=False) as client:
        assert stock_pool(client._transport) is None
        assert ReceiptPipeline.for_client(client) is None
        assert _answer(open_hop(client, httpx.URL(host.url("/a")), HEADERS, TIMEOUT))[2] == PDF
        downloader = _downloader(client, host.origin)
        assert not downloader.sends_ahead
        pending = downloader.start(host.url("/b"))
        assert not pending.sent
        assert pending.result().data == PDF
    assert patched_saw == [host.url("/a"), host.url("/b")]


def test_a_patched_connection_pool_sees_every_receipt_request(
    hosts: StartHost, monkeypatch: pytest.MonkeyPatch, patched_saw: list[str]
) -> None:
    host = hosts(_pdf)
    monkeypatch.setattr(httpcore.ConnectionPool, "handle_request", _patched_pool_handle)
    with httpx.Client(trust_env=False) as client:
        assert ReceiptPipeline.for_client(client) is None  # a sent request would bypass it
        downloader = _downloader(client, host.origin)
        assert not downloader.sends_ahead
        pending = downloader.start(host.url())
        assert not pending.sent
        assert pending.result().data == PDF
    assert patched_saw == ["http://127.0.0.1"]
    assert host.requests == 1


def test_pytest_httpx_mock_answers_receipt_downloads(httpx_mock: HTTPXMock, tmp_path: Path) -> None:
    url = "http://127.0.0.1:1/receipt"  # nothing listens: only the mock can answer
    httpx_mock.add_response(url=url, content=PDF, headers={"Content-Type": "application/pdf"})
    with httpx.Client(trust_env=False) as client:
        downloader = _downloader(client, "http://127.0.0.1:1")
        assert not downloader.sends_ahead
        pending = downloader.start(url)
        assert not pending.sent
        assert pending.result(tmp_path / "r.pdf").read_bytes() == PDF
    assert [str(request.url) for request in httpx_mock.get_requests()] == [url]
