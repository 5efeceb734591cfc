"""The typed error family every part of the SDK raises.

```
PleoError
├── PleoConnectionError          (no usable HTTP response: connect/read error, timeout)
│   └── PleoTimeoutError
├── PleoAPIError                 (Pleo answered with a non-2xx status)
│   ├── BadRequest               400
│   ├── AuthenticationError      401
│   ├── PermissionDenied         403
│   ├── NotFound                 404
│   ├── Conflict                 409
│   │   ├── AccountExternalIdConflict  (account create: externalId exists)
│   │   └── AccountInUse               (account delete: still used)
│   ├── PayloadTooLarge          413
│   ├── Unprocessable            422
│   ├── RateLimited              429
│   └── ServerError              5xx
├── ResponseValidationError      (a 2xx body that does not fit the model; names the JSON path)
├── PaginationError              (a server repeated a cursor)
├── InsufficientScope            (the known granted scopes lack one a call needs; raised
│                                 locally, before any request — not an HTTP error)
├── ReauthorizationRequired      (OAuth refresh failed; a human must reconnect)
└── WebhookVerificationError     (a webhook signature/timestamp did not verify)
```

Every error has a ``retryable`` flag saying whether trying the same call again can help.
Messages never contain credentials: bodies are kept on the exception, not in ``str()``
beyond Pleo's own ``message``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

__all__ = [
    "AccountExternalIdConflict",
    "AccountInUse",
    "AuthenticationError",
    "BadRequest",
    "Conflict",
    "InsufficientScope",
    "NotFound",
    "PaginationError",
    "PayloadTooLarge",
    "PermissionDenied",
    "PleoAPIError",
    "PleoConnectionError",
    "PleoError",
    "PleoTimeoutError",
    "RateLimited",
    "ReauthorizationRequired",
    "ResponseValidationError",
    "ServerError",
    "Unprocessable",
    "WebhookVerificationError",
    "api_error_for_status",
]


class PleoError(Exception):
    """Root of every error raised by pleo-erp."""

    retryable: ClassVar[bool] = False


class PleoConnectionError(PleoError):
    """The request got no usable HTTP response (DNS, connect, reset, read error)."""

    retryable: ClassVar[bool] = True


class PleoTimeoutError(PleoConnectionError):
    """The request timed out before a response arrived."""


class PleoAPIError(PleoError):
    """Pleo answered with a non-success status.

    Attributes:
        status_code: the HTTP status.
        type: Pleo's error ``type`` (e.g. ``EXPORT_NOT_FOUND``), upper-cased; ``None`` if absent.
        message: Pleo's human-readable ``message``.
        body: the raw response body (parsed JSON when possible, else text).
        request_id: the request id header Pleo sent back, if any.
        method / path: what was called (path only, never the query or credentials).
    """

    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        type: str | None = None,
        body: Any = None,
        request_id: str | None = None,
        method: str | None = None,
        path: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status_code = status_code
        self.type = type.upper() if type else None
        self.message = message
        self.body = body
        self.request_id = request_id
        self.method = method
        self.path = path
        self.headers = dict(headers or {})
        where = f" ({method} {path})" if method and path else ""
        kind = f" {self.type}" if self.type else ""
        rid = f" [request id {request_id}]" if request_id else ""
        super().__init__(f"HTTP {status_code}{kind}{where}: {message}{rid}")

    def _response_facts(self) -> dict[str, Any]:
        """The keyword arguments that rebuild this error's response facts (status, type, body,
        request id, method, path, headers): a more specific error about the same answer
        passes them on with its own message."""
        return {
            "status_code": self.status_code,
            "type": self.type,
            "body": self.body,
            "request_id": self.request_id,
            "method": self.method,
            "path": self.path,
            "headers": self.headers,
        }

    def is_type(self, *types: str) -> bool:
        """Whether Pleo's error ``type`` is one of ``types``, compared case-insensitively."""
        return self.type is not None and self.type in {t.upper() for t in types}


class BadRequest(PleoAPIError):
    """400: the request was malformed or failed a precondition (e.g. MISSING_CONTRA_ACCOUNTS)."""


class AuthenticationError(PleoAPIError):
    """401: the credential is missing, wrong or expired."""


class PermissionDenied(PleoAPIError):
    """403: the credential lacks a scope or access to the company."""


class NotFound(PleoAPIError):
    """404: the resource does not exist (or is not visible to this credential)."""


