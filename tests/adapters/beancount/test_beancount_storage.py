"""Beancount adapter plumbing: file lock, atomic replace, receipt storage, safe rendering."""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import threading
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from beancount import loader
from beancount.core import data
from hypothesis import given, settings
from hypothesis import strategies as st

from pleo_erp.adapters.beancount import _atomic
from pleo_erp.adapters.beancount._documents import (
    DocumentRejected,
    document_path,
    extension_for,
    safe_name,
    store_document,
)
from pleo_erp.adapters.beancount._lock import LedgerLock, LockTimeout
from pleo_erp.adapters.beancount._render import (
    PostingDraft,
    RenderError,
    TransactionDraft,
    quote,
    render_transaction,
)

PDF = b"%PDF-1.4\n%fake receipt\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 16


# --- lock -------------------------------------------------------------------------------


def test_lock_excludes_a_second_holder_and_times_out_without_real_sleep(tmp_path: Path) -> None:
    now = [0.0]
    sleeps: list[float] = []

    def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    holder_ready = threading.Event()
    release = threading.Event()
    lock_file = tmp_path / "l.lock"

    def hold() -> None:
        with LedgerLock(lock_file):
            holder_ready.set()
            release.wait(5)

    # The holder must be another thread-lock domain to reach the OS-level polling: use a
    # fresh path alias so the in-process lock differs but the file (and flock) is the same.
    # A hard link, not a symlink: filelock opens lock files with O_NOFOLLOW.
    lock_file.touch()
    os.link(lock_file, tmp_path / "alias.lock")
    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert holder_ready.wait(5)
        waiter = LedgerLock(
            tmp_path / "alias.lock", timeout=1.0, clock=lambda: now[0], sleep=fake_sleep
        )
        with pytest.raises(LockTimeout):
            waiter.acquire()
        assert sleeps, "the waiter should have polled (with the injected sleep)"
        assert now[0] >= 1.0
    finally:
        release.set()
        thread.join(5)
    # Once released, the lock is free again.
    with LedgerLock(tmp_path / "alias.lock", timeout=0.0, clock=lambda: now[0], sleep=fake_sleep):
        pass


def test_lock_serialises_threads(tmp_path: Path) -> None:
    counter = tmp_path / "counter"
    counter.write_text("0")
    lock_file = tmp_path / "c.lock"

    def bump() -> None:
        for _ in range(20):
            with LedgerLock(lock_file):
                value = int(counter.read_text())
                counter.write_text(str(value + 1))

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert counter.read_text() == "80"


# --- atomic write -----------------------------------------------------------------------


def test_atomic_write_replaces_content_and_keeps_mode(tmp_path: Path) -> None:
    target = tmp_path / "ledger.beancount"
    target.write_bytes(b"old")
    os.chmod(target, 0o640)
    _atomic.atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert os.stat(target).st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["ledger.beancount"]


def test_atomic_write_of_a_new_file_uses_the_umask_default(tmp_path: Path) -> None:
    mask = os.umask(0o027)
    try:
        importlib.reload(_atomic)  # the default mode is read from the umask at import
        target = tmp_path / "new.beancount"
        _atomic.atomic_write_bytes(target, b"x")
        assert os.stat(target).st_mode & 0o777 == 0o640
    finally:
        os.umask(mask)
        importlib.reload(_atomic)


