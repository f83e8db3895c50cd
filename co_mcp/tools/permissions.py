"""Reading who may use a data asset (sharing changes are guarded tools, built in guard-aware code)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from co_mcp.tools.common import Args, DataAssetId
from co_mcp.tools.views import PermissionsView, permissions_view

if TYPE_CHECKING:
    from co_mcp.api.client import CodeOceanClient

__all__ = ["PermissionsArgs", "get_data_asset_permissions"]


class PermissionsArgs(Args):
    data_asset_id: DataAssetId


async def get_data_asset_permissions(client: CodeOceanClient, args: PermissionsArgs) -> PermissionsView:
    data_asset_id = str(args.data_asset_id)
    return permissions_view(data_asset_id, await client.get_permissions(data_asset_id))
