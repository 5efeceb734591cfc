"""Webhook verification, replay protection and event parsing (DESIGN decisions 10 and 13;
export-api.md §7 and Part 3 rule 20)."""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pleo_erp.client.errors import ResponseValidationError, WebhookVerificationError
from pleo_erp.client.serialization import structure
from pleo_erp.client.webhooks import (
    BasicAuthVerifier,
    ExportJobCreatedEvent,
    HeaderVerifier,
    ReplayGuard,
    StandardWebhookVerifier,
    WebhookEvent,
    WebhookPayloadError,
    WebhookReplayError,
    WebhookVerifier,
    parse_event,
    sign,
    signature_headers,
    verify_and_parse,
)

# The spec's example secret shape (pleo-subscriptions-api-openapi.yml).
SECRET = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
OTHER_SECRET = "whsec_" + base64.b64encode(b"another secret key 0123").decode()
NOW = datetime(2025, 5, 23, 15, 21, 40, tzinfo=timezone.utc)
TS = int(NOW.timestamp())
JOB_ID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
COMPANY_ID = "2f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
BODY = json.dumps(
    {
        "data": {
            "companyId": COMPANY_ID,
            "createdAt": "2025-05-23T15:21:32Z",
            "createdBy": "employee-1",
            "expiresIn": 3600,
            "id": JOB_ID,
            "numberOfItems": 1,
            "status": "pending",
        },
        "eventId": "d0d5b5f4-2b8e-4f4e-9d61-0f8f7c3b1a11",
        "eventType": "v1.export-job.created",
    }
).encode()


def clock() -> datetime:
    return NOW


def headers_for(body: bytes = BODY, *, ts: int = TS, msg_id: str = "msg_1") -> dict[str, str]:
    return signature_headers(SECRET, msg_id, ts, body)


def verifier(**kwargs: object) -> StandardWebhookVerifier:
    return StandardWebhookVerifier(SECRET, clock=clock, **kwargs)  # type: ignore[arg-type]


# ---- signing: the Standard Webhooks reference vector -----------------------------------------


