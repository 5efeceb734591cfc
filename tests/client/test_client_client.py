"""``PleoClient`` / ``AsyncPleoClient`` behaviour beyond single operations: construction,
options, ownership, async retries and rate limiting, thread safety, secrets."""

from __future__ import annotations

import asyncio
import base64
import logging
import ssl
import sys
import threading
import uuid

import httpx
import pytest
from pytest_httpx import HTTPXMock

from pleo_erp._version import __version__
from pleo_erp.client import (
    PRODUCTION,
    STAGING,
    ApiKeyAuth,
    AsyncPleoClient,
    ClientOptions,
    PleoClient,
    PleoTimeoutError,
    RateLimiter,
    ServerError,
)
from pleo_erp.client._client import RESOURCES

KEY = "sk_client_secret_value_42"
JOB = uuid.UUID("6f1c1a52-8e0b-4a57-9a59-2f6f2d7c3a10")
JOB_URL = f"{PRODUCTION}/v3/export-jobs/{JOB}"
JOB_JSON = {
    "data": {
        "id": str(JOB),
        "companyId": str(uuid.UUID(int=5)),
        "status": "in_progress",
        "createdAt": "2024-05-01T10:00:00Z",
        "expiresIn": 3600,
        "numberOfItems": 1,
        "isInteractive": False,
        "vendorBasedBookkeeping": True,
    }
}
SSL = ssl.create_default_context()


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)
        await asyncio.sleep(0)


def sync_client(fake: FakeTime, **kwargs: object) -> PleoClient:
    kwargs.setdefault("requests_per_minute", None)
    return PleoClient(
        ApiKeyAuth(KEY),
        http_client=httpx.Client(verify=SSL),
        sleep=fake.sleep,
        clock=fake.clock,
        wall_clock=fake.clock,
        random=lambda: 1.0,
        **kwargs,  # type: ignore[arg-type]
    )


# -- construction ------------------------------------------------------------------------------


@pytest.mark.rule("accounts-1")
@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("production", PRODUCTION),
        ("staging", STAGING),
        (STAGING + "/", STAGING),
        ("http://127.0.0.1:8123/pleo/", "http://127.0.0.1:8123/pleo"),
    ],
)
def test_a1_environments_and_custom_base_urls(given: str, expected: str) -> None:
    """Accounts rule 1: named environments, custom URLs allowed, no trailing slash kept."""
    with PleoClient(ApiKeyAuth(KEY), base_url=given, http_client=httpx.Client(verify=SSL)) as c:
        assert c.base_url == expected


def test_default_base_url_is_production() -> None:
    with PleoClient(ApiKeyAuth(KEY), http_client=httpx.Client(verify=SSL)) as client:
        assert client.base_url == "https://external.pleo.io"


@pytest.mark.rule("export-1")
@pytest.mark.parametrize(
    "bad",
    ["https://api.pleo.io", "ftp://external.pleo.io", "external.pleo.io", "https://u:p@h.io"],
)
def test_e1_bad_base_urls_refused(bad: str) -> None:
    """Export rule 1: never api.pleo.io; only http(s) URLs without credentials."""
    with pytest.raises(ValueError, match=r"base_url|api\.pleo\.io"):
        PleoClient(ApiKeyAuth(KEY), base_url=bad)


def test_auth_must_be_an_httpx_auth_and_is_never_echoed() -> None:
    with pytest.raises(TypeError) as info:
        PleoClient(KEY)  # type: ignore[arg-type]
    assert KEY not in str(info.value)
    assert "ApiKeyAuth" in str(info.value)


def test_repr_shows_settings_not_credentials() -> None:
    with sync_client(FakeTime(), requests_per_minute=500) as client:
        text = repr(client)
    assert "external.pleo.io" in text
    assert "requests_per_minute=500" in text
    assert KEY not in text
    assert base64.b64encode(f"{KEY}:".encode()).decode() not in text


