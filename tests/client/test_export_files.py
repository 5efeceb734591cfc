"""Receipt downloads (DESIGN decision 12; erp-processing C18/C20; export-api Part 3 rule 15)."""

from __future__ import annotations

import stat
from pathlib import Path

import httpx
import pytest

from pleo_erp.client.files import (
    FileDownloadError,
    ReceiptDownloader,
    ReceiptPolicy,
    attach_receipt_policy,
    download_file,
    is_loopback_host,
    redacted_url,
)

PDF = b"%PDF-1.4\n" + b"x" * 100
PUBLIC_IP = "93.184.215.14"


def public_dns(host: str, port: int) -> list[str]:
    """Every name resolves to a public address: no real DNS in these tests."""
    return [PUBLIC_IP]


def client_for(handler) -> httpx.Client:  # type: ignore[no-untyped-def]
    client = httpx.Client(transport=httpx.MockTransport(handler))
    attach_receipt_policy(client, ReceiptPolicy(resolver=public_dns))
    return client


def ok_pdf(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=PDF, headers={"content-type": "application/pdf"})


def test_https_download_streams_to_private_file(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return ok_pdf(request)

    dest = tmp_path / "r.pdf"
    result = download_file(
        "https://files.example/r?sig=SECRET", dest, http_client=client_for(handler)
    )
    assert dest.read_bytes() == PDF
    assert (result.size, result.content_type, result.head[:4]) == (
        len(PDF),
        "application/pdf",
        b"%PDF",
    )
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    assert "authorization" not in {k.lower() for k in seen[0].headers}


def test_plain_http_only_for_a_trusted_sandbox_origin_or_allowed_hosts(tmp_path: Path) -> None:
    http = client_for(ok_pdf)
    with pytest.raises(FileDownloadError) as info:
        download_file("http://files.example/r", tmp_path / "a", http_client=http)
    assert info.value.reason == "insecure_url"
    with pytest.raises(FileDownloadError) as info:  # loopback is no longer always allowed
        download_file("http://127.0.0.1:8080/r", tmp_path / "b", http_client=http)
    assert info.value.reason == "insecure_url"
    sandbox = ReceiptPolicy.local_sandbox("http://127.0.0.1:8080", resolver=public_dns)
    download_file("http://127.0.0.1:8080/r", tmp_path / "b", http_client=http, policy=sandbox)
    download_file(
        "http://sandbox.test/r", tmp_path / "c", http_client=http, insecure_hosts=["sandbox.test"]
    )
    with pytest.raises(FileDownloadError):
        download_file("https://user:pw@files.example/r", tmp_path / "d", http_client=http)
    with pytest.raises(FileDownloadError):
        download_file("ftp://files.example/r", tmp_path / "e", http_client=http)


def test_size_cap_enforced_while_streaming_and_file_removed(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        # No Content-Length: the cap must hold while streaming.
        return httpx.Response(
            200, content=iter([b"%PDF", b"y" * 200]), headers={"content-type": "application/pdf"}
        )

    dest = tmp_path / "big"
    with pytest.raises(FileDownloadError) as info:
        download_file("https://f.example/x", dest, http_client=client_for(handler), max_bytes=100)
    assert info.value.reason == "too_large"
    assert not dest.exists()


def test_declared_content_length_over_cap_refused_early(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"x" * 10, headers={"content-length": "999999999"})

    with pytest.raises(FileDownloadError) as info:
        download_file(
            "https://f.example/x", tmp_path / "x", http_client=client_for(handler), max_bytes=100
        )
    assert info.value.reason == "too_large"


def test_content_type_checked_generic_types_pass(tmp_path: Path) -> None:
    def html(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"<html>", headers={"content-type": "text/html"})

    with pytest.raises(FileDownloadError) as info:
        download_file(
            "https://f.example/x", tmp_path / "x", http_client=client_for(html),
            allowed_content_types={"application/pdf"},
        )  # fmt: skip
    assert info.value.reason == "content_type"

    def octet(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, content=PDF, headers={"content-type": "application/octet-stream"}
        )

    download_file(
        "https://f.example/x", tmp_path / "y", http_client=client_for(octet),
        allowed_content_types={"application/pdf"},
    )  # fmt: skip


def test_redirects_same_host_followed_cross_host_refused(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/start":
            return httpx.Response(302, headers={"location": "/final"})
        if request.url.path == "/away":
            return httpx.Response(302, headers={"location": "https://evil.example/x"})
        return ok_pdf(request)

    http = client_for(handler)
    download_file("https://f.example/start", tmp_path / "a", http_client=http)
    with pytest.raises(FileDownloadError) as info:
        download_file("https://f.example/away", tmp_path / "b", http_client=http)
    assert info.value.reason == "redirect"
    assert not (tmp_path / "b").exists()
    # Allowed by configuration:
    download_file(
        "https://f.example/away", tmp_path / "c", http_client=http, allow_cross_host_redirects=True
    )


def test_transient_errors_retried_then_reported(tmp_path: Path) -> None:
    calls = {"n": 0}
    waits: list[float] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] < 3:
            return httpx.Response(503)
        return ok_pdf(request)

    download_file(
        "https://f.example/x", tmp_path / "a", http_client=client_for(flaky), sleep=waits.append
    )
    assert calls["n"] == 3
    assert waits == [0.5, 1.0]

    def gone(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403)

    with pytest.raises(FileDownloadError) as info:
        download_file(
            "https://f.example/x", tmp_path / "b", http_client=client_for(gone), sleep=waits.append
        )
    assert (info.value.reason, info.value.status_code, info.value.transient) == (
        "http_status",
        403,
        False,
    )

    def reset(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("reset")

    with pytest.raises(FileDownloadError) as info:
        download_file(
            "https://f.example/x",
            tmp_path / "c",
            http_client=client_for(reset),
            sleep=lambda s: None,
            retries=1,
        )
    assert info.value.reason == "network"


def test_messages_never_contain_the_signature(tmp_path: Path) -> None:
    def gone(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404)

    with pytest.raises(FileDownloadError) as info:
        download_file(
            "https://f.example/x?signature=TOPSECRET", tmp_path / "a", http_client=client_for(gone)
        )
    assert "TOPSECRET" not in str(info.value)
    assert redacted_url("https://u:p@h.example:8443/p?q=1#f") == "https://h.example:8443/p"


def test_existing_destination_is_never_overwritten(tmp_path: Path) -> None:
    dest = tmp_path / "exists"
    dest.write_bytes(b"keep")
    with pytest.raises(FileDownloadError) as info:
        download_file("https://f.example/x", dest, http_client=client_for(ok_pdf))
    assert info.value.reason == "io"
    assert dest.read_bytes() == b"keep"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.1.2.3", True), ("[::1]", True), ("localhost", True),
     ("a.localhost", True),
     ("10.0.0.1", False), ("example.com", False)],
)  # fmt: skip
def test_loopback_detection(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_retry_after_is_honoured_for_429(tmp_path: Path) -> None:
    calls = {"n": 0}
    waits: list[float] = []

    def limited(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return httpx.Response(429, headers={"retry-after": "7"})
        return ok_pdf(request)

    download_file(
        "https://f.example/x", tmp_path / "a", http_client=client_for(limited), sleep=waits.append
    )
    assert waits == [7.0]


def test_small_files_stay_in_memory_big_ones_spill_to_disk(tmp_path: Path) -> None:
    small = download_file(
        "https://f.example/x", tmp_path / "s", http_client=client_for(ok_pdf), memory_limit=1024
    )
    assert (small.path, small.data) == (None, PDF)
    assert small.read_bytes() == PDF
    assert not (tmp_path / "s").exists()
    big = download_file(
        "https://f.example/x", tmp_path / "b", http_client=client_for(ok_pdf), memory_limit=10
    )
    assert (big.path, big.data) == (tmp_path / "b", None)
    assert big.read_bytes() == PDF
    only_memory = download_file("https://f.example/x", http_client=client_for(ok_pdf))
    assert only_memory.data == PDF


def test_receipt_downloader_applies_the_same_rules_to_every_download(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return ok_pdf(request)

    http = client_for(handler)
    http.headers["Authorization"] = "Bearer secret"
    http.headers["User-Agent"] = "vendor-erp/1.0"
    downloader = ReceiptDownloader(http_client=http, memory_limit=1024, deadline=30.0)
    first = downloader.download("https://f.example/a", tmp_path / "a")
    second = downloader.download("https://f.example/b", tmp_path / "b")
    assert first.data == second.data == PDF
    assert [r.headers.get("user-agent") for r in seen] == ["vendor-erp/1.0"] * 2
    assert all("authorization" not in r.headers and "cookie" not in r.headers for r in seen)
    assert all(r.extensions["timeout"]["read"] <= 30.0 for r in seen)
    # The per-receipt narrowing: the size cap and the accepted types of this file.
    with pytest.raises(FileDownloadError) as too_big:
        downloader.download("https://f.example/c", tmp_path / "c", max_bytes=10)
    assert too_big.value.reason == "too_large"
    with pytest.raises(FileDownloadError) as wrong_type:
        downloader.download(
            "https://f.example/d", tmp_path / "d", content_types=frozenset({"image/png"})
        )
    assert wrong_type.value.reason == "content_type"
    with pytest.raises(FileDownloadError) as local:
        downloader.download("http://127.0.0.1:8080/r", tmp_path / "e")  # SSRF rules still apply
    assert local.value.reason == "insecure_url"
