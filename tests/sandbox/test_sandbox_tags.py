"""PleoSandbox: Tags API v0, tag groups and tags (tags-sync.md §1.7, §1.9)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pleo_erp.testing.sandbox import PleoSandbox

pytestmark = pytest.mark.sandbox(seed=5)


@pytest.fixture
def http(sandbox: PleoSandbox, company: str) -> Iterator[httpx.Client]:
    with sandbox.http_client(sandbox.issue_api_key(company)) as client:
        yield client


def create_group(http: httpx.Client, company: str, code: str, **extra: Any) -> dict[str, Any]:
    body = {"code": code, "name": code.title(), "archived": False, **extra}
    response = http.post("/v0/tag-groups", params={"company_id": company}, json=body)
    assert response.status_code == 200, response.text
    return dict(response.json()["data"])


def create_tag(http: httpx.Client, group: str, code: str, **extra: Any) -> httpx.Response:
    return http.post(
        f"/v0/tag-groups/{group}/tags", json={"code": code, "archived": False, **extra}
    )


# -- tag groups -------------------------------------------------------------------------


def test_create_and_list_tag_groups_with_include_archived_and_counts(
    sandbox: PleoSandbox, company: str, http: httpx.Client
) -> None:
    dept = create_group(http, company, "DEPT", metadata={"externalExtraId": "dim-1"})
    assert dept["companyId"] == company
    assert dept["metadata"] == {"externalExtraId": "dim-1"}
    region = create_group(http, company, "REGION", archived=True)
    create_tag(http, dept["id"], "ENG")
    create_tag(http, dept["id"], "OLD", archived=True)
    active = http.get("/v0/tag-groups", params={"company_id": company}).json()["data"]
    assert [g["code"] for g in active] == ["DEPT"]
    assert "totalTagsCount" not in active[0]
    both = http.get(
        "/v0/tag-groups",
        params={"company_id": company, "include_archived": "true", "include_tags_count": "true"},
    ).json()["data"]
    assert [(g["id"], g["totalTagsCount"]) for g in both] == [(dept["id"], 2), (region["id"], 0)]


def test_listing_groups_needs_company_or_organization(
    sandbox: PleoSandbox, company: str, http: httpx.Client
) -> None:
    """tags-sync.md §1.9: without either parameter Pleo answers 400."""
    response = http.get("/v0/tag-groups")
    assert response.status_code == 400
    assert response.json()["message"] == "Either company_id or organization_id must be provided"
    create_group(http, company, "DEPT")
    other = sandbox.add_company()
    sandbox.add_tag_group(other, "PROJ")
    with sandbox.http_client() as org:
        groups = org.get("/v0/tag-groups", params={"organization_id": sandbox.organization_id})
        assert [g["code"] for g in groups.json()["data"]] == ["DEPT", "PROJ"]
    # The company key sees only its own company's groups.
    mine = http.get("/v0/tag-groups", params={"organization_id": sandbox.organization_id})
    assert [g["code"] for g in mine.json()["data"]] == ["DEPT"]
    denied = http.get("/v0/tag-groups", params={"company_id": other})
    assert denied.status_code == 403


def test_group_put_replaces_everything_and_needs_every_field(
    company: str, http: httpx.Client
) -> None:
    group = create_group(http, company, "DEPT", metadata={"a": "1"})
    partial = http.put(
        f"/v0/tag-groups/{group['id']}", json={"archived": True, "code": "DEPT", "name": "Dept"}
    )
    assert partial.status_code == 400
    assert "metadata" in partial.json()["message"]
    replaced = http.put(
        f"/v0/tag-groups/{group['id']}",
        json={"archived": True, "code": "DEPT", "name": "Department", "metadata": {}},
    )
    assert replaced.status_code == 200
    data = replaced.json()["data"]
    assert (data["archived"], data["name"], data["metadata"]) == (True, "Department", {})
    assert http.get(f"/v0/tag-groups/{group['id']}").json()["data"] == data


def test_group_delete_and_unknown_group(company: str, http: httpx.Client) -> None:
    group = create_group(http, company, "DEPT")
    tag = create_tag(http, group["id"], "ENG").json()["data"]
    assert http.delete(f"/v0/tag-groups/{group['id']}").status_code == 204
    assert http.get(f"/v0/tag-groups/{group['id']}").status_code == 404
    assert http.get(f"/v0/tags/{tag['id']}").status_code == 404


# -- tags -------------------------------------------------------------------------------


def test_create_tag_201_and_409_on_exact_duplicate_code(company: str, http: httpx.Client) -> None:
    group = create_group(http, company, "DEPT")["id"]
    created = create_tag(http, group, "ENG", name="Engineering")
    assert created.status_code == 201
    tag = created.json()["data"]
    assert (tag["groupId"], tag["code"], tag["name"], tag["archived"]) == (
        group,
        "ENG",
        "Engineering",
        False,
    )
    duplicate = create_tag(http, group, "ENG", name="Engineering again")
    assert duplicate.status_code == 409
    # Codes that differ in case are different codes to Pleo; the sync matches them anyway.
    assert create_tag(http, group, "eng").status_code == 201


def test_tag_put_is_a_full_replace(company: str, http: httpx.Client) -> None:
    group = create_group(http, company, "DEPT")["id"]
    tag = create_tag(http, group, "ENG", name="Engineering").json()["data"]
    create_tag(http, group, "OPS")
    archived = http.put(f"/v0/tags/{tag['id']}", json={"archived": True, "code": "ENG"})
    assert archived.status_code == 200
    assert "name" not in archived.json()["data"]  # omitted name: no name any more
    assert archived.json()["data"]["archived"] is True
    clash = http.put(f"/v0/tags/{tag['id']}", json={"archived": False, "code": "OPS"})
    assert clash.status_code == 409
    missing = http.put(f"/v0/tags/{tag['id']}", json={"name": "x"})
    assert missing.status_code == 400


def test_group_tags_listing_hides_archived_unless_asked(
    sandbox: PleoSandbox, company: str, http: httpx.Client
) -> None:
    group = sandbox.add_tag_group(company, "DEPT")
    sandbox.add_tag(group, "A")
    sandbox.add_tag(group, "B", archived=True)
    active = http.get(f"/v0/tag-groups/{group}/tags").json()["data"]
    assert [t["code"] for t in active] == ["A"]
    every = http.get(f"/v0/tag-groups/{group}/tags", params={"include_archived": "true"}).json()[
        "data"
    ]
    assert [t["code"] for t in every] == ["A", "B"]


def test_tags_search_filters(sandbox: PleoSandbox, company: str, http: httpx.Client) -> None:
    dept = sandbox.add_tag_group(company, "DEPT")
    proj = sandbox.add_tag_group(company, "PROJ")
    eng = sandbox.add_tag(dept, "ENG", "Engineering")
    sandbox.add_tag(dept, "MKT", "Marketing", archived=True)
    alpha = sandbox.add_tag(proj, "P-A", "Project Alpha")

    def search(body: dict[str, Any]) -> list[str]:
        response = http.post("/v0/tags:search", params={"company_id": company}, json=body)
        assert response.status_code == 200, response.text
        return [t["code"] for t in response.json()["data"]]

    assert search({}) == ["ENG", "P-A"]
    assert search({"includeArchived": True}) == ["ENG", "MKT", "P-A"]
    assert search({"archived": True, "includeArchived": False}) == ["MKT"]
    assert search({"tagGroupIds": [dept], "includeArchived": True}) == ["ENG", "MKT"]
    assert search({"tagIds": [alpha, eng]}) == ["ENG", "P-A"]
    assert search({"textSearch": "alpha"}) == ["P-A"]
    legacy = http.get("/v0/tags", params={"company_id": company, "tag_group_id": [proj]}).json()
    assert [t["code"] for t in legacy["data"]] == ["P-A"]
    no_scope = http.post("/v0/tags:search", json={})
    assert no_scope.status_code == 400


def test_bulk_archive_is_all_or_nothing_and_at_most_100(
    sandbox: PleoSandbox, company: str, http: httpx.Client
) -> None:
    group = sandbox.add_tag_group(company, "DEPT")
    tags = [sandbox.add_tag(group, f"T{i}") for i in range(101)]
    body = {"archived": True, "companyId": company, "tagIds": tags[:2]}
    response = http.post("/v0/tags/archive", json=body)
    assert response.status_code == 200
    assert [(t["id"], t["archived"]) for t in response.json()["data"]] == [
        (tags[0], True),
        (tags[1], True),
    ]
    too_many = http.post("/v0/tags/archive", json={**body, "tagIds": tags})
    assert too_many.status_code == 400
    unknown = http.post(
        "/v0/tags/archive",
        json={**body, "tagIds": [tags[2], "00000000-0000-4000-8000-000000000000"]},
    )
    assert unknown.status_code == 404
    assert sandbox.tags(group)[2]["archived"] is False
    unarchive = http.post("/v0/tags/archive", json={**body, "archived": False})
    assert [t["archived"] for t in unarchive.json()["data"]] == [False, False]


def test_delete_tags(sandbox: PleoSandbox, company: str, http: httpx.Client) -> None:
    group = sandbox.add_tag_group(company, "DEPT")
    one, two, three = (sandbox.add_tag(group, code) for code in ("A", "B", "C"))
    assert http.delete(f"/v0/tags/{one}").status_code == 204
    bulk = http.request("DELETE", "/v0/tags", json={"companyId": company, "tagIds": [two]})
    assert bulk.status_code == 204
    assert [t["id"] for t in sandbox.tags(group)] == [three]


def test_seeding_helper_allows_exact_duplicates(sandbox: PleoSandbox, company: str) -> None:
    """The duplicate-code rule (tags-sync.md §2.4) needs duplicates to exist."""
    group = sandbox.add_tag_group(company, "DEPT")
    sandbox.add_tag(group, "ENG", "Engineering")
    sandbox.add_tag(group, "ENG", "Engineering (old)")
    assert [t["code"] for t in sandbox.tags(group)] == ["ENG", "ENG"]


def test_tags_of_another_company_are_invisible(sandbox: PleoSandbox, http: httpx.Client) -> None:
    other = sandbox.add_company()
    group = sandbox.add_tag_group(other, "DEPT")
    tag = sandbox.add_tag(group, "ENG")
    assert http.get(f"/v0/tag-groups/{group}").status_code == 404
    assert http.get(f"/v0/tags/{tag}").status_code == 404
    assert http.put(f"/v0/tags/{tag}", json={"archived": True, "code": "ENG"}).status_code == 404
