"""The converter's wire rules, one by one (``pleo_erp.client.serialization``)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pleo_erp.client.errors import ResponseValidationError
from pleo_erp.client.serialization import loads, sharing_cache, structure, unstructure
from pleo_erp.models import (
    AccountV3,
    AuthCredential,
    BookkeepingAccountCreateRequestV1,
    BookkeepingAccountSearchRequestV1,
    BookkeepingAccountUpdateRequestV1,
    CountryCode,
    CreateExportJobEvent,
    CursorPage,
    DataResponse,
    EndpointAuth,
    ExportItemLineV3,
    ExportItemTypeV3,
    ExportItemV3,
    ExportJobEventType,
    ExportJobFailureReasonType,
    ExportJobItemFailureReasonType,
    ExportJobItemStatus,
    ExportJobItemV3,
    ExportJobStatus,
    ExportJobV3,
    IntrospectionModel,
    InvoiceInformationV3,
    MoneyModel,
    ServicePeriodV3,
    SubscriptionModel,
    SubscriptionSecretModel,
    SupplierV3,
    TaxCodeCreateUpdateModel,
    TaxCodeTypeModel,
    TaxTypeV3,
    TaxV3,
    UpdateExportJobItemV3,
)
from tests.helpers.models import format_datetime

UTC = dt.timezone.utc
COMPANY = "0b6a1f3e-5d33-4c59-9a8e-2c0c8b1d5a11"


def money(value: Any = 6366, currency: str = "GBP") -> dict[str, Any]:
    return {"currency": currency, "value": value}


def amounts(value: Any = 6366) -> dict[str, Any]:
    return {"inSupplierCurrency": money(value), "inWalletCurrency": money(value)}


def line(**overrides: Any) -> dict[str, Any]:
    raw = {
        "accountingEntryLineId": str(uuid.uuid4()),
        "lineAmount": amounts(),
        "netAmount": amounts(5305),
        "account": {"id": str(uuid.uuid4()), "name": "Meals", "code": "6010", "identifier": None},
        "tags": [{"id": str(uuid.uuid4()), "code": "D01", "groupCode": "DEPT"}],
        "tax": {
            "id": str(uuid.uuid4()),
            "rate": 0.2,
            "type": "inclusive",
            "amount": amounts(1061),
            "code": "VAT20",
        },
    }
    raw.update(overrides)
    return raw


def item(**overrides: Any) -> dict[str, Any]:
    raw = {
        "_links": {"web": {"exportItem": "https://app.pleo.io/x"}},
        "accountingEntryId": str(uuid.uuid4()),
        "accountingEntryLines": [line()],
        "additionalInformation": {"reconciliationId": "BK-1"},
        "amount": amounts(),
        "companyId": COMPANY,
        "date": "2025-05-23T15:21:32Z",
        "type": "card_purchase",
    }
    raw.update(overrides)
    return raw


def page(*items: dict[str, Any]) -> dict[str, Any]:
    return {
        "data": list(items),
        "pagination": {
            "currentRequestPagination": {"parameters": {}},
            "hasNextPage": False,
            "hasPreviousPage": False,
        },
    }


def error_of(data: Any, cls: Any) -> ResponseValidationError:
    with pytest.raises(ResponseValidationError) as info:
        structure(data, cls)
    return info.value


# --------------------------------------------------------------------------- JSON paths


def test_bad_money_value_names_the_full_json_path() -> None:
    """The issue's example: ``$.data[3].amount.inWalletCurrency.value`` (camelCase keys)."""
    items = [item() for _ in range(5)]
    items[3]["amount"]["inWalletCurrency"]["value"] = "12.00"
    error = error_of(page(*items), CursorPage[ExportItemV3])
    assert error.path == "$.data[3].amount.inWalletCurrency.value"
    assert error.errors == [
        "expected an integer, got string @ $.data[3].amount.inWalletCurrency.value"
    ]
    assert error.model == "CursorPage[ExportItemV3]"
    assert "CursorPage[ExportItemV3]" in str(error)


def test_every_bad_field_is_listed_and_the_first_is_the_path() -> None:
    """Two problems, two lines; ``path`` is the first in document order."""
    raw = item(companyId="not-a-uuid")
    del raw["accountingEntryLines"][0]["netAmount"]
    error = error_of(raw, ExportItemV3)
    assert error.errors == [
        "required field missing @ $.accountingEntryLines[0].netAmount",
        "expected a UUID @ $.companyId",
    ]
    assert error.path == "$.accountingEntryLines[0].netAmount"
    assert "(+1 more)" in str(error)


