"""The error path of structuring: where a document failed, as JSON paths.

The fast converter answers "valid or not" without bookkeeping. Only when it fails is the input
re-structured by the detailed converter (``detailed_validation=True``), whose hooks below
collect every failure with its index or key, and whose error tree ``cattrs.transform_error``
turns into ``"<what> @ $.data[3].amount.inWalletCurrency.value"`` messages. Messages never
quote a value (it may be a secret).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    IterableValidationError,
    IterableValidationNote,
)

from pleo_erp.client._wire import (
    WireTypeError,
    WireValueError,
    _attrs_origin,
    _json_type,
    type_name,
    wire_name,
)
from pleo_erp.client.errors import ResponseValidationError

__all__ = ["detailed_dict_hook", "detailed_object_hook", "detailed_tuple_hook", "validation_error"]

_StructureHook = Callable[[Any, Any], Any]
_T = TypeVar("_T")


def _add_note(exc: Exception, note: str) -> None:
    """``exc.add_note(note)``, which Python 3.10 lacks (cattrs reads ``__notes__``)."""
    exc.__notes__ = [*getattr(exc, "__notes__", []), note]  # type: ignore[attr-defined]


def _structure_each(
    tp: Any,
    entries: Iterable[tuple[Any, Any]],
    structure: Callable[[Any, Any], _T],
    where: Callable[[Any], str],
    item_type: Any,
) -> list[_T]:
    """``structure(position, item)`` for every entry; every failure is kept, noted with its
    position (``where``: ``"index 3"``, ``"key 'x'"``), and all are raised together."""
    results: list[_T] = []
    errors: list[Exception] = []
    for position, item in entries:
        try:
            results.append(structure(position, item))
        except Exception as exc:
            note = IterableValidationNote(
                f"Structuring {type_name(tp)} @ {where(position)}", position, item_type
            )
            _add_note(exc, note)
            errors.append(exc)
    if errors:
        raise IterableValidationError(f"While structuring {type_name(tp)}", errors, tp)
    return results


def detailed_tuple_hook(
    tp: Any, item_type: Any, hook: _StructureHook, *, skip_null: bool
) -> _StructureHook:
    """``tuple[X, ...]`` that reports every bad item with its index."""

    def structure_tuple_detailed(value: Any, _: Any) -> tuple[Any, ...]:
        if not isinstance(value, (list, tuple)):
            raise WireTypeError(f"expected an array, got {_json_type(value)}")
        entries = (
            (index, item) for index, item in enumerate(value) if not (item is None and skip_null)
        )
        return tuple(
            _structure_each(
                tp, entries, lambda _, item: hook(item, item_type), "index {}".format, item_type
            )
        )

    return structure_tuple_detailed


def detailed_dict_hook(
    tp: Any,
    key_type: Any,
    key_hook: _StructureHook,
    value_type: Any,
    value_hook: _StructureHook,
) -> _StructureHook:
    """``dict[K, V]`` that reports every bad entry with its key."""
    passthrough = value_type is Any

    def structure_entry(key: Any, item: Any) -> tuple[Any, Any]:
        return key_hook(key, key_type), item if passthrough else value_hook(item, value_type)

    def structure_dict_detailed(value: Any, _: Any) -> dict[Any, Any]:
        if not isinstance(value, dict):
            raise WireTypeError(f"expected an object, got {_json_type(value)}")
        return dict(
            _structure_each(tp, value.items(), structure_entry, "key {!r}".format, value_type)
        )

    return structure_dict_detailed


def detailed_object_hook(generated: _StructureHook) -> _StructureHook:
    """A model's generated (detailed) function, refusing a non-object once for all fields."""

    def structure_object(value: Any, cls: Any) -> Any:
        # The generated function would report a non-object once per field; say it once.
        if not isinstance(value, dict):
            raise WireTypeError(f"expected an object, got {_json_type(value)}")
        return generated(value, cls)

    return structure_object


def _rename_notes(exc: BaseException) -> None:
    """Rewrite attribute notes in place so ``transform_error`` prints JSON names, not attrs."""
    if isinstance(exc, ClassValidationError):
        origin = _attrs_origin(exc.cl)
        names = {f.name: wire_name(f) for f in attrs.fields(origin)} if origin else {}
        for sub in exc.exceptions:
            notes = getattr(sub, "__notes__", None)
            if notes:
                sub.__notes__ = [
                    AttributeValidationNote(str(n), names.get(n.name, n.name), n.type)
                    if isinstance(n, AttributeValidationNote)
                    else n
                    for n in notes
                ]
            _rename_notes(sub)
    elif isinstance(exc, IterableValidationError):
        for sub in exc.exceptions:
            _rename_notes(sub)


def _format_exception(exc: BaseException, tp: Any) -> str:
    """Describe one leaf failure without ever quoting the offending value (it may be secret)."""
    if isinstance(exc, KeyError):
        return "required field missing"
    if isinstance(exc, (WireTypeError, WireValueError)):
        return str(exc)
    expected = f", expected {type_name(tp)}" if tp is not None else ""
    return f"invalid value ({type(exc).__name__}){expected}"


def validation_error(model: str, exc: BaseException) -> ResponseValidationError:
    """The ``ResponseValidationError`` for the detailed converter's failure ``exc``."""
    _rename_notes(exc)
    messages = cattrs.transform_error(exc, path="$", format_exception=_format_exception)
    first_path = messages[0].rpartition(" @ ")[2] if messages else "$"
    return ResponseValidationError(model, messages, path=first_path)
