"""The deployment's custom-metadata schema: which keys assets may carry, with types and allowed values."""

from __future__ import annotations

from typing import TYPE_CHECKING

from co_mcp.tools.common import Args
from co_mcp.tools.views import Foreign, View

if TYPE_CHECKING:
    from co_mcp.api.client import CodeOceanClient

__all__ = ["MetadataField", "MetadataSchema", "SchemaArgs", "get_custom_metadata_schema"]


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


async def get_custom_metadata_schema(client: CodeOceanClient, args: SchemaArgs) -> MetadataSchema:
    schema = await client.get_custom_metadata_schema()
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