def test_atomic_write_crash_before_replace_leaves_original(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "ledger.beancount"
    target.write_bytes(b"original")

    def crash(*_: object) -> None:
        raise OSError("simulated crash between temp write and rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        _atomic.atomic_write_bytes(target, b"half-written new content")
    assert target.read_bytes() == b"original"
    # The temp file was cleaned up by the failing writer.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ledger.beancount"]


def test_stale_temps_from_a_dead_writer_are_swept(tmp_path: Path) -> None:
    target = tmp_path / "ledger.beancount"
    target.write_bytes(b"original")
    leftover = _atomic.write_temp(target, b"never committed")  # as if the process died here
    assert leftover.exists()
    assert target.read_bytes() == b"original"
    assert _atomic.remove_stale_temps(target) == 1
    assert not leftover.exists()


# --- documents --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "hostile",
    [
        "../../etc/passwd",
        "..",
        "/absolute/path",
        "a/../../b",
        "..\\..\\windows",
        "name\x00.pdf",
        "",
        "   ",
        "ünïcødé receipt.pdf",
        "x" * 500,
    ],
)
def test_safe_name_neutralises_path_traversal(hostile: str) -> None:
    name = safe_name(hostile)
    assert name
    for forbidden in ("/", "\\", "..", "\x00"):
        assert forbidden not in name
    assert set(name) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
    assert len(name) <= 80


@settings(max_examples=100, deadline=None)
@given(st.text())
def test_safe_name_property_never_escapes(text: str) -> None:
    name = safe_name(text)
    assert name
    assert os.path.basename(name) == name
    assert name not in (".", "..")


@pytest.mark.parametrize(
    "account", ["Expenses:../../x", "Expenses", "expenses:Travel", "Expenses:a/b", "Expenses:.."]
)
def test_document_path_rejects_non_account_names(tmp_path: Path, account: str) -> None:
    with pytest.raises(DocumentRejected) as info:
        document_path(tmp_path, account, date(2026, 1, 2), "x", "pdf")
    assert info.value.reason == "unsafe_path"


def test_document_stored_under_account_folder_with_generated_name(tmp_path: Path) -> None:
    stored = store_document(
        tmp_path, "Expenses:Travel", date(2026, 3, 5), "../../evil name", PDF, "text/html"
    )
    assert stored.relative == "documents/Expenses/Travel/2026-03-05.evil-name.pdf"
    assert stored.path == tmp_path / stored.relative
    assert stored.path.read_bytes() == PDF


def test_document_refuses_symlinked_folder_escaping_documents(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "documents" / "Expenses").mkdir(parents=True)
    os.symlink(outside, tmp_path / "documents" / "Expenses" / "Travel")
    with pytest.raises(DocumentRejected) as info:
        store_document(tmp_path, "Expenses:Travel", date(2026, 1, 1), "r", PDF, None)
    assert info.value.reason == "unsafe_path"
    assert list(outside.iterdir()) == []


def test_document_size_cap(tmp_path: Path) -> None:
    with pytest.raises(DocumentRejected) as info:
        store_document(
            tmp_path, "Expenses:Travel", date(2026, 1, 1), "r", PDF + b"x" * 10, None, max_bytes=10
        )
    assert info.value.reason == "too_large"


@pytest.mark.parametrize(
    ("content", "declared", "expected"),
    [
        (PDF, "application/pdf", "pdf"),
        (PNG, "application/pdf", "png"),  # the bytes win over the declared type
        (JPEG, None, "jpg"),
        (b"opaque", "image/jpeg", "jpg"),
        (b"opaque", "IMAGE/PNG; charset=binary", "png"),
    ],
)
def test_extension_from_bytes_then_declared_type(
    content: bytes, declared: str | None, expected: str
) -> None:
    assert extension_for(declared, content) == expected


@pytest.mark.parametrize("declared", [None, "text/html", "application/x-msdownload", "../pdf"])
def test_unsupported_receipt_type_is_rejected(declared: str | None) -> None:
    with pytest.raises(DocumentRejected) as info:
        extension_for(declared, b"<html>")
    assert info.value.reason == "unsupported_type"


# --- rendering --------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(st.text())
def test_quote_round_trips_through_the_parser(text: str) -> None:
    source = (
        "2020-01-01 open Assets:A\n2020-01-01 open Assets:B\n"
        f"2020-01-02 * {quote(text)}\n  Assets:A  1 USD\n  Assets:B  -1 USD\n"
    )
    entries, errors, _ = loader.load_string(source)
    assert errors == []
    txn = entries[-1]
    assert isinstance(txn, data.Transaction)
    narration = txn.narration
    # Control characters we cannot keep become spaces; everything else is exact.
    expected = "".join(
        " " if (ord(c) < 32 and c not in "\n\r\t") or c in "\x7f\u2028\u2029" else c for c in text
    )
    assert narration == expected


def test_injection_through_strings_stays_inside_the_string(tmp_path: Path) -> None:
    evil = '"\n2020-01-01 open Assets:Evil\n2020-01-03 * "x'
    draft = TransactionDraft(
        day=date(2020, 1, 2),
        flag="*",
        narration=evil,
        payee=evil,
        meta=(("pleo-note", evil),),
        postings=(
            PostingDraft("Assets:A", Decimal("1.00"), "USD", (("pleo-dim-cc", evil),)),
            PostingDraft("Assets:B", Decimal("-1.00"), "USD"),
        ),
    )
    source = "2020-01-01 open Assets:A\n2020-01-01 open Assets:B\n" + render_transaction(draft)
    entries, errors, _ = loader.load_string(source)
    assert errors == []
    assert [type(e).__name__ for e in entries] == ["Open", "Open", "Transaction"]
    txn = entries[-1]
    assert isinstance(txn, data.Transaction)
    assert txn.narration == evil


def test_unbalanced_or_invalid_drafts_are_refused() -> None:
    posting = PostingDraft("Assets:A", Decimal("1.00"), "USD")
    with pytest.raises(RenderError, match="balance"):
        render_transaction(
            TransactionDraft(
                date(2020, 1, 1),
                "*",
                "n",
                (posting, PostingDraft("Assets:B", Decimal("-0.99"), "USD")),
            )
        )
    with pytest.raises(RenderError, match="account"):
        render_transaction(
            TransactionDraft(
                date(2020, 1, 1),
                "*",
                "n",
                (posting, PostingDraft("Assets:B\n2020", Decimal("-1.00"), "USD")),
            )
        )
    with pytest.raises(RenderError, match="flag"):
        render_transaction(
            TransactionDraft(
                date(2020, 1, 1),
                "x",
                "n",
                (posting, PostingDraft("Assets:B", Decimal("-1.00"), "USD")),
            )
        )


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_lock_of_a_killed_process_is_free_again(tmp_path: Path) -> None:
    """A writer killed with SIGKILL while holding the ledger lock leaves no stale lock: the
    OS drops it with the process, and the lock file itself stays in place."""
    lock_file = tmp_path / "ledger.beancount.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys\n"
            "from pleo_erp.adapters.beancount._lock import LedgerLock\n"
            "lock = LedgerLock(sys.argv[1]); lock.acquire()\n"
            "print('held', flush=True); sys.stdin.read()\n",
            str(lock_file),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(LockTimeout):
            LedgerLock(lock_file, timeout=0.0).acquire()
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(10)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(10)
    with LedgerLock(lock_file, timeout=0.0):
        assert lock_file.exists()
    assert lock_file.exists(), "the lock file is kept on release"
