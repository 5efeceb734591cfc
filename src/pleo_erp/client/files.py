"""Downloading receipt files (``files[].url`` of an export item) safely.

Receipt URLs are untrusted input (DESIGN decision 12), so :func:`download_file`:

- follows a :class:`~pleo_erp.client.receipt_policy.ReceiptPolicy` on every hop: ``https``
  only (plain ``http`` just for hosts the caller explicitly allows), and the host must resolve
  to public addresses only (no loopback, private or link-local service is ever reached), except
  for the origins (scheme, host *and* port) of an explicitly configured local sandbox;
- refuses URLs carrying credentials;
- follows redirects itself, at most a few, and never to another origin unless allowed (a
  pre-signed link must not bounce the download somewhere else);
- sends no Pleo credentials (pre-signed links need none; the request is built without auth);
- keeps small files in memory and streams bigger ones to a file it creates exclusively with
  mode ``0600``, under a name the *caller* generated — never one taken from the URL or the
  response headers;
- stops at a hard byte cap while streaming (30 MB by default), whatever ``Content-Length`` says,
  counted on the *decoded* bytes: a ``gzip``/``deflate`` body is inflated piece by piece
  straight into the sink, so a compression bomb never sits in memory;
- gives up once an overall ``deadline`` passes, however slowly the server drips bytes;
- checks the served content type against the allowed ones (a generic
  ``application/octet-stream`` passes; the caller then checks the file's leading bytes);
- retries transient failures (connection errors, timeouts, 429, 5xx) a bounded number of times;
- goes the leanest way the transport allows: straight to httpx's connection pool over its plain
  ``HTTPTransport`` (:mod:`._receipt_hop`), and with :meth:`ReceiptDownloader.start` the first
  request may be sent ahead on a keep-alive connection of its own and its answer read later
  (:mod:`._receipt_pipeline`) — the URL is checked before anything is sent, and every rule
  above applies to the answer.

Errors are :class:`FileDownloadError` with a ``reason``; messages name the host and path of
the URL but never its query string, which holds the link's signature. Those messages are for
the integration's logs; :attr:`FileDownloadError.public_detail` is the network-free text meant
for Pleo and the user (it never says which host or port answered).
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import os
import time
import zlib
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import BinaryIO, ClassVar, Literal, TypedDict

import httpx
from attrs import define
from typing_extensions import Unpack

from pleo_erp.client._receipt_hop import TRANSPORT_ERRORS, Hop, open_hop
from pleo_erp.client._receipt_pipeline import ReceiptPipeline, SentRequest, StaleConnection
from pleo_erp.client.errors import PleoError
from pleo_erp.client.receipt_policy import (
    ReceiptPolicy,
    attach_receipt_policy,
    origin_of,
    receipt_policy_for,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DownloadOptions",
    "DownloadReason",
    "DownloadedFile",
    "FileDownloadError",
    "PendingDownload",
    "ReceiptDownloader",
    "ReceiptPolicy",
    "attach_receipt_policy",
    "download_file",
    "is_loopback_host",
    "redacted_url",
]

DEFAULT_MAX_BYTES = 30 * 1024 * 1024
"""Pleo's receipt size limit, enforced while streaming."""

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_GENERIC_TYPES = frozenset({"application/octet-stream", "binary/octet-stream", ""})
# ``identity``: a receipt host has no reason to compress; if it does anyway, we inflate it
# ourselves under the cap (httpx would inflate a whole network chunk at once).
_REQUEST_HEADERS = {"Accept": "*/*", "Accept-Encoding": "identity", "Connection": "keep-alive"}
_INFLATE_STEP = 64 * 1024
_WRITE_BUFFER = 256 * 1024

DownloadReason = Literal[
    "insecure_url",
    "redirect",
    "http_status",
    "too_large",
    "content_type",
    "network",
    "io",
    "timeout",
]
"""Why a download failed (``timeout``: the overall deadline passed)."""

