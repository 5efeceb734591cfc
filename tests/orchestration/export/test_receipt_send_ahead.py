"""Receipt requests sent ahead instead of pool threads (issue 13), over real loopback sockets.

With the blocking driver and httpx's plain transport, :class:`ReceiptFetcher` keeps no thread
pool: ``schedule`` puts at most ``receipt_concurrency`` requests on the wire (the rest wait in
FIFO order), ``attachments`` tops the wire up and then reads the item's answers. These tests
run it against :class:`tests.helpers.receipt_server.ReceiptServer` (a stdlib HTTP/1.1 server
that records what reached it) and a sandbox served over loopback; nothing is mocked and
nothing sleeps (waits are on conditions, retries use an injected ``sleep``).
"""

from __future__ import annotations

import gzip
import hashlib
import math
import socket
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pleo_erp.accounting_system import Capabilities
from pleo_erp.client import ApiKeyAuth, AsyncPleoClient, PleoClient
from pleo_erp.client.files import PendingDownload, ReceiptDownloader
from pleo_erp.client.receipt_policy import ReceiptPolicy, attach_receipt_policy
from pleo_erp.domain.config import ExportConfig
from pleo_erp.domain.outcomes import DomainFailure
from pleo_erp.domain.receipts import ReceiptPlan, ReceiptSpec
from pleo_erp.orchestration._receipts import ReceiptFetcher
from pleo_erp.orchestration.export import export_expenses, export_expenses_async
from pleo_erp.testing.inmemory import InMemoryAccountingSystem
from pleo_erp.testing.sandbox import DEFAULT_PAGE_SIZE, PleoSandbox
from pleo_erp.testing.sandbox.files import make_jpeg, make_pdf, make_png
from tests.helpers.receipt_server import Answer, ReceiptServer, serve_receipts

pytestmark = pytest.mark.http

POOL_THREAD = "pleo-erp-receipt"
MB = 1024 * 1024


def _no_sleep(_seconds: float) -> None:
    """Retries must not wait in real time."""


class _Sleeps:
    """An injected ``sleep`` that records the waits asked for."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def server() -> Iterator[ReceiptServer]:
    with serve_receipts() as running:
        yield running


@pytest.fixture
def closing_server() -> Iterator[ReceiptServer]:
    """Every answer says ``Connection: close``: each request comes on a new connection, so
    :meth:`ReceiptServer.settle` counts and orders all of them exactly."""
    with serve_receipts(keep_alive=False) as running:
        yield running


@pytest.fixture
def http(server: ReceiptServer, closing_server: ReceiptServer) -> Iterator[httpx.Client]:
    """A client over httpx's plain transport that trusts both loopback receipt hosts."""
    with httpx.Client() as client:
        policy = ReceiptPolicy().with_origins([server.origin, closing_server.origin])
        attach_receipt_policy(client, policy)
        yield client


def _spec(server: ReceiptServer, aeid: uuid.UUID, index: int, path: str, max_bytes: int) -> Any:
    extension = path.rsplit(".", 1)[1]
    return ReceiptSpec(
        key=f"{aeid}:{index}",
        accounting_entry_id=aeid,
        index=index,
        url=server.url(path),
        extension=extension,
        declared_size=0,
        max_bytes=max_bytes,
    )


def _plan(server: ReceiptServer, *paths: str, max_bytes: int = MB) -> ReceiptPlan:
    aeid = uuid.uuid4()
    return ReceiptPlan(
        receipts=tuple(_spec(server, aeid, i, path, max_bytes) for i, path in enumerate(paths))
    )


def _aeid(plan: ReceiptPlan) -> uuid.UUID:
    return plan.receipts[0].accounting_entry_id


def _pdf(path: str) -> bytes:
    """What the server answers for ``path`` unless scripted otherwise."""
    return b"%PDF-1.4\n" + path.encode()


MODES = ("ahead", "pool", "inline")


def _fetcher(http: httpx.Client, mode: str, **config: Any) -> ReceiptFetcher:
    """``ahead``: requests sent ahead; ``pool``: pool threads; ``inline``: no concurrency."""
    if mode == "inline":
        config["receipt_concurrency"] = 0
    sleep = config.pop("sleep", _no_sleep)
    return ReceiptFetcher(
        http, ExportConfig(**config), sleep=sleep, send_ahead=mode in ("ahead", "inline")
    )


