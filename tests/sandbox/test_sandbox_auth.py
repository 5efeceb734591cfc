"""PleoSandbox: API keys, bearer tokens and the OAuth token endpoint (auth reference §B3-B5)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from pleo_erp.testing.sandbox import PleoSandbox

pytestmark = pytest.mark.sandbox(seed=17)

BASE = "https://sandbox.invalid"


@pytest.fixture
def raw(sandbox: PleoSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(transport=sandbox.transport(), base_url=BASE) as client:
        yield client


def basic(user: str, password: str = "") -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token_request(
    raw: httpx.Client, sandbox: PleoSandbox, form: dict[str, str], *, post_secret: bool = False
) -> httpx.Response:
    if post_secret:
        form = {
            **form,
            "client_id": sandbox.oauth_client_id,
            "client_secret": sandbox.oauth_client_secret,
        }
        return raw.post("/oauth/token", data=form)
    return raw.post(
        "/oauth/token",
        data=form,
        headers=basic(sandbox.oauth_client_id, sandbox.oauth_client_secret),
    )


# -- API keys and bearer tokens ---------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic !!!"},
        basic("not-a-key"),
        {"Authorization": "Token abc"},
        bearer("at_unknown"),
    ],
)
def test_bad_credentials_are_401_in_exception_info_shape(
    sandbox: PleoSandbox, company: str, raw: httpx.Client, headers: dict[str, str]
) -> None:
    response = raw.get("/v3/export-jobs", params={"company_id": company}, headers=headers)
    assert response.status_code == 401
    assert response.json()["type"] == "UNAUTHORIZED"
    assert "WWW-Authenticate" in response.headers


@pytest.mark.rule("§B4")
def test_api_key_needs_an_empty_password(
    sandbox: PleoSandbox, company: str, raw: httpx.Client
) -> None:
    """§B4: the key is the user name and the password is empty."""
    ok = raw.get("/v3/export-jobs", params={"company_id": company}, headers=basic(sandbox.api_key))
    assert ok.status_code == 200
    wrong = raw.get(
        "/v3/export-jobs", params={"company_id": company}, headers=basic(sandbox.api_key, "x")
    )
    assert wrong.status_code == 401


def test_a_key_acts_only_on_its_companies(
    sandbox: PleoSandbox, company: str, raw: httpx.Client
) -> None:
    other = sandbox.add_company()
    job = sandbox.create_export_job(other, 1)
    key = sandbox.issue_api_key(company)
    forbidden = raw.get("/v3/export-jobs", params={"company_id": other}, headers=basic(key))
    assert forbidden.status_code == 403
    hidden = raw.get(f"/v3/export-jobs/{job}", headers=basic(key))
    assert hidden.status_code == 404
    both = sandbox.issue_api_key([company, other])
    assert raw.get(f"/v3/export-jobs/{job}", headers=basic(both)).status_code == 200
    # The default key covers companies added later too.
    third = sandbox.add_company()
    assert (
        raw.get(
            "/v3/export-jobs", params={"company_id": third}, headers=basic(sandbox.api_key)
        ).status_code
        == 200
    )


def test_access_token_expires_after_expires_in(
    sandbox: PleoSandbox, company: str, raw: httpx.Client
) -> None:
    tokens = sandbox.issue_oauth_grant(company)
    assert tokens.expires_in == 3600
    assert "***" in repr(tokens)
    assert tokens.access_token not in repr(tokens)
    assert raw.get("/v3/export-jobs", headers=bearer(tokens.access_token)).status_code == 200
    sandbox.clock.advance(seconds=3599)
    assert raw.get("/v3/export-jobs", headers=bearer(tokens.access_token)).status_code == 200
    sandbox.clock.advance(seconds=1)
    expired = raw.get("/v3/export-jobs", headers=bearer(tokens.access_token))
    assert expired.status_code == 401
    assert expired.json()["message"] == "JWT is expired"


# -- /oauth/token -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "post_secret", [False, True], ids=["client_secret_basic", "client_secret_post"]
)
def test_code_exchange_with_pkce(
    sandbox: PleoSandbox, company: str, raw: httpx.Client, post_secret: bool
) -> None:
    verifier = "v" * 43
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    code = sandbox.authorization_code(
        company, redirect_uri="http://localhost:8080/callback", code_challenge=challenge
    )
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": "http://localhost:8080/callback",
        "code_verifier": verifier,
    }
    response = token_request(raw, sandbox, form, post_secret=post_secret)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert response.headers["Cache-Control"] == "no-store"
    introspect = raw.get("/v1/introspect", headers=bearer(body["access_token"])).json()["data"]
    assert introspect["subjectURN"] == f"urn:pleo:company:{company}"
    # A code works once.
    again = token_request(raw, sandbox, form, post_secret=post_secret)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"code_verifier": "w" * 43}, "invalid_grant"),
        ({"code_verifier": None}, "invalid_grant"),
        ({"redirect_uri": "http://localhost:9999/other"}, "invalid_grant"),
        ({"code": "ac_forged"}, "invalid_grant"),
        ({"grant_type": "password"}, "unsupported_grant_type"),
    ],
)
def test_code_exchange_refusals(
    sandbox: PleoSandbox, company: str, raw: httpx.Client, change: dict[str, Any], error: str
) -> None:
    verifier = "v" * 50
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    code = sandbox.authorization_code(
        company, redirect_uri="http://localhost/cb", code_challenge=challenge
    )
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": "http://localhost/cb",
        "code_verifier": verifier,
        **change,
    }
    response = token_request(raw, sandbox, {k: v for k, v in form.items() if v is not None})
    assert response.status_code == 400
    assert response.json()["error"] == error


def test_client_authentication(sandbox: PleoSandbox, company: str, raw: httpx.Client) -> None:
    code = sandbox.authorization_code(company)
    form = {"grant_type": "authorization_code", "code": code}
    wrong = raw.post("/oauth/token", data=form, headers=basic(sandbox.oauth_client_id, "nope"))
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    assert raw.post("/oauth/token", data=form).status_code == 401
    json_body = raw.post(
        "/oauth/token",
        json=form,
        headers=basic(sandbox.oauth_client_id, sandbox.oauth_client_secret),
    )
    assert json_body.status_code == 400
    assert token_request(raw, sandbox, form).status_code == 200


def test_code_expires_after_ten_minutes(
    sandbox: PleoSandbox, company: str, raw: httpx.Client
) -> None:
    code = sandbox.authorization_code(company)
    sandbox.clock.advance(minutes=10)
    response = token_request(raw, sandbox, {"grant_type": "authorization_code", "code": code})
    assert response.status_code == 400


@pytest.mark.rule("§B3")
def test_refresh_rotates_and_a_replayed_token_revokes_every_refresh_token_of_the_grant(
    sandbox: PleoSandbox, company: str, raw: httpx.Client
) -> None:
    """§B3: each refresh returns a new pair; presenting an old refresh token kills the grant's."""
    first = sandbox.issue_oauth_grant(company)
    rotated = token_request(
        raw, sandbox, {"grant_type": "refresh_token", "refresh_token": first.refresh_token}
    )
    assert rotated.status_code == 200
    second = rotated.json()
    assert second["refresh_token"] != first.refresh_token
    assert second["access_token"] != first.access_token
    replay = token_request(
        raw, sandbox, {"grant_type": "refresh_token", "refresh_token": first.refresh_token}
    )
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    # The newest refresh token is revoked too: the integration must re-authorise.
    newest = token_request(
        raw, sandbox, {"grant_type": "refresh_token", "refresh_token": second["refresh_token"]}
    )
    assert newest.status_code == 400
    # Other grants are untouched.
    other = sandbox.issue_oauth_grant(company)
    assert (
        token_request(
            raw, sandbox, {"grant_type": "refresh_token", "refresh_token": other.refresh_token}
        ).status_code
        == 200
    )


