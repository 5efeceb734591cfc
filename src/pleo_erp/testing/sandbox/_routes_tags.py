"""Tags API v0 routes: tag groups and tags (tags-sync.md §1.7).

Behaviour worth knowing:

* listing tag groups or searching tags needs ``company_id`` or ``organization_id`` (Pleo
  answers ``400 "Either company_id or organization_id must be provided"``);
* ``PUT`` replaces the whole object: a tag ``PUT`` without ``name`` clears the name, a group
  ``PUT`` must carry ``archived``, ``code``, ``metadata`` and ``name``;
* creating a tag whose exact ``code`` already exists in the group is ``409`` (the spec
  declares it); codes differing only in case are accepted, so the sync's case-insensitive
  matching and duplicate rules can be exercised (``PleoSandbox.add_tag`` can seed exact
  duplicates too);
* nothing is archived implicitly: archiving a group leaves its tags as they are.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from typing import Any

from ._app import Reply, RequestContext, RouteTable
from ._errors import ApiError
from ._pagination import paginate
from ._state import Company, JSONDict, Record, SandboxState

__all__ = ["create_tag", "create_tag_group", "routes"]

routes = RouteTable()

_TAG_FIELDS = frozenset({"archived", "code", "createdAt", "groupId", "id", "name", "updatedAt"})


def _group_not_found() -> ApiError:
    return ApiError(404, "TAG_GROUP_NOT_FOUND", "Tag group not found.")


def _tag_not_found() -> ApiError:
    return ApiError(404, "TAG_NOT_FOUND", "Tag not found.")


def create_tag_group(
    state: SandboxState,
    company: Company,
    *,
    code: str,
    name: str,
    archived: bool = False,
    metadata: dict[str, str] | None = None,
    group_id: str | None = None,
) -> Record:
    """Store a new tag group (no uniqueness check: Pleo documents none for groups)."""
    now = state.clock.timestamp()
    data: JSONDict = {
        "id": group_id or state.new_id(),
        "companyId": company.id,
        "code": code,
        "name": name,
        "archived": archived,
        "metadata": dict(metadata or {}),
        "createdAt": now,
        "updatedAt": now,
    }
    record = Record(state.next_seq(), company.id, data)
    state.tag_groups[data["id"]] = record
    state.group_tags[data["id"]] = []
    company.tag_groups.append(record)
    return record


def create_tag(
    state: SandboxState,
    group: Record,
    *,
    code: str,
    name: str | None,
    archived: bool = False,
    tag_id: str | None = None,
) -> Record:
    """Store a new tag in ``group`` (callers decide about duplicate codes)."""
    now = state.clock.timestamp()
    data: JSONDict = {
        "id": tag_id or state.new_id(),
        "groupId": group.data["id"],
        "code": code,
        "archived": archived,
        "createdAt": now,
        "updatedAt": now,
    }
    if name is not None:
        data["name"] = name
    record = Record(state.next_seq(), group.company_id, data)
    state.tags[data["id"]] = record
    state.group_tags[group.data["id"]].append(record)
    state.companies[group.company_id].tags.append(record)
    return record


def _scope(ctx: RequestContext) -> list[Company]:
    company_id = ctx.query.get("company_id")
    if company_id is not None:
        return [ctx.company(str(company_id))]
    organization_id = ctx.query.get("organization_id")
    if organization_id is not None:
        if organization_id != ctx.state.organization_id:
            raise ApiError(404, "ORGANIZATION_NOT_FOUND", "Organization not found.")
        return [ctx.state.companies[c] for c in ctx.accessible_company_ids()]
    raise ApiError(400, "BAD_REQUEST", "Either company_id or organization_id must be provided")


def _group(ctx: RequestContext, group_id: str) -> Record:
    return ctx.visible(ctx.state.tag_groups.get(group_id), _group_not_found)


def _tag(ctx: RequestContext, tag_id: str) -> Record:
    return ctx.visible(ctx.state.tags.get(tag_id), _tag_not_found)


def _tags_of(companies: Iterable[Company]) -> list[Record]:
    lists = [company.tags for company in companies]
    if len(lists) == 1:
        return lists[0]
    return list(heapq.merge(*lists, key=lambda record: record.seq))


def _tag_view(record: Record) -> JSONDict:
    return record.data


def _page(ctx: RequestContext, records: list[Record], where: Callable[[Record], bool]) -> Reply:
    parameters = {
        name: values
        for name, values in ctx.raw_query.items()
        if name not in ("before", "after", "offset", "limit", "sorting_keys", "sorting_order")
    }
    return Reply(
        200,
        paginate(
            records,
            ctx.query,
            _tag_view,
            parameters=parameters,
            key=lambda record: record.seq,
            where=where,
            sortable=_TAG_FIELDS,
        ),
    )


# -- tag groups -------------------------------------------------------------------------


@routes("GET", "/v0/tag-groups")
def list_tag_groups(ctx: RequestContext) -> Reply:
    """``getTagGroups``: active groups (``include_archived`` adds archived ones)."""
    include_archived = bool(ctx.query.get("include_archived", False))
    with_counts = bool(ctx.query.get("include_tags_count", False))
    data = []
    for company in _scope(ctx):
        for record in company.tag_groups:
            if record.data["archived"] and not include_archived:
                continue
            view = dict(record.data)
            if with_counts:
                view["totalTagsCount"] = len(ctx.state.group_tags[view["id"]])
            data.append(view)
    return Reply(200, {"data": data})


@routes("POST", "/v0/tag-groups")
def post_tag_group(ctx: RequestContext) -> Reply:
    """``createTagGroup`` (``company_id`` query parameter names the company)."""
    company_id = ctx.query.get("company_id")
    if company_id is None:
        raise ApiError(400, "BAD_REQUEST", "company_id must be provided")
    company = ctx.company(str(company_id))
    body = ctx.json_body()
    record = create_tag_group(
        ctx.state,
        company,
        code=body["code"],
        name=body["name"],
        archived=body["archived"],
        metadata=body.get("metadata"),
    )
    return Reply(200, {"data": record.data})


get_tag_group = routes.get_by_id("/v0/tag-groups/{groupId}", _group)  # getTagGroup


@routes.with_found("PUT", "/v0/tag-groups/{groupId}", _group)
def put_tag_group(ctx: RequestContext, record: Record, body: Any) -> Reply:
    """``updateTagGroup``: full replace of ``archived``, ``code``, ``metadata``, ``name``."""
    record.data.update(
        archived=body["archived"],
        code=body["code"],
        metadata=dict(body["metadata"]),
        name=body["name"],
        updatedAt=ctx.state.clock.timestamp(),
    )
    return Reply(200, {"data": record.data})


@routes("DELETE", "/v0/tag-groups/{groupId}")
def delete_tag_group(ctx: RequestContext) -> Reply:
    """``deleteTagGroup``: removes the group and its tags (the sync never does this)."""
    record = _group(ctx, ctx.path_params["groupId"])
    state = ctx.state
    company = state.companies[record.company_id]
    doomed = {id(tag) for tag in state.group_tags.pop(record.data["id"], [])}
    for tag in [t for t in company.tags if id(t) in doomed]:
        state.tags.pop(tag.data["id"], None)
    company.tags = [t for t in company.tags if id(t) not in doomed]
    company.tag_groups.remove(record)
    del state.tag_groups[record.data["id"]]
    return Reply(204)


# -- tags -------------------------------------------------------------------------------


@routes("GET", "/v0/tag-groups/{groupId}/tags")
def list_group_tags(ctx: RequestContext) -> Reply:
    """``getTags``: a group's tags, active only unless ``include_archived``."""
    group = _group(ctx, ctx.path_params["groupId"])
    include_archived = bool(ctx.query.get("include_archived", False))
    return _page(
        ctx,
        ctx.state.group_tags[group.data["id"]],
        lambda record: include_archived or not record.data["archived"],
    )