def test_sign_matches_standard_webhooks_reference_vector() -> None:
    # From the Standard Webhooks reference library's test suite.
    signature = sign(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        '{"test": 2432232314}',
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_sign_accepts_datetime_and_secret_without_prefix() -> None:
    when = datetime.fromtimestamp(1614265330, tz=timezone.utc)
    assert (
        sign(
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            when,
            b'{"test": 2432232314}',
        )
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_signature_headers_shape() -> None:
    headers = headers_for()
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert headers["webhook-timestamp"] == str(TS)
    assert headers["webhook-signature"].startswith("v1,")


# ---- StandardWebhookVerifier -----------------------------------------------------------------


def test_valid_signature_verifies() -> None:
    verifier().verify(headers_for(), BODY)
    assert isinstance(verifier(), WebhookVerifier)


def test_headers_are_case_insensitive_and_httpx_headers_work() -> None:
    upper = {k.upper(): v for k, v in headers_for().items()}
    verifier().verify(upper, BODY)
    verifier().verify(httpx.Headers(headers_for()), BODY)


def test_str_body_is_treated_as_utf8() -> None:
    body = '{"eventType":"x","data":{"name":"Søren"}}'
    verifier().verify(headers_for(body.encode()), body)


@pytest.mark.parametrize(
    "tampered",
    [
        BODY.replace(b'"numberOfItems": 1', b'"numberOfItems": 2'),
        BODY + b" ",
        BODY[:-1],
        b"",
    ],
)
def test_tampered_body_rejected(tampered: bytes) -> None:
    with pytest.raises(WebhookVerificationError, match="no webhook signature matches"):
        verifier().verify(headers_for(), tampered)


def test_tampered_id_or_timestamp_rejected() -> None:
    headers = headers_for()
    with pytest.raises(WebhookVerificationError, match="signature"):
        verifier().verify({**headers, "webhook-id": "msg_2"}, BODY)
    with pytest.raises(WebhookVerificationError, match="signature"):
        verifier().verify({**headers, "webhook-timestamp": str(TS + 1)}, BODY)


def test_wrong_secret_rejected() -> None:
    headers = signature_headers(OTHER_SECRET, "msg_1", TS, BODY)
    with pytest.raises(WebhookVerificationError, match="no webhook signature matches"):
        verifier().verify(headers, BODY)


def test_old_timestamp_rejected_even_with_valid_signature() -> None:
    old = TS - 5 * 60 - 1
    with pytest.raises(WebhookVerificationError, match="older"):
        verifier().verify(headers_for(ts=old), BODY)
    verifier().verify(headers_for(ts=TS - 5 * 60), BODY)  # the edge itself is accepted


def test_future_timestamp_rejected_even_with_valid_signature() -> None:
    future = TS + 5 * 60 + 1
    with pytest.raises(WebhookVerificationError, match="future"):
        verifier().verify(headers_for(ts=future), BODY)
    verifier().verify(headers_for(ts=TS + 5 * 60), BODY)


def test_tolerance_is_configurable() -> None:
    strict = verifier(tolerance=timedelta(seconds=10))
    with pytest.raises(WebhookVerificationError, match="older"):
        strict.verify(headers_for(ts=TS - 11), BODY)


def test_several_signatures_one_valid_is_accepted() -> None:
    valid = headers_for()["webhook-signature"]
    wrong = signature_headers(OTHER_SECRET, "msg_1", TS, BODY)["webhook-signature"]
    header = " ".join([wrong, "v2," + valid.split(",", 1)[1] + "x", "v1,not-base64!!", valid])
    verifier().verify({**headers_for(), "webhook-signature": header}, BODY)


def test_several_signatures_none_valid_rejected() -> None:
    wrong = signature_headers(OTHER_SECRET, "msg_1", TS, BODY)["webhook-signature"]
    valid_payload = headers_for()["webhook-signature"].split(",", 1)[1]
    # The right bytes under another version tag do not count.
    header = f"{wrong} v2,{valid_payload} garbage"
    with pytest.raises(WebhookVerificationError):
        verifier().verify({**headers_for(), "webhook-signature": header}, BODY)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header_rejected(missing: str) -> None:
    headers = headers_for()
    del headers[missing]
    with pytest.raises(WebhookVerificationError, match=f"missing {missing}"):
        verifier().verify(headers, BODY)


@pytest.mark.parametrize("bad", ["hello", "1.5", "-5", "99999999999999999999"])
def test_malformed_timestamp_rejected(bad: str) -> None:
    with pytest.raises(WebhookVerificationError, match="Unix seconds"):
        verifier().verify({**headers_for(), "webhook-timestamp": bad}, BODY)


@pytest.mark.parametrize("secret", ["", "whsec_", "whsec_***not base64***"])
def test_bad_secret_rejected_without_echoing_it(secret: str) -> None:
    with pytest.raises(ValueError) as info:
        StandardWebhookVerifier(secret)
    payload = secret.removeprefix("whsec_")
    if payload:
        assert payload not in str(info.value)


@settings(max_examples=100, deadline=None)
@given(body=st.binary(max_size=256), flip=st.integers(min_value=0, max_value=10_000))
def test_any_single_bit_flip_in_body_is_rejected(body: bytes, flip: int) -> None:
    headers = headers_for(body)
    verifier().verify(headers, body)
    if not body:
        return
    index = flip % len(body)
    tampered = body[:index] + bytes([body[index] ^ 1]) + body[index + 1 :]
    with pytest.raises(WebhookVerificationError):
        verifier().verify(headers, tampered)


# ---- Basic and header verifiers --------------------------------------------------------------


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_basic_auth_verifier() -> None:
    check = BasicAuthVerifier("pleo", "hunter2-password")
    check.verify(basic("pleo", "hunter2-password"), BODY)
    check.verify({"authorization": basic("pleo", "hunter2-password")["Authorization"]}, BODY)
    for headers in (
        basic("pleo", "wrong"),
        basic("other", "hunter2-password"),
        basic("pleo", "hunter2-password-longer"),
        {"Authorization": "Bearer hunter2-password"},
        {"Authorization": "Basic ***"},
        {},
    ):
        with pytest.raises(WebhookVerificationError) as info:
            check.verify(headers, BODY)
        assert "hunter2" not in str(info.value)


def test_header_verifier() -> None:
    check = HeaderVerifier("X-Pleo-Token", "tok-123456")
    check.verify({"x-pleo-token": "tok-123456"}, BODY)
    check.verify({"X-PLEO-TOKEN": "tok-123456"}, BODY)
    for headers in ({"x-pleo-token": "tok-12345"}, {"x-pleo-token": ""}, {"other": "tok-123456"}):
        with pytest.raises(WebhookVerificationError) as info:
            check.verify(headers, BODY)
        assert "tok-123456" not in str(info.value)


# ---- replay protection -----------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def test_replay_guard_rejects_seen_ids_and_forgets_after_ttl() -> None:
    tick = Clock()
    guard = ReplayGuard(ttl=timedelta(minutes=10), clock=tick)
    guard.check_and_remember("msg_1")
    with pytest.raises(WebhookReplayError):
        guard.check_and_remember("msg_1")
    guard.check_and_remember("msg_2")
    tick.now += timedelta(minutes=11)
    guard.check_and_remember("msg_1")  # forgotten after the ttl
    assert len(guard) == 1


def test_replay_guard_memory_is_bounded() -> None:
    guard = ReplayGuard(max_entries=3, clock=Clock())
    for n in range(10):
        guard.check_and_remember(f"msg_{n}")
    assert len(guard) == 3
    with pytest.raises(WebhookReplayError):
        guard.check_and_remember("msg_9")
    guard.check_and_remember("msg_0")  # evicted, so accepted again


def test_replay_guard_persistence_hook_spans_instances() -> None:
    class SetStore:
        def __init__(self) -> None:
            self.ids: dict[str, datetime] = {}

        def add_if_absent(self, webhook_id: str, seen_at: datetime) -> bool:
            if webhook_id in self.ids:
                return False
            self.ids[webhook_id] = seen_at
            return True

    durable = SetStore()
    ReplayGuard(store=durable, clock=Clock()).check_and_remember("msg_1")
    restarted = ReplayGuard(store=durable, clock=Clock())
    with pytest.raises(WebhookReplayError):
        restarted.check_and_remember("msg_1")
    assert durable.ids == {"msg_1": NOW}


def test_verify_and_parse_rejects_a_replayed_delivery() -> None:
    guard = ReplayGuard(clock=Clock())
    headers = headers_for()
    event = verify_and_parse(headers, BODY, verifier(), guard)
    assert isinstance(event, ExportJobCreatedEvent)
    with pytest.raises(WebhookReplayError):
        verify_and_parse(headers, BODY, verifier(), guard)


def test_forged_delivery_does_not_poison_the_replay_guard() -> None:
    guard = ReplayGuard(clock=Clock())
    forged = {**headers_for(), "webhook-signature": "v1," + base64.b64encode(b"x" * 32).decode()}
    with pytest.raises(WebhookVerificationError):
        verify_and_parse(forged, BODY, verifier(), guard)
    assert len(guard) == 0
    verify_and_parse(headers_for(), BODY, verifier(), guard)


def test_replay_falls_back_to_event_id_for_basic_auth() -> None:
    guard = ReplayGuard(clock=Clock())
    check = BasicAuthVerifier("u", "p")
    verify_and_parse(basic("u", "p"), BODY, check, guard)
    with pytest.raises(WebhookReplayError):
        verify_and_parse(basic("u", "p"), BODY, check, guard)


# ---- event parsing ---------------------------------------------------------------------------


def test_parse_export_job_created_event() -> None:
    event = parse_event(BODY)
    assert isinstance(event, ExportJobCreatedEvent)
    assert event.event_type == "v1.export-job.created"
    assert event.event_id == "d0d5b5f4-2b8e-4f4e-9d61-0f8f7c3b1a11"
    assert event.job_id == uuid.UUID(JOB_ID)
    assert event.company_id == uuid.UUID(COMPANY_ID)
    assert event.status == "pending"
    assert event.created_at == datetime(2025, 5, 23, 15, 21, 32, tzinfo=timezone.utc)
    assert event.created_by == "employee-1"
    assert event.expires_in == 3600
    assert event.number_of_items == 1
    assert event.data["id"] == JOB_ID


def test_parse_wrapped_payload_shape_from_the_newer_docs() -> None:
    wrapped = {
        "webhook-id": "msg_1",
        "webhook-timestamp": TS,
        "webhook-signature": "v1,xxx",
        "payload": json.loads(BODY),
    }
    event = parse_event(json.dumps(wrapped))
    assert isinstance(event, ExportJobCreatedEvent)
    assert event.job_id == uuid.UUID(JOB_ID)


@pytest.mark.parametrize("name", ["v1.export.job-created", "export-job.created"])
def test_documented_event_name_variants_parse_as_export_job_created(name: str) -> None:
    body = {**json.loads(BODY), "eventType": name}
    event = parse_event(body)
    assert isinstance(event, ExportJobCreatedEvent)
    assert event.event_type == name


def test_unknown_event_type_kept_generic_with_raw_data() -> None:
    event = parse_event({"eventType": "v1.vendor.created", "eventId": "e1", "data": {"x": 1}})
    assert type(event) is WebhookEvent
    assert event.event_type == "v1.vendor.created"
    assert event.data == {"x": 1}


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (b"not json", "$"),
        (b"[1, 2]", "$"),
        (b'{"data": {}}', "$.eventType"),
        (b'{"eventType": "v1.export-job.created", "data": []}', "$.data"),
        (b'{"eventType": "v1.export-job.created", "data": {"companyId": "x"}}', "$.data.id"),
        (
            json.dumps({"eventType": "v1.export-job.created", "data": {"id": JOB_ID}}).encode(),
            "$.data.companyId",
        ),
        (
            json.dumps(
                {
                    "eventType": "v1.export-job.created",
                    "data": {"id": JOB_ID, "companyId": COMPANY_ID, "numberOfItems": "1"},
                }
            ).encode(),
            "$.data.numberOfItems",
        ),
        (
            json.dumps(
                {
                    "eventType": "v1.export-job.created",
                    "data": {"id": JOB_ID, "companyId": COMPANY_ID, "createdAt": "yesterday"},
                }
            ).encode(),
            "$.data.createdAt",
        ),
        (b'{"eventType": ""}', "$.eventType"),
        (b'{"eventType": "v1.vendor.created", "eventId": 7}', "$.eventId"),
        (
            json.dumps(
                {
                    "eventType": "v1.export-job.created",
                    "data": {"id": JOB_ID, "companyId": COMPANY_ID, "status": 1},
                }
            ).encode(),
            "$.data.status",
        ),
        (
            json.dumps(
                {"payload": {"eventType": "v1.export-job.created", "data": {"id": "x"}}}
            ).encode(),
            "$.payload.data.id",
        ),
        (json.dumps({"payload": {"data": {}}}).encode(), "$.payload.eventType"),
        (b"\xff\xfe not utf-8", "$"),
    ],
)
def test_malformed_payload_names_the_path(body: bytes, path: str) -> None:
    with pytest.raises(WebhookPayloadError) as info:
        parse_event(body)
    assert info.value.path == path
    assert isinstance(info.value, ResponseValidationError)


