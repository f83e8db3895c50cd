"""get_data_asset: everything Code Ocean says about up to 50 data assets, each failing id reported beside the rest."""

from __future__ import annotations

import anyio

from co_mcp.errors import CodeOceanError, explain
from co_mcp.tools.common import BatchArgs
from co_mcp.tools.definition import Deps, ToolDefinition
from co_mcp.tools.views import AssetDetail, ForeignLine, View, asset_detail

__all__ = ["TOOL", "GetArgs", "GetResult", "ItemError", "get_data_asset"]

# Parallel GETs in a batch: enough to hide latency, few enough not to trip a rate limit.
BATCH_CONCURRENCY = 8


class GetArgs(BatchArgs):
    pass


class ItemError(View):
    id: str
    error: ForeignLine  # co_mcp's explanation, which may quote Code Ocean's own message


class GetResult(View):
    assets: list[AssetDetail]
    errors: list[ItemError] | None = None  # left out when every id was found

    def is_error(self) -> bool:
        return not self.assets

    def as_text(self) -> str:
        errors = self.errors or []
        blocks = [asset.as_text() for asset in self.assets]
        blocks += [f"{e.id}: {e.error}" for e in errors]
        if errors and self.assets:
            blocks.insert(0, f"{len(self.assets)} found, {len(errors)} failed.")
        return "\n\n".join(blocks)


async def get_data_asset(deps: Deps, args: GetArgs) -> GetResult:
    """Fetch each id (in parallel, bounded); one failure is reported beside the others, not instead."""
    ids = args.ids()
    found: dict[str, AssetDetail] = {}
    failed: dict[str, str] = {}
    limiter = anyio.CapacityLimiter(BATCH_CONCURRENCY)

    async def fetch(data_asset_id: str) -> None:
        async with limiter:
            try:
                found[data_asset_id] = asset_detail(await deps.client.get_data_asset(data_asset_id))
            except CodeOceanError as exc:
                failed[data_asset_id] = explain(exc)

    if len(ids) == 1:
        await fetch(ids[0])  # the common case: no task group to set up and tear down
    else:
        async with anyio.create_task_group() as group:
            for data_asset_id in ids:
                group.start_soon(fetch, data_asset_id)
    return GetResult(
        assets=[found[i] for i in ids if i in found],
        errors=[ItemError(id=i, error=failed[i]) for i in ids if i in failed] or None,
    )


TOOL = ToolDefinition(
    name="get_data_asset",
    title="Get data assets",
    description=(
        "Full details of up to 50 data assets: description, tags, custom metadata, provenance, source, contents, "
        "failure reason. A failing id is reported beside the others."
    ),
    args=GetArgs,
    result=GetResult,
    effect="read",
    run=get_data_asset,
)
