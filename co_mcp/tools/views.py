"""What tools return: views, each both channels of a result, and the views of assets that several tools share.

A view's structured content is the whole view (nulls omitted); its ``as_text()`` is a compact rendering of the same
view that states every fact of it, for hosts that hand the model only the text. Every field that holds text
written by other people (names, descriptions, tags, custom metadata, emails, paths, Code Ocean's messages) is
typed with one of the annotated types below, whose validator cleans and caps the value whenever a view is built:
no constructor call can put raw foreign text into a result. ``as_text()`` shows those fields as JSON string
literals (``quoted``), so they read as data, never as co_mcp's own words, and stay on their line.
Schemas stay small: no per-field titles.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict

from co_mcp.text import clean, human_size, iso_date, iso_datetime, quoted, snippet

if TYPE_CHECKING:
    from co_mcp.api.models import DataAsset

__all__ = [
    "AssetDetail",
    "AssetSummary",
    "Foreign",
    "ForeignData",
    "ForeignLine",
    "ForeignRecords",
    "ForeignTag",
    "ForeignText",
    "View",
    "asset_detail",
    "asset_summary",
    "clean_value",
    "size_text",
]

# As many tags and as much description as the official server's search shows, so no fact is lost.
SUMMARY_TAGS = 10
SNIPPET = 200
NAME_LIMIT = 200
DESCRIPTION_LIMIT = 4000
TAG_LIMIT = 64
LINE_LIMIT = 1000


def _cleaned(value: Any, limit: int, *, one_line: bool) -> Any:
    if not isinstance(value, str):
        return value  # the field's own type check refuses it
    return snippet(value, limit) if one_line else clean(value, limit)


def _cleaned_data(value: Any) -> Any:
    return clean_value(value)


# Other people's text, cleaned of hidden characters and capped each time a view is built (the one choke point).
# ``ForeignLine``: kept on one line (names, emails, paths); ``ForeignText``: may hold paragraphs (descriptions).
Foreign = Annotated[str, BeforeValidator(partial(_cleaned, limit=NAME_LIMIT, one_line=True))]
ForeignLine = Annotated[str, BeforeValidator(partial(_cleaned, limit=LINE_LIMIT, one_line=True))]
ForeignTag = Annotated[str, BeforeValidator(partial(_cleaned, limit=TAG_LIMIT, one_line=True))]
ForeignText = Annotated[str, BeforeValidator(partial(_cleaned, limit=DESCRIPTION_LIMIT, one_line=False))]
# JSON written by people (custom metadata, provenance, source, app parameters): every key and string cleaned,
# depth and breadth bounded.
ForeignData = Annotated[dict[str, Any], BeforeValidator(_cleaned_data)]
ForeignRecords = Annotated[list[dict[str, Any]], BeforeValidator(_cleaned_data)]


def _strip_titles(schema: dict[str, Any]) -> None:
    # pydantic titles every property after its name; the name already says it, and tools/list pays.
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        if isinstance(prop, dict):
            prop.pop("title", None)


class View(BaseModel):
    """Base of every tool result: frozen; its structured content omits nulls; ``as_text()`` states every fact."""

    model_config = ConfigDict(frozen=True, json_schema_extra=_strip_titles)

    def structured_content(self) -> dict[str, Any]:
        """The structured content: every field, nulls omitted."""
        return self.model_dump(mode="json", exclude_none=True)

    def as_text(self) -> str:
        """The text a model reads; views override it with a compact rendering. This one: compact JSON."""
        return quoted(self.structured_content())

    def is_error(self) -> bool:
        """True when nothing the call asked for came back: the result is then reported as an error."""
        return False


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


def size_text(size: int | None, state: str | None = None) -> str:
    """Exact bytes, with a readable size beside them from 1 KB on."""
    if size is None:
        return "size not known until ready" if state == "draft" else "size unknown"
    return f"{size} B" if size < 1000 else f"{human_size(size)} ({size} B)"


def tags_text(tags: list[str]) -> str:
    """Each tag its own string literal: a tag is people's text, and one literal per tag keeps commas inside it."""
    return " ".join(quoted(tag) for tag in tags)


def fields_text(value: dict[str, Any]) -> str:
    """A record whose keys Code Ocean defines (source, provenance): bare keys, people's values quoted."""
    return " ".join(f"{key}={quoted(item)}" for key, item in value.items())


def _tags(tags: list[str] | None) -> list[str]:
    return [tag for tag in (clean(t, TAG_LIMIT) for t in tags or []) if tag]