@pytest.mark.parametrize(
    "created_at",
    [
        "2025-05-23T15:21:32Z",
        "2025-05-23T17:21:32+02:00",
        "2025-05-23T15:21:32.123456789Z",  # nanoseconds: truncated like every Pleo timestamp
        "2025-05-23T15:21:32",  # no offset: read exactly as the converter reads it
        "2025-05-23",
    ],
)
def test_created_at_follows_the_converters_datetime_rules(created_at: str) -> None:
    """DESIGN "one cattrs converter": a webhook timestamp is read by the same rules as every
    other Pleo date-time (the converter decides what an offset-less value means, not a second
    parser here), and an accepted value is never naive."""
    body = {
        "eventType": "v1.export-job.created",
        "data": {"id": JOB_ID, "companyId": COMPANY_ID, "createdAt": created_at},
    }
    try:
        expected = structure(created_at, datetime)
    except ResponseValidationError:
        with pytest.raises(WebhookPayloadError) as info:
            parse_event(body)
        assert info.value.path == "$.data.createdAt"
        return
    event = parse_event(body)
    assert isinstance(event, ExportJobCreatedEvent)
    assert event.created_at == expected
    assert event.created_at is not None
    assert event.created_at.tzinfo is not None
    assert event.created_at.utcoffset() == expected.utcoffset()