def test_renamed_keys_appear_under_their_wire_names() -> None:
    """``_links`` and ``from`` are reported as sent, not as ``links`` / ``from_``."""
    assert (
        error_of({k: v for k, v in item().items() if k != "_links"}, ExportItemV3).path
        == "$._links"
    )
    period = {"from": "2025-01-01T00:00:00Z", "to": 5}
    assert error_of(item(servicePeriod=period), ExportItemV3).path == "$.servicePeriod.to"
    assert error_of({"to": "2025-01-31T00:00:00Z"}, ServicePeriodV3).path == "$.from"


def test_dict_keys_and_null_skipping_arrays_keep_their_json_indices() -> None:
    """A bad tag after a dropped null item is reported at its index in the JSON array."""
    tags = [None, {"id": str(uuid.uuid4()), "code": "D1"}]
    error = error_of(item(accountingEntryLines=[line(tags=tags)]), ExportItemV3)
    assert error.path == "$.accountingEntryLines[0].tags[1].groupCode"
    links = {"web": {"exportItem": 7}}
    assert error_of(item(_links=links), ExportItemV3).path == "$._links.web['exportItem']"


def test_a_non_object_is_reported_once_at_its_own_path() -> None:
    """Not once per field of the class it should have been."""
    error = error_of(item(amount=[1, 2]), ExportItemV3)
    assert error.errors == ["expected an object, got array @ $.amount"]
    assert error_of("nope", ExportItemV3).errors == ["expected an object, got string @ $"]


def test_error_messages_never_quote_the_value() -> None:
    """No secret in any exception message: the value is described by its JSON type only."""
    secret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
    for bad in ([secret], {"k": secret}):
        error = error_of({"data": {"secretKey": bad}}, DataResponse[SubscriptionSecretModel])
        assert secret not in str(error)
        assert all(secret not in line for line in error.errors)
    error = error_of(
        {"data": {"subjectURN": 1, "clientId": [secret]}}, DataResponse[IntrospectionModel]
    )
    assert secret not in " ".join(error.errors)


# --------------------------------------------------------------------------- scalars


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-05-23T15:21:32Z", dt.datetime(2025, 5, 23, 15, 21, 32, tzinfo=UTC)),
        ("2025-05-23T15:21:32z", dt.datetime(2025, 5, 23, 15, 21, 32, tzinfo=UTC)),
        ("2025-05-23T15:21:32.5Z", dt.datetime(2025, 5, 23, 15, 21, 32, 500000, tzinfo=UTC)),
        (
            "2025-05-23T15:21:32.123456789Z",
            dt.datetime(2025, 5, 23, 15, 21, 32, 123456, tzinfo=UTC),
        ),
        ("2025-05-23T17:21:32+02:00", dt.datetime(2025, 5, 23, 15, 21, 32, tzinfo=UTC)),
        ("2025-05-23T15:21:32+0000", dt.datetime(2025, 5, 23, 15, 21, 32, tzinfo=UTC)),
        ("2025-05-23T15:21:32", dt.datetime(2025, 5, 23, 15, 21, 32, tzinfo=UTC)),
        ("2025-05-23", dt.datetime(2025, 5, 23, tzinfo=UTC)),
    ],
)
def test_datetimes_with_z_offsets_and_nanoseconds_parse_aware(
    text: str, expected: dt.datetime
) -> None:
    """``Z`` works on every Python (3.10's ``fromisoformat`` rejects it); no naive results."""
    parsed = structure(item(date=text), ExportItemV3).date
    assert parsed == expected
    assert parsed.tzinfo is not None


@pytest.mark.parametrize("text", ["yesterday", "2025-13-01T00:00:00Z", "2025-05-23T25:00:00Z", ""])
def test_invalid_datetimes_are_refused(text: str) -> None:
    """An impossible date-time is a ``ResponseValidationError`` at its path."""
    assert error_of(item(date=text), ExportItemV3).path == "$.date"