def test_refresh_tokens_last_60_days(sandbox: PleoSandbox, company: str, raw: httpx.Client) -> None:
    young = sandbox.issue_oauth_grant(company)
    old = sandbox.issue_oauth_grant(company)
    sandbox.clock.advance(days=59, hours=23)
    refreshed = token_request(
        raw, sandbox, {"grant_type": "refresh_token", "refresh_token": young.refresh_token}
    )
    assert refreshed.status_code == 200
    sandbox.clock.advance(hours=1)
    expired = token_request(
        raw, sandbox, {"grant_type": "refresh_token", "refresh_token": old.refresh_token}
    )
    assert expired.status_code == 400
    assert "expired" in expired.json()["error_description"]
    # The rotated token got a fresh 60 days.
    rotated = refreshed.json()["refresh_token"]
    assert (
        token_request(
            raw, sandbox, {"grant_type": "refresh_token", "refresh_token": rotated}
        ).status_code
        == 200
    )


def test_refresh_token_of_another_client_is_refused(
    sandbox: PleoSandbox, company: str, raw: httpx.Client
) -> None:
    client_id, secret = sandbox.register_oauth_client()
    tokens = sandbox.issue_oauth_grant(company, client_id=client_id)
    stolen = token_request(
        raw, sandbox, {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
    )
    assert stolen.status_code == 400
    own = raw.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens.refresh_token},
        headers=basic(client_id, secret),
    )
    assert own.status_code == 200


def test_authorize_redirects_with_code_and_state(
    sandbox: PleoSandbox, company: str, raw: httpx.Client
) -> None:
    verifier = "x" * 64
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    response = raw.get(
        "/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": sandbox.oauth_client_id,
            "redirect_uri": "http://127.0.0.1:5000/cb",
            "scope": "export-jobs:read export-jobs:write",
            "state": "s-123",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "company_id": company,
        },
    )
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    params = parse_qs(location.query)
    assert location.netloc == "127.0.0.1:5000"
    assert params["state"] == ["s-123"]
    tokens = token_request(
        raw,
        sandbox,
        {
            "grant_type": "authorization_code",
            "code": params["code"][0],
            "redirect_uri": "http://127.0.0.1:5000/cb",
            "code_verifier": verifier,
        },
    )
    assert tokens.status_code == 200
    assert tokens.json()["scope"] == "export-jobs:read export-jobs:write"
    plain = raw.get(
        "/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": sandbox.oauth_client_id,
            "redirect_uri": "http://127.0.0.1:5000/cb",
            "code_challenge": "abc",
            "code_challenge_method": "plain",
        },
    )
    assert parse_qs(urlsplit(plain.headers["Location"]).query)["error"] == ["invalid_request"]


def test_token_requests_are_logged_without_secrets(
    sandbox: PleoSandbox, company: str, raw: httpx.Client
) -> None:
    grant = sandbox.issue_oauth_grant(company)
    token_request(
        raw,
        sandbox,
        {"grant_type": "refresh_token", "refresh_token": grant.refresh_token},
        post_secret=True,
    )
    [logged] = sandbox.requests
    assert logged.body["refresh_token"] == "***"
    assert logged.body["client_secret"] == "***"
    assert grant.refresh_token not in repr(sandbox.requests)
