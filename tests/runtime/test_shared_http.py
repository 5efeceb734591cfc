"""One shared ``httpx.Client`` per process for every run (``SharedHttpClients``).

The reference connection factory (``pleo-erp serve``) used to build a new ``httpx.Client`` per
run (a fresh SSL context, ≈100 ms of CPU, and a TLS handshake). Runs now share one client per
base URL; each run's ``PleoClient`` still carries its own credential, and no cookie travels
from one company's requests to another's.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import httpx
import pytest

import pleo_erp.cli._runtime as cli_runtime
from pleo_erp.client import PleoClient
from pleo_erp.client.auth import MemoryTokenStore, TokenSet
from pleo_erp.orchestration import ScheduledLevel
from pleo_erp.runtime import Connection, SharedHttpClients
from pleo_erp.runtime.shared_http import new_shared_http_client

BASE_URL = "https://external.pleo.test"
COMPANIES = {UUID(int=1): "token-of-company-1", UUID(int=2): "token-of-company-2"}
T0 = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)


class _Recorder:
    """A mock Pleo: records each request's Authorization and Cookie; sets a session cookie."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: list[tuple[str | None, str | None, str | None]] = []
        self.clients_built = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.seen.append(
                (
                    request.url.params.get("who"),
                    request.headers.get("authorization"),
                    request.headers.get("cookie"),
                )
            )
        company = request.url.params.get("who")
        return httpx.Response(
            200,
            headers={"set-cookie": f"session={company}; Path=/"},
            json={"data": {"authMethod": "OAUTH", "subjectURN": f"urn:pleo:company:{company}"}},
        )

    def new_client(self) -> httpx.Client:
        self.clients_built += 1
        shared = new_shared_http_client()  # the real cookie policy, with a mock transport
        return httpx.Client(
            follow_redirects=False,
            cookies=shared.cookies.jar,
            transport=httpx.MockTransport(self.handler),
        )


def _connection(company: UUID) -> Connection:
    return Connection(
        company_id=company,
        auth_kind="oauth",
        token_key=f"oauth:{company}",
        adapter="beancount",
        settings={"ledger": "unused.beancount"},
        levels=(ScheduledLevel.EXPORT,),
        cadence={ScheduledLevel.EXPORT: timedelta(minutes=5)},
        created_at=T0,
    )


def _tokens(access: str) -> TokenSet:
    return TokenSet(
        access_token=access,
        refresh_token="refresh",
        expires_at=datetime.now(timezone.utc) + timedelta(days=1),
    )


@pytest.fixture
def factory(
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[cli_runtime.BeancountConnectionFactory, _Recorder]:
    """The reference factory with two OAuth connections, each with its own access token."""
    monkeypatch.setattr(cli_runtime, "open_ledger", lambda path: SimpleNamespace(path=path))
    monkeypatch.setattr(cli_runtime, "token_url_for", lambda settings, base: f"{base}/token")
    stores = {f"oauth:{c}": MemoryTokenStore(_tokens(t)) for c, t in COMPANIES.items()}
    secret = SimpleNamespace(reveal=lambda: "client-secret")
    ctx: Any = SimpleNamespace(
        settings=SimpleNamespace(client_id="client-id", client_secret=secret),
        base_url=lambda: BASE_URL,
        args=SimpleNamespace(max_retries=0),
    )
    state: Any = SimpleNamespace(token_store=stores.__getitem__)
    recorder = _Recorder()
    shared = SharedHttpClients(recorder.new_client)
    return cli_runtime.BeancountConnectionFactory(ctx, state, http=shared), recorder


def test_runs_share_one_http_client_per_process(
    factory: tuple[cli_runtime.BeancountConnectionFactory, _Recorder],
) -> None:
    built, recorder = factory
    clients = [built.build(_connection(company))[0] for company in COMPANIES for _ in range(3)]
    assert len({id(c.http_client) for c in clients}) == 1
    assert recorder.clients_built == 1
    for client in clients:
        client.close()  # the runtime closes each run's client: the shared one stays open
    assert not clients[0].http_client.is_closed


def test_two_connections_through_the_shared_client_send_each_its_own_authorization(
    factory: tuple[cli_runtime.BeancountConnectionFactory, _Recorder],
) -> None:
    """No credential leaks between companies: each request carries its run's token."""
    built, recorder = factory
    barrier = threading.Barrier(len(COMPANIES))
    errors: list[BaseException] = []

    def worker(company: UUID) -> None:
        try:
            barrier.wait(timeout=10)
            for _ in range(20):
                client = built.build(_connection(company))[0]
                request = client.http_client.build_request(
                    "GET", f"{BASE_URL}/v1/introspect", params={"who": str(company)}
                )
                client.http_client.send(request, auth=_auth_of(client)).read()
                client.introspect()
                client.close()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(c,)) for c in COMPANIES]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    tagged = [(who, auth) for who, auth, _ in recorder.seen if who is not None]
    assert len(tagged) == 2 * 20
    for who, auth in tagged:
        assert auth == f"Bearer {COMPANIES[UUID(who)]}"
    untagged = {auth for who, auth, _ in recorder.seen if who is None}
    assert untagged == {f"Bearer {token}" for token in COMPANIES.values()}
    assert recorder.clients_built == 1


def test_the_shared_client_keeps_no_cookie_from_one_company_for_another(
    factory: tuple[cli_runtime.BeancountConnectionFactory, _Recorder],
) -> None:
    built, recorder = factory
    first, second = (built.build(_connection(c))[0] for c in COMPANIES)
    for client, company in ((first, UUID(int=1)), (second, UUID(int=2))):
        request = client.http_client.build_request(
            "GET", f"{BASE_URL}/v1/x", params={"who": str(company)}
        )
        client.http_client.send(request, auth=_auth_of(client)).read()
    assert [cookie for _, _, cookie in recorder.seen] == [None, None]
    assert len(first.http_client.cookies) == 0


def test_closing_the_factory_closes_the_shared_client(
    factory: tuple[cli_runtime.BeancountConnectionFactory, _Recorder],
) -> None:
    built, _ = factory
    client = built.build(_connection(UUID(int=1)))[0]
    built.close()
    assert client.http_client.is_closed
    built.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        built.build(_connection(UUID(int=2)))


def test_one_shared_client_per_base_url() -> None:
    with SharedHttpClients() as shared:
        a, b = shared.get("https://a.test"), shared.get("https://b.test")
        assert a is not b
        assert shared.get("https://a.test") is a
        assert len(shared) == 2
    assert a.is_closed
    assert b.is_closed
    assert len(shared) == 0


def _auth_of(client: PleoClient) -> httpx.Auth | None:
    """The credential the run's client applies to each of its requests."""
    auth: httpx.Auth | None = client._transport.core.config.auth
    return auth


def test_the_runs_credential_is_per_request_not_on_the_shared_client(
    factory: tuple[cli_runtime.BeancountConnectionFactory, _Recorder],
) -> None:
    """The shared client has no auth of its own: a request sent without the run's credential
    goes out without an Authorization header (nothing is left behind by earlier runs)."""
    built, recorder = factory
    client = built.build(_connection(UUID(int=1)))[0]
    client.introspect()
    bare = client.http_client.build_request("GET", f"{BASE_URL}/v1/x", params={"who": "bare"})
    client.http_client.send(bare).read()
    assert recorder.seen[-1] == ("bare", None, None)
