"""Contract test: every request the client builds validates against Pleo's OpenAPI specs.

Each operation of ``test_client_operations.CASES`` is run through a ``MockTransport`` that
validates the request (path, path and query parameters, security, content type and body) with
openapi-core against the spec that declares its path. The specs are the JSON copies the
package ships in ``src/pleo_erp/testing/sandbox/specs``, equal to Pleo's YAML vendored in
``tests/specs/pleo-openapi`` (checked below and by ``scripts/sync_specs.py --check``); nothing
is read from outside the repository. Without the copies the tests fail rather than skip, so
the contract never silently vanishes. Three
adjustments: ``3.2.0`` is read as ``3.1.0`` (the files use 3.1 syntax), the placeholder
``pattern: YYYY-MM-DDTHH:mi:ssZ`` (not a regex; no real timestamp matches it) is dropped, and
request objects get ``additionalProperties: false`` so a misspelled or extra field fails
("exactly the fields the spec names", DESIGN.md).
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest

from pleo_erp.client import ApiKeyAuth, Paginator, PleoClient
from tests.client.test_client_operations import CASES, KEY, Case

REPO_ROOT = Path(__file__).resolve().parents[2]
YAML_SPEC_DIR = REPO_ROOT / "tests" / "specs" / "pleo-openapi"
BUNDLED_SPEC_DIR = REPO_ROOT / "src" / "pleo_erp" / "testing" / "sandbox" / "specs"
NOT_IN_ANY_SPEC = {"/v1/introspect"}  # documented in the reference, absent from the specs


def load_spec_documents(bundled: Path) -> dict[str, Any]:
    """Every spec by file stem, from the bundled JSON copies.

    Fails the calling test (never skips) when there are none.
    """
    json_files = sorted(bundled.glob("*.json")) if bundled.is_dir() else []
    if not json_files:
        pytest.fail(f"no Pleo specs: {bundled}/*.json does not exist")
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in json_files}


def load_yaml_documents(directory: Path) -> dict[str, Any]:
    """Every vendored YAML spec by file stem (to compare the JSON copies with)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader is 10x faster
    return {
        p.stem: yaml.load(p.read_text(encoding="utf-8"), Loader=loader)
        for p in sorted(directory.glob("*.yml"))
    }


def _adjust(node: Any) -> Any:
    if isinstance(node, dict):
        out = {key: _adjust(value) for key, value in node.items()}
        pattern = out.get("pattern")
        if isinstance(pattern, str) and "YYYY" in pattern:
            del out["pattern"]
        if out.get("type") == "object" and "properties" in out:
            out.setdefault("additionalProperties", False)
        return out
    if isinstance(node, list):
        return [_adjust(value) for value in node]
    return node


@cache
def _specs() -> list[tuple[str, Any, list[re.Pattern[str]]]]:
    from openapi_core import Config, OpenAPI

    # The specs are known to be valid (README); skipping openapi-core's own spec validation
    # keeps this file fast. Request validation is unaffected.
    config = Config(spec_validator_cls=None)
    loaded = []
    for stem, raw in load_spec_documents(BUNDLED_SPEC_DIR).items():
        if str(raw.get("openapi", "")).startswith("3.2"):
            raw["openapi"] = "3.1.0"
        templates = [
            re.compile(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(p)) + "$") for p in raw["paths"]
        ]
        loaded.append((stem, OpenAPI.from_dict(_adjust(raw), config=config), templates))
    return loaded


