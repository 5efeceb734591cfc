"""Transport behaviour: headers, retries and idempotency, Retry-After, error mapping, logging.

Everything runs against pytest-httpx with an injected clock/sleep/random: no real sleeps.
Rule ids (``export-N``, ``accounts-N``) resolve in docs/rules.md
(Pleo's integration rules).
"""

from __future__ import annotations

import base64
import email.utils
import logging
import re
import uuid
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock

from pleo_erp.client._logging import REDACTED, redact_headers, safe_path
from pleo_erp.client._ratelimit import RateLimiter
from pleo_erp.client._request import Call, encode_json, query
from pleo_erp.client._retry import RetryPolicy, parse_retry_after
from pleo_erp.client._transport import (
    JSON_CONTENT_TYPE,
    PRODUCTION,
    SyncTransport,
    TransportConfig,
    TransportCore,
    user_agent,
)
from pleo_erp.client.auth import ApiKeyAuth
from pleo_erp.client.errors import (
    AuthenticationError,
    BadRequest,
    Conflict,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    PleoAPIError,
    PleoConnectionError,
    PleoTimeoutError,
    RateLimited,
    ResponseValidationError,
    ServerError,
    Unprocessable,
)

SECRET_KEY = "sk_live_DO_NOT_LEAK_0123456789"
BASIC = "Basic " + base64.b64encode(f"{SECRET_KEY}:".encode()).decode()
NOW = 1_700_000_000.0
JOB_URL = f"{PRODUCTION}/v3/export-jobs/6f1c1a52-8e0b-4a57-9a59-2f6f2d7c3a10"


class FakeTime:
    """A clock that only moves when something sleeps."""

    def __init__(self, start: float = NOW) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def make_transport(
    fake: FakeTime,
    *,
    max_retries: int = 3,
    max_retry_after: float = 60.0,
    random: float = 1.0,
    limiter: RateLimiter | None = None,
    base_url: str = PRODUCTION,
) -> SyncTransport:
    config = TransportConfig(
        base_url=base_url,
        auth=ApiKeyAuth(SECRET_KEY),
        retry=RetryPolicy(max_retries=max_retries, max_retry_after=max_retry_after),
        limiter=limiter,
        headers={"Accept": "application/json", "User-Agent": user_agent()},
        clock=fake.monotonic,
        wall_clock=fake.time,
        random=lambda: random,
    )
    return SyncTransport(TransportCore(config), httpx.Client(), sleep=fake.sleep)


GET_JOB = Call("export_jobs.get", "GET", "/v3/export-jobs/6f1c1a52-8e0b-4a57-9a59-2f6f2d7c3a10")
CREATE_ACCOUNT = Call(
    "accounts.create",
    "POST",
    "/v1/chart-of-accounts",
    body={
        "companyId": str(uuid.UUID(int=1)),
        "externalId": "1000",
        "name": "Bank",
        "archived": False,
    },
    idempotent=False,
)
SEARCH_ACCOUNTS = Call(
    "accounts.search",
    "POST",
    "/v1/chart-of-accounts:search",
    body={"companyId": str(uuid.UUID(int=1))},
    idempotent=True,
)


# -- headers and request building ---------------------------------------------------------


@pytest.mark.rule("accounts-3", "accounts-5")
def test_a3_headers_user_agent_accept_and_auth(httpx_mock: HTTPXMock) -> None:
    """accounts-3/5: JSON Accept, exact Basic header from the key, User-Agent with versions."""
    httpx_mock.add_response(url=JOB_URL, json={"ok": True})
    transport = make_transport(FakeTime())
    assert transport.request(GET_JOB) == {"ok": True}
    request = httpx_mock.get_request()
    assert request is not None
    assert request.headers["Accept"] == "application/json"
    assert request.headers["Authorization"] == BASIC
    assert re.fullmatch(
        r"pleo-erp/\d+\.\d+\.\d+\S* python/3\.\d+ httpx/\d+\.\d+\.\d+\S*",
        request.headers["User-Agent"],
    )
    assert "Content-Type" not in request.headers  # no body, no content type
    assert request.extensions["timeout"]["connect"] == 10.0


@pytest.mark.rule("export-1")
def test_e1_json_body_content_type_and_encoding(httpx_mock: HTTPXMock) -> None:
    """Export rule 1: bodies go as ``application/json;charset=UTF-8``, compact UTF-8 JSON."""
    httpx_mock.add_response(method="POST", json={"data": {}}, status_code=201)
    transport = make_transport(FakeTime())
    call = Call("tags.create", "POST", "/v0/x", body={"name": "Café"}, idempotent=False)
    transport.request(call)
    request = httpx_mock.get_request()
    assert request is not None
    assert request.headers["Content-Type"] == JSON_CONTENT_TYPE
    assert request.content == '{"name":"Café"}'.encode()


