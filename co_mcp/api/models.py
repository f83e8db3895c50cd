"""Pydantic models of the Code Ocean data-asset objects co_mcp reads from the API or sends to it.

Response models are tolerant: unknown keys are ignored, ``size`` may arrive as a string, epoch
fields as floats, ``next_token`` as a number (docs/codeocean-api.md §4, §9), and an enum value this version
does not know is kept as a plain string instead of failing the whole response. Request models are
strict (``extra="forbid"``): what we send is what we mean, and their wire form mirrors the official
SDK's (every key present, ``null`` for unset), which the real server is known to accept.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

__all__ = [
    "AWSS3Source",
    "AWSS3Target",
    "AppParameter",
    "CloudWorkstationSource",
    "ComputationSource",
    "ContainedDataAsset",
    "CustomMetadataField",
    "CustomMetadataSchema",
    "DataAsset",
    "DataAssetOrigin",
    "DataAssetParams",
    "DataAssetSearchOrigin",
    "DataAssetSearchParams",
    "DataAssetSearchResults",
    "DataAssetSortBy",
    "DataAssetState",
    "DataAssetType",
    "DataAssetUpdateParams",
    "EveryoneRole",
    "FileURLs",
    "Folder",
    "FolderItem",
    "GCPCloudStorageSource",
    "GroupPermission",
    "GroupRole",
    "Ownership",
    "Permissions",
    "Provenance",
    "SearchFilter",
    "SearchFilterRange",
    "SortOrder",
    "Source",
    "SourceBucket",
    "Target",
    "TransferDataParams",
    "UserPermission",
    "UserRole",
]


class DataAssetType(StrEnum):
    DATASET = "dataset"
    RESULT = "result"
    COMBINED = "combined"
    MODEL = "model"


class DataAssetState(StrEnum):
    DRAFT = "draft"
    READY = "ready"
    FAILED = "failed"


class DataAssetOrigin(StrEnum):
    LOCAL = "local"
    AWS = "aws"
    GCP = "gcp"


class DataAssetSortBy(StrEnum):
    CREATED = "created"
    TYPE = "type"
    NAME = "name"
    SIZE = "size"


class SortOrder(StrEnum):
    ASC = "asc"
    DESC = "desc"


class DataAssetSearchOrigin(StrEnum):
    INTERNAL = "internal"
    EXTERNAL = "external"


class Ownership(StrEnum):
    PRIVATE = "private"
    SHARED = "shared"
    CREATED = "created"


class UserRole(StrEnum):
    OWNER = "owner"
    EDITOR = "editor"
    VIEWER = "viewer"


class GroupRole(StrEnum):
    OWNER = "owner"
    EDITOR = "editor"
    VIEWER = "viewer"
    DISCOVERABLE = "discoverable"


class EveryoneRole(StrEnum):
    VIEWER = "viewer"
    DISCOVERABLE = "discoverable"
    NONE = "none"


# --- lenient scalar parsing for responses (docs/codeocean-api.md §4, §9) ---------------------------------


def _int_from_number(value: Any) -> Any:
    """Accept 1700000000.5 and "1024" where the SDK coerces them; leave anything else to pydantic."""
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            try:
                return int(float(text))
            except ValueError:
                return value
    return value


def _str_from_scalar(value: Any) -> Any:
    # The docs type next_token as a number; the SDK coerces it to str. So do we.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


LenientInt = Annotated[int, BeforeValidator(_int_from_number)]
OpaqueToken = Annotated[str, BeforeValidator(_str_from_scalar)]


class _Response(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_wire(self) -> dict[str, Any]:
        """The JSON body, every key present and ``null`` for unset, as the official SDK sends it."""
        return self.model_dump(mode="json")


# --- data asset ---------------------------------------------------------------------------------


class Provenance(_Response):
    commit: str | None = None
    run_script: str | None = None
    docker_image: str | None = None
    capsule: str | None = None
    data_assets: list[str] | None = None
    computation: str | None = None


class SourceBucket(_Response):
    origin: Annotated[DataAssetOrigin | str, Field(union_mode="left_to_right")]
    bucket: str | None = None
    prefix: str | None = None
    external: bool | None = None


class AppParameter(_Response):
    name: str | None = None
    value: str | None = None


class ContainedDataAsset(_Response):
    id: str | None = None
    mount: str | None = None
    size: LenientInt | None = None


class DataAsset(_Response):
    """A data asset as Code Ocean returns it (docs/codeocean-api.md §5.1). There is no archived flag."""

    id: str
    created: LenientInt
    name: str
    mount: str
    last_used: LenientInt
    owner: str
    state: Annotated[DataAssetState | str, Field(union_mode="left_to_right")]
    type: Annotated[DataAssetType | str, Field(union_mode="left_to_right")]
    files: LenientInt | None = None
    size: LenientInt | None = None
    description: str | None = None
    owner_email: str | None = None
    tags: list[str] | None = None
    provenance: Provenance | None = None
    source_bucket: SourceBucket | None = None
    custom_metadata: dict[str, Any] | None = None
    app_parameters: list[AppParameter] | None = None
    nextflow_profile: str | None = None
    contained_data_assets: list[ContainedDataAsset] | None = None
    last_transferred: LenientInt | None = None
    transfer_error: str | None = None
    failure_reason: str | None = None

    @property
    def is_settled(self) -> bool:
        """True once the asset left ``draft`` (ready, failed, or a state this version does not know)."""
        return self.state != DataAssetState.DRAFT

    @property
    def is_external(self) -> bool:
        return bool(self.source_bucket and self.source_bucket.external)


class DataAssetSearchResults(_Response):
    has_more: bool
    results: list[DataAsset]
    next_token: OpaqueToken | None = None


# --- permissions --------------------------------------------------------------------------------


class UserPermission(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    email: str
    role: Annotated[UserRole | str, Field(union_mode="left_to_right")]


class GroupPermission(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    group: str
    role: Annotated[GroupRole | str, Field(union_mode="left_to_right")]


class Permissions(BaseModel):
    """Who may use a data asset; the same shape is read (GET) and written (POST).

    On write, ``None`` leaves that part unchanged; users and groups are upserted by email / group.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    users: list[UserPermission] | None = None
    groups: list[GroupPermission] | None = None
    everyone: Annotated[EveryoneRole | str | None, Field(union_mode="left_to_right")] = None
    share_assets: bool | None = None

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


