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

from pleo_erp.client._request import Call, ensure_uuid, path_segment, query
from pleo_erp.client.pagination import AsyncPaginator, Paginator
from pleo_erp.client.resources._base import (
    AsyncResource,
    SyncResource,
    chunked,
    data_of,
    list_data_of,
    paged,
)
from pleo_erp.client.serialization import unstructure
from pleo_erp.models.tags import (
    BulkTagArchiveModel,
    CompositeTagSearchRequest,
    TagCreateModel,
    TagModel,
    TagUpdateModel,
)

__all__ = ["MAX_TAGS_PER_ARCHIVE_REQUEST", "AsyncTags", "Tags"]

MAX_TAGS_PER_ARCHIVE_REQUEST = 100
"""``BulkTagArchiveModel.tagIds`` holds at most 100 ids."""

_TAGS = "/v0/tags"


def _uuids(values: Iterable[uuid.UUID | str] | None, name: str) -> tuple[uuid.UUID, ...] | None:
    if values is None:
        return None
    if isinstance(values, str):
        raise ValueError(f"{name} must be a list of UUIDs, not one string")
    return tuple(dict.fromkeys(ensure_uuid(v, f"{name}[]") for v in values))


def _values(values: Sequence[str] | None) -> tuple[str, ...] | None:
    if values is None:
        return None
    if isinstance(values, str):
        raise ValueError("other_dimension_values must be a list of strings")
    return tuple(values)


def list_call(group_id: uuid.UUID | str, include_archived: bool | None) -> Call:
    """``GET /v0/tag-groups/{groupId}/tags``."""
    group = path_segment(ensure_uuid(group_id, "group_id"))
    return Call(
        "tags.list",
        "GET",
        f"/v0/tag-groups/{group}/tags",
        query(include_archived=include_archived),
    )


def search_call(
    company_id: uuid.UUID | str | None,
    *,
    tag_group_ids: Iterable[uuid.UUID | str] | None,
    tag_ids: Iterable[uuid.UUID | str] | None,
    archived: bool | None,
    include_archived: bool | None,
    text_search: str | None,
) -> Call:
    """``POST /v0/tags:search?company_id=…`` with a ``CompositeTagSearchRequest`` (read-only)."""
    body = CompositeTagSearchRequest(
        archived=archived,
        include_archived=include_archived,
        tag_group_ids=_uuids(tag_group_ids, "tag_group_ids"),
        tag_ids=_uuids(tag_ids, "tag_ids"),
        text_search=text_search,
    )
    company = ensure_uuid(company_id, "company_id") if company_id is not None else None
    return Call(
        "tags.search", "POST", f"{_TAGS}:search", query(company_id=company), body=unstructure(body)
    )


def create_call(
    group_id: uuid.UUID | str,
    code: str,
    name: str | None,
    archived: bool,
    other_dimension_values: Sequence[str] | None,
) -> Call:
    """``POST /v0/tag-groups/{groupId}/tags`` (a create: not re-sent after ambiguous failures)."""
    body = TagCreateModel(
        archived=archived,
        code=code,
        name=name,
        other_dimension_values=_values(other_dimension_values),
    )
    group = path_segment(ensure_uuid(group_id, "group_id"))
    return Call(
        "tags.create",
        "POST",
        f"/v0/tag-groups/{group}/tags",
        body=unstructure(body),
        idempotent=False,
    )


def get_call(tag_id: uuid.UUID | str) -> Call:
    """``GET /v0/tags/{tagId}``."""
    return Call("tags.get", "GET", f"{_TAGS}/{path_segment(ensure_uuid(tag_id, 'tag_id'))}")


def update_call(
    tag_id: uuid.UUID | str,
    code: str,
    archived: bool,
    name: str | None,
    other_dimension_values: Sequence[str] | None,
) -> Call:
    """``PUT /v0/tags/{tagId}``; omitted ``other_dimension_values`` stay unchanged."""
    body = TagUpdateModel(
        archived=archived,
        code=code,
        name=name,
        other_dimension_values=_values(other_dimension_values),
    )
    tag = path_segment(ensure_uuid(tag_id, "tag_id"))
    return Call("tags.update", "PUT", f"{_TAGS}/{tag}", body=unstructure(body))


