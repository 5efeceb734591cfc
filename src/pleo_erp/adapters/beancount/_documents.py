"""Receipt storage beside the ledger, linked from it with ``document`` directives.

Layout follows Beancount's own convention, ``documents/<Account/Path>/YYYY-MM-DD.<name>.<ext>``,
so Fava shows the files on the account. Receipts are untrusted (DESIGN decision 12): the file
name is generated from our own identifiers (never taken from a URL or header), the extension
comes from an allow-list chosen by sniffing the bytes (falling back to the declared type), the
size is capped, and the final path is checked to resolve inside the documents folder, so no
name or account can escape it (no ``..``, absolute paths or symlinked directories).
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

from pleo_erp.adapters.beancount._atomic import atomic_write_bytes

__all__ = [
    "DOCUMENTS_DIRNAME",
    "MAX_DOCUMENT_BYTES",
    "SUPPORTED_CONTENT_TYPES",
    "DocumentRejected",
    "StoredDocument",
    "document_path",
    "extension_for",
    "safe_name",
    "store_document",
]

DOCUMENTS_DIRNAME = "documents"
MAX_DOCUMENT_BYTES = 30 * 1024 * 1024

# Declared MIME type -> extension we store under. Only formats Fava can show inline.
SUPPORTED_CONTENT_TYPES: dict[str, str] = {
    "application/pdf": "pdf",
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/jpg": "jpg",
    "image/pjpeg": "jpg",
}

_PDF_HEADER_WINDOW = 1024  # the PDF spec lets the %PDF- header start anywhere in the first KiB
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpg"),
)
# One Beancount account component: what the lexer accepts, minus anything path-like.
_ACCOUNT_COMPONENT = re.compile(r"^[A-Z0-9\u0080-\U0010ffff][A-Za-z0-9\-\u0080-\U0010ffff]*$")
_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9_-]+")

RejectReason = Literal["unsupported_type", "too_large", "unsafe_path"]


class DocumentRejected(ValueError):
    """A receipt cannot be stored; ``reason`` says why in machine-readable form."""

    def __init__(self, reason: RejectReason, message: str) -> None:
        super().__init__(message)
        self.reason: RejectReason = reason


@dataclass(frozen=True)
class StoredDocument:
    """A receipt written to disk: absolute ``path`` and the ledger-relative POSIX ``relative``."""

    path: Path
    relative: str


def _sniff(content: bytes) -> str | None:
    if b"%PDF-" in content[:_PDF_HEADER_WINDOW]:
        return "pdf"
    for magic, extension in _MAGIC:
        if content.startswith(magic):
            return extension
    return None


def extension_for(content_type: str | None, content: bytes) -> str:
    """The allow-listed extension for a receipt: what the bytes are, else what was declared.

    Raises :class:`DocumentRejected` (``unsupported_type``) when neither is a supported format.
    """
    sniffed = _sniff(content)
    if sniffed is not None:
        return sniffed
    declared = (content_type or "").split(";", 1)[0].strip().lower()
    extension = SUPPORTED_CONTENT_TYPES.get(declared)
    if extension is None:
        shown = declared[:60] or "missing"
        raise DocumentRejected(
            "unsupported_type", f"receipt format {shown!r} is not one of PDF, PNG or JPEG"
        )
    return extension


def safe_name(text: str, *, max_length: int = 80) -> str:
    """A file-name fragment made only of ``[A-Za-z0-9_-]``: never empty, never path-like.

    Accents are folded to ASCII, every other run of characters (``/``, ``..``, spaces, NUL…)
    becomes one ``-``.
    """
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    cleaned = _UNSAFE_RUN.sub("-", folded).strip("-_")[:max_length].strip("-_")
    return cleaned or "file"


def document_path(
    ledger_dir: Path, account: str, day: date, name: str, extension: str
) -> tuple[Path, str]:
    """Where a receipt for ``account`` on ``day`` lives: (absolute path, ledger-relative path).

    Raises :class:`DocumentRejected` (``unsafe_path``) if the account is not a plain Beancount
    account name or the result would leave the documents folder.
    """
    components = account.split(":")
    if len(components) < 2 or not all(_ACCOUNT_COMPONENT.match(part) for part in components):
        raise DocumentRejected("unsafe_path", f"not a Beancount account name: {account!r}")
    if any(sep in account for sep in (os.sep, os.altsep or os.sep, "\x00")):
        raise DocumentRejected(
            "unsafe_path", f"account name contains a path separator: {account!r}"
        )
    file_name = f"{day.isoformat()}.{safe_name(name)}.{safe_name(extension, max_length=8)}"
    relative_parts = (DOCUMENTS_DIRNAME, *components, file_name)
    target = ledger_dir.joinpath(*relative_parts)
    _check_inside_documents(ledger_dir, target)
    return target, "/".join(relative_parts)


def _check_inside_documents(ledger_dir: Path, target: Path) -> None:
    # resolve() follows symlinks in whatever part of the directory chain exists already.
    root = (ledger_dir / DOCUMENTS_DIRNAME).resolve()
    parent = target.parent.resolve()
    if parent != root and root not in parent.parents:
        raise DocumentRejected("unsafe_path", "receipt path would leave the documents folder")


def store_document(
    ledger_dir: Path,
    account: str,
    day: date,
    name: str,
    content: bytes,
    content_type: str | None,
    *,
    max_bytes: int = MAX_DOCUMENT_BYTES,
) -> StoredDocument:
    """Write a receipt atomically under the documents folder and return where it went.

    ``name`` is a generated, deterministic stem (e.g. accounting entry id + index) so a retry
    overwrites its own earlier attempt instead of adding a copy.
    """
    if len(content) > max_bytes:
        raise DocumentRejected(
            "too_large", f"receipt is {len(content)} bytes; the ledger accepts at most {max_bytes}"
        )
    extension = extension_for(content_type, content)
    target, relative = document_path(ledger_dir, account, day, name, extension)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Re-check once the directories exist: a symlink could have been planted meanwhile.
    # os.replace swaps a symlink at ``target`` itself, never writing through it.
    _check_inside_documents(ledger_dir, target)
    atomic_write_bytes(target, content)
    return StoredDocument(path=target, relative=relative)
