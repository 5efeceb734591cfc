"""Exceptions used inside the sandbox and raised to the tests that drive it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

__all__ = [
    "ApiError",
    "DisconnectKind",
    "SandboxContractError",
    "SandboxDisconnect",
    "SandboxError",
]

DisconnectKind = Literal["connect", "read", "timeout"]


class SandboxError(Exception):
    """A test or helper asked the sandbox for something it cannot do (bad helper arguments)."""


class SandboxContractError(AssertionError):
    """A response the sandbox built does not conform to Pleo's published spec.

    Raised from inside ``handle`` in strict mode, so the test that triggered it fails loudly
    instead of letting a client get used to a shape Pleo never sends.
    """


class SandboxDisconnect(Exception):
    """A transport-level fault: the adapter must drop the connection instead of answering.

    ``kind`` says how: ``connect`` (nothing reached the server, nothing was applied),
    ``read`` (the request was processed, the response is lost) or ``timeout`` (processed,
    then the client times out waiting).
    """

    def __init__(self, kind: DisconnectKind, message: str) -> None:
        super().__init__(message)
        self.kind: DisconnectKind = kind


class ApiError(Exception):
    """An error answer in Pleo's ``ExceptionInfo`` shape (``type`` + ``message``).

    Route handlers raise it; the app turns it into the HTTP response.
    """

    def __init__(
        self,
        status: int,
        type_: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(f"{status} {type_}: {message}")
        self.status = status
        self.type = type_
        self.message = message
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    def body(self) -> dict[str, object]:
        """The JSON body: ``{"type": ..., "message": ...}`` plus any extra keys."""
        return {"type": self.type, "message": self.message, **self.extra}
