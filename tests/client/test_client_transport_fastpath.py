"""The transport's fast paths give exactly what the plain ones did (performance, issue 13)."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest

from pleo_erp.client import _transport
from pleo_erp.client._request import Call
from pleo_erp.client.errors import ResponseValidationError
from pleo_erp.client.serialization import loads
from tests.helpers.mock_client import mock_client


@pytest.mark.parametrize(
    "body",
    [
        '{"amount": 12.30, "n": 3, "big": 1e400, "s": "\\u00e6\\ud83d\\ude00", "x": null}',
        '[1.10, {"a": [2.5E-3]}]',
        '"only a string"',
    ],
)
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-32-be"])
def test_shared_decoder_matches_json_loads_with_decimal(body: str, encoding: str) -> None:
    raw = body.encode(encoding)
    expected = json.loads(raw, parse_float=Decimal)
    got = loads(raw)  # the one decoder, used by the transport for every response
    assert got == expected
    assert repr(got) == repr(expected)  # Decimal('12.30') keeps its exponent


def test_decode_errors_stay_typed() -> None:
    client = mock_client(lambda request: httpx.Response(200, content=b"{not json"))
    with pytest.raises(ResponseValidationError, match="not valid JSON"):
        client._transport.request(Call("x.get", "GET", "/v0/x"))


def test_repeated_url_is_parsed_once_and_requests_stay_identical() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"data": 1.5})

    client = mock_client(handler)
    path = "/v0/fastpath-unique/a%20b"
    before = _transport._parsed_url.cache_info()
    first = client._transport.request(Call("x.get", "GET", path, params=(("p", "1 2"),)))
    second = client._transport.request(Call("x.get", "GET", path, params=(("p", "3"),)))
    after = _transport._parsed_url.cache_info()
    assert (first, second) == ({"data": Decimal("1.5")}, {"data": Decimal("1.5")})
    assert after.misses - before.misses == 1
    assert after.hits - before.hits == 1
    assert [str(r.url) for r in seen] == [
        "https://external.pleo.io/v0/fastpath-unique/a%20b?p=1+2",
        "https://external.pleo.io/v0/fastpath-unique/a%20b?p=3",
    ]


def test_body_calls_get_a_content_type_without_changing_the_default_headers() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    client = mock_client(handler)
    client._transport.request(Call("x.create", "POST", "/v0/x", body={"a": 1}))
    client._transport.request(Call("x.get", "GET", "/v0/x"))
    assert seen[0].headers["content-type"] == _transport.JSON_CONTENT_TYPE
    assert "content-type" not in seen[1].headers
    assert "Content-Type" not in client._transport.core.config.headers
