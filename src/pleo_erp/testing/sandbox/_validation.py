"""Request and response validation against the converted spec schemas (jsonschema 2020-12).

Requests: path and query parameters (typed from their strings, unknown names refused, the
pagination exclusivity rules), the JSON body. A problem becomes a ``400`` whose message names
the parameter or the JSON path, so a drifting client is told exactly what it got wrong.

Responses: the body is checked against the schema declared for its status. ``mode`` trades
cost against coverage: ``full`` validates everything (contract tests), ``sample`` validates a
list envelope plus its first, middle and last elements (large pages in benchmarks),
``off`` skips the check.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, Literal

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError, best_match

from ._errors import ApiError
from ._fastschema import Check, compile_check
from ._spec import Operation, Parameter, ResponseSpec, Schema

__all__ = [
    "EXCEPTION_INFO_SCHEMA",
    "ResponseMode",
    "ValidatedRequest",
    "format_checker",
    "query_to_multidict",
    "schema_error",
    "use_reference_validation",
    "validate_request",
    "validate_response_body",
    "validator_for",
]

ResponseMode = Literal["full", "sample", "off"]

#: Pleo's error body; used for error statuses the spec declares without a schema.
EXCEPTION_INFO_SCHEMA: Schema = {
    "type": "object",
    "required": ["type"],
    "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
}

_UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
_DATE_TIME_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PAGINATION_EXCLUSIVE = ("before", "after", "offset")
#: The smallest paging value Pleo accepts where a spec declares no ``minimum`` (tags, tax
#: codes, chart of accounts, subscriptions): a page starts at or after the first record and
#: holds at least one. Specs that declare a minimum (the export APIs: ``limit >= 0``) decide.
_PAGING_MINIMUM = {"offset": 0, "limit": 1}
_MAX_MESSAGE = 400


def _check_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _DATE_TIME_RE.match(value):
        return False
    normalised = value[:-1] + "+00:00" if value[-1] in "Zz" else value
    # Python 3.10's fromisoformat wants exactly 3 or 6 fractional digits: use 6.
    normalised = re.sub(r"\.(\d+)", lambda m: "." + m.group(1)[:6].ljust(6, "0"), normalised)
    try:
        datetime.fromisoformat(normalised.replace("t", "T"))
    except ValueError:
        return False
    return True


def _check_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _DATE_RE.match(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _check_uuid(value: object) -> bool:
    return not isinstance(value, str) or bool(_UUID_RE.match(value))


def format_checker() -> FormatChecker:
    """The formats the specs use (uuid, date-time, date), without optional dependencies."""
    checker = FormatChecker(formats=())
    checker.checks("uuid")(_check_uuid)
    checker.checks("date-time")(_check_date_time)
    checker.checks("date")(_check_date)
    return checker


_FORMAT_CHECKER = format_checker()
_FAST_FORMATS: dict[str, Check] = {
    "uuid": _check_uuid,
    "date-time": _check_date_time,
    "date": _check_date,
}
_VALIDATORS: dict[int, tuple[Schema, Draft202012Validator]] = {}
_FAST_CHECKS: dict[int, tuple[Schema, Check | None]] = {}
_reference_only = os.environ.get("PLEO_SANDBOX_REFERENCE_VALIDATION", "") not in ("", "0")


def use_reference_validation(enabled: bool) -> None:
    """Validate with ``jsonschema`` alone, skipping the compiled fast path (slower)."""
    global _reference_only
    _reference_only = enabled


def validator_for(schema: Schema) -> Draft202012Validator:
    """A cached validator for a (long-lived) converted schema."""
    cached = _VALIDATORS.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    validator = Draft202012Validator(schema, format_checker=_FORMAT_CHECKER)
    # Keep the schema alive alongside its id so the id cannot be reused by another object.
    _VALIDATORS[id(schema)] = (schema, validator)
    return validator


def _fast_check(schema: Schema) -> Check | None:
    cached = _FAST_CHECKS.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    check = compile_check(schema, _FAST_FORMATS)
    _FAST_CHECKS[id(schema)] = (schema, check)
    return check


def _json_path(error: ValidationError) -> str:
    path = "$"
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _shorten(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."


def schema_error(schema: Schema, instance: object) -> str | None:
    """``None`` if ``instance`` conforms to ``schema``, else ``"<json path>: <problem>"``.

    The compiled check answers the common "valid" case; ``jsonschema`` decides otherwise.
    """
    if not _reference_only:
        fast = _fast_check(schema)
        if fast is not None and fast(instance):
            return None
    error = best_match(validator_for(schema).iter_errors(instance))
    if error is None:
        return None
    return _shorten(f"{_json_path(error)}: {error.message}")


class ValidatedRequest:
    """A request that passed validation, with typed parameters and the parsed body."""

    __slots__ = ("body", "path_params", "query", "raw_query")

    def __init__(
        self,
        path_params: dict[str, str],
        query: dict[str, Any],
        raw_query: dict[str, list[str]],
        body: Any,
    ) -> None:
        self.path_params = path_params
        self.query = query
        self.raw_query = raw_query
        self.body = body


def _bad_request(message: str, type_: str = "BAD_REQUEST") -> ApiError:
    return ApiError(400, type_, _shorten(message))


def _item_kind(param: Parameter) -> str:
    schema = param.schema.get("items", {}) if param.is_array else param.schema
    kind = schema.get("type", "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    return str(kind)


def _coerce(param: Parameter, raw: str) -> object:
    kind = _item_kind(param)
    if kind == "integer":
        if not re.fullmatch(r"[+-]?\d+", raw.strip()):
            raise _bad_request(f"Query parameter {param.name!r}: {raw!r} is not an integer")
        return int(raw)
    if kind == "number":
        try:
            return float(raw)
        except ValueError:
            raise _bad_request(f"Query parameter {param.name!r}: {raw!r} is not a number") from None
    if kind == "boolean":
        lowered = raw.lower()
        if lowered not in ("true", "false"):
            raise _bad_request(f"Query parameter {param.name!r}: {raw!r} is not true or false")
        return lowered == "true"
    return raw


def _check_paging_minimum(param: Parameter, value: object) -> None:
    """400 for a negative ``offset`` or a ``limit`` below 1 where the spec sets no minimum.

    Such values would otherwise reach the pager as slice bounds (``offset=-1`` is "the last
    record"; ``limit=0`` an empty page that claims a next page it gives no cursor to).
    """
    minimum = _PAGING_MINIMUM.get(param.name)
    declared = param.schema.get("minimum")  # int32/int64 formats bring a negative one
    if minimum is None or not isinstance(value, int):
        return
    if isinstance(declared, int | float) and declared >= 0:
        return  # the spec states its own minimum (export APIs)
    if value < minimum:
        raise _bad_request(
            f"Query parameter {param.name!r}: {value} is less than the minimum of {minimum}"
        )


def _parse_query(op: Operation, raw_query: Mapping[str, list[str]]) -> dict[str, Any]:
    declared = op.query_parameters()
    unknown = sorted(set(raw_query) - set(declared))
    if unknown:
        allowed = ", ".join(sorted(declared)) or "none"
        raise _bad_request(
            f"Unknown query parameter(s) {', '.join(map(repr, unknown))} for "
            f"{op.method} {op.template} (allowed: {allowed})"
        )
    query: dict[str, Any] = {}
    for name, param in declared.items():
        values = raw_query.get(name)
        if not values:
            if param.required:
                raise _bad_request(
                    f"Query parameter {name!r} is required", "REQUIRED_PARAMETER_MISSING"
                )
            continue
        if param.is_array:
            value: object = [_coerce(param, v) for v in values]
        else:
            if len(values) > 1:
                raise _bad_request(f"Query parameter {name!r} was given {len(values)} times")
            value = _coerce(param, values[0])
        problem = schema_error(param.schema, value)
        if problem:
            raise _bad_request(f"Query parameter {name!r}: {problem.partition(': ')[2]}")
        _check_paging_minimum(param, value)
        query[name] = value
    given = [name for name in _PAGINATION_EXCLUSIVE if name in query]
    if len(given) > 1:
        raise _bad_request(f"Query parameters {' and '.join(given)} cannot be used together")
    keys = query.get("sorting_keys")
    orders = query.get("sorting_order")
    if orders is not None and len(orders) != len(keys or []):
        raise _bad_request("sorting_order must have one entry per sorting_keys entry")
    return query


def _parse_body(op: Operation, headers: Mapping[str, str], body: bytes) -> Any:
    if not body.strip():
        if op.body_schema is not None and op.body_required:
            raise _bad_request(f"{op.method} {op.template} requires a JSON request body")
        return None
    if op.body_schema is None:
        raise _bad_request(f"{op.method} {op.template} takes no request body")
    content_type = headers.get("content-type", "")
    if content_type.split(";", 1)[0].strip().lower() != "application/json":
        raise ApiError(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            f"Content-Type must be application/json, got {content_type or 'nothing'!r}",
        )
    try:
        parsed = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad_request(f"Request body is not valid JSON: {exc}") from None
    problem = schema_error(op.body_schema, parsed)
    if problem:
        name = op.body_schema_name or "the request schema"
        raise _bad_request(f"Request body does not match {name}: {problem}")
    return parsed


def validate_request(
    op: Operation,
    path_params: Mapping[str, str],
    raw_query: Mapping[str, list[str]],
    headers: Mapping[str, str],
    body: bytes,
) -> ValidatedRequest:
    """Check a request against ``op``; raise :class:`ApiError` (400/415) naming the problem."""
    declared_path = op.path_parameters()
    for name, value in path_params.items():
        param = declared_path.get(name)
        if param is None:
            continue
        problem = schema_error(param.schema, value)
        if problem:
            raise _bad_request(f"Path parameter {name!r}: {problem.partition(': ')[2]}")
    query = _parse_query(op, raw_query)
    parsed_body = _parse_body(op, headers, body)
    return ValidatedRequest(
        dict(path_params), query, {k: list(v) for k, v in raw_query.items()}, parsed_body
    )


def _sampled(instance: object) -> object:
    if isinstance(instance, dict):
        data = instance.get("data")
        if isinstance(data, list) and len(data) > 3:
            return {**instance, "data": [data[0], data[len(data) // 2], data[-1]]}
    return instance


def validate_response_body(
    responses: Mapping[str, ResponseSpec],
    status: int,
    body: object,
    mode: ResponseMode,
    *,
    has_body: bool,
) -> str | None:
    """``None`` if the response conforms to what ``responses`` declares for ``status``.

    ``body`` is the JSON document about to be sent (already JSON-native types). An error
    status the operation does not list explicitly must still be Pleo's ``ExceptionInfo``
    (a ``default`` response describes the success body, not errors).
    """
    if mode == "off":
        return None
    declared = responses.get(str(status))
    if declared is None:
        if status >= 400:
            declared = ResponseSpec("application/json", EXCEPTION_INFO_SCHEMA, "ExceptionInfo")
        else:
            declared = responses.get("default")
            if declared is None:
                return f"status {status} is not declared for this operation"
    schema = declared.schema
    if schema is None and status >= 400:
        schema = EXCEPTION_INFO_SCHEMA
    if schema is None:
        if declared.media_type is None and has_body:
            return f"status {status} declares no body, but one was sent"
        return None
    if not has_body:
        return f"status {status} must have a {declared.schema_name or 'JSON'} body"
    if mode == "sample":
        body = _sampled(body)
    problem = schema_error(schema, body)
    if problem:
        return f"body does not match {declared.schema_name or 'the declared schema'}: {problem}"
    return None


def query_to_multidict(
    query: Sequence[tuple[str, str]] | Mapping[str, Any],
) -> dict[str, list[str]]:
    """Normalise a query (pairs, or a mapping of names to a value or a list) to name -> values."""
    result: dict[str, list[str]] = {}
    items: Sequence[tuple[str, Any]] = (
        list(query.items()) if isinstance(query, Mapping) else list(query)
    )
    for name, value in items:
        values = value if isinstance(value, (list, tuple)) else [value]
        result.setdefault(name, []).extend(str(v) for v in values)
    return result
