"""Request bodies the sandbox accepts (strict pydantic models) and how their validation errors read."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

__all__ = [
    "AWSSourceBody",
    "AWSTargetBody",
    "CloudWorkstationSourceBody",
    "ComputationSourceBody",
    "CreateBody",
    "FilesBody",
    "FilterBody",
    "GCPSourceBody",
    "GroupPermissionBody",
    "InvalidBody",
    "PermissionsBody",
    "RangeBody",
    "ResultsInfoBody",
    "SearchBody",
    "SourceBody",
    "TargetBody",
    "TransferBody",
    "UpdateBody",
    "UserPermissionBody",
    "is_number",
    "parse_body",
]


class InvalidBody(ValueError):
    """A request body the API rejects with 400; ``str()`` is the message, naming the field."""


def _not_blank(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("blank", "must not be empty")
    return value


def _folder_name(value: str) -> str:
    # A mount becomes a folder under /data in the capsule, so it must be one plain path segment.
    if not value.strip():
        raise PydanticCustomError("blank", "must not be empty")
    if "/" in value or value in (".", ".."):
        raise PydanticCustomError("mount", "must be a folder name without '/'")
    return value


def _scalar(value: Any) -> Any:
    # JSON booleans are ints to Python; a filter value is a string or a number, never a boolean.
    if value is None or _is_scalar(value):
        return value
    raise PydanticCustomError("scalar", "must be a string or a number")


def _scalars(values: Any) -> Any:
    if values is None:
        return None
    if not isinstance(values, list) or not all(_is_scalar(item) for item in values):
        raise PydanticCustomError("scalar_list", "must be a list of strings or numbers")
    return values


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str) or is_number(value)


def is_number(value: Any) -> bool:
    """A JSON number: an int or a finite float, and not a boolean (``NaN`` parses, but is no number)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)


NonBlank = Annotated[str, AfterValidator(_not_blank)]
Mount = Annotated[str, AfterValidator(_folder_name)]
Scalar = Annotated[Any, AfterValidator(_scalar)]
Scalars = Annotated[Any, AfterValidator(_scalars)]

_MAX_OFFSET = 2**63 - 1

AssetTypeName = Literal["dataset", "result", "combined", "model"]
UserRoleName = Literal["owner", "editor", "viewer"]
GroupRoleName = Literal["owner", "editor", "viewer", "discoverable"]
EveryoneRoleName = Literal["viewer", "discoverable", "none"]
SortField = Literal["created", "type", "name", "size"]
SortOrder = Literal["asc", "desc"]
Ownership = Literal["private", "shared", "created"]
SearchOrigin = Literal["internal", "external"]


