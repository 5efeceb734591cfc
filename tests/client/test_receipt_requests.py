"""What a receipt download sends and keeps: no cookies either way, no client-wide credentials,
one request per hop through the client's own transport (DESIGN decision 12)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from pleo_erp.client.files import ReceiptPolicy, attach_receipt_policy, download_file

PDF = b"%PDF-1.4\n" + b"x" * 100


def public_dns(host: str, port: int) -> list[str]:
    return ["93.184.215.14"]


def _client(handler, **options) -> httpx.Client:  # type: ignore[no-untyped-def]
    client = httpx.Client(transport=httpx.MockTransport(handler), **options)
    attach_receipt_policy(client, ReceiptPolicy(resolver=public_dns))
    return client


def _pdf(headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        200, content=PDF, headers={"content-type": "application/pdf", **(headers or {})}
    )


def test_receipt_set_cookie_is_never_stored_nor_replayed() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _pdf({"set-cookie": "tracker=abc; Path=/; Domain=files.example"})

    client = _client(handler)
    download_file("https://files.example/a.pdf?sig=S", http_client=client)
    download_file("https://files.example/b.pdf?sig=S", http_client=client)
    assert len(client.cookies) == 0
    assert [r.headers.get("cookie") for r in seen] == [None, None]


def test_client_cookies_headers_and_auth_do_not_reach_the_receipt_host() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _pdf()

    client = _client(
        handler,
        cookies={"session": "pleo-session"},
        headers={"Authorization": "Bearer client-wide", "X-Tenant": "t1", "User-Agent": "ua/1"},
        auth=("user", "secret"),
    )
    got = download_file("https://files.example/r.pdf?sig=S", http_client=client)
    assert got.data == PDF
    (request,) = seen
    names = {name.lower() for name in request.headers}
    assert "cookie" not in names
    assert "authorization" not in names
    assert "x-tenant" not in names
    assert request.headers["user-agent"] == "ua/1"  # identifies the integration, no secret
    assert request.headers["accept-encoding"] == "identity"
    assert str(request.url) == "https://files.example/r.pdf?sig=S"


def test_each_redirect_hop_is_one_request_and_carries_no_cookie() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        assert "cookie" not in request.headers
        if request.url.path == "/old.pdf":
            return httpx.Response(
                302, headers={"location": "/new.pdf?sig=T", "set-cookie": "hop=1; Path=/"}
            )
        return _pdf()

    client = _client(handler)
    download_file("https://files.example/old.pdf?sig=S", http_client=client)
    assert seen == ["https://files.example/old.pdf?sig=S", "https://files.example/new.pdf?sig=T"]
    assert len(client.cookies) == 0


def test_a_mounted_transport_is_used_for_its_urls() -> None:
    """Proxies and mounts of the client still apply (the download goes through them)."""
    used: list[str] = []

    def mounted(request: httpx.Request) -> httpx.Response:
        used.append("mounted")
        return _pdf()

    def default(request: httpx.Request) -> httpx.Response:  # pragma: no cover - not reached
        used.append("default")
        return _pdf()

    client = httpx.Client(
        transport=httpx.MockTransport(default),
        mounts={"https://files.example": httpx.MockTransport(mounted)},
    )
    attach_receipt_policy(client, ReceiptPolicy(resolver=public_dns))
    download_file("https://files.example/r.pdf?sig=S", http_client=client)
    assert used == ["mounted"]


def test_a_closed_client_refuses_to_download() -> None:
    client = _client(lambda request: _pdf())
    client.close()
    with pytest.raises(RuntimeError, match="closed"):
        download_file("https://files.example/r.pdf", http_client=client)


def test_the_deadline_bounds_the_request_timeouts(tmp_path: Path) -> None:
    timeouts: list[dict[str, float]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        timeouts.append(request.extensions["timeout"])
        return _pdf()

    now = [100.0]
    download_file(
        "https://files.example/r.pdf",
        tmp_path / "r.pdf",
        http_client=_client(handler),
        timeout=60.0,
        deadline=5.0,
        clock=lambda: now[0],
    )
    assert timeouts == [{"connect": 5.0, "read": 5.0, "write": 5.0, "pool": 5.0}]
