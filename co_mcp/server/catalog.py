"""The tools this server offers: the tools' own declarations (``co_mcp.tools.CATALOG``), with their annotations
and the dependencies each call gets."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mcp.types import ToolAnnotations

from co_mcp.tools import CATALOG
from co_mcp.tools.definition import Deps, ToolDefinition

if TYPE_CHECKING:
    from co_mcp.server.state import AppContext, AppState

__all__ = ["ToolDefinition", "annotations_of", "deps_for", "tool_specs"]


def tool_specs() -> list[ToolDefinition]:
    """Every tool co_mcp offers, in the order tools/list shows them."""
    return list(CATALOG)


def annotations_of(tool: ToolDefinition) -> ToolAnnotations:
    """The tool's effect as MCP annotations, set truthfully."""
    return ToolAnnotations(
        read_only_hint=tool.read_only,
        destructive_hint=tool.destructive,
        idempotent_hint=tool.idempotent,
        # Every tool talks to a Code Ocean deployment: an outside system whose contents change.
        open_world_hint=True,
    )


def deps_for(state: AppState, ctx: AppContext | None = None) -> Deps:
    """What a tool function gets: the client, the named credential sets, and progress for the client's request."""
    if ctx is None:
        return Deps(client=state.client, credentials=state.credentials)
    reporter = ctx

    async def progress(done: float, total: float | None, message: str) -> None:
        await reporter.report_progress(done, total, message)

    return Deps(client=state.client, credentials=state.credentials, progress=progress)
