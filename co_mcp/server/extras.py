"""Resources, prompts and completions: what co_mcp offers besides its tools."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mcp.server.mcpserver import UserMessage
from mcp.server.mcpserver.exceptions import ResourceNotFoundError
from mcp.types import (
    Completion,
    CompletionArgument,
    CompletionContext,
    PromptReference,
    ResourceTemplateReference,
)

from co_mcp.api.models import DataAssetSearchParams
from co_mcp.errors import CoMcpError, explain

# At run time: the SDK finds a resource's context parameter by its resolved type hint.
from co_mcp.server.state import AppContext  # noqa: TC001
from co_mcp.tools.permissions import permissions_view
from co_mcp.tools.views import asset_detail

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from co_mcp.server.state import AppState

__all__ = ["RunningState", "register_prompts", "register_resources"]

log = logging.getLogger(__name__)


@dataclass
class RunningState:
    """Completion handlers get no request context; they reach the running state through this."""

    state: AppState | None = None


def register_resources(server: MCPServer, holder: RunningState) -> None:
    @server.resource(
        "codeocean://data-assets/{data_asset_id}",
        name="data_asset",
        title="Data asset",
        description="One data asset's full metadata as JSON.",
        mime_type="application/json",
    )
    async def data_asset_resource(data_asset_id: str, ctx: AppContext) -> str:
        state: AppState = ctx.request_context.lifespan_context
        uri = f"codeocean://data-assets/{data_asset_id}"
        try:
            asset = await state.client.get_data_asset(data_asset_id)
        except CoMcpError as exc:
            raise ResourceNotFoundError(f"{uri}: {explain(exc)}") from None
        return json.dumps(asset_detail(asset).structured_content(), ensure_ascii=False, separators=(",", ":"))

    @server.resource(
        "codeocean://data-assets/{data_asset_id}/permissions",
        name="data_asset_permissions",
        title="Data asset permissions",
        description="Who can use one data asset, as JSON.",
        mime_type="application/json",
    )
    async def permissions_resource(data_asset_id: str, ctx: AppContext) -> str:
        state: AppState = ctx.request_context.lifespan_context
        uri = f"codeocean://data-assets/{data_asset_id}/permissions"
        try:
            found = await state.client.get_permissions(data_asset_id)
        except CoMcpError as exc:
            raise ResourceNotFoundError(f"{uri}: {explain(exc)}") from None
        view = permissions_view(data_asset_id, found)
        return json.dumps(view.structured_content(), ensure_ascii=False, separators=(",", ":"))

    # The SDK leaves this decorator unannotated.
    @server.completion()  # type: ignore[no-untyped-call, untyped-decorator]
    async def complete(
        ref: PromptReference | ResourceTemplateReference,
        argument: CompletionArgument,
        context: CompletionContext | None,
    ) -> Completion | None:
        if argument.name != "data_asset_id" or holder.state is None:
            return None
        typed = argument.value.strip()
        if len(typed) < 2:
            return Completion(values=[], total=0, has_more=False)
        # Typing part of a name finds the ids of assets with that name, most recent first.
        params = DataAssetSearchParams(query=f'name:"{typed.replace(chr(34), "")}"', limit=20)
        try:
            page = await holder.state.client.search_data_assets(params)
        except CoMcpError as exc:
            log.info("completion search failed: %s", exc)
            return Completion(values=[], total=0, has_more=False)
        values = [asset.id for asset in page.results]
        return Completion(values=values, total=None if page.has_more else len(values), has_more=page.has_more)


def register_prompts(server: MCPServer) -> None:
    @server.prompt(name="find_dataset", title="Find a dataset for an analysis")
    def find_dataset(analysis: str) -> list[UserMessage]:
        """Search Code Ocean for data assets that fit an analysis and compare the best candidates."""
        return [
            UserMessage(
                f"I want to run this analysis: {analysis}\n\n"
                "Find Code Ocean data assets that could serve as its input. Use search_data_assets with a few "
                "different queries (free text, then tag: and name: terms), call get_custom_metadata_schema if "
                "metadata filters would help, then get_data_asset on the best candidates. Recommend up to three, "
                "saying for each: id, name, size, state, why it fits, and any doubt (failed or draft state, "
                "missing provenance, unclear description). Do not change anything."
            )
        ]

    @server.prompt(name="tidy_up", title="Tidy up: failed and stale assets")
    def tidy_up(older_than_days: str = "180") -> list[UserMessage]:
        """Find failed assets, stale drafts and long-unused assets of mine and propose what to archive."""
        return [
            UserMessage(
                "Help me tidy up my Code Ocean data assets. Using search_data_assets with ownership=created "
                "(gather with max_results), find: assets in state failed; assets still in draft; and assets not "
                f"used for more than {older_than_days} days (check last used with get_data_asset). For each, say "
                "why it is a candidate and what depends on it (search contained_data_id:<id>). Propose a list to "
                "archive and wait for my explicit yes before archiving anything."
            )
        ]
