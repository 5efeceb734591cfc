"""A compiled yes/no check for the JSON Schema subset the converted Pleo specs use.

``jsonschema`` stays the authority (it produces every error message and decides every
failure), but walking a schema per instance costs about a millisecond per export item,
too slow for 10 000-item jobs validated in full. This module compiles a schema once into
nested closures that answer "valid?" in a few microseconds per node. Callers run it first
and consult ``jsonschema`` only when it says "no" (and trust ``jsonschema``'s answer then),
so a gap in this module can only cost time, never let an invalid document through - as long
as it never says "yes" wrongly, which ``tests/sandbox/test_sandbox_validation.py`` checks against
``jsonschema`` on valid and mutated documents.

Keywords compiled: ``type``, ``properties``, ``required``, ``additionalProperties``,
``items``, ``enum``, ``const``, ``format`` (uuid, date-time, date), ``pattern``,
``minLength``/``maxLength``, ``minItems``/``maxItems``, ``uniqueItems``,
``minimum``/``maximum``. A schema using anything else compiles to "ask jsonschema".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["Check", "compile_check"]

Check = Callable[[Any], bool]

_IGNORED = frozenset({"default", "format", "$schema", "$id", "title", "description"})
_SUPPORTED = frozenset(
    {"type", "properties", "required", "additionalProperties", "items", "enum", "const",
     "format", "pattern", "minLength", "maxLength", "minItems", "maxItems", "uniqueItems",
     "minimum", "maximum"}
) | _IGNORED  # fmt: skip


def _never(_: Any) -> bool:
    return False


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and value.is_integer()


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_TYPE_CHECKS: Mapping[str, Check] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "integer": _is_integer,
    "number": _is_number,
}


def _type_check(kind: str | list[str]) -> Check | None:
    kinds = [kind] if isinstance(kind, str) else list(kind)
    checks = [_TYPE_CHECKS.get(k) for k in kinds]
    if any(c is None for c in checks):
        return None
    if len(kinds) == 1:
        return checks[0]
    if set(kinds) == {"string", "null"}:
        return lambda v: v is None or isinstance(v, str)
    if set(kinds) == {"object", "null"}:
        return lambda v: v is None or isinstance(v, dict)
    if set(kinds) == {"array", "null"}:
        return lambda v: v is None or isinstance(v, list)
    found = [c for c in checks if c is not None]
    return lambda v: any(check(v) for check in found)


def compile_check(schema: Any, formats: Mapping[str, Check]) -> Check | None:
    """A fast validity check for ``schema``, or ``None`` if it uses unsupported keywords."""
    if schema is True or schema == {}:
        return lambda _: True
    if schema is False:
        return _never
    if not isinstance(schema, dict) or set(schema) - _SUPPORTED:
        return None
    parts: list[Check] = []
    kind = schema.get("type")
    type_check: Check | None = None
    if kind is not None:
        type_check = _type_check(kind)
        if type_check is None:
            return None
    if "enum" in schema:
        values = schema["enum"]
        if not all(v is None or isinstance(v, str) for v in values):
            return None
        allowed = frozenset(values)
        parts.append(lambda v: (v is None or isinstance(v, str)) and v in allowed)
    if "const" in schema:
        const = schema["const"]
        if not (const is None or isinstance(const, str)):
            return None
        parts.append(lambda v: (v is None or isinstance(v, str)) and v == const)
    string_part = _string_checks(schema, formats)
    if string_part is None:
        return None
    parts.extend(string_part)
    number_part = _number_checks(schema)
    parts.extend(number_part)
    object_part = _object_check(schema, formats)
    if object_part is False:
        return None
    if object_part is not True:
        parts.append(object_part)
    array_part = _array_check(schema, formats)
    if array_part is False:
        return None
    if array_part is not True:
        parts.append(array_part)
    return _combine(type_check, parts)


def _combine(type_check: Check | None, parts: list[Check]) -> Check:
    if type_check is None and not parts:
        return lambda _: True
    if type_check is None:
        return lambda v: all(part(v) for part in parts)
    if not parts:
        return type_check
    if len(parts) == 1:
        only = parts[0]
        return lambda v: type_check(v) and only(v)
    return lambda v: type_check(v) and all(part(v) for part in parts)


def _string_checks(schema: dict[str, Any], formats: Mapping[str, Check]) -> list[Check] | None:
    checks: list[Check] = []
    fmt = schema.get("format")
    if fmt is not None and fmt in formats:
        format_check = formats[fmt]
        checks.append(lambda v: not isinstance(v, str) or format_check(v))
    if "pattern" in schema:
        regex = re.compile(schema["pattern"])
        checks.append(lambda v: not isinstance(v, str) or regex.search(v) is not None)
    low = schema.get("minLength")
    high = schema.get("maxLength")
    if low is not None or high is not None:
        lo = int(low or 0)
        hi = int(high) if high is not None else None
        checks.append(
            lambda v: not isinstance(v, str) or (len(v) >= lo and (hi is None or len(v) <= hi))
        )
    return checks


def _number_checks(schema: dict[str, Any]) -> list[Check]:
    checks: list[Check] = []
    if "minimum" in schema:
        low = schema["minimum"]
        checks.append(lambda v: not _is_number(v) or v >= low)
    if "maximum" in schema:
        high = schema["maximum"]
        checks.append(lambda v: not _is_number(v) or v <= high)
    return checks


def _object_check(schema: dict[str, Any], formats: Mapping[str, Check]) -> Check | bool:
    properties = schema.get("properties")
    required = tuple(schema.get("required", ()))
    additional = schema.get("additionalProperties", True)
    if properties is None and not required and additional is True:
        return True
    compiled: dict[str, Check] = {}
    for name, sub in (properties or {}).items():
        check = compile_check(sub, formats)
        if check is None:
            return False
        compiled[name] = check
    closed = additional is False
    extra: Check | None = None
    if isinstance(additional, dict):
        extra = compile_check(additional, formats)
        if extra is None:
            return False
    items = tuple(compiled.items())

    def check_object(value: Any) -> bool:
        if not isinstance(value, dict):
            return True
        for name in required:
            if name not in value:
                return False
        for name, sub_check in items:
            if name in value and not sub_check(value[name]):
                return False
        if closed:
            for key in value:
                if key not in compiled:
                    return False
        elif extra is not None:
            for key, item in value.items():
                if key not in compiled and not extra(item):
                    return False
        return True

    return check_object


def _array_check(schema: dict[str, Any], formats: Mapping[str, Check]) -> Check | bool:
    items_schema = schema.get("items")
    low = schema.get("minItems")
    high = schema.get("maxItems")
    unique = bool(schema.get("uniqueItems", False))
    if items_schema is None and low is None and high is None and not unique:
        return True
    item_check: Check | None = None
    if items_schema is not None:
        item_check = compile_check(items_schema, formats)
        if item_check is None:
            return False

    def check_array(value: Any) -> bool:
        if not isinstance(value, list):
            return True
        if low is not None and len(value) < low:
            return False
        if high is not None and len(value) > high:
            return False
        if unique and not _unique(value):
            return False
        return item_check is None or all(item_check(item) for item in value)

    return check_array


def _unique(values: list[Any]) -> bool:
    # Only strings and nulls are compared here; anything else is left to jsonschema.
    if all(v is None or isinstance(v, str) for v in values):
        return len(set(values)) == len(values)
    return False
