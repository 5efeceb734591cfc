"""Tags (Tags API v0): list a group's tags, search, create, get, update, bulk archive.

- ``list(group_id, include_archived=)``: ``GET /v0/tag-groups/{groupId}/tags`` (re-sendable)
- ``search(company_id=, tag_group_ids=, …)``: ``POST /v0/tags:search`` (read-only, re-sendable)
- ``create(group_id, code=, name=, …)``: ``POST /v0/tag-groups/{groupId}/tags`` (a create)
- ``get(tag_id)``: ``GET /v0/tags/{tagId}`` (re-sendable)
- ``update(tag_id, code=, archived=, …)``: ``PUT /v0/tags/{tagId}`` (re-sendable)
- ``archive(tag_ids, company_id=, archived=)``: ``POST /v0/tags/archive`` per 100 (sets a state)

The deprecated ``GET /v0/tags`` search is not used; ``POST /v0/tags:search`` replaces it.
Tags are archived, never deleted (DESIGN decision 8).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from attrs import evolve
from typing_extensions import TypedDict, Unpack

from pleo_erp.client._request import Call, Operation, ensure_uuid, id_path, query
from pleo_erp.client.pagination import AsyncPaginator, PagedCall, Paginator
from pleo_erp.client.resources._base import (
    AsyncResource,
    BulkOperation,
    SyncResource,
    check_params,
    chunked,
    data_parser,
    list_data_parser,
    paged,
    uuid_tuple,
)
from pleo_erp.client.serialization import unstructure
from pleo_erp.models.tags import (
    BulkTagArchiveModel,
    CompositeTagSearchRequest,
    TagCreateModel,
    TagModel,
    TagUpdateModel,
)

__all__ = [
    "MAX_TAGS_PER_ARCHIVE_REQUEST",
    "AsyncTags",
    "TagCreateParams",
    "TagListParams",
    "TagSearchParams",
    "TagUpdateParams",
    "Tags",
]

MAX_TAGS_PER_ARCHIVE_REQUEST = 100
"""``BulkTagArchiveModel.tagIds`` holds at most 100 ids."""

_TAGS = "/v0/tags"
_TAG = data_parser(TagModel)
_TAG_LIST = list_data_parser(TagModel)


def _values(values: Sequence[str] | None) -> tuple[str, ...] | None:
    if values is None:
        return None
    if isinstance(values, str):
        raise ValueError("other_dimension_values must be a list of strings")
    return tuple(values)


def _group_tags_path(group_id: uuid.UUID | str) -> str:
    return id_path("/v0/tag-groups", group_id, "group_id", "/tags")


def _concat(parts: list[tuple[TagModel, ...]]) -> tuple[TagModel, ...]:
    return tuple(tag for part in parts for tag in part)


class TagListParams(TypedDict, total=False):
    """Keywords of ``tags.list`` (all optional): ``include_archived``, ``page_size``."""

    include_archived: bool | None
    page_size: int | None


def list_op(group_id: uuid.UUID | str, **params: Unpack[TagListParams]) -> PagedCall[TagModel]:
    """``GET /v0/tag-groups/{groupId}/tags``."""
    check_params(TagListParams, params, "list")
    query_params = query(include_archived=params.get("include_archived"))
    call = Call("tags.list", "GET", _group_tags_path(group_id), query_params)
    return paged(call, TagModel, params.get("page_size"))


class TagSearchParams(TypedDict, total=False):
    """Keywords of ``tags.search`` (all optional): ``tag_group_ids``, ``tag_ids``,
    ``archived``, ``include_archived``, ``text_search``, ``page_size``."""

    tag_group_ids: Iterable[uuid.UUID | str] | None
    tag_ids: Iterable[uuid.UUID | str] | None
    archived: bool | None
    include_archived: bool | None
    text_search: str | None
    page_size: int | None


class _TagKeys(TypedDict):
    code: str


class _TagOptionalFields(TypedDict, total=False):
    name: str | None
    other_dimension_values: Sequence[str] | None


class TagCreateParams(_TagKeys, _TagOptionalFields, total=False):
    """Keywords of ``tags.create``: ``code`` required; ``name``, ``archived`` (default
    ``False``), ``other_dimension_values`` optional."""

    archived: bool


class TagUpdateParams(_TagKeys, _TagOptionalFields):
    """Keywords of ``tags.update``: ``code`` and ``archived`` required; ``name`` and
    ``other_dimension_values`` optional (omitted ``other_dimension_values`` stay unchanged)."""

    archived: bool


def search_op(
    company_id: uuid.UUID | str | None, **params: Unpack[TagSearchParams]
) -> PagedCall[TagModel]:
    """``POST /v0/tags:search?company_id=…`` with a ``CompositeTagSearchRequest`` (read-only)."""
    check_params(TagSearchParams, params, "search")
    body = CompositeTagSearchRequest(
        archived=params.get("archived"),
        include_archived=params.get("include_archived"),
        tag_group_ids=uuid_tuple(params.get("tag_group_ids"), "tag_group_ids"),
        tag_ids=uuid_tuple(params.get("tag_ids"), "tag_ids"),
        text_search=params.get("text_search"),
    )
    company = ensure_uuid(company_id, "company_id") if company_id is not None else None
    call = Call(
        "tags.search", "POST", f"{_TAGS}:search", query(company_id=company), body=unstructure(body)
    )
    return paged(call, TagModel, params.get("page_size"))


def create_from_op(group_id: uuid.UUID | str, body: TagCreateModel) -> Operation[TagModel]:
    """``POST /v0/tag-groups/{groupId}/tags`` with a complete request model (not re-sent)."""
    checked = evolve(body, other_dimension_values=_values(body.other_dimension_values))
    call = Call(
        "tags.create",
        "POST",
        _group_tags_path(group_id),
        body=unstructure(checked),
        idempotent=False,
    )
    return Operation(call, _TAG)


def create_op(group_id: uuid.UUID | str, **params: Unpack[TagCreateParams]) -> Operation[TagModel]:
    """``POST /v0/tag-groups/{groupId}/tags`` (a create: not re-sent after ambiguous failures)."""
    check_params(TagCreateParams, params, "create")
    body = TagCreateModel(
        archived=params.get("archived", False),
        code=params["code"],
        name=params.get("name"),
        other_dimension_values=_values(params.get("other_dimension_values")),
    )
    return create_from_op(group_id, body)


def get_op(tag_id: uuid.UUID | str) -> Operation[TagModel]:
    """``GET /v0/tags/{tagId}``."""
    return Operation(Call("tags.get", "GET", id_path(_TAGS, tag_id, "tag_id")), _TAG)


def update_from_op(tag_id: uuid.UUID | str, body: TagUpdateModel) -> Operation[TagModel]:
    """``PUT /v0/tags/{tagId}`` with a complete request model."""
    checked = evolve(body, other_dimension_values=_values(body.other_dimension_values))
    call = Call("tags.update", "PUT", id_path(_TAGS, tag_id, "tag_id"), body=unstructure(checked))
    return Operation(call, _TAG)


def update_op(tag_id: uuid.UUID | str, **params: Unpack[TagUpdateParams]) -> Operation[TagModel]:
    """``PUT /v0/tags/{tagId}``; omitted ``other_dimension_values`` stay unchanged."""
    check_params(TagUpdateParams, params, "update")
    body = TagUpdateModel(
        archived=params["archived"],
        code=params["code"],
        name=params.get("name"),
        other_dimension_values=_values(params.get("other_dimension_values")),
    )
    return update_from_op(tag_id, body)


def archive_op(
    tag_ids: Iterable[uuid.UUID | str], company_id: uuid.UUID | str, archived: bool
) -> BulkOperation[tuple[TagModel, ...], tuple[TagModel, ...]]:
    """``POST /v0/tags/archive`` per chunk of at most 100 ids (none for no ids)."""
    company = ensure_uuid(company_id, "company_id")
    ids = uuid_tuple(tag_ids, "tag_ids") or ()
    calls = [
        Call(
            "tags.archive",
            "POST",
            f"{_TAGS}/archive",
            body=unstructure(
                BulkTagArchiveModel(archived=archived, company_id=company, tag_ids=tuple(chunk))
            ),
        )
        for chunk in chunked(ids, MAX_TAGS_PER_ARCHIVE_REQUEST)
    ]
    return BulkOperation([Operation(call, _TAG_LIST) for call in calls], _concat)


class Tags(SyncResource):
    """Tags (``client.tags``)."""

    def list(
        self, group_id: uuid.UUID | str, **params: Unpack[TagListParams]
    ) -> Paginator[TagModel]:
        """Iterate the tags of one group (archived ones too with ``include_archived=True``).

        Keywords: see :class:`TagListParams`.
        """
        return self._paginate(list_op(group_id, **params))

    def search(
        self, company_id: uuid.UUID | str | None = None, **params: Unpack[TagSearchParams]
    ) -> Paginator[TagModel]:
        """Iterate tags matching the filters (``archived`` wins over ``include_archived``).

        Keywords: see :class:`TagSearchParams`.
        """
        return self._paginate(search_op(company_id, **params))

    def create(self, group_id: uuid.UUID | str, **params: Unpack[TagCreateParams]) -> TagModel:
        """Create a tag (an AS dimension value) in a group. ``Conflict`` if the code exists.

        Keywords: see :class:`TagCreateParams`.
        """
        return self._run(create_op(group_id, **params))

    def get(self, tag_id: uuid.UUID | str) -> TagModel:
        """One tag."""
        return self._run(get_op(tag_id))

    def update(self, tag_id: uuid.UUID | str, **params: Unpack[TagUpdateParams]) -> TagModel:
        """Update, rename, archive or unarchive a tag (``code`` and ``archived`` required).

        Keywords: see :class:`TagUpdateParams`.
        """
        return self._run(update_op(tag_id, **params))

    def archive(
        self,
        tag_ids: Iterable[uuid.UUID | str],
        *,
        company_id: uuid.UUID | str,
        archived: bool = True,
    ) -> tuple[TagModel, ...]:
        """Archive (or with ``archived=False`` unarchive) many tags, 100 per request."""
        return self._run(archive_op(tag_ids, company_id, archived))


class AsyncTags(AsyncResource):
    """Tags (``client.tags`` on the async client)."""

    def list(
        self, group_id: uuid.UUID | str, **params: Unpack[TagListParams]
    ) -> AsyncPaginator[TagModel]:
        """Async twin of :meth:`Tags.list` (iterate with ``async for``)."""
        return self._paginate(list_op(group_id, **params))

    def search(
        self, company_id: uuid.UUID | str | None = None, **params: Unpack[TagSearchParams]
    ) -> AsyncPaginator[TagModel]:
        """Async twin of :meth:`Tags.search` (iterate with ``async for``)."""
        return self._paginate(search_op(company_id, **params))

    async def create(
        self, group_id: uuid.UUID | str, **params: Unpack[TagCreateParams]
    ) -> TagModel:
        """Async twin of :meth:`Tags.create`."""
        return await self._run(create_op(group_id, **params))

    async def get(self, tag_id: uuid.UUID | str) -> TagModel:
        """Async twin of :meth:`Tags.get`."""
        return await self._run(get_op(tag_id))

    async def update(self, tag_id: uuid.UUID | str, **params: Unpack[TagUpdateParams]) -> TagModel:
        """Async twin of :meth:`Tags.update`."""
        return await self._run(update_op(tag_id, **params))

    async def archive(
        self,
        tag_ids: Iterable[uuid.UUID | str],
        *,
        company_id: uuid.UUID | str,
        archived: bool = True,
    ) -> tuple[TagModel, ...]:
        """Async twin of :meth:`Tags.archive`."""
        return await self._run(archive_op(tag_ids, company_id, archived))
