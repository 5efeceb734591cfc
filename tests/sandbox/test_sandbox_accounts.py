"""PleoSandbox: Chart of Accounts v1 and Tax Codes v0 (accounts-sync-and-auth.md §A6-A7, §A10)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pleo_erp.testing.sandbox import PleoSandbox

pytestmark = pytest.mark.sandbox(seed=9)


@pytest.fixture
def http(sandbox: PleoSandbox, company: str) -> Iterator[httpx.Client]:
    with sandbox.http_client(sandbox.issue_api_key(company)) as client:
        yield client


def account_body(company: str, external_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "companyId": company,
        "externalId": external_id,
        "name": f"Account {external_id}",
        "archived": False,
        **extra,
    }


def search(http: httpx.Client, company: str, **filters: Any) -> list[dict[str, Any]]:
    body = {
        "companyId": company,
        "excludeIfAssignedToCategory": False,
        "excludeIfAssignedToContraAccount": False,
        **filters,
    }
    response = http.post("/v1/chart-of-accounts:search", params={"limit": 1000}, json=body)
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


# -- accounts ---------------------------------------------------------------------------


@pytest.mark.rule("accounts-gap-3")
def test_create_201_identical_retry_200_and_conflicting_409(
    company: str, http: httpx.Client
) -> None:
    """accounts-gap-3 / REF-CREATE: 201 created, 200 matched existing, 409 externalId taken."""
    body = account_body(company, "6010", code="6010")
    created = http.post("/v1/chart-of-accounts", json=body)
    assert created.status_code == 201
    account = created.json()["data"]
    assert account == {
        "id": account["id"],
        "companyId": company,
        "externalId": "6010",
        "code": "6010",
        "name": "Account 6010",
        "archived": False,
        "taxCodeExternalId": None,
        "metadata": None,
    }
    retry = http.post("/v1/chart-of-accounts", json=body)
    assert retry.status_code == 200
    assert retry.json()["data"]["id"] == account["id"]
    conflict = http.post("/v1/chart-of-accounts", json={**body, "name": "Renamed"})
    assert conflict.status_code == 409


def test_create_validates_names_and_tax_codes(
    sandbox: PleoSandbox, company: str, http: httpx.Client
) -> None:
    assert (
        http.post("/v1/chart-of-accounts", json=account_body(company, "1", name="")).status_code
        == 400
    )
    too_long = http.post("/v1/chart-of-accounts", json=account_body(company, "x" * 256))
    assert too_long.status_code == 400
    unknown_tax = http.post(
        "/v1/chart-of-accounts", json=account_body(company, "2", taxCodeExternalId="V25")
    )
    assert unknown_tax.status_code == 400
    assert unknown_tax.json()["type"] == "TAX_CODE_NOT_FOUND"
    sandbox.add_tax_code(company, "VAT 25", 0.25, code="V25")
    ok = http.post(
        "/v1/chart-of-accounts", json=account_body(company, "2", taxCodeExternalId="V25")
    )
    assert ok.status_code == 201


def test_batch_creates_what_it_can_and_reports_the_rest(
    sandbox: PleoSandbox, company: str, http: httpx.Client
) -> None:
    sandbox.add_account(company, "existing", "Existing")
    items = [
        {"externalId": "a", "name": "A", "archived": False},
        {"externalId": "existing", "name": "Again", "archived": False},
        {"externalId": "a", "name": "A twice", "archived": False},
        {"externalId": "", "name": "", "archived": False},
        {"externalId": "x" * 256, "name": "n" * 256, "code": "c" * 256, "archived": False},
        {"externalId": "b", "name": "B", "archived": True, "taxCodeExternalId": "NOPE"},
        {"externalId": "c", "name": "C", "archived": True, "metadata": {"k": {"v": 1}}},
    ]
    response = http.post("/v1/chart-of-accounts/batch", json={"companyId": company, "items": items})
    assert response.status_code == 201
    data = response.json()["data"]
    assert [a["externalId"] for a in data["created"]] == ["a", "c"]
    assert [(f["request"]["externalId"][:3], f["reasons"]) for f in data["failed"]] == [
        ("exi", ["EXTERNAL_ID_ALREADY_EXISTS"]),
        ("a", ["EXTERNAL_ID_ALREADY_EXISTS"]),
        ("", ["EXTERNAL_ID_EMPTY", "NAME_EMPTY"]),
        ("xxx", ["EXTERNAL_ID_TOO_LONG", "NAME_TOO_LONG", "CODE_TOO_LONG"]),
        ("b", ["OTHER"]),
    ]
    assert [a["externalId"] for a in sandbox.accounts(company)] == ["existing", "a", "c"]


def test_batch_size_is_1_to_1000(company: str, http: httpx.Client) -> None:
    items = [{"externalId": f"e{i}", "name": "N", "archived": False} for i in range(1001)]
    over = http.post("/v1/chart-of-accounts/batch", json={"companyId": company, "items": items})
    assert over.status_code == 400
    empty = http.post("/v1/chart-of-accounts/batch", json={"companyId": company, "items": []})
    assert empty.status_code == 400
    full = http.post(
        "/v1/chart-of-accounts/batch", json={"companyId": company, "items": items[:1000]}
    )
    assert full.status_code == 201
    assert len(full.json()["data"]["created"]) == 1000


def test_get_put_delete(sandbox: PleoSandbox, company: str, http: httpx.Client) -> None:
    account = sandbox.add_account(company, "6010", "Travel", code="6010", metadata={"k": {}})
    assert http.get(f"/v1/chart-of-accounts/{account}").json()["data"]["name"] == "Travel"
    put = http.put(
        f"/v1/chart-of-accounts/{account}", json={"archived": True, "name": "Travel (old)"}
    )
    assert put.status_code == 200
    data = put.json()["data"]
    # A full replace: optional fields left out become null; externalId cannot change.
    assert (data["archived"], data["name"], data["code"], data["metadata"]) == (
        True,
        "Travel (old)",
        None,
        None,
    )
    assert data["externalId"] == "6010"
    assert http.put(f"/v1/chart-of-accounts/{account}", json={"archived": True}).status_code == 400
    assert http.delete(f"/v1/chart-of-accounts/{account}").status_code == 204
    assert http.get(f"/v1/chart-of-accounts/{account}").status_code == 404
    assert http.delete(f"/v1/chart-of-accounts/{account}").status_code == 404


def test_delete_is_409_while_an_export_item_uses_the_account(
    sandbox: PleoSandbox, company: str, http: httpx.Client
) -> None:
    used = sandbox.add_account(company, "6010", "Travel", code="6010")
    unused = sandbox.add_account(company, "6020", "Meals", archived=True)
    sandbox.create_export_job(company, 1)  # the default line points at the first active account
    response = http.delete(f"/v1/chart-of-accounts/{used}")
    assert response.status_code == 409
    assert http.delete(f"/v1/chart-of-accounts/{unused}").status_code == 204


def test_search_filters(sandbox: PleoSandbox, company: str, http: httpx.Client) -> None:
    travel = sandbox.add_account(company, "ext-6010", "Travel", code="6010")
    meals = sandbox.add_account(
        company, "ext-6020", "Meals and Entertainment", code="6020", archived=True
    )
    bank = sandbox.add_account(company, "ext-5830", "Bank", code="5830")
    sandbox.create_export_job(
        company,
        [{"contraAccount": {"id": bank, "name": "Bank", "code": "5830", "identifier": "ext-5830"}}],
    )

    def ids(**filters: Any) -> list[str]:
        return [a["id"] for a in search(http, company, **filters)]

    assert ids() == [travel, meals, bank]
    assert ids(archived=True) == [meals]
    assert ids(archived=False) == [travel, bank]
    assert ids(codes=["6010", "5830"]) == [travel, bank]
    assert ids(code="6020") == [meals]
    assert ids(externalId="ext-6020") == [meals]
    assert ids(ids=[bank]) == [bank]
    assert ids(name="meals") == [meals]
    assert ids(excludeIfAssignedToContraAccount=True) == [travel, meals]
    missing = http.post("/v1/chart-of-accounts:search", json={"companyId": company})
    assert missing.status_code == 400


# -- tax codes --------------------------------------------------------------------------


def tax_body(company: str, **extra: Any) -> dict[str, Any]:
    return {
        "companyId": company,
        "name": "VAT 25 %",
        "rate": 0.25,
        "type": "inclusive",
        "archived": False,
        "code": "I25",
        **extra,
    }


def test_tax_code_lifecycle(company: str, http: httpx.Client) -> None:
    created = http.post("/v0/tax-codes", json=tax_body(company, ingoingTaxAccount="5610"))
    assert created.status_code == 200
    tax = created.json()["data"]
    assert (tax["rate"], tax["type"], tax["ingoingTaxAccount"], tax["outgoingTaxAccount"]) == (
        0.25,
        "inclusive",
        "5610",
        None,
    )
    assert http.get(f"/v0/tax-codes/{tax['id']}").json()["data"] == tax
    updated = http.put(
        f"/v0/tax-codes/{tax['id']}", json=tax_body(company, name="Moms 25", archived=True)
    )
    assert updated.status_code == 200
    assert (updated.json()["data"]["name"], updated.json()["data"]["archived"]) == ("Moms 25", True)
    assert updated.json()["data"]["ingoingTaxAccount"] is None
    assert http.delete(f"/v0/tax-codes/{tax['id']}").status_code == 204
    assert http.get(f"/v0/tax-codes/{tax['id']}").status_code == 404


@pytest.mark.parametrize(
    ("extra", "status", "error"),
    [
        ({"type": "exclusive"}, 400, "UNSUPPORTED_TAX_CODE_TYPE"),
        ({"rate": 25}, 400, "INVALID_TAX_RATE"),
        ({"type": "vat"}, 400, "BAD_REQUEST"),
    ],
)
def test_tax_code_refusals(
    company: str, http: httpx.Client, extra: dict[str, Any], status: int, error: str
) -> None:
    response = http.post("/v0/tax-codes", json=tax_body(company, **extra))
    assert response.status_code == status
    assert response.json()["type"] == error


def test_tax_code_code_is_unique_per_company(company: str, http: httpx.Client) -> None:
    assert http.post("/v0/tax-codes", json=tax_body(company)).status_code == 200
    assert http.post("/v0/tax-codes", json=tax_body(company)).status_code == 409


def test_tax_code_search(sandbox: PleoSandbox, company: str, http: httpx.Client) -> None:
    i25 = sandbox.add_tax_code(company, "Inclusive", 0.25, code="I25")
    rc = sandbox.add_tax_code(company, "Reverse", 0.25, type="reverse", code="RC25")
    old = sandbox.add_tax_code(company, "Old", 0.12, code="SE12", archived=True)

    def ids(body: dict[str, Any] | None) -> list[str]:
        response = http.post("/v0/tax-codes:search", params={"company_id": company}, json=body)
        assert response.status_code == 200, response.text
        return [t["id"] for t in response.json()["data"]]

    assert ids({}) == [i25, rc, old]
    assert ids(None) == [i25, rc, old]
    assert ids({"archived": False}) == [i25, rc]
    assert ids({"code": "SE12"}) == [old]
    assert ids({"type": "reverse"}) == [rc]
    assert ids({"taxCodeIds": [old, i25]}) == [i25, old]