@settings(max_examples=100, deadline=None)
@given(
    moment=st.datetimes(
        min_value=dt.datetime(1900, 1, 1),
        max_value=dt.datetime(2200, 1, 1),
        timezones=st.sampled_from([UTC, dt.timezone(dt.timedelta(hours=-3, minutes=-30))]),
    ),
    fraction=st.sampled_from(["micro", "nano"]),
)
def test_datetime_text_round_trips_through_utc_z(moment: dt.datetime, fraction: str) -> None:
    """Parsed exactly (nanoseconds truncated to microseconds), written back in UTC with ``Z``."""
    raw = {
        "accountingEntryId": str(uuid.uuid4()),
        "exportJobId": str(uuid.uuid4()),
        "status": "pending",
    }
    raw["exportedAt"] = format_datetime(moment, fraction)
    parsed = structure(raw, ExportJobItemV3)
    assert parsed.exported_at == moment
    written = unstructure(parsed)["exportedAt"]
    assert written.endswith("Z")
    assert "+" not in written
    assert dt.datetime.fromisoformat(written.replace("Z", "+00:00")) == moment


def test_naive_datetimes_are_refused_when_writing() -> None:
    """A naive datetime in a request is a bug in the caller: refuse, never guess the zone."""
    update = UpdateExportJobItemV3(
        accounting_entry_id=uuid.uuid4(),
        status=ExportJobItemStatus.SUCCESSFUL,
        exported_at=dt.datetime(2025, 1, 1, 12, 0),
    )
    with pytest.raises(ValueError, match="naive"):
        unstructure(update)


def test_invoice_dates_are_calendar_dates_from_either_spelling() -> None:
    """The spec: ``format: date-time`` with pattern ``YYYY-MM-DD``; both spellings are read."""
    raw = {
        "invoiceDate": "2025-03-01",
        "invoiceNumber": "F-1",
        "status": "paid",
        "dueDate": "2025-03-31T00:00:00Z",
        "paymentDate": None,
    }
    info = structure(raw, InvoiceInformationV3)
    assert info.invoice_date == dt.date(2025, 3, 1)
    assert info.due_date == dt.date(2025, 3, 31)
    assert info.payment_date is None
    assert unstructure(info)["invoiceDate"] == "2025-03-01"
    assert (
        error_of({**raw, "invoiceDate": "03/01/2025"}, InvoiceInformationV3).path == "$.invoiceDate"
    )


def test_decimal_rates_are_exact_never_binary_floats() -> None:
    """``0.2`` from ``json.loads`` is ``Decimal("0.2")``, not ``Decimal(0.2)``'s 55 digits."""
    tax = structure(line(), ExportItemLineV3).tax
    assert tax is not None
    assert tax.rate == Decimal("0.2")
    assert str(tax.rate) == "0.2"
    assert tax.rate != Decimal(0.2)  # noqa: RUF032 - the binary value, on purpose
    for raw, expected in [("0.25", "0.25"), (0, "0"), (Decimal("0.125"), "0.125"), (1e-07, "1E-7")]:
        tax_raw = {**line()["tax"], "rate": raw}
        assert str(structure(tax_raw, TaxV3).rate) == expected


def test_loads_reads_numbers_as_decimals_and_money_stays_integer() -> None:
    """``serialization.loads`` keeps every decimal digit; integral numbers still fit ``int``."""
    body = json.dumps(item()).replace('"rate": 0.2', '"rate": 0.2000000000000000000001')
    body = body.replace('"value": 6366', '"value": 6366.0', 1)
    parsed = structure(loads(body), ExportItemV3)
    tax = parsed.accounting_entry_lines[0].tax
    assert tax is not None
    assert tax.rate == Decimal("0.2000000000000000000001")
    assert parsed.amount.in_supplier_currency == MoneyModel("GBP", 6366)
    assert type(parsed.amount.in_supplier_currency.value) is int


@pytest.mark.parametrize("bad", [63.66, "6366", True, None, float("nan")])
def test_money_is_integer_minor_units_never_rounded(bad: Any) -> None:
    """DESIGN.md "Money": a fractional minor unit, a string or a bool is refused, not coerced."""
    raw = item(amount={"inSupplierCurrency": money(bad), "inWalletCurrency": money()})
    assert error_of(raw, ExportItemV3).path == "$.amount.inSupplierCurrency.value"


def test_decimals_write_back_exactly_or_not_at_all() -> None:
    """Integral → JSON integer; short decimals → the float whose repr is the same digits;
    anything a JSON number cannot carry exactly is refused rather than rounded."""
    base: dict[str, Any] = {
        "archived": False,
        "company_id": uuid.uuid4(),
        "name": "VAT",
        "type": TaxCodeTypeModel.INCLUSIVE,
    }
    assert unstructure(TaxCodeCreateUpdateModel(rate=Decimal("0.25"), **base))["rate"] == 0.25
    assert unstructure(TaxCodeCreateUpdateModel(rate=Decimal("1.00"), **base))["rate"] == 1
    assert type(unstructure(TaxCodeCreateUpdateModel(rate=Decimal("1.00"), **base))["rate"]) is int
    with pytest.raises(ValueError, match="digits"):
        unstructure(TaxCodeCreateUpdateModel(rate=Decimal("0.12345678901234567890"), **base))


