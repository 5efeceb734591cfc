"""Fault injection: make chosen calls fail the way real networks and servers fail.

Rules match a route pattern (``"PUT /v3/export-jobs/*/items"``: ``*`` is one path segment,
``**`` any number of segments, the method may be omitted or ``*``) and fire on given call
numbers, a number of times, every time, or at a seeded random rate::

    sandbox.faults.add("PUT /v3/export-jobs/*/items", kind="lost_response", on_calls={2})
    sandbox.faults.add("GET /v3/export-items", kind="rate_limited", times=3, retry_after=2)
    sandbox.faults.random(rate=0.2, seed=1)

Kinds (and whether the request is applied):

=======================  ==========================================================  =======
kind                     what the client sees                                        applied
=======================  ==========================================================  =======
``rate_limited``         429 with ``Retry-After``                                    no
``server_error``         500 (``status=`` may choose another 5xx)                    no
``bad_gateway``          502                                                         no
``service_unavailable``  503                                                         no
``connection_reset``     connect error (mock: ``httpx.ConnectError``)                no
``slow``                 the normal answer after ``delay`` seconds of sandbox sleep  yes
``lost_response``        read error after the write happened (``httpx.ReadError``)   yes
``timeout``              read timeout after the write happened                       yes
``truncated_body``       the normal status with half of the body                     yes
``malformed_json``       the normal status with a body that is not JSON              yes
=======================  ==========================================================  =======
"""

from __future__ import annotations

import fnmatch
import random
import threading
from collections.abc import Iterable
from typing import Literal, get_args

from attrs import define, field

__all__ = [
    "APPLIED_KINDS",
    "TRANSIENT_KINDS",
    "FaultKind",
    "FaultPlan",
    "FaultRule",
    "FiredFault",
    "route_matches",
]

FaultKind = Literal[
    "rate_limited",
    "server_error",
    "bad_gateway",
    "service_unavailable",
    "connection_reset",
    "slow",
    "lost_response",
    "timeout",
    "truncated_body",
    "malformed_json",
]

ALL_KINDS: tuple[FaultKind, ...] = get_args(FaultKind)
#: Kinds where the sandbox processes the request before the fault shows.
APPLIED_KINDS: frozenset[FaultKind] = frozenset(
    {"slow", "lost_response", "timeout", "truncated_body", "malformed_json"}
)
#: The default mix for :meth:`FaultPlan.random`: what a retrying client must survive.
TRANSIENT_KINDS: tuple[FaultKind, ...] = (
    "rate_limited",
    "server_error",
    "bad_gateway",
    "service_unavailable",
    "connection_reset",
    "lost_response",
)


def _split(route: str | None) -> tuple[str, list[str]]:
    if not route:
        return "*", ["**"]
    method, _, path = route.strip().partition(" ")
    if not path:
        method, path = "*", method
    return method.upper(), path.strip().strip("/").split("/")


def _segments_match(pattern: list[str], segments: list[str]) -> bool:
    if not pattern:
        return not segments
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(_segments_match(rest, segments[i:]) for i in range(len(segments) + 1))
    if not segments:
        return False
    return fnmatch.fnmatchcase(segments[0], head) and _segments_match(rest, segments[1:])


def route_matches(route: str | None, method: str, path: str) -> bool:
    """Whether ``method path`` matches a route pattern (``None`` matches everything)."""
    want_method, pattern = _split(route)
    if want_method not in ("*", method.upper()):
        return False
    return _segments_match(pattern, path.strip("/").split("/"))


@define(eq=False)
class FaultRule:
    """One fault rule; ``calls`` counts matching calls, ``fired`` how often it fired."""

    route: str | None
    kind: FaultKind | None
    on_calls: frozenset[int] | None = None
    times: int | None = None
    rate: float | None = None
    kinds: tuple[FaultKind, ...] = ()
    retry_after: str | None = "1"
    delay: float = 1.0
    status: int | None = None
    calls: int = 0
    fired: int = 0
    _rng: random.Random = field(factory=random.Random, repr=False)

    def decide(self, *, may_fire: bool = True) -> FaultKind | None:
        """Count one matching call and say which fault (if any) it gets."""
        self.calls += 1
        if not may_fire:
            return None
        if self.times is not None and self.fired >= self.times:
            return None
        if self.on_calls is not None and self.calls not in self.on_calls:
            return None
        if self.rate is not None:
            if self._rng.random() >= self.rate:
                return None
            chosen: FaultKind = self._rng.choice(self.kinds)
        else:
            assert self.kind is not None
            chosen = self.kind
        self.fired += 1
        return chosen


