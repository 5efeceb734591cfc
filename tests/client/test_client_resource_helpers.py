"""The argument checks every resource module shares (``pleo_erp.client.resources._base``).

Id lists and bulk entries are checked the same way in every resource, before any request.
"""

from __future__ import annotations

import uuid

import pytest

from pleo_erp.client.resources import accounts, export_jobs, tags, tax_codes
from pleo_erp.client.resources._base import spec_object, uuid_tuple, wire_fields
from pleo_erp.models import (
    BookkeepingAccountBatchRequestItemV1,
    ExportJobItemStatus,
    UpdateExportJobItemV3,
)

A, B = uuid.UUID(int=1), uuid.UUID(int=2)


def test_uuid_tuple_keeps_order_and_drops_repeats_unless_told() -> None:
    assert uuid_tuple([str(B), A, B], "ids") == (B, A)
    assert uuid_tuple([str(B), A, B], "ids", unique=False) == (B, A, B)
    assert uuid_tuple(None, "ids") is None


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (str(A), "ids must be a list of UUIDs, not one string"),
        ([A, "slug"], r"ids\[\]"),
    ],
)
def test_uuid_tuple_refuses_one_string_and_non_uuids(values: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        uuid_tuple(values, "ids")  # type: ignore[call-overload]


def test_every_id_list_argument_refuses_one_string_before_any_request() -> None:
    """A single id string would otherwise be read as 36 one-character ids."""
    with pytest.raises(ValueError, match="ids must be a list of UUIDs"):
        accounts.search_op(A, ids=str(B))
    with pytest.raises(ValueError, match="tax_code_ids must be a list of UUIDs"):
        tax_codes.search_op(A, tax_code_ids=str(B))
    with pytest.raises(ValueError, match="tag_ids must be a list of UUIDs"):
        tags.search_op(A, tag_ids=str(B))
    with pytest.raises(ValueError, match="accounting_entry_ids must be a list of UUIDs"):
        export_jobs.create_op(A, str(B))


def test_export_job_entries_are_sent_as_given_and_searches_deduplicated() -> None:
    """The job body keeps every entry id as given; search filters drop repeats."""
    job = export_jobs.create_op(A, [B, str(A), B]).call.body
    assert job["accountingEntryIds"] == [str(B), str(A), str(B)]
    search = accounts.search_op(A, ids=[B, str(B)]).call.body
    assert search["ids"] == [str(B)]


def test_wire_fields_are_the_json_names_of_the_model() -> None:
    assert wire_fields(UpdateExportJobItemV3) == {
        "accountingEntryId",
        "status",
        "exportedAt",
        "externalId",
        "externalUrl",
        "failureReason",
        "failureReasonType",
    }
    assert wire_fields(BookkeepingAccountBatchRequestItemV1) == {
        "archived",
        "externalId",
        "name",
        "code",
        "metadata",
        "taxCodeExternalId",
    }


def test_spec_object_takes_the_model_or_a_camel_case_dict() -> None:
    model = UpdateExportJobItemV3(accounting_entry_id=A, status=ExportJobItemStatus.SUCCESSFUL)
    assert spec_object(model, UpdateExportJobItemV3, "updates[0]") == {
        "accountingEntryId": str(A),
        "status": "successful",
    }
    raw = {"accountingEntryId": str(A), "status": "failed"}
    assert spec_object(raw, UpdateExportJobItemV3, "updates[0]") == raw


def test_spec_object_names_the_entry_and_every_unknown_key() -> None:
    with pytest.raises(ValueError, match=r"items\[2\]: unknown field\(s\) colour, external_id"):
        spec_object(
            {"externalId": "4000", "external_id": "4000", "colour": "red"},
            BookkeepingAccountBatchRequestItemV1,
            "items[2]",
        )
    with pytest.raises(TypeError, match=r"updates\[1\] must be a UpdateExportJobItemV3 or a dict"):
        spec_object(["accountingEntryId"], UpdateExportJobItemV3, "updates[1]")