@routes.with_found("POST", "/v0/tag-groups/{groupId}/tags", _group)
def post_tag(ctx: RequestContext, group: Record, body: Any) -> Reply:
    """``createTag``: 201; 409 when the group already has a tag with this exact code."""
    code = str(body["code"])
    if any(t.data["code"] == code for t in ctx.state.group_tags[group.data["id"]]):
        raise ApiError(409, "TAG_CODE_ALREADY_EXISTS", f"A tag with code {code!r} already exists.")
    record = create_tag(
        ctx.state, group, code=code, name=body.get("name"), archived=body["archived"]
    )
    return Reply(201, {"data": record.data})


get_tag = routes.get_by_id("/v0/tags/{tagId}", _tag)  # getTag


@routes.with_found("PUT", "/v0/tags/{tagId}", _tag)
def put_tag(ctx: RequestContext, record: Record, body: Any) -> Reply:
    """``updateTag``: full replace (``name`` omitted means no name); 409 on a taken code."""
    code = str(body["code"])
    siblings = ctx.state.group_tags[record.data["groupId"]]
    if any(t is not record and t.data["code"] == code for t in siblings):
        raise ApiError(409, "TAG_CODE_ALREADY_EXISTS", f"A tag with code {code!r} already exists.")
    record.data["archived"] = body["archived"]
    record.data["code"] = code
    if body.get("name") is not None:
        record.data["name"] = body["name"]
    else:
        record.data.pop("name", None)
    record.data["updatedAt"] = ctx.state.clock.timestamp()
    return Reply(200, {"data": record.data})