def test_naive_created_at_is_the_converters_utc_not_local_time() -> None:
    """An offset-less ``createdAt`` gets the converter's documented meaning (Pleo's times are
    UTC), pinned here so a change of that rule is a deliberate, visible one."""
    event = parse_event(
        {
            "eventType": "v1.export-job.created",
            "data": {"id": JOB_ID, "companyId": COMPANY_ID, "createdAt": "2025-05-23T15:21:32"},
        }
    )
    assert isinstance(event, ExportJobCreatedEvent)
    assert event.created_at == structure("2025-05-23T15:21:32Z", datetime)
    assert event.created_at == datetime(2025, 5, 23, 15, 21, 32, tzinfo=timezone.utc)


def test_mapping_body_with_datetime_objects_follows_the_converter() -> None:
    """A pre-parsed body may carry a ``datetime``: an aware one is kept, a naive one is refused
    (the converter never guesses a zone for a Python object)."""
    aware = datetime(2025, 5, 23, 17, 21, 32, tzinfo=timezone(timedelta(hours=2)))
    data = {"id": JOB_ID, "companyId": COMPANY_ID, "createdAt": aware}
    event = parse_event({"eventType": "v1.export-job.created", "data": data})
    assert isinstance(event, ExportJobCreatedEvent)
    assert event.created_at == aware
    naive = {**data, "createdAt": datetime(2025, 5, 23, 15, 21, 32)}
    with pytest.raises(WebhookPayloadError) as info:
        parse_event({"eventType": "v1.export-job.created", "data": naive})
    assert info.value.path == "$.data.createdAt"


