"""Tag groups (Tags API v0): list, get, create, full-replace update.

- ``list(company_id, include_archived=)``: ``GET /v0/tag-groups?company_id…`` (re-sendable)
- ``get(group_id)``: ``GET /v0/tag-groups/{groupId}`` (re-sendable)
- ``create(company_id, code=, name=, …)``: ``POST /v0/tag-groups?company_id`` (a create)
- ``update(group_id, code=, name=, …)``: ``PUT /v0/tag-groups/{groupId}`` (re-sendable)

A tag group is an accounting dimension of the AS (tags-sync.md §1.3). The update is a full
replace: ``archived``, ``code``, ``name`` and ``metadata`` are all required, so pass the current
values of the fields you do not mean to change. Groups are archived, never deleted
(DESIGN decision 8), so no delete is offered.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from pleo_erp.client._request import Call, ensure_uuid, path_segment, query
from pleo_erp.client.resources._base import (
    AsyncResource,
    SyncResource,
    data_of,
    list_data_of,
)
from pleo_erp.client.serialization import unstructure
from pleo_erp.models.tags import TagGroupCreateModel, TagGroupModel, TagGroupUpdateModel

__all__ = ["AsyncTagGroups", "TagGroups"]

_GROUPS = "/v0/tag-groups"


def _metadata(metadata: Mapping[str, str] | None) -> dict[str, str] | None:
    if metadata is None:
        return None
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise ValueError("tag group metadata values must be strings")
    return dict(metadata)


def list_call(
    company_id: uuid.UUID | str,
    include_archived: bool | None,
    include_tags_count: bool | None,
) -> Call:
    """``GET /v0/tag-groups?company_id=…``."""
    return Call(
        "tag_groups.list",
        "GET",
        _GROUPS,
        query(
            company_id=ensure_uuid(company_id, "company_id"),
            include_archived=include_archived,
            include_tags_count=include_tags_count,
        ),
    )


def get_call(group_id: uuid.UUID | str) -> Call:
    """``GET /v0/tag-groups/{groupId}``."""
    return Call(
        "tag_groups.get", "GET", f"{_GROUPS}/{path_segment(ensure_uuid(group_id, 'group_id'))}"
    )


def create_call(
    company_id: uuid.UUID | str,
    code: str,
    name: str,
    archived: bool,
    metadata: Mapping[str, str] | None,
) -> Call:
    """``POST /v0/tag-groups?company_id=…`` (a create: not re-sent after ambiguous failures)."""
    body = TagGroupCreateModel(
        archived=archived, code=code, name=name, metadata=_metadata(metadata)
    )
    return Call(
        "tag_groups.create",
        "POST",
        _GROUPS,
        query(company_id=ensure_uuid(company_id, "company_id")),
        body=unstructure(body),
        idempotent=False,
    )


def update_call(
    group_id: uuid.UUID | str,
    code: str,
    name: str,
    archived: bool,
    metadata: Mapping[str, str],
) -> Call:
    """``PUT /v0/tag-groups/{groupId}`` with the complete group."""
    if metadata is None:
        raise ValueError("metadata is required on a tag group update (pass {} for none)")
    body = TagGroupUpdateModel(
        archived=archived, code=code, metadata=_metadata(metadata) or {}, name=name
    )
    group = path_segment(ensure_uuid(group_id, "group_id"))
    return Call("tag_groups.update", "PUT", f"{_GROUPS}/{group}", body=unstructure(body))


class TagGroups(SyncResource):
    """Tag groups (``client.tag_groups``)."""

    def list(
        self,
        company_id: uuid.UUID | str,
        *,
        include_archived: bool | None = None,
        include_tags_count: bool | None = None,
    ) -> tuple[TagGroupModel, ...]:
        """The company's tag groups (one response: this list is not paginated)."""
        body = self._transport.request(list_call(company_id, include_archived, include_tags_count))
        return list_data_of(body, TagGroupModel)

    def get(self, group_id: uuid.UUID | str) -> TagGroupModel:
        """One tag group."""
        return data_of(self._transport.request(get_call(group_id)), TagGroupModel)

    def create(
        self,
        company_id: uuid.UUID | str,
        *,
        code: str,
        name: str,
        archived: bool = False,
        metadata: Mapping[str, str] | None = None,
    ) -> TagGroupModel:
        """Create a tag group for an AS dimension (``code`` = the dimension's code)."""
        call = create_call(company_id, code, name, archived, metadata)
        return data_of(self._transport.request(call), TagGroupModel)

    def update(
        self,
        group_id: uuid.UUID | str,
        *,
        code: str,
        name: str,
        archived: bool,
        metadata: Mapping[str, str],
    ) -> TagGroupModel:
        """Replace the group's ``code``, ``name``, ``archived`` and ``metadata`` (all required)."""
        call = update_call(group_id, code, name, archived, metadata)
        return data_of(self._transport.request(call), TagGroupModel)


class AsyncTagGroups(AsyncResource):
    """Tag groups (``client.tag_groups`` on the async client)."""

    async def list(
        self,
        company_id: uuid.UUID | str,
        *,
        include_archived: bool | None = None,
        include_tags_count: bool | None = None,
    ) -> tuple[TagGroupModel, ...]:
        """The company's tag groups; see :meth:`TagGroups.list`."""
        call = list_call(company_id, include_archived, include_tags_count)
        return list_data_of(await self._transport.request(call), TagGroupModel)

    async def get(self, group_id: uuid.UUID | str) -> TagGroupModel:
        """One tag group."""
        return data_of(await self._transport.request(get_call(group_id)), TagGroupModel)

    async def create(
        self,
        company_id: uuid.UUID | str,
        *,
        code: str,
        name: str,
        archived: bool = False,
        metadata: Mapping[str, str] | None = None,
    ) -> TagGroupModel:
        """Create a tag group; see :meth:`TagGroups.create`."""
        call = create_call(company_id, code, name, archived, metadata)
        return data_of(await self._transport.request(call), TagGroupModel)

    async def update(
        self,
        group_id: uuid.UUID | str,
        *,
        code: str,
        name: str,
        archived: bool,
        metadata: Mapping[str, str],
    ) -> TagGroupModel:
        """Replace the whole group; see :meth:`TagGroups.update`."""
        call = update_call(group_id, code, name, archived, metadata)
        return data_of(await self._transport.request(call), TagGroupModel)