# --- files --------------------------------------------------------------------------------------


class FolderItem(_Response):
    name: str
    path: str
    type: str  # "file" or "folder"; a plain string in the SDK too
    size: LenientInt | None = None


class Folder(_Response):
    items: list[FolderItem]


class FileURLs(_Response):
    download_url: str
    view_url: str


# --- custom metadata schema ---------------------------------------------------------------------


class CustomMetadataRange(_Response):
    min: float | None = None
    max: float | None = None


class CustomMetadataField(_Response):
    name: str
    type: str  # "string" | "number" | "date" (epoch seconds)
    range: CustomMetadataRange | None = None
    allowed_values: list[str | float] | None = None
    multiple: bool | None = None
    units: str | None = None
    category: str | None = None
    required: bool | None = None


class CustomMetadataSchema(_Response):
    fields: list[CustomMetadataField] | None = None
    categories: list[str] | None = None


# --- requests: update ---------------------------------------------------------------------------

CustomMetadataValue = str | int | float | list[str] | list[int | float]


class DataAssetUpdateParams(_Request):
    """PUT body. ``None`` leaves a field unchanged; ``tags`` replaces the whole list."""

    name: str | None = None
    description: str | None = None
    tags: list[str] | None = None
    mount: str | None = None
    custom_metadata: dict[str, CustomMetadataValue] | None = None


# --- requests: create ---------------------------------------------------------------------------


class AWSS3Source(_Request):
    bucket: str
    endpoint_name: str | None = None
    prefix: str | None = None
    keep_on_external_storage: bool | None = None
    public: bool | None = None
    use_input_bucket: bool | None = None


class GCPCloudStorageSource(_Request):
    bucket: str
    client_id: str | None = None
    client_secret: str | None = None
    prefix: str | None = None


class ComputationSource(_Request):
    id: str
    path: str | None = None


class CloudWorkstationSource(_Request):
    id: str
    path: str = Field(min_length=1)
    run_script: str | None = None


class Source(_Request):
    """Where a new asset's files come from; exactly one member is set."""

    aws: AWSS3Source | None = None
    gcp: GCPCloudStorageSource | None = None
    computation: ComputationSource | None = None
    cloud_workstation: CloudWorkstationSource | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Source:
        chosen = [name for name, value in self if value is not None]
        if len(chosen) != 1:
            raise ValueError(
                "source: set exactly one of aws, gcp, computation, cloud_workstation"
                + (f" (got {', '.join(chosen)})" if chosen else "")
            )
        return self


class AWSS3Target(_Request):
    bucket: str
    endpoint_name: str | None = None
    prefix: str | None = None


class Target(_Request):
    aws: AWSS3Target


class DataAssetParams(_Request):
    """POST body that creates a data asset: from one ``source``, or combined from ``data_asset_ids``.

    The contract's ``results_info`` (marking an import as a capsule's or pipeline's results) is not modelled:
    no tool creates results.
    """

    name: str = Field(min_length=1)
    tags: list[str] = Field(default_factory=list)
    mount: str = Field(min_length=1)
    description: str | None = None
    source: Source | None = None
    target: Target | None = None
    custom_metadata: dict[str, CustomMetadataValue] | None = None
    data_asset_ids: list[str] | None = None

    @model_validator(mode="after")
    def _one_origin(self) -> DataAssetParams:
        if (self.source is None) == (not self.data_asset_ids):
            raise ValueError("set either source or data_asset_ids (a combined asset), not both and not neither")
        if self.target is not None and (self.source is None or self.source.computation is None):
            raise ValueError("target: only applies to a computation source")
        return self


# --- requests: search ---------------------------------------------------------------------------


class SearchFilterRange(_Request):
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> SearchFilterRange:
        if self.min is None and self.max is None:
            raise ValueError("range: set min, max or both")
        return self


class SearchFilter(_Request):
    key: str = Field(min_length=1)
    value: str | float | None = None
    values: list[str | float] | None = None
    range: SearchFilterRange | None = None
    exclude: bool | None = None


class DataAssetSearchParams(_Request):
    query: str | None = None
    next_token: str | None = None
    offset: int | None = Field(default=None, ge=0)
    limit: int | None = Field(default=None, ge=1, le=1000)
    sort_field: DataAssetSortBy | None = None
    sort_order: SortOrder | None = None
    type: DataAssetType | None = None
    ownership: Ownership | None = None
    origin: DataAssetSearchOrigin | None = None
    favorite: bool | None = None
    archived: bool | None = None
    filters: list[SearchFilter] | None = None


# --- requests: transfer -------------------------------------------------------------------------


class TransferDataParams(_Request):
    target: Target
    force: bool | None = None
