"""create_data_asset: a data asset from S3, GCS, a computation, a cloud workstation, or combined assets.

A create is never sent twice once it may have reached Code Ocean (the client's create nonce); with ``wait`` the
tool then waits until the asset is ready or failed, and a failing wait is reported as such, never as a failed
create (that would invite a duplicate).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field

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
from co_mcp.errors import CodeOceanError, InvalidArgumentError, explain
from co_mcp.text import quoted
from co_mcp.tools.common import MAX_BATCH, Args, DataAssetId, MetadataValue, Mount, Tags, Uuid
from co_mcp.tools.definition import Deps, ToolDefinition
from co_mcp.tools.views import AssetSummary, Foreign, ForeignLine, View, asset_detail, asset_summary
from co_mcp.tools.wait import DEFAULT_WAIT, MAX_WAIT, wait_until_settled

if TYPE_CHECKING:
    from collections.abc import Mapping

    from co_mcp.api.models import DataAsset
    from co_mcp.config import CredentialSet

__all__ = ["TOOL", "CreateArgs", "CreateResult", "create_data_asset", "default_mount", "to_params"]


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

    def as_text(self) -> str:
        asset = self.asset
        mount = f"mount {quoted(self.mount)}"
        if asset.state == "draft":
            after = (
                f"Still draft after waiting; call wait_for_data_asset with data_asset_id={asset.id}."
                if self.timed_out
                else f"It is being created: call wait_for_data_asset with data_asset_id={asset.id} before using it."
            )
        elif asset.state == "failed":
            after = f"Creation failed: {quoted(self.failure_reason or 'no reason given')}."
        else:
            after = f"It is {asset.state}" + (" after waiting." if self.waited else ".")
        if self.wait_error:
            after = (
                f"It was created, but waiting for it failed: {self.wait_error} Do not create it again: call "
                f"wait_for_data_asset with data_asset_id={asset.id}."
            )
        return f"Created data asset.\n{asset.as_text()}; {mount}\n{after}"


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


async def create_data_asset(deps: Deps, args: CreateArgs) -> CreateResult:
    client = deps.client
    created = await client.create_data_asset(to_params(args, deps.credentials))
    if not args.wait or created.is_settled:
        return _created(created, waited=args.wait)
    try:
        settled, timed_out = await wait_until_settled(client, created.id, args.wait_timeout, deps.progress)
    except CodeOceanError as exc:
        # The asset exists: reporting an error now would invite a retry, and a duplicate.
        return _created(created, waited=True, wait_error=explain(exc))
    if settled is not None and not timed_out:
        # If the deployment refused to edit the draft, the create's bookkeeping tag is still there.
        settled = await client.strip_create_tags(settled)
    return _created(settled or created, waited=True, timed_out=timed_out)


TOOL = ToolDefinition(
    name="create_data_asset",
    title="Create a data asset",
    description=(
        "Create a data asset from S3, GCS (a credential set's name, never secrets), a computation, a cloud "
        "workstation, or combined assets (source.kind). It starts as draft: set wait or call wait_for_data_asset "
        "before use."
    ),
    args=CreateArgs,
    result=CreateResult,
    effect="write",
    run=create_data_asset,
    # Each call makes a new asset.
    idempotent=False,
)