class Body(BaseModel):
    """Strict (no "5" for 5, no 1 for true), unknown keys ignored, explicit null the same as absent."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True, allow_inf_nan=False)


# --- PUT data_assets/{id} ------------------------------------------------------------------------


class UpdateBody(Body):
    name: NonBlank | None = None
    description: str | None = None
    tags: list[NonBlank] | None = None
    mount: Mount | None = None
    custom_metadata: dict[str, Any] | None = None


# --- POST data_assets ----------------------------------------------------------------------------


class AWSSourceBody(Body):
    bucket: NonBlank
    endpoint_name: str | None = None
    prefix: str | None = None
    keep_on_external_storage: bool | None = None
    public: bool | None = None
    use_input_bucket: bool | None = None


class GCPSourceBody(Body):
    bucket: NonBlank
    client_id: str | None = None
    client_secret: str | None = None
    prefix: str | None = None


class ComputationSourceBody(Body):
    id: str
    path: str | None = None


class CloudWorkstationSourceBody(Body):
    id: str
    path: NonBlank
    run_script: str | None = None


class SourceBody(Body):
    aws: AWSSourceBody | None = None
    gcp: GCPSourceBody | None = None
    computation: ComputationSourceBody | None = None
    cloud_workstation: CloudWorkstationSourceBody | None = None

    def given(self) -> list[str]:
        """Names of the sources that are set (exactly one is valid)."""
        return [name for name in ("aws", "gcp", "computation", "cloud_workstation") if getattr(self, name) is not None]


class AWSTargetBody(Body):
    bucket: NonBlank
    endpoint_name: str | None = None
    prefix: str | None = None


class TargetBody(Body):
    aws: AWSTargetBody | None = None


class ParamBody(Body):
    name: str | None = None
    param_name: str | None = None
    value: str | None = None


class ProcessBody(Body):
    name: str
    capsule_id: str
    version: int | None = None
    public: bool | None = None
    parameters: list[ParamBody] | None = None


class ResultsInfoBody(Body):
    capsule_id: str | None = None
    pipeline_id: str | None = None
    version: int | None = None
    commit: str | None = None
    run_script: str | None = None
    data_assets: list[str] | None = None
    parameters: list[ParamBody] | None = None
    nextflow_profile: str | None = None
    processes: list[ProcessBody] | None = None


class CreateBody(Body):
    name: NonBlank
    # The SDK always sends tags; curl users often do not, and an empty list is the obvious meaning.
    tags: list[NonBlank] | None = None
    mount: Mount
    description: str | None = None
    source: SourceBody | None = None
    target: TargetBody | None = None
    custom_metadata: dict[str, Any] | None = None
    data_asset_ids: list[str] | None = None
    results_info: ResultsInfoBody | None = None


# --- permissions, files, transfer ----------------------------------------------------------------


class UserPermissionBody(Body):
    email: NonBlank
    role: UserRoleName


class GroupPermissionBody(Body):
    group: NonBlank
    role: GroupRoleName


class PermissionsBody(Body):
    users: list[UserPermissionBody] | None = None
    groups: list[GroupPermissionBody] | None = None
    everyone: EveryoneRoleName | None = None
    share_assets: bool | None = None


class FilesBody(Body):
    path: str | None = None


class TransferBody(Body):
    target: TargetBody
    force: bool | None = None


# --- POST data_assets/search ---------------------------------------------------------------------


class RangeBody(Body):
    min: float | None = None
    max: float | None = None


class FilterBody(Body):
    key: NonBlank
    value: Scalar = None
    values: Scalars = None
    range: RangeBody | None = None
    exclude: bool | None = None


class SearchBody(Body):
    query: str | None = None
    next_token: str | None = None
    # The upper bound is SQLite's: a larger OFFSET cannot even be bound.
    offset: int | None = Field(None, ge=0, le=_MAX_OFFSET)
    # The docs' legacy name for offset; a Python keyword, hence the alias.
    from_: int | None = Field(None, ge=0, le=_MAX_OFFSET, alias="from")
    limit: int | None = Field(None, ge=1, le=1000)
    sort_field: SortField | None = None
    sort_order: SortOrder | None = None
    type: AssetTypeName | None = None
    ownership: Ownership | None = None
    origin: SearchOrigin | None = None
    favorite: bool | None = None
    archived: bool | None = None
    filters: list[FilterBody] | None = None


# --- parsing and messages ------------------------------------------------------------------------

BodyT = TypeVar("BodyT", bound=Body)

_PLAIN_MESSAGES = {
    "missing": "is required",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "finite_number": "must be a finite number",
    "bool_type": "must be true or false",
    "list_type": "must be a list",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
}


def parse_body(model: type[BodyT], raw: bytes, *, empty_is_object: bool = True) -> BodyT:
    """Validate a JSON request body; any problem becomes ``InvalidBody`` naming the first bad field."""
    if not raw.strip() and empty_is_object:
        raw = b"{}"
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise InvalidBody(describe(exc)) from None


def describe(exc: ValidationError) -> str:
    """``"sort_field: must be one of created, type, name, size"``: the first error, for a person."""
    error = exc.errors(include_url=False)[0]
    kind = error["type"]
    if kind == "json_invalid":
        return "request body is not valid JSON"
    location = render_location(error["loc"])
    if kind.endswith("_type") and error["loc"] and error.get("input", ...) is None:
        # An explicit null means "not given"; for a required field, say so rather than "must be a string".
        kind = "missing"
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", str((error.get("ctx") or {}).get("expected", "")))
        message = "must be one of " + ", ".join(choices)
    elif kind in ("greater_than_equal", "greater_than"):
        message = f"must be at least {error['ctx'].get('ge', error['ctx'].get('gt'))}"
    elif kind in ("less_than_equal", "less_than"):
        message = f"must be at most {error['ctx'].get('le', error['ctx'].get('lt'))}"
    elif kind in _PLAIN_MESSAGES:
        message = _PLAIN_MESSAGES[kind]
    else:
        message = error["msg"]
    if not location:
        return "request body must be a JSON object" if kind in ("model_type", "dict_type") else message
    return f"{location}: {message}"


def render_location(loc: tuple[int | str, ...]) -> str:
    """``("filters", 0, "range", "min")`` becomes ``filters[0].range.min``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out