@routes("DELETE", "/v0/tags/{tagId}")
def delete_tag(ctx: RequestContext) -> Reply:
    """``deleteTag`` (the sync archives instead)."""
    record = _tag(ctx, ctx.path_params["tagId"])
    _remove_tags(ctx.state, [record])
    return Reply(204)


@routes("DELETE", "/v0/tags")
def bulk_delete_tags(ctx: RequestContext) -> Reply:
    """``bulkDeleteTags``: all or nothing."""
    body, company = ctx.body_and_company()
    records = _company_tags(ctx, company, body["tagIds"])
    _remove_tags(ctx.state, records)
    return Reply(204)


@routes("POST", "/v0/tags/archive")
def bulk_archive_tags(ctx: RequestContext) -> Reply:
    """``bulkArchiveTags``: set ``archived`` on up to 100 tags of one company (all or nothing)."""
    body, company = ctx.body_and_company()
    records = _company_tags(ctx, company, body["tagIds"])
    now = ctx.state.clock.timestamp()
    for record in records:
        record.data["archived"] = bool(body["archived"])
        record.data["updatedAt"] = now
    return Reply(200, {"data": [record.data for record in records]})


@routes("POST", "/v0/tags:search")
def search_tags(ctx: RequestContext) -> Reply:
    """``searchTagsPost``: filters from ``CompositeTagSearchRequest``."""
    body = ctx.body or {}
    archived = body.get("archived")
    include_archived = bool(body.get("includeArchived", False))
    group_ids = frozenset(body.get("tagGroupIds") or ()) or None
    tag_ids = frozenset(body.get("tagIds") or ()) or None
    text = str(body.get("textSearch") or "").casefold()

    def where(record: Record) -> bool:
        data = record.data
        if archived is not None:
            if data["archived"] != archived:
                return False
        elif data["archived"] and not include_archived:
            return False
        if group_ids is not None and data["groupId"] not in group_ids:
            return False
        if tag_ids is not None and data["id"] not in tag_ids:
            return False
        return not text or text in str(data.get("name") or "").casefold()

    return _page(ctx, _tags_of(_scope(ctx)), where)


@routes("GET", "/v0/tags")
def search_tags_get(ctx: RequestContext) -> Reply:
    """``searchTags`` (deprecated GET form): ``tag_group_id``, ``text_search``, archived flag."""
    include_archived = bool(ctx.query.get("include_archived", False))
    group_ids = frozenset(ctx.query.get("tag_group_id") or ()) or None
    text = str(ctx.query.get("text_search") or "").casefold()

    def where(record: Record) -> bool:
        data = record.data
        if data["archived"] and not include_archived:
            return False
        if group_ids is not None and data["groupId"] not in group_ids:
            return False
        return not text or text in str(data.get("name") or "").casefold()

    return _page(ctx, _tags_of(_scope(ctx)), where)


def _company_tags(ctx: RequestContext, company: Company, tag_ids: list[str]) -> list[Record]:
    records = []
    for tag_id in dict.fromkeys(tag_ids):
        record = ctx.state.tags.get(tag_id)
        if record is None or record.company_id != company.id:
            raise ApiError(404, "TAG_NOT_FOUND", f"Tag {tag_id} not found in company {company.id}.")
        records.append(record)
    return records


def _remove_tags(state: SandboxState, records: list[Record]) -> None:
    doomed = {id(record) for record in records}
    for record in records:
        state.tags.pop(record.data["id"], None)
        group = state.group_tags.get(record.data["groupId"])
        if group is not None:
            group[:] = [t for t in group if id(t) not in doomed]
        company = state.companies[record.company_id]
        company.tags = [t for t in company.tags if id(t) not in doomed]