@pytest.mark.parametrize(
    ("field", "bad", "path"),
    [
        ("note", 12, "$.note"),
        ("note", ["x"], "$.note"),
        ("companyId", 12, "$.companyId"),
        ("companyId", "0b6a1f3e5d334c599a8e2c0c8b1d5a1", "$.companyId"),
        ("type", 3, "$.type"),
        ("accountingEntryLines", "abc", "$.accountingEntryLines"),
        ("files", {"url": "x"}, "$.files"),
    ],
)
def test_scalars_are_checked_not_coerced(field: str, bad: Any, path: str) -> None:
    """A number is not a string, a string is not a list: no silent ``str()`` or ``list()``."""
    assert error_of(item(**{field: bad}), ExportItemV3).path == path


def test_booleans_are_strict() -> None:
    """``"false"`` is truthy in Python; on the wire it is a type error."""
    job = {
        "companyId": COMPANY,
        "createdAt": "2025-05-23T15:21:32Z",
        "expiresIn": 3600,
        "id": str(uuid.uuid4()),
        "isInteractive": "false",
        "numberOfItems": 1,
        "status": "pending",
        "vendorBasedBookkeeping": False,
    }
    assert error_of(job, ExportJobV3).path == "$.isInteractive"
    job["isInteractive"] = 0
    assert error_of(job, ExportJobV3).path == "$.isInteractive"


def test_uuids_parse_every_spelling_and_share_instances() -> None:
    """Canonical, upper-case and dash-less ids parse; repeated ids come from the cache."""
    # The cache is bounded and starts afresh when full: begin with room, so that what earlier
    # tests in this process parsed cannot make it start over between the two lookups.
    sharing_cache.clear()
    value = uuid.uuid4()
    a = structure(item(companyId=str(value)), ExportItemV3).company_id
    b = structure(item(companyId=str(value).upper()), ExportItemV3).company_id
    c = structure(item(companyId=value.hex), ExportItemV3).company_id
    assert a == b == c == value
    assert structure(item(companyId=str(value)), ExportItemV3).company_id is a


# --------------------------------------------------------------------------- enums


@pytest.mark.rule("export-16")
def test_unknown_open_enum_values_are_kept_as_strings() -> None:
    """export-api Part 3 rule 16: a new v3 value never breaks a page; a known one is the member."""
    raw = item(type="balance_amendment", subType="brand_new", bookkeeping={"method": "hybrid"})
    parsed = structure(raw, ExportItemV3)
    assert parsed.type == "balance_amendment"
    assert type(parsed.type) is str
    assert parsed.sub_type == "brand_new"
    assert parsed.bookkeeping is not None
    assert parsed.bookkeeping.method == "hybrid"
    known = structure(item(type="card_purchase"), ExportItemV3)
    kind: ExportItemTypeV3 | str = known.type
    assert kind == "card_purchase"  # str enums compare with the plain string
    assert known.type is ExportItemTypeV3.CARD_PURCHASE
    assert unstructure(parsed)["type"] == "balance_amendment"
    assert unstructure(known)["type"] == "card_purchase"


def test_unknown_values_in_every_response_enum_are_kept() -> None:
    """Job, item and tax enums, and the country code, are open too."""
    job = structure(
        {
            "companyId": COMPANY,
            "createdAt": "2025-05-23T15:21:32Z",
            "expiresIn": 3600,
            "id": str(uuid.uuid4()),
            "isInteractive": True,
            "numberOfItems": 1,
            "status": "archived",
            "vendorBasedBookkeeping": False,
            "failureReasonType": "meteor",
        },
        ExportJobV3,
    )
    assert (job.status, job.failure_reason_type) == ("archived", "meteor")
    assert structure({**line()["tax"], "type": "zero_rated"}, TaxV3).type == "zero_rated"
    assert structure({"country": "UNDEFINED"}, SupplierV3).country is CountryCode.UNDEFINED
    assert structure({"country": "QQ"}, SupplierV3).country == "QQ"
    assert structure({"type": "OAUTH"}, EndpointAuth).type == "OAUTH"


