"""Security issue 10, findings 2, 3, 5, 7, 8, 9 and the cheap informational ones: each attack
reproduced on loopback against the webhook receiver, the OAuth callback server, the client
constructors and the state database."""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import socket
import sqlite3
import stat
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from pleo_erp.cli._oauth_login import CallbackReceiver
from pleo_erp.cli._webhook import (
    ExportDispatcher,
    ServerLimits,
    WebhookReceiver,
    escape_control,
    make_server,
)
from pleo_erp.client import ApiKeyAuth, AsyncPleoClient, OAuth2Auth, PleoClient
from pleo_erp.client.auth import MemoryTokenStore
from pleo_erp.client.webhooks import (
    ReplayGuard,
    ReplayProtection,
    StandardWebhookVerifier,
    WebhookPayloadError,
    WebhookReplayError,
    WebhookVerificationError,
    sign,
    signature_headers,
    verify_and_parse,
)
from pleo_erp.state import StateDB
from pleo_erp.testing.sandbox.webhook_delivery import build_export_job_created_event

SECRET = "whsec_" + base64.b64encode(b"pleo-erp-test-webhook-secret-32b").decode()
NOW = datetime(2026, 10, 1, 9, 0, tzinfo=timezone.utc)
COMPANY = uuid.UUID("6f1c0000-0000-4000-8000-000000000001")
PATH = "/webhooks/pleo"


def _verifier() -> StandardWebhookVerifier:
    return StandardWebhookVerifier(SECRET, clock=lambda: NOW)


def _receiver(runs: list[uuid.UUID]) -> WebhookReceiver:
    dispatcher = ExportDispatcher(runs.append)
    return WebhookReceiver(_verifier(), dispatcher, path=PATH, replay_guard=ReplayGuard())


@pytest.fixture
def serve() -> Iterator[object]:
    started: list[tuple[object, threading.Thread]] = []

    def start(limits: ServerLimits | None = None, runs: list[uuid.UUID] | None = None):  # type: ignore[no-untyped-def]
        server = make_server(
            _receiver(runs if runs is not None else []), "127.0.0.1", 0, limits=limits
        )
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        started.append((server, thread))
        return server

    yield start
    for server, thread in started:
        server.shutdown()  # type: ignore[attr-defined]
        server.server_close()  # type: ignore[attr-defined]
        thread.join(5)


def _connect(server: object) -> socket.socket:
    host, port = server.server_address[:2]  # type: ignore[attr-defined]
    sock = socket.create_connection((host, port), timeout=5)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    """Everything until the server closes (client timeout 5 s: a hang fails the test)."""
    chunks: list[bytes] = []
    while True:
        data = sock.recv(65536)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


def _raw(server: object, request: bytes) -> bytes:
    with _connect(server) as sock:
        sock.sendall(request)
        # A busy server may already have answered 503 and hung up: nothing left to shut.
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)
        return _read_all(sock)