@pytest.mark.rule("accounts-2", "export-4")
def test_base_url_with_path_prefix_and_repeated_query(httpx_mock: HTTPXMock) -> None:
    """accounts-2: base URL + versioned path, nothing added; export-4: repeated ``statuses``."""
    httpx_mock.add_response(json={})
    transport = make_transport(FakeTime(), base_url="http://127.0.0.1:8080/pleo")
    call = Call(
        "export_jobs.list",
        "GET",
        "/v3/export-jobs",
        query(company_id=uuid.UUID(int=7), statuses=["pending", "in_progress"], flag=True),
    )
    transport.request(call)
    request = httpx_mock.get_request()
    assert request is not None
    assert request.url.path == "/pleo/v3/export-jobs"
    assert request.url.params.get_list("statuses") == ["pending", "in_progress"]
    assert request.url.params["company_id"] == str(uuid.UUID(int=7))
    assert request.url.params["flag"] == "true"


def test_encode_json_exact_types() -> None:
    """UUIDs, aware datetimes (``Z``), dates and exact Decimals encode; lossy ones refuse."""
    import datetime as dt
    from decimal import Decimal

    body = {
        "id": uuid.UUID(int=3),
        "at": dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc),
        "on": dt.date(2024, 1, 2),
        "rate": Decimal("0.25"),
        "whole": Decimal("12"),
    }
    assert encode_json(body) == (
        b'{"id":"00000000-0000-0000-0000-000000000003","at":"2024-01-02T03:04:05Z",'
        b'"on":"2024-01-02","rate":0.25,"whole":12}'
    )
    with pytest.raises(ValueError, match="precision"):
        encode_json({"rate": Decimal("0.1234567890123456789")})
    with pytest.raises(ValueError, match="naive"):
        encode_json({"at": dt.datetime(2024, 1, 1)})


def test_empty_and_invalid_json_bodies(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=202)
    httpx_mock.add_response(text="<html>not json</html>")
    transport = make_transport(FakeTime())
    assert transport.request(GET_JOB) is None
    with pytest.raises(ResponseValidationError) as info:
        transport.request(GET_JOB)
    assert info.value.path == "$"


def test_decimal_numbers_are_parsed_exactly(httpx_mock: HTTPXMock) -> None:
    """Money and rates never pass through float."""
    from decimal import Decimal

    httpx_mock.add_response(content=b'{"rate": 0.1, "value": 89696}')
    body = make_transport(FakeTime()).request(GET_JOB)
    assert body == {"rate": Decimal("0.1"), "value": 89696}
    assert isinstance(body["rate"], Decimal)


# -- retries ---------------------------------------------------------------------------------


@pytest.mark.rule("export-18")
def test_e18_backoff_grows_exponentially_with_full_jitter(httpx_mock: HTTPXMock) -> None:
    """Export rule 18: 5xx retried with exponential backoff; jitter scales the ceiling."""
    for _ in range(3):
        httpx_mock.add_response(url=JOB_URL, status_code=503)
    httpx_mock.add_response(url=JOB_URL, json={"ok": 1})
    fake = FakeTime()
    assert make_transport(fake, random=1.0).request(GET_JOB) == {"ok": 1}
    assert fake.sleeps == [0.5, 1.0, 2.0]
    assert len(httpx_mock.get_requests()) == 4


def test_full_jitter_uses_injected_random() -> None:
    policy = RetryPolicy(initial_backoff=1.0, max_backoff=8.0)
    assert policy.backoff(0, lambda: 0.5) == 0.5
    assert policy.backoff(3, lambda: 0.25) == 2.0  # ceiling 8
    assert policy.backoff(10, lambda: 1.0) == 8.0  # capped
    assert policy.backoff(10_000, lambda: 0.0) == 0.0  # no overflow


def test_max_attempts_then_server_error(httpx_mock: HTTPXMock) -> None:
    """Attempts are capped: max_retries=2 means three requests, then the typed error."""
    for _ in range(3):
        httpx_mock.add_response(url=JOB_URL, status_code=500, json={"type": "INTERNAL"})
    fake = FakeTime()
    with pytest.raises(ServerError) as info:
        make_transport(fake, max_retries=2).request(GET_JOB)
    assert info.value.retryable is True
    assert info.value.status_code == 500
    assert len(httpx_mock.get_requests()) == 3
    assert len(fake.sleeps) == 2


