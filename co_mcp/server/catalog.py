"""The tools co_mcp offers, in the order tools/list shows them: each one's name, words for the model,
annotations, argument model, view and logic."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mcp.types import ToolAnnotations

from co_mcp.render import explain
from co_mcp.server.state import AppContext, AppState
from co_mcp.tools import assets, files, guarded, permissions, schema, search
from co_mcp.tools.common import ExplainFn
from co_mcp.tools.views import AssetSummary, PermissionsView

if TYPE_CHECKING:
    from co_mcp.api.client import CodeOceanClient
    from co_mcp.tools.common import Args
    from co_mcp.tools.views import View

__all__ = ["Planner", "Runner", "ToolSpec", "guarded_specs", "tool_specs"]

Runner = Callable[[AppState, Any, AppContext], Awaitable["View"]]
Planner = Callable[["CodeOceanClient", Any, ExplainFn], Awaitable[guarded.Plan]]


@dataclass(frozen=True)
class ToolSpec:
    """One tool: its public name and words for the model, its honest annotations, and its logic."""

    name: str
    title: str
    description: str
    args: type[Args]
    output: type[View]
    run: Runner | None
    read_only: bool
    destructive: bool = False
    idempotent: bool = True
    # Set for guarded tools: reads state and describes the action; nothing runs without confirmation.
    plan: Planner | None = None

    def annotations(self) -> ToolAnnotations:
        return ToolAnnotations(
            read_only_hint=self.read_only,
            destructive_hint=self.destructive,
            idempotent_hint=self.idempotent,
            # Every tool talks to a Code Ocean deployment: an outside system whose contents change.
            open_world_hint=True,
        )


def _progress(ctx: AppContext) -> assets.ProgressFn:
    async def report(done: float, total: float | None, message: str) -> None:
        await ctx.report_progress(done, total, message)

    return report


def tool_specs() -> list[ToolSpec]:
    """Every tool co_mcp offers, in the order tools/list shows them."""
    return [
        ToolSpec(
            name="search_data_assets",
            title="Search data assets",
            description=(
                "Find data assets by text, field terms, filters, type, ownership and more. Returns a line per asset "
                "(id, name, type, state, size, date, owner, tags) and a cursor when more exist; max_results gathers "
                "pages. get_data_asset gives full details."
            ),
            args=search.SearchArgs,
            output=search.SearchResult,
            run=lambda state, args, ctx: search.search_data_assets(state.client, args),
            read_only=True,
        ),
        ToolSpec(
            name="get_data_asset",
            title="Get data assets",
            description=(
                "Full details of up to 50 data assets: description, tags, custom metadata, provenance, source, "
                "contents, failure reason. A failing id is reported beside the others."
            ),
            args=assets.GetArgs,
            output=assets.GetResult,
            run=lambda state, args, ctx: assets.get_data_asset(state.client, args, explain),
            read_only=True,
        ),
        ToolSpec(
            name="get_data_asset_permissions",
            title="Get data asset permissions",
            description="Who can use a data asset: users and groups with roles, access for everyone, share_assets.",
            args=permissions.PermissionsArgs,
            output=PermissionsView,
            run=lambda state, args, ctx: permissions.get_data_asset_permissions(state.client, args),
            read_only=True,
        ),
        ToolSpec(
            name="list_data_asset_files",
            title="List data asset files",
            description=(
                "One folder level of an internal data asset: files with sizes, and sub-folders (pass one's path to "
                "go deeper). read_data_asset_file reads a file."
            ),
            args=files.ListFilesArgs,
            output=files.FolderListing,
            run=lambda state, args, ctx: files.list_data_asset_files(state.client, args),
            read_only=True,
        ),
        ToolSpec(
            name="read_data_asset_file",
            title="Read a data asset file",
            description=(
                "Read up to 200 KB of a file from offset (default 20 KB); gives the total size and the next offset "
                "to page on. Binary files get a short description instead."
            ),
            args=files.ReadFileArgs,
            output=files.ReadFileResult,
            run=lambda state, args, ctx: files.read_data_asset_file(state.client, args),
            read_only=True,
        ),
        ToolSpec(
            name="get_data_asset_file_urls",
            title="Get file download links",
            description="Signed, expiring download and view URLs for one file, for the user to open or share.",
            args=files.UrlsArgs,
            output=files.FileUrls,
            run=lambda state, args, ctx: files.get_data_asset_file_urls(state.client, args),
            read_only=True,
            # Each call signs fresh links.
            idempotent=False,
        ),
        ToolSpec(
            name="get_custom_metadata_schema",
            title="Get custom metadata fields",
            description=(
                "The deployment's custom metadata fields (types, allowed values, ranges), for custom_metadata "
                "and search filters."
            ),
            args=schema.SchemaArgs,
            output=schema.MetadataSchema,
            run=lambda state, args, ctx: schema.get_custom_metadata_schema(state.client, args),
            read_only=True,
        ),
        ToolSpec(
            name="wait_for_data_asset",
            title="Wait for a data asset",
            description=(
                "Wait, with progress, until a new data asset is ready or failed (timeout default 120 s). Returns "
                "the state and any failure reason."
            ),
            args=assets.WaitArgs,
            output=assets.WaitResult,
            run=lambda state, args, ctx: assets.wait_for_data_asset(state.client, args, _progress(ctx)),
            read_only=True,
        ),
        ToolSpec(
            name="create_data_asset",
            title="Create a data asset",
            description=(
                "Create a data asset from S3, GCS (a credential set's name, never secrets), a computation, a cloud "
                "workstation, or combined assets (source.kind). It starts as draft: set wait or call "
                "wait_for_data_asset before use."
            ),
            args=assets.CreateArgs,
            output=assets.CreateResult,
            run=lambda state, args, ctx: assets.create_data_asset(
                state.client, args, state.credentials, explain, _progress(ctx)
            ),
            read_only=False,
            idempotent=False,
        ),
        ToolSpec(
            name="unarchive_data_asset",
            title="Unarchive a data asset",
            description="Make an archived data asset active again, visible in default searches.",
            args=assets.UnarchiveArgs,
            output=AssetSummary,
            run=lambda state, args, ctx: assets.unarchive_data_asset(state.client, args),
            read_only=False,
        ),
        *guarded_specs(),
    ]


_CONFIRMATION = " Needs the user's yes: the first call may only preview and return a confirm_token."


def guarded_specs() -> list[ToolSpec]:
    """The destructive tools. Each acts only after a confirmation of exactly the previewed action."""

    def spec(name: str, title: str, description: str, args: type[Args], plan: Planner, *, idempotent: bool) -> ToolSpec:
        return ToolSpec(
            name=name,
            title=title,
            description=description + _CONFIRMATION,
            args=args,
            output=guarded.GuardResult,
            run=None,
            read_only=False,
            destructive=True,
            idempotent=idempotent,
            plan=plan,
        )

    return [
        ToolSpec(
            name="update_data_asset",
            title="Update a data asset",
            description=(
                "Change name, description, mount, custom metadata or tags; only given fields change. tags "
                "replaces the list; add_tags/remove_tags edit it; custom_metadata replaces all values. A change "
                "that removes tags, metadata values, the description or the mount name needs the user's yes: the "
                "first call then only previews and returns a confirm_token."
            ),
            args=assets.UpdateArgs,
            output=guarded.GuardResult,
            run=None,
            read_only=False,
            # It can remove information (after confirmation); adding tags or renaming acts at once.
            destructive=True,
            idempotent=True,
            plan=guarded.plan_update,
        ),
        spec(
            "archive_data_asset",
            "Archive data assets",
            "Archive up to 50 data assets: they leave default searches, and capsules or pipelines using them "
            "may break. The preview lists their users.",
            guarded.ArchiveArgs,
            guarded.plan_archive,
            idempotent=True,
        ),
        spec(
            "delete_data_asset",
            "Delete data assets",
            "Permanently delete up to 50 data assets; cannot be undone. Consider archive_data_asset instead.",
            guarded.DeleteArgs,
            guarded.plan_delete,
            idempotent=True,
        ),
        spec(
            "share_data_asset",
            "Share data assets",
            "Give users (by email) or groups a role on up to 50 data assets, or set everyone's access; it "
            "cannot remove access. The preview shows before -> after.",
            guarded.ShareArgs,
            guarded.plan_share,
            idempotent=True,
        ),
        spec(
            "transfer_data_asset",
            "Transfer data assets",
            "Admin only: move the files of up to 50 data assets to another S3 location, making them external.",
            guarded.TransferArgs,
            guarded.plan_transfer,
            idempotent=False,
        ),
    ]
