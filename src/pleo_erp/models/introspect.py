"""``GET /v1/introspect``: who the credential is (no published spec).

The response is ``{"data": {"authMethod": "API_KEY", "clientId": "…", "scope": "… …",
"applicationName": "…", "subjectURN": "urn:pleo:company:<uuid>"}}``. Every field is optional
here because no schema pins them down; ``company_id`` parses the subject URN.
"""

from __future__ import annotations

import uuid
from typing import TypeAlias

from attrs import define, field

from pleo_erp.models._fields import WIRE_NAME
from pleo_erp.models.common import DataResponse

__all__ = ["DataResponseIntrospectionModel", "IntrospectionModel"]

_COMPANY_URN_PREFIX = "urn:pleo:company:"


@define(frozen=True)
class IntrospectionModel:
    """What Pleo knows about the calling credential."""

    application_name: str | None = None
    auth_method: str | None = None
    client_id: str | None = None
    scope: str | None = None
    subject_urn: str | None = field(default=None, metadata={WIRE_NAME: "subjectURN"})

    @property
    def scopes(self) -> tuple[str, ...]:
        """The granted scopes (``scope`` is space-separated)."""
        return tuple(self.scope.split()) if self.scope else ()

    @property
    def company_id(self) -> uuid.UUID | None:
        """The company the credential is for, or ``None`` if the subject is not a company
        (e.g. an organisation) or the URN is malformed."""
        urn = self.subject_urn
        if not urn or not urn.lower().startswith(_COMPANY_URN_PREFIX):
            return None
        try:
            return uuid.UUID(urn[len(_COMPANY_URN_PREFIX) :])
        except ValueError:
            return None


DataResponseIntrospectionModel: TypeAlias = DataResponse[IntrospectionModel]
"""``GET /v1/introspect`` response."""