def test_max_retries_zero_disables_retrying(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=JOB_URL, status_code=503)
    with pytest.raises(ServerError):
        make_transport(FakeTime(), max_retries=0).request(GET_JOB)
    assert len(httpx_mock.get_requests()) == 1


def test_retry_after_seconds_honoured(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=JOB_URL, status_code=429, headers={"Retry-After": "7"})
    httpx_mock.add_response(url=JOB_URL, json={})
    fake = FakeTime()
    make_transport(fake).request(GET_JOB)
    assert fake.sleeps == [7.0]


def test_retry_after_http_date_honoured_against_injected_clock(httpx_mock: HTTPXMock) -> None:
    when = email.utils.formatdate(NOW + 12, usegmt=True)
    httpx_mock.add_response(url=JOB_URL, status_code=503, headers={"Retry-After": when})
    httpx_mock.add_response(url=JOB_URL, json={})
    fake = FakeTime()
    make_transport(fake).request(GET_JOB)
    assert fake.sleeps == [12.0]


@pytest.mark.parametrize(
    ("header", "cap", "expected"),
    [
        ("3600", 60.0, 60.0),
        ("3600", 5.0, 5.0),
        (email.utils.formatdate(NOW + 7200, usegmt=True), 60.0, 60.0),
    ],
)
def test_retry_after_is_capped(
    httpx_mock: HTTPXMock, header: str, cap: float, expected: float
) -> None:
    httpx_mock.add_response(url=JOB_URL, status_code=429, headers={"Retry-After": header})
    httpx_mock.add_response(url=JOB_URL, json={})
    fake = FakeTime()
    make_transport(fake, max_retry_after=cap).request(GET_JOB)
    assert fake.sleeps == [expected]


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after(None, now=NOW) is None
    assert parse_retry_after("", now=NOW) is None
    assert parse_retry_after("1.5", now=NOW) == 1.5
    assert parse_retry_after("-3", now=NOW) == 0.0
    assert parse_retry_after("nan", now=NOW) is None
    assert parse_retry_after("soon", now=NOW) is None
    past = email.utils.formatdate(NOW - 100, usegmt=True)
    assert parse_retry_after(past, now=NOW) == 0.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 -0000", now=1445412480.0) == 0.0


def test_rate_limited_after_exhaustion_carries_retry_after(httpx_mock: HTTPXMock) -> None:
    for _ in range(2):
        httpx_mock.add_response(
            url=JOB_URL,
            status_code=429,
            headers={"Retry-After": "2"},
            json={"type": "too_many_requests", "message": "slow down"},
        )
    with pytest.raises(RateLimited) as info:
        make_transport(FakeTime(), max_retries=1).request(GET_JOB)
    assert info.value.retry_after == 2.0
    assert info.value.retryable is True
    assert info.value.is_type("TOO_MANY_REQUESTS")


@pytest.mark.rule("accounts-47")
@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequest),
        (401, AuthenticationError),
        (403, PermissionDenied),
        (404, NotFound),
        (409, Conflict),
        (413, PayloadTooLarge),
        (422, Unprocessable),
    ],
)
def test_a47_no_retry_on_client_errors(
    httpx_mock: HTTPXMock, status: int, cls: type[PleoAPIError]
) -> None:
    """Accounts rule 47: 400/401/403/404/409/422 (and 413) are answered once, never retried."""
    httpx_mock.add_response(url=JOB_URL, status_code=status, json={"type": "X", "message": "no"})
    fake = FakeTime()
    with pytest.raises(cls) as info:
        make_transport(fake).request(GET_JOB)
    assert type(info.value) is cls
    assert info.value.status_code == status
    assert info.value.retryable is False
    assert len(httpx_mock.get_requests()) == 1
    assert fake.sleeps == []


