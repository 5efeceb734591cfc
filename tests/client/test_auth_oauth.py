"""OAuth2Auth against a fake Pleo (auth server + API) on httpx.MockTransport.

Accounts rules 4, 6, 7 and 11–16 (docs/rules.md). The fake behaves like
Pleo on the points that matter: refresh tokens rotate on every refresh, and presenting an old
refresh token revokes the whole authorisation (§B3 "Token lifetimes").
"""

from __future__ import annotations

import asyncio
import base64
import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from pleo_erp.client.auth import (
    MemoryTokenStore,
    OAuth2Auth,
    TokenSet,
    TokenStore,
)
from pleo_erp.client.errors import ReauthorizationRequired, ResponseValidationError, ServerError

TOKEN_URL = "https://auth.staging.pleo.io/oauth/token"
API = "https://external.staging.pleo.io"
CLIENT_ID = "client-1"
CLIENT_SECRET = "s3cret-client-Value"
T0 = datetime(2025, 5, 23, 12, 0, tzinfo=timezone.utc)


class FakeClock:
    """A settable clock for refresh timing; no test sleeps."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def snapshot(request: httpx.Request) -> httpx.Request:
    """A copy as sent: the auth flow mutates the same request object before a retry."""
    return httpx.Request(
        request.method, request.url, headers=request.headers.copy(), content=request.content
    )


class FakePleo:
    """Pleo's token endpoint and one API path, with rotation and reuse detection."""

    def __init__(self, *, expires_in: int = 3600) -> None:
        self.expires_in = expires_in
        self.generation = 0
        self.valid_refresh: str | None = "refresh-0"
        self.valid_access: set[str] = {"access-0"}
        self.token_requests: list[httpx.Request] = []
        self.api_requests: list[httpx.Request] = []
        self.presented_refresh: list[str] = []
        self.events: list[str] = []
        self.token_failure: tuple[int, dict[str, Any]] | None = None
        self.api_always_401 = False
        self.codes = {"the-code": "v" * 43}

    # -- transport handlers --

    def handler(self, request: httpx.Request) -> httpx.Response:
        if str(request.url) == TOKEN_URL:
            return self.token(request)
        return self.api(request)

    async def ahandler(self, request: httpx.Request) -> httpx.Response:
        return self.handler(request)

    def token(self, request: httpx.Request) -> httpx.Response:
        self.token_requests.append(snapshot(request))
        if self.token_failure is not None:
            status, body = self.token_failure
            return httpx.Response(status, json=body)
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        if form["grant_type"] == "refresh_token":
            presented = form["refresh_token"]
            self.presented_refresh.append(presented)
            if presented != self.valid_refresh:
                # Reuse of a spent refresh token: Pleo revokes the whole authorisation.
                self.valid_refresh = None
                self.valid_access.clear()
                return httpx.Response(400, json={"error": "invalid_grant"})
        elif (
            form["grant_type"] == "authorization_code"
            and self.codes.pop(form["code"], None) != form["code_verifier"]
        ):
            return httpx.Response(400, json={"error": "invalid_grant"})
        self.generation += 1
        access, refresh = f"access-{self.generation}", f"refresh-{self.generation}"
        self.valid_refresh = refresh
        self.valid_access.add(access)
        self.events.append(f"issued {refresh}")
        return httpx.Response(
            200,
            json={
                "access_token": access,
                "refresh_token": refresh,
                "expires_in": self.expires_in,
                "scope": "export-jobs:read",
                "token_type": "bearer",
            },
        )

    def api(self, request: httpx.Request) -> httpx.Response:
        self.api_requests.append(snapshot(request))
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        self.events.append(f"api {bearer}")
        if self.api_always_401 or bearer not in self.valid_access:
            return httpx.Response(401, json={"message": "unauthorized"})
        return httpx.Response(200, json={"ok": True})

    def bearer_of(self, request: httpx.Request) -> str:
        return request.headers["Authorization"].removeprefix("Bearer ")


