"""Installations, webhook subscriptions and ``GET /v1/introspect``.

Installations (accounts-sync-and-auth.md §B6) belong to (application, company); an OAuth
grant creates one in ``AUTHORIZED`` status, an API-key integration creates its own with
``POST /v1/installations/me``. Deleting it revokes the client's grants for that company.

Subscriptions belong to the client that created them and receive the events of the
companies its credential covers. Only ``v1.export-job.created`` exists; other event types
are refused so a misspelt type (``v1.export.job-created``) is caught.
"""

from __future__ import annotations

import base64
from typing import Any

from ._app import Reply, RequestContext, RouteTable
from ._errors import ApiError
from ._pagination import paginate
from ._spec import ResponseSpec
from ._state import JSONDict, Subscription

__all__ = ["EXPORT_JOB_CREATED", "INTROSPECT_RESPONSE", "routes"]

routes = RouteTable()

EXPORT_JOB_CREATED = "v1.export-job.created"
_EVENT_TYPES = frozenset({EXPORT_JOB_CREATED})

#: ``GET /v1/introspect`` is not in the published specs; this is the documented shape.
INTROSPECT_RESPONSE = ResponseSpec(
    "application/json",
    {
        "type": "object",
        "required": ["data"],
        "additionalProperties": False,
        "properties": {
            "data": {
                "type": "object",
                "required": ["authMethod", "clientId", "scope", "subjectURN"],
                "additionalProperties": False,
                "properties": {
                    "authMethod": {"type": "string", "enum": ["API_KEY", "OAUTH"]},
                    "clientId": {"type": "string", "format": "uuid"},
                    "scope": {"type": "string"},
                    "applicationName": {"type": "string"},
                    "subjectURN": {
                        "type": "string",
                        "pattern": "^urn:pleo:(company|organization):[0-9a-f-]{36}$",
                    },
                },
            }
        },
    },
    "IntrospectResponse",
)


# -- introspect -------------------------------------------------------------------------


@routes("GET", "/v1/introspect", responses={"200": INTROSPECT_RESPONSE})
def introspect(ctx: RequestContext) -> Reply:
    """Who the credential is and which company (or organisation) it acts for."""
    credential = ctx.credential
    companies = ctx.accessible_company_ids()
    if len(companies) == 1:
        subject = f"urn:pleo:company:{companies[0]}"
    else:
        subject = f"urn:pleo:organization:{ctx.state.organization_id}"
    return Reply(
        200,
        {
            "data": {
                "authMethod": "API_KEY" if credential.kind == "api_key" else "OAUTH",
                "clientId": credential.client_id,
                "scope": " ".join(credential.scopes),
                "applicationName": credential.application_name,
                "subjectURN": subject,
            }
        },
    )


# -- installations ----------------------------------------------------------------------


def _installation_key(ctx: RequestContext, company_id: str | None) -> tuple[str, str]:
    company = ctx.company(company_id)
    return ctx.credential.application_id, company.id


def _installation(ctx: RequestContext, company_id: str | None = None) -> JSONDict:
    found = ctx.state.installations.get(_installation_key(ctx, company_id))
    if found is None:
        raise ApiError(
            404, "INSTALLATION_NOT_FOUND", "No installation for this client and company."
        )
    return found


def _view(installation: JSONDict) -> JSONDict:
    return {k: v for k, v in installation.items() if v is not None}


@routes("GET", "/v1/installations/me")
def get_installation(ctx: RequestContext) -> Reply:
    """``getClientInstallation``."""
    return Reply(200, _view(_installation(ctx, ctx.query.get("company_id"))))


@routes("POST", "/v1/installations/me")
def post_installation(ctx: RequestContext) -> Reply:
    """``createClientInstallation``: creates (or returns) this client's installation."""
    body = ctx.json_body()
    key = _installation_key(ctx, None)
    now = ctx.state.clock.timestamp()
    installation = ctx.state.installations.get(key)
    if installation is None:
        installation = {
            "id": ctx.state.new_id(),
            "applicationId": key[0],
            "resource": f"urn:pleo:company:{key[1]}",
            "status": body.get("status") or "AUTHORIZED",
            "metadata": dict(body.get("metadata") or {}),
            "createdAt": now,
            "updatedAt": now,
        }
        ctx.state.installations[key] = installation
    else:
        if body.get("status"):
            installation["status"] = body["status"]
        if body.get("metadata") is not None:
            installation["metadata"] = dict(body["metadata"])
        installation["updatedAt"] = now
    return Reply(200, _view(installation))


