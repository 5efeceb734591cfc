"""The sandbox's one HTTP-free core: ``handle(method, path, query, headers, body)``.

For every request: fault injection, routing (the published specs, plus the OAuth, introspect
and ``/_sandbox`` routes), authentication, request validation, the route handler (under the
state lock), response validation, the request log. Adapters (``httpx.MockTransport`` and
the loopback HTTP server) only translate to and from this function.
"""

from __future__ import annotations

import functools
import json
import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from attrs import define, field

from ._auth import authenticate
from ._errors import ApiError, SandboxContractError, SandboxDisconnect
from ._faults import APPLIED_KINDS, FaultPlan, FiredFault
from ._spec import Operation, ResponseSpec, SpecIndex, load_spec_index
from ._state import Company, Credential, SandboxState
from ._validation import (
    ResponseMode,
    ValidatedRequest,
    query_to_multidict,
    validate_request,
    validate_response_body,
)

__all__ = [
    "JSON_CONTENT_TYPE",
    "RecordedRequest",
    "Reply",
    "RequestContext",
    "Route",
    "RouteTable",
    "SandboxApp",
    "encode_json",
]

JSON_CONTENT_TYPE = "application/json;charset=UTF-8"
_DEFAULT_BASE_URL = "http://sandbox.pleo.invalid"
_REDACTED_FORM_FIELDS = frozenset(
    {"client_secret", "code", "refresh_token", "code_verifier", "password", "token"}
)
_REDACTED_JSON_KEYS = frozenset({"password", "token", "secretKey", "client_secret"})


@define
class Reply:
    """What a route handler answers: status, JSON body (or raw bytes) and extra headers.

    ``encoded``, when given, is the JSON text to send instead of ``json.dumps(body)``: a
    route may build it faster from cached fragments. ``body`` must then describe the same
    document except for string values (it is what response validation checks).
    """

    status: int
    body: Any = None
    headers: dict[str, str] = field(factory=dict)
    raw: bytes | None = None
    content_type: str | None = None
    encoded: bytes | None = None


@define(frozen=True)
class RecordedRequest:
    """One request as the sandbox saw it (credentials are never recorded).

    ``body`` is the parsed JSON (or, for form posts, the form with secrets masked; else the
    raw bytes); ``fault`` is the injected fault kind, if any; ``status`` is ``None`` when
    the connection was dropped before an answer.
    """

    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    status: int | None
    fault: str | None
    timestamp: str


class _Owned(Protocol):
    """A stored object that belongs to one company (a record, a job)."""

    @property
    def company_id(self) -> str:
        """The owning company."""
        ...


_OwnedT = TypeVar("_OwnedT", bound=_Owned)


