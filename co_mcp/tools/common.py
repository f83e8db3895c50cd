"""Pieces every tool's arguments share: the strict base model and the data-asset id type."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Args", "DataAssetId", "FilePath"]


def _strip_title(schema: dict[str, Any]) -> None:
    schema.pop("title", None)


class Args(BaseModel):
    """Base of every tool's argument model: an unknown argument is an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_strip_title)


# A UUID type: pydantic rejects "../capsules/x" before any tool code runs; str() gives the canonical form.
DataAssetId = uuid.UUID
FilePath = Annotated[
    str, Field(max_length=1024, description="path inside the asset, as listed by list_data_asset_files")
]