class AssetSummary(View):
    """One search hit: enough to choose; get_data_asset gives the rest."""

    id: str
    name: Foreign
    type: str
    state: str
    size: int | None = None
    created: str | None = None
    owner: ForeignLine | None = None
    tags: list[ForeignTag] | None = None
    more_tags: int | None = None
    external: bool | None = None
    snippet: Annotated[str, BeforeValidator(partial(_cleaned, limit=SNIPPET, one_line=True))] | None = None

    def as_text(self) -> str:
        """One asset on one line: the facts to choose by; get_data_asset gives the rest."""
        parts = [f"{quoted(self.name)} {self.id}", f"{self.type} {self.state}", size_text(self.size, self.state)]
        if self.created:
            parts.append(self.created)
        if self.owner:
            parts.append(quoted(self.owner))
        if self.external:
            parts.append("external")
        if self.tags:
            more = f" +{self.more_tags}" if self.more_tags else ""
            parts.append(f"tags {tags_text(self.tags)}{more}")
        if self.snippet:
            parts.append(f"about {quoted(self.snippet)}")
        return "; ".join(parts)


def asset_summary(asset: DataAsset) -> AssetSummary:
    tags = _tags(asset.tags)
    return AssetSummary(
        id=asset.id,
        name=asset.name,
        type=str(asset.type),
        state=str(asset.state),
        size=asset.size,
        created=iso_date(asset.created),
        owner=asset.owner_email or None,
        tags=tags[:SUMMARY_TAGS] or None,
        more_tags=len(tags) - SUMMARY_TAGS if len(tags) > SUMMARY_TAGS else None,
        external=True if asset.is_external else None,
        snippet=snippet(asset.description, SNIPPET) or None,
    )


class AssetDetail(View):
    """Everything Code Ocean says about one data asset, cleaned."""

    id: str
    name: Foreign
    type: str
    state: str
    mount: Foreign
    created: str | None = None
    last_used: str | None = None
    size: int | None = None
    files: int | None = None
    owner: ForeignLine | None = None
    owner_id: str
    description: ForeignText | None = None
    tags: list[ForeignTag] | None = None
    custom_metadata: ForeignData | None = None
    provenance: ForeignData | None = None
    source: ForeignData | None = None
    contained: ForeignRecords | None = None
    app_parameters: ForeignData | None = None
    nextflow_profile: ForeignLine | None = None
    failure_reason: ForeignLine | None = None
    last_transferred: str | None = None
    transfer_error: ForeignLine | None = None

    def as_text(self) -> str:
        lines = [f"{quoted(self.name)} {self.id} {self.type} {self.state}"]
        facts = [size_text(self.size, self.state)]
        if self.files is not None:
            facts.append(f"{self.files} files")
        elif self.state == "draft":
            facts.append("files not known until ready")
        if self.created:
            facts.append(f"created {self.created}")
        facts.append(f"used {self.last_used}" if self.last_used else "never used")
        facts.append(f"owner {quoted(self.owner)} ({self.owner_id})" if self.owner else f"owner {self.owner_id}")
        lines.append("; ".join(facts))
        lines.append(f"mount {quoted(self.mount)}")
        if self.failure_reason:
            lines.append(f"failure reason: {quoted(self.failure_reason)}")
        if self.tags:
            lines.append(f"tags {tags_text(self.tags)}")
        if self.description:
            lines.append(f"about {quoted(self.description)}")
        # Custom metadata keys and app parameter names are people's words too, so those records stay JSON.
        if self.custom_metadata:
            lines.append(f"metadata {quoted(self.custom_metadata)}")
        if self.provenance:
            lines.append(f"provenance {fields_text(self.provenance)}")
        if self.source:
            lines.append(f"source {fields_text(self.source)}")
        for label, value in (("contains", self.contained), ("app parameters", self.app_parameters)):
            if value:
                lines.append(f"{label} {quoted(value)}")
        if self.nextflow_profile:
            lines.append(f"nextflow profile {quoted(self.nextflow_profile)}")
        if self.last_transferred or self.transfer_error:
            error = f"; error {quoted(self.transfer_error)}" if self.transfer_error else ""
            lines.append(f"last transferred {self.last_transferred or 'never'}{error}")
        return "\n".join(lines)


def asset_detail(asset: DataAsset) -> AssetDetail:
    def dumped(model: BaseModel | None) -> dict[str, Any] | None:
        return model.model_dump(mode="json", exclude_none=True) or None if model is not None else None

    params = {p.name: p.value for p in asset.app_parameters or [] if p.name}
    return AssetDetail(
        id=asset.id,
        name=asset.name,
        type=str(asset.type),
        state=str(asset.state),
        mount=asset.mount,
        created=iso_datetime(asset.created),
        last_used=iso_datetime(asset.last_used),
        size=asset.size,
        files=asset.files,
        owner=asset.owner_email or None,
        owner_id=asset.owner,
        description=asset.description or None,
        tags=_tags(asset.tags) or None,
        custom_metadata=asset.custom_metadata or None,
        provenance=dumped(asset.provenance),
        source=dumped(asset.source_bucket),
        contained=[c.model_dump(exclude_none=True) for c in asset.contained_data_assets or []] or None,
        app_parameters=params or None,
        nextflow_profile=asset.nextflow_profile or None,
        failure_reason=asset.failure_reason or None,
        last_transferred=iso_datetime(asset.last_transferred),
        transfer_error=asset.transfer_error or None,
    )