class RequestContext:
    """What a route handler gets: the validated request, the caller and the state."""

    __slots__ = (
        "_credential",
        "base_url",
        "body",
        "headers",
        "method",
        "path",
        "path_params",
        "query",
        "raw_body",
        "raw_query",
        "state",
    )

    def __init__(
        self,
        state: SandboxState,
        method: str,
        path: str,
        request: ValidatedRequest,
        headers: Mapping[str, str],
        raw_body: bytes,
        credential: Credential | None,
        base_url: str,
    ) -> None:
        self.state = state
        self.method = method
        self.path = path
        self.path_params = request.path_params
        self.query = request.query
        self.raw_query = request.raw_query
        self.body = request.body
        self.headers = headers
        self.raw_body = raw_body
        self._credential = credential
        self.base_url = base_url

    @property
    def credential(self) -> Credential:
        """The authenticated caller (routes without auth must not ask)."""
        if self._credential is None:
            raise RuntimeError("route has no authenticated caller")
        return self._credential

    def accessible_company_ids(self) -> list[str]:
        """The companies the caller may act on, in creation order."""
        credential = self.credential
        return [c for c in self.state.companies if credential.covers(c)]

    def company(self, company_id: str | None) -> Company:
        """The company a request acts on; checks access.

        Without ``company_id`` the caller's only company is used; a credential covering
        several companies must name one (export-api.md §3: organisation tokens must pass
        ``company_id``).
        """
        if company_id is None:
            ids = self.accessible_company_ids()
            if len(ids) != 1:
                raise ApiError(
                    400,
                    "REQUIRED_PARAMETER_MISSING",
                    f"company_id is required: this credential covers {len(ids)} companies.",
                )
            company_id = ids[0]
        company = self.state.company(company_id)
        if not self.credential.covers(company.id):
            raise ApiError(
                403, "FORBIDDEN", f"This credential may not act on company {company.id}."
            )
        return company

    def owns(self, company_id: str, not_found: ApiError) -> None:
        """Raise ``not_found`` when the caller may not see an object of ``company_id``."""
        if not self.credential.covers(company_id):
            raise not_found

    def visible(self, found: _OwnedT | None, not_found: Callable[[], ApiError]) -> _OwnedT:
        """``found`` if it exists and the caller may see it, else raise ``not_found()``
        (another company's object answers exactly like a missing one)."""
        if found is None:
            raise not_found()
        self.owns(found.company_id, not_found())
        return found

    def json_body(self) -> Any:
        """The request's JSON body; ``400 BAD_REQUEST`` when it has none."""
        if self.body is None:
            raise ApiError(400, "BAD_REQUEST", f"{self.method} {self.path} requires a JSON body.")
        return self.body

    def body_and_company(self) -> tuple[Any, Company]:
        """The JSON body and the company its ``companyId`` names (access checked)."""
        body = self.json_body()
        return body, self.company(str(body["companyId"]))


Handler = Callable[[RequestContext], Reply]


@define(frozen=True)
class Route:
    """A handler bound to (method, path template).

    Routes of the published specs are validated against them; other routes (OAuth,
    introspect, ``/_sandbox``) declare their own ``responses`` (or none).
    """

    method: str
    template: str
    handler: Handler
    auth: bool = True
    responses: Mapping[str, ResponseSpec] | None = None


class _Stored(Protocol):
    """A stored sandbox object: its JSON is ``data``."""

    @property
    def data(self) -> Any: ...


_StoredT = TypeVar("_StoredT", bound=_Stored)


class RouteTable:
    """Collects routes with a decorator: ``@routes("GET", "/v3/export-jobs")``."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def __call__(
        self,
        method: str,
        template: str,
        *,
        auth: bool = True,
        responses: Mapping[str, ResponseSpec] | None = None,
    ) -> Callable[[Handler], Handler]:
        """Register the decorated function for ``method template``."""

        def register(handler: Handler) -> Handler:
            self.routes.append(Route(method.upper(), template, handler, auth, responses))
            return handler

        return register

    def get_by_id(self, template: str, lookup: Callable[[RequestContext, str], _Stored]) -> Handler:
        """Register ``GET template``: ``200 {"data": ...}`` with the object ``lookup`` finds for
        the template's one path parameter (``lookup`` raises the resource's 404)."""
        parameter = _path_parameter(template)

        def get_by_id(ctx: RequestContext) -> Reply:
            return Reply(200, {"data": lookup(ctx, ctx.path_params[parameter]).data})

        return self("GET", template)(get_by_id)

    def with_found(
        self, method: str, template: str, lookup: Callable[[RequestContext, str], _StoredT]
    ) -> Callable[[Callable[[RequestContext, _StoredT, Any], Reply]], Handler]:
        """Register the decorated ``handler(ctx, found, body)`` for ``method template``:
        ``found`` is the object ``lookup`` finds for the template's one path parameter (its 404
        comes first), ``body`` the request's JSON body."""
        parameter = _path_parameter(template)

        def register(handler: Callable[[RequestContext, _StoredT, Any], Reply]) -> Handler:
            @functools.wraps(handler)
            def with_found(ctx: RequestContext) -> Reply:
                found = lookup(ctx, ctx.path_params[parameter])
                return handler(ctx, found, ctx.json_body())

            return self(method, template)(with_found)

        return register