class RecordingStore(MemoryTokenStore):
    """A MemoryTokenStore that logs saves into the fake's event list (ordering checks)."""

    def __init__(self, tokens: TokenSet | None, events: list[str]) -> None:
        super().__init__(tokens)
        self.events = events
        self.fail_next_save = False

    def save(self, tokens: TokenSet) -> None:
        if self.fail_next_save:
            self.fail_next_save = False
            raise OSError("disk full")
        self.events.append(f"saved {tokens.refresh_token}")
        super().save(tokens)


def initial_tokens(clock: FakeClock, *, expires_in: int = 3600) -> TokenSet:
    return TokenSet(
        access_token="access-0",
        refresh_token="refresh-0",
        expires_at=clock() + timedelta(seconds=expires_in),
        scope="export-jobs:read",
    )


def make_auth(
    store: TokenStore,
    clock: FakeClock,
    *,
    client_auth: str = "client_secret_basic",
    cls: type[OAuth2Auth] = OAuth2Auth,
) -> OAuth2Auth:
    return cls(
        CLIENT_ID,
        CLIENT_SECRET,
        store,
        environment="staging",
        client_auth=client_auth,  # type: ignore[arg-type]
        clock=clock,
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def pleo() -> FakePleo:
    return FakePleo()


@pytest.fixture
def store(clock: FakeClock, pleo: FakePleo) -> RecordingStore:
    return RecordingStore(initial_tokens(clock), pleo.events)


def client_for(pleo: FakePleo, auth: OAuth2Auth) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(pleo.handler), auth=auth, base_url=API)


def async_client_for(pleo: FakePleo, auth: OAuth2Auth) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(pleo.ahandler), auth=auth, base_url=API)


# ---- bearer and proactive refresh (rules 4, 12) ----------------------------------------------


def test_rule4_bearer_header_and_no_refresh_while_fresh(
    pleo: FakePleo, store: RecordingStore, clock: FakeClock
) -> None:
    auth = make_auth(store, clock)
    with client_for(pleo, auth) as client:
        assert client.get("/v1/introspect").status_code == 200
    assert pleo.api_requests[0].headers["Authorization"] == "Bearer access-0"
    assert pleo.token_requests == []


def test_rule12_refresh_happens_inside_the_margin_not_before(
    pleo: FakePleo, store: RecordingStore, clock: FakeClock
) -> None:
    auth = make_auth(store, clock)
    with client_for(pleo, auth) as client:
        clock.advance(seconds=3600 - 61)  # 61 s left: outside the 60 s margin
        client.get("/v1/introspect")
        assert pleo.token_requests == []
        clock.advance(seconds=2)  # 59 s left: refresh first
        assert client.get("/v1/introspect").status_code == 200
    assert len(pleo.token_requests) == 1
    assert pleo.bearer_of(pleo.api_requests[-1]) == "access-1"
    assert auth.tokens is not None
    assert auth.tokens.expires_at == clock() + timedelta(seconds=3600)


def test_rule12_refresh_margin_is_configurable(pleo: FakePleo, store: RecordingStore) -> None:
    clock = FakeClock()
    auth = OAuth2Auth(
        CLIENT_ID,
        CLIENT_SECRET,
        store,
        token_url=TOKEN_URL,
        refresh_margin=timedelta(minutes=10),
        clock=clock,
    )
    clock.advance(seconds=3600 - 599)
    with client_for(pleo, auth) as client:
        client.get("/x")
    assert len(pleo.token_requests) == 1


# ---- token request shape (rule 11) -----------------------------------------------------------


def test_rule11_refresh_with_client_secret_basic_exact_request(
    pleo: FakePleo, store: RecordingStore, clock: FakeClock
) -> None:
    auth = make_auth(store, clock)
    clock.advance(hours=2)
    with client_for(pleo, auth) as client:
        client.get("/x")
    (request,) = pleo.token_requests
    assert request.method == "POST"
    assert str(request.url) == "https://auth.staging.pleo.io/oauth/token"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.headers["Accept"] == "application/json"
    expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected}"
    assert request.content == b"grant_type=refresh_token&refresh_token=refresh-0"


