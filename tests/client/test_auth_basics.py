"""API-key auth, PKCE, the authorize URL and the redirect callback.

Accounts rules 5, 8, 9 and 10, and accounts §B2 (docs/rules.md).
"""

from __future__ import annotations

import base64
import hashlib
import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pleo_erp.client.auth import (
    AUTH_PRODUCTION,
    AUTH_STAGING,
    ApiKeyAuth,
    OAuthAuthorizationError,
    OAuthCallbackError,
    OAuthStateMismatch,
    auth_base_url,
    build_authorize_url,
    code_challenge_s256,
    generate_code_verifier,
    generate_state,
    parse_authorization_callback,
)
from pleo_erp.client.errors import PleoError

# ---- API key (rule 5) -------------------------------------------------------------------------


def _send_with(auth: httpx.Auth) -> httpx.Request:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    with httpx.Client(transport=httpx.MockTransport(handler), auth=auth) as client:
        client.get("https://external.staging.pleo.io/v1/introspect")
    assert len(seen) == 1
    return seen[0]


def test_rule5_api_key_basic_header_exact_value() -> None:
    request = _send_with(ApiKeyAuth("abc"))
    assert request.headers["Authorization"] == "Basic YWJjOg=="


def test_rule5_api_key_raw_key_never_sent() -> None:
    key = "pleo-key-0123456789"
    request = _send_with(ApiKeyAuth(key))
    raw = b"".join(f"{k}: {v}".encode() for k, v in request.headers.items())
    assert key.encode() not in raw
    expected = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    assert request.headers["Authorization"] == expected


def test_api_key_repr_and_str_hide_the_key() -> None:
    auth = ApiKeyAuth("super-secret-key")
    assert repr(auth) == "ApiKeyAuth(key='***')"
    assert str(auth) == "ApiKeyAuth(key='***')"
    assert "super-secret-key" not in repr(auth)


@pytest.mark.parametrize("bad", ["", "   "])
def test_api_key_must_not_be_empty(bad: str) -> None:
    with pytest.raises(ValueError, match="non-empty"):
        ApiKeyAuth(bad)


# ---- PKCE (rule 9) ---------------------------------------------------------------------------


