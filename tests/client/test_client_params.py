"""Each resource operation's keywords are one ``TypedDict`` (PEP 692 ``Unpack``).

Type checkers reject a wrong keyword (checked with mypy on
``tests/client/typing/client_params.py``);
at run time the same ``TypeError`` as a plain signature; and each request model's fields are
exactly the keywords of the method that sends it, so a planned body is sent as is.
"""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

from pleo_erp.client import AsyncPleoClient, PleoClient
from pleo_erp.client.resources import accounts, tag_groups, tags, tax_codes
from pleo_erp.models import (
    BookkeepingAccountCreateRequestV1,
    BookkeepingAccountUpdateRequestV1,
    TagCreateModel,
    TagGroupCreateModel,
    TagGroupUpdateModel,
    TagUpdateModel,
    TaxCodeCreateUpdateModel,
    TaxCodeTypeModel,
)
from pleo_erp.orchestration._sync_kinds import request_fields
from tests.helpers.typing_check import assert_mypy_errors

TYPING_FILE = Path(__file__).parent / "typing" / "client_params.py"
COMPANY = uuid.UUID(int=1)


@pytest.mark.slow
def test_mypy_rejects_wrong_keywords_and_accepts_right_ones() -> None:
    assert_mypy_errors(TYPING_FILE, at_least=10)


def _refuse(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"no request expected, got {request.method} {request.url}")


def test_unknown_keyword_is_a_type_error_before_any_request() -> None:
    client = PleoClient(None, http_client=httpx.Client(transport=httpx.MockTransport(_refuse)))
    with pytest.raises(TypeError, match="unexpected keyword argument 'ingoing_tax_acount'"):
        client.tax_codes.create(
            COMPANY,
            name="VAT",
            rate=1,
            type="purchase",
            ingoing_tax_acount="x",  # type: ignore[call-arg]
        )
    with pytest.raises(TypeError, match=r"missing required keyword argument.*'archived'"):
        client.accounts.update(uuid.uuid4(), name="Sales")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        client.tags.search(COMPANY, colour="red")  # type: ignore[call-arg]
    assert client.request_count == 0
    client.close()


@pytest.mark.parametrize(
    ("resource", "args", "keyword"),
    [
        ("export_jobs", (), "status"),
        ("subscriptions", (), "event_type"),
        ("tags", (COMPANY,), "archived"),
        ("tag_groups", (COMPANY,), "include_tag_count"),
    ],
)
def test_list_keywords_are_checked_too(resource: str, args: tuple[Any, ...], keyword: str) -> None:
    """The list methods take their filters as one ``TypedDict`` each, checked the same way."""
    client = PleoClient(None, http_client=httpx.Client(transport=httpx.MockTransport(_refuse)))
    list_method = getattr(client, resource).list
    with pytest.raises(
        TypeError, match=rf"list\(\) got an unexpected keyword argument '{keyword}'"
    ):
        list_method(*args, **{keyword: True})
    assert client.request_count == 0
    client.close()


def test_async_methods_share_the_same_params() -> None:
    async def main() -> None:
        http = httpx.AsyncClient(transport=httpx.MockTransport(_refuse))
        async with AsyncPleoClient(None, http_client=http) as client:
            with pytest.raises(TypeError, match=r"missing required keyword argument.*'metadata'"):
                await client.tag_groups.update(  # type: ignore[call-arg]
                    uuid.uuid4(), code="D", name="Dept", archived=False
                )

    asyncio.run(main())


@pytest.mark.parametrize(
    ("model", "params", "positional"),
    [
        (TaxCodeCreateUpdateModel, tax_codes.TaxCodeCreateParams, {"company_id"}),
        (TaxCodeCreateUpdateModel, tax_codes.TaxCodeUpdateParams, set()),
        (BookkeepingAccountCreateRequestV1, accounts.AccountCreateParams, {"company_id"}),
        (BookkeepingAccountUpdateRequestV1, accounts.AccountUpdateParams, set()),
        (TagCreateModel, tags.TagCreateParams, set()),
        (TagUpdateModel, tags.TagUpdateParams, set()),
        (TagGroupCreateModel, tag_groups.TagGroupCreateParams, set()),
        (TagGroupUpdateModel, tag_groups.TagGroupUpdateParams, set()),
    ],
)
def test_request_model_fields_are_the_method_keywords(
    model: type[Any], params: Any, positional: set[str]
) -> None:
    """A sync sends a planned body as ``method(**request_fields(body))``: no field list."""
    fields = {f.name for f in attrs.fields(model)}
    keywords = set(params.__required_keys__) | set(params.__optional_keys__)
    assert fields == keywords | positional
    assert params.__required_keys__ <= fields


def test_a_planned_body_is_sent_as_is() -> None:
    body = TaxCodeCreateUpdateModel(
        archived=False,
        company_id=COMPANY,
        name="VAT",
        rate=Decimal("0.25"),
        type=TaxCodeTypeModel.INCLUSIVE,
        ingoing_tax_account="2640",
    )
    op = tax_codes.create_op(**request_fields(body))
    assert op.call.body == tax_codes.create_from_op(body).call.body
    assert op.call.body["ingoingTaxAccount"] == "2640"
