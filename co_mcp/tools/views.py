"""What tools return: compact, cleaned views of API objects, and the machine views sent as structured content.

Every string written by people (names, descriptions, tags, custom metadata) passes through
``text.clean`` here, once, so the structured content and the text a model reads are equally inert.

Two channels, no duplication: a tool's *text* (rendered from the full view) carries every fact for the
model; its *structured content* is ``view.machine()``: the handles a program chains on (ids, states,
cursors, tokens, outcomes), never free-text prose a second time. The full metadata of an asset, as
JSON, is the ``codeocean://data-assets/{id}`` resource. Schemas stay small: no per-field titles.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from co_mcp.text import clean, iso_date, iso_datetime, snippet

if TYPE_CHECKING:
    from co_mcp.api.models import DataAsset, Permissions

__all__ = [
    "AssetDetail",
    "AssetRef",
    "AssetSummary",
    "View",
    "asset_detail",
    "asset_summary",
    "clean_value",
    "permissions_view",
]

# As many tags and as much description as the official server's search shows, so no fact is lost.
SUMMARY_TAGS = 10
SNIPPET = 200
NAME_LIMIT = 200
DESCRIPTION_LIMIT = 4000
TAG_LIMIT = 64


def _strip_titles(schema: dict[str, Any]) -> None:
    # pydantic titles every property after its name; the name already says it, and tools/list pays.
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        if isinstance(prop, dict):
            prop.pop("title", None)


class View(BaseModel):
    """Base of every tool result: frozen, None-free when dumped for the wire."""

    model_config = ConfigDict(frozen=True, json_schema_extra=_strip_titles)

    def wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)

    def machine(self) -> View:
        """The structured content: by default the whole view (it holds no prose worth sending twice)."""
        return self


class AssetRef(View):
    """A data asset as a program chains on it."""

    id: str
    state: str
    failure_reason: str | None = None


def clean_value(value: Any, depth: int = 0) -> Any:
    """Clean every string in a JSON-like value (custom metadata, provenance) and bound its depth."""
    if isinstance(value, str):
        return clean(value, 500)
    if isinstance(value, bool | int | float) or value is None:
        return value
    if depth >= 4:
        return clean(str(value), 200)
    if isinstance(value, dict):
        return {clean(str(k), 100): clean_value(v, depth + 1) for k, v in list(value.items())[:100]}
    if isinstance(value, list | tuple):
        return [clean_value(v, depth + 1) for v in list(value)[:100]]
    return clean(str(value), 200)


def _tags(tags: list[str] | None) -> list[str]:
    return [tag for tag in (clean(t, TAG_LIMIT) for t in tags or []) if tag]


class AssetSummary(View):
    """One search hit: enough to choose; get_data_asset gives the rest."""

    id: str
    name: str
    type: str
    state: str
    size: int | None = None
    created: str | None = None
    owner: str | None = None
    tags: list[str] = []
    more_tags: int | None = None
    external: bool | None = None
    snippet: str | None = None

    def machine(self) -> AssetRef:
        return AssetRef(id=self.id, state=self.state)


def asset_summary(asset: DataAsset) -> AssetSummary:
    tags = _tags(asset.tags)
    return AssetSummary(
        id=asset.id,
        name=snippet(asset.name, NAME_LIMIT),
        type=str(asset.type),
        state=str(asset.state),
        size=asset.size,
        created=iso_date(asset.created),
        owner=clean(asset.owner_email, 200) or None,
        tags=tags[:SUMMARY_TAGS],
        more_tags=len(tags) - SUMMARY_TAGS if len(tags) > SUMMARY_TAGS else None,
        external=True if asset.is_external else None,
        snippet=snippet(asset.description, SNIPPET) or None,
    )


class AssetDetail(View):
    """Everything Code Ocean says about one data asset, cleaned."""

    id: str
    name: str
    type: str
    state: str
    mount: str
    created: str | None = None
    last_used: str | None = None
    size: int | None = None
    files: int | None = None
    owner: str | None = None
    owner_id: str
    description: str | None = None
    tags: list[str] = []
    custom_metadata: dict[str, Any] | None = None
    provenance: dict[str, Any] | None = None
    source: dict[str, Any] | None = None
    contained: list[dict[str, Any]] | None = None
    app_parameters: dict[str, str] | None = None
    nextflow_profile: str | None = None
    failure_reason: str | None = None
    last_transferred: str | None = None
    transfer_error: str | None = None


def asset_detail(asset: DataAsset) -> AssetDetail:
    def dumped(model: BaseModel | None) -> dict[str, Any] | None:
        if model is None:
            return None
        data = clean_value(model.model_dump(mode="json", exclude_none=True))
        return data or None

    params = {clean(p.name, 100): clean(p.value, 500) for p in asset.app_parameters or [] if p.name}
    return AssetDetail(
        id=asset.id,
        name=snippet(asset.name, NAME_LIMIT),
        type=str(asset.type),
        state=str(asset.state),
        mount=clean(asset.mount, 200),
        created=iso_datetime(asset.created),
        last_used=iso_datetime(asset.last_used),
        size=asset.size,
        files=asset.files,
        owner=clean(asset.owner_email, 200) or None,
        owner_id=asset.owner,
        description=clean(asset.description, DESCRIPTION_LIMIT) or None,
        tags=_tags(asset.tags),
        custom_metadata=clean_value(asset.custom_metadata) or None,
        provenance=dumped(asset.provenance),
        source=dumped(asset.source_bucket),
        contained=[clean_value(c.model_dump(exclude_none=True)) for c in asset.contained_data_assets or []] or None,
        app_parameters=params or None,
        nextflow_profile=clean(asset.nextflow_profile, 100) or None,
        failure_reason=clean(asset.failure_reason, 1000) or None,
        last_transferred=iso_datetime(asset.last_transferred),
        transfer_error=clean(asset.transfer_error, 1000) or None,
    )


class UserAccess(View):
    email: str
    role: str


class GroupAccess(View):
    group: str
    role: str


class PermissionsView(View):
    data_asset_id: str
    users: list[UserAccess] = []
    groups: list[GroupAccess] = []
    everyone: str = "none"
    share_assets: bool | None = None


def permissions_view(data_asset_id: str, permissions: Permissions) -> PermissionsView:
    return PermissionsView(
        data_asset_id=data_asset_id,
        users=[UserAccess(email=clean(u.email, 200), role=str(u.role)) for u in permissions.users or []],
        groups=[GroupAccess(group=clean(g.group, 200), role=str(g.role)) for g in permissions.groups or []],
        everyone=str(permissions.everyone or "none"),
        share_assets=permissions.share_assets,
    )