@pytest.mark.parametrize("status", [500, 502, 504])
def test_non_idempotent_post_not_resent_after_ambiguous_5xx(
    httpx_mock: HTTPXMock, status: int
) -> None:
    """A create that got 500/502/504 may have been processed: raise, never re-send."""
    httpx_mock.add_response(method="POST", status_code=status)
    with pytest.raises(ServerError):
        make_transport(FakeTime()).request(CREATE_ACCOUNT)
    assert len(httpx_mock.get_requests()) == 1


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ReadTimeout("read timed out"),
        httpx.ReadError("reset"),
        httpx.RemoteProtocolError("eof"),
    ],
)
def test_non_idempotent_post_not_resent_after_read_failure(
    httpx_mock: HTTPXMock, exc: httpx.TransportError
) -> None:
    httpx_mock.add_exception(exc, method="POST")
    with pytest.raises(PleoConnectionError) as info:
        make_transport(FakeTime()).request(CREATE_ACCOUNT)
    assert "may have reached Pleo" in str(info.value)
    assert isinstance(info.value, PleoTimeoutError) == isinstance(exc, httpx.TimeoutException)
    assert len(httpx_mock.get_requests()) == 1


@pytest.mark.parametrize(
    "first",
    [
        httpx.ConnectError("connection refused"),
        httpx.ConnectTimeout("connect timed out"),
        httpx.PoolTimeout("pool"),
    ],
)
def test_non_idempotent_post_resent_when_never_sent(
    httpx_mock: HTTPXMock, first: httpx.TransportError
) -> None:
    """A connect failure proves the create never reached Pleo: safe to send again."""
    httpx_mock.add_exception(first, method="POST")
    httpx_mock.add_response(method="POST", status_code=201, json={"data": {}})
    assert make_transport(FakeTime()).request(CREATE_ACCOUNT) == {"data": {}}
    assert len(httpx_mock.get_requests()) == 2


@pytest.mark.parametrize("status", [429, 503])
def test_non_idempotent_post_resent_when_refused(httpx_mock: HTTPXMock, status: int) -> None:
    httpx_mock.add_response(method="POST", status_code=status)
    httpx_mock.add_response(method="POST", status_code=201, json={"data": {}})
    assert make_transport(FakeTime()).request(CREATE_ACCOUNT) == {"data": {}}
    assert len(httpx_mock.get_requests()) == 2


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ReadTimeout("t"),
        httpx.ReadError("r"),
        httpx.WriteError("w"),
        httpx.RemoteProtocolError("p"),
    ],
)
def test_idempotent_calls_retried_after_read_failures(
    httpx_mock: HTTPXMock, exc: httpx.TransportError
) -> None:
    """GET and the read-only ``:search`` POST are re-sent after ambiguous failures."""
    httpx_mock.add_exception(exc, url=JOB_URL)
    httpx_mock.add_response(url=JOB_URL, json={"a": 1})
    httpx_mock.add_exception(exc, method="POST")
    httpx_mock.add_response(method="POST", json={"b": 2})
    transport = make_transport(FakeTime())
    assert transport.request(GET_JOB) == {"a": 1}
    assert transport.request(SEARCH_ACCOUNTS) == {"b": 2}
    assert len(httpx_mock.get_requests()) == 4


def test_connect_errors_exhausted_raise_connection_error(httpx_mock: HTTPXMock) -> None:
    for _ in range(4):
        httpx_mock.add_exception(httpx.ConnectError("refused"), url=JOB_URL)
    fake = FakeTime()
    with pytest.raises(PleoConnectionError) as info:
        make_transport(fake).request(GET_JOB)
    assert not isinstance(info.value, PleoTimeoutError)
    assert info.value.retryable is True
    assert len(fake.sleeps) == 3


def test_request_count_counts_every_attempt(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=JOB_URL, status_code=502)
    httpx_mock.add_response(url=JOB_URL, json={})
    transport = make_transport(FakeTime())
    transport.request(GET_JOB)
    assert transport.core.request_count == 2


# -- error mapping ----------------------------------------------------------------------------


@pytest.mark.rule("export-17")
def test_e17_error_type_case_insensitive_with_request_id(httpx_mock: HTTPXMock) -> None:
    """Export rule 17: ``type`` read case-insensitively; request id and raw body kept."""
    httpx_mock.add_response(
        url=JOB_URL,
        status_code=404,
        headers={"X-Request-Id": "req-123"},
        json={"type": "export_not_found", "message": "Export job not found."},
    )
    with pytest.raises(NotFound) as info:
        make_transport(FakeTime()).request(GET_JOB)
    error = info.value
    assert error.type == "EXPORT_NOT_FOUND"
    assert error.is_type("EXPORT_NOT_FOUND")
    assert error.is_type("export_not_found")
    assert error.message == "Export job not found."
    assert error.request_id == "req-123"
    assert error.body == {"type": "export_not_found", "message": "Export job not found."}
    assert error.method == "GET"
    assert error.path == httpx.URL(JOB_URL).path
    assert "req-123" in str(error)
    assert "EXPORT_NOT_FOUND" in str(error)


