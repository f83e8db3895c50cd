"""get_data_asset_permissions: who may use a data asset (changing it is share_data_asset, a guarded tool)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from co_mcp.text import quoted
from co_mcp.tools.common import Args, DataAssetId
from co_mcp.tools.definition import Deps, ToolDefinition
from co_mcp.tools.views import ForeignLine, View

if TYPE_CHECKING:
    from co_mcp.api.models import Permissions

__all__ = ["TOOL", "PermissionsArgs", "PermissionsView", "get_data_asset_permissions", "permissions_view"]


class PermissionsArgs(Args):
    data_asset_id: DataAssetId


class UserAccess(View):
    email: ForeignLine
    role: str


class GroupAccess(View):
    group: ForeignLine
    role: str


class PermissionsView(View):
    data_asset_id: str
    users: list[UserAccess] = []
    groups: list[GroupAccess] = []
    everyone: str = "none"
    share_assets: bool | None = None

    def as_text(self) -> str:
        users = ", ".join(f"{quoted(u.email)} {u.role}" for u in self.users) or "none"
        groups = ", ".join(f"{quoted(g.group)} {g.role}" for g in self.groups) or "none"
        share = "" if self.share_assets is None else f"; share_assets {str(self.share_assets).lower()}"
        return f"Permissions of {self.data_asset_id}: users {users}; groups {groups}; everyone {self.everyone}{share}"


def permissions_view(data_asset_id: str, permissions: Permissions) -> PermissionsView:
    return PermissionsView(
        data_asset_id=data_asset_id,
        users=[UserAccess(email=u.email, role=str(u.role)) for u in permissions.users or []],
        groups=[GroupAccess(group=g.group, role=str(g.role)) for g in permissions.groups or []],
        everyone=str(permissions.everyone or "none"),
        share_assets=permissions.share_assets,
    )


async def get_data_asset_permissions(deps: Deps, args: PermissionsArgs) -> PermissionsView:
    data_asset_id = str(args.data_asset_id)
    return permissions_view(data_asset_id, await deps.client.get_permissions(data_asset_id))


TOOL = ToolDefinition(
    name="get_data_asset_permissions",
    title="Get data asset permissions",
    description="Who can use a data asset: users and groups with roles, access for everyone, share_assets.",
    args=PermissionsArgs,
    result=PermissionsView,
    effect="read",
    run=get_data_asset_permissions,
)
