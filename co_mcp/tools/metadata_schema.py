"""get_custom_metadata_schema: the deployment's custom metadata fields, with types and allowed values."""

from __future__ import annotations

from co_mcp.text import quoted
from co_mcp.tools.common import Args
from co_mcp.tools.definition import Deps, ToolDefinition
from co_mcp.tools.views import Foreign, View

__all__ = ["TOOL", "MetadataField", "MetadataSchema", "SchemaArgs", "get_custom_metadata_schema"]


class SchemaArgs(Args):
    """No arguments."""


class MetadataField(View):
    name: Foreign
    type: Foreign
    category: Foreign | None = None
    units: Foreign | None = None
    required: bool | None = None
    multiple: bool | None = None
    allowed_values: list[Foreign | float] | None = None
    min: float | None = None
    max: float | None = None


class MetadataSchema(View):
    fields: list[MetadataField]
    categories: list[Foreign] | None = None

    def as_text(self) -> str:
        if not self.fields:
            return "This deployment defines no custom metadata fields."
        lines = ["Custom metadata fields (use their names as keys in custom_metadata and search filters):"]
        for f in self.fields:
            bits = [quoted(f.type)]
            if f.category:
                bits.append(f"category {quoted(f.category)}")
            if f.units:
                bits.append(f"in {quoted(f.units)}")
            if f.allowed_values:
                bits.append(f"one of {quoted(f.allowed_values)}")
            if f.min is not None or f.max is not None:
                bits.append(f"range {f.min if f.min is not None else ''}..{f.max if f.max is not None else ''}")
            if f.multiple:
                bits.append("several values allowed")
            if f.required:
                bits.append("required")
            if f.type == "date":
                bits.append("as epoch seconds")
            lines.append(f"{quoted(f.name)}: {', '.join(bits)}")
        if self.categories:
            lines.append(f"Categories: {' '.join(quoted(c) for c in self.categories)}")
        return "\n".join(lines)


async def get_custom_metadata_schema(deps: Deps, args: SchemaArgs) -> MetadataSchema:
    schema = await deps.client.get_custom_metadata_schema()
    fields = [
        MetadataField(
            name=f.name,
            type=f.type,
            category=f.category,
            units=f.units,
            required=f.required or None,
            multiple=f.multiple or None,
            allowed_values=f.allowed_values,
            min=f.range.min if f.range else None,
            max=f.range.max if f.range else None,
        )
        for f in schema.fields or []
    ]
    return MetadataSchema(fields=fields, categories=list(schema.categories or []) or None)


TOOL = ToolDefinition(
    name="get_custom_metadata_schema",
    title="Get custom metadata fields",
    description=(
        "The deployment's custom metadata fields (types, allowed values, ranges), for custom_metadata and search "
        "filters."
    ),
    args=SchemaArgs,
    result=MetadataSchema,
    effect="read",
    run=get_custom_metadata_schema,
)
