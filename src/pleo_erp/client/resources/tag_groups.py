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

from attrs import evolve
from typing_extensions import TypedDict, Unpack

from pleo_erp.client._request import Call, Operation, ensure_uuid, id_path, query
from pleo_erp.client.resources._base import (
    AsyncResource,
    SyncResource,
    check_params,
    data_parser,
    list_data_parser,
)
from pleo_erp.client.serialization import unstructure
from pleo_erp.models.tags import TagGroupCreateModel, TagGroupModel, TagGroupUpdateModel

__all__ = [
    "AsyncTagGroups",
    "TagGroupCreateParams",
    "TagGroupListParams",
    "TagGroupUpdateParams",
    "TagGroups",
]

_GROUPS = "/v0/tag-groups"
_GROUP = data_parser(TagGroupModel)
_GROUP_LIST = list_data_parser(TagGroupModel)


def _metadata(metadata: Mapping[str, str] | None) -> dict[str, str] | None:
    if metadata is None:
        return None
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise ValueError("tag group metadata values must be strings")
    return dict(metadata)


class TagGroupListParams(TypedDict, total=False):
    """Keywords of ``tag_groups.list`` (all optional): ``include_archived``,
    ``include_tags_count``."""

    include_archived: bool | None
    include_tags_count: bool | None


def list_op(
    company_id: uuid.UUID | str, **params: Unpack[TagGroupListParams]
) -> Operation[tuple[TagGroupModel, ...]]:
    """``GET /v0/tag-groups?company_id=…``."""
    check_params(TagGroupListParams, params, "list")
    query_params = query(
        company_id=ensure_uuid(company_id, "company_id"),
        include_archived=params.get("include_archived"),
        include_tags_count=params.get("include_tags_count"),
    )
    return Operation(Call("tag_groups.list", "GET", _GROUPS, query_params), _GROUP_LIST)


def get_op(group_id: uuid.UUID | str) -> Operation[TagGroupModel]:
    """``GET /v0/tag-groups/{groupId}``."""
    return Operation(Call("tag_groups.get", "GET", id_path(_GROUPS, group_id, "group_id")), _GROUP)


class _TagGroupKeys(TypedDict):
    code: str
    name: str


class TagGroupCreateParams(_TagGroupKeys, total=False):
    """Keywords of ``tag_groups.create``: ``code`` and ``name`` required; ``archived``
    (default ``False``) and ``metadata`` optional."""

    archived: bool
    metadata: Mapping[str, str] | None


class TagGroupUpdateParams(_TagGroupKeys):
    """Keywords of ``tag_groups.update``, all required (a full replace): ``code``, ``name``,
    ``archived``, ``metadata`` (``{}`` for none)."""

    archived: bool
    metadata: Mapping[str, str]


def create_from_op(
    company_id: uuid.UUID | str, body: TagGroupCreateModel
) -> Operation[TagGroupModel]:
    """``POST /v0/tag-groups?company_id=…`` with a complete request model (not re-sent)."""
    checked = evolve(body, metadata=_metadata(body.metadata))
    call = Call(
        "tag_groups.create",
        "POST",
        _GROUPS,
        query(company_id=ensure_uuid(company_id, "company_id")),
        body=unstructure(checked),
        idempotent=False,
    )
    return Operation(call, _GROUP)


def create_op(
    company_id: uuid.UUID | str, **params: Unpack[TagGroupCreateParams]
) -> Operation[TagGroupModel]:
    """``POST /v0/tag-groups?company_id=…`` (a create: not re-sent after ambiguous failures)."""
    check_params(TagGroupCreateParams, params, "create")
    body = TagGroupCreateModel(
        archived=params.get("archived", False),
        code=params["code"],
        name=params["name"],
        metadata=_metadata(params.get("metadata")),
    )
    return create_from_op(company_id, body)


def update_from_op(
    group_id: uuid.UUID | str, body: TagGroupUpdateModel
) -> Operation[TagGroupModel]:
    """``PUT /v0/tag-groups/{groupId}`` with a complete request model."""
    if body.metadata is None:
        raise ValueError("metadata is required on a tag group update (pass {} for none)")
    checked = evolve(body, metadata=_metadata(body.metadata) or {})
    path = id_path(_GROUPS, group_id, "group_id")
    return Operation(Call("tag_groups.update", "PUT", path, body=unstructure(checked)), _GROUP)


def update_op(
    group_id: uuid.UUID | str, **params: Unpack[TagGroupUpdateParams]
) -> Operation[TagGroupModel]:
    """``PUT /v0/tag-groups/{groupId}`` with the complete group."""
    check_params(TagGroupUpdateParams, params, "update")
    metadata = _metadata(params["metadata"])
    if metadata is None:
        raise ValueError("metadata is required on a tag group update (pass {} for none)")
    body = TagGroupUpdateModel(
        archived=params["archived"], code=params["code"], metadata=metadata, name=params["name"]
    )
    return update_from_op(group_id, body)


class TagGroups(SyncResource):
    """Tag groups (``client.tag_groups``)."""

    def list(
        self, company_id: uuid.UUID | str, **params: Unpack[TagGroupListParams]
    ) -> tuple[TagGroupModel, ...]:
        """The company's tag groups (one response: this list is not paginated).

        Keywords: see :class:`TagGroupListParams`.
        """
        return self._run(list_op(company_id, **params))

    def get(self, group_id: uuid.UUID | str) -> TagGroupModel:
        """One tag group."""
        return self._run(get_op(group_id))

    def create(
        self, company_id: uuid.UUID | str, **params: Unpack[TagGroupCreateParams]
    ) -> TagGroupModel:
        """Create a tag group for an AS dimension (``code`` = the dimension's code).

        Keywords: see :class:`TagGroupCreateParams`.
        """
        return self._run(create_op(company_id, **params))

    def update(
        self, group_id: uuid.UUID | str, **params: Unpack[TagGroupUpdateParams]
    ) -> TagGroupModel:
        """Replace the group's ``code``, ``name``, ``archived`` and ``metadata`` (all required).

        Keywords: see :class:`TagGroupUpdateParams`.
        """
        return self._run(update_op(group_id, **params))


class AsyncTagGroups(AsyncResource):
    """Tag groups (``client.tag_groups`` on the async client)."""

    async def list(
        self, company_id: uuid.UUID | str, **params: Unpack[TagGroupListParams]
    ) -> tuple[TagGroupModel, ...]:
        """Async twin of :meth:`TagGroups.list`."""
        return await self._run(list_op(company_id, **params))

    async def get(self, group_id: uuid.UUID | str) -> TagGroupModel:
        """Async twin of :meth:`TagGroups.get`."""
        return await self._run(get_op(group_id))

    async def create(
        self, company_id: uuid.UUID | str, **params: Unpack[TagGroupCreateParams]
    ) -> TagGroupModel:
        """Async twin of :meth:`TagGroups.create`."""
        return await self._run(create_op(company_id, **params))

    async def update(
        self, group_id: uuid.UUID | str, **params: Unpack[TagGroupUpdateParams]
    ) -> TagGroupModel:
        """Async twin of :meth:`TagGroups.update`."""
        return await self._run(update_op(group_id, **params))
