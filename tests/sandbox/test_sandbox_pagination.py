"""PleoSandbox: cursor pagination on every list endpoint (export-api.md §5.1, Part 3 #6)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from pleo_erp.testing.sandbox import DEFAULT_PAGE_SIZE, PleoSandbox

pytestmark = pytest.mark.sandbox(seed=11)

CURSOR = re.compile(r"^[A-Z2-7=~]+$")


@pytest.fixture
def http(sandbox: PleoSandbox, company: str) -> Iterator[httpx.Client]:
    with sandbox.http_client(sandbox.issue_api_key(company)) as client:
        yield client


Fetch = Callable[[httpx.Client, dict[str, Any]], httpx.Response]


def walk(http: httpx.Client, fetch: Fetch, **params: Any) -> tuple[list[dict[str, Any]], int]:
    """Follow endCursor until hasNextPage is false; check every envelope on the way."""
    found: list[dict[str, Any]] = []
    pages = 0
    after: str | None = None
    while True:
        query = dict(params)
        if after is not None:
            query["after"] = after
        response = fetch(http, query)
        assert response.status_code == 200, response.text
        body = response.json()
        pagination = body["pagination"]
        assert set(pagination) <= {
            "currentRequestPagination",
            "hasNextPage",
            "hasPreviousPage",
            "startCursor",
            "endCursor",
            "total",
        }
        assert pagination["hasPreviousPage"] is (pages > 0)
        if body["data"]:
            assert CURSOR.match(pagination["endCursor"])
            assert CURSOR.match(pagination["startCursor"])
        found.extend(body["data"])
        pages += 1
        if not pagination["hasNextPage"]:
            return found, pages
        after = pagination["endCursor"]


def seed_listings(sandbox: PleoSandbox, company: str, count: int) -> dict[str, Any]:
    group = sandbox.add_tag_group(company, "DEPT", "Department")
    tags = [sandbox.add_tag(group, f"T{i:03d}", f"Tag {i}") for i in range(count)]
    accounts = [sandbox.add_account(company, f"ext-{i}", f"Account {i}") for i in range(count)]
    tax_codes = [
        sandbox.add_tax_code(company, f"Tax {i}", 0.25, code=f"TC{i}") for i in range(count)
    ]
    jobs = [sandbox.create_export_job(company, 1, status="completed") for _ in range(count)]
    job = sandbox.create_export_job(company, count)
    return {
        "group": group,
        "tags": tags,
        "accounts": accounts,
        "tax_codes": tax_codes,
        "jobs": [*jobs, job],
        "job": job,
    }


LISTINGS: dict[str, tuple[Callable[[dict[str, Any], str], Fetch], str, str]] = {
    "export jobs": (lambda s, c: lambda h, q: h.get("/v3/export-jobs", params=q), "jobs", "id"),
    "job items": (
        lambda s, c: lambda h, q: h.get(f"/v3/export-jobs/{s['job']}/items", params=q),
        "items",
        "accountingEntryId",
    ),
    "export items": (
        lambda s, c: lambda h, q: h.get("/v3/export-items", params={"job_id": s["job"], **q}),
        "items",
        "accountingEntryId",
    ),
    "group tags": (
        lambda s, c: lambda h, q: h.get(f"/v0/tag-groups/{s['group']}/tags", params=q),
        "tags",
        "id",
    ),
    "tags search": (
        lambda s, c: lambda h, q: h.post("/v0/tags:search", params={"company_id": c, **q}, json={}),
        "tags",
        "id",
    ),
    "tags (GET, deprecated)": (
        lambda s, c: lambda h, q: h.get("/v0/tags", params={"company_id": c, **q}),
        "tags",
        "id",
    ),
    "accounts search": (
        lambda s, c: (
            lambda h, q: h.post(
                "/v1/chart-of-accounts:search",
                params=q,
                json={
                    "companyId": c,
                    "excludeIfAssignedToCategory": False,
                    "excludeIfAssignedToContraAccount": False,
                },
            )
        ),
        "accounts",
        "id",
    ),
    "tax codes search": (
        lambda s, c: lambda h, q: h.post("/v0/tax-codes:search", params=q, json={}),
        "tax_codes",
        "id",
    ),
}


@pytest.mark.parametrize("name", list(LISTINGS))
def test_every_list_endpoint_pages_through_everything_with_small_default_pages(
    sandbox: PleoSandbox, company: str, http: httpx.Client, name: str
) -> None:
    count = DEFAULT_PAGE_SIZE * 2 + 3
    seeded = seed_listings(sandbox, company, count)
    if name in ("job items", "export items"):
        expected = list(sandbox.item_statuses(seeded["job"]))
    else:
        expected = seeded[LISTINGS[name][1]]
    make, _, key = LISTINGS[name]
    found, pages = walk(http, make(seeded, company))
    assert [item[key] for item in found] == expected
    assert pages == 3
    small, small_pages = walk(http, make(seeded, company), limit=10)
    assert [item[key] for item in small] == expected
    assert small_pages == -(-len(expected) // 10)


def test_subscriptions_and_activities_page(sandbox: PleoSandbox, http: httpx.Client) -> None:
    ids = []
    for n in range(30):
        body = {
            "endpointUrl": f"https://example.com/hook/{n}",
            "eventTypes": ["v1.export-job.created"],
        }
        ids.append(http.post("/v1/subscriptions", json=body).json()["data"]["id"])
    found, pages = walk(http, lambda h, q: h.get("/v1/subscriptions", params=q))
    assert [s["id"] for s in found] == ids
    assert pages == 2
    for _ in range(DEFAULT_PAGE_SIZE):
        http.put(
            f"/v1/subscriptions/{ids[0]}",
            json={"endpointUrl": "https://example.com/x", "eventTypes": ["v1.export-job.created"]},
        )
    activities, pages = walk(
        http, lambda h, q: h.get(f"/v1/subscriptions/{ids[0]}/activities", params=q)
    )
    assert [a["operationType"] for a in activities] == ["CREATE"] + ["UPDATE"] * DEFAULT_PAGE_SIZE
    assert pages == 2


def test_envelope_echoes_the_request_and_counts(
    sandbox: PleoSandbox, company: str, http: httpx.Client
) -> None:
    for _ in range(3):
        sandbox.create_export_job(company, 1)
    body = http.get(
        "/v3/export-jobs", params={"company_id": company, "statuses": "pending", "limit": 2}
    ).json()
    assert body["pagination"]["currentRequestPagination"] == {
        "parameters": {"company_id": [company], "statuses": ["pending"]},
        "limit": 2,
    }
    assert body["pagination"]["total"] == 3
    assert body["pagination"]["hasNextPage"] is True


def test_before_pages_backwards(sandbox: PleoSandbox, company: str, http: httpx.Client) -> None:
    jobs = [sandbox.create_export_job(company, 1, status="completed") for _ in range(7)]
    last = http.get("/v3/export-jobs", params={"limit": 3, "offset": 4}).json()
    assert [j["id"] for j in last["data"]] == jobs[4:7]
    page = http.get("/v3/export-jobs", params={"limit": 3}).json()
    after = http.get(
        "/v3/export-jobs", params={"limit": 3, "after": page["pagination"]["endCursor"]}
    ).json()
    back = http.get(
        "/v3/export-jobs", params={"limit": 3, "before": after["pagination"]["startCursor"]}
    ).json()
    assert [j["id"] for j in back["data"]] == jobs[0:3]
    assert back["pagination"]["hasPreviousPage"] is False
    assert back["pagination"]["hasNextPage"] is True


def test_cursors_stay_stable_when_records_change_between_pages(
    sandbox: PleoSandbox, company: str, http: httpx.Client
) -> None:
    """Status-filtered paging while items are updated neither skips nor repeats any."""
    job_id = sandbox.create_export_job(company, 60, status="in_progress")
    ids = list(sandbox.item_statuses(job_id))
    first = http.get(f"/v3/export-jobs/{job_id}/items", params={"status": "pending"}).json()
    seen = [i["accountingEntryId"] for i in first["data"]]
    # Report the first page as done: the filter no longer matches those items.
    http.put(
        f"/v3/export-jobs/{job_id}/items",
        json=[{"accountingEntryId": i, "status": "successful"} for i in seen],
    )
    rest, _ = walk(
        http,
        lambda h, q: h.get(f"/v3/export-jobs/{job_id}/items", params={"status": "pending", **q}),
        after=first["pagination"]["endCursor"],
    )
    assert seen + [i["accountingEntryId"] for i in rest] == ids


def test_offset_and_sorting_keys(sandbox: PleoSandbox, company: str, http: httpx.Client) -> None:
    names = ["delta", "alpha", "charlie", "bravo", "echo"]
    for index, name in enumerate(names):
        sandbox.add_account(company, f"ext-{index}", name)
    search = {
        "companyId": company,
        "excludeIfAssignedToCategory": False,
        "excludeIfAssignedToContraAccount": False,
    }

    def page(**params: Any) -> dict[str, Any]:
        response = http.post("/v1/chart-of-accounts:search", params=params, json=search)
        assert response.status_code == 200, response.text
        return dict(response.json())

    assert [a["name"] for a in page(offset=3)["data"]] == ["bravo", "echo"]
    sorted_page = page(sorting_keys="name", sorting_order="DESC", limit=2)
    assert [a["name"] for a in sorted_page["data"]] == ["echo", "delta"]
    rest = page(
        sorting_keys="name",
        sorting_order="DESC",
        limit=2,
        after=sorted_page["pagination"]["endCursor"],
    )
    assert [a["name"] for a in rest["data"]] == ["charlie", "bravo"]
    bad = http.post("/v1/chart-of-accounts:search", params={"sorting_keys": "colour"}, json=search)
    assert bad.status_code == 400
    assert bad.json()["type"] == "INVALID_SORTING_KEY"


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"after": "AAAA", "offset": "1"}, "cannot be used together"),
        ({"before": "AAAA", "after": "AAAA"}, "cannot be used together"),
        ({"after": "not-a-cursor"}, "after"),
        ({"limit": "-1"}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"sorting_keys": "createdAt", "sorting_order": ["ASC", "DESC"]}, "sorting_order"),
    ],
)
def test_malformed_paging_parameters_are_400(
    http: httpx.Client, params: dict[str, Any], fragment: str
) -> None:
    response = http.get("/v3/export-jobs", params=params)
    assert response.status_code == 400
    assert fragment in response.json()["message"]


def test_foreign_cursor_is_400(http: httpx.Client) -> None:
    response = http.get("/v3/export-jobs", params={"after": "MFRGGZDF"})  # base32("abcde")
    assert response.status_code == 400
    assert response.json()["type"] == "INVALID_CURSOR"


# -- offset / limit bounds (found by schemathesis): never slice bounds ----------------------


@pytest.fixture
def demo_http(sandbox: PleoSandbox) -> Iterator[tuple[httpx.Client, str]]:
    """A client on the demo company (tags, tax codes, accounts) with one subscription."""
    company = sandbox.seed_demo().company_id
    with sandbox.http_client(sandbox.issue_api_key(company)) as client:
        created = client.post(
            "/v1/subscriptions",
            json={"endpointUrl": "https://x.example/h", "eventTypes": ["v1.export-job.created"]},
        )
        assert created.status_code == 200, created.text
        yield client, company


def _list_call(name: str, client: httpx.Client, company: str, **paging: Any) -> httpx.Response:
    """One list request of a route whose spec declares no minimum for offset/limit."""
    if name == "tags":
        return client.get("/v0/tags", params={"company_id": company, **paging})
    if name == "tags:search":
        return client.post("/v0/tags:search", params={"company_id": company, **paging}, json={})
    if name == "tax-codes:search":
        return client.post(
            "/v0/tax-codes:search", params={"company_id": company, **paging}, json={}
        )
    if name == "chart-of-accounts:search":
        body = {
            "companyId": company,
            "excludeIfAssignedToCategory": False,
            "excludeIfAssignedToContraAccount": False,
        }
        return client.post("/v1/chart-of-accounts:search", params=paging, json=body)
    assert name == "subscriptions"
    return client.get("/v1/subscriptions", params=paging)


LIST_ROUTES = [
    "tags",
    "tags:search",
    "tax-codes:search",
    "chart-of-accounts:search",
    "subscriptions",
]


@pytest.mark.parametrize("route", LIST_ROUTES)
@pytest.mark.parametrize(
    ("paging", "fragment"),
    [
        ({"offset": -1}, "'offset': -1 is less than the minimum of 0"),
        ({"offset": -1, "limit": 2}, "'offset': -1 is less than the minimum of 0"),
        ({"limit": 0}, "'limit': 0 is less than the minimum of 1"),
        ({"limit": -2}, "'limit': -2 is less than the minimum of 1"),
        ({"offset": 0, "limit": 0}, "'limit': 0 is less than the minimum of 1"),
    ],
)
def test_negative_offset_and_non_positive_limit_are_400(
    sandbox: PleoSandbox,
    demo_http: tuple[httpx.Client, str],
    route: str,
    paging: dict[str, int],
    fragment: str,
) -> None:
    """A negative offset used to be a Python slice from the end (``offset=-1``: the last tag,
    with an endCursor back at the start) and ``limit=0`` an empty page claiming a next page it
    gave no cursor to. Pleo validates them: 400 in the ``ExceptionInfo`` shape of the other
    400s, checked against the spec by the (strict) sandbox itself."""
    client, company = demo_http
    assert _list_call(route, client, company).json()["data"], "the route must have records"
    response = _list_call(route, client, company, **paging)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["type"] == "BAD_REQUEST"
    assert fragment in body["message"]
    assert set(body) == {"type", "message"}
    assert response.headers["content-type"].startswith("application/json")
    assert sandbox.contract_violations == []


@pytest.mark.parametrize("route", LIST_ROUTES)
def test_smallest_valid_offset_and_limit_page_normally(
    demo_http: tuple[httpx.Client, str], route: str
) -> None:
    client, company = demo_http
    everything = _list_call(route, client, company, limit=1000).json()["data"]
    first = _list_call(route, client, company, offset=0, limit=1)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["data"] == everything[:1]
    assert body["pagination"]["hasNextPage"] is (len(everything) > 1)
    assert body["pagination"]["hasPreviousPage"] is False


def test_the_export_apis_keep_their_declared_minimum(http: httpx.Client) -> None:
    """The export specs declare ``minimum: 0`` for ``limit`` and ``offset``: 0 is valid there,
    below it is 400 (the spec's own bound)."""
    assert http.get("/v3/export-jobs", params={"limit": 0}).status_code == 200
    assert http.get("/v3/export-jobs", params={"offset": 0}).status_code == 200
    below = http.get("/v3/export-jobs", params={"offset": -1})
    assert below.status_code == 400
    assert "offset" in below.json()["message"]


def test_the_pager_refuses_negative_bounds_without_request_validation() -> None:
    """With request validation off the pager still never slices from the end."""
    sandbox = PleoSandbox(validate_requests=False)
    company = sandbox.seed_demo().company_id
    with sandbox.http_client(sandbox.issue_api_key(company)) as client:
        response = client.get("/v0/tags", params={"company_id": company, "offset": -1})
    assert response.status_code == 400
    assert response.json()["type"] == "BAD_REQUEST"