@pytest.mark.parametrize("header", ["request-id", "x-amzn-RequestId"])
def test_request_id_alternative_headers(httpx_mock: HTTPXMock, header: str) -> None:
    httpx_mock.add_response(
        url=JOB_URL, status_code=409, headers={header: "abc"}, json={"type": "t"}
    )
    with pytest.raises(Conflict) as info:
        make_transport(FakeTime()).request(GET_JOB)
    assert info.value.request_id == "abc"


def test_non_json_error_body_kept_raw(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=JOB_URL, status_code=400, text="<html>Bad</html>")
    with pytest.raises(BadRequest) as info:
        make_transport(FakeTime()).request(GET_JOB)
    assert info.value.body == "<html>Bad</html>"
    assert info.value.type is None
    assert info.value.message == "Bad Request"


@pytest.mark.parametrize(
    ("status", "cls", "body"),
    [
        (409, Conflict, {"message": "no type"}),  # "type" is required by ExceptionInfo
        (404, NotFound, {"type": 404, "message": "type is not a string"}),
        (422, Unprocessable, {"type": "X", "message": ["not", "a", "string"]}),
        (400, BadRequest, ["an", "array"]),
        (500, ServerError, "a JSON string"),
    ],
)
def test_error_body_not_fitting_exception_info_still_gives_the_typed_error(
    httpx_mock: HTTPXMock, status: int, cls: type[PleoAPIError], body: Any
) -> None:
    """The class comes from the status; a body the converter cannot read as ``ExceptionInfo``
    yields no ``type`` and the reason phrase as message, and is kept raw on ``.body``."""
    httpx_mock.add_response(url=JOB_URL, status_code=status, json=body)
    with pytest.raises(cls) as info:
        make_transport(FakeTime(), max_retries=0).request(GET_JOB)
    error = info.value
    assert type(error) is cls
    assert error.type is None
    assert error.message == httpx.codes.get_reason_phrase(status)
    assert error.body == body


def test_error_body_with_extra_keys_and_empty_fields(httpx_mock: HTTPXMock) -> None:
    """Unknown keys are ignored like in every response; an empty ``type``/``message`` counts
    as absent (no ``type``, reason-phrase message)."""
    httpx_mock.add_response(
        url=JOB_URL, status_code=409, json={"type": "DUPLICATE", "message": "dup", "extra": [1]}
    )
    httpx_mock.add_response(url=JOB_URL, status_code=409, json={"type": "", "message": ""})
    transport = make_transport(FakeTime())
    with pytest.raises(Conflict) as first:
        transport.request(GET_JOB)
    assert (first.value.type, first.value.message) == ("DUPLICATE", "dup")
    with pytest.raises(Conflict) as second:
        transport.request(GET_JOB)
    assert (second.value.type, second.value.message) == (None, "Conflict")


def test_error_without_reason_phrase_uses_a_scrubbed_excerpt(httpx_mock: HTTPXMock) -> None:
    """A status without a reason phrase (599) and a non-JSON body: the message is a one-line
    excerpt of at most 200 characters, with the request's credential and query removed even
    if the body echoes them."""
    secret_cursor = "SECRETCURSORVALUE"
    url = f"{PRODUCTION}/v3/export-items?job_id=42&after={secret_cursor}"
    echoed = f"proxy\nfailure for {url}\n  Authorization: {BASIC} " + "x" * 500
    httpx_mock.add_response(status_code=599, text=echoed)
    call = Call(
        "export_items.list", "GET", "/v3/export-items", (("job_id", "42"), ("after", secret_cursor))
    )
    with pytest.raises(ServerError) as info:
        make_transport(FakeTime(), max_retries=0).request(call)
    message = info.value.message
    assert message.startswith("proxy failure for /v3/export-items")
    assert len(message) <= 200
    assert "\n" not in message
    for secret in (SECRET_KEY, BASIC, BASIC.split()[1], secret_cursor):
        assert secret not in message
        assert secret not in str(info.value)
    assert info.value.body == echoed  # the raw body stays available to the caller


def test_empty_error_body_without_reason_phrase(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=JOB_URL, status_code=599)
    with pytest.raises(ServerError) as info:
        make_transport(FakeTime(), max_retries=0).request(GET_JOB)
    assert info.value.message == "request failed"
    assert info.value.body is None