class Conflict(PleoAPIError):
    """409: the write conflicts with current state (duplicate, already in progress, in use)."""


class AccountExternalIdConflict(Conflict):
    """409 on account create: an account with this ``external_id`` already exists.

    Search for it by ``external_id`` and update or unarchive it instead (accounts rule 25).
    """

    def __init__(self, external_id: str, conflict: Conflict) -> None:
        self.external_id = external_id
        super().__init__(
            f"an account with externalId {external_id!r} already exists ({conflict.message})",
            **conflict._response_facts(),
        )


class AccountInUse(Conflict):
    """409 on account delete: the account is still used; archive it instead (rule 29)."""

    def __init__(self, account_id: str, conflict: Conflict) -> None:
        self.account_id = account_id
        super().__init__(
            f"account {account_id} is in use and cannot be deleted; archive it instead "
            f"({conflict.message})",
            **conflict._response_facts(),
        )


class PayloadTooLarge(PleoAPIError):
    """413: too many items in one request (e.g. more than 100 item updates)."""


class Unprocessable(PleoAPIError):
    """422: the state machine refused the change (job finished/expired, invalid transition)."""


class RateLimited(PleoAPIError):
    """429: too many requests. ``retry_after`` is the server's hint in seconds, if any."""

    retryable: ClassVar[bool] = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


class ServerError(PleoAPIError):
    """5xx: Pleo failed; retrying later may help."""

    retryable: ClassVar[bool] = True


class ResponseValidationError(PleoError):
    """A successful response whose JSON does not fit the expected model.

    ``path`` is the JSON path of the first bad field (e.g. ``$.data[3].amount.value``),
    ``errors`` every problem found, one line each.
    """

    def __init__(self, model: str, errors: list[str], *, path: str | None = None) -> None:
        self.model = model
        self.errors = list(errors)
        self.path = path
        first = self.errors[0] if self.errors else "unknown problem"
        more = f" (+{len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
        super().__init__(f"response does not fit {model}: {first}{more}")


class PaginationError(PleoError):
    """The server returned a cursor it had already returned: following it would loop forever."""


class InsufficientScope(PleoError):
    """The credential's granted scopes (known beforehand) lack one the operation needs.

    Raised locally by a preflight check before any request is made (accounts rule 50); it is
    the client-side twin of a 403 :class:`PermissionDenied`, but not an HTTP error, so it
    carries no status. Retrying cannot help: the integration must be authorised again with
    the missing scopes.

    Attributes:
        missing: the required scopes not granted.
        required: every scope the operation needs.
        operation: what needed them (e.g. ``"the accounts sync"``), if given.
    """

    retryable: ClassVar[bool] = False

    def __init__(
        self,
        missing: Iterable[str],
        required: Iterable[str],
        *,
        operation: str | None = None,
        unverified: Iterable[str] = (),
    ) -> None:
        self.missing: frozenset[str] = frozenset(missing)
        self.required: frozenset[str] = frozenset(required) | self.missing
        self.operation = operation
        names = ", ".join(sorted(self.missing))
        plural = "s" if len(self.missing) != 1 else ""
        what = f" for {operation}" if operation else ""
        message = (
            f"missing scope{plural}{what}: {names} "
            f"(required: {', '.join(sorted(self.required))}); authorise the integration "
            "with them"
        )
        doubtful = sorted(self.missing & frozenset(unverified))
        if doubtful:
            # Those names are a guess (no Pleo page states them): say so, and how to skip.
            message += (
                f". Not documented by Pleo, so possibly named otherwise: {', '.join(doubtful)}"
                " — if Pleo grants the access under another name, skip this check"
                " (granted_scopes=None)"
            )
        super().__init__(message)


class ReauthorizationRequired(PleoError):
    """The OAuth refresh token was rejected; the user must authorize the integration again.

    Once raised by an ``OAuth2Auth``, every further call raises it too until new tokens are set.
    """


class WebhookVerificationError(PleoError):
    """A webhook delivery failed verification (signature, timestamp, replay or credentials)."""


_STATUS_CLASSES: dict[int, type[PleoAPIError]] = {
    400: BadRequest,
    401: AuthenticationError,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: Unprocessable,
    429: RateLimited,
}


def api_error_for_status(status_code: int) -> type[PleoAPIError]:
    """The most specific ``PleoAPIError`` subclass for an HTTP status."""
    if status_code >= 500:
        return ServerError
    return _STATUS_CLASSES.get(status_code, PleoAPIError)