@routes("PUT", "/v1/installations/me")
def put_installation(ctx: RequestContext) -> Reply:
    """``updateClientInstallation``: status (``errorCode`` only with ``ERROR``), metadata."""
    body = ctx.json_body()
    installation = _installation(ctx)
    installation["status"] = body["status"]
    installation["errorCode"] = body.get("errorCode") if body["status"] == "ERROR" else None
    if body.get("metadata") is not None:
        installation["metadata"] = dict(body["metadata"])
    installation["updatedAt"] = ctx.state.clock.timestamp()
    return Reply(200, _view(installation))


def _activate(ctx: RequestContext) -> Reply:
    installation = _installation(ctx)
    installation["status"] = "ACTIVATED"
    installation["errorCode"] = None
    installation["updatedAt"] = ctx.state.clock.timestamp()
    return Reply(200, _view(installation))


@routes("POST", "/v1/installations/me:activate")
def activate_installation(ctx: RequestContext) -> Reply:
    """``activateMyInstallation``."""
    return _activate(ctx)


@routes("PUT", "/v1/installations/completions")
def complete_installation(ctx: RequestContext) -> Reply:
    """``completeInstallationExternalClientOnlyIdempotently`` (deprecated alias of activate)."""
    return _activate(ctx)


@routes("DELETE", "/v1/installations/me")
def delete_installation(ctx: RequestContext) -> Reply:
    """``deleteClientInstallation``: uninstall and revoke the client's tokens for the company."""
    key = _installation_key(ctx, None)
    if ctx.state.installations.pop(key, None) is None:
        raise ApiError(
            404, "INSTALLATION_NOT_FOUND", "No installation for this client and company."
        )
    credential = ctx.credential
    for grant in ctx.state.grants.values():
        covered = grant.credential.company_ids or frozenset()
        if grant.client_id == credential.client_id and key[1] in covered:
            grant.revoked = True
            for token in grant.refresh_tokens:
                ctx.state.refresh_tokens[token].state = "revoked"
    return Reply(204)


# -- subscriptions ----------------------------------------------------------------------


def _subscription(ctx: RequestContext, subscription_id: str) -> Subscription:
    found = ctx.state.subscriptions.get(subscription_id)
    if found is None or found.owner != ctx.credential.client_id:
        raise ApiError(404, "SUBSCRIPTION_NOT_FOUND", "Subscription not found.")
    return found


def _check_subscription_request(body: dict[str, Any]) -> None:
    url = str(body["endpointUrl"])
    if not url.startswith(("https://", "http://")):
        raise ApiError(400, "BAD_REQUEST", "endpointUrl must be an http(s) URL.")
    unknown = sorted(set(body["eventTypes"]) - _EVENT_TYPES)
    if unknown or not body["eventTypes"]:
        raise ApiError(
            400,
            "BAD_REQUEST",
            f"Unsupported event type(s) {unknown}; supported: {sorted(_EVENT_TYPES)}.",
        )


def _subscription_view(subscription: Subscription) -> JSONDict:
    return subscription.data


def _public_auth(endpoint_auth: dict[str, Any] | None) -> dict[str, Any] | None:
    # Credentials for calling the endpoint are write-only: never echo passwords or tokens.
    if not endpoint_auth:
        return None
    view: dict[str, Any] = {"type": endpoint_auth.get("type", "NONE")}
    username = (endpoint_auth.get("credentials") or {}).get("username")
    if username:
        view["credentials"] = {"username": username}
    return view


def _apply_request(subscription: Subscription, body: dict[str, Any], now: str) -> None:
    data = subscription.data
    data["endpointUrl"] = body["endpointUrl"]
    data["eventTypes"] = list(dict.fromkeys(body["eventTypes"]))
    data["status"] = body.get("status") or "ACTIVE"
    data["customHeaders"] = dict(body.get("customHeaders") or {})
    data["updatedAt"] = now
    public = _public_auth(body.get("endpointAuth"))
    if public is None:
        data.pop("endpointAuth", None)
    else:
        data["endpointAuth"] = public
    subscription.endpoint_auth = body.get("endpointAuth")


