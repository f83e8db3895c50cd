"""Pieces every tool's arguments share: the strict base model and the data-asset id type."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, model_validator

from co_mcp.text import clean

__all__ = [
    "MAX_BATCH",
    "Args",
    "BatchArgs",
    "DataAssetId",
    "FilePath",
    "MetadataValue",
    "Mount",
    "PlainParagraphs",
    "PlainText",
    "Tag",
    "Tags",
    "Uuid",
]

MAX_BATCH = 50


def _strip_title(schema: dict[str, Any]) -> None:
    schema.pop("title", None)


class Args(BaseModel):
    """Base of every tool's argument model: an unknown argument is an error, not silently ignored.

    Strict: a value must have the JSON type the published schema gives. Lax conversion let through
    what the schema refuses (true as the integer 1, "5" as 5, "yes" as true), so invalid input reached
    Code Ocean (found by fuzzing). An integer field therefore also refuses 5.0.
    Numbers must be finite: JSON has no NaN or infinity, yet a float field would turn the text "NaN" or
    "1e309" into one, which no request body can carry (found by fuzzing: it crashed the search tool).
    """

    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, allow_inf_nan=False, json_schema_extra=_strip_title
    )


# A UUID, sent as a JSON string (so not strict): pydantic rejects "../capsules/x" before any tool code
# runs; str() gives the canonical form.
Uuid = Annotated[uuid.UUID, Strict(False)]
DataAssetId = Uuid
FilePath = Annotated[str, Field(max_length=1024, description="path from list_data_asset_files")]


def _one_folder(value: str) -> str:
    # The pattern allows dots (names like "v1.2"); "." and ".." alone would mean other folders.
    if value in (".", ".."):
        raise ValueError("a mount is a folder name, not . or ..")
    return value


def _plain(value: str) -> str:
    # Shown to the human who confirms, exactly as it will be sent: anything a preview could not show
    # faithfully (a line break that forges a line of its own, an invisible or direction-changing character)
    # is refused rather than cleaned, so what is approved and what is sent are the same text.
    if value != clean(value, len(value) + 1, strip=False) or "\n" in value or "\t" in value:
        raise ValueError("must be plain text on one line: no line breaks, control or invisible characters")
    return value


def _plain_paragraphs(value: str) -> str:
    # A description may have paragraphs; anything else a preview cannot show is refused, as for PlainText.
    if value != clean(value, len(value) + 1, strip=False):
        raise ValueError("must be plain text: no control or invisible characters (line breaks and tabs are fine)")
    return value


# Text the model supplies that a human reads in a confirmation: refused if it holds anything unshowable.
PlainText = Annotated[str, AfterValidator(_plain)]
PlainParagraphs = Annotated[str, AfterValidator(_plain_paragraphs)]
Tag = Annotated[PlainText, Field(min_length=1, max_length=64)]
Tags = Annotated[list[Tag], Field(max_length=50)]
MetadataValue = str | float | list[str] | list[float]
Mount = Annotated[str, Field(max_length=200, pattern=r"^[A-Za-z0-9._-]+$"), AfterValidator(_one_folder)]


class BatchArgs(Args):
    """Arguments naming one or more data assets (up to 50) in ``data_asset_ids``."""

    data_asset_ids: Annotated[list[DataAssetId], Field(min_length=1, max_length=MAX_BATCH, description="up to 50 ids")]

    @model_validator(mode="before")
    @classmethod
    def _one_id_is_a_list(cls, data: object) -> object:
        # Models often pass a single id as a string; accept it rather than bounce the call.
        if isinstance(data, dict) and isinstance(data.get("data_asset_ids"), str):
            return {**data, "data_asset_ids": [data["data_asset_ids"]]}
        return data

    def ids(self) -> list[str]:
        """The ids in canonical form, each once, in the order given."""
        return list(dict.fromkeys(str(i) for i in self.data_asset_ids))
