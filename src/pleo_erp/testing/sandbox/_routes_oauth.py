"""``/oauth/authorize`` and ``/oauth/token``: the parts of Pleo's auth server an integration uses.

The sandbox plays both hosts (``auth.*`` and ``external.*``) on one base URL.
``/oauth/authorize`` approves at once (no browser, no login) and redirects with a code; a
``company_id`` query parameter (sandbox extension) picks the company, else the first one.
``/oauth/token`` takes form-encoded ``authorization_code`` and ``refresh_token`` grants with
``client_secret_basic`` (preferred by Pleo) or ``client_secret_post`` client authentication.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import parse_qsl, urlencode

from ._app import Reply, RequestContext, RouteTable
from ._auth import OAuthError, authorization_code, exchange_code, refresh_grant, verify_client
from ._errors import ApiError
from ._spec import ResponseSpec

__all__ = ["TOKEN_RESPONSE", "routes"]

routes = RouteTable()

_OAUTH_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "error_description"],
    "properties": {
        "error": {"type": "string"},
        "error_description": {"type": "string"},
        "type": {"type": "string"},
        "message": {"type": "string"},
    },
    "additionalProperties": False,
}

#: RFC 6749 §5.1 token response, as Pleo documents it (access/refresh token, expires_in).
TOKEN_RESPONSE = ResponseSpec(
    "application/json",
    {
        "type": "object",
        "required": ["access_token", "token_type", "expires_in", "refresh_token"],
        "additionalProperties": False,
        "properties": {
            "access_token": {"type": "string", "minLength": 1},
            "token_type": {"type": "string", "enum": ["bearer"]},
            "expires_in": {"type": "integer", "minimum": 1},
            "refresh_token": {"type": "string", "minLength": 1},
            "scope": {"type": "string"},
        },
    },
    "TokenResponse",
)
_ERROR = ResponseSpec("application/json", _OAUTH_ERROR_SCHEMA, "OAuthError")


def _client_credentials(
    authorization: str | None, form: dict[str, str]
) -> tuple[str | None, str | None]:
    posted = (form.get("client_id"), form.get("client_secret"))
    if not authorization:
        return posted
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        raise OAuthError(401, "invalid_client", "Use HTTP Basic client authentication.")
    if posted[1] is not None:
        raise OAuthError(400, "invalid_request", "Use one client authentication method, not two.")
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError(401, "invalid_client", "Malformed client credentials.") from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise OAuthError(401, "invalid_client", "Malformed client credentials.")
    return client_id, secret


@routes(
    "POST",
    "/oauth/token",
    auth=False,
    responses={"200": TOKEN_RESPONSE, "400": _ERROR, "401": _ERROR},
)
def token(ctx: RequestContext) -> Reply:
    """Exchange a code, or rotate a refresh token."""
    content_type = ctx.headers.get("content-type", "")
    if content_type.split(";", 1)[0].strip().lower() != "application/x-www-form-urlencoded":
        raise OAuthError(400, "invalid_request", "The token request must be form-encoded.")
    form = dict(parse_qsl(ctx.raw_body.decode("utf-8", "replace"), keep_blank_values=True))
    client_id, secret = _client_credentials(ctx.headers.get("authorization"), form)
    client = verify_client(ctx.state, client_id, secret)
    grant_type = form.get("grant_type")
    if grant_type == "authorization_code":
        body = exchange_code(
            ctx.state, client, form.get("code"), form.get("redirect_uri"), form.get("code_verifier")
        )
    elif grant_type == "refresh_token":
        body = refresh_grant(ctx.state, client, form.get("refresh_token"))
    else:
        raise OAuthError(
            400, "unsupported_grant_type", f"grant_type {grant_type!r} is not supported."
        )
    return Reply(200, body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


@routes("GET", "/oauth/authorize", auth=False, responses={"302": ResponseSpec(None, None, None)})
def authorize(ctx: RequestContext) -> Reply:
    """Approve immediately and redirect to ``redirect_uri`` with ``code`` and ``state``."""
    query = {name: values[0] for name, values in ctx.raw_query.items()}
    client = ctx.state.oauth_clients.get(query.get("client_id", ""))
    if client is None:
        raise ApiError(400, "invalid_request", "Unknown client_id.")
    redirect_uri = query.get("redirect_uri")
    if not redirect_uri:
        raise ApiError(400, "invalid_request", "redirect_uri is required.")
    if client.redirect_uris is not None and redirect_uri not in client.redirect_uris:
        raise ApiError(400, "invalid_request", "redirect_uri is not registered for this client.")
    state_param = query.get("state")
    if query.get("response_type") != "code":
        return _redirect(redirect_uri, error="unsupported_response_type", state=state_param)
    challenge = query.get("code_challenge")
    if challenge is not None and query.get("code_challenge_method") != "S256":
        return _redirect(redirect_uri, error="invalid_request", state=state_param)
    company_id = query.get("company_id") or next(iter(ctx.state.companies), None)
    if company_id is None or company_id not in ctx.state.companies:
        return _redirect(redirect_uri, error="access_denied", state=state_param)
    scopes = (query.get("scope") or "").split()
    code = authorization_code(
        ctx.state,
        client,
        [company_id],
        scopes=scopes or ("export-jobs:read",),
        redirect_uri=redirect_uri,
        code_challenge=challenge,
    )
    return _redirect(redirect_uri, code=code, state=state_param)


def _redirect(redirect_uri: str, **params: str | None) -> Reply:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    separator = "&" if "?" in redirect_uri else "?"
    return Reply(302, headers={"Location": f"{redirect_uri}{separator}{query}"})