@pytest.mark.rule("export-gap-25")
def test_item_status_may_be_null() -> None:
    """export-api Part 2 #25: required, yet null until processing was attempted."""
    raw = {"accountingEntryId": str(uuid.uuid4()), "exportJobId": str(uuid.uuid4()), "status": None}
    assert structure(raw, ExportJobItemV3).status is None
    assert (
        error_of({k: v for k, v in raw.items() if k != "status"}, ExportJobItemV3).path
        == "$.status"
    )


@pytest.mark.rule("export-3")
def test_request_enums_are_closed() -> None:
    """A request may only carry values Pleo accepts (the spec closes these enums), e.g. the
    sandbox refuses an item-only reason on a job event (export-api Part 3 rule 3)."""
    body = {"event": "failed", "jobId": str(uuid.uuid4()), "failureReasonType": "vendor_unknown"}
    error = error_of(body, CreateExportJobEvent)
    assert error.path == "$.failureReasonType"
    assert error.errors == ["not a ExportJobFailureReasonType value @ $.failureReasonType"]
    ok = structure({**body, "failureReasonType": "job_expired"}, CreateExportJobEvent)
    assert ok.failure_reason_type is ExportJobFailureReasonType.JOB_EXPIRED


# --------------------------------------------------------------------------- writing


def test_event_body_uses_job_id_and_omits_unset_fields() -> None:
    """Decision 1: key ``jobId``; failure fields only when set (decision 3)."""
    job_id = uuid.uuid4()
    started = CreateExportJobEvent(event=ExportJobEventType.STARTED, job_id=job_id)
    assert unstructure(started) == {"event": "started", "jobId": str(job_id)}
    failed = CreateExportJobEvent(
        event=ExportJobEventType.FAILED,
        job_id=job_id,
        failure_reason="AS down",
        failure_reason_type=ExportJobFailureReasonType.ACCOUNTING_SYSTEM_UNREACHABLE,
    )
    assert unstructure(failed) == {
        "event": "failed",
        "jobId": str(job_id),
        "failureReason": "AS down",
        "failureReasonType": "accounting_system_unreachable",
    }