def test_user_agent_names_versions(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=JOB_URL, json=JOB_JSON)
    with sync_client(FakeTime()) as client:
        client.export_jobs.get(JOB)
    request = httpx_mock.get_request()
    assert request is not None
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert request.headers["User-Agent"] == (
        f"pleo-erp/{__version__} python/{python} httpx/{httpx.__version__}"
    )


def test_default_headers_and_timeout_applied(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=JOB_URL, json=JOB_JSON)
    with sync_client(FakeTime(), default_headers={"X-Integration": "erp-1"}, timeout=5.0) as c:
        c.export_jobs.get(JOB)
    request = httpx_mock.get_request()
    assert request is not None
    assert request.headers["X-Integration"] == "erp-1"
    assert request.extensions["timeout"] == {"connect": 5.0, "read": 5.0, "write": 5.0, "pool": 5.0}


# -- ownership and options -----------------------------------------------------------------------


def test_close_closes_only_an_owned_pool() -> None:
    injected = httpx.Client(verify=SSL)
    with PleoClient(ApiKeyAuth(KEY), http_client=injected):
        pass
    assert not injected.is_closed
    own = PleoClient(ApiKeyAuth(KEY))
    own.close()
    assert own._transport.http.is_closed
    injected.close()


def test_with_options_shares_pool_limiter_and_counter(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=JOB_URL, status_code=503)
    httpx_mock.add_response(url=JOB_URL, status_code=503)
    fake = FakeTime()
    client = sync_client(fake, requests_per_minute=500)
    strict = client.with_options(max_retries=0)
    assert strict.max_retries == 0
    assert client.max_retries == 3
    assert strict.rate_limiter is client.rate_limiter
    assert strict._transport.http is client._transport.http
    with pytest.raises(ServerError):
        strict.export_jobs.get(JOB)
    with pytest.raises(ServerError):
        client.with_options(max_retries=0, timeout=1.0).export_jobs.get(JOB)
    assert client.request_count == 2  # shared counter: one attempt each
    strict.close()
    assert not client._transport.http.is_closed


@pytest.mark.parametrize("client_class", [PleoClient, AsyncPleoClient])
def test_shared_options_are_checked_like_a_plain_signature(client_class: type) -> None:
    """Both clients take their shared options as one ``ClientOptions`` (PEP 692): a misspelt
    option is a ``TypeError`` naming it, as with a spelled-out signature."""
    with pytest.raises(TypeError, match="unexpected keyword argument 'max_retrys'"):
        client_class(ApiKeyAuth(KEY), max_retrys=1)
    options: ClientOptions = {"base_url": "staging", "max_retries": 1, "timeout": 2.0}
    client = client_class(ApiKeyAuth(KEY), **options)
    assert (client.base_url, client.max_retries) == (STAGING, 1)
    assert client._core.config.timeout == httpx.Timeout(2.0)


@pytest.mark.parametrize("client_class", [PleoClient, AsyncPleoClient])
def test_every_resource_attribute_is_bound_with_its_own_flavour(client_class: type) -> None:
    """The resource table binds each declared attribute; blocking and async never mix."""
    client = client_class(ApiKeyAuth(KEY))
    declared = {
        name
        for name, annotation in client_class.__annotations__.items()
        if not name.startswith("_")
    }
    assert declared == set(RESOURCES)
    for name, (blocking, awaitable) in RESOURCES.items():
        expected = awaitable if client_class is AsyncPleoClient else blocking
        assert type(getattr(client, name)) is expected
        assert type(getattr(client.with_options(max_retries=0), name)) is expected
    assert type(client.with_options(max_retries=0)) is client_class


# -- async -------------------------------------------------------------------------------------


def test_async_retries_use_the_async_sleep(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=JOB_URL, status_code=502)
    httpx_mock.add_response(url=JOB_URL, status_code=429, headers={"Retry-After": "3"})
    httpx_mock.add_response(url=JOB_URL, json=JOB_JSON)
    fake = FakeTime()

    async def main() -> uuid.UUID:
        async with (
            httpx.AsyncClient(verify=SSL) as http,
            AsyncPleoClient(
                ApiKeyAuth(KEY),
                http_client=http,
                sleep=fake.async_sleep,
                clock=fake.clock,
                wall_clock=fake.clock,
                random=lambda: 1.0,
                requests_per_minute=None,
            ) as client,
        ):
            job = await client.export_jobs.get(JOB)
            assert client.request_count == 3
            return job.id

    assert asyncio.run(main()) == JOB
    assert fake.sleeps == [0.5, 3.0]


