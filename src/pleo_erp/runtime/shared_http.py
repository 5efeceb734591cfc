"""One ``httpx.Client`` per process for every run's :class:`~pleo_erp.client.PleoClient`.

A :class:`~pleo_erp.runtime.ConnectionFactory` is called once per run. Building a new
``PleoClient`` each time builds a new ``httpx.Client``, which loads the CA bundle into a fresh
SSL context (≈100 ms of CPU) and opens new connections (a TLS handshake per run). A runtime
serving thousands of companies spends most of its CPU there. :class:`SharedHttpClients` keeps
one ``httpx.Client`` per base URL; each run still gets its own ``PleoClient`` (its own
credential, retries, rate limiter) wrapping it with ``http_client=``::

    clients = SharedHttpClients()

    def build(self, connection):
        http = clients.get(base_url)
        return PleoClient(auth_for(connection), base_url=base_url, http_client=http), ...

    ...
    runtime.stop()
    clients.close()

Why sharing is safe between companies:

* ``PleoClient`` passes its credential with every request (``http.send(request, auth=...)``);
  the shared client has no ``auth`` of its own, so a request carries exactly its run's
  ``Authorization``.
* The shared client keeps **no cookies**: a ``Set-Cookie`` from a response for one company
  would otherwise be sent with the next company's requests.
* ``httpx.Client`` is safe to send through from several threads (its connection pool locks).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx

from pleo_erp._closing import ClosesOnExit

__all__ = ["SharedHttpClients", "new_shared_http_client"]


def new_shared_http_client() -> httpx.Client:
    """An ``httpx.Client`` fit to be shared by many companies' runs.

    Like the one ``PleoClient`` builds for itself (no redirects followed), plus a cookie jar
    that refuses every cookie, so no state travels from one company's requests to another's.
    """
    jar = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
    return httpx.Client(follow_redirects=False, cookies=jar)


class SharedHttpClients(ClosesOnExit):
    """One shared ``httpx.Client`` per base URL, created on first use, closed by :meth:`close`.

    Thread-safe. Pass the result of :meth:`get` as ``PleoClient(http_client=...)``; closing
    such a ``PleoClient`` leaves the shared client open. After :meth:`close`, :meth:`get`
    raises ``RuntimeError`` (a run started after shutdown must not reopen a pool).

    Args:
        new_client: builds each shared client (default :func:`new_shared_http_client`);
            tests inject one with a ``MockTransport``.
    """

    def __init__(self, new_client: Callable[[], httpx.Client] = new_shared_http_client) -> None:
        self._new_client = new_client
        self._lock = threading.Lock()
        self._clients: dict[str, httpx.Client] = {}
        self._closed = False

    def get(self, base_url: str) -> httpx.Client:
        """The shared client for ``base_url`` (one per URL: a receipt policy is per client)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the shared HTTP clients are closed")
            client = self._clients.get(base_url)
            if client is None:
                client = self._clients[base_url] = self._new_client()
            return client

    def __len__(self) -> int:
        """How many shared clients are open."""
        with self._lock:
            return len(self._clients)

    def close(self) -> None:
        """Close every shared client (idempotent)."""
        with self._lock:
            self._closed = True
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()
