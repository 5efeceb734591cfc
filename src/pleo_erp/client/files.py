"""Downloading receipt files (``files[].url`` of an export item) safely.

Receipt URLs are untrusted input (DESIGN decision 12), so :func:`download_file`:

- accepts ``https`` only — plain ``http`` just for loopback hosts (a local sandbox) and hosts
  the caller explicitly allows — and refuses URLs carrying credentials;
- follows redirects itself, at most a few, and never to another host unless allowed (a
  pre-signed link must not bounce the download somewhere else);
- sends no Pleo credentials (pre-signed links need none; the request is built without auth);
- keeps small files in memory and streams bigger ones to a file it creates exclusively with
  mode ``0600``, under a name the *caller* generated — never one taken from the URL or the
  response headers;
- stops at a hard byte cap while streaming (30 MB by default), whatever ``Content-Length`` says;
- checks the served content type against the allowed ones (a generic
  ``application/octet-stream`` passes; the caller then checks the file's leading bytes);
- retries transient failures (connection errors, timeouts, 429, 5xx) a bounded number of times.

Errors are :class:`FileDownloadError` with a ``reason``; messages name the host and path of
the URL but never its query string, which holds the link's signature.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import os
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import BinaryIO, ClassVar, Literal

import httpx
from attrs import define

from pleo_erp.client.errors import PleoError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DownloadReason",
    "DownloadedFile",
    "FileDownloadError",
    "download_file",
    "is_loopback_host",
    "redacted_url",
]

DEFAULT_MAX_BYTES = 30 * 1024 * 1024
"""Pleo's receipt size limit, enforced while streaming."""

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_GENERIC_TYPES = frozenset({"application/octet-stream", "binary/octet-stream", ""})
_ACCEPT_ANY = {"Accept": "*/*"}

DownloadReason = Literal[
    "insecure_url", "redirect", "http_status", "too_large", "content_type", "network", "io"
]
"""Why a download failed."""


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


def _check_url(url: httpx.URL, insecure_hosts: frozenset[str]) -> None:
    if url.userinfo:
        raise FileDownloadError(
            f"refusing receipt URL with embedded credentials ({redacted_url(url)})",
            reason="insecure_url",
        )
    if url.scheme == "https" and url.host:
        return
    if url.scheme == "http" and url.host:
        host = url.host.lower()
        if is_loopback_host(host) or host in insecure_hosts:
            return
    raise FileDownloadError(
        f"refusing receipt URL {redacted_url(url)}: only https is allowed "
        "(plain http only for a local sandbox)",
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


def _stream_once(
    url: httpx.URL,
    dest: Path | None,
    *,
    memory_limit: int,
    http_client: httpx.Client,
    max_bytes: int,
    allowed_content_types: frozenset[str] | None,
    allow_cross_host_redirects: bool,
    insecure_hosts: frozenset[str],
    max_redirects: int,
    timeout: httpx.Timeout,
) -> DownloadedFile:
    origin_host = url.host
    current = url
    for _ in range(max_redirects + 1):
        _check_url(current, insecure_hosts)
        try:
            # ``send(stream=True)`` + ``close`` is what ``Client.stream`` does, minus a
            # context-manager layer per receipt.
            request = http_client.build_request(
                "GET", current, headers=_ACCEPT_ANY, timeout=timeout
            )
            response = http_client.send(request, stream=True, follow_redirects=False)
            try:
                if response.status_code in _REDIRECTS:
                    location = response.headers.get("location")
                    if not location:
                        raise FileDownloadError(
                            f"redirect without a Location from {redacted_url(current)}",
                            reason="redirect",
                        )
                    target = current.join(location)
                    if target.host != origin_host and not allow_cross_host_redirects:
                        raise FileDownloadError(
                            f"receipt download from {redacted_url(url)} redirected to another "
                            f"host ({target.host}); not followed",
                            reason="redirect",
                        )
                    current = target
                    continue
                if response.status_code != 200:
                    raise FileDownloadError(
                        f"receipt download from {redacted_url(current)} answered HTTP "
                        f"{response.status_code}",
                        reason="http_status",
                        status_code=response.status_code,
                        retry_after=_retry_after(response.headers.get("retry-after")),
                    )
                return _write_body(
                    response, current, dest, memory_limit, max_bytes, allowed_content_types
                )
            finally:
                response.close()
        except httpx.TransportError as error:
            raise FileDownloadError(
                f"receipt download from {redacted_url(current)} failed: {type(error).__name__}",
                reason="network",
            ) from error
    raise FileDownloadError(
        f"too many redirects downloading {redacted_url(url)}", reason="redirect"
    )


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
        self.file = os.fdopen(fd, "wb")
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
    response: httpx.Response,
    url: httpx.URL,
    dest: Path | None,
    memory_limit: int,
    max_bytes: int,
    allowed_content_types: frozenset[str] | None,
) -> DownloadedFile:
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise FileDownloadError(
            f"receipt at {redacted_url(url)} is {declared} bytes, above the {max_bytes}-byte cap",
            reason="too_large",
        )
    content_type = _media_type(response.headers.get("content-type"))
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
        for chunk in response.iter_bytes():
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
    except httpx.TransportError as error:
        sink.discard()
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


def download_file(
    url: str,
    dest: Path | None = None,
    *,
    memory_limit: int = 0,
    http_client: httpx.Client,
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
) -> DownloadedFile:
    """Download ``url`` (see the module docstring for the rules).

    The body is kept in memory while it is at most ``memory_limit`` bytes and then moves to the
    new file ``dest``; without ``dest`` it stays in memory (up to ``max_bytes``).

    Args:
        url: the receipt link (untrusted).
        dest: the file to create when the body outgrows ``memory_limit`` (it must not exist;
            removed again on failure). ``None``: keep everything in memory.
        memory_limit: bytes kept in memory before spilling to ``dest`` (``0``: straight to
            disk).
        http_client: the ``httpx.Client`` to send through (no auth is attached).
        max_bytes: hard size cap, enforced while streaming.
        allowed_content_types: MIME types accepted (``None``: any).
        allow_cross_host_redirects: follow a redirect to a different host.
        insecure_hosts: hosts allowed over plain http besides loopback.
        max_redirects: redirects followed at most.
        timeout: per-request timeout.
        retries: further attempts after a transient failure.
        backoff: first wait between attempts (doubles each time; a ``Retry-After`` wins),
            capped at ``max_wait`` seconds; ``sleep`` does the waiting.

    Raises:
        FileDownloadError: the download failed or broke a rule.
    """
    parsed = httpx.URL(url)
    request_timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
    allowed = (
        None
        if allowed_content_types is None
        else frozenset(t.lower() for t in allowed_content_types)
    )
    hosts = frozenset(h.lower() for h in insecure_hosts)
    attempt = 0
    while True:
        try:
            return _stream_once(
                parsed,
                dest,
                memory_limit=memory_limit,
                http_client=http_client,
                max_bytes=max_bytes,
                allowed_content_types=allowed,
                allow_cross_host_redirects=allow_cross_host_redirects,
                insecure_hosts=hosts,
                max_redirects=max_redirects,
                timeout=request_timeout,
            )
        except FileDownloadError as error:
            if not error.transient or attempt >= retries:
                raise
            wait = error.retry_after if error.retry_after is not None else backoff * 2**attempt
        attempt += 1
        sleep(min(wait, max_wait))
