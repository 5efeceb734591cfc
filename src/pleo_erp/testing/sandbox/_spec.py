"""Pleo's OpenAPI documents, loaded once and turned into plain JSON Schema (Draft 2020-12).

The sandbox validates every request and response against the published specs. They mix
OpenAPI 3.0 (``nullable``) and 3.1/3.2 (``type: [..., 'null']``) idioms and carry a few
artefacts of Pleo's generator that no real value could satisfy, so each schema is converted:

* ``$ref`` to ``#/components/schemas/X`` is inlined (the specs have no recursive schemas);
* ``nullable: true`` becomes a ``null`` member of ``type`` (and of ``enum``);
* a ``pattern`` on a ``date``/``date-time`` field is dropped: Pleo writes the *display
  format* there (``YYYY-MM-DDTHH:mi:ssZ``), which as a regex matches no real timestamp;
* ``minLength``/``maxLength`` on an array become ``minItems``/``maxItems`` (a Java
  ``@Size`` on a list, rendered as string bounds by the generator);
* ``int32``/``int64`` get their numeric bounds;
* objects with ``properties`` and no ``additionalProperties`` are closed, so a client sending
  ``companyId`` where the spec says ``company_id`` - or the sandbox emitting a key Pleo never
  sends - is caught at once;
* documentation keys (``description``, ``example``, ``readOnly``, ``x-*`` ...) are removed.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from attrs import define, field

__all__ = [
    "Operation",
    "Parameter",
    "ResponseSpec",
    "SpecIndex",
    "convert_schema",
    "load_spec_index",
    "spec_documents",
]

JSON = Any
Schema = dict[str, Any]

_SPEC_DIR_ENV = "PLEO_ERP_OPENAPI_DIR"
_DROPPED_KEYS = frozenset(
    {"description", "example", "examples", "readOnly", "writeOnly", "deprecated", "title"}
)
_DATE_FORMATS = frozenset({"date", "date-time"})
_INT_BOUNDS = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


def _relax_batch_item(schema: Schema) -> Schema:
    # Pleo reports a too long/empty externalId or name in a batch per item
    # (failed[].reasons: EXTERNAL_ID_TOO_LONG, NAME_EMPTY, ...) instead of rejecting the
    # whole request, so the schema must let such items through to the business rules.
    relaxed = copy.deepcopy(schema)
    for prop in relaxed.get("properties", {}).values():
        prop.pop("maxLength", None)
        prop.pop("minLength", None)
    return relaxed


#: Component schemas adjusted before conversion (name -> transform), see each function.
_COMPONENT_OVERRIDES: Mapping[str, Callable[[Schema], Schema]] = {
    "BookkeepingAccountBatchRequestItemV1": _relax_batch_item,
}


@define(frozen=True)
class Parameter:
    """One path or query parameter of an operation, with its converted schema."""

    name: str
    location: str
    required: bool
    schema: Schema
    is_array: bool


@define(frozen=True)
class ResponseSpec:
    """What the spec declares for one response code: media type and body schema (if any)."""

    media_type: str | None
    schema: Schema | None
    schema_name: str | None


@define(frozen=True)
class Operation:
    """One (method, path template) of the published specs."""

    method: str
    template: str
    operation_id: str
    spec_title: str
    parameters: tuple[Parameter, ...]
    body_schema: Schema | None
    body_schema_name: str | None
    body_required: bool
    responses: Mapping[str, ResponseSpec]
    deprecated: bool
    regex: re.Pattern[str] = field(eq=False)

    def query_parameters(self) -> dict[str, Parameter]:
        """The query parameters by name."""
        return {p.name: p for p in self.parameters if p.location == "query"}

    def path_parameters(self) -> dict[str, Parameter]:
        """The path parameters by name."""
        return {p.name: p for p in self.parameters if p.location == "path"}

    def response_for(self, status: int) -> ResponseSpec | None:
        """The declared response for ``status``, falling back to ``default``."""
        return self.responses.get(str(status)) or self.responses.get("default")


def _candidate_dirs() -> Iterator[Path]:
    override = os.environ.get(_SPEC_DIR_ENV)
    if override:
        yield Path(override)
    here = Path(__file__).resolve().parent
    yield here / "specs"


def _load_file(path: Path) -> dict[str, Any] | None:
    if path.suffix == ".json":
        loaded = json.loads(path.read_text(encoding="utf-8"))
    elif path.suffix in (".yml", ".yaml"):
        import yaml  # only needed for a PLEO_ERP_OPENAPI_DIR holding the YAML originals

        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    else:
        return None
    if not isinstance(loaded, dict) or "paths" not in loaded or "openapi" not in loaded:
        return None
    return loaded


@lru_cache(maxsize=1)
def spec_documents() -> tuple[dict[str, Any], ...]:
    """The OpenAPI documents (the bundled JSON copies).

    Set ``PLEO_ERP_OPENAPI_DIR`` to load them from another directory.
    """
    for directory in _candidate_dirs():
        if not directory.is_dir():
            continue
        documents = [
            doc
            for path in sorted(directory.iterdir())
            if path.is_file() and (doc := _load_file(path)) is not None
        ]
        if documents:
            return tuple(documents)
    raise FileNotFoundError(
        "Pleo OpenAPI specs not found: expected JSON files in pleo_erp/testing/sandbox/specs/ "
        f"(or set {_SPEC_DIR_ENV})"
    )


def _add_null(schema: Schema) -> None:
    kind = schema.get("type")
    if kind is None:
        return
    kinds = list(kind) if isinstance(kind, list) else [kind]
    if "null" not in kinds:
        kinds.append("null")
    schema["type"] = kinds


def convert_schema(node: JSON, components: Mapping[str, Schema]) -> JSON:
    """Convert an OpenAPI schema node (and everything it references) to JSON Schema."""
    cache: dict[str, Schema] = {}

    def resolve(ref: str) -> Schema:
        name = ref.rsplit("/", 1)[-1]
        if not ref.startswith("#/components/schemas/") or name not in components:
            raise ValueError(f"unsupported $ref {ref!r}")
        if name not in cache:
            raw = components[name]
            override = _COMPONENT_OVERRIDES.get(name)
            cache[name] = walk(override(raw) if override else raw)
        return cache[name]

    def walk(item: JSON) -> JSON:
        if isinstance(item, list):
            return [walk(x) for x in item]
        if not isinstance(item, dict):
            return item
        if "$ref" in item:
            return resolve(item["$ref"])
        out: Schema = {}
        for key, value in item.items():
            if key in _DROPPED_KEYS or key.startswith("x-"):
                continue
            if key == "properties":
                out[key] = {name: walk(sub) for name, sub in value.items()}
            elif key in ("items", "additionalProperties", "not") and isinstance(value, dict):
                out[key] = walk(value)
            elif key in ("allOf", "anyOf", "oneOf", "prefixItems"):
                out[key] = [walk(sub) for sub in value]
            else:
                out[key] = copy.deepcopy(value)
        if out.pop("nullable", False):
            _add_null(out)
        kinds = out.get("type")
        kind_list = kinds if isinstance(kinds, list) else [kinds]
        if "null" in kind_list and "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
        if out.get("format") in _DATE_FORMATS:
            out.pop("pattern", None)
        if "array" in kind_list:
            if "maxLength" in out:
                out["maxItems"] = out.pop("maxLength")
            if "minLength" in out:
                out["minItems"] = out.pop("minLength")
        bounds = _INT_BOUNDS.get(out.get("format", ""))
        if bounds and "integer" in kind_list:
            out.setdefault("minimum", bounds[0])
            out.setdefault("maximum", bounds[1])
        if "object" in kind_list and "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out

    return walk(node)


def _template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    pattern = "".join(
        f"(?P<{part[1:-1]}>[^/]+)" if part.startswith("{") else re.escape(part) for part in parts
    )
    return re.compile(f"^{pattern}$")


def _schema_name(node: JSON) -> str | None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            return ref.rsplit("/", 1)[-1]
        if node.get("type") == "array":
            inner = _schema_name(node.get("items"))
            return f"array of {inner}" if inner else None
    return None


def _response_spec(response: dict[str, Any], components: Mapping[str, Schema]) -> ResponseSpec:
    for media_name, media in (response.get("content") or {}).items():
        if media and media.get("schema") is not None:
            return ResponseSpec(
                media_name,
                convert_schema(media["schema"], components),
                _schema_name(media["schema"]),
            )
        return ResponseSpec(media_name, None, None)
    return ResponseSpec(None, None, None)


def _build_operation(
    method: str, template: str, raw: dict[str, Any], path_level: list[Any], doc: dict[str, Any]
) -> Operation:
    components = doc.get("components", {}).get("schemas", {})
    title = str(doc.get("info", {}).get("title", "?"))
    params: dict[tuple[str, str], Parameter] = {}
    for raw_param in [*path_level, *raw.get("parameters", [])]:
        schema = convert_schema(raw_param.get("schema", {}), components)
        kinds = schema.get("type")
        params[(raw_param["in"], raw_param["name"])] = Parameter(
            name=raw_param["name"],
            location=raw_param["in"],
            required=bool(raw_param.get("required", False)),
            schema=schema,
            is_array=kinds == "array" or (isinstance(kinds, list) and "array" in kinds),
        )
    body_schema: Schema | None = None
    body_name: str | None = None
    body_required = False
    request_body = raw.get("requestBody")
    if request_body:
        body_required = bool(request_body.get("required", False))
        for media in request_body.get("content", {}).values():
            if "schema" in media:
                body_schema = convert_schema(media["schema"], components)
                body_name = _schema_name(media["schema"])
                break
    responses: dict[str, ResponseSpec] = {}
    for code, response in raw.get("responses", {}).items():
        responses[str(code)] = _response_spec(response, components)
    return Operation(
        method=method.upper(),
        template=template,
        operation_id=str(raw.get("operationId", f"{method} {template}")),
        spec_title=title,
        parameters=tuple(params.values()),
        body_schema=body_schema,
        body_schema_name=body_name,
        body_required=body_required,
        responses=responses,
        deprecated=bool(raw.get("deprecated", False)),
        regex=_template_regex(template),
    )


class SpecIndex:
    """Every operation of the published specs, with a router from (method, path) to it."""

    _METHODS = ("get", "put", "post", "delete", "patch")

    def __init__(self, documents: tuple[dict[str, Any], ...]) -> None:
        self.operations: dict[tuple[str, str], Operation] = {}
        self.component_schemas: dict[str, Schema] = {}
        for doc in documents:
            components = doc.get("components", {}).get("schemas", {})
            for name in components:
                self.component_schemas.setdefault(
                    name, convert_schema(components[name], components)
                )
            for template, item in doc["paths"].items():
                path_level = item.get("parameters", [])
                for method in self._METHODS:
                    if method in item:
                        op = _build_operation(method, template, item[method], path_level, doc)
                        self.operations[(op.method, template)] = op
        self._literal: dict[str, dict[str, Operation]] = {}
        self._patterned: list[tuple[re.Pattern[str], str, dict[str, Operation]]] = []
        by_template: dict[str, dict[str, Operation]] = {}
        for (method, template), op in self.operations.items():
            by_template.setdefault(template, {})[method] = op
        # Literal segments win over parameters: /v0/tags/archive before /v0/tags/{tagId}.
        for template in sorted(by_template, key=lambda t: (t.count("{"), -len(t))):
            if "{" in template:
                self._patterned.append((_template_regex(template), template, by_template[template]))
            else:
                self._literal[template] = by_template[template]

    def match(self, path: str) -> tuple[str, dict[str, Operation], dict[str, str]] | None:
        """Find the template for ``path``: (template, operations by method, path params)."""
        literal = self._literal.get(path)
        if literal is not None:
            return path, literal, {}
        for regex, template, ops in self._patterned:
            found = regex.match(path)
            if found:
                return template, ops, found.groupdict()
        return None

    def schema(self, name: str) -> Schema:
        """A converted component schema by its spec name (first definition wins)."""
        return self.component_schemas[name]


@lru_cache(maxsize=1)
def load_spec_index() -> SpecIndex:
    """The process-wide, cached index of the specs (built on first use)."""
    return SpecIndex(spec_documents())
