"""update_data_asset: change an asset's name, description, mount, custom metadata or tags. A change that removes
something (tags, metadata values, the description, the mount name) goes through the guard; the rest acts at once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field, model_validator

from co_mcp.api.models import DataAssetUpdateParams
from co_mcp.confirm import canonical
from co_mcp.tools.common import Args, DataAssetId, MetadataValue, Mount, PlainParagraphs, PlainText, Tags
from co_mcp.tools.definition import Deps, ToolDefinition
from co_mcp.tools.guard import Change, GuardResult, Plan, PlanItem, plan_items

if TYPE_CHECKING:
    from co_mcp.api.client import CodeOceanClient
    from co_mcp.api.models import DataAsset

__all__ = ["TOOL", "UpdateArgs", "plan_update"]


class UpdateArgs(Args):
    data_asset_id: DataAssetId
    name: Annotated[PlainText | None, Field(min_length=1, max_length=200)] = None
    description: Annotated[PlainParagraphs | None, Field(max_length=10_000)] = None
    mount: Mount | None = None
    custom_metadata: Annotated[
        dict[str, MetadataValue] | None, Field(description="replaces all custom metadata values")
    ] = None
    tags: Annotated[Tags | None, Field(description="replaces all tags")] = None
    add_tags: Tags | None = None
    remove_tags: Tags | None = None
    confirm_token: Annotated[
        str | None, Field(max_length=300, description="from the preview, after the user's yes")
    ] = None

    @model_validator(mode="after")
    def _coherent(self) -> UpdateArgs:
        if self.tags is not None and (self.add_tags or self.remove_tags):
            raise ValueError("give tags (replace all) or add_tags/remove_tags, not both")
        changes = (
            self.name,
            self.description,
            self.mount,
            self.custom_metadata,
            self.tags,
            self.add_tags,
            self.remove_tags,
        )
        if all(value is None for value in changes):
            raise ValueError("nothing to change: give at least one of name, description, mount, custom_metadata, tags")
        return self

    def ids(self) -> list[str]:
        return [str(self.data_asset_id)]

    def signed(self) -> dict[str, Any]:
        """The arguments a confirmation token is bound to: everything but the token."""
        return self.model_dump(mode="json", exclude={"confirm_token"})


def changes_of(asset: DataAsset, args: UpdateArgs) -> tuple[DataAssetUpdateParams, list[Change], list[str]]:
    """The body to send, each change before -> after, and the kinds of thing the change would remove."""
    changes: list[Change] = []
    removes: list[str] = []
    body: dict[str, Any] = {}
    for field_name in ("name", "description", "mount"):
        wanted, current = getattr(args, field_name), getattr(asset, field_name) or ""
        if wanted is not None and wanted != current:
            body[field_name] = wanted
            changes.append(Change(what=field_name, before=current, after=wanted))
            if field_name == "mount":
                removes.append("the mount name that capsules and pipelines use to find its files")
            elif field_name == "description" and current.strip() and not wanted.strip():
                # Emptying it, or leaving only white space, removes it; a new text is a new value, like a new name.
                removes.append("its description")
    # add_tags/remove_tags edit the list as read now, so the list approved is the list sent.
    current_tags = list(asset.tags or [])
    tags = args.tags
    if args.add_tags or args.remove_tags:
        dropping = set(args.remove_tags or [])
        tags = [t for t in dict.fromkeys([*current_tags, *(args.add_tags or [])]) if t not in dropping]
    if tags is not None and tags != current_tags:
        body["tags"] = tags
        lost = [tag for tag in current_tags if tag not in tags]
        changes += [Change(what="tag", subject=tag, before="present", after="removed") for tag in lost]
        added = [t for t in tags if t not in current_tags]
        changes += [Change(what="tag", subject=t, before="absent", after="added") for t in added]
        if lost:
            removes.append(f"{len(lost)} tag(s)")
    if args.custom_metadata is not None:
        # A given map replaces the whole map: a key left out is removed. Values are shown as JSON, so a string
        # value can never read as the "(removed)" or "(none)" markers.
        current_metadata = dict(asset.custom_metadata or {})
        if args.custom_metadata != current_metadata:
            body["custom_metadata"] = args.custom_metadata
        replaced = 0
        for key in sorted({*current_metadata, *args.custom_metadata}):
            before, after = current_metadata.get(key), args.custom_metadata.get(key)
            if before == after:
                continue
            shown_before = "(none)" if before is None else canonical(before)
            shown_after = "(removed)" if after is None else canonical(after)
            changes.append(Change(what="custom_metadata", subject=key, before=shown_before, after=shown_after))
            replaced += before is not None
        if replaced:
            removes.append(f"{replaced} custom metadata value(s)")
    return DataAssetUpdateParams(**body), changes, removes


async def plan_update(deps: Deps, args: UpdateArgs) -> Plan:
    """An update acts at once, unless it would remove something: tags, metadata values, the mount, the description."""
    removes: set[str] = set()
    bodies: dict[str, DataAssetUpdateParams] = {}

    async def describe(item: PlanItem) -> None:
        assert item.asset is not None
        bodies[item.data_asset_id], item.changes, lost = changes_of(item.asset, args)
        removes.update(lost)
        item.state["fields"] = {
            name: getattr(item.asset, name) for name in ("name", "description", "mount", "tags", "custom_metadata")
        }
        if not item.changes:
            item.no_change = "it already has these values"

    async def act(client: CodeOceanClient, item: PlanItem) -> None:
        await client.update_data_asset(item.data_asset_id, bodies[item.data_asset_id])

    items = await plan_items(deps.client, args.ids(), describe)
    return Plan(
        "update_data_asset",
        "update",
        items,
        # Kinds and counts only: which tags and keys is in each change, where other people's text is quoted.
        "This removes " + "; ".join(sorted(removes)) + ". Capsules, pipelines and searches that rely on it may break."
        if removes
        else "Nothing is removed.",
        act=act,
        arguments=args.signed(),
        needs_confirmation=bool(removes),
    )


TOOL = ToolDefinition(
    name="update_data_asset",
    title="Update a data asset",
    description=(
        "Change name, description, mount, custom metadata or tags; only given fields change. tags replaces the "
        "list; add_tags/remove_tags edit it; custom_metadata replaces all values. A change that removes tags, "
        "metadata values, the description or the mount name needs the user's yes: the first call then only "
        "previews and returns a confirm_token."
    ),
    args=UpdateArgs,
    result=GuardResult,
    # It can remove information (after confirmation); adding tags or renaming acts at once.
    effect="guarded",
    plan=plan_update,
)
