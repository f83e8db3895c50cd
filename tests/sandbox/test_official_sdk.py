"""The official ``codeocean`` SDK (0.17.0, unchanged) drives the sandbox over loopback HTTP.

The SDK is an independent client written by Code Ocean: whatever it sends, the sandbox must accept,
and whatever the sandbox returns, the SDK must parse. Each test checks the outcome in the sandbox's
own store, not only what the SDK returned.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from codeocean import CodeOcean
from codeocean.components import EveryoneRole, GroupPermissions, GroupRole, Permissions, UserPermissions, UserRole
from codeocean.data_asset import (
    AWSS3Source,
    AWSS3Target,
    ComputationSource,
    DataAssetParams,
    DataAssetSearchParams,
    DataAssetSortBy,
    DataAssetState,
    DataAssetType,
    DataAssetUpdateParams,
    Source,
    Target,
    TransferDataParams,
)
from codeocean.error import Error as SDKError

from co_mcp.sandbox import Sandbox
from co_mcp.sandbox.demo_data import DEMO_COMPUTATION_ID, DEMO_DATASET_ID, DEMO_RELEASE_ID
from co_mcp.sandbox.records import AssetRecord
from co_mcp.sandbox.server import running

pytestmark = pytest.mark.loopback


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Sandbox, str]]:
    sandbox = Sandbox(assets=60, seed=11, ready_delay=0.0)
    with running(sandbox) as base_url:
        yield sandbox, base_url


@pytest.fixture
def sandbox(served: tuple[Sandbox, str]) -> Sandbox:
    return served[0]


@pytest.fixture
def sdk(served: tuple[Sandbox, str]) -> CodeOcean:
    sandbox, base_url = served
    return CodeOcean(domain=base_url, token=sandbox.token_for("alice"), agent_id="sdk-acceptance")


@pytest.fixture
def admin_sdk(served: tuple[Sandbox, str]) -> CodeOcean:
    sandbox, base_url = served
    return CodeOcean(domain=base_url, token=sandbox.token_for("admin"))


def own_ready_asset_id(sdk: CodeOcean, mount: str = "sdk-acceptance") -> str:
    """A fresh internal dataset owned by alice, so tests do not depend on each other's changes."""
    created = sdk.data_assets.create_data_asset(
        DataAssetParams(
            name="SDK acceptance dataset",
            tags=["sdk", "acceptance"],
            mount=mount,
            description="made by the official SDK",
            source=Source(aws=AWSS3Source(bucket="co-sandbox-public", prefix="rna/pbmc", public=True)),
        )
    )
    ready_id: str = sdk.data_assets.wait_until_ready(created, polling_interval=5, timeout=30).id
    return ready_id


def test_get_data_asset_parses_every_field(sdk: CodeOcean, sandbox: Sandbox) -> None:
    record = next(a for a in sandbox.store.all_assets() if a.owner_id == sandbox.users["alice"].id)
    asset = sdk.data_assets.get_data_asset(record.id)
    assert (asset.id, asset.name, asset.created, asset.state) == (record.id, record.name, record.created, record.state)
    assert asset.owner_email == "alice@example.org"


def test_create_then_wait_until_ready(sdk: CodeOcean, sandbox: Sandbox) -> None:
    created = sdk.data_assets.create_data_asset(
        DataAssetParams(
            name="SDK created from S3",
            tags=["sdk"],
            mount="sdk-s3",
            source=Source(aws=AWSS3Source(bucket="co-sandbox-public", prefix="imaging/v1")),
        )
    )
    assert created.state == DataAssetState.Draft
    ready = sdk.data_assets.wait_until_ready(created, polling_interval=5, timeout=30)
    assert ready.state == DataAssetState.Ready
    stored = sandbox.store.get_asset(created.id)
    assert stored is not None
    assert stored.name == "SDK created from S3"


