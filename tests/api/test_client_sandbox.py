"""The co_mcp client against the sandbox: the same behaviours as the SDK acceptance, in-process and over loopback."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import pytest

from co_mcp.api import CodeOceanClient
from co_mcp.api.models import (
    AWSS3Target,
    ComputationSource,
    DataAssetParams,
    DataAssetSearchParams,
    DataAssetUpdateParams,
    Permissions,
    Source,
    Target,
    TransferDataParams,
    UserPermission,
)
from co_mcp.errors import BadRequestError, NotFoundError, PermissionDeniedError
from co_mcp.sandbox import Sandbox
from co_mcp.sandbox.demo_data import DEMO_COMPUTATION_ID
from co_mcp.sandbox.files import FileTree
from co_mcp.sandbox.server import running
from tests.conftest import FAST_RETRY, client_for

pytestmark = pytest.mark.anyio


@contextmanager
def connected(sandbox: Sandbox, how: str, user: str = "alice") -> Iterator[CodeOceanClient]:
    if how == "inprocess":
        yield client_for(sandbox, user)
        return
    with running(sandbox) as base_url:
        yield CodeOceanClient(base_url, sandbox.token_for(user), retry=FAST_RETRY, reconcile_delays=(0.0,))


@pytest.fixture(params=["inprocess", "loopback"])
def how(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def co(sandbox: Sandbox, how: str) -> AsyncIterator[CodeOceanClient]:
    with connected(sandbox, how) as client:
        async with client:
            yield client


def s3(bucket: str = "lab-bucket", prefix: str = "runs/7") -> Source:
    return Source.model_validate({"aws": {"bucket": bucket, "prefix": prefix}})


def own_asset(sandbox: Sandbox) -> str:
    alice = sandbox.users["alice"].id
    return next(
        r.id for r in sandbox.store.all_assets() if r.owner_id == alice and r.state == "ready" and not r.archived
    )


async def test_get_matches_the_store(co: CodeOceanClient, sandbox: Sandbox) -> None:
    record = sandbox.store.get_asset(own_asset(sandbox))
    assert record is not None
    asset = await co.get_data_asset(record.id)
    assert (asset.id, asset.name, asset.created, asset.mount, asset.tags) == (
        record.id,
        record.name,
        record.created,
        record.mount,
        record.tags,
    )


async def test_update_changes_only_the_given_field(co: CodeOceanClient, sandbox: Sandbox) -> None:
    asset_id = own_asset(sandbox)
    before = sandbox.store.get_asset(asset_id)
    assert before is not None
    await co.update_data_asset(asset_id, DataAssetUpdateParams(description="new words"))
    after = sandbox.store.get_asset(asset_id)
    assert after is not None
    assert (after.name, after.description, after.tags) == (before.name, "new words", before.tags)


async def test_create_then_wait_gives_one_ready_asset_without_the_nonce(co: CodeOceanClient, sandbox: Sandbox) -> None:
    before = sandbox.store.count_assets()
    created = await co.create_data_asset(DataAssetParams(name="From S3", mount="s3", tags=["raw"], source=s3()))
    ready = await co.wait_until_ready(created.id, timeout=10)
    assert ready.state == "ready"
    assert sandbox.store.count_assets() == before + 1
    stored = sandbox.store.get_asset(created.id)
    assert stored is not None
    assert stored.tags == ["raw"]


async def test_a_slow_create_loses_its_reconciliation_tag_while_still_a_draft(
    co: CodeOceanClient, sandbox: Sandbox
) -> None:
    sandbox.api.ready_delay = 60
    created = await co.create_data_asset(DataAssetParams(name="Slow", mount="slow", tags=["raw"], source=s3()))
    assert created.state == "draft"
    stored = sandbox.store.get_asset(created.id)
    assert stored is not None
    assert stored.tags == ["raw"]


async def test_create_from_a_computation_is_a_result_with_provenance(co: CodeOceanClient) -> None:
    source = Source(computation=ComputationSource(id=DEMO_COMPUTATION_ID))
    created = await co.create_data_asset(DataAssetParams(name="Results", mount="results", source=source))
    assert created.type == "result"
    assert created.provenance is not None
    assert created.provenance.computation == DEMO_COMPUTATION_ID


async def test_create_combined_lists_its_members(co: CodeOceanClient, sandbox: Sandbox) -> None:
    alice = sandbox.users["alice"].id
    members = [r.id for r in sandbox.store.all_assets() if r.owner_id == alice and r.state == "ready"][:2]
    created = await co.create_data_asset(DataAssetParams(name="Both", mount="both", data_asset_ids=members))
    assert created.type == "combined"
    assert sorted(c.id or "" for c in created.contained_data_assets or []) == sorted(members)


async def test_archive_hides_from_default_search_and_unarchive_restores(co: CodeOceanClient, sandbox: Sandbox) -> None:
    asset_id = own_asset(sandbox)
    record = sandbox.store.get_asset(asset_id)
    assert record is not None
    query = f'name:"{record.name}"'

    async def found(archived: bool | None) -> bool:
        params = DataAssetSearchParams(query=query, archived=archived)
        return asset_id in [a.id async for a in co.iter_data_assets(params)]

    await co.archive_data_asset(asset_id)
    assert not await found(None)
    assert await found(True)
    await co.archive_data_asset(asset_id, archive=False)
    assert await found(None)


async def test_delete_then_get_is_not_found(co: CodeOceanClient, sandbox: Sandbox) -> None:
    asset_id = own_asset(sandbox)
    await co.delete_data_asset(asset_id)
    assert sandbox.store.get_asset(asset_id) is None
    with pytest.raises(NotFoundError):
        await co.get_data_asset(asset_id)


async def test_permissions_round_trip(co: CodeOceanClient, sandbox: Sandbox) -> None:
    asset_id = own_asset(sandbox)
    await co.update_permissions(asset_id, Permissions(users=[UserPermission(email="carol@example.org", role="viewer")]))
    read_back = await co.get_permissions(asset_id)
    assert ("carol@example.org", "viewer") in [(u.email, u.role) for u in read_back.users or []]
    stored = sandbox.store.get_asset(asset_id)
    assert stored is not None
    assert stored.shared_users["carol@example.org"] == "viewer"


async def test_search_pages_iterate_every_visible_asset_once(co: CodeOceanClient, sandbox: Sandbox) -> None:
    ids = [a.id async for a in co.iter_data_assets(DataAssetSearchParams(limit=7))]
    assert len(ids) == len(set(ids))
    assert len(ids) == sandbox.store.count_visible(sandbox.users["alice"], archived=False)
    assert sandbox.request_log.count(operation="search") == max(1, math.ceil(len(ids) / 7))


async def test_files_list_urls_and_ranged_read_match_the_tree(co: CodeOceanClient, sandbox: Sandbox) -> None:
    created = await co.create_data_asset(DataAssetParams(name="Files", mount="files", source=s3()))
    record = sandbox.store.get_asset((await co.wait_until_ready(created.id, timeout=10)).id)
    assert record is not None
    tree = FileTree.for_asset(record.id, record.files or 1, record.size or 0, record.type)
    root = await co.list_data_asset_files(record.id)
    assert [(i.path, i.type) for i in root.items] == [(i["path"], i["type"]) for i in tree.list("")]
    item = next(i for i in root.items if i.type == "file")
    urls = await co.get_data_asset_file_urls(record.id, item.path)
    chunk = await co.read_file_range(urls.download_url, offset=0, length=100)
    assert chunk.total_size == item.size
    assert chunk.content == tree.read(item.path, 0, min(100, item.size or 0))


async def test_transfer_needs_an_admin(sandbox: Sandbox, how: str) -> None:
    asset_id = own_asset(sandbox)
    params = TransferDataParams(target=Target(aws=AWSS3Target(bucket="cold", prefix="x")), force=True)
    with connected(sandbox, how) as alice:
        async with alice:
            with pytest.raises(PermissionDeniedError):
                await alice.transfer_data_asset(asset_id, params)
    with connected(sandbox, how, "admin") as admin:
        async with admin:
            await admin.transfer_data_asset(asset_id, params)
    stored = sandbox.store.get_asset(asset_id)
    assert stored is not None
    assert stored.source_bucket is not None
    assert stored.source_bucket["bucket"] == "cold"


async def test_custom_metadata_schema(co: CodeOceanClient) -> None:
    schema = await co.get_custom_metadata_schema()
    assert schema.fields


async def test_a_read_only_token_cannot_write_and_nothing_changes(sandbox: Sandbox, how: str) -> None:
    asset_id = own_asset(sandbox)
    with connected(sandbox, how, "alice_readonly") as reader:
        async with reader:
            with pytest.raises(PermissionDeniedError):
                await reader.update_data_asset(asset_id, DataAssetUpdateParams(name="nope"))
    stored = sandbox.store.get_asset(asset_id)
    assert stored is not None
    assert stored.name != "nope"


async def test_a_rejected_body_names_the_field(co: CodeOceanClient, sandbox: Sandbox) -> None:
    asset_id = own_asset(sandbox)
    with pytest.raises(BadRequestError) as caught:
        await co.update_data_asset(asset_id, DataAssetUpdateParams(custom_metadata={"no_such_field": "x"}))
    assert "no_such_field" in caught.value.message


async def test_signed_links_refuse_a_tampered_signature(co: CodeOceanClient, sandbox: Sandbox) -> None:
    created = await co.create_data_asset(DataAssetParams(name="Links", mount="links", source=s3()))
    await co.wait_until_ready(created.id, timeout=10)
    item = next(i for i in (await co.list_data_asset_files(created.id)).items if i.type == "file")
    urls = await co.get_data_asset_file_urls(created.id, item.path)
    with pytest.raises(PermissionDeniedError):
        await co.read_file_range(urls.download_url.replace("sig=", "sig=0"), length=10)