def _activity(ctx: RequestContext, subscription: Subscription, operation: str) -> None:
    subscription.activities.append(
        {
            "id": ctx.state.new_id(),
            "subscriptionId": subscription.data["id"],
            "operationType": operation,
            "actorUrn": f"urn:pleo:client:{ctx.credential.client_id}",
            "description": f"Subscription {operation.lower()}d.",
            "createdAt": ctx.state.clock.timestamp(),
        }
    )


@routes("POST", "/v1/subscriptions")
def post_subscription(ctx: RequestContext) -> Reply:
    """``createSubscription``: a subscription and its ``whsec_`` signing secret."""
    body = ctx.json_body()
    _check_subscription_request(body)
    state = ctx.state
    now = state.clock.timestamp()
    secret = "whsec_" + base64.b64encode(state.rng.getrandbits(192).to_bytes(24, "big")).decode()
    subscription = Subscription(
        seq=state.next_seq(),
        owner=ctx.credential.client_id,
        data={"id": state.new_id(), "createdAt": now},
        secret=secret,
        company_ids=ctx.credential.company_ids,
    )
    _apply_request(subscription, body, now)
    state.subscriptions[subscription.data["id"]] = subscription
    _activity(ctx, subscription, "CREATE")
    return Reply(200, {"data": subscription.data})


@routes("GET", "/v1/subscriptions")
def list_subscriptions(ctx: RequestContext) -> Reply:
    """``getSubscriptions``: the caller's subscriptions, by ``status`` and ``event_types``."""
    status = ctx.query.get("status")
    event_types = set(ctx.query.get("event_types") or ()) or None
    mine = [s for s in ctx.state.subscriptions.values() if s.owner == ctx.credential.client_id]

    def where(subscription: Subscription) -> bool:
        data = subscription.data
        return (status is None or data["status"] == status) and (
            event_types is None or bool(event_types & set(data["eventTypes"]))
        )

    page = paginate(
        mine,
        ctx.query,
        _subscription_view,
        parameters={k: v for k, v in ctx.raw_query.items() if k in ("status", "event_types")},
        key=lambda subscription: subscription.seq,
        where=where,
        sortable=frozenset({"id", "createdAt", "updatedAt", "status", "endpointUrl"}),
    )
    return Reply(200, page)


get_subscription = routes.get_by_id("/v1/subscriptions/{id}", _subscription)  # getSubscriptionById


@routes.with_found("PUT", "/v1/subscriptions/{id}", _subscription)
def put_subscription(ctx: RequestContext, subscription: Subscription, body: Any) -> Reply:
    """``updateSubscription``: full replace."""
    _check_subscription_request(body)
    _apply_request(subscription, body, ctx.state.clock.timestamp())
    _activity(ctx, subscription, "UPDATE")
    return Reply(200, {"data": subscription.data})


@routes("DELETE", "/v1/subscriptions/{id}")
def delete_subscription(ctx: RequestContext) -> Reply:
    """``deleteSubscription``."""
    subscription = _subscription(ctx, ctx.path_params["id"])
    del ctx.state.subscriptions[subscription.data["id"]]
    return Reply(204)


@routes("GET", "/v1/subscriptions/{id}/activities")
def list_subscription_activities(ctx: RequestContext) -> Reply:
    """``getSubscriptionActivities``."""
    subscription = _subscription(ctx, ctx.path_params["id"])
    kinds = set(ctx.query.get("operation_types") or ()) or None
    page = paginate(
        subscription.activities,
        ctx.query,
        lambda activity: activity,
        parameters={k: v for k, v in ctx.raw_query.items() if k == "operation_types"},
        where=(lambda activity: activity["operationType"] in kinds) if kinds else None,
        sortable=frozenset({"createdAt", "operationType"}),
    )
    return Reply(200, page)


@routes("GET", "/v1/subscriptions/{id}/secret")
def get_subscription_secret(ctx: RequestContext) -> Reply:
    """``getSubscriptionSecret``: ``{"data": {"secretKey": "whsec_..."}}``."""
    subscription = _subscription(ctx, ctx.path_params["id"])
    return Reply(200, {"data": {"secretKey": subscription.secret}})