def test_rule11_refresh_with_client_secret_post_exact_request(
    pleo: FakePleo, store: RecordingStore, clock: FakeClock
) -> None:
    auth = make_auth(store, clock, client_auth="client_secret_post")
    clock.advance(hours=2)
    with client_for(pleo, auth) as client:
        client.get("/x")
    (request,) = pleo.token_requests
    assert "Authorization" not in request.headers
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.content == (
        b"grant_type=refresh_token&refresh_token=refresh-0"
        b"&client_id=client-1&client_secret=s3cret-client-Value"
    )


@pytest.mark.parametrize(
    ("client_auth", "body_suffix", "has_basic"),
    [
        ("client_secret_basic", b"", True),
        ("client_secret_post", b"&client_id=client-1&client_secret=s3cret-client-Value", False),
    ],
)
def test_rule11_exchange_code_exact_request_and_saved_tokens(
    pleo: FakePleo, clock: FakeClock, client_auth: str, body_suffix: bytes, has_basic: bool
) -> None:
    store = MemoryTokenStore()
    auth = make_auth(store, clock, client_auth=client_auth)
    with httpx.Client(transport=httpx.MockTransport(pleo.handler)) as http:
        tokens = auth.exchange_code(
            "the-code", "v" * 43, "https://erp.example/cb", http_client=http
        )
    (request,) = pleo.token_requests
    assert request.content == (
        b"grant_type=authorization_code&code=the-code"
        b"&redirect_uri=https%3A%2F%2Ferp.example%2Fcb&code_verifier=" + b"v" * 43 + body_suffix
    )
    assert ("Authorization" in request.headers) is has_basic
    assert tokens.access_token == "access-1"
    assert tokens.refresh_token == "refresh-1"
    assert tokens.scope == "export-jobs:read"
    assert tokens.token_type == "Bearer"
    assert tokens.expires_at == T0 + timedelta(seconds=3600)
    assert store.load() == tokens
    with client_for(pleo, auth) as client:
        assert client.get("/x").status_code == 200
    assert pleo.bearer_of(pleo.api_requests[0]) == "access-1"


def test_refused_code_raises_but_keeps_working_tokens(
    pleo: FakePleo, store: RecordingStore, clock: FakeClock
) -> None:
    auth = make_auth(store, clock)
    with httpx.Client(transport=httpx.MockTransport(pleo.handler)) as http:
        with pytest.raises(ReauthorizationRequired, match="authorization_code"):
            auth.exchange_code("wrong-code", "v" * 43, "https://r", http_client=http)
    assert not auth.stopped
    with client_for(pleo, auth) as client:
        assert client.get("/x").status_code == 200


def test_exchange_code_validates_the_verifier_without_network(pleo: FakePleo) -> None:
    auth = make_auth(MemoryTokenStore(), FakeClock())
    with pytest.raises(ValueError, match="43-128"):
        auth.exchange_code("code", "short", "https://r")
    assert pleo.token_requests == []


def test_exchange_code_async(pleo: FakePleo, clock: FakeClock) -> None:
    store = MemoryTokenStore()
    auth = make_auth(store, clock)

    async def run() -> TokenSet:
        async with httpx.AsyncClient(transport=httpx.MockTransport(pleo.ahandler)) as http:
            return await auth.aexchange_code("the-code", "v" * 43, "https://r", http_client=http)

    tokens = asyncio.run(run())
    assert tokens.refresh_token == "refresh-1"
    assert store.load() == tokens


# ---- rotation and persistence (rule 13) ------------------------------------------------------


def test_rule13_rotated_token_persisted_before_use_and_old_one_never_sent_again(
    pleo: FakePleo, store: RecordingStore, clock: FakeClock
) -> None:
    auth = make_auth(store, clock)
    with client_for(pleo, auth) as client:
        clock.advance(hours=2)
        client.get("/x")
        assert store.load().refresh_token == "refresh-1"  # type: ignore[union-attr]
        clock.advance(hours=2)
        client.get("/x")
    assert pleo.presented_refresh == ["refresh-0", "refresh-1"]
    assert store.load().refresh_token == "refresh-2"  # type: ignore[union-attr]
    # Saved before the new access token went out, every time.
    assert pleo.events == [
        "issued refresh-1",
        "saved refresh-1",
        "api access-1",
        "issued refresh-2",
        "saved refresh-2",
        "api access-2",
    ]