def test_a_draft_has_no_files_or_size_until_it_is_ready(sdk: CodeOcean, sandbox: Sandbox) -> None:
    created = sdk.data_assets.create_data_asset(
        DataAssetParams(
            name="SDK draft sizes",
            tags=[],
            mount="sdk-draft",
            source=Source(aws=AWSS3Source(bucket="co-sandbox-public", prefix="sizes")),
        )
    )
    assert (created.state, created.files, created.size) == (DataAssetState.Draft, None, None)
    ready = sdk.data_assets.wait_until_ready(created, polling_interval=5, timeout=30)
    stored = sandbox.store.get_asset(created.id)
    assert stored is not None
    assert (ready.files, ready.size) == (stored.files, stored.size)
    assert ready.size


def test_create_from_a_computation_gives_a_result_with_provenance(sdk: CodeOcean) -> None:
    created = sdk.data_assets.create_data_asset(
        DataAssetParams(
            name="SDK result",
            tags=[],
            mount="sdk-result",
            source=Source(computation=ComputationSource(id=DEMO_COMPUTATION_ID)),
        )
    )
    assert created.type == DataAssetType.Result
    assert created.provenance is not None
    assert created.provenance.computation == DEMO_COMPUTATION_ID


def test_a_result_lists_the_runs_inputs_in_its_provenance(sdk: CodeOcean, sandbox: Sandbox) -> None:
    created = sdk.data_assets.create_data_asset(
        DataAssetParams(
            name="SDK lineage",
            tags=[],
            mount="sdk-lineage",
            source=Source(computation=ComputationSource(id=DEMO_COMPUTATION_ID)),
        )
    )
    ready = sdk.data_assets.wait_until_ready(created, polling_interval=5, timeout=30)
    assert ready.provenance is not None
    assert ready.provenance.data_assets == [DEMO_DATASET_ID, DEMO_RELEASE_ID]
    inputs = [sdk.data_assets.get_data_asset(asset_id) for asset_id in ready.provenance.data_assets]
    assert [asset.name for asset in inputs] == [
        record.name for record in map(sandbox.store.get_asset, ready.provenance.data_assets) if record
    ]


def test_a_computation_path_captures_only_that_folder(sdk: CodeOcean, sandbox: Sandbox) -> None:
    root = sdk.computations.list_computation_results(DEMO_COMPUTATION_ID)
    folder = next(item for item in root.items if item.type == "folder")
    in_run = sdk.computations.list_computation_results(DEMO_COMPUTATION_ID, folder.path).items
    created = sdk.data_assets.create_data_asset(
        DataAssetParams(
            name="SDK one folder",
            tags=[],
            mount="sdk-folder",
            source=Source(computation=ComputationSource(id=DEMO_COMPUTATION_ID, path=folder.path + "/")),
        )
    )
    ready = sdk.data_assets.wait_until_ready(created, polling_interval=5, timeout=30)
    in_asset = sdk.data_assets.list_data_asset_files(ready.id).items
    assert [(i.name, i.type, i.size) for i in in_asset] == [(i.name, i.type, i.size) for i in in_run]
    computation = sandbox.store.get_computation(DEMO_COMPUTATION_ID)
    assert computation is not None
    assert ready.size is not None
    assert 0 < ready.size < computation.result_size


def test_a_computation_path_that_does_not_exist_is_an_error_naming_it(sdk: CodeOcean, sandbox: Sandbox) -> None:
    before = sandbox.store.count_assets()
    with pytest.raises(SDKError) as caught:
        sdk.data_assets.create_data_asset(
            DataAssetParams(
                name="SDK missing folder",
                tags=[],
                mount="sdk-missing",
                source=Source(computation=ComputationSource(id=DEMO_COMPUTATION_ID, path="Alignment/")),
            )
        )
    assert caught.value.status_code == 400
    assert "'Alignment'" in caught.value.message
    assert sandbox.store.count_assets() == before


def test_create_combined_lists_its_members(sdk: CodeOcean) -> None:
    members = [own_ready_asset_id(sdk, "first"), own_ready_asset_id(sdk, "second")]
    created = sdk.data_assets.create_data_asset(
        DataAssetParams(name="SDK combined", tags=[], mount="combined", data_asset_ids=members)
    )
    assert created.type == DataAssetType.Combined
    assert sorted(c.id for c in created.contained_data_assets or []) == sorted(members)


