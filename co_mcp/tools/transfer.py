"""transfer_data_asset (admins): move the files of up to 50 data assets to another S3 location, after the user
confirmed where from and where to."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import Field

from co_mcp.api.models import AWSS3Target, Target, TransferDataParams
from co_mcp.tools.common import PlainText
from co_mcp.tools.definition import Deps, ToolDefinition
from co_mcp.tools.guard import Change, GuardedArgs, GuardResult, Plan, PlanItem, plan_items, refuse_if_draft

if TYPE_CHECKING:
    from co_mcp.api.client import CodeOceanClient

__all__ = ["TOOL", "TransferArgs", "plan_transfer"]


class TransferArgs(GuardedArgs):
    bucket: Annotated[PlainText, Field(min_length=3, max_length=255, description="target S3 bucket")]
    prefix: Annotated[PlainText | None, Field(max_length=1024)] = None
    endpoint_name: Annotated[PlainText | None, Field(max_length=255)] = None
    force: Annotated[bool, Field(description="required when release pipelines use the asset")] = False


async def plan_transfer(deps: Deps, args: TransferArgs) -> Plan:
    target = f"s3://{args.bucket}/{args.prefix or ''}"
    params = TransferDataParams(
        target=Target(aws=AWSS3Target(bucket=args.bucket, prefix=args.prefix, endpoint_name=args.endpoint_name)),
        force=args.force or None,
    )

    async def describe(item: PlanItem) -> None:
        assert item.asset is not None
        source = item.asset.source_bucket
        item.state["source"] = source.model_dump(mode="json") if source else None
        item.state["last_transferred"] = item.asset.last_transferred
        item.state["transfer_error"] = item.asset.transfer_error
        if refuse_if_draft(item, "transfer"):
            return
        where = f"s3://{source.bucket}/{source.prefix or ''}" if source and source.bucket else "Code Ocean storage"
        item.changes = [Change(what="files", before=where, after=target)]

    async def act(client: CodeOceanClient, item: PlanItem) -> None:
        await client.transfer_data_asset(item.data_asset_id, params)

    sends: dict[str, str | bool] = {"bucket": args.bucket, "prefix": args.prefix or "", "force": args.force}
    if args.endpoint_name:
        sends["endpoint_name"] = args.endpoint_name
    return Plan(
        "transfer_data_asset",
        "transfer",
        await plan_items(deps.client, args.ids(), describe),
        "Transfer moves the files to another S3 location (admin only) and the asset becomes external. "
        + (
            "force=true: it goes ahead even if release pipelines use an asset."
            if args.force
            else "Without force, Code Ocean refuses an asset that release pipelines use."
        ),
        act=act,
        arguments=args.signed(),
        sends=sends,
    )


TOOL = ToolDefinition(
    name="transfer_data_asset",
    title="Transfer data assets",
    description=(
        "Admin only: move the files of up to 50 data assets to another S3 location, making them external. Needs "
        "the user's yes: the first call may only preview and return a confirm_token."
    ),
    args=TransferArgs,
    result=GuardResult,
    effect="guarded",
    plan=plan_transfer,
    # Each transfer starts a new copy.
    idempotent=False,
)
