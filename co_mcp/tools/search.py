"""search_data_assets: the contract's whole search, one page or several gathered, as compact summaries."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, model_validator

from co_mcp.api.models import (
    DataAssetSearchOrigin,
    DataAssetSearchParams,
    DataAssetSortBy,
    DataAssetType,
    Ownership,
    SearchFilter,
    SearchFilterRange,
    SortOrder,
)
from co_mcp.text import quoted
from co_mcp.tools.common import Args
from co_mcp.tools.definition import Deps, ToolDefinition
from co_mcp.tools.views import AssetSummary, View, asset_summary

if TYPE_CHECKING:
    from co_mcp.api.models import DataAsset

__all__ = ["TOOL", "FilterArg", "SearchArgs", "SearchResult", "search_data_assets"]

MAX_GATHER = 1000


class FilterArg(Args):
    key: Annotated[str, Field(min_length=1, max_length=100, description="name, description, tags or a custom field")]
    value: str | float | None = None
    values: Annotated[list[str | float] | None, Field(max_length=50)] = None
    min: float | None = None
    max: float | None = None
    exclude: bool = False

    @model_validator(mode="after")
    def _something_to_match(self) -> FilterArg:
        if self.value is None and not self.values and self.min is None and self.max is None:
            raise ValueError(f"filter {self.key!r}: give value, values, or min/max")
        return self

    def to_api(self) -> SearchFilter:
        bounds = None if self.min is None and self.max is None else SearchFilterRange(min=self.min, max=self.max)
        return SearchFilter(
            key=self.key, value=self.value, values=self.values, range=bounds, exclude=self.exclude or None
        )


class SearchArgs(Args):
    query: Annotated[
        str | None,
        Field(
            max_length=500,
            description="text and field terms name: tag: run_script: commit_id: contained_data_id: "
            '(quote phrases: name:"rna seq")',
        ),
    ] = None
    type: Literal["dataset", "result", "combined", "model"] | None = None
    ownership: Annotated[
        Literal["created", "shared", "private"] | None,
        Field(description="created: mine; shared: with me; private: mine, unshared"),
    ] = None
    origin: Annotated[Literal["internal", "external"] | None, Field(description="external: files stay in S3")] = None
    favorite: Annotated[bool | None, Field(description="true: only my favourites")] = None
    archived: Annotated[bool, Field(description="true: only archived ones")] = False
    filters: Annotated[list[FilterArg] | None, Field(max_length=20, description="exact or range conditions")] = None
    sort_field: Literal["created", "name", "size", "type"] | None = None
    sort_order: Literal["asc", "desc"] | None = None
    limit: Annotated[int, Field(ge=1, le=100, description="results per page")] = 20
    max_results: Annotated[int | None, Field(ge=1, le=MAX_GATHER, description="results to gather over pages")] = None
    cursor: Annotated[str | None, Field(max_length=2000, description="a previous result's, for the next page")] = None

    def to_api(self, limit: int, next_token: str | None) -> DataAssetSearchParams:
        return DataAssetSearchParams(
            query=self.query or None,
            next_token=next_token,
            limit=limit,
            sort_field=DataAssetSortBy(self.sort_field) if self.sort_field else None,
            sort_order=SortOrder(self.sort_order) if self.sort_order else None,
            type=DataAssetType(self.type) if self.type else None,
            ownership=Ownership(self.ownership) if self.ownership else None,
            origin=DataAssetSearchOrigin(self.origin) if self.origin else None,
            favorite=self.favorite,
            archived=True if self.archived else None,
            filters=[f.to_api() for f in self.filters] if self.filters else None,
        )


class SearchResult(View):
    results: list[AssetSummary]
    has_more: bool
    cursor: str | None = None
    archived: bool | None = None

    def as_text(self) -> str:
        where = "archived " if self.archived else ""
        if not self.results:
            return f"No {where}data assets match; no more results. Try fewer or broader terms, or drop filters."
        head = f"{len(self.results)} {where}data asset(s)"
        head += f"; more available: pass cursor={quoted(self.cursor)}" if self.has_more else "; no more results"
        return "\n".join([head + ":", *(f"{n}. {a.as_text()}" for n, a in enumerate(self.results, 1))])


async def search_data_assets(deps: Deps, args: SearchArgs) -> SearchResult:
    """One page (``limit``), or pages gathered up to ``max_results``; a cursor continues either."""
    wanted = args.max_results or args.limit
    found: list[DataAsset] = []
    seen: set[str] = set()
    token = args.cursor
    has_more = False
    while len(found) < wanted:
        page = await deps.client.search_data_assets(args.to_api(min(wanted - len(found), MAX_GATHER), token))
        for asset in page.results:
            if asset.id not in seen:
                seen.add(asset.id)
                found.append(asset)
        # A token that repeats would make the model page forever: treat it as the end.
        has_more = page.has_more and bool(page.next_token) and page.next_token != token
        if not has_more:
            break
        token = page.next_token
    return SearchResult(
        results=[asset_summary(a) for a in found[:wanted]],
        has_more=has_more,
        cursor=token if has_more else None,
        archived=True if args.archived else None,
    )


TOOL = ToolDefinition(
    name="search_data_assets",
    title="Search data assets",
    description=(
        "Find data assets by text, field terms, filters, type, ownership and more. Returns a line per asset (id, "
        "name, type, state, size, date, owner, tags) and a cursor when more exist; max_results gathers pages. "
        "get_data_asset gives full details."
    ),
    args=SearchArgs,
    result=SearchResult,
    effect="read",
    run=search_data_assets,
)