def test_item_updates_serialize_as_a_json_array_with_spec_names() -> None:
    """The PUT body is an array; ``exportedAt`` in UTC with ``Z``."""
    entry = uuid.uuid4()
    updates = [
        UpdateExportJobItemV3(
            accounting_entry_id=entry,
            status=ExportJobItemStatus.SUCCESSFUL,
            exported_at=dt.datetime(2025, 5, 23, 17, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            external_id="JE-1",
        ),
        UpdateExportJobItemV3(
            accounting_entry_id=entry,
            status=ExportJobItemStatus.FAILED,
            failure_reason="vendor blocked",
            failure_reason_type=ExportJobItemFailureReasonType.VENDOR_UNKNOWN,
        ),
    ]
    assert unstructure(updates) == [
        {
            "accountingEntryId": str(entry),
            "status": "successful",
            "exportedAt": "2025-05-23T15:00:00Z",
            "externalId": "JE-1",
        },
        {
            "accountingEntryId": str(entry),
            "status": "failed",
            "failureReason": "vendor blocked",
            "failureReasonType": "vendor_unknown",
        },
    ]


def test_plain_strings_are_accepted_where_enums_are_declared() -> None:
    """Callers may pass the raw string (str enums); it is written unchanged."""
    body = UpdateExportJobItemV3(accounting_entry_id=uuid.uuid4(), status="failed")  # type: ignore[arg-type]
    assert unstructure(body)["status"] == "failed"


def test_put_bodies_send_null_to_clear_and_create_bodies_leave_it_out() -> None:
    """The documented ``None`` rule: nullable fields of a PUT are sent as ``null``."""
    update = BookkeepingAccountUpdateRequestV1(archived=False, name="Travel")
    assert unstructure(update) == {
        "archived": False,
        "name": "Travel",
        "code": None,
        "metadata": None,
        "taxCodeExternalId": None,
    }
    create = BookkeepingAccountCreateRequestV1(
        archived=False, company_id=uuid.UUID(COMPANY), external_id="6010", name="Travel"
    )
    assert unstructure(create) == {
        "archived": False,
        "companyId": COMPANY,
        "externalId": "6010",
        "name": "Travel",
    }
    search = BookkeepingAccountSearchRequestV1(company_id=uuid.UUID(COMPANY), codes=("6010",))
    assert unstructure(search) == {
        "companyId": COMPANY,
        "excludeIfAssignedToCategory": False,
        "excludeIfAssignedToContraAccount": False,
        "codes": ["6010"],
    }


def test_responses_write_null_for_nullable_and_omit_the_rest() -> None:
    """What the sandbox serves: ``null`` where the spec allows it, absent otherwise."""
    parsed = structure(item(), ExportItemV3)
    written = unstructure(parsed)
    assert written["note"] is None
    assert written["vendor"] is None
    assert "subType" not in written  # not nullable in the spec
    assert written["_links"] == {"web": {"exportItem": "https://app.pleo.io/x"}}
    account = structure(line()["account"], AccountV3)
    assert unstructure(account)["identifier"] is None


def test_envelopes_and_tuples_write_as_plain_json() -> None:
    """Tuples become lists, envelopes dicts; the output is ``json.dumps``-able as is."""
    parsed = structure(page(item(), item()), CursorPage[ExportItemV3])
    written = unstructure(parsed)
    assert isinstance(written["data"], list)
    assert isinstance(written["data"][0]["accountingEntryLines"], list)
    json.dumps(written)
    assert structure(written, CursorPage[ExportItemV3]) == parsed


# --------------------------------------------------------------------------- secrets & misc


def test_credentials_never_appear_in_reprs() -> None:
    """No secret in any repr: passwords, tokens, custom headers, webhook secrets."""
    creds = AuthCredential(password="hunter2", token="tok-123", username="pleo")
    assert "hunter2" not in repr(creds)
    assert "tok-123" not in repr(creds)
    assert "pleo" in repr(creds)
    secret = SubscriptionSecretModel(secret_key="whsec_abc")
    assert "whsec_abc" not in repr(secret)
    sub = structure(
        {
            "createdAt": "2025-01-01T00:00:00Z",
            "endpointUrl": "https://example.com/hook",
            "eventTypes": ["v1.export-job.created"],
            "id": str(uuid.uuid4()),
            "status": "ACTIVE",
            "updatedAt": "2025-01-01T00:00:00Z",
            "customHeaders": {"X-Token": "s3cret"},
            "endpointAuth": {"type": "BASIC", "credentials": {"username": "u", "password": "p4ss"}},
        },
        SubscriptionModel,
    )
    assert "s3cret" not in repr(sub)
    assert "p4ss" not in repr(sub)
    assert sub.custom_headers == {"X-Token": "s3cret"}  # redacted in repr only


def test_introspection_company_id_comes_from_the_subject_urn() -> None:
    """``subjectURN`` (acronym key) → ``company_id``; ``None`` for a non-company subject."""
    company = uuid.uuid4()
    body = {
        "data": {
            "authMethod": "API_KEY",
            "clientId": "c1",
            "scope": "export-jobs:read export-items:read",
            "applicationName": "pleo-erp",
            "subjectURN": f"urn:pleo:company:{company}",
        }
    }
    me = structure(body, DataResponse[IntrospectionModel]).data
    assert me.company_id == company
    assert me.scopes == ("export-jobs:read", "export-items:read")
    assert unstructure(me)["subjectURN"] == f"urn:pleo:company:{company}"
    assert IntrospectionModel(subject_urn=f"urn:pleo:organization:{company}").company_id is None
    assert IntrospectionModel(subject_urn="urn:pleo:company:not-a-uuid").company_id is None
    assert IntrospectionModel().company_id is None
    assert IntrospectionModel().scopes == ()


def test_models_are_frozen_and_hashable() -> None:
    """Wire models are immutable values (arrays are tuples)."""
    parsed = structure(item(), ExportItemV3)
    with pytest.raises(AttributeError):
        parsed.note = "changed"  # type: ignore[misc]
    line_model = parsed.accounting_entry_lines[0]
    assert hash(line_model) == hash(structure(unstructure(line_model), ExportItemLineV3))
    assert isinstance(parsed.accounting_entry_lines, tuple)


def test_constructed_requests_use_python_values() -> None:
    """Constructing a model needs no JSON knowledge: ids, enums and decimals are Python."""
    tax = TaxV3(
        amount=structure(amounts(1061), type(structure(line(), ExportItemLineV3).tax.amount)),  # type: ignore[union-attr]
        id=uuid.uuid4(),
        rate=Decimal("0.2"),
        type=TaxTypeV3.INCLUSIVE,
    )
    assert unstructure(tax)["rate"] == 0.2
    assert ExportJobStatus("completed_with_errors") is ExportJobStatus.COMPLETED_WITH_ERRORS
