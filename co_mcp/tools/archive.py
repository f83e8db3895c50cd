"""archive_data_asset: archive up to 50 data assets, after the user confirmed a preview of what uses them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from co_mcp.api.models import DataAssetSearchParams
from co_mcp.tools.definition import Deps, ToolDefinition
from co_mcp.tools.guard import (
    GuardedArgs,
    GuardResult,
    Plan,
    PlanItem,
    look_up_uses,
    plan_items,
    refuse_if_draft,
    results_by_input,
)

if TYPE_CHECKING:
    from co_mcp.api.client import CodeOceanClient
    from co_mcp.api.models import DataAsset

__all__ = ["TOOL", "ArchiveArgs", "plan_archive"]


class ArchiveArgs(GuardedArgs):
    pass


async def is_archived(client: CodeOceanClient, asset: DataAsset) -> bool:
    """The API has no archived flag on assets; an archived-only search by name tells."""
    name = asset.name.replace('"', " ")
    page = await client.search_data_assets(DataAssetSearchParams(query=f'name:"{name}"', archived=True, limit=100))
    return any(a.id == asset.id for a in page.results)


async def _archive(client: CodeOceanClient, item: PlanItem) -> None:
    await client.archive_data_asset(item.data_asset_id, archive=True)


async def plan_archive(deps: Deps, args: ArchiveArgs) -> Plan:
    client = deps.client
    derived = await results_by_input(client)

    async def describe(item: PlanItem) -> None:
        assert item.asset is not None
        archived = await is_archived(client, item.asset)
        item.state["archived"] = archived
        if archived:
            item.no_change = "already archived"
            return
        if not refuse_if_draft(item, "archive"):
            await look_up_uses(client, item, derived)

    return Plan(
        "archive_data_asset",
        "archive",
        await plan_items(client, args.ids(), describe),
        "Archived assets disappear from default searches, and capsules or pipelines that use them may break. "
        "unarchive_data_asset reverses it.",
        act=_archive,
        arguments=args.signed(),
    )


TOOL = ToolDefinition(
    name="archive_data_asset",
    title="Archive data assets",
    description=(
        "Archive up to 50 data assets: they leave default searches, and capsules or pipelines using them may "
        "break. The preview lists their users. Needs the user's yes: the first call may only preview and return "
        "a confirm_token."
    ),
    args=ArchiveArgs,
    result=GuardResult,
    effect="guarded",
    plan=plan_archive,
)