class _OpenAPIRequest:
    """openapi-core's request protocol over an ``httpx.Request``."""

    def __init__(self, request: httpx.Request) -> None:
        from openapi_core.datatypes import RequestParameters
        from werkzeug.datastructures import Headers, ImmutableMultiDict

        self._request = request
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(list(request.url.params.multi_items())),
            header=Headers(list(request.headers.items())),
            cookie=ImmutableMultiDict(),
        )

    @property
    def host_url(self) -> str:
        return f"{self._request.url.scheme}://{self._request.url.netloc.decode()}"

    @property
    def path(self) -> str:
        return self._request.url.path

    @property
    def method(self) -> str:
        return self._request.method.lower()

    @property
    def body(self) -> bytes | None:
        return self._request.content or None

    @property
    def content_type(self) -> str:
        # Kept as sent: the specs key their media type as "application/json;charset=UTF-8".
        value: str = self._request.headers.get("content-type", "")
        return value


def _validate(request: httpx.Request) -> str | None:
    """The name of the spec that accepted the request; raises if a matching spec rejects it."""
    from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound

    if request.url.path in NOT_IN_ANY_SPEC:
        return None
    for name, api, _templates in _specs():
        try:
            api.validate_request(_OpenAPIRequest(request))
        except (PathNotFound, OperationNotFound):
            continue
        return name
    raise AssertionError(f"{request.method} {request.url.path} is in no spec")


def _run(case: Case) -> list[str | None]:
    queue = list(case.exchanges)
    validated: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        validated.append(_validate(request))
        exchange = queue.pop(0)
        if exchange.response is None:
            return httpx.Response(exchange.status)
        return httpx.Response(exchange.status, content=json.dumps(exchange.response).encode())

    http = httpx.Client(transport=httpx.MockTransport(handler))
    with PleoClient(ApiKeyAuth(KEY), http_client=http, requests_per_minute=None) as client:
        result = case.invoke(client)
        if isinstance(result, Paginator):
            result.to_list()
    assert not queue, "the operation sent fewer requests than expected"
    return validated


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_request_conforms_to_spec(case: Case) -> None:
    validated = _run(case)
    assert len(validated) == len(case.exchanges)


def test_every_spec_is_exercised() -> None:
    """The cases reach all eight specs, so none is silently skipped."""
    paths = {ex.path for case in CASES for ex in case.exchanges}
    used = {
        name
        for name, _api, templates in _specs()
        if any(t.match(path) for t in templates for path in paths)
    }
    assert used == {name for name, _, _ in _specs()}


def test_contract_rejects_a_bad_request() -> None:
    """The validator itself works: an item-only reason on a job event is refused by the spec."""
    request = httpx.Request(
        "POST",
        "https://external.pleo.io/v3/export-job-events",
        headers={"Authorization": "Basic eDo=", "Content-Type": "application/json;charset=UTF-8"},
        content=b'{"event":"failed","jobId":"6f1c1a52-8e0b-4a57-9a59-2f6f2d7c3a10",'
        b'"failureReasonType":"vendor_unknown"}',
    )
    with pytest.raises(Exception, match="vendor_unknown"):
        _validate(request)
    extra = httpx.Request(
        "POST",
        "https://external.pleo.io/v3/export-job-events",
        headers={"Authorization": "Basic eDo=", "Content-Type": "application/json;charset=UTF-8"},
        content=b'{"event":"started","exportJobId":"6f1c1a52-8e0b-4a57-9a59-2f6f2d7c3a10"}',
    )
    with pytest.raises(Exception, match=r"exportJobId|jobId"):
        _validate(extra)


def test_bundled_json_specs_are_the_vendored_yaml() -> None:
    """The contract is checked against the package's JSON copies: all eight specs, each equal
    to Pleo's YAML vendored in ``tests/specs/pleo-openapi``."""
    bundled = load_spec_documents(BUNDLED_SPEC_DIR)
    assert len(bundled) == 8
    assert bundled == load_yaml_documents(YAML_SPEC_DIR)
    assert {name for name, _, _ in _specs()} == set(bundled)


def test_missing_specs_fail_instead_of_skipping(tmp_path: Path) -> None:
    with pytest.raises(pytest.fail.Exception, match="no Pleo specs"):
        load_spec_documents(tmp_path / "bundled")