def _path_parameter(template: str) -> str:
    """The one ``{name}`` of a path template."""
    (parameter,) = re.findall(r"\{(\w+)\}", template)
    return str(parameter)


def _method_not_allowed(method: str, template: str, allowed: Iterable[str]) -> ApiError:
    """A 405 naming the allowed methods in its message and in the ``Allow`` header (RFC 9110)."""
    methods = ", ".join(sorted(allowed))
    return ApiError(
        405,
        "METHOD_NOT_ALLOWED",
        f"{method} is not allowed on {template} (allowed: {methods})",
        headers={"Allow": methods},
    )


def encode_json(body: Any) -> bytes:
    """Compact UTF-8 JSON, as the sandbox sends it."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


_BASE_URL_RE = re.compile(r"^https?://[A-Za-z0-9.\-_:\[\]]+$")


def _safe_base_url(base_url: str | None) -> str:
    # The base URL ends up inside JSON strings (receipt links); refuse anything odd.
    if base_url and _BASE_URL_RE.match(base_url):
        return base_url
    return _DEFAULT_BASE_URL


def _redacted(document: Any) -> Any:
    # Webhook endpoint credentials are secrets too; keep them out of the request log.
    if isinstance(document, dict):
        return {
            key: "***" if key in _REDACTED_JSON_KEYS else _redacted(value)
            for key, value in document.items()
        }
    if isinstance(document, list):
        return [_redacted(value) for value in document]
    return document


def _lower_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> dict[str, str]:
    if headers is None:
        return {}
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    return {str(k).lower(): str(v) for k, v in pairs}


@define(frozen=True, slots=True)
class _Incoming:
    """One request as it came in: upper-case method, lower-case header names, multi-dict query."""

    method: str
    path: str
    raw_query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


class SandboxApp:
    """Routing, auth, validation, faults and logging around the route handlers."""

    def __init__(
        self,
        state: SandboxState,
        routes: Iterable[Route],
        *,
        faults: FaultPlan,
        sleep: Callable[[float], None],
        validate_requests: bool = True,
        validate_responses: ResponseMode = "full",
        strict: bool = True,
        record_requests: bool = True,
        rate_limit_per_minute: int | None = None,
    ) -> None:
        self.state = state
        self.spec: SpecIndex = load_spec_index()
        self.faults = faults
        self.sleep = sleep
        self.validate_requests = validate_requests
        self.validate_responses: ResponseMode = validate_responses
        self.strict = strict
        self.record_requests = record_requests
        self.rate_limit_per_minute = rate_limit_per_minute
        self.requests: list[RecordedRequest] = []
        self.contract_violations: list[str] = []
        self._spec_routes: dict[tuple[str, str], Route] = {}
        self._extra_routes: list[tuple[re.Pattern[str], Route]] = []
        self._recent: dict[str, deque[float]] = {}
        for route in routes:
            if (route.method, route.template) in self.spec.operations:
                self._spec_routes[(route.method, route.template)] = route
            else:
                regex = re.compile(
                    "^"
                    + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(route.template))
                    + "$"
                )
                self._extra_routes.append((regex, route))

    @property
    def spec_routes(self) -> frozenset[tuple[str, str]]:
        """The (method, template) pairs of the published specs the sandbox emulates."""
        return frozenset(self._spec_routes)

    # -- entry point ---------------------------------------------------------------------

    def handle(
        self,
        method: str,
        path: str,
        query: Sequence[tuple[str, str]] | Mapping[str, Any] = (),
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        body: bytes = b"",
        *,
        base_url: str | None = None,
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """Answer one request: ``(status, headers, body)``.

        Raises :class:`SandboxDisconnect` when an injected fault drops the connection and
        :class:`SandboxContractError` (strict mode) when the answer breaks the spec.
        """
        incoming = _Incoming(
            method.upper(), path, query_to_multidict(query), _lower_headers(headers), body
        )
        fired = self.faults.pick(incoming.method, path)
        status: int | None = None
        try:
            if fired is not None and fired.kind not in APPLIED_KINDS:
                status, out_headers, out_body = self._fault_reply(fired)
                return status, out_headers, out_body
            if fired is not None and fired.kind == "slow":
                self.sleep(fired.rule.delay)
            status, out_headers, out_body = self._process(incoming, _safe_base_url(base_url))
            if fired is not None:
                out_body = self._damage(fired, status, out_body)
                out_headers = [(k, v) for k, v in out_headers if k.lower() != "content-length"]
            return status, out_headers, out_body
        finally:
            self._record(incoming, status, fired)
            self._run_after_commit()

    # -- pipeline ------------------------------------------------------------------------

    def _process(
        self, incoming: _Incoming, base_url: str
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        method, path, headers, body = (
            incoming.method,
            incoming.path,
            incoming.headers,
            incoming.body,
        )
        responses: Mapping[str, ResponseSpec] | None = None
        with self.state.lock:
            try:
                route, operation, path_params = self._route(method, path)
                responses = operation.responses if operation is not None else route.responses
                credential = None
                if route.auth:
                    credential = authenticate(self.state, headers.get("authorization"))
                    self._throttle(credential)
                request = self._validated(operation, path_params, incoming.raw_query, headers, body)
                context = RequestContext(
                    self.state, method, path, request, headers, body, credential, base_url
                )
                reply = route.handler(context)
            except ApiError as error:
                reply = Reply(error.status, error.body(), dict(error.headers))
            status = reply.status
            out_headers = list(reply.headers.items())
            if reply.raw is not None:
                out_body = reply.raw
                out_headers.append(
                    ("Content-Type", reply.content_type or "application/octet-stream")
                )
            elif reply.body is not None:
                out_body = reply.encoded if reply.encoded is not None else encode_json(reply.body)
                out_headers.append(("Content-Type", self._media_type(responses, status)))
            else:
                out_body = b""
            if responses is not None and reply.raw is None:
                # Validated as built (JSON-native objects), under the lock that keeps it stable.
                problem = validate_response_body(
                    responses,
                    status,
                    reply.body,
                    self.validate_responses,
                    has_body=reply.body is not None,
                )
            else:
                problem = None
        out_headers.append(("Content-Length", str(len(out_body))))
        if problem:
            self._violation(f"{method} {path} -> {status}: {problem}")
        return status, out_headers, out_body

    def _route(self, method: str, path: str) -> tuple[Route, Operation | None, dict[str, str]]:
        matched = self.spec.match(path)
        if matched is not None:
            template, operations, params = matched
            operation = operations.get(method)
            if operation is None:
                raise _method_not_allowed(method, template, operations)
            route = self._spec_routes.get((method, template))
            if route is None:
                raise ApiError(
                    501,
                    "NOT_IMPLEMENTED",
                    f"The sandbox does not emulate {operation.operation_id} ({method} {template}).",
                )
            return route, operation, params
        allowed: dict[str, str] = {}  # method -> template, for a path known under other methods
        for regex, route in self._extra_routes:
            found = regex.match(path)
            if found and route.method == method:
                return route, None, found.groupdict()
            if found:
                allowed.setdefault(route.method, route.template)
        if allowed:
            raise _method_not_allowed(method, next(iter(allowed.values())), allowed)
        raise ApiError(404, "NOT_FOUND", f"No route for {method} {path}.")

    def _validated(
        self,
        operation: Operation | None,
        path_params: dict[str, str],
        raw_query: dict[str, list[str]],
        headers: dict[str, str],
        body: bytes,
    ) -> ValidatedRequest:
        if operation is not None and self.validate_requests:
            return validate_request(operation, path_params, raw_query, headers, body)
        parsed: Any = None
        if operation is not None and body.strip():
            try:
                parsed = json.loads(body)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ApiError(
                    400, "BAD_REQUEST", f"Request body is not valid JSON: {exc}"
                ) from None
        query: dict[str, Any] = {k: v if len(v) > 1 else v[0] for k, v in raw_query.items()}
        return ValidatedRequest(path_params, query, raw_query, parsed)

    def _throttle(self, credential: Credential) -> None:
        limit = self.rate_limit_per_minute
        if limit is None:
            return
        now = self.state.now_epoch()
        window = self._recent.setdefault(credential.client_id, deque())
        while window and window[0] <= now - 60:
            window.popleft()
        if len(window) >= limit:
            retry_after = max(1, int(window[0] + 60 - now + 0.999))
            raise ApiError(
                429,
                "TOO_MANY_REQUESTS",
                f"Rate limit of {limit} requests per minute exceeded.",
                headers={"Retry-After": str(retry_after)},
            )
        window.append(now)

    @staticmethod
    def _media_type(responses: Mapping[str, ResponseSpec] | None, status: int) -> str:
        if responses:
            declared = responses.get(str(status)) or responses.get("default")
            if declared is not None and declared.media_type:
                return declared.media_type
        return JSON_CONTENT_TYPE

    def _violation(self, message: str) -> None:
        self.contract_violations.append(message)
        if self.strict:
            raise SandboxContractError(message)

    # -- faults, log, after-commit -------------------------------------------------------

    @staticmethod
    def _fault_reply(fired: FiredFault) -> tuple[int, list[tuple[str, str]], bytes]:
        kind = fired.kind
        if kind == "connection_reset":
            raise SandboxDisconnect(
                "connect", f"injected connection reset on {fired.method} {fired.path}"
            )
        status = {"rate_limited": 429, "bad_gateway": 502, "service_unavailable": 503}.get(
            kind, fired.rule.status or 500
        )
        types = {429: "TOO_MANY_REQUESTS", 502: "BAD_GATEWAY", 503: "SERVICE_UNAVAILABLE"}
        body = encode_json(
            {"type": types.get(status, "INTERNAL_SERVER_ERROR"), "message": f"Injected {kind}."}
        )
        headers = [("Content-Type", JSON_CONTENT_TYPE), ("Content-Length", str(len(body)))]
        if fired.rule.retry_after is not None and status in (429, 503):
            headers.append(("Retry-After", fired.rule.retry_after))
        return status, headers, body

    @staticmethod
    def _damage(fired: FiredFault, status: int, body: bytes) -> bytes:
        kind = fired.kind
        if kind == "lost_response":
            raise SandboxDisconnect(
                "read", f"injected lost response on {fired.method} {fired.path}"
            )
        if kind == "timeout":
            raise SandboxDisconnect("timeout", f"injected timeout on {fired.method} {fired.path}")
        if kind == "truncated_body":
            return body[: len(body) // 2]
        if kind == "malformed_json":
            return b'{"data": [{"id": <not json>'
        return body

    def _record(self, incoming: _Incoming, status: int | None, fired: FiredFault | None) -> None:
        if not self.record_requests:
            return
        path, body = incoming.path, incoming.body
        parsed: Any = body
        content_type = incoming.headers.get("content-type", "")
        if not body:
            parsed = None
        elif "json" in content_type:
            try:
                parsed = json.loads(body)
            except (UnicodeDecodeError, json.JSONDecodeError):
                parsed = body
            if path.startswith("/v1/subscriptions"):
                parsed = _redacted(parsed)
        elif "x-www-form-urlencoded" in content_type:
            from urllib.parse import parse_qsl

            parsed = {
                k: "***" if k in _REDACTED_FORM_FIELDS else v
                for k, v in parse_qsl(body.decode("utf-8", "replace"))
            }
        entry = RecordedRequest(
            method=incoming.method,
            path=path,
            query=incoming.raw_query,
            body=parsed,
            status=status,
            fault=fired.kind if fired is not None else None,
            timestamp=self.state.clock.timestamp(),
        )
        with self.state.lock:
            self.requests.append(entry)

    def _run_after_commit(self) -> None:
        with self.state.lock:
            callbacks = list(self.state.after_commit)
            self.state.after_commit.clear()
        for callback in callbacks:
            callback()