def test_rule13_failed_save_never_reuses_spent_refresh_token(
    pleo: FakePleo, store: RecordingStore, clock: FakeClock
) -> None:
    auth = make_auth(store, clock)
    clock.advance(hours=2)
    store.fail_next_save = True
    with client_for(pleo, auth) as client:
        with pytest.raises(OSError, match="disk full"):
            client.get("/x")
        # The new access token was not used while unsaved.
        assert pleo.api_requests == []
        # Next call: persist the pending set first, then use it; no second refresh.
        assert client.get("/x").status_code == 200
    assert pleo.presented_refresh == ["refresh-0"]
    assert store.load().refresh_token == "refresh-1"  # type: ignore[union-attr]
    assert pleo.events[-2:] == ["saved refresh-1", "api access-1"]


def test_newer_tokens_in_store_are_adopted_instead_of_refreshing(
    pleo: FakePleo, clock: FakeClock
) -> None:
    """Two auths sharing one store (as two processes would): the second never re-presents
    the refresh token the first already spent."""
    shared = RecordingStore(initial_tokens(clock), pleo.events)
    first, second = make_auth(shared, clock), make_auth(shared, clock)
    with client_for(pleo, first) as c1, client_for(pleo, second) as c2:
        c1.get("/x")
        c2.get("/x")  # both loaded access-0 / refresh-0
        clock.advance(hours=2)
        c1.get("/x")  # refreshes: refresh-0 spent
        assert c2.get("/x").status_code == 200  # adopts refresh-1 from the store
    assert pleo.presented_refresh == ["refresh-0"]
    assert pleo.bearer_of(pleo.api_requests[-1]) == "access-1"


# ---- single-flight (rule 14) -----------------------------------------------------------------


class CountingAuth(OAuth2Auth):
    """Signals once N flows have started, so the fake can hold the refresh until then."""

    expected = 20

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.entered = 0
        self.all_in = threading.Event()
        self._count_lock = threading.Lock()

    def _enter(self) -> None:
        with self._count_lock:
            self.entered += 1
            if self.entered >= self.expected:
                self.all_in.set()

    def sync_auth_flow(self, request: httpx.Request) -> Any:
        self._enter()
        return super().sync_auth_flow(request)

    def async_auth_flow(self, request: httpx.Request) -> Any:
        self._enter()
        return super().async_auth_flow(request)


def test_rule14_single_flight_under_20_threads(
    pleo: FakePleo, store: RecordingStore, clock: FakeClock
) -> None:
    auth = make_auth(store, clock, cls=CountingAuth)
    assert isinstance(auth, CountingAuth)
    clock.advance(hours=2)
    token_handler = pleo.token

    def slow_token(request: httpx.Request) -> httpx.Response:
        # Hold the refresh until all 20 callers are inside the auth flow.
        assert auth.all_in.wait(timeout=10)
        return token_handler(request)

    pleo.token = slow_token  # type: ignore[method-assign]
    barrier = threading.Barrier(20)
    statuses: list[int] = []
    errors: list[BaseException] = []

    with client_for(pleo, auth) as client:

        def worker() -> None:
            try:
                barrier.wait(timeout=10)
                statuses.append(client.get("/x").status_code)
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=worker) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=20)
    assert errors == []
    assert statuses == [200] * 20
    assert len(pleo.token_requests) == 1
    assert {pleo.bearer_of(r) for r in pleo.api_requests} == {"access-1"}
    assert store.saves == 1


def test_rule14_single_flight_under_20_asyncio_tasks(
    pleo: FakePleo, store: RecordingStore, clock: FakeClock
) -> None:
    auth = make_auth(store, clock, cls=CountingAuth)
    assert isinstance(auth, CountingAuth)
    clock.advance(hours=2)

    async def handler(request: httpx.Request) -> httpx.Response:
        if str(request.url) == TOKEN_URL:
            while not auth.all_in.is_set():  # let every task enter the flow first
                await asyncio.sleep(0)
        return pleo.handler(request)

    async def run() -> list[int]:
        transport = httpx.MockTransport(handler)
        async with httpx.AsyncClient(transport=transport, auth=auth, base_url=API) as client:
            responses = await asyncio.wait_for(
                asyncio.gather(*(client.get("/x") for _ in range(20))), timeout=10
            )
        return [r.status_code for r in responses]

    assert asyncio.run(run()) == [200] * 20
    assert len(pleo.token_requests) == 1
    assert {pleo.bearer_of(r) for r in pleo.api_requests} == {"access-1"}