def _pool_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(POOL_THREAD)]


# --------------------------------------------------------------------------- mode selection


def test_a_plain_loopback_client_sends_ahead_without_pool_threads(
    http: httpx.Client, server: ReceiptServer
) -> None:
    paths = [f"/m{i}.pdf" for i in range(6)]
    plans = [_plan(server, path) for path in paths]
    with _fetcher(http, "ahead", receipt_concurrency=2) as fetcher:
        assert fetcher._ahead
        assert fetcher._pool is None
        for plan in plans:
            fetcher.schedule(plan)
        # Sent at ``schedule`` time, before anything is read: the wire is really ahead.
        server.wait_for(lambda: len(server.requests) == 2, "two requests sent ahead")
        for path, plan in zip(paths, plans, strict=True):
            (attachment,) = fetcher.attachments(plan)
            assert attachment.read_bytes() == _pdf(path)
            assert _pool_threads() == []
            fetcher.release(_aeid(plan))
    assert [name for name in server.threads_seen if name.startswith(POOL_THREAD)] == []
    assert sorted(server.requests) == sorted(paths)


def test_the_thread_probe_sees_pool_threads_when_asked_not_to_send_ahead(
    http: httpx.Client, server: ReceiptServer
) -> None:
    """``send_ahead=False`` (the async driver): the old pool; also proves the probe above."""
    plan = _plan(server, "/p.pdf")
    with _fetcher(http, "pool", receipt_concurrency=2) as fetcher:
        assert not fetcher._ahead
        assert fetcher._pool is not None
        fetcher.schedule(plan)
        (attachment,) = fetcher.attachments(plan)
        assert attachment.read_bytes() == _pdf("/p.pdf")
    assert any(name.startswith(POOL_THREAD) for name in server.threads_seen)


def test_an_in_process_sandbox_client_keeps_the_pool() -> None:
    sb = PleoSandbox(seed=3)
    with sb.client() as client:
        config = ExportConfig(receipt_concurrency=2)
        with ReceiptFetcher(client.http_client, config, sleep=_no_sleep, send_ahead=True) as f:
            assert not f._ahead  # a MockTransport cannot send ahead
            assert f._pool is not None


