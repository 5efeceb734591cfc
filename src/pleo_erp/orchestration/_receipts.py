"""Receipt downloads for an export job: bounded concurrency, prefetching, cleanup.

The export processes items one by one, but the receipts of upcoming items (at most
``receipt_prefetch`` of them) are fetched ahead, ``ExportConfig.receipt_concurrency`` at a
time, so downloading overlaps with posting. Two ways, same rules:

- **sent ahead** (the blocking driver, over httpx's plain transport): the requests go on the
  wire at once, each on a keep-alive connection of its own, and the posting thread reads each
  answer when its item's turn comes — the hosts work while the export posts, and no thread
  waits for them (:meth:`~pleo_erp.client.files.ReceiptDownloader.start`);
- **a thread pool** otherwise (the ``async`` driver, proxies, mounted or mock transports).

Files live in a private temporary directory under generated names and are deleted as soon as
their item is done. Problems become ``receipt_*`` item failures (C20).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import zipfile
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from uuid import UUID

import httpx
from typing_extensions import Self

from pleo_erp._closing import ClosesOnExit
from pleo_erp.accounting_system.export import Attachment
from pleo_erp.client.files import (
    DownloadedFile,
    FileDownloadError,
    PendingDownload,
    ReceiptDownloader,
)
from pleo_erp.domain.config import ExportConfig
from pleo_erp.domain.outcomes import DomainFailure
from pleo_erp.domain.receipts import CONTENT_TYPE_EXTENSIONS, ReceiptPlan, ReceiptSpec, looks_like

__all__ = ["ReceiptFetcher", "zip_merger"]

logger = logging.getLogger("pleo_erp.receipts")

_CANONICAL_TYPE = {ext: mime for mime, ext in reversed(list(CONTENT_TYPE_EXTENSIONS.items()))}
_CANONICAL_TYPE["jpg"] = "image/jpeg"
_ALLOWED_TYPES: dict[str, frozenset[str]] = {
    ext: frozenset(mime for mime, other in CONTENT_TYPE_EXTENSIONS.items() if other == ext)
    for ext in set(CONTENT_TYPE_EXTENSIONS.values())
}


def zip_merger(attachments: Sequence[Attachment], dest: Path) -> Attachment:
    """Merge receipts into one ZIP archive at ``dest`` (C19's fallback format).

    Members keep the generated names and ``files[]`` order; the archive carries the first
    receipt's key, so the merged upload is deduplicated like a single receipt.
    """
    import hashlib

    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for attachment in attachments:
            archive.writestr(attachment.filename, attachment.read_bytes())
    data = dest.read_bytes()
    first = attachments[0]
    return Attachment(
        key=first.key,
        accounting_entry_id=first.accounting_entry_id,
        index=0,
        filename=f"{first.accounting_entry_id}-receipts.zip",
        content_type="application/zip",
        size=len(data),
        path=dest,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _failure_for(spec: ReceiptSpec, error: FileDownloadError) -> DomainFailure:
    number = spec.index + 1
    # The full reason (host, path, status; never the signed query) is for the operator's log.
    logger.warning("receipt %d of %s: %s", number, spec.accounting_entry_id, error)
    if error.reason == "too_large":
        return DomainFailure(
            "receipt_file_size_limit_exceeded",
            f"Receipt {number} is larger than the {spec.max_bytes}-byte limit; upload a "
            "smaller file to the expense in Pleo.",
        )
    # The text goes to Pleo: ``public_detail`` only, never the error's own message, which
    # names hosts, ports and statuses (network detail an attacker could map a network with).
    if error.reason == "content_type":
        return DomainFailure(
            "receipt_conversion_failure",
            f"Receipt {number} is not in an accepted format ({error.public_detail}); replace "
            "it in Pleo with a PDF or an image.",
        )
    return DomainFailure(
        "receipt_download_failure",
        f"Receipt {number} could not be downloaded ({error.public_detail}); export the "
        "expense again to get a fresh link.",
    )


class ReceiptFetcher(ClosesOnExit):
    """Downloads the receipts of upcoming items in the background (use as a context manager)."""

    def __init__(
        self,
        http_client: httpx.Client | None,
        config: ExportConfig,
        *,
        insecure_hosts: Sequence[str] = (),
        sleep: Callable[[float], None],
        accepts_zip: bool = False,
        send_ahead: bool = False,
    ) -> None:
        """``send_ahead``: send receipt requests ahead instead of using pool threads, where
        the client's transport allows it (only for a caller that may block: the blocking
        driver; the ``async`` one must not connect on its event loop)."""
        self._http = http_client
        self._config = config
        self._insecure_hosts = tuple(config.receipt_allowed_hosts) + tuple(insecure_hosts)
        self._sleep = sleep
        self._accepts_zip = accepts_zip
        # The download settings are prepared once per job, not per receipt.
        self._downloader = (
            None
            if http_client is None
            else ReceiptDownloader(
                http_client=http_client,
                memory_limit=config.receipt_memory_limit,
                allow_cross_host_redirects=config.allow_cross_host_redirects,
                insecure_hosts=self._insecure_hosts,
                timeout=config.receipt_timeout,
                # ``receipt_timeout`` is per download: a server dripping bytes must not keep a
                # worker (and the job) busy beyond it.
                deadline=config.receipt_timeout,
                retries=config.receipt_retries,
                sleep=sleep,
                send_ahead=send_ahead and config.receipt_concurrency > 0,
            )
        )
        # Sent ahead: at most ``receipt_concurrency`` requests on the wire, the rest queued.
        self._ahead = self._downloader is not None and self._downloader.sends_ahead
        self._ahead_lock = threading.Lock()
        self._ahead_items: set[UUID] = set()
        self._queued: deque[ReceiptSpec] = deque()
        self._sent: dict[tuple[UUID, int], PendingDownload] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._tmp_path: Path | None = None
        self._futures: dict[UUID, list[Future[DownloadedFile]]] = {}
        # The files of spilled receipts, per item (filled by the download threads).
        self._spilled: dict[UUID, list[Path]] = {}
        self._merged: dict[UUID, Path] = {}

    def __enter__(self) -> Self:
        self._tmp = tempfile.TemporaryDirectory(prefix="pleo-erp-receipts-")
        self._tmp_path = Path(self._tmp.name)
        if self._config.receipt_concurrency > 0 and not self._ahead:
            self._pool = ThreadPoolExecutor(
                max_workers=self._config.receipt_concurrency,
                thread_name_prefix="pleo-erp-receipt",
            )
        return self

    def close(self) -> None:
        """Cancel pending downloads and delete every file."""
        for futures in self._futures.values():
            for future in futures:
                future.cancel()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        with self._ahead_lock:
            sent = list(self._sent.values())
            self._sent.clear()
            self._queued.clear()
            self._ahead_items.clear()
        for pending in sent:
            pending.cancel()
        if self._downloader is not None:
            self._downloader.close()
        self._futures.clear()
        self._spilled.clear()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
            self._tmp_path = None

    @property
    def _dir(self) -> Path:
        if self._tmp_path is None:
            raise RuntimeError("ReceiptFetcher used outside its context")
        return self._tmp_path

    def scheduled(self, accounting_entry_id: UUID) -> bool:
        """Whether the item's downloads were started."""
        return accounting_entry_id in self._futures or accounting_entry_id in self._ahead_items

    def schedule(self, plan: ReceiptPlan) -> None:
        """Start downloading the receipts of ``plan`` (once per item)."""
        if not plan.receipts:
            return
        aeid = plan.receipts[0].accounting_entry_id
        if self._ahead:
            with self._ahead_lock:
                if aeid in self._ahead_items or aeid in self._futures:
                    return
                self._ahead_items.add(aeid)
                self._queued.extend(plan.receipts)
                self._send_queued()
            return
        if self._pool is None or aeid in self._futures:
            return
        self._futures[aeid] = [self._pool.submit(self._download, spec) for spec in plan.receipts]

    def _send_queued(self) -> None:
        """Put queued requests on the wire while fewer than ``receipt_concurrency`` are
        (call with the lock held)."""
        assert self._downloader is not None
        while self._queued and len(self._sent) < self._config.receipt_concurrency:
            spec = self._queued.popleft()
            if spec.accounting_entry_id in self._ahead_items:  # not released meanwhile
                key = (spec.accounting_entry_id, spec.index)
                self._sent[key] = self._downloader.start(spec.url)

    def _sent_ahead(self, spec: ReceiptSpec) -> Future[DownloadedFile]:
        """The outcome of ``spec``'s download as a finished future: its answer read if its
        request went ahead, else downloaded now (the next queued requests go out first)."""
        with self._ahead_lock:
            pending = self._sent.pop((spec.accounting_entry_id, spec.index), None)
            if pending is None and spec in self._queued:
                self._queued.remove(spec)
            self._send_queued()
        future: Future[DownloadedFile] = Future()
        try:
            future.set_result(self._download(spec, pending))
        except FileDownloadError as error:
            future.set_exception(error)
        return future

    def _download(
        self, spec: ReceiptSpec, pending: PendingDownload | None = None
    ) -> DownloadedFile:
        if self._downloader is None:
            raise FileDownloadError("no HTTP client for receipt downloads", reason="network")
        dest = self._dir / spec.filename
        types = _ALLOWED_TYPES.get(spec.extension, frozenset())
        if pending is None:
            downloaded = self._downloader.download(
                spec.url, dest, max_bytes=spec.max_bytes, content_types=types
            )
        else:
            downloaded = pending.result(dest, max_bytes=spec.max_bytes, content_types=types)
        if downloaded.path is not None:  # spilled to disk: ``release`` deletes it
            self._spilled.setdefault(spec.accounting_entry_id, []).append(downloaded.path)
        return downloaded

    def _inline(self, spec: ReceiptSpec) -> Future[DownloadedFile]:
        """Download ``spec`` in this thread; the outcome as a finished future (kept, so a
        second look at the item neither downloads again nor forgets a failure)."""
        future: Future[DownloadedFile] = Future()
        try:
            future.set_result(self._download(spec))
        except FileDownloadError as error:
            future.set_exception(error)
        return future

    def attachments(self, plan: ReceiptPlan) -> list[Attachment]:
        """Wait for the item's receipts and return them, checked and in order (merged if the AS
        takes one file). Raises :class:`DomainFailure` ``receipt_*``."""
        if not plan.receipts:
            return []
        self.schedule(plan)
        aeid = plan.receipts[0].accounting_entry_id
        futures = self._futures.get(aeid)
        if futures is None and self._ahead:
            futures = self._futures[aeid] = [self._sent_ahead(spec) for spec in plan.receipts]
        elif futures is None:  # inline mode (no pool): download now, in order
            futures = self._futures[aeid] = [self._inline(spec) for spec in plan.receipts]
        results: list[Attachment] = []
        for spec, future in zip(plan.receipts, futures, strict=True):
            try:
                downloaded = future.result()
            except FileDownloadError as error:
                raise _failure_for(spec, error) from error
            if not looks_like(spec.extension, downloaded.head):
                raise DomainFailure(
                    "receipt_download_failure",
                    f"Receipt {spec.index + 1} is not a valid {spec.extension.upper()} file; "
                    "replace the receipt in Pleo and export again.",
                )
            results.append(
                Attachment(
                    key=spec.key,
                    accounting_entry_id=aeid,
                    index=spec.index,
                    filename=spec.filename,
                    content_type=_CANONICAL_TYPE.get(spec.extension, "application/octet-stream"),
                    size=downloaded.size,
                    path=downloaded.path,
                    data=downloaded.data,
                    sha256=downloaded.sha256,
                )
            )
        if plan.merge:
            return [self._merge(results)]
        return results

    def _merge(self, attachments: list[Attachment]) -> Attachment:
        merger = self._config.receipt_merger
        dest = self._dir / f"{attachments[0].accounting_entry_id}-merged"
        if merger is None:
            if not self._accepts_zip:
                raise DomainFailure(
                    "receipt_conversion_failure",
                    f"The accounting system takes one file per entry and the expense has "
                    f"{len(attachments)} receipts, which cannot be merged into a format it "
                    "accepts; configure a receipt merger (e.g. PDF) for the export.",
                )
            merger = zip_merger
        self._merged[attachments[0].accounting_entry_id] = dest
        try:
            return merger(attachments, dest)
        except DomainFailure:
            raise
        except Exception as error:
            raise DomainFailure(
                "receipt_conversion_failure",
                f"Merging {len(attachments)} receipts into one file failed "
                f"({type(error).__name__}); check the receipts in Pleo.",
            ) from error

    def release(self, accounting_entry_id: UUID) -> None:
        """Forget an item's downloads and delete its files."""
        for future in self._futures.pop(accounting_entry_id, ()):
            future.cancel()
        if self._ahead:
            with self._ahead_lock:
                self._ahead_items.discard(accounting_entry_id)
                # Its queued requests go too: scheduled again, the item must not find them
                # (they would go out twice, the extra one holding a slot until ``close``).
                self._queued = deque(
                    s for s in self._queued if s.accounting_entry_id != accounting_entry_id
                )
                unread = [key for key in self._sent if key[0] == accounting_entry_id]
                cancelled = [self._sent.pop(key) for key in unread]
                self._send_queued()
            for pending in cancelled:
                pending.cancel()
        # Only spilled receipts have a file (``_download`` records them as they finish).
        for path in self._spilled.pop(accounting_entry_id, ()):
            path.unlink(missing_ok=True)
        merged = self._merged.pop(accounting_entry_id, None)
        if merged is not None:
            if merged.is_dir():  # pragma: no cover - a custom merger may create a directory
                shutil.rmtree(merged, ignore_errors=True)
            else:
                merged.unlink(missing_ok=True)
