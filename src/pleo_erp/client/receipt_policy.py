"""Where receipt downloads may go: the SSRF rules for untrusted ``files[].url`` links.

A receipt URL comes from Pleo's export item, but an SDK must treat it as untrusted input: a link
that points at ``http://127.0.0.1:6379/`` or ``http://169.254.169.254/`` would otherwise make
the integration fetch an internal service and file the answer in the customer's books.
:class:`ReceiptPolicy` decides, per URL and per redirect hop:

- **Production (the default policy):** ``https`` only (plain ``http`` only for hosts the caller
  names in ``insecure_hosts``), and the host must resolve to *public* addresses only — every
  address the resolver returns is checked, so a name resolving to loopback, a private network,
  link-local (cloud metadata) or any other special-purpose range is refused.
- **Trusted origins:** a local sandbox is configured *explicitly* by its origin
  (scheme, host and port, e.g. ``http://127.0.0.1:8080``); exactly that origin is exempt from
  both rules — another port on the same host is not. :class:`~pleo_erp.testing.sandbox.PleoSandbox`
  clients and the CLI demo set this automatically; anyone else passes
  ``PleoClient(..., allow_local_receipts_from="http://127.0.0.1:8080")``.

The policy travels with the ``httpx.Client`` a :class:`~pleo_erp.client.PleoClient` sends
through (:func:`attach_receipt_policy`), so the export's receipt fetcher finds it without any
extra argument. The resolver is injectable so tests can map a name to any address without DNS.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import weakref
from collections.abc import Callable, Iterable, Sequence

import httpx
from attrs import define, field

__all__ = [
    "Origin",
    "ReceiptPolicy",
    "Resolver",
    "attach_receipt_policy",
    "is_public_address",
    "origin_of",
    "receipt_policy_for",
    "system_resolver",
]

Origin = tuple[str, str, int]
"""``(scheme, host, port)`` with the host lower-cased and without IPv6 brackets."""

Resolver = Callable[[str, int], Sequence[str]]
"""Maps ``(host, port)`` to the IP addresses a connection could reach (raises ``OSError``)."""

_DEFAULT_PORTS = {"http": 80, "https": 443}


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses ``socket.getaddrinfo`` returns for ``host`` (what httpx will connect to)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def origin_of(url: httpx.URL | str) -> Origin:
    """The origin of ``url``: scheme, lower-case host without brackets, effective port."""
    parsed = httpx.URL(url) if isinstance(url, str) else url
    scheme = parsed.scheme.lower()
    port = parsed.port if parsed.port is not None else _DEFAULT_PORTS.get(scheme, 0)
    return scheme, parsed.host.strip("[]").lower(), port


def _parsed_ip(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """``address`` as an IP (zone id dropped; an IPv4-mapped IPv6 address as the IPv4 address
    it carries), or ``None`` when it is not an IP address."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def is_public_address(address: str) -> bool:
    """Whether ``address`` is a globally routable unicast address (not loopback, private,
    link-local, shared, reserved, multicast or unspecified). IPv4-mapped IPv6 addresses are
    judged by the IPv4 address they carry."""
    ip = _parsed_ip(address)
    return ip is not None and ip.is_global and not ip.is_multicast


def _is_private_network(address: str) -> bool:
    """RFC 1918 / unique-local ranges (what ``allow_private_networks`` relaxes)."""
    ip = _parsed_ip(address)
    if ip is None:
        return False
    networks = (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("172.16.0.0/12"),
        ipaddress.ip_network("192.168.0.0/16"),
        ipaddress.ip_network("fc00::/7"),
    )
    return any(ip.version == net.version and ip in net for net in networks)


def _origins(values: Iterable[str | Origin]) -> frozenset[Origin]:
    out: set[Origin] = set()
    for value in values:
        if isinstance(value, tuple):
            scheme, host, port = value
            out.add((scheme.lower(), host.strip("[]").lower(), int(port)))
            continue
        parsed = httpx.URL(value)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError(f"a trusted receipt origin must be an http(s) URL, not {value!r}")
        out.add(origin_of(parsed))
    return frozenset(out)


@define(frozen=True, slots=True)
class ReceiptPolicy:
    """The rules a receipt URL (and every redirect hop) must pass; see the module docstring.

    Attributes:
        trusted_origins: origins (``"http://127.0.0.1:8080"`` or ``(scheme, host, port)``)
            exempt from the scheme and address rules — a local sandbox. Empty in production.
        allow_private_networks: also accept hosts resolving to RFC 1918 / unique-local
            addresses (an on-premises file store). Loopback and link-local stay refused.
        resolver: name resolution used for the address check (default: the system's).
        check_addresses: resolve hosts and refuse non-public addresses (default). ``False``
            only for an ``httpx.Client`` whose transport never opens a network connection —
            the in-process sandbox's mock transport — where no address can be reached and a
            DNS lookup would be traffic a test must not make. Scheme and origin rules stay.
    """

    trusted_origins: frozenset[Origin] = field(factory=frozenset, converter=_origins)
    allow_private_networks: bool = False
    resolver: Resolver = field(default=system_resolver, eq=False, repr=False)
    check_addresses: bool = True

    @classmethod
    def local_sandbox(cls, *origins: str, resolver: Resolver = system_resolver) -> ReceiptPolicy:
        """A policy trusting exactly the given sandbox origins (``http://127.0.0.1:8080``)."""
        return cls(trusted_origins=frozenset(_origins(origins)), resolver=resolver)

    def trusts(self, url: httpx.URL) -> bool:
        """Whether ``url`` is on a trusted (sandbox) origin."""
        return origin_of(url) in self.trusted_origins

    def address_allowed(self, address: str) -> bool:
        """Whether a connection to ``address`` is allowed for an untrusted URL."""
        if is_public_address(address):
            return True
        return self.allow_private_networks and _is_private_network(address)

    def with_origins(self, origins: Iterable[str | Origin]) -> ReceiptPolicy:
        """A copy that also trusts ``origins``."""
        return ReceiptPolicy(
            trusted_origins=self.trusted_origins | _origins(origins),
            allow_private_networks=self.allow_private_networks,
            resolver=self.resolver,
            check_addresses=self.check_addresses,
        )


PRODUCTION_POLICY = ReceiptPolicy()
"""The default: no trusted origin, public addresses only, the system resolver."""

_policies: weakref.WeakKeyDictionary[httpx.Client, ReceiptPolicy] = weakref.WeakKeyDictionary()
_policies_lock = threading.Lock()


def attach_receipt_policy(http_client: httpx.Client, policy: ReceiptPolicy) -> None:
    """Make ``policy`` the one receipt downloads through ``http_client`` follow.

    :class:`~pleo_erp.client.PleoClient` does this for its client; the export's receipt
    fetcher then finds it with :func:`receipt_policy_for`.
    """
    with _policies_lock:
        _policies[http_client] = policy


def receipt_policy_for(http_client: httpx.Client | None) -> ReceiptPolicy:
    """The policy attached to ``http_client`` (the production policy when none is)."""
    if http_client is None:
        return PRODUCTION_POLICY
    with _policies_lock:
        return _policies.get(http_client, PRODUCTION_POLICY)
