"""unarchive_data_asset: make an archived data asset active again (nothing is lost, so no confirmation)."""

from __future__ import annotations

from co_mcp.tools.common import Args, DataAssetId
from co_mcp.tools.definition import Deps, ToolDefinition
from co_mcp.tools.views import AssetSummary, asset_summary

__all__ = ["TOOL", "UnarchiveArgs", "unarchive_data_asset"]


class UnarchiveArgs(Args):
    data_asset_id: DataAssetId


async def unarchive_data_asset(deps: Deps, args: UnarchiveArgs) -> AssetSummary:
    data_asset_id = str(args.data_asset_id)
    await deps.client.archive_data_asset(data_asset_id, archive=False)
    return asset_summary(await deps.client.get_data_asset(data_asset_id))


TOOL = ToolDefinition(
    name="unarchive_data_asset",
    title="Unarchive a data asset",
    description="Make an archived data asset active again, visible in default searches.",
    args=UnarchiveArgs,
    result=AssetSummary,
    effect="write",
    run=unarchive_data_asset,
)
