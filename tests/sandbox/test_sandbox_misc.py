"""PleoSandbox: installations, subscriptions (+ secret), introspect and webhook delivery."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from pleo_erp.client.webhooks import StandardWebhookVerifier
from pleo_erp.testing.sandbox import PleoSandbox

pytestmark = pytest.mark.sandbox(seed=13)

HOOK = "v1.export-job.created"


@pytest.fixture
def http(sandbox: PleoSandbox, company: str) -> Iterator[httpx.Client]:
    with sandbox.http_client(sandbox.issue_api_key(company)) as client:
        yield client


# -- introspect -------------------------------------------------------------------------


@pytest.mark.rule("§B5")
def test_introspect_names_the_company_of_a_company_key(
    sandbox: PleoSandbox, company: str, http: httpx.Client
) -> None:
    """§B5: the company behind a credential is read from subjectURN."""
    data = http.get("/v1/introspect").json()["data"]
    assert data["authMethod"] == "API_KEY"
    assert data["subjectURN"] == f"urn:pleo:company:{company}"
    assert "export-jobs:read" in data["scope"].split()


def test_introspect_of_an_organisation_key(sandbox: PleoSandbox, company: str) -> None:
    with sandbox.http_client() as org:
        assert (
            org.get("/v1/introspect").json()["data"]["subjectURN"] == f"urn:pleo:company:{company}"
        )
        sandbox.add_company()
        urn = org.get("/v1/introspect").json()["data"]["subjectURN"]
    assert urn == f"urn:pleo:organization:{sandbox.organization_id}"


def test_introspect_of_an_oauth_token(sandbox: PleoSandbox, company: str) -> None:
    tokens = sandbox.issue_oauth_grant(company, scopes=["export-jobs:read"])
    with httpx.Client(transport=sandbox.transport(), base_url="https://x.invalid") as http:
        response = http.get(
            "/v1/introspect", headers={"Authorization": f"Bearer {tokens.access_token}"}
        )
    data = response.json()["data"]
    assert (data["authMethod"], data["scope"], data["clientId"]) == (
        "OAUTH",
        "export-jobs:read",
        sandbox.oauth_client_id,
    )


# -- installations ----------------------------------------------------------------------


@pytest.mark.rule("§B6")
def test_api_key_installation_lifecycle(company: str, http: httpx.Client) -> None:
    """§B6: an API-key integration creates its installation, activates it, can delete it."""
    missing = http.get("/v1/installations/me")
    assert missing.status_code == 404
    created = http.post(
        "/v1/installations/me",
        json={"status": "PENDING_INTEGRATION", "metadata": {"sync": {"step": 1}}},
    )
    assert created.status_code == 200
    installation = created.json()
    assert installation["resource"] == f"urn:pleo:company:{company}"
    assert installation["status"] == "PENDING_INTEGRATION"
    assert http.get("/v1/installations/me", params={"company_id": company}).json() == installation
    error = http.put("/v1/installations/me", json={"status": "ERROR", "errorCode": "AUTH_ERROR"})
    assert (error.json()["status"], error.json()["errorCode"]) == ("ERROR", "AUTH_ERROR")
    activated = http.post("/v1/installations/me:activate")
    assert activated.status_code == 200
    assert activated.json()["status"] == "ACTIVATED"
    assert "errorCode" not in activated.json()
    assert http.put("/v1/installations/me", json={"metadata": {}}).status_code == 400
    assert http.post("/v1/installations/me:activate", json={}).status_code == 400  # takes no body
    assert http.delete("/v1/installations/me").status_code == 204
    assert http.delete("/v1/installations/me").status_code == 404


def test_oauth_grant_creates_an_authorized_installation_and_uninstall_revokes_it(
    sandbox: PleoSandbox, company: str
) -> None:
    tokens = sandbox.issue_oauth_grant(company)
    bearer = {"Authorization": f"Bearer {tokens.access_token}"}
    with httpx.Client(
        transport=sandbox.transport(), base_url="https://x.invalid", headers=bearer
    ) as http:
        assert http.get("/v1/installations/me").json()["status"] == "AUTHORIZED"
        assert http.post("/v1/installations/me:activate").json()["status"] == "ACTIVATED"
        assert http.delete("/v1/installations/me").status_code == 204
        assert http.get("/v1/introspect").status_code == 401
        refresh = http.post(
            "/oauth/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": tokens.refresh_token,
                "client_id": sandbox.oauth_client_id,
                "client_secret": sandbox.oauth_client_secret,
            },
            headers={"Authorization": ""},
        )
    assert refresh.status_code == 400
    assert refresh.json()["error"] == "invalid_grant"


# -- subscriptions ----------------------------------------------------------------------


def test_subscription_crud_secret_and_activities(
    sandbox: PleoSandbox, company: str, http: httpx.Client
) -> None:
    body = {
        "endpointUrl": "https://integration.example/hooks",
        "eventTypes": [HOOK],
        "customHeaders": {"X-Tenant": "acme"},
        "endpointAuth": {
            "type": "BASIC",
            "credentials": {"username": "pleo", "password": "s3cret"},
        },
    }
    created = http.post("/v1/subscriptions", json=body)
    assert created.status_code == 200
    subscription = created.json()["data"]
    assert subscription["status"] == "ACTIVE"
    assert subscription["endpointAuth"] == {"type": "BASIC", "credentials": {"username": "pleo"}}
    assert "s3cret" not in created.text  # write-only credentials are never echoed
    sub_id = subscription["id"]
    secret = http.get(f"/v1/subscriptions/{sub_id}/secret").json()["data"]["secretKey"]
    assert secret.startswith("whsec_")
    assert http.get(f"/v1/subscriptions/{sub_id}").json()["data"] == subscription
    updated = http.put(f"/v1/subscriptions/{sub_id}", json={**body, "status": "INACTIVE"})
    assert updated.json()["data"]["status"] == "INACTIVE"
    listed = http.get(
        "/v1/subscriptions", params={"status": "INACTIVE", "event_types": HOOK}
    ).json()
    assert [s["id"] for s in listed["data"]] == [sub_id]
    assert http.get("/v1/subscriptions", params={"status": "ACTIVE"}).json()["data"] == []
    activities = http.get(f"/v1/subscriptions/{sub_id}/activities").json()["data"]
    assert [a["operationType"] for a in activities] == ["CREATE", "UPDATE"]
    only_updates = http.get(
        f"/v1/subscriptions/{sub_id}/activities", params={"operation_types": "UPDATE"}
    )
    assert len(only_updates.json()["data"]) == 1
    with sandbox.http_client() as other_client:  # another client does not see it
        assert other_client.get(f"/v1/subscriptions/{sub_id}").status_code == 404
    assert http.delete(f"/v1/subscriptions/{sub_id}").status_code == 204
    assert http.get(f"/v1/subscriptions/{sub_id}").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"endpointUrl": "https://x.example", "eventTypes": ["v1.export.job-created"]},
        {"endpointUrl": "ftp://x.example", "eventTypes": [HOOK]},
        {"endpointUrl": "https://x.example", "eventTypes": []},
    ],
)
def test_subscription_refuses_unknown_events_and_urls(
    http: httpx.Client, body: dict[str, object]
) -> None:
    assert http.post("/v1/subscriptions", json=body).status_code == 400


# -- webhooks ---------------------------------------------------------------------------


def test_job_creation_delivers_a_signed_export_job_created_event(
    sandbox: PleoSandbox, company: str, http: httpx.Client
) -> None:
    received: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(204)

    sandbox.webhook_http_client = httpx.Client(transport=httpx.MockTransport(receiver))
    sub = http.post(
        "/v1/subscriptions",
        json={
            "endpointUrl": "https://integration.example/hooks",
            "eventTypes": [HOOK],
            "customHeaders": {"X-Tenant": "acme"},
        },
    ).json()["data"]
    secret = http.get(f"/v1/subscriptions/{sub['id']}/secret").json()["data"]["secretKey"]
    sandbox.create_export_job(company, 1)
    assert received == []  # delivery is opt-in
    sandbox.deliver_webhooks = True
    entries = sandbox.add_export_items(company, 2)
    job = http.post(
        "/v3/export-jobs", json={"companyId": company, "accountingEntryIds": entries}
    ).json()["data"]
    [request] = received
    assert str(request.url) == "https://integration.example/hooks"
    assert request.headers["X-Tenant"] == "acme"
    StandardWebhookVerifier(secret, clock=sandbox.clock.now).verify(
        request.headers, request.content
    )
    event = json.loads(request.content)
    assert event["eventType"] == HOOK
    assert event["data"]["id"] == job["id"]
    assert event["data"]["status"] == "pending"
    [delivery] = sandbox.webhook_deliveries
    assert (delivery.job_id, delivery.status_code, delivery.error) == (job["id"], 204, None)
    sandbox.close()
    assert sandbox.webhook_http_client is not None  # a fresh default client after close()
    sandbox.close()


def test_failed_deliveries_are_recorded_not_raised(
    sandbox: PleoSandbox, company: str, http: httpx.Client
) -> None:
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    sandbox.webhook_http_client = httpx.Client(transport=httpx.MockTransport(unreachable))
    sandbox.deliver_webhooks = True
    http.post(
        "/v1/subscriptions", json={"endpointUrl": "https://down.example", "eventTypes": [HOOK]}
    )
    job_id = sandbox.create_export_job(company, 1)
    [delivery] = sandbox.webhook_deliveries
    assert delivery.job_id == job_id
    assert delivery.status_code is None
    assert delivery.error is not None
    assert "ConnectError" in delivery.error


def test_secrets_stay_out_of_the_request_log_and_reprs(
    sandbox: PleoSandbox, company: str, http: httpx.Client
) -> None:
    body = {
        "endpointUrl": "https://integration.example/hooks",
        "eventTypes": [HOOK],
        "endpointAuth": {"type": "BASIC", "credentials": {"username": "u", "password": "p4ss"}},
    }
    sub_id = http.post("/v1/subscriptions", json=body).json()["data"]["id"]
    secret = http.get(f"/v1/subscriptions/{sub_id}/secret").json()["data"]["secretKey"]
    logged = repr(sandbox.requests)
    assert "p4ss" not in logged
    assert "'password': '***'" in logged
    state = sandbox.state
    for obj in (*state.subscriptions.values(), *state.oauth_clients.values()):
        assert secret not in repr(obj)
        assert sandbox.oauth_client_secret not in repr(obj)
    assert sandbox.api_key not in repr(sandbox)