_PUBLIC_DETAIL: dict[str, str] = {
    "insecure_url": "the link is not an allowed receipt location",
    "redirect": "the link redirected somewhere it may not go",
    "http_status": "the file host refused the download",
    "too_large": "the file is too large",
    "content_type": "the file is not in an accepted format",
    "network": "the download did not complete",
    "io": "the file could not be stored",
    "timeout": "the download took too long",
}


class FileDownloadError(PleoError):
    """A receipt could not be downloaded. ``reason`` says why; ``retryable`` whether a retry
    (e.g. after fetching a fresh URL) can help."""

    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        reason: DownloadReason,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.reason: DownloadReason = reason
        self.status_code = status_code
        self.retry_after = retry_after

    @property
    def transient(self) -> bool:
        """Whether this failure may go away on its own (network, 429, 5xx)."""
        if self.reason == "network":
            return True
        return self.reason == "http_status" and (
            self.status_code == 429 or (self.status_code or 0) >= 500
        )

    @property
    def public_detail(self) -> str:
        """Why, in words safe for Pleo and the user: no host, port, address or status."""
        return _PUBLIC_DETAIL.get(self.reason, "the download failed")


@define(frozen=True, slots=True)
class DownloadedFile:
    """A downloaded receipt: its bytes (small files) or the file holding them, how big, what
    the server called its type, its digest and first bytes."""

    path: Path | None
    size: int
    content_type: str
    sha256: str
    head: bytes
    data: bytes | None = None

    def read_bytes(self) -> bytes:
        """The content, from memory or from disk."""
        if self.data is not None:
            return self.data
        assert self.path is not None
        return self.path.read_bytes()


def redacted_url(url: httpx.URL | str) -> str:
    """``scheme://host/path`` of ``url`` — without query, fragment or credentials."""
    parsed = httpx.URL(url) if isinstance(url, str) else url
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}{parsed.path}"


@functools.lru_cache(maxsize=256)
def is_loopback_host(host: str) -> bool:
    """Whether ``host`` is this machine (``localhost``, ``127.0.0.0/8``, ``::1``)."""
    # Cached: every receipt download asks, and parsing an IP address is not free.
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _check_url(url: httpx.URL, insecure_hosts: frozenset[str], policy: ReceiptPolicy) -> None:
    """Refuse ``url`` unless it is on a trusted origin, or https (http for an allowed host)
    to a host whose every address is public."""
    if url.userinfo:
        raise FileDownloadError(
            f"refusing receipt URL with embedded credentials ({redacted_url(url)})",
            reason="insecure_url",
        )
    if not url.host:
        raise FileDownloadError(
            f"refusing receipt URL {redacted_url(url)}: no host", reason="insecure_url"
        )
    if policy.trusts(url):
        return
    host = url.host.strip("[]").lower()
    if not (url.scheme == "https" or (url.scheme == "http" and host in insecure_hosts)):
        raise FileDownloadError(
            f"refusing receipt URL {redacted_url(url)}: only https is allowed "
            "(plain http only for a configured local sandbox or allowed host)",
            reason="insecure_url",
        )
    _check_addresses(url, host, policy)


def _check_addresses(url: httpx.URL, host: str, policy: ReceiptPolicy) -> None:
    if not policy.check_addresses:  # an in-process transport: nothing on the network to reach
        return
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        addresses: list[str] = [host]
    except ValueError:
        try:
            addresses = list(policy.resolver(host, origin_of(url)[2]))
        except (OSError, UnicodeError) as error:
            raise FileDownloadError(
                f"receipt host of {redacted_url(url)} does not resolve: {type(error).__name__}",
                reason="network",
            ) from error
    if not addresses:
        raise FileDownloadError(
            f"receipt host of {redacted_url(url)} does not resolve", reason="network"
        )
    refused = [address for address in addresses if not policy.address_allowed(address)]
    if refused:
        raise FileDownloadError(
            f"refusing receipt URL {redacted_url(url)}: its host resolves to a non-public "
            f"address ({refused[0]})",
            reason="insecure_url",
        )


def _retry_after(header: str | None) -> float | None:
    """``Retry-After`` in seconds (the delta form; an HTTP date is ignored)."""
    if header is None:
        return None
    try:
        value = float(header.strip())
    except ValueError:
        return None
    return value if value >= 0 else None