def archive_calls(
    tag_ids: Iterable[uuid.UUID | str], company_id: uuid.UUID | str, archived: bool
) -> list[Call]:
    """``POST /v0/tags/archive`` per chunk of at most 100 ids (none for no ids)."""
    company = ensure_uuid(company_id, "company_id")
    ids = _uuids(tag_ids, "tag_ids") or ()
    return [
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


class Tags(SyncResource):
    """Tags (``client.tags``)."""

    def list(
        self,
        group_id: uuid.UUID | str,
        *,
        include_archived: bool | None = None,
        page_size: int | None = None,
    ) -> Paginator[TagModel]:
        """Iterate the tags of one group (archived ones too with ``include_archived=True``)."""
        return self._paginate(paged(list_call(group_id, include_archived), TagModel, page_size))

    def search(
        self,
        company_id: uuid.UUID | str | None = None,
        *,
        tag_group_ids: Iterable[uuid.UUID | str] | None = None,
        tag_ids: Iterable[uuid.UUID | str] | None = None,
        archived: bool | None = None,
        include_archived: bool | None = None,
        text_search: str | None = None,
        page_size: int | None = None,
    ) -> Paginator[TagModel]:
        """Iterate tags matching the filters (``archived`` wins over ``include_archived``)."""
        call = search_call(
            company_id,
            tag_group_ids=tag_group_ids,
            tag_ids=tag_ids,
            archived=archived,
            include_archived=include_archived,
            text_search=text_search,
        )
        return self._paginate(paged(call, TagModel, page_size))

    def create(
        self,
        group_id: uuid.UUID | str,
        *,
        code: str,
        name: str | None = None,
        archived: bool = False,
        other_dimension_values: Sequence[str] | None = None,
    ) -> TagModel:
        """Create a tag (an AS dimension value) in a group. ``Conflict`` if the code exists."""
        call = create_call(group_id, code, name, archived, other_dimension_values)
        return data_of(self._transport.request(call), TagModel)

    def get(self, tag_id: uuid.UUID | str) -> TagModel:
        """One tag."""
        return data_of(self._transport.request(get_call(tag_id)), TagModel)

    def update(
        self,
        tag_id: uuid.UUID | str,
        *,
        code: str,
        archived: bool,
        name: str | None = None,
        other_dimension_values: Sequence[str] | None = None,
    ) -> TagModel:
        """Update, rename, archive or unarchive a tag (``code`` and ``archived`` required)."""
        call = update_call(tag_id, code, archived, name, other_dimension_values)
        return data_of(self._transport.request(call), TagModel)

    def archive(
        self,
        tag_ids: Iterable[uuid.UUID | str],
        *,
        company_id: uuid.UUID | str,
        archived: bool = True,
    ) -> tuple[TagModel, ...]:
        """Archive (or with ``archived=False`` unarchive) many tags, 100 per request."""
        out: list[TagModel] = []
        for call in archive_calls(tag_ids, company_id, archived):
            out.extend(list_data_of(self._transport.request(call), TagModel))
        return tuple(out)


class AsyncTags(AsyncResource):
    """Tags (``client.tags`` on the async client)."""

    def list(
        self,
        group_id: uuid.UUID | str,
        *,
        include_archived: bool | None = None,
        page_size: int | None = None,
    ) -> AsyncPaginator[TagModel]:
        """Iterate (``async for``) the tags of one group; see :meth:`Tags.list`."""
        return self._paginate(paged(list_call(group_id, include_archived), TagModel, page_size))

    def search(
        self,
        company_id: uuid.UUID | str | None = None,
        *,
        tag_group_ids: Iterable[uuid.UUID | str] | None = None,
        tag_ids: Iterable[uuid.UUID | str] | None = None,
        archived: bool | None = None,
        include_archived: bool | None = None,
        text_search: str | None = None,
        page_size: int | None = None,
    ) -> AsyncPaginator[TagModel]:
        """Iterate (``async for``) matching tags; see :meth:`Tags.search`."""
        call = search_call(
            company_id,
            tag_group_ids=tag_group_ids,
            tag_ids=tag_ids,
            archived=archived,
            include_archived=include_archived,
            text_search=text_search,
        )
        return self._paginate(paged(call, TagModel, page_size))

    async def create(
        self,
        group_id: uuid.UUID | str,
        *,
        code: str,
        name: str | None = None,
        archived: bool = False,
        other_dimension_values: Sequence[str] | None = None,
    ) -> TagModel:
        """Create a tag; see :meth:`Tags.create`."""
        call = create_call(group_id, code, name, archived, other_dimension_values)
        return data_of(await self._transport.request(call), TagModel)

    async def get(self, tag_id: uuid.UUID | str) -> TagModel:
        """One tag."""
        return data_of(await self._transport.request(get_call(tag_id)), TagModel)

    async def update(
        self,
        tag_id: uuid.UUID | str,
        *,
        code: str,
        archived: bool,
        name: str | None = None,
        other_dimension_values: Sequence[str] | None = None,
    ) -> TagModel:
        """Update a tag; see :meth:`Tags.update`."""
        call = update_call(tag_id, code, archived, name, other_dimension_values)
        return data_of(await self._transport.request(call), TagModel)

    async def archive(
        self,
        tag_ids: Iterable[uuid.UUID | str],
        *,
        company_id: uuid.UUID | str,
        archived: bool = True,
    ) -> tuple[TagModel, ...]:
        """Archive or unarchive many tags; see :meth:`Tags.archive`."""
        out: list[TagModel] = []
        for call in archive_calls(tag_ids, company_id, archived):
            out.extend(list_data_of(await self._transport.request(call), TagModel))
        return tuple(out)
