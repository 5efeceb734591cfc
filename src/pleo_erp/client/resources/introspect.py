"""``GET /v1/introspect``: who the current credential is, and for which company.

Pleo answers (accounts-sync-and-auth.md §B5)::

    {"data": {"authMethod": "API_KEY", "clientId": "…", "scope": "export:read …",
              "applicationName": "Netsuite", "subjectURN": "urn:pleo:company:<uuid>"}}

``IntrospectionModel.company_id`` parses a company subject URN; any other subject (an
organisation) gives ``None``, and accounting calls then need an explicit ``company_id``
(rule 19). The call is a plain GET, so it is safe to re-send.
"""

from __future__ import annotations

from typing import Any

from pleo_erp.client._request import Call
from pleo_erp.client.resources._base import data_parser
from pleo_erp.models.introspect import IntrospectionModel

__all__ = ["introspect_call", "parse_introspection"]

_INTROSPECTION = data_parser(IntrospectionModel)


def introspect_call() -> Call:
    """``GET /v1/introspect``."""
    return Call("introspect", "GET", "/v1/introspect")


def parse_introspection(body: Any) -> IntrospectionModel:
    """Structure the ``{"data": {...}}`` introspection response."""
    return _INTROSPECTION(body)
