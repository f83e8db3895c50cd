"""wait_for_data_asset: wait, with progress, until a new data asset is ready or failed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import Field

from co_mcp.errors import WaitTimeoutError
from co_mcp.text import quoted
from co_mcp.tools.common import Args, DataAssetId
from co_mcp.tools.definition import Deps, ProgressFn, ToolDefinition
from co_mcp.tools.views import AssetSummary, ForeignLine, View, asset_detail, asset_summary

if TYPE_CHECKING:
    from co_mcp.api.client import CodeOceanClient, WaitProgress
    from co_mcp.api.models import DataAsset

__all__ = ["DEFAULT_WAIT", "MAX_WAIT", "TOOL", "WaitArgs", "WaitResult", "wait_for_data_asset", "wait_until_settled"]

DEFAULT_WAIT = 120
MAX_WAIT = 600


class WaitArgs(Args):
    data_asset_id: DataAssetId
    timeout: Annotated[int, Field(ge=1, le=MAX_WAIT, description="seconds to wait at most")] = DEFAULT_WAIT


class WaitResult(View):
    asset: AssetSummary
    state: str
    failure_reason: ForeignLine | None = None
    timed_out: bool | None = None

    def as_text(self) -> str:
        line = self.asset.as_text()
        if self.timed_out:
            return f"Still {self.state} when the wait ended; creation continues, so wait again later.\n{line}"
        if self.state == "failed":
            return f"Creation failed: {quoted(self.failure_reason or 'no reason given')}.\n{line}"
        return f"Data asset is {self.state}.\n{line}"


async def wait_until_settled(
    client: CodeOceanClient, data_asset_id: str, seconds: float, progress: ProgressFn | None
) -> tuple[DataAsset | None, bool]:
    """Poll until settled; returns (last asset seen, timed out?)."""
    last: list[DataAsset] = []

    async def report(update: WaitProgress) -> None:
        last[:] = [update.data_asset]
        if progress is not None:
            message = f"{update.data_asset.state} after {update.elapsed:.0f} s (check {update.polls})"
            await progress(min(update.elapsed, update.timeout), update.timeout, message)

    try:
        return await client.wait_until_ready(data_asset_id, timeout=seconds, on_progress=report), False
    except WaitTimeoutError:
        return (last[0] if last else None), True


async def wait_for_data_asset(deps: Deps, args: WaitArgs) -> WaitResult:
    data_asset_id = str(args.data_asset_id)
    settled, timed_out = await wait_until_settled(deps.client, data_asset_id, args.timeout, deps.progress)
    if settled is None:  # pragma: no cover - wait_until_ready always reports at least one poll
        settled = await deps.client.get_data_asset(data_asset_id)
    detail = asset_detail(settled)
    return WaitResult(
        asset=asset_summary(settled),
        state=detail.state,
        failure_reason=detail.failure_reason,
        timed_out=timed_out or None,
    )


TOOL = ToolDefinition(
    name="wait_for_data_asset",
    title="Wait for a data asset",
    description=(
        "Wait, with progress, until a new data asset is ready or failed (timeout default 120 s). Returns the state "
        "and any failure reason."
    ),
    args=WaitArgs,
    result=WaitResult,
    effect="read",
    run=wait_for_data_asset,
)