def _signed_request(timestamp_header: bytes | None = None) -> bytes:
    body = build_export_job_created_event(uuid.uuid4(), COMPANY, uuid.uuid4(), NOW)
    headers = signature_headers(SECRET, f"msg_{uuid.uuid4().hex}", NOW, body)
    lines = [f"POST {PATH} HTTP/1.1".encode(), b"Host: x", b"Connection: close"]
    for name, value in headers.items():
        if name == "webhook-timestamp" and timestamp_header is not None:
            lines.append(b"webhook-timestamp: " + timestamp_header)
        else:
            lines.append(f"{name}: {value}".encode())
    lines.append(f"Content-Length: {len(body)}".encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


# ---- finding 2: slow connections ----------------------------------------------------------------


def test_slow_header_connections_are_capped_and_timed_out(serve) -> None:  # type: ignore[no-untyped-def]
    """The reproduction: many connections with unfinished headers. Now at most
    ``max_connections`` are held (the rest get 503 at once) and each is closed once
    ``request_timeout`` passes; afterwards the receiver serves normally again."""
    runs: list[uuid.UUID] = []
    server = serve(ServerLimits(request_timeout=0.5, max_connections=4), runs)
    slow = [_connect(server) for _ in range(4)]
    for sock in slow:
        sock.sendall(b"POST /webhooks/pleo HTTP/1.1\r\nHost: x\r\n")  # headers never finish
    try:
        # Wait until the four are being served, then one more is refused with 503.
        extra = _raw(server, b"POST /webhooks/pleo HTTP/1.1\r\nHost: x\r\n")
        while b"503" not in extra:  # the accept loop may not have seen all four yet
            extra = _raw(server, b"POST /webhooks/pleo HTTP/1.1\r\nHost: x\r\n")
        assert extra.startswith(b"HTTP/1.1 503")
        for sock in slow:  # closed by the server's deadline, not by the client's 5 s timeout
            assert _read_all(sock) == b""
    finally:
        for sock in slow:
            sock.close()
    answer = _raw(server, _signed_request())
    assert answer.startswith(b"HTTP/1.1 202"), answer[:80]


def test_request_cut_short_by_the_deadline_is_not_handled(serve, caplog) -> None:  # type: ignore[no-untyped-def]
    """Headers parsed up to the watchdog's hang-up are not a request: nothing reaches the
    receiver (no 'refused' log line, no answer)."""
    server = serve(ServerLimits(request_timeout=0.3, max_connections=4))
    with caplog.at_level(logging.DEBUG, logger="pleo_erp"), _connect(server) as sock:
        sock.sendall(f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n".encode())
        assert _read_all(sock) == b""
    messages = [record.getMessage() for record in caplog.records]
    assert any("not received in time" in m for m in messages)
    assert not any("refused" in m or "rejected" in m for m in messages), messages


def test_dripping_headers_cannot_outlive_the_request_deadline(serve) -> None:  # type: ignore[no-untyped-def]
    """A per-recv timeout alone would let a client send one byte just before each timeout;
    the watchdog bounds the whole request."""
    server = serve(ServerLimits(request_timeout=0.5, max_connections=4))
    with _connect(server) as sock:
        sock.settimeout(0.1)
        closed = False
        for _ in range(100):  # up to ~10 s of dripping if nothing stopped it
            try:
                sock.sendall(b"X")
                if sock.recv(1) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
            except OSError:
                closed = True
                break
        assert closed


def test_idle_keep_alive_connection_is_closed(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve(ServerLimits(request_timeout=0.5, max_connections=4))
    with _connect(server) as sock:
        sock.sendall(b"GET /elsewhere HTTP/1.1\r\nHost: x\r\n\r\n")
        data = _read_all(sock)  # 404, then the server hangs up on the idle keep-alive
    assert data.startswith(b"HTTP/1.1 404")


def test_chunked_body_is_refused_not_parsed_as_a_next_request(serve) -> None:  # type: ignore[no-untyped-def]
    runs: list[uuid.UUID] = []
    server = serve(runs=runs)
    smuggled = _signed_request().replace(b"Connection: close", b"Connection: keep-alive")
    request = (
        f"POST {PATH} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
        + f"{len(smuggled):x}\r\n".encode()
        + smuggled
        + b"\r\n0\r\n\r\n"
    )
    answer = _raw(server, request)
    assert answer.startswith(b"HTTP/1.1 411")
    assert answer.count(b"HTTP/1.1") == 1  # nothing after it was treated as a request
    assert runs == []


# ---- finding 5: hostile header values -----------------------------------------------------------


@pytest.mark.parametrize("timestamp", ["999999999999", "²", "1²", "-5", "1e9", "99999999999999"])
def test_verify_and_parse_raises_only_documented_errors(timestamp: str) -> None:
    body = build_export_job_created_event(uuid.uuid4(), COMPANY, uuid.uuid4(), NOW)
    headers = signature_headers(SECRET, "msg_1", NOW, body)
    headers["webhook-timestamp"] = timestamp
    with pytest.raises(WebhookVerificationError):
        verify_and_parse(headers, body, _verifier())


def test_verifier_tripping_over_a_header_becomes_a_verification_error() -> None:
    class Fussy:
        def verify(self, headers: object, body: object) -> None:
            raise UnicodeEncodeError("ascii", "²", 0, 1, "not ascii")

    with pytest.raises(WebhookVerificationError):
        verify_and_parse({}, b"{}", Fussy())


def test_deeply_nested_signed_json_is_a_payload_error() -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    headers = signature_headers(SECRET, "msg_deep", NOW, body)
    with pytest.raises(WebhookPayloadError):
        verify_and_parse(headers, body, _verifier())


@pytest.mark.parametrize(
    ("header", "status"),
    [(b"999999999999", b"401"), (b"\xb2", b"401")],
)
def test_receiver_answers_hostile_timestamps_over_http(serve, header: bytes, status: bytes) -> None:  # type: ignore[no-untyped-def]
    server = serve()
    answer = _raw(server, _signed_request(header))
    assert answer.startswith(b"HTTP/1.1 " + status), answer[:80]


def test_receiver_answers_a_non_ascii_content_length_with_400(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve()
    answer = _raw(
        server, f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: ".encode() + b"\xb2\r\n\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 400")


# ---- pluggable replay guard ---------------------------------------------------------------------


def test_replay_guard_is_pluggable() -> None:
    class SetInbox:
        def __init__(self) -> None:
            self.ids: set[str] = set()

        def seen(self, webhook_id: str) -> bool:
            return webhook_id in self.ids

        def record(self, webhook_id: str) -> bool:
            new = webhook_id not in self.ids
            self.ids.add(webhook_id)
            return new

    inbox = SetInbox()
    assert isinstance(inbox, ReplayProtection)
    assert isinstance(ReplayGuard(), ReplayProtection)
    body = build_export_job_created_event(uuid.uuid4(), COMPANY, uuid.uuid4(), NOW)
    headers = signature_headers(SECRET, "msg_once", NOW, body)
    verify_and_parse(headers, body, _verifier(), inbox)
    assert inbox.seen("msg_once")
    with pytest.raises(WebhookReplayError):
        verify_and_parse(headers, body, _verifier(), inbox)
    receiver = WebhookReceiver(_verifier(), ExportDispatcher(lambda c: None), replay_guard=inbox)
    assert receiver.handle("POST", "/webhooks/pleo", headers, body).status == 200  # duplicate
    guard = ReplayGuard()
    assert guard.record("a")
    assert not guard.record("a")
    assert guard.seen("a")


# ---- finding 9: logs ----------------------------------------------------------------------------


def test_request_line_escape_sequences_are_escaped_in_the_log(serve, caplog) -> None:  # type: ignore[no-untyped-def]
    server = serve()
    with caplog.at_level(logging.DEBUG, logger="pleo_erp"):
        _raw(
            server, b"GET /\x1b[2J\x1b]0;pwned\x07 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
    lines = [record.getMessage() for record in caplog.records]
    assert any("\\x1b[2J" in line for line in lines), lines
    assert not any("\x1b" in line or "\x07" in line for line in lines)
    assert escape_control("a\x9bb\x7f") == "a\\x9bb\\x7f"


def test_broken_connections_are_logged_not_printed(serve, caplog, capsys) -> None:  # type: ignore[no-untyped-def]
    server = serve()
    with caplog.at_level(logging.DEBUG, logger="pleo_erp"):
        for error in (BrokenPipeError("pipe"), RuntimeError("key=sk_live_SECRET")):
            try:
                raise error
            except BaseException:
                server.handle_error(None, ("127.0.0.1", 1))
    assert capsys.readouterr().err == ""
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "BrokenPipeError" in text
    assert "RuntimeError" in text
    assert "SECRET" not in text
    assert all(record.exc_info is None for record in caplog.records)


# ---- finding 3: credentials over plain http -----------------------------------------------------


@pytest.mark.parametrize("url", ["http://api.example.com", "http://10.0.0.5:8080", "http://pleo"])
def test_credentials_never_sent_over_plain_http_to_a_remote_host(url: str) -> None:
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200)

    http = httpx.Client(transport=httpx.MockTransport(record))
    with pytest.raises(ValueError, match="https"):
        PleoClient(ApiKeyAuth("sk_secret"), base_url=url, http_client=http)
    with pytest.raises(ValueError, match="https"):
        AsyncPleoClient(ApiKeyAuth("sk_secret"), base_url=url)
    with pytest.raises(ValueError, match="https"):
        OAuth2Auth("id", "client-secret", MemoryTokenStore(), token_url=url + "/oauth/token")
    assert sent == []


def test_plain_http_to_loopback_and_explicit_opt_in_still_work() -> None:
    for url in ("http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:2"):
        PleoClient(ApiKeyAuth("k"), base_url=url).close()
        OAuth2Auth("id", "s", MemoryTokenStore(), token_url=url + "/oauth/token")
    PleoClient(ApiKeyAuth("k"), base_url="http://sandbox.lan", allow_insecure_http=True).close()
    OAuth2Auth("id", "s", MemoryTokenStore(), token_url="http://a.lan/t", allow_insecure_http=True)


def test_cli_refuses_plain_http_base_and_auth_urls(tmp_path: Path) -> None:
    from tests.helpers.cli import cli

    key = cli(
        tmp_path,
        "auth",
        "set-key",
        "--no-verify",
        env={"PLEO_BASE_URL": "http://api.example.com"},
        stdin="sk_x\n",
    )
    assert key.code != 0
    assert "https" in key.err
    assert "sk_x" not in key.text
    env = {
        "PLEO_BASE_URL": "https://external.staging.pleo.io",
        "PLEO_AUTH_URL": "http://auth.example.com",
        "PLEO_CLIENT_ID": "id",
        "PLEO_CLIENT_SECRET": "client-secret",
    }
    login = cli(tmp_path, "auth", "login", "--no-browser", "--timeout", "1", env=env)
    assert login.code != 0
    assert "https" in login.err
    api = cli(
        tmp_path,
        "auth",
        "status",
        env={"PLEO_API_KEY": "sk_y", "PLEO_BASE_URL": "http://api.example.com"},
    )
    assert api.code != 0
    assert "https" in api.err


# ---- finding 7: the OAuth callback server -------------------------------------------------------


def test_wrong_state_request_is_ignored_and_the_real_redirect_still_wins() -> None:
    with CallbackReceiver("real-state") as receiver:
        forged = httpx.get(receiver.redirect_uri + "?code=evil&state=forged", timeout=5)
        assert forged.status_code == 400
        assert receiver.ignored == 1
        ok = httpx.get(receiver.redirect_uri + "?code=good&state=real-state", timeout=5)
        assert ok.status_code == 200
        assert receiver.wait(1) == "good"


def test_idle_connection_neither_blocks_the_redirect_nor_close() -> None:
    """The reproduction: one idle connection held the single-threaded server, so the login
    kept running long past its timeout. Now the redirect is served beside it, the idle one
    is dropped after ``connection_timeout``, and ``close`` hangs up on anything left."""
    receiver = CallbackReceiver("s", connection_timeout=30)
    receiver.start()
    host, port = "127.0.0.1", int(receiver.redirect_uri.split(":")[2].split("/")[0])
    idle = socket.create_connection((host, port), timeout=5)
    idle.sendall(b"GET /callback?state=s")  # never finished
    try:
        ok = httpx.get(receiver.redirect_uri + "?code=c&state=s", timeout=5)
        assert ok.status_code == 200
        assert receiver.wait(1) == "c"
        closer = threading.Thread(target=receiver.close)
        closer.start()
        closer.join(5)
        assert not closer.is_alive()  # close() did not wait for the idle connection
        assert _read_all(idle) == b""  # and it was hung up on
    finally:
        idle.close()


def test_idle_callback_connection_times_out_on_its_own() -> None:
    with CallbackReceiver("s", connection_timeout=0.3) as receiver:
        port = int(receiver.redirect_uri.split(":")[2].split("/")[0])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as idle:
            idle.sendall(b"GET /")
            assert _read_all(idle) == b""


# ---- finding 8: file modes ----------------------------------------------------------------------


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_secret_write_tightens_an_existing_world_readable_state_db(tmp_path: Path) -> None:
    from pleo_erp.cli._config import Secret
    from pleo_erp.cli._credentials import CredentialStore, StoredCredential

    path = tmp_path / "state.db"
    sqlite3.connect(path).close()
    os.chmod(path, 0o644)
    db = StateDB(path)
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644  # opening alone changes nothing
        CredentialStore(db).save(
            StoredCredential(method="api_key", base_url="https://x", api_key=Secret("sk_key"))
        )
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        os.chmod(path, 0o640)
        from pleo_erp.client.auth import TokenSet
        from pleo_erp.state.tokens import SQLiteTokenStore

        SQLiteTokenStore(db, key="k").save(
            TokenSet(
                access_token="a",
                refresh_token="r",
                expires_at=datetime.now(timezone.utc) + timedelta(hours=1),
            )
        )
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        for suffix in ("-wal", "-shm"):
            extra = Path(str(path) + suffix)
            if extra.exists():
                assert stat.S_IMODE(extra.stat().st_mode) & 0o077 == 0
    finally:
        db.close()


def test_unsigned_helper_sign_is_unchanged() -> None:
    # ``sign`` is what senders use; the hardening must not change the wire format.
    assert sign(SECRET, "m", 1, b"{}").startswith("v1,")
    assert json.loads(b"{}") == {}