def test_async_post_not_resent_after_read_timeout(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_exception(httpx.ReadTimeout("slow"), method="POST")

    async def main() -> None:
        async with (
            httpx.AsyncClient(verify=SSL) as http,
            AsyncPleoClient(ApiKeyAuth(KEY), http_client=http, requests_per_minute=None) as c,
        ):
            await c.export_jobs.send_event(JOB, "completed")

    with pytest.raises(PleoTimeoutError, match="may have reached Pleo"):
        asyncio.run(main())
    assert len(httpx_mock.get_requests()) == 1


def test_async_rate_limiting_queues_tasks_without_blocking(httpx_mock: HTTPXMock) -> None:
    """Five concurrent tasks on a 60/min limiter (burst 1): waits of 1, 2, 3, 4 seconds."""
    httpx_mock.add_response(url=JOB_URL, json=JOB_JSON, is_reusable=True)
    fake = FakeTime()
    limiter = RateLimiter(60, burst=1, clock=fake.clock)

    async def main() -> None:
        async with (
            httpx.AsyncClient(verify=SSL) as http,
            AsyncPleoClient(
                ApiKeyAuth(KEY), http_client=http, sleep=fake.async_sleep, rate_limiter=limiter
            ) as client,
        ):
            await asyncio.gather(*(client.export_jobs.get(JOB) for _ in range(5)))

    asyncio.run(main())
    assert sorted(fake.sleeps) == [1.0, 2.0, 3.0, 4.0]


# -- threads -----------------------------------------------------------------------------------


def test_sync_client_is_thread_safe_with_its_limiter(httpx_mock: HTTPXMock) -> None:
    """10 threads x 10 calls through one client: 100 requests, every limiter slot distinct."""
    httpx_mock.add_response(url=JOB_URL, json=JOB_JSON, is_reusable=True)
    fake = FakeTime()
    limiter = RateLimiter(600, burst=10, clock=fake.clock)
    client = sync_client(fake, rate_limiter=limiter)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(10):
                client.export_jobs.get(JOB)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert client.request_count == 100
    assert sorted(round(s, 6) for s in fake.sleeps) == [round(0.1 * n, 6) for n in range(1, 91)]
    client.close()


def test_default_limiter_is_500_per_minute() -> None:
    with sync_client(FakeTime(), requests_per_minute=500) as client:
        assert client.rate_limiter is not None
        assert client.rate_limiter.requests_per_minute == 500
    with sync_client(FakeTime()) as client:
        assert client.rate_limiter is None


# -- secrets in logs ---------------------------------------------------------------------------


def test_no_secret_in_logs_or_errors_end_to_end(
    httpx_mock: HTTPXMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    httpx_mock.add_response(method="POST", status_code=503)
    httpx_mock.add_response(
        method="POST", status_code=409, json={"type": "CONFLICT", "message": "exists"}
    )
    with sync_client(FakeTime()) as client, pytest.raises(Exception) as info:
        client.subscriptions.create(
            "https://erp.example.com/hook",
            ["v1.export-job.created"],
            custom_headers={"X-Hook-Token": "hook-token-value"},
            endpoint_auth={"type": "BASIC", "credentials": {"username": "u", "password": "pw-9"}},
        )
    text = caplog.text + str(info.value) + repr(info.value) + repr(info.value.headers)  # type: ignore[attr-defined]
    for secret in (KEY, "hook-token-value", "pw-9", base64.b64encode(f"{KEY}:".encode()).decode()):
        assert secret not in text
    assert "POST /v1/subscriptions -> HTTP 503" in caplog.text