@define(frozen=True)
class FiredFault:
    """A fault that fired: which rule, which kind, on which call."""

    rule: FaultRule
    kind: FaultKind
    method: str
    path: str


class FaultPlan:
    """The set of fault rules of one sandbox (thread-safe)."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self.history: list[FiredFault] = []

    def add(
        self,
        route: str | None = None,
        kind: FaultKind = "server_error",
        *,
        on_calls: Iterable[int] | None = None,
        times: int | None = None,
        retry_after: float | str | None = 1,
        delay: float = 1.0,
        status: int | None = None,
    ) -> FaultRule:
        """Add a rule: ``kind`` on the calls to ``route`` numbered ``on_calls`` (1-based).

        Without ``on_calls`` the rule fires on every matching call, at most ``times`` times.
        ``retry_after`` is the ``Retry-After`` value of ``rate_limited`` (and of
        ``service_unavailable`` if given); ``None`` omits the header. ``delay`` is the
        ``slow`` wait in sandbox seconds; ``status`` overrides the ``server_error`` status.
        """
        if kind not in ALL_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; choose from {', '.join(ALL_KINDS)}")
        rule = FaultRule(
            route=route,
            kind=kind,
            on_calls=frozenset(on_calls) if on_calls is not None else None,
            times=times,
            retry_after=None if retry_after is None else _format_retry_after(retry_after),
            delay=delay,
            status=status,
        )
        with self._lock:
            self._rules.append(rule)
        return rule

    def random(
        self,
        rate: float,
        kinds: Iterable[FaultKind] | None = None,
        *,
        seed: int = 0,
        route: str | None = None,
        times: int | None = None,
        retry_after: float | str | None = 1,
        delay: float = 1.0,
    ) -> FaultRule:
        """Fail matching calls with probability ``rate``, choosing among ``kinds`` (seeded)."""
        chosen = tuple(kinds) if kinds is not None else TRANSIENT_KINDS
        bad = [k for k in chosen if k not in ALL_KINDS]
        if bad or not chosen:
            raise ValueError(f"unknown or no fault kinds: {bad}")
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        rule = FaultRule(
            route=route,
            kind=None,
            rate=rate,
            kinds=chosen,
            times=times,
            retry_after=None if retry_after is None else _format_retry_after(retry_after),
            delay=delay,
            rng=random.Random(seed),
        )
        with self._lock:
            self._rules.append(rule)
        return rule

    def remove(self, rule: FaultRule) -> None:
        """Remove one rule."""
        with self._lock:
            self._rules.remove(rule)

    def clear(self) -> None:
        """Remove every rule (the history is kept)."""
        with self._lock:
            self._rules.clear()

    @property
    def rules(self) -> tuple[FaultRule, ...]:
        """The current rules, in the order they are tried."""
        with self._lock:
            return tuple(self._rules)

    def pick(self, method: str, path: str) -> FiredFault | None:
        """Count this call against every matching rule; the first rule that fires wins."""
        with self._lock:
            fired: FiredFault | None = None
            for rule in self._rules:
                if not route_matches(rule.route, method, path):
                    continue
                # Later rules still count the call (their call numbers stay meaningful).
                kind = rule.decide(may_fire=fired is None)
                if kind is not None:
                    fired = FiredFault(rule, kind, method.upper(), path)
            if fired is not None:
                self.history.append(fired)
            return fired


def _format_retry_after(value: float | str) -> str:
    if isinstance(value, str):
        return value
    return str(int(value)) if float(value).is_integer() else str(value)