def test_deleting_a_member_drops_it_from_the_combined_asset(sdk: CodeOcean) -> None:
    members = [own_ready_asset_id(sdk, "first"), own_ready_asset_id(sdk, "second")]
    combined = sdk.data_assets.create_data_asset(
        DataAssetParams(name="SDK combined for delete", tags=[], mount="combined-delete", data_asset_ids=members)
    )
    combined = sdk.data_assets.wait_until_ready(combined, polling_interval=5, timeout=30)

    def holders(member: str) -> list[str]:
        params = DataAssetSearchParams(query=f"contained_data_id:{member}")
        return [a.id for a in sdk.data_assets.search_data_assets(params).results]

    assert holders(members[0]) == [combined.id]
    kept = sdk.data_assets.get_data_asset(members[1])
    sdk.data_assets.delete_data_asset(members[0])
    assert holders(members[0]) == []
    after = sdk.data_assets.get_data_asset(combined.id)
    assert [c.id for c in after.contained_data_assets or []] == [members[1]]
    assert (after.files, after.size) == (kept.files, kept.size)


def test_update_metadata_changes_only_what_is_given(sdk: CodeOcean, sandbox: Sandbox) -> None:
    asset_id = own_ready_asset_id(sdk)
    # The SDK sends all five keys, with null for the four it leaves alone.
    updated = sdk.data_assets.update_metadata(asset_id, DataAssetUpdateParams(name="renamed by SDK"))
    assert updated.name == "renamed by SDK"
    stored = sandbox.store.get_asset(asset_id)
    assert stored is not None
    assert (stored.name, stored.description, stored.tags) == (
        "renamed by SDK",
        "made by the official SDK",
        ["sdk", "acceptance"],
    )


def test_archive_hides_from_default_search_and_unarchive_restores(sdk: CodeOcean, sandbox: Sandbox) -> None:
    asset_id = own_ready_asset_id(sdk)
    query = 'name:"SDK acceptance dataset"'

    def found(archived: bool | None) -> bool:
        params = DataAssetSearchParams(query=query, limit=1000, archived=archived)
        return any(a.id == asset_id for a in sdk.data_assets.search_data_assets_iterator(params))

    sdk.data_assets.archive_data_asset(asset_id, archive=True)  # sent as ?archive=True
    stored = sandbox.store.get_asset(asset_id)
    assert stored is not None
    assert stored.archived
    assert not found(None)
    assert found(True)
    sdk.data_assets.archive_data_asset(asset_id, archive=False)
    assert found(None)


def test_search_one_page_reports_has_more_and_a_string_token(sdk: CodeOcean) -> None:
    page = sdk.data_assets.search_data_assets(DataAssetSearchParams(limit=5))
    assert len(page.results) == 5
    assert page.has_more
    assert isinstance(page.next_token, str)


def test_search_iterator_walks_several_pages_without_duplicates(sdk: CodeOcean, sandbox: Sandbox) -> None:
    everything = list(sdk.data_assets.search_data_assets_iterator(DataAssetSearchParams(limit=7)))
    ids = [a.id for a in everything]
    assert len(ids) == len(set(ids))
    assert len(ids) > 7 * 3
    assert len(ids) == sandbox.store.count_visible(sandbox.users["alice"], archived=False)


def test_a_quoted_phrase_matches_inside_one_tag_not_across_tags(sdk: CodeOcean) -> None:
    # The demo PBMC dataset has the tags pbmc, raw and human: three values, not one phrase.
    def found(query: str) -> list[str]:
        return [a.id for a in sdk.data_assets.search_data_assets(DataAssetSearchParams(query=query)).results]

    assert DEMO_DATASET_ID in found("pbmc raw human")
    assert DEMO_DATASET_ID not in found('"pbmc raw human"')
    assert DEMO_DATASET_ID in found('"healthy donors"')