def test_error_headers_redacted(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url=JOB_URL, status_code=404, headers={"Set-Cookie": "session=abc", "X-Trace": "t1"}
    )
    with pytest.raises(NotFound) as info:
        make_transport(FakeTime()).request(GET_JOB)
    assert info.value.headers["set-cookie"] == REDACTED
    assert info.value.headers["x-trace"] == "t1"


def test_connection_error_text_has_no_query_values(httpx_mock: HTTPXMock) -> None:
    secret_cursor = "SECRETCURSORVALUE"
    url = f"{PRODUCTION}/v3/export-items?job_id=42&after={secret_cursor}"
    httpx_mock.add_exception(httpx.ConnectError(f"failed to reach {url}"))
    call = Call(
        "export_items.list", "GET", "/v3/export-items", (("job_id", "42"), ("after", secret_cursor))
    )
    with pytest.raises(PleoConnectionError) as info:
        make_transport(FakeTime(), max_retries=0).request(call)
    assert secret_cursor not in str(info.value)
    assert "/v3/export-items" in str(info.value)


# -- logging and secrets ---------------------------------------------------------------------


def test_logging_lines_and_no_secret_anywhere(
    httpx_mock: HTTPXMock, caplog: pytest.LogCaptureFixture
) -> None:
    """DEBUG per response, WARNING per retry; never the key, its Basic form or query values."""
    caplog.set_level(logging.DEBUG, logger="pleo_erp")
    httpx_mock.add_response(status_code=503, headers={"x-request-id": "r-1"})
    httpx_mock.add_response(json={}, headers={"x-request-id": "r-2"})
    httpx_mock.add_response(status_code=401, json={"type": "unauthorized", "message": "bad key"})
    transport = make_transport(FakeTime())
    call = Call("export_jobs.list", "GET", "/v3/export-jobs", (("company_id", "c0ffee"),))
    transport.request(call)
    with pytest.raises(PleoAPIError) as info:
        transport.request(call)
    records = [r for r in caplog.records if r.name == "pleo_erp.http"]
    warnings = [r for r in records if r.levelno == logging.WARNING]
    debugs = [r for r in records if r.levelno == logging.DEBUG]
    assert len(warnings) == 1
    assert "503" in warnings[0].getMessage()
    assert "attempt 1 of 4" in warnings[0].getMessage()
    success = debugs[0].getMessage()
    assert "GET /v3/export-jobs?company_id -> 200" in success
    assert "attempt 2" in success
    assert "request id r-2" in success
    assert " ms" in success
    everything = caplog.text + repr(info.value) + str(info.value) + repr(transport.core.config)
    for secret in (SECRET_KEY, BASIC, BASIC.split()[1], "c0ffee"):
        assert secret not in everything


def test_redact_headers_and_safe_path() -> None:
    headers = {
        "Authorization": "Bearer abc",
        "Cookie": "a=b",
        "X-Api-Key": "k",
        "webhook-secret": "whsec_x",
        "X-Pleo-Token": "t",
        "Client-Secret": "s",
        "Content-Type": "application/json",
    }
    redacted = redact_headers(headers)
    assert redacted["Content-Type"] == "application/json"
    assert all(v == REDACTED for k, v in redacted.items() if k != "Content-Type")
    assert redact_headers(httpx.Headers([("Set-Cookie", "a"), ("Set-Cookie", "b")])) == {
        "set-cookie": f"{REDACTED}, {REDACTED}"
    }
    url = httpx.URL("https://u:p@external.pleo.io/v3/x?company_id=1&after=ABC&after=DEF#frag")
    assert safe_path(url) == "/v3/x?company_id&after"
    assert safe_path(httpx.URL("https://external.pleo.io/v3/x")) == "/v3/x"


def test_repr_of_config_and_auth_hide_credentials() -> None:
    transport = make_transport(FakeTime())
    assert SECRET_KEY not in repr(transport.core.config)
    assert SECRET_KEY not in repr(ApiKeyAuth(SECRET_KEY))


# -- limiter inside the transport --------------------------------------------------------------


def test_transport_waits_for_the_limiter(httpx_mock: HTTPXMock) -> None:
    """With a 60/min limiter and burst 2, the third request waits one second."""
    httpx_mock.add_response(url=JOB_URL, json={}, is_reusable=True)
    fake = FakeTime()
    limiter = RateLimiter(60, burst=2, clock=fake.monotonic)
    transport = make_transport(fake, limiter=limiter)
    for _ in range(4):
        transport.request(GET_JOB)
    assert fake.sleeps == [1.0, 1.0]