def test_rule14_concurrent_401s_cause_one_refresh(
    pleo: FakePleo, store: RecordingStore, clock: FakeClock
) -> None:
    """Access token revoked server-side while not yet expired: 10 threads get 401 at once."""
    auth = make_auth(store, clock)
    pleo.valid_access.clear()
    barrier = threading.Barrier(10)
    all_rejected = threading.Barrier(10)
    api_handler = pleo.api

    def api(request: httpx.Request) -> httpx.Response:
        response = api_handler(request)
        if request.headers["Authorization"] == "Bearer access-0":
            all_rejected.wait(timeout=10)  # every thread holds its 401 before anyone refreshes
        return response

    pleo.api = api  # type: ignore[method-assign]
    statuses: list[int] = []
    with client_for(pleo, auth) as client:

        def worker() -> None:
            barrier.wait(timeout=10)
            statuses.append(client.get("/x").status_code)

        threads = [threading.Thread(target=worker) for _ in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=20)
    assert statuses == [200] * 10
    assert len(pleo.token_requests) == 1
    assert pleo.presented_refresh == ["refresh-0"]
    bearers = [pleo.bearer_of(r) for r in pleo.api_requests]
    assert sorted(bearers) == ["access-0"] * 10 + ["access-1"] * 10


# ---- failed refresh (rule 15) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body"),
    [(400, {"error": "invalid_grant"}), (401, {"error": "invalid_client"}), (400, {})],
)
def test_rule15_failed_refresh_stops_every_later_call_without_network(
    pleo: FakePleo, store: RecordingStore, clock: FakeClock, status: int, body: dict[str, Any]
) -> None:
    auth = make_auth(store, clock)
    clock.advance(hours=2)
    pleo.token_failure = (status, body)
    with client_for(pleo, auth) as client:
        with pytest.raises(ReauthorizationRequired, match=f"HTTP {status}"):
            client.get("/x")
        assert auth.stopped
        for _ in range(3):
            with pytest.raises(ReauthorizationRequired):
                client.get("/x")
    assert len(pleo.token_requests) == 1
    assert pleo.api_requests == []


def test_rule15_set_tokens_resumes_after_a_stop(
    pleo: FakePleo, store: RecordingStore, clock: FakeClock
) -> None:
    auth = make_auth(store, clock)
    clock.advance(hours=2)
    pleo.token_failure = (400, {"error": "invalid_grant"})
    with client_for(pleo, auth) as client:
        with pytest.raises(ReauthorizationRequired):
            client.get("/x")
        pleo.valid_access.add("access-new")
        fresh = TokenSet("access-new", "refresh-new", clock() + timedelta(hours=1))
        auth.set_tokens(fresh)
        assert not auth.stopped
        assert store.load() == fresh
        assert client.get("/x").status_code == 200
    assert pleo.bearer_of(pleo.api_requests[-1]) == "access-new"


def test_rule15_transient_token_endpoint_error_does_not_stop(
    pleo: FakePleo, store: RecordingStore, clock: FakeClock
) -> None:
    auth = make_auth(store, clock)
    clock.advance(hours=2)
    pleo.token_failure = (503, {})
    with client_for(pleo, auth) as client:
        with pytest.raises(ServerError):
            client.get("/x")
        assert not auth.stopped
        pleo.token_failure = None
        assert client.get("/x").status_code == 200
    # The refresh token was not spent by the 503, so it is presented again, once.
    assert pleo.presented_refresh == ["refresh-0"]