def test_a_client_behind_an_environment_proxy_keeps_downloading_ahead(
    server: ReceiptServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # a corporate proxy (a mount)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    plans = [_plan(server, f"/proxied{i}.pdf") for i in range(2)]
    with httpx.Client() as proxied:
        attach_receipt_policy(proxied, ReceiptPolicy().with_origins([server.origin]))
        with _fetcher(proxied, "ahead", receipt_concurrency=2) as fetcher:
            for plan in plans:
                fetcher.schedule(plan)
            # Either pool threads work on the downloads, or their requests are on the wire.
            on_the_wire = all(pending.sent for pending in fetcher._sent.values())
            assert fetcher._pool is not None or (fetcher._ahead and on_the_wire)


def test_no_concurrency_downloads_inline_when_the_item_is_read(
    http: httpx.Client, closing_server: ReceiptServer
) -> None:
    plan = _plan(closing_server, "/inline.pdf")
    with _fetcher(http, "inline") as fetcher:
        assert not fetcher._ahead
        assert fetcher._pool is None
        fetcher.schedule(plan)
        assert closing_server.settle() == []  # nothing sent before the item's turn
        (attachment,) = fetcher.attachments(plan)
        assert attachment.read_bytes() == _pdf("/inline.pdf")
        assert _pool_threads() == []


# ------------------------------------------------------------------------------ cap and order


def test_at_most_concurrency_requests_go_ahead_in_schedule_order(
    http: httpx.Client, closing_server: ReceiptServer
) -> None:
    """10 items, ``receipt_concurrency=3``: 3 on the wire before any read, then one more per
    item read (the top-up comes before the item's answer is read, so at most 4 requests
    are ever unread), always in schedule order."""
    server = closing_server
    paths = [f"/order{i}.pdf" for i in range(10)]
    plans = [_plan(server, path) for path in paths]
    with _fetcher(http, "ahead", receipt_concurrency=3) as fetcher:
        for plan in plans:
            fetcher.schedule(plan)
        assert server.settle() == paths[:3]
        for done, plan in enumerate(plans, start=1):
            (attachment,) = fetcher.attachments(plan)
            assert attachment.read_bytes() == _pdf(paths[done - 1])
            # ``done`` answers read, exactly 3 + ``done`` requests sent (all there are at
            # most): unread ones = 3 after each item, 4 while it was being read.
            assert server.settle() == paths[: min(len(paths), 3 + done)]
            fetcher.release(_aeid(plan))
        assert _pool_threads() == []


def test_an_item_read_before_its_turn_is_downloaded_then_and_leaves_the_queue(
    http: httpx.Client, closing_server: ReceiptServer
) -> None:
    """A queued item whose answer is wanted first is fetched at once, and not again later."""
    server = closing_server
    paths = ["/q0.pdf", "/q1.pdf", "/q2.pdf"]
    plans = [_plan(server, path) for path in paths]
    with _fetcher(http, "ahead", receipt_concurrency=1) as fetcher:
        for plan in plans:
            fetcher.schedule(plan)
        (attachment,) = fetcher.attachments(plans[2])  # still queued
        assert attachment.read_bytes() == _pdf("/q2.pdf")
        for plan in plans[:2]:
            fetcher.attachments(plan)
        assert sorted(server.settle()) == sorted(paths)
        assert server.count("/q2.pdf") == 1


# ----------------------------------------------------------------------- several receipts


@pytest.mark.parametrize("memory_limit", [MB, 0], ids=["in-memory", "spilled"])
@pytest.mark.parametrize("concurrency", [2, 4])
def test_an_item_with_several_receipts_comes_back_in_files_order(
    http: httpx.Client, server: ReceiptServer, concurrency: int, memory_limit: int
) -> None:
    bodies = {
        "/several.pdf": make_pdf("first"),
        "/several.png": make_png(4, 4, (10, 20, 30)),
        "/several.jpg": make_jpeg(comment="third"),
    }
    types = {"pdf": "application/pdf", "png": "image/png", "jpg": "image/jpeg"}
    for path, body in bodies.items():
        server.script(path, Answer(body, headers={"Content-Type": types[path[-3:]]}))
    plan = _plan(server, *bodies)
    with _fetcher(
        http, "ahead", receipt_concurrency=concurrency, receipt_memory_limit=memory_limit
    ) as fetcher:
        fetcher.schedule(plan)
        started = min(concurrency, 3)
        server.wait_for(lambda: len(server.requests) == started, "the item's requests")
        attachments = fetcher.attachments(plan)
        assert [a.index for a in attachments] == [0, 1, 2]
        assert [a.read_bytes() for a in attachments] == list(bodies.values())
        assert [a.sha256 for a in attachments] == [
            hashlib.sha256(body).hexdigest() for body in bodies.values()
        ]
        assert [a.content_type for a in attachments] == list(types.values())
        assert [a.filename for a in attachments] == [s.filename for s in plan.receipts]
        files = [a.path for a in attachments if a.path is not None]
        assert len(files) == (3 if memory_limit == 0 else 0)
        fetcher.release(_aeid(plan))
        assert not any(path.exists() for path in files)
    assert sorted(server.requests) == sorted(bodies)


# -------------------------------------------------------------------- reading twice


@pytest.mark.parametrize("mode", MODES)
def test_reading_an_item_twice_downloads_nothing_again(
    http: httpx.Client, server: ReceiptServer, mode: str
) -> None:
    server.script("/twice-missing.pdf", Answer(b"gone", status=404))
    good = _plan(server, "/twice.pdf", "/twice-2.pdf")
    bad = _plan(server, "/twice-ok.pdf", "/twice-missing.pdf")
    with _fetcher(http, mode, receipt_concurrency=2) as fetcher:
        fetcher.schedule(good)
        fetcher.schedule(bad)
        first = [a.read_bytes() for a in fetcher.attachments(good)]
        with pytest.raises(DomainFailure) as failed:
            fetcher.attachments(bad)
        counts = {path: server.count(path) for path in set(server.requests)}
        assert [a.read_bytes() for a in fetcher.attachments(good)] == first
        with pytest.raises(DomainFailure) as again:
            fetcher.attachments(bad)
        assert (again.value.failure_type, str(again.value)) == (
            failed.value.failure_type,
            str(failed.value),
        )
        assert {path: server.count(path) for path in set(server.requests)} == counts
    assert counts == {
        "/twice.pdf": 1,
        "/twice-2.pdf": 1,
        "/twice-ok.pdf": 1,
        "/twice-missing.pdf": 1,
    }


# --------------------------------------------------------------------------------- failures

_LIMIT = 1000
_FAILURES: dict[str, tuple[list[Answer], str, str]] = {
    "404": (
        [Answer(b"no", status=404)],
        "receipt_download_failure",
        "Receipt 1 could not be downloaded (the file host refused the download); export "
        "the expense again to get a fresh link.",
    ),
    "oversize-declared": (
        [Answer(b"%PDF-" + b"x" * (2 * _LIMIT))],
        "receipt_file_size_limit_exceeded",
        f"Receipt 1 is larger than the {_LIMIT}-byte limit; upload a smaller file to the "
        "expense in Pleo.",
    ),
    "oversize-chunked": (
        [Answer(b"%PDF-" + b"x" * (2 * _LIMIT), chunked=True)],
        "receipt_file_size_limit_exceeded",
        f"Receipt 1 is larger than the {_LIMIT}-byte limit; upload a smaller file to the "
        "expense in Pleo.",
    ),
    "wrong-magic": (
        [Answer(b"<html>not a pdf</html>", headers={"Content-Type": "application/octet-stream"})],
        "receipt_download_failure",
        "Receipt 1 is not a valid PDF file; replace the receipt in Pleo and export again.",
    ),
    "wrong-type": (
        [Answer(b"<html></html>", headers={"Content-Type": "text/html"})],
        "receipt_conversion_failure",
        "Receipt 1 is not in an accepted format (the file is not in an accepted format); "
        "replace it in Pleo with a PDF or an image.",
    ),
    "5xx-after-retries": (
        [Answer(b"busy", status=503)],
        "receipt_download_failure",
        "Receipt 1 could not be downloaded (the file host refused the download); export "
        "the expense again to get a fresh link.",
    ),
    "dropped": (
        [Answer(drop=True)],
        "receipt_download_failure",
        "Receipt 1 could not be downloaded (the download did not complete); export the "
        "expense again to get a fresh link.",
    ),
    "cross-origin-redirect": (
        [Answer(status=302, headers={"Location": "http://127.0.0.2:9/elsewhere.pdf"})],
        "receipt_download_failure",
        "Receipt 1 could not be downloaded (the link redirected somewhere it may not go); "
        "export the expense again to get a fresh link.",
    ),
}


@pytest.mark.parametrize("case", sorted(_FAILURES))
@pytest.mark.parametrize("mode", MODES)
def test_failures_are_the_same_item_failures_in_every_mode(
    http: httpx.Client, server: ReceiptServer, mode: str, case: str
) -> None:
    answers, failure_type, message = _FAILURES[case]
    path = f"/fail-{case}.pdf"
    server.script(path, *answers)
    plan = _plan(server, path, max_bytes=_LIMIT)
    sleeps = _Sleeps()
    with _fetcher(http, mode, receipt_retries=1, sleep=sleeps) as fetcher:
        fetcher.schedule(plan)
        with pytest.raises(DomainFailure) as raised:
            fetcher.attachments(plan)
    assert (raised.value.failure_type, str(raised.value)) == (failure_type, message)
    transient = case in ("5xx-after-retries", "dropped")
    assert server.count(path) == (2 if transient else 1)  # one retry for a transient failure
    assert sleeps.waits == ([0.5] if transient else [])


@pytest.mark.parametrize("mode", MODES)
def test_a_host_refusing_connections_fails_the_item_the_same_in_every_mode(mode: str) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    aeid = uuid.uuid4()
    url = f"http://127.0.0.1:{port}/down.pdf"
    spec = ReceiptSpec(
        key=f"{aeid}:0",
        accounting_entry_id=aeid,
        index=0,
        url=url,
        extension="pdf",
        declared_size=0,
        max_bytes=MB,
    )
    plan = ReceiptPlan(receipts=(spec,))
    with httpx.Client() as client:
        attach_receipt_policy(client, ReceiptPolicy().with_origins([f"http://127.0.0.1:{port}"]))
        with _fetcher(client, mode, receipt_retries=1) as fetcher:
            fetcher.schedule(plan)
            with pytest.raises(DomainFailure) as raised:
                fetcher.attachments(plan)
    assert (raised.value.failure_type, str(raised.value)) == (
        "receipt_download_failure",
        "Receipt 1 could not be downloaded (the download did not complete); export the "
        "expense again to get a fresh link.",
    )


_SUCCESSES: dict[str, list[Answer]] = {
    "same-origin-redirect": [Answer(status=302, headers={"Location": "/ok-target.pdf"})],
    "chunked": [Answer(make_pdf("chunked " * 200), chunked=True)],
    "gzip": [
        Answer(
            gzip.compress(make_pdf("gzipped")),
            headers={"Content-Type": "application/pdf", "Content-Encoding": "gzip"},
        )
    ],
    "octet-stream": [
        Answer(make_pdf("generic"), headers={"Content-Type": "application/octet-stream"})
    ],
}


@pytest.mark.parametrize("case", sorted(_SUCCESSES))
@pytest.mark.parametrize("mode", MODES)
def test_answers_other_than_a_plain_200_give_the_same_receipt_in_every_mode(
    http: httpx.Client, server: ReceiptServer, mode: str, case: str
) -> None:
    path = f"/ok-{case}.pdf"
    server.script(path, *_SUCCESSES[case])
    target = make_pdf("redirected")
    server.script("/ok-target.pdf", Answer(target))
    expected = {
        "same-origin-redirect": target,
        "chunked": make_pdf("chunked " * 200),
        "gzip": make_pdf("gzipped"),
        "octet-stream": make_pdf("generic"),
    }[case]
    plan = _plan(server, path)
    with _fetcher(http, mode) as fetcher:
        fetcher.schedule(plan)
        (attachment,) = fetcher.attachments(plan)
        assert attachment.read_bytes() == expected
        assert attachment.sha256 == hashlib.sha256(expected).hexdigest()
        assert attachment.size == len(expected)


@pytest.mark.parametrize("mode", MODES)
def test_a_transient_failure_then_success_gives_the_receipt(
    http: httpx.Client, server: ReceiptServer, mode: str
) -> None:
    body = make_pdf("after a 503")
    server.script("/flaky.pdf", Answer(b"busy", status=503), Answer(body))
    plan = _plan(server, "/flaky.pdf")
    sleeps = _Sleeps()
    with _fetcher(http, mode, receipt_retries=2, sleep=sleeps) as fetcher:
        fetcher.schedule(plan)
        (attachment,) = fetcher.attachments(plan)
    assert attachment.read_bytes() == body
    assert server.count("/flaky.pdf") == 2
    assert sleeps.waits == [0.5]


# ------------------------------------------------------------------------- release and close


def test_a_kept_connection_the_host_closed_is_sent_on_anew_without_a_retry(
    http: httpx.Client, server: ReceiptServer
) -> None:
    """Keep-alive: the second request goes on the first one's connection; the host drops
    it unanswered (it had closed its end): sent again at once, no retry used, no wait."""
    server.script("/ka2.pdf", Answer(drop=True), Answer(_pdf("/ka2.pdf")))
    first, second = _plan(server, "/ka1.pdf"), _plan(server, "/ka2.pdf")
    sleeps = _Sleeps()
    with _fetcher(http, "ahead", receipt_concurrency=1, receipt_retries=0, sleep=sleeps) as f:
        f.schedule(first)
        f.attachments(first)
        f.schedule(second)
        server.wait_for(lambda: server.count("/ka2.pdf") == 1, "the reused connection")
        assert len(server.connections) == 1  # it went on the kept connection
        (attachment,) = f.attachments(second)
    assert attachment.read_bytes() == _pdf("/ka2.pdf")
    assert server.count("/ka2.pdf") == 2
    assert sleeps.waits == []


def test_releasing_an_unread_item_cancels_its_request_and_the_queue_moves_on(
    http: httpx.Client, server: ReceiptServer
) -> None:
    server.gate("/held.pdf")  # its answer never comes: only the client can end it
    held = _plan(server, "/held.pdf")
    queued = _plan(server, "/next.pdf")
    with _fetcher(http, "ahead", receipt_concurrency=1) as fetcher:
        fetcher.schedule(held)
        fetcher.schedule(queued)
        server.wait_for(lambda: server.requests == ["/held.pdf"], "the held request")
        # Referenced here, so only an explicit cancel (not garbage collection) closes it.
        unread = list(fetcher._sent.values())
        fetcher.release(_aeid(held))
        # The client closed the held request's connection, and sent the queued one.
        server.wait_for(lambda: server.aborted == ["/held.pdf"], "the cancelled request")
        server.wait_for(lambda: "/next.pdf" in server.requests, "the next request")
        (attachment,) = fetcher.attachments(queued)
        assert attachment.read_bytes() == _pdf("/next.pdf")
    assert [pending.sent for pending in unread] == [False]


def test_a_released_queued_item_is_never_sent(
    http: httpx.Client, closing_server: ReceiptServer
) -> None:
    server = closing_server
    plans = [_plan(server, f"/rq{i}.pdf") for i in range(3)]
    with _fetcher(http, "ahead", receipt_concurrency=1) as fetcher:
        for plan in plans:
            fetcher.schedule(plan)
        fetcher.release(_aeid(plans[1]))  # still queued
        fetcher.attachments(plans[0])
        fetcher.attachments(plans[2])
        assert server.settle() == ["/rq0.pdf", "/rq2.pdf"]


def test_an_item_released_and_scheduled_again_is_downloaded_once(
    http: httpx.Client, closing_server: ReceiptServer
) -> None:
    """Its first queued copy must not go out as well (a second download, and a request
    holding a slot of the wire until the end)."""
    server = closing_server
    first, again = _plan(server, "/r-first.pdf"), _plan(server, "/r-again.pdf")
    with _fetcher(http, "ahead", receipt_concurrency=1) as fetcher:
        fetcher.schedule(first)
        fetcher.schedule(again)
        fetcher.release(_aeid(again))
        fetcher.schedule(again)
        fetcher.attachments(first)
        (attachment,) = fetcher.attachments(again)
        assert attachment.read_bytes() == _pdf("/r-again.pdf")
        assert server.settle() == ["/r-first.pdf", "/r-again.pdf"]
        assert fetcher._sent == {}


def test_close_cancels_everything_closes_every_connection_and_deletes_the_files(
    http: httpx.Client, server: ReceiptServer
) -> None:
    for path in ("/c1.pdf", "/c2.pdf"):
        server.gate(path)
    plans = [_plan(server, f"/c{i}.pdf") for i in range(5)]
    fetcher = _fetcher(http, "ahead", receipt_concurrency=3, receipt_memory_limit=0)
    with fetcher:
        for plan in plans:
            fetcher.schedule(plan)
        (attachment,) = fetcher.attachments(plans[0])  # its connection is kept, idle
        assert attachment.path is not None
        assert attachment.path.exists()
        tmp = fetcher._dir
        server.wait_for(lambda: len(server.requests) == 4, "three unread requests")
        assert server.open_connections() == 4  # one idle, three waiting to be read
        unread = list(fetcher._sent.values())  # only an explicit cancel may close them
    assert not tmp.exists()
    server.wait_for(lambda: server.open_connections() == 0, "every connection closed")
    assert sorted(server.aborted) == ["/c1.pdf", "/c2.pdf"]
    assert "/c4.pdf" not in server.requests  # still queued at close: never sent
    assert [pending.sent for pending in unread] == [False, False, False]


# ------------------------------------------------------------------------- the whole export


def _export_sandbox(items: int) -> tuple[PleoSandbox, str, int]:
    """A company with one job of ``items`` items, each with its own receipt (every fourth
    with a second one); returns the sandbox, the company and the number of receipts."""
    sb = PleoSandbox(seed=7)
    company = sb.add_company("Send Ahead Co")
    partials = []
    receipts = 0
    for n in range(items):
        files: list[dict[str, Any]] = []
        for k in range(2 if n % 4 == 0 else 1):
            pdf = make_pdf(f"receipt {n}.{k}")
            file_id = sb.add_file(pdf, "application/pdf")
            url = sb.file_placeholder(file_id)
            files.append({"url": url, "type": "application/pdf", "size": len(pdf)})
            receipts += 1
        partials.append({"files": files})
    sb.create_export_job(company, partials)
    return sb, company, receipts


def _floor(n: int, page: int) -> int:
    """``benchmarks/bench_export.py::floor``: the fewest Pleo API requests for ``n`` items."""
    return math.ceil(n / page) * 2 + math.ceil(n / 100) + 2


class _ThreadProbe:
    """The served sandbox's ``sleep`` (with a tiny ``latency``): runs in the thread of every
    request and notes the threads alive then, without waiting."""

    def __init__(self) -> None:
        self.names: set[str] = set()
        self.lock = threading.Lock()

    def __call__(self, _seconds: float) -> None:
        with self.lock:
            self.names.update(t.name for t in threading.enumerate())

    def pool_threads(self) -> list[str]:
        return sorted(name for name in self.names if name.startswith(POOL_THREAD))


@pytest.mark.parametrize("post_concurrency", [1, 4])
def test_an_export_over_loopback_sends_receipts_ahead_on_no_extra_thread(
    post_concurrency: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = 36
    sb, company, receipts = _export_sandbox(items)
    started: list[PendingDownload] = []
    original = ReceiptDownloader.start

    def start(self: ReceiptDownloader, url: str) -> PendingDownload:
        pending = original(self, url)
        started.append(pending)
        return pending

    monkeypatch.setattr(ReceiptDownloader, "start", start)
    sent_ahead = []
    original_result = PendingDownload.result

    def result(self: PendingDownload, *args: Any, **kwargs: Any) -> Any:
        sent_ahead.append(self.sent)  # the request was on the wire before its turn
        return original_result(self, *args, **kwargs)

    monkeypatch.setattr(PendingDownload, "result", result)
    direct: list[str] = []  # downloads not sent ahead (an item read while still queued)
    original_download = ReceiptDownloader.download

    def download(self: ReceiptDownloader, url: str, *args: Any, **kwargs: Any) -> Any:
        direct.append(url)
        return original_download(self, url, *args, **kwargs)

    monkeypatch.setattr(ReceiptDownloader, "download", download)
    probe = _ThreadProbe()
    system = InMemoryAccountingSystem(
        capabilities=Capabilities(max_concurrent_posts=post_concurrency)
    )
    config = ExportConfig(receipt_concurrency=4, post_concurrency=post_concurrency)
    with sb.serve(latency=1e-9, sleep=probe) as base_url:
        with PleoClient(ApiKeyAuth(sb.api_key), base_url=base_url) as client:
            sb.clear_requests()
            report = export_expenses(
                client, system, company_id=company, config=config, clock=sb.clock.now
            )
    assert report.failed == 0
    assert report.successful == items
    (job,) = report.jobs
    assert job.requests == _floor(items, DEFAULT_PAGE_SIZE)  # receipts are not API requests
    api = [r for r in sb.requests if not r.path.startswith("/_sandbox/files/")]
    downloads = [r for r in sb.requests if r.path.startswith("/_sandbox/files/")]
    assert len(api) == job.requests + 2  # the queue listing before and after the job
    assert len(downloads) == receipts  # each receipt downloaded exactly once
    assert probe.pool_threads() == []
    # Every request started went on the wire before its item's turn. One posting thread
    # finds each item's requests at the front of the queue; with four, an item may be
    # read while its request still waits behind the others' (it is downloaded then).
    assert len(started) == len(sent_ahead)
    assert all(sent_ahead)
    assert len(started) + len(direct) == receipts
    if post_concurrency == 1:
        assert direct == []
    else:
        assert len(started) > receipts // 2
    assert sum(len(e.attachments) for e in system.entries) == receipts


def test_the_async_export_over_loopback_still_downloads_on_pool_threads() -> None:
    import asyncio

    items = 12
    sb, company, receipts = _export_sandbox(items)
    probe = _ThreadProbe()
    system = InMemoryAccountingSystem()

    async def run(base_url: str) -> Any:
        async with AsyncPleoClient(ApiKeyAuth(sb.api_key), base_url=base_url) as client:
            return await export_expenses_async(
                client,
                system,
                company_id=company,
                config=ExportConfig(receipt_concurrency=4),
                clock=sb.clock.now,
            )

    with sb.serve(latency=1e-9, sleep=probe) as base_url:
        report = asyncio.run(run(base_url))
    assert report.successful == items
    assert report.failed == 0
    assert sum(1 for r in sb.requests if r.path.startswith("/_sandbox/files/")) == receipts
    assert probe.pool_threads() != []
    assert sum(len(e.attachments) for e in system.entries) == receipts