def test_rule9_rfc7636_appendix_b_vector() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert code_challenge_s256(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


@pytest.mark.parametrize("length", [43, 64, 128])
def test_rule9_generated_verifier_has_length_and_alphabet(length: int) -> None:
    verifier = generate_code_verifier(length)
    assert len(verifier) == length
    assert re.fullmatch(r"[A-Za-z0-9\-._~]+", verifier)


def test_rule9_generated_verifiers_differ() -> None:
    assert len({generate_code_verifier() for _ in range(20)}) == 20


@pytest.mark.parametrize("length", [0, 42, 129])
def test_rule9_verifier_length_out_of_range_rejected(length: int) -> None:
    with pytest.raises(ValueError, match="43 to 128"):
        generate_code_verifier(length)


@pytest.mark.parametrize("verifier", ["a" * 42, "a" * 129, "a" * 42 + "!", "a" * 42 + " "])
def test_rule9_challenge_rejects_invalid_verifier(verifier: str) -> None:
    with pytest.raises(ValueError, match="43-128"):
        code_challenge_s256(verifier)


@settings(max_examples=100, deadline=None)
@given(
    st.text(
        alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~",
        min_size=43,
        max_size=128,
    )
)
def test_rule9_challenge_is_unpadded_base64url_sha256(verifier: str) -> None:
    challenge = code_challenge_s256(verifier)
    assert "=" not in challenge
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", challenge)
    decoded = base64.urlsafe_b64decode(challenge + "=")
    assert decoded == hashlib.sha256(verifier.encode()).digest()


def test_rule10_state_is_random_and_url_safe() -> None:
    states = {generate_state() for _ in range(20)}
    assert len(states) == 20
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{40,}", s) for s in states)


# ---- authorize URL (rule 8, §B2) -----------------------------------------------------------


def test_environment_auth_servers() -> None:
    assert AUTH_PRODUCTION == "https://auth.pleo.io"
    assert AUTH_STAGING == "https://auth.staging.pleo.io"
    assert auth_base_url("staging") == AUTH_STAGING
    with pytest.raises(ValueError, match="unknown environment"):
        auth_base_url("dev")  # type: ignore[arg-type]


def test_rule8_authorize_url_has_every_parameter() -> None:
    url = build_authorize_url(
        "client-1",
        "https://erp.example/callback?tenant=7",
        ["export-jobs:read", "export-jobs:write", "export-items:read"],
        "state-xyz",
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        environment="staging",
    )
    parts = urlsplit(url)
    assert (
        f"{parts.scheme}://{parts.netloc}{parts.path}"
        == "https://auth.staging.pleo.io/oauth/authorize"
    )
    params = parse_qs(parts.query, strict_parsing=True)
    assert params == {
        "response_type": ["code"],
        "client_id": ["client-1"],
        "redirect_uri": ["https://erp.example/callback?tenant=7"],
        "scope": ["export-jobs:read export-jobs:write export-items:read"],
        "state": ["state-xyz"],
        "code_challenge": ["E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"],
        "code_challenge_method": ["S256"],
    }
    # Space-joined and percent-encoded (not '+'), redirect URI fully encoded.
    assert "scope=export-jobs%3Aread%20export-jobs%3Awrite%20export-items%3Aread" in url
    assert "redirect_uri=https%3A%2F%2Ferp.example%2Fcallback%3Ftenant%3D7" in url


def test_rule8_authorize_url_defaults_to_production_and_accepts_override() -> None:
    url = build_authorize_url("c", "https://r", "accounts:read", "s", "x" * 43)
    assert url.startswith("https://auth.pleo.io/oauth/authorize?response_type=code&")
    custom = build_authorize_url(
        "c", "https://r", "a", "s", "x" * 43, authorize_url="http://127.0.0.1:9/authorize?x=1"
    )
    assert custom.startswith("http://127.0.0.1:9/authorize?x=1&response_type=code&")


def test_rule8_plain_method_rejected() -> None:
    with pytest.raises(ValueError, match="S256"):
        build_authorize_url("c", "https://r", ["a"], "s", "x" * 43, code_challenge_method="plain")


def test_rule8_extra_params_cannot_override_standard_ones() -> None:
    url = build_authorize_url(
        "c", "https://r", ["a"], "s", "x" * 43, extra_params={"prompt": "consent"}
    )
    assert url.endswith("&prompt=consent")
    with pytest.raises(ValueError, match="override"):
        build_authorize_url("c", "https://r", ["a"], "s", "x" * 43, extra_params={"state": "x"})


# ---- redirect callback (rule 10) -----------------------------------------------------------


def test_rule10_callback_returns_code_when_state_matches() -> None:
    url = "https://erp.example/callback?code=abc123&state=st-1"
    assert parse_authorization_callback(url, "st-1") == "abc123"
    assert parse_authorization_callback({"code": "abc123", "state": "st-1"}, "st-1") == "abc123"


def test_rule10_state_mismatch_raises_before_anything_else() -> None:
    with pytest.raises(OAuthStateMismatch):
        parse_authorization_callback({"code": "abc", "state": "other"}, "st-1")
    with pytest.raises(OAuthStateMismatch):
        parse_authorization_callback({"code": "abc"}, "st-1")
    # Even an error response with the wrong state is a state mismatch (possible CSRF).
    with pytest.raises(OAuthStateMismatch):
        parse_authorization_callback({"error": "access_denied", "state": "x"}, "st-1")


def test_rule10_error_on_redirect() -> None:
    with pytest.raises(OAuthAuthorizationError) as info:
        parse_authorization_callback(
            "https://r/cb?error=access_denied&error_description=User+declined&state=s", "s"
        )
    assert info.value.error == "access_denied"
    assert info.value.error_description == "User declined"
    assert isinstance(info.value, PleoError)


def test_rule10_missing_code() -> None:
    with pytest.raises(OAuthCallbackError, match="no authorization code"):
        parse_authorization_callback({"state": "s"}, "s")