def test_free_text_comes_in_relevance_order_and_a_sort_field_overrides_it(sdk: CodeOcean, sandbox: Sandbox) -> None:
    alice = sandbox.users["alice"].id
    in_name = AssetRecord(
        "00000000-0000-4000-8000-00000000a001", 1_000, "Quokka census", "q1", alice, "ready", "dataset"
    )
    in_description = AssetRecord(
        "00000000-0000-4000-8000-00000000a002", 2_000, "Island survey", "q2", alice, "ready", "dataset"
    )
    in_description.description = "one quokka seen near the jetty"
    sandbox.store.insert_asset(in_name)
    sandbox.store.insert_asset(in_description)

    def order(**params: Any) -> list[str]:
        page = sdk.data_assets.search_data_assets(DataAssetSearchParams(query="quokka", **params))
        return [a.id for a in page.results]

    assert order() == [in_name.id, in_description.id]
    assert order(sort_field=DataAssetSortBy.Created) == [in_description.id, in_name.id]


def test_permissions_round_trip(sdk: CodeOcean, sandbox: Sandbox) -> None:
    asset_id = own_ready_asset_id(sdk)
    sdk.data_assets.update_permissions(
        asset_id,
        Permissions(
            users=[UserPermissions(email="bob@example.org", role=UserRole.Editor)],
            groups=[GroupPermissions(group="imaging", role=GroupRole.Discoverable)],
            everyone=EveryoneRole.None_,
            share_assets=True,
        ),
    )
    read_back = sdk.data_assets.get_permissions(asset_id)
    assert ("bob@example.org", "editor") in [(u.email, u.role) for u in read_back.users or []]
    assert ("imaging", "discoverable") in [(g.group, g.role) for g in read_back.groups or []]
    stored = sandbox.store.get_asset(asset_id)
    assert stored is not None
    assert stored.shared_users == {"bob@example.org": "editor"}


def test_list_files_and_get_file_urls_that_download(sdk: CodeOcean) -> None:
    asset_id = own_ready_asset_id(sdk)
    root = sdk.data_assets.list_data_asset_files(asset_id)
    assert root.items
    file_item = next(item for item in root.items if item.type == "file")
    urls = sdk.data_assets.get_data_asset_file_urls(asset_id, file_item.path)
    # Signed links are fetched without the token, as the SDK's users do.
    download = httpx2.get(urls.download_url)
    assert download.status_code == 200
    assert len(download.content) == file_item.size
    folder = next((item for item in root.items if item.type == "folder"), None)
    if folder is not None:
        inner = sdk.data_assets.list_data_asset_files(asset_id, folder.path)
        assert all(item.path.startswith(folder.path + "/") for item in inner.items)


def test_deprecated_download_url_still_answers(sdk: CodeOcean) -> None:
    asset_id = own_ready_asset_id(sdk)
    file_item = next(i for i in sdk.data_assets.list_data_asset_files(asset_id).items if i.type == "file")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        url = sdk.data_assets.get_data_asset_file_download_url(asset_id, file_item.path)
    assert httpx2.get(url.url).status_code == 200


def test_transfer_is_admin_only(sdk: CodeOcean, admin_sdk: CodeOcean, sandbox: Sandbox) -> None:
    asset_id = own_ready_asset_id(sdk)
    params = TransferDataParams(target=Target(aws=AWSS3Target(bucket="archive-bucket", prefix="moved")))
    with pytest.raises(SDKError) as caught:
        sdk.data_assets.transfer_data_asset(asset_id, params)
    assert caught.value.status_code == 403
    admin_sdk.data_assets.transfer_data_asset(asset_id, params)
    stored = sandbox.store.get_asset(asset_id)
    assert stored is not None
    assert stored.source_bucket is not None
    assert (stored.source_bucket["bucket"], stored.source_bucket["external"]) == ("archive-bucket", True)
    assert stored.last_transferred is not None


def test_delete_then_get_is_404(sdk: CodeOcean, sandbox: Sandbox) -> None:
    asset_id = own_ready_asset_id(sdk)
    sdk.data_assets.delete_data_asset(asset_id)
    assert sandbox.store.get_asset(asset_id) is None
    with pytest.raises(SDKError) as caught:
        sdk.data_assets.get_data_asset(asset_id)
    assert caught.value.status_code == 404


def test_custom_metadata_schema_parses(sdk: CodeOcean) -> None:
    schema = sdk.custom_metadata.get_custom_metadata()
    assert schema.fields