def test_malformed_token_response_is_a_validation_error(
    pleo: FakePleo, store: RecordingStore, clock: FakeClock
) -> None:
    auth = make_auth(store, clock)
    clock.advance(hours=2)
    pleo.token_failure = (200, {"refresh_token": "r", "expires_in": "soon"})
    with client_for(pleo, auth) as client, pytest.raises(ResponseValidationError) as info:
        client.get("/x")
    assert "$.access_token" in str(info.value)
    assert "$.expires_in" in info.value.errors[1]


def test_no_stored_tokens_raises_without_network(pleo: FakePleo, clock: FakeClock) -> None:
    auth = make_auth(MemoryTokenStore(), clock)
    with client_for(pleo, auth) as client, pytest.raises(ReauthorizationRequired, match="no OAuth"):
        client.get("/x")
    assert pleo.token_requests == []
    assert pleo.api_requests == []


def test_rule7_missing_refresh_token_stops_at_expiry(pleo: FakePleo, clock: FakeClock) -> None:
    store = MemoryTokenStore(TokenSet("access-0", None, clock() + timedelta(hours=1)))
    auth = make_auth(store, clock)
    clock.advance(hours=2)
    with client_for(pleo, auth) as client, pytest.raises(ReauthorizationRequired):
        client.get("/x")
    assert pleo.token_requests == []


# ---- 401 from the API (rule 16) --------------------------------------------------------------


def test_rule16_401_refreshes_once_and_retries_once(
    pleo: FakePleo, store: RecordingStore, clock: FakeClock
) -> None:
    auth = make_auth(store, clock)
    pleo.valid_access.clear()  # access-0 revoked before its expiry
    with client_for(pleo, auth) as client:
        response = client.post("/v1/things", json={"a": 1})
    assert response.status_code == 200
    assert [pleo.bearer_of(r) for r in pleo.api_requests] == ["access-0", "access-1"]
    assert len(pleo.token_requests) == 1
    # The retried request carries the same body.
    assert pleo.api_requests[1].content == pleo.api_requests[0].content == b'{"a":1}'


def test_rule16_second_401_raises_and_does_not_loop(
    pleo: FakePleo, store: RecordingStore, clock: FakeClock
) -> None:
    auth = make_auth(store, clock)
    pleo.api_always_401 = True
    with client_for(pleo, auth) as client:
        with pytest.raises(ReauthorizationRequired, match="401"):
            client.get("/x")
        assert len(pleo.api_requests) == 2
        assert len(pleo.token_requests) == 1
        with pytest.raises(ReauthorizationRequired):
            client.get("/x")
    assert len(pleo.api_requests) == 2
    assert len(pleo.token_requests) == 1


def test_rule16_async_401_refreshes_once_and_retries_once(
    pleo: FakePleo, store: RecordingStore, clock: FakeClock
) -> None:
    auth = make_auth(store, clock)
    pleo.valid_access.clear()

    async def run() -> int:
        async with async_client_for(pleo, auth) as client:
            return (await client.get("/x")).status_code

    assert asyncio.run(run()) == 200
    assert [pleo.bearer_of(r) for r in pleo.api_requests] == ["access-0", "access-1"]


def test_rule16_async_second_401_raises_and_does_not_loop(
    pleo: FakePleo, store: RecordingStore, clock: FakeClock
) -> None:
    """The async flow stops like the blocking one: one refresh, one retry, then reauthorize."""
    auth = make_auth(store, clock)
    pleo.api_always_401 = True

    async def run() -> None:
        async with async_client_for(pleo, auth) as client:
            with pytest.raises(ReauthorizationRequired, match="401"):
                await client.get("/x")

    asyncio.run(run())
    assert len(pleo.api_requests) == 2
    assert len(pleo.token_requests) == 1


def test_async_refresh_rotation_and_stop(
    pleo: FakePleo, store: RecordingStore, clock: FakeClock
) -> None:
    auth = make_auth(store, clock)

    async def run() -> None:
        async with async_client_for(pleo, auth) as client:
            clock.advance(hours=2)
            assert (await client.get("/x")).status_code == 200
            clock.advance(hours=2)
            pleo.token_failure = (400, {"error": "invalid_grant"})
            with pytest.raises(ReauthorizationRequired):
                await client.get("/x")
            with pytest.raises(ReauthorizationRequired):
                await client.get("/x")

    asyncio.run(run())
    assert pleo.presented_refresh == ["refresh-0"]
    assert len(pleo.token_requests) == 2
    assert store.load().refresh_token == "refresh-1"  # type: ignore[union-attr]


