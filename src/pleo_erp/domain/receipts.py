"""Step 4: receipts (attachments) — what to download, how to name it, when it fails (C18–C20).

Pure planning; the downloads themselves happen in the client layer
(:mod:`pleo_erp.client.files`). Rules:

- no ``files`` → nothing to do (not an error, B17);
- types: Pleo's list (doc, docx, pdf, txt, jpg, jpeg, png, xls, xlsx) ∩ what the AS accepts;
  a type outside it cannot be converted here → ``receipt_conversion_failure``;
- size: at most 30 MB (Pleo) and at most the AS's limit → else
  ``receipt_file_size_limit_exceeded`` (checked on the declared size here, and again while
  streaming, where the real size counts);
- order: ``files[]`` order is kept;
- identity: key ``"{accountingEntryId}:{index}"`` — stable across retries, so an AS never
  uploads the same receipt twice;
- file names are generated (``{accountingEntryId}-{n}.{ext}``), never taken from the URL or
  response headers (DESIGN decision 12);
- an AS that takes one file per entry gets the receipts merged (C19).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Final
from uuid import UUID

from attrs import define

from pleo_erp.domain.journal import (
    ATTACHMENT_MAX_BYTES,
    PLEO_ATTACHMENT_EXTENSIONS,
    Capabilities,
)
from pleo_erp.domain.outcomes import DomainFailure
from pleo_erp.models import ExportItemV3

__all__ = [
    "CONTENT_TYPE_EXTENSIONS",
    "ReceiptPlan",
    "ReceiptSpec",
    "attachment_key",
    "extension_for",
    "looks_like",
    "plan_receipts",
]

CONTENT_TYPE_EXTENSIONS: Final[Mapping[str, str]] = {
    "application/pdf": "pdf",
    "image/jpeg": "jpg",
    "image/jpg": "jpg",
    "image/pjpeg": "jpg",
    "image/png": "png",
    "text/plain": "txt",
    "application/msword": "doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/zip": "zip",
}
"""MIME types of the allowed receipt formats → the extension we store them under."""

_ALIASES: Final[Mapping[str, str]] = {"jpeg": "jpg"}

# Leading bytes of the binary formats we can recognise cheaply.
_MAGIC: Final[Mapping[str, tuple[bytes, ...]]] = {
    "pdf": (b"%PDF",),
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpg": (b"\xff\xd8\xff",),
    "zip": (b"PK\x03\x04",),
    "docx": (b"PK\x03\x04",),
    "xlsx": (b"PK\x03\x04",),
    "doc": (b"\xd0\xcf\x11\xe0",),
    "xls": (b"\xd0\xcf\x11\xe0",),
}


def extension_for(file_type: str | None) -> str | None:
    """The extension for Pleo's ``files[].type`` (a MIME type, or sometimes an extension)."""
    if not file_type:
        return None
    value = file_type.split(";", 1)[0].strip().lower()
    if "/" in value:
        return CONTENT_TYPE_EXTENSIONS.get(value)
    value = value.lstrip(".")
    return _ALIASES.get(value, value) or None


def looks_like(extension: str, head: bytes) -> bool:
    """Whether ``head`` (the first bytes of a file) is plausible for ``extension``."""
    signatures = _MAGIC.get(_ALIASES.get(extension, extension))
    if signatures is None:
        return True  # text formats: nothing reliable to check
    return any(head.startswith(signature) for signature in signatures)


def attachment_key(accounting_entry_id: UUID, index: int) -> str:
    """The idempotency key of receipt ``index`` of an item (C18)."""
    return f"{accounting_entry_id}:{index}"


@define(frozen=True, slots=True, kw_only=True)
class ReceiptSpec:
    """One receipt to download: where from, what it should be, what to call it."""

    key: str
    accounting_entry_id: UUID
    index: int
    url: str
    extension: str
    declared_size: int
    max_bytes: int

    @property
    def filename(self) -> str:
        """Generated file name: ``{accountingEntryId}-{n}.{ext}`` (n counts from 1)."""
        return f"{self.accounting_entry_id}-{self.index + 1}.{self.extension}"


@define(frozen=True, slots=True, kw_only=True)
class ReceiptPlan:
    """The receipts of one item, in order, and whether they must be merged into one file."""

    receipts: tuple[ReceiptSpec, ...] = ()
    merge: bool = False

    @property
    def keys(self) -> frozenset[str]:
        """The attachment keys the entry will carry (a merged file keeps the first key)."""
        if self.merge and self.receipts:
            return frozenset({self.receipts[0].key})
        return frozenset(r.key for r in self.receipts)


@functools.lru_cache(maxsize=64)  # one AS's capabilities serve every item of its jobs
def _allowed(capabilities: Capabilities) -> frozenset[str]:
    accepted = {
        _ALIASES.get(ext.lower().lstrip("."), ext.lower().lstrip("."))
        for ext in capabilities.attachment_formats
    }
    pleo = {_ALIASES.get(ext, ext) for ext in PLEO_ATTACHMENT_EXTENSIONS}
    return frozenset(pleo & accepted)


def plan_receipts(item: ExportItemV3, capabilities: Capabilities) -> ReceiptPlan:
    """The receipts to fetch for ``item`` (raises :class:`DomainFailure` ``receipt_*``)."""
    files = item.files or ()
    limit = capabilities.max_attachments_per_entry
    if not files or limit == 0:
        return ReceiptPlan()
    allowed = _allowed(capabilities)
    max_bytes = min(ATTACHMENT_MAX_BYTES, capabilities.max_attachment_bytes)
    specs: list[ReceiptSpec] = []
    for index, file in enumerate(files):
        number = index + 1
        extension = extension_for(file.type)
        if extension is None or extension not in allowed:
            shown = file.type or "unknown"
            raise DomainFailure(
                "receipt_conversion_failure",
                f"Receipt {number} has type {shown!r}, which the accounting system does not "
                f"accept (accepted: {', '.join(sorted(allowed)) or 'none'}); replace the "
                "receipt in Pleo with a PDF or an image.",
            )
        if file.size > max_bytes:
            raise DomainFailure(
                "receipt_file_size_limit_exceeded",
                f"Receipt {number} is {file.size} bytes, more than the {max_bytes}-byte "
                "limit; upload a smaller file to the expense in Pleo.",
            )
        specs.append(
            ReceiptSpec(
                key=attachment_key(item.accounting_entry_id, index),
                accounting_entry_id=item.accounting_entry_id,
                index=index,
                url=file.url,
                extension=extension,
                declared_size=file.size,
                max_bytes=max_bytes,
            )
        )
    merge = limit is not None and len(specs) > limit
    return ReceiptPlan(receipts=tuple(specs), merge=merge)
