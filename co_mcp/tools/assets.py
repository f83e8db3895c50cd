"""Data-asset tools that read, create, change and wait: get (batched), create, update, unarchive, wait."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal

import anyio
from pydantic import Field, model_validator

from co_mcp.api.models import (
    AWSS3Source,
    AWSS3Target,
    CloudWorkstationSource,
    ComputationSource,
    DataAssetParams,
    GCPCloudStorageSource,
    Source,
    Target,
)
from co_mcp.errors import CodeOceanError, InvalidArgumentError, WaitTimeoutError
from co_mcp.tools.common import MAX_BATCH, Args, BatchArgs, DataAssetId, ExplainFn, Mount, Uuid
from co_mcp.tools.views import AssetDetail, AssetSummary, Foreign, ForeignLine, View, asset_detail, asset_summary

if TYPE_CHECKING:
    from co_mcp.api.client import CodeOceanClient, WaitProgress
    from co_mcp.api.models import DataAsset
    from co_mcp.config import CredentialSet

__all__ = [
    "CreateArgs",
    "CreateResult",
    "GetArgs",
    "GetResult",
    "ItemError",
    "ProgressFn",
    "UnarchiveArgs",
    "UpdateArgs",
    "WaitArgs",
    "WaitResult",
    "create_data_asset",
    "get_data_asset",
    "unarchive_data_asset",
    "wait_for_data_asset",
]

# (progress so far, total, message): how a tool reports progress, whatever carries it to the client.
ProgressFn = Callable[[float, float | None, str], Awaitable[None]]

# Parallel GETs in a batch: enough to hide latency, few enough not to trip a rate limit.
BATCH_CONCURRENCY = 8
DEFAULT_WAIT = 120
MAX_WAIT = 600

Tag = Annotated[str, Field(min_length=1, max_length=64)]
Tags = Annotated[list[Tag], Field(max_length=50)]
MetadataValue = str | float | list[str] | list[float]


# --- get ----------------------------------------------------------------------------------------


class GetArgs(BatchArgs):
    pass


class ItemError(View):
    id: str
    error: ForeignLine  # co_mcp's explanation, which may quote Code Ocean's own message


class GetResult(View):
    assets: list[AssetDetail]
    errors: list[ItemError] | None = None  # left out when every id was found

    def is_error(self) -> bool:
        return not self.assets


async def get_data_asset(client: CodeOceanClient, args: GetArgs, explain: ExplainFn) -> GetResult:
    """Fetch each id (in parallel, bounded); one failure is reported beside the others, not instead."""
    ids = args.ids()
    found: dict[str, AssetDetail] = {}
    failed: dict[str, str] = {}
    limiter = anyio.CapacityLimiter(BATCH_CONCURRENCY)

    async def fetch(data_asset_id: str) -> None:
        async with limiter:
            try:
                found[data_asset_id] = asset_detail(await client.get_data_asset(data_asset_id))
            except CodeOceanError as exc:
                failed[data_asset_id] = explain(exc)

    if len(ids) == 1:
        await fetch(ids[0])  # the common case: no task group to set up and tear down
    else:
        async with anyio.create_task_group() as group:
            for data_asset_id in ids:
                group.start_soon(fetch, data_asset_id)
    return GetResult(
        assets=[found[i] for i in ids if i in found],
        errors=[ItemError(id=i, error=failed[i]) for i in ids if i in failed] or None,
    )


# --- create -------------------------------------------------------------------------------------


class S3Source(Args):
    kind: Literal["s3"]
    bucket: Annotated[str, Field(min_length=3, max_length=255)]
    prefix: Annotated[str | None, Field(max_length=1024)] = None
    endpoint_name: Annotated[str | None, Field(max_length=255, description="custom S3 endpoint")] = None
    keep_on_external_storage: Annotated[bool, Field(description="do not copy: an external asset")] = False
    public: Annotated[bool, Field(description="read the bucket without credentials")] = False


class GcsSource(Args):
    kind: Literal["gcs"]
    bucket: Annotated[str, Field(min_length=3, max_length=255)]
    prefix: Annotated[str | None, Field(max_length=1024)] = None
    credentials: Annotated[
        str | None, Field(max_length=100, description="name of a credential set configured on the server")
    ] = None


class ExternalTarget(Args):
    bucket: Annotated[str, Field(min_length=3, max_length=255)]
    prefix: Annotated[str | None, Field(max_length=1024)] = None
    endpoint_name: Annotated[str | None, Field(max_length=255)] = None


class ComputationSourceArg(Args):
    kind: Literal["computation"]
    computation_id: Uuid
    path: Annotated[str | None, Field(max_length=1024, description="results sub-folder; empty = all")] = None
    target: Annotated[ExternalTarget | None, Field(description="keep the results in this S3 location")] = None


class CloudWorkstationSourceArg(Args):
    kind: Literal["cloud_workstation"]
    computation_id: Uuid
    path: Annotated[str, Field(min_length=1, max_length=1024)]
    run_script: Annotated[str | None, Field(max_length=1024, description="set to make a result asset")] = None


class CombinedSourceArg(Args):
    kind: Literal["combined"]
    data_asset_ids: Annotated[list[DataAssetId], Field(min_length=2, max_length=MAX_BATCH)]


SourceArg = Annotated[
    S3Source | GcsSource | ComputationSourceArg | CloudWorkstationSourceArg | CombinedSourceArg,
    Field(discriminator="kind"),
]


class CreateArgs(Args):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    source: SourceArg
    mount: Annotated[Mount | None, Field(description="folder name when attached; default from name")] = None
    tags: Tags = []
    description: Annotated[str | None, Field(max_length=10_000)] = None
    custom_metadata: dict[str, MetadataValue] | None = None
    wait: Annotated[bool, Field(description="wait until ready or failed")] = False
    wait_timeout: Annotated[int, Field(ge=1, le=MAX_WAIT)] = DEFAULT_WAIT


def default_mount(name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", name.strip()).strip("_.-")
    return slug[:100] or "data"


def to_params(args: CreateArgs, credentials: Mapping[str, CredentialSet]) -> DataAssetParams:
    """The API request for these arguments; credential-set names become secrets only here."""
    source: Source | None = None
    target: Target | None = None
    data_asset_ids: list[str] | None = None
    arg = args.source
    if isinstance(arg, S3Source):
        s3 = AWSS3Source(
            bucket=arg.bucket,
            prefix=arg.prefix,
            endpoint_name=arg.endpoint_name,
            keep_on_external_storage=arg.keep_on_external_storage or None,
            public=arg.public or None,
        )
        source = Source(aws=s3)
    elif isinstance(arg, GcsSource):
        client_id = client_secret = None
        if arg.credentials is not None:
            chosen = credentials.get(arg.credentials)
            if chosen is None or chosen.gcp is None:
                names = ", ".join(sorted(n for n, c in credentials.items() if c.gcp)) or "none configured"
                raise InvalidArgumentError(
                    "source.credentials", f"no GCS credential set named {arg.credentials!r} (available: {names})"
                )
            client_id = chosen.gcp.client_id.get_secret_value()
            client_secret = chosen.gcp.client_secret.get_secret_value()
        gcs = GCPCloudStorageSource(
            bucket=arg.bucket, prefix=arg.prefix, client_id=client_id, client_secret=client_secret
        )
        source = Source(gcp=gcs)
    elif isinstance(arg, ComputationSourceArg):
        source = Source(computation=ComputationSource(id=str(arg.computation_id), path=arg.path))
        if arg.target is not None:
            target = Target(
                aws=AWSS3Target(
                    bucket=arg.target.bucket, prefix=arg.target.prefix, endpoint_name=arg.target.endpoint_name
                )
            )
    elif isinstance(arg, CloudWorkstationSourceArg):
        workstation = CloudWorkstationSource(id=str(arg.computation_id), path=arg.path, run_script=arg.run_script)
        source = Source(cloud_workstation=workstation)
    else:
        data_asset_ids = list(dict.fromkeys(str(i) for i in arg.data_asset_ids))
    return DataAssetParams(
        name=args.name,
        mount=args.mount or default_mount(args.name),
        tags=list(dict.fromkeys(args.tags)),
        description=args.description,
        source=source,
        target=target,
        custom_metadata=args.custom_metadata,
        data_asset_ids=data_asset_ids,
    )


class CreateResult(View):
    asset: AssetSummary
    mount: Foreign
    failure_reason: ForeignLine | None = None
    waited: bool | None = None
    timed_out: bool | None = None
    # The create succeeded, but waiting for it then failed: said plainly, never as a failed create.
    wait_error: ForeignLine | None = None


def _created(asset: DataAsset, *, waited: bool, timed_out: bool = False, wait_error: str | None = None) -> CreateResult:
    detail = asset_detail(asset)
    return CreateResult(
        asset=asset_summary(asset),
        mount=detail.mount,
        failure_reason=detail.failure_reason,
        waited=waited or None,
        timed_out=timed_out or None,
        wait_error=wait_error,
    )


async def create_data_asset(
    client: CodeOceanClient,
    args: CreateArgs,
    credentials: Mapping[str, CredentialSet],
    explain: ExplainFn,
    progress: ProgressFn | None = None,
) -> CreateResult:
    created = await client.create_data_asset(to_params(args, credentials))
    if not args.wait or created.is_settled:
        return _created(created, waited=args.wait)
    try:
        settled, timed_out = await _wait(client, created.id, args.wait_timeout, progress)
    except CodeOceanError as exc:
        # The asset exists: reporting an error now would invite a retry, and a duplicate.
        return _created(created, waited=True, wait_error=explain(exc))
    if settled is not None and not timed_out:
        # If the deployment refused to edit the draft, the create's bookkeeping tag is still there.
        settled = await client.strip_create_tags(settled)
    return _created(settled or created, waited=True, timed_out=timed_out)


# --- update -------------------------------------------------------------------------------------


class UpdateArgs(Args):
    data_asset_id: DataAssetId
    name: Annotated[str | None, Field(min_length=1, max_length=200)] = None
    description: Annotated[str | None, Field(max_length=10_000)] = None
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


# --- unarchive ----------------------------------------------------------------------------------


class UnarchiveArgs(Args):
    data_asset_id: DataAssetId


async def unarchive_data_asset(client: CodeOceanClient, args: UnarchiveArgs) -> AssetSummary:
    data_asset_id = str(args.data_asset_id)
    await client.archive_data_asset(data_asset_id, archive=False)
    return asset_summary(await client.get_data_asset(data_asset_id))


# --- wait ---------------------------------------------------------------------------------------


class WaitArgs(Args):
    data_asset_id: DataAssetId
    timeout: Annotated[int, Field(ge=1, le=MAX_WAIT, description="seconds to wait at most")] = DEFAULT_WAIT


class WaitResult(View):
    asset: AssetSummary
    state: str
    failure_reason: ForeignLine | None = None
    timed_out: bool | None = None


async def _wait(
    client: CodeOceanClient, data_asset_id: str, seconds: float, progress: ProgressFn | None
) -> tuple[DataAsset | None, bool]:
    """Poll until settled; returns (last asset seen, timed out?)."""
    last: list[DataAsset] = []

    async def report(update: WaitProgress) -> None:
        last[:] = [update.data_asset]
        if progress is not None:
            message = f"{update.data_asset.state} after {update.elapsed:.0f} s (check {update.polls})"
            await progress(min(update.elapsed, update.timeout), update.timeout, message)

    try:
        return await client.wait_until_ready(data_asset_id, timeout=seconds, on_progress=report), False
    except WaitTimeoutError:
        return (last[0] if last else None), True


async def wait_for_data_asset(
    client: CodeOceanClient, args: WaitArgs, progress: ProgressFn | None = None
) -> WaitResult:
    data_asset_id = str(args.data_asset_id)
    settled, timed_out = await _wait(client, data_asset_id, args.timeout, progress)
    if settled is None:  # pragma: no cover - wait_until_ready always reports at least one poll
        settled = await client.get_data_asset(data_asset_id)
    detail = asset_detail(settled)
    return WaitResult(
        asset=asset_summary(settled),
        state=detail.state,
        failure_reason=detail.failure_reason,
        timed_out=timed_out or None,
    )