def test_async_auth_works_across_event_loops(
    pleo: FakePleo, store: RecordingStore, clock: FakeClock
) -> None:
    auth = make_auth(store, clock)

    async def once() -> int:
        async with async_client_for(pleo, auth) as client:
            clock.advance(hours=2)
            return (await client.get("/x")).status_code

    assert asyncio.run(once()) == 200
    assert asyncio.run(once()) == 200
    assert pleo.presented_refresh == ["refresh-0", "refresh-1"]


# ---- secrets stay secret (rules 6, 7; DESIGN "no secret in any log line, repr or message") --


SECRETS = [CLIENT_SECRET, "access-0", "refresh-0", "access-1", "refresh-1"]


def test_rule6_client_secret_never_sent_to_the_api_host(
    pleo: FakePleo, store: RecordingStore, clock: FakeClock
) -> None:
    auth = make_auth(store, clock, client_auth="client_secret_post")
    pleo.valid_access.clear()
    with client_for(pleo, auth) as client:
        clock.advance(hours=2)
        client.get("/x")
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode())
    for request in pleo.api_requests:
        assert request.url.host == "external.staging.pleo.io"
        wire = str(request.headers).encode() + request.content + str(request.url).encode()
        assert CLIENT_SECRET.encode() not in wire
        assert basic not in wire


def test_secrets_never_in_logs_reprs_or_error_messages(
    pleo: FakePleo, store: RecordingStore, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="pleo_erp")
    auth = make_auth(store, clock)
    messages: list[str] = []
    with client_for(pleo, auth) as client:
        clock.advance(hours=2)
        client.get("/x")  # a successful refresh, logged
        clock.advance(hours=2)
        pleo.token_failure = (400, {"error": "invalid_grant", "error_description": "refresh-1"})
        for _ in range(2):
            try:
                client.get("/x")
            except ReauthorizationRequired as exc:
                messages.append(str(exc))
                messages.append(repr(exc))
    assert len(messages) == 4
    texts = [caplog.text, repr(auth), str(auth), repr(auth.tokens), str(auth.tokens), repr(store)]
    texts += messages
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, (secret, text)
    assert "client_secret='***'" in repr(auth)
    assert "access_token='***'" in repr(auth.tokens)
    assert "invalid_grant" in messages[0]  # the OAuth error code is kept: it is not a secret


def test_tokenset_requires_aware_expiry() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        TokenSet("a", "r", datetime(2025, 1, 1))


def test_tokenset_from_response_keeps_previous_refresh_token_when_not_rotated() -> None:
    tokens = TokenSet.from_token_response(
        {"access_token": "a", "expires_in": 60}, now=T0, previous_refresh_token="r-old"
    )
    assert tokens.refresh_token == "r-old"
    assert tokens.expires_at == T0 + timedelta(seconds=60)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"client_id": ""}, "client_id"),
        ({"client_id": "a:b"}, "client_id"),
        ({"client_secret": ""}, "client_secret"),
        ({"client_auth": "private_key_jwt"}, "client_auth"),
        ({"refresh_margin": timedelta(seconds=-1)}, "refresh_margin"),
    ],
)
def test_constructor_validation(kwargs: dict[str, Any], match: str) -> None:
    args: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "token_store": MemoryTokenStore(),
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        OAuth2Auth(**args)


def test_default_token_urls() -> None:
    store = MemoryTokenStore()
    assert OAuth2Auth("c", "s", store).token_url == "https://auth.pleo.io/oauth/token"
    staging = OAuth2Auth("c", "s", store, environment="staging")
    assert staging.token_url == "https://auth.staging.pleo.io/oauth/token"


def test_memory_store_is_a_token_store() -> None:
    store: Callable[[], TokenStore] = MemoryTokenStore
    assert isinstance(store(), TokenStore)