def _media_type(header: str | None) -> str:
    return (header or "").split(";", 1)[0].strip().lower()


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


class _Deadline:
    """The overall time budget of one download (all hops, reads and retries)."""

    def __init__(self, seconds: float | None, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.seconds = seconds
        self.end = None if seconds is None else clock() + seconds

    def remaining(self) -> float | None:
        return None if self.end is None else self.end - self.clock()

    def check(self, url: httpx.URL) -> None:
        left = self.remaining()
        if left is not None and left <= 0:
            raise FileDownloadError(
                f"receipt download from {redacted_url(url)} did not finish within "
                f"{self.seconds:g}s",
                reason="timeout",
            )

    def bound(self, timeout: dict[str, float | None]) -> dict[str, float | None]:
        """``timeout`` (``httpx.Timeout.as_dict()``) with no phase longer than what is left of
        the budget: the request's ``timeout`` extension, built without an ``httpx.Timeout``."""
        left = self.remaining()
        if left is None:
            return timeout
        left = max(left, 0.001)
        return {
            phase: left if value is None else min(value, left) for phase, value in timeout.items()
        }


def _receipt_headers(http_client: httpx.Client) -> httpx.Headers:
    """The headers of every receipt request through ``http_client`` (built once per
    downloader: ``httpx.Request`` copies a ``Headers`` object without re-normalising it).

    Only the fixed receipt headers and the client's ``User-Agent`` go out: no cookies, no
    auth and none of the client's other default headers (a client-wide ``Authorization``
    must never reach a receipt host).
    """
    headers = dict(_REQUEST_HEADERS)
    agent = http_client.headers.get("user-agent")
    if agent:
        headers["User-Agent"] = agent
    return httpx.Headers(headers)


def _same_origin_or_upgrade(source: httpx.URL, target: httpx.URL) -> bool:
    """Whether a redirect stays on ``source``'s origin (or only upgrades http to https on the
    same host and default port)."""
    if origin_of(source) == origin_of(target):
        return True
    s_scheme, s_host, _ = origin_of(source)
    t_scheme, t_host, t_port = origin_of(target)
    return s_scheme == "http" and t_scheme == "https" and s_host == t_host and t_port == 443


def _stream_once(
    settings: ReceiptDownloader,
    url: httpx.URL,
    dest: Path | None,
    max_bytes: int,
    allowed_content_types: frozenset[str] | None,
    deadline: _Deadline,
    sent: SentRequest | None = None,
) -> DownloadedFile:
    """One attempt: every hop of ``url`` (the first one's request already ``sent``, after
    :meth:`ReceiptDownloader.start` checked its URL)."""
    current = url
    http_client = settings.http_client
    for _ in range(settings.max_redirects + 1):
        if sent is None:
            _check_url(current, settings.insecure_hosts, settings.policy)
        deadline.check(current)
        try:
            timeout = deadline.bound(settings.timeout)
            hop = _answer(sent, timeout) if sent is not None else None
            sent = None
            if hop is None:
                hop = open_hop(http_client, current, settings.headers, timeout)
            try:
                if hop.status_code in _REDIRECTS:
                    location = hop.header("location")
                    if not location:
                        raise FileDownloadError(
                            f"redirect without a Location from {redacted_url(current)}",
                            reason="redirect",
                        )
                    target = current.join(location)
                    if not settings.allow_cross_host_redirects and not _same_origin_or_upgrade(
                        current, target
                    ):
                        raise FileDownloadError(
                            f"receipt download from {redacted_url(url)} redirected to another "
                            f"origin ({redacted_url(target)}); not followed",
                            reason="redirect",
                        )
                    current = target
                    continue
                if hop.status_code != 200:
                    raise FileDownloadError(
                        f"receipt download from {redacted_url(current)} answered HTTP "
                        f"{hop.status_code}",
                        reason="http_status",
                        status_code=hop.status_code,
                        retry_after=_retry_after(hop.header("retry-after")),
                    )
                return _write_body(
                    hop,
                    current,
                    dest,
                    settings.memory_limit,
                    max_bytes,
                    allowed_content_types,
                    deadline,
                )
            finally:
                hop.close()
        except TRANSPORT_ERRORS as error:
            deadline.check(current)
            raise FileDownloadError(
                f"receipt download from {redacted_url(current)} failed: {type(error).__name__}",
                reason="network",
            ) from error
    raise FileDownloadError(
        f"too many redirects downloading {redacted_url(url)}", reason="redirect"
    )


def _answer(sent: SentRequest, timeout: dict[str, float | None]) -> Hop | None:
    """The answer to a request sent ahead, or ``None`` when its kept connection had been
    closed by the host (the request is then sent anew, the usual way)."""
    try:
        return sent.response(timeout)
    except StaleConnection:
        return None


class _Inflater:
    """Decodes a ``gzip``/``deflate`` body in bounded steps (never a whole chunk at once)."""

    def __init__(self, encoding: str) -> None:
        self.wbits = 16 + zlib.MAX_WBITS if encoding in ("gzip", "x-gzip") else zlib.MAX_WBITS
        self.raw_fallback = encoding == "deflate"  # some servers send raw deflate
        self.decoder = zlib.decompressobj(self.wbits)
        self.started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        buffer = data
        while True:
            try:
                out = self.decoder.decompress(buffer, _INFLATE_STEP)
            except zlib.error:
                if self.raw_fallback and not self.started:
                    self.raw_fallback = False
                    self.decoder = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise
            self.started = True
            buffer = self.decoder.unconsumed_tail
            if out:
                yield out
            if not buffer and len(out) < _INFLATE_STEP:
                return

    def finish(self) -> Iterator[bytes]:
        yield from self.feed(b"")


def _body_chunks(hop: Hop, url: httpx.URL) -> Iterator[bytes]:
    """The decoded body, in pieces of bounded size."""
    data = hop.read_body()
    if data is not None:
        # An in-process transport (a sandbox, a mock) handed over a body it already read.
        if len(data) <= _INFLATE_STEP:
            yield data  # the common small receipt: no slice, no copy
            return
        for start in range(0, len(data), _INFLATE_STEP):
            yield data[start : start + _INFLATE_STEP]
        return
    encoding = (hop.header("content-encoding") or "identity").strip().lower()
    if encoding in ("", "identity"):
        yield from hop.raw_chunks()
        return
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise FileDownloadError(
            f"receipt at {redacted_url(url)} uses content encoding {encoding!r}, "
            "which is not supported",
            reason="content_type",
        )
    inflater = _Inflater(encoding)
    try:
        for raw in hop.raw_chunks():
            yield from inflater.feed(raw)
        yield from inflater.finish()
    except zlib.error as error:
        raise FileDownloadError(
            f"receipt at {redacted_url(url)} is not valid {encoding} data", reason="content_type"
        ) from error


class _Sink:
    """Collects a body in memory up to ``memory_limit`` bytes, then in the file ``dest``."""

    def __init__(self, dest: Path | None, memory_limit: int) -> None:
        self.dest = dest
        self.memory_limit = memory_limit if dest is not None else None
        # Chunks, not one growing buffer: a receipt that arrives in one chunk is kept as is.
        self.chunks: list[bytes] = []
        self.buffered = 0
        self.file: BinaryIO | None = None

    def write(self, chunk: bytes) -> None:
        if self.file is None:
            self.chunks.append(chunk)
            self.buffered += len(chunk)
            if self.memory_limit is not None and self.buffered > self.memory_limit:
                self._spill()
        else:
            self.file.write(chunk)

    def data(self) -> bytes:
        """The body collected in memory."""
        return b"".join(self.chunks)

    def _spill(self) -> None:
        assert self.dest is not None
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        try:
            fd = os.open(self.dest, flags, 0o600)
        except OSError as error:
            raise FileDownloadError(
                f"cannot create receipt file: {type(error).__name__}", reason="io"
            ) from error
        # A big buffer: a spilled receipt goes to disk in a few large writes.
        self.file = os.fdopen(fd, "wb", buffering=_WRITE_BUFFER)
        self.file.writelines(self.chunks)
        self.chunks = []

    def close(self) -> None:
        if self.file is not None:
            self.file.close()

    def discard(self) -> None:
        self.close()
        if self.file is not None and self.dest is not None:
            _remove(self.dest)


def _write_body(
    hop: Hop,
    url: httpx.URL,
    dest: Path | None,
    memory_limit: int,
    max_bytes: int,
    allowed_content_types: frozenset[str] | None,
    deadline: _Deadline,
) -> DownloadedFile:
    declared = hop.header("content-length")
    if (
        declared is not None
        and declared.isascii()
        and declared.isdigit()
        and int(declared) > max_bytes
    ):
        raise FileDownloadError(
            f"receipt at {redacted_url(url)} is {declared} bytes, above the {max_bytes}-byte cap",
            reason="too_large",
        )
    content_type = _media_type(hop.header("content-type"))
    if (
        allowed_content_types is not None
        and content_type not in _GENERIC_TYPES
        and content_type not in allowed_content_types
    ):
        raise FileDownloadError(
            f"receipt at {redacted_url(url)} has content type {content_type!r}, "
            "which is not an allowed receipt format",
            reason="content_type",
        )
    digest = hashlib.sha256()
    size = 0
    head = b""
    sink = _Sink(dest, memory_limit)
    try:
        for chunk in _body_chunks(hop, url):
            deadline.check(url)
            size += len(chunk)
            if size > max_bytes:
                raise FileDownloadError(
                    f"receipt at {redacted_url(url)} exceeds the {max_bytes}-byte cap",
                    reason="too_large",
                )
            if len(head) < 16:
                head += chunk[: 16 - len(head)]
            digest.update(chunk)
            sink.write(chunk)
        sink.close()
    except TRANSPORT_ERRORS as error:
        sink.discard()
        deadline.check(url)
        raise FileDownloadError(
            f"receipt download from {redacted_url(url)} broke off: {type(error).__name__}",
            reason="network",
        ) from error
    except BaseException:
        sink.discard()
        raise
    if sink.file is not None:
        return DownloadedFile(dest, size, content_type, digest.hexdigest(), head)
    return DownloadedFile(None, size, content_type, digest.hexdigest(), head, sink.data())


class DownloadOptions(TypedDict, total=False):
    """The download settings :func:`download_file` takes (all optional; the defaults are
    :class:`ReceiptDownloader`'s).

    Attributes:
        memory_limit: bytes kept in memory before spilling to ``dest`` (default ``0``:
            straight to disk).
        max_bytes: hard size cap, enforced while streaming (default
            :data:`DEFAULT_MAX_BYTES`).
        allowed_content_types: MIME types accepted (default ``None``: any).
        allow_cross_host_redirects: follow a redirect to a different origin (the policy still
            applies to every hop; default ``False``).
        insecure_hosts: hosts allowed over plain http (their addresses are still checked).
        max_redirects: redirects followed at most (default 3).
        timeout: per-request timeout, each connect / read (default 60 s).
        retries: further attempts after a transient failure (default 6).
        backoff: first wait between attempts (default 0.5 s; doubles each time; a
            ``Retry-After`` wins), capped at ``max_wait`` seconds (default 60); ``sleep``
            does the waiting.
        policy: where the download may go (default: the policy attached to ``http_client``
            by its :class:`~pleo_erp.client.PleoClient`, else the production policy).
        deadline: seconds the whole download may take — every hop, read and retry — however
            slowly the server sends (default ``None``: only the per-read ``timeout``);
            ``clock`` measures it (default ``time.monotonic``).
    """

    memory_limit: int
    max_bytes: int
    allowed_content_types: Collection[str] | None
    allow_cross_host_redirects: bool
    insecure_hosts: Collection[str]
    max_redirects: int
    timeout: float | httpx.Timeout
    retries: int
    backoff: float
    max_wait: float
    sleep: Callable[[float], None]
    policy: ReceiptPolicy | None
    deadline: float | None
    clock: Callable[[], float]


def download_file(
    url: str,
    dest: Path | None = None,
    *,
    http_client: httpx.Client,
    **options: Unpack[DownloadOptions],
) -> DownloadedFile:
    """Download ``url`` (see the module docstring for the rules).

    The body is kept in memory while it is at most ``memory_limit`` bytes and then moves to the
    new file ``dest``; without ``dest`` it stays in memory (up to ``max_bytes``).

    Args:
        url: the receipt link (untrusted).
        dest: the file to create when the body outgrows ``memory_limit`` (it must not exist;
            removed again on failure). ``None``: keep everything in memory.
        http_client: the ``httpx.Client`` to send through (no auth is attached).
        **options: the settings of :class:`DownloadOptions`.

    Raises:
        FileDownloadError: the download failed or broke a rule.
    """
    return ReceiptDownloader(http_client=http_client, **options).download(url, dest)


class ReceiptDownloader:
    """:func:`download_file` for many receipts through one client: the settings are checked
    and prepared once (the policy lookup, the allowed types and hosts, the request headers
    and timeouts), not on every download. The rules are exactly those of
    :func:`download_file`, whose arguments the constructor takes (without ``url`` and
    ``dest``); :meth:`download` may narrow the size cap and the allowed types per receipt.
    """

    __slots__ = (
        "allow_cross_host_redirects",
        "allowed_content_types",
        "backoff",
        "clock",
        "deadline",
        "headers",
        "http_client",
        "insecure_hosts",
        "max_bytes",
        "max_redirects",
        "max_wait",
        "memory_limit",
        "pipeline",
        "policy",
        "retries",
        "sleep",
        "timeout",
    )

    def __init__(
        self,
        *,
        http_client: httpx.Client,
        memory_limit: int = 0,
        max_bytes: int = DEFAULT_MAX_BYTES,
        allowed_content_types: Collection[str] | None = None,
        allow_cross_host_redirects: bool = False,
        insecure_hosts: Collection[str] = (),
        max_redirects: int = 3,
        timeout: float | httpx.Timeout = 60.0,
        retries: int = 6,
        backoff: float = 0.5,
        max_wait: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        policy: ReceiptPolicy | None = None,
        deadline: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        send_ahead: bool = False,
    ) -> None:
        """Prepare downloads through ``http_client`` (settings as :class:`DownloadOptions`).

        ``send_ahead``: let :meth:`start` put a request on the wire before its answer is
        read, when ``http_client``'s transport allows it (see :attr:`sends_ahead`); close
        the downloader when done, which closes the connections kept for that.
        """
        self.http_client = http_client
        self.memory_limit = memory_limit
        self.max_bytes = max_bytes
        self.allowed_content_types = _lower_set(allowed_content_types)
        self.allow_cross_host_redirects = allow_cross_host_redirects
        self.insecure_hosts = frozenset(h.strip("[]").lower() for h in insecure_hosts)
        self.max_redirects = max_redirects
        as_timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self.timeout: dict[str, float | None] = as_timeout.as_dict()
        self.retries = retries
        self.backoff = backoff
        self.max_wait = max_wait
        self.sleep = sleep
        self.policy = policy if policy is not None else receipt_policy_for(http_client)
        self.deadline = deadline
        self.clock = clock
        self.headers = _receipt_headers(http_client)
        self.pipeline = ReceiptPipeline.for_client(http_client) if send_ahead else None

    @property
    def sends_ahead(self) -> bool:
        """Whether :meth:`start` sends requests ahead (asked for, and the client's transport
        is httpx's plain one: no proxy, mount, mock or HTTP/2)."""
        return self.pipeline is not None

    def start(self, url: str) -> PendingDownload:
        """Begin downloading ``url``: with :attr:`sends_ahead`, its URL is checked and the
        first request sent now, so the host answers while the caller does other work;
        :meth:`PendingDownload.result` reads the answer (or, if nothing could be sent,
        downloads the usual way and raises whatever that raises)."""
        sent: SentRequest | None = None
        if self.pipeline is not None and not self.http_client.is_closed:
            try:
                parsed = httpx.URL(url)
                _check_url(parsed, self.insecure_hosts, self.policy)
                if self.pipeline.accepts(self.http_client, parsed):
                    sent = self.pipeline.send(parsed, self.headers, self.timeout)
            except (FileDownloadError, httpx.HTTPError, httpx.InvalidURL, StaleConnection):
                # Not sent: ``result`` downloads the usual way and reports the problem.
                sent = None
        return PendingDownload(self, url, sent)

    def close(self) -> None:
        """Close the connections kept for requests sent ahead."""
        if self.pipeline is not None:
            self.pipeline.close()

    def download(
        self,
        url: str,
        dest: Path | None = None,
        *,
        max_bytes: int | None = None,
        content_types: frozenset[str] | None = None,
    ) -> DownloadedFile:
        """Download ``url`` (see :func:`download_file`).

        ``max_bytes`` (``None``: the downloader's cap) and ``content_types`` (lower-case MIME
        types; ``None``: the downloader's ``allowed_content_types``) apply to this receipt
        only.

        Raises:
            FileDownloadError: the download failed or broke a rule.
        """
        return self._download(url, dest, max_bytes, content_types, None)

    def _download(
        self,
        url: str,
        dest: Path | None,
        max_bytes: int | None,
        content_types: frozenset[str] | None,
        sent: SentRequest | None,
    ) -> DownloadedFile:
        parsed = httpx.URL(url)
        cap = self.max_bytes if max_bytes is None else max_bytes
        allowed = self.allowed_content_types if content_types is None else content_types
        budget = _Deadline(self.deadline, self.clock)
        try:
            return self._attempts(parsed, dest, cap, allowed, budget, sent)
        finally:
            if sent is not None:
                sent.close()  # its answer unread if the first attempt never got to it

    def _attempts(
        self,
        parsed: httpx.URL,
        dest: Path | None,
        cap: int,
        allowed: frozenset[str] | None,
        budget: _Deadline,
        sent: SentRequest | None,
    ) -> DownloadedFile:
        attempt = 0
        while True:
            try:
                return _stream_once(self, parsed, dest, cap, allowed, budget, sent)
            except FileDownloadError as error:
                sent = None  # a retry sends anew
                if not error.transient or attempt >= self.retries:
                    raise
                wait = (
                    error.retry_after
                    if error.retry_after is not None
                    else self.backoff * 2**attempt
                )
                left = budget.remaining()
                if left is not None and min(wait, self.max_wait) >= left:
                    raise  # the wait alone would overrun the deadline
            attempt += 1
            self.sleep(min(wait, self.max_wait))


class PendingDownload:
    """A download begun with :meth:`ReceiptDownloader.start` (its request perhaps sent)."""

    __slots__ = ("_downloader", "_sent", "_url")

    def __init__(self, downloader: ReceiptDownloader, url: str, sent: SentRequest | None) -> None:
        self._downloader = downloader
        self._url = url
        self._sent = sent

    def __repr__(self) -> str:
        state = "sent" if self._sent is not None else "not sent"
        return f"PendingDownload({redacted_url(self._url)}, {state})"

    @property
    def sent(self) -> bool:
        """Whether the request is on the wire (its answer not yet read)."""
        return self._sent is not None

    def result(
        self,
        dest: Path | None = None,
        *,
        max_bytes: int | None = None,
        content_types: frozenset[str] | None = None,
    ) -> DownloadedFile:
        """Finish the download, with the rules and arguments of
        :meth:`ReceiptDownloader.download` (call it once).

        Raises:
            FileDownloadError: the download failed or broke a rule.
        """
        sent, self._sent = self._sent, None
        return self._downloader._download(self._url, dest, max_bytes, content_types, sent)

    def cancel(self) -> None:
        """Drop a request whose answer will not be read (its connection is closed)."""
        sent, self._sent = self._sent, None
        if sent is not None:
            sent.close()


def _lower_set(types: Collection[str] | None) -> frozenset[str] | None:
    return None if types is None else frozenset(t.lower() for t in types)