def test_typed_event_ignores_unknown_keys_and_keeps_raw_data() -> None:
    """Unknown keys (here the newer docs' header copies and extra job fields) never fail a
    delivery; ``data`` stays the raw object for callers that need more than the typed fields."""
    inner = json.loads(BODY)
    inner["data"]["isInteractive"] = True
    inner["data"]["status"] = "some_future_status"
    wrapped = {"webhook-id": "msg_1", "webhook-timestamp": TS, "payload": inner}
    event = parse_event(json.dumps(wrapped).encode())
    assert isinstance(event, ExportJobCreatedEvent)
    assert event.status == "some_future_status"
    assert event.data["isInteractive"] is True
    assert event.expires_in == 3600


# ---- secrets stay secret ---------------------------------------------------------------------


def test_secrets_never_in_reprs_messages_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="pleo_erp")
    raw_key = base64.b64decode(SECRET.removeprefix("whsec_"))
    std = verifier()
    good = headers_for()
    signature = good["webhook-signature"].split(",", 1)[1]
    messages: list[str] = []
    attempts: list[tuple[Mapping[str, str], bytes, WebhookVerifier]] = [
        ({**good, "webhook-id": "other"}, BODY, std),
        (headers_for(ts=TS - 3600), BODY, std),
        (good, BODY + b"x", std),
        (basic("u", "wrong-pass"), BODY, BasicAuthVerifier("u", "right-pass")),
        ({"x-token": "nope"}, BODY, HeaderVerifier("x-token", "right-token")),
    ]
    for headers, body, check in attempts:
        with pytest.raises(WebhookVerificationError) as info:
            verify_and_parse(headers, body, check)
        messages += [str(info.value), repr(info.value)]
    texts = [
        caplog.text,
        repr(std),
        str(std),
        repr(BasicAuthVerifier("u", "right-pass")),
        repr(HeaderVerifier("x-token", "right-token")),
        *messages,
    ]
    for text in texts:
        for secret in (
            SECRET,
            SECRET.removeprefix("whsec_"),
            signature,
            "right-pass",
            "right-token",
        ):
            assert secret not in text, (secret, text)
        assert repr(raw_key) not in text
    assert "webhook rejected" in caplog.text
