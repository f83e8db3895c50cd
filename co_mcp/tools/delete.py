"""delete_data_asset: permanently delete up to 50 data assets, after the user confirmed a preview."""

from __future__ import annotations

from typing import TYPE_CHECKING

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

__all__ = ["TOOL", "DeleteArgs", "plan_delete"]


class DeleteArgs(GuardedArgs):
    pass


async def _delete(client: CodeOceanClient, item: PlanItem) -> None:
    await client.delete_data_asset(item.data_asset_id)


async def plan_delete(deps: Deps, args: DeleteArgs) -> Plan:
    client = deps.client
    derived = await results_by_input(client)

    async def describe(item: PlanItem) -> None:
        if not refuse_if_draft(item, "delete"):
            await look_up_uses(client, item, derived)

    items = await plan_items(client, args.ids(), describe)
    external = any(i.actionable and i.asset is not None and i.asset.is_external for i in items)
    return Plan(
        "delete_data_asset",
        "permanently delete",
        items,
        "Deletion cannot be undone: the files, metadata and provenance are lost, and whatever uses them breaks."
        + (" For an external asset the files in its bucket stay; the Code Ocean record goes." if external else ""),
        act=_delete,
        arguments=args.signed(),
        # The audit log keeps each asset's metadata, so the record of what was deleted outlives it.
        record_assets=True,
    )


TOOL = ToolDefinition(
    name="delete_data_asset",
    title="Delete data assets",
    description=(
        "Permanently delete up to 50 data assets; cannot be undone. Consider archive_data_asset instead. Needs "
        "the user's yes: the first call may only preview and return a confirm_token."
    ),
    args=DeleteArgs,
    result=GuardResult,
    effect="guarded",
    plan=plan_delete,
)
