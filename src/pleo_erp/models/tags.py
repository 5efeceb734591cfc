"""Tag groups (``/v0/tag-groups…``) and tags (``/v0/tags…``): Pleo's accounting dimensions.

A tag group is a dimension of the accounting system (department, project, …), a tag one of
its values; both are matched to the AS by ``code``. Tag groups can carry extra display
columns ("dimensions") whose per-tag values are ``TagDimensionValueModel``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TypeAlias

from attrs import define

from pleo_erp.models.common import CursorPage, DataResponse

__all__ = [
    "AggregatedTagGroupDimensionModel",
    "AggregatedTagGroupModel",
    "AggregatedTagModel",
    "AggregatedTagTagDimensionModel",
    "AggregatedTagTagGroupModel",
    "BulkTagArchiveModel",
    "BulkTagDeleteModel",
    "CompositeTagSearchRequest",
    "CursorPaginatedResponseAggregatedTagModel",
    "CursorPaginatedResponseTagModel",
    "DataResponseListAggregatedTagGroupModel",
    "DataResponseListTagDimensionValueModel",
    "DataResponseListTagGroupDimensionModel",
    "DataResponseListTagGroupModel",
    "DataResponseListTagModel",
    "DataResponseTagDimensionValueModel",
    "DataResponseTagGroupDimensionModel",
    "DataResponseTagGroupModel",
    "DataResponseTagGroupUsageModel",
    "DataResponseTagModel",
    "TagCreateModel",
    "TagDimensionValueCreateModel",
    "TagDimensionValueModel",
    "TagDimensionValueUpdateModel",
    "TagGroupCreateModel",
    "TagGroupDimensionCreateModel",
    "TagGroupDimensionModel",
    "TagGroupDimensionUpdateModel",
    "TagGroupModel",
    "TagGroupUpdateModel",
    "TagGroupUsageModel",
    "TagModel",
    "TagUpdateModel",
    "TagUsageModel",
]


# --------------------------------------------------------------------------- tag groups


@define(frozen=True)
class TagGroupModel:
    """A tag group (an accounting dimension) of a company; ``code`` is its id in the AS."""

    archived: bool
    code: str
    company_id: uuid.UUID
    created_at: dt.datetime
    id: uuid.UUID
    metadata: dict[str, str]
    name: str
    updated_at: dt.datetime
    total_tags_count: int | None = None


@define(frozen=True)
class TagGroupCreateModel:
    """Body of ``POST /v0/tag-groups`` (``company_id`` goes in the query)."""

    archived: bool
    code: str
    name: str
    metadata: dict[str, str] | None = None


@define(frozen=True)
class TagGroupUpdateModel:
    """Body of ``PUT /v0/tag-groups/{groupId}``: a full replacement, metadata included."""

    archived: bool
    code: str
    metadata: dict[str, str]
    name: str


@define(frozen=True)
class TagGroupDimensionModel:
    """An extra display column of a tag group."""

    code: str
    created_at: dt.datetime
    display_order: int
    group_id: uuid.UUID
    id: uuid.UUID
    name: str
    updated_at: dt.datetime
    visible: bool


@define(frozen=True)
class TagGroupDimensionCreateModel:
    """Body of ``POST /v0/tag-groups/{groupId}/dimensions``.

    ``display_order`` is deprecated: Pleo assigns the order itself.
    """

    code: str
    name: str
    visible: bool
    display_order: int | None = None


@define(frozen=True)
class TagGroupDimensionUpdateModel:
    """Body of ``PUT /v0/tag-groups/{groupId}/dimensions/{dimensionId}``."""

    code: str
    display_order: int
    name: str
    visible: bool


@define(frozen=True)
class AggregatedTagGroupDimensionModel:
    """A dimension inside an ``AggregatedTagGroupModel``."""

    code: str
    created_at: dt.datetime
    display_order: int
    id: uuid.UUID
    name: str
    updated_at: dt.datetime
    visible: bool


@define(frozen=True)
class AggregatedTagGroupModel:
    """A tag group together with its dimensions (``GET /v0/aggregations/tag-groups``)."""

    archived: bool
    code: str
    company_id: uuid.UUID
    created_at: dt.datetime
    dimensions: tuple[AggregatedTagGroupDimensionModel, ...]
    id: uuid.UUID
    name: str
    updated_at: dt.datetime


@define(frozen=True)
class TagUsageModel:
    """How many expenses use one tag."""

    count: int
    id: uuid.UUID


@define(frozen=True)
class TagGroupUsageModel:
    """Usage counts of the tags of one group."""

    usages: tuple[TagUsageModel, ...]


# --------------------------------------------------------------------------- tags


@define(frozen=True)
class TagModel:
    """A tag (a dimension value); ``code`` is its id in the AS, ``group_id`` its tag group."""

    archived: bool
    code: str
    created_at: dt.datetime
    group_id: uuid.UUID
    id: uuid.UUID
    updated_at: dt.datetime
    name: str | None = None


@define(frozen=True)
class TagCreateModel:
    """Body of ``POST /v0/tag-groups/{groupId}/tags``."""

    archived: bool
    code: str
    name: str | None = None
    other_dimension_values: tuple[str, ...] | None = None


@define(frozen=True)
class TagUpdateModel:
    """Body of ``PUT /v0/tags/{tagId}``; unarchive by sending ``archived=False``."""

    archived: bool
    code: str
    name: str | None = None
    other_dimension_values: tuple[str, ...] | None = None


@define(frozen=True)
class BulkTagArchiveModel:
    """Body of ``POST /v0/tags/archive``: archive (or unarchive) up to 100 tags at once."""

    archived: bool
    company_id: uuid.UUID
    tag_ids: tuple[uuid.UUID, ...]


@define(frozen=True)
class BulkTagDeleteModel:
    """Body of ``DELETE /v0/tags`` (the sync never deletes; modelled for completeness)."""

    company_id: uuid.UUID
    tag_ids: tuple[uuid.UUID, ...]


@define(frozen=True)
class CompositeTagSearchRequest:
    """Body of ``POST /v0/tags:search``. ``archived`` (when set) overrides
    ``include_archived``; by default only active tags are returned."""

    archived: bool | None = None
    include_archived: bool | None = None
    tag_group_ids: tuple[uuid.UUID, ...] | None = None
    tag_ids: tuple[uuid.UUID, ...] | None = None
    text_search: str | None = None


@define(frozen=True)
class AggregatedTagTagDimensionModel:
    """One dimension value of an ``AggregatedTagModel``."""

    code: str
    display_order: int
    id: uuid.UUID
    name: str
    value: str
    visible: bool


@define(frozen=True)
class AggregatedTagTagGroupModel:
    """The group of an ``AggregatedTagModel``."""

    code: str
    id: uuid.UUID
    name: str


@define(frozen=True)
class AggregatedTagModel:
    """A tag with its group and dimension values (``POST /v0/aggregations/tags``)."""

    archived: bool
    code: str
    company_id: uuid.UUID
    created_at: dt.datetime
    dimensions: tuple[AggregatedTagTagDimensionModel, ...]
    group: AggregatedTagTagGroupModel
    id: uuid.UUID
    updated_at: dt.datetime
    name: str | None = None


@define(frozen=True)
class TagDimensionValueModel:
    """The value of one tag-group dimension for one tag."""

    created_at: dt.datetime
    dimension_id: uuid.UUID
    tag_id: uuid.UUID
    updated_at: dt.datetime
    value: str


@define(frozen=True)
class TagDimensionValueCreateModel:
    """Body of ``POST /v0/tags/{tagId}/dimensions/{dimensionId}``."""

    value: str


@define(frozen=True)
class TagDimensionValueUpdateModel:
    """Body of ``PUT /v0/tags/{tagId}/dimensions/{dimensionId}``."""

    value: str


DataResponseTagGroupModel: TypeAlias = DataResponse[TagGroupModel]
"""One tag group (create, get, update)."""

DataResponseListTagGroupModel: TypeAlias = DataResponse[tuple[TagGroupModel, ...]]
"""``GET /v0/tag-groups``: every tag group of the company (not paginated)."""

DataResponseListAggregatedTagGroupModel: TypeAlias = DataResponse[
    tuple[AggregatedTagGroupModel, ...]
]
"""``GET /v0/aggregations/tag-groups``."""

DataResponseTagGroupDimensionModel: TypeAlias = DataResponse[TagGroupDimensionModel]
"""One tag-group dimension."""

DataResponseListTagGroupDimensionModel: TypeAlias = DataResponse[tuple[TagGroupDimensionModel, ...]]
"""``GET /v0/tag-groups/{groupId}/dimensions``."""

DataResponseTagGroupUsageModel: TypeAlias = DataResponse[TagGroupUsageModel]
"""``GET /v0/tag-groups/{groupId}/usage``."""

DataResponseTagModel: TypeAlias = DataResponse[TagModel]
"""One tag (create, get, update)."""

DataResponseListTagModel: TypeAlias = DataResponse[tuple[TagModel, ...]]
"""``POST /v0/tags/archive``: the tags after the bulk change."""

CursorPaginatedResponseTagModel: TypeAlias = CursorPage[TagModel]
"""``GET /v0/tag-groups/{groupId}/tags`` and ``POST /v0/tags:search`` pages."""

CursorPaginatedResponseAggregatedTagModel: TypeAlias = CursorPage[AggregatedTagModel]
"""``POST /v0/aggregations/tags`` pages."""

DataResponseTagDimensionValueModel: TypeAlias = DataResponse[TagDimensionValueModel]
"""One tag dimension value."""

DataResponseListTagDimensionValueModel: TypeAlias = DataResponse[tuple[TagDimensionValueModel, ...]]
"""``GET /v0/tags/{tagId}/dimensions``."""
