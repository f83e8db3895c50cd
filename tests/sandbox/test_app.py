"""The data-asset REST API over in-process HTTP: auth, access rules, every endpoint, and error bodies.

Each test checks what the store holds (or the request log saw) as well as the status code.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx2
import pytest

from co_mcp.sandbox import Sandbox, files
from co_mcp.sandbox.demo_data import (
    ALICE_ID,
    CAROL_ID,
    CUSTOM_METADATA_SCHEMA,
    DEMO_BOB_COMPUTATION_ID,
    DEMO_CLOUD_WORKSTATION_ID,
    DEMO_COMBINED_ID,
    DEMO_COMPUTATION_ID,
    DEMO_DATASET_ID,
    DEMO_DRAFT_ID,
    DEMO_EXTERNAL_ID,
    DEMO_FAILED_COMPUTATION_ID,
    DEMO_FAILED_ID,
    DEMO_MODEL_ID,
    DEMO_PIPELINE_COMPUTATION_ID,
    DEMO_PRIVATE_ID,
    DEMO_RELEASE_ID,
    DEMO_RUNNING_COMPUTATION_ID,
    DEMO_SHARED_ID,
)
from co_mcp.sandbox.files import tree_for
from co_mcp.sandbox.records import AssetRecord
from tests.sandbox.conftest import ClientFactory, Clock, basic, record, uid

pytestmark = pytest.mark.anyio

ASSETS = "/api/v1/data_assets"
REQUIRED_KEYS = {"id", "created", "name", "mount", "last_used", "owner", "state", "type"}


def stored(sandbox: Sandbox, asset_id: str) -> AssetRecord:
    asset = sandbox.store.get_asset(asset_id)
    assert asset is not None, f"{asset_id} is not in the store"
    return asset


def sdk_create_body(**overrides: Any) -> dict[str, Any]:
    """A create body as the SDK sends it: every key present, null for what is unset."""
    body: dict[str, Any] = {
        "name": "Fresh import",
        "tags": ["fresh"],
        "mount": "fresh",
        "description": None,
        "source": {
            "aws": {
                "bucket": "co-sandbox-public",
                "endpoint_name": None,
                "prefix": "rna/pbmc",
                "keep_on_external_storage": None,
                "public": True,
                "use_input_bucket": None,
            },
            "gcp": None,
            "computation": None,
            "cloud_workstation": None,
        },
        "target": None,
        "custom_metadata": None,
        "data_asset_ids": None,
        "results_info": None,
    }
    body.update(overrides)
    return body


def source(**one: Any) -> dict[str, Any]:
    return {"aws": None, "gcp": None, "computation": None, "cloud_workstation": None, **one}


async def create_ready(client: httpx2.AsyncClient, **overrides: Any) -> dict[str, Any]:
    """Create an asset, then read it once so it settles (ready_delay is 0)."""
    created = await client.post(ASSETS, json=sdk_create_body(**overrides))
    assert created.status_code == 200, created.text
    settled = await client.get(f"{ASSETS}/{created.json()['id']}")
    return dict(settled.json())


# --- authentication -----------------------------------------------------------------------------------


async def test_no_authorization_is_401_with_a_message(anonymous: httpx2.AsyncClient) -> None:
    response = await anonymous.get(f"{ASSETS}/{DEMO_DATASET_ID}")
    assert response.status_code == 401
    assert "Authorization" in response.json()["message"]
    assert response.headers["www-authenticate"].startswith("Basic")


@pytest.mark.parametrize(
    "header",
    [
        "Basic " + base64.b64encode(b"cop_not_a_token:").decode(),
        "Bearer cop_sandbox_token",
        "Basic !!!not-base64",
    ],
)
async def test_a_wrong_or_malformed_credential_is_401(anonymous: httpx2.AsyncClient, header: str) -> None:
    response = await anonymous.get(f"{ASSETS}/{DEMO_DATASET_ID}", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["message"]


async def test_sdk_headers_are_accepted(anonymous: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    headers = {**basic(sandbox.token_for("alice")), "Min-Server-Version": "4.8.0", "Agent-Id": "AI Agent"}
    response = await anonymous.get(f"{ASSETS}/{DEMO_DATASET_ID}", headers=headers)
    assert response.status_code == 200


async def test_a_read_only_token_cannot_write(client_as: ClientFactory, sandbox: Sandbox) -> None:
    async with client_as("alice_readonly") as readonly:
        response = await readonly.put(f"{ASSETS}/{DEMO_DATASET_ID}", json={"name": "hijacked"})
    assert response.status_code == 403
    assert "read-only" in response.json()["message"]
    assert stored(sandbox, DEMO_DATASET_ID).name != "hijacked"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "", {}),
        ("PATCH", f"/{DEMO_DATASET_ID}/archive?archive=true", None),
        ("DELETE", f"/{DEMO_DATASET_ID}", None),
        ("POST", f"/{DEMO_DATASET_ID}/permissions", {"everyone": "viewer"}),
        ("POST", f"/{DEMO_DATASET_ID}/transfer", {"target": {"aws": {"bucket": "b"}}}),
    ],
)
async def test_every_write_refuses_a_read_only_token(
    client_as: ClientFactory, sandbox: Sandbox, method: str, path: str, body: dict[str, Any] | None
) -> None:
    before = sandbox.store.count_assets()
    async with client_as("alice_readonly") as readonly:
        response = await readonly.request(method, ASSETS + path, json=body)
    assert response.status_code == 403
    assert sandbox.store.count_assets() == before
    assert not stored(sandbox, DEMO_DATASET_ID).archived


async def test_a_read_only_token_can_search_and_list_files(client_as: ClientFactory) -> None:
    async with client_as("alice_readonly") as readonly:
        search = await readonly.post(f"{ASSETS}/search", json={"limit": 1})
        listing = await readonly.post(f"{ASSETS}/{DEMO_DATASET_ID}/files", json={"path": ""})
    assert (search.status_code, listing.status_code) == (200, 200)


# --- get --------------------------------------------------------------------------------------------------


async def test_get_returns_every_required_key_with_integer_times(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    body = (await client.get(f"{ASSETS}/{DEMO_DATASET_ID}")).json()
    assert body.keys() >= REQUIRED_KEYS
    assert all(isinstance(body[key], int) for key in ("created", "last_used", "size"))
    assert (body["id"], body["owner"], body["owner_email"]) == (DEMO_DATASET_ID, ALICE_ID, "alice@example.org")
    assert body["name"] == stored(sandbox, DEMO_DATASET_ID).name


async def test_get_never_shows_server_side_state(client: httpx2.AsyncClient) -> None:
    body = (await client.get(f"{ASSETS}/{DEMO_DATASET_ID}")).json()
    assert not body.keys() & {"archived", "shared_users", "favorited_by", "settles_at", "owner_id"}


@pytest.mark.parametrize("asset_id", ["not-a-uuid", "a%20b", uid(404)])
async def test_get_of_a_bad_or_unknown_id_is_404(client: httpx2.AsyncClient, asset_id: str) -> None:
    response = await client.get(f"{ASSETS}/{asset_id}")
    assert response.status_code == 404
    assert "not found" in response.json()["message"]


async def test_an_invisible_asset_looks_exactly_like_a_missing_one(client: httpx2.AsyncClient) -> None:
    hidden = await client.get(f"{ASSETS}/{DEMO_PRIVATE_ID}")
    missing = await client.get(f"{ASSETS}/{uid(404)}")
    assert (hidden.status_code, missing.status_code) == (404, 404)
    assert hidden.json()["message"].replace(DEMO_PRIVATE_ID, "X") == missing.json()["message"].replace(uid(404), "X")


@pytest.mark.parametrize(
    ("user", "asset_id"),
    [("bob", DEMO_DATASET_ID), ("alice", DEMO_SHARED_ID), ("carol", DEMO_MODEL_ID), ("admin", DEMO_PRIVATE_ID)],
)
async def test_shared_public_and_admin_access_can_read(client_as: ClientFactory, user: str, asset_id: str) -> None:
    async with client_as(user) as http:
        assert (await http.get(f"{ASSETS}/{asset_id}")).status_code == 200


async def test_a_draft_settles_on_a_read_once_it_is_due(client: httpx2.AsyncClient, clock: Clock) -> None:
    assert (await client.get(f"{ASSETS}/{DEMO_DRAFT_ID}")).json()["state"] == "draft"
    clock.advance(3600)
    assert (await client.get(f"{ASSETS}/{DEMO_DRAFT_ID}")).json()["state"] == "ready"


# --- update -----------------------------------------------------------------------------------------------


async def test_update_with_nulls_changes_only_what_is_given(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    before = stored(sandbox, DEMO_DATASET_ID)
    body = {"name": "Renamed", "description": None, "tags": None, "mount": None, "custom_metadata": None}
    response = await client.put(f"{ASSETS}/{DEMO_DATASET_ID}", json=body)
    assert response.status_code == 200
    assert response.json()["name"] == "Renamed"
    after = stored(sandbox, DEMO_DATASET_ID)
    assert (after.name, after.description, after.tags, after.mount, after.custom_metadata) == (
        "Renamed",
        before.description,
        before.tags,
        before.mount,
        before.custom_metadata,
    )


async def test_update_tags_replaces_the_list(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    await client.put(f"{ASSETS}/{DEMO_DATASET_ID}", json={"tags": ["only"]})
    assert stored(sandbox, DEMO_DATASET_ID).tags == ["only"]


async def test_update_custom_metadata_replaces_the_whole_map(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    metadata = {"modality": "derived", "sample_count": 4}
    response = await client.put(f"{ASSETS}/{DEMO_DATASET_ID}", json={"custom_metadata": metadata})
    assert response.status_code == 200
    assert stored(sandbox, DEMO_DATASET_ID).custom_metadata == metadata


async def test_update_with_an_empty_metadata_map_clears_it(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    await client.put(f"{ASSETS}/{DEMO_DATASET_ID}", json={"custom_metadata": {}})
    assert stored(sandbox, DEMO_DATASET_ID).custom_metadata is None


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({"modality": "derived", "colour": "red"}, "custom_metadata.colour: unknown field"),
        ({"modality": "derived", "sample_count": "4"}, "custom_metadata.sample_count: must be a number"),
        ({"modality": "derived", "sample_count": True}, "custom_metadata.sample_count: must be a number"),
        ({"modality": "derived", "acquisition_date": "2024-01-01"}, "custom_metadata.acquisition_date: must be a date"),
        ({"modality": "telepathy"}, "custom_metadata.modality: must be one of"),
        ({"modality": "derived", "sample_count": 0}, "custom_metadata.sample_count: must be between 1 and 1000000"),
        ({"modality": ["derived"]}, "custom_metadata.modality: takes a single value, not a list"),
        ({"modality": "derived", "instruments": ["Microwave"]}, "custom_metadata.instruments: must be one of"),
        ({"species": "Mus musculus"}, "custom_metadata.modality: is required"),
    ],
)
async def test_update_refuses_metadata_the_schema_does_not_allow(
    client: httpx2.AsyncClient, sandbox: Sandbox, metadata: dict[str, Any], message: str
) -> None:
    before = stored(sandbox, DEMO_DATASET_ID)
    response = await client.put(f"{ASSETS}/{DEMO_DATASET_ID}", json={"name": "changed", "custom_metadata": metadata})
    assert response.status_code == 400
    assert response.json()["message"].startswith(message)
    assert stored(sandbox, DEMO_DATASET_ID) == before


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"custom_metadata": {"modality": "derived", "sample_count": NaN}}', "custom_metadata.sample_count: must be"),
        (b"{not json", "request body is not valid JSON"),
        (b'{"name": 5}', "name: must be a string"),
        (b'{"tags": "a,b"}', "tags: must be a list"),
        (b'["name"]', "request body must be a JSON object"),
    ],
)
async def test_update_with_a_malformed_body_is_400(
    client: httpx2.AsyncClient, sandbox: Sandbox, raw: bytes, message: str
) -> None:
    before = stored(sandbox, DEMO_DATASET_ID)
    response = await client.put(f"{ASSETS}/{DEMO_DATASET_ID}", content=raw)
    assert response.status_code == 400
    assert response.json()["message"].startswith(message)
    assert stored(sandbox, DEMO_DATASET_ID) == before


async def test_a_viewer_cannot_update(client_as: ClientFactory, sandbox: Sandbox) -> None:
    async with client_as("bob") as bob:  # bob views DEMO_DATASET_ID
        response = await bob.put(f"{ASSETS}/{DEMO_DATASET_ID}", json={"name": "bob was here"})
    assert response.status_code == 403
    assert stored(sandbox, DEMO_DATASET_ID).name != "bob was here"


async def test_an_editor_can_update(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    response = await client.put(f"{ASSETS}/{DEMO_SHARED_ID}", json={"description": "edited by alice"})
    assert response.status_code == 200
    assert stored(sandbox, DEMO_SHARED_ID).description == "edited by alice"


async def test_a_drafts_metadata_can_be_edited(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    response = await client.put(f"{ASSETS}/{DEMO_DRAFT_ID}", json={"name": "named early"})
    assert response.status_code == 200
    assert stored(sandbox, DEMO_DRAFT_ID).name == "named early"


async def test_archiving_a_draft_is_409(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    response = await client.patch(f"{ASSETS}/{DEMO_DRAFT_ID}/archive", params={"archive": "true"})
    assert response.status_code == 409
    assert "still being created" in response.json()["message"]
    assert not stored(sandbox, DEMO_DRAFT_ID).archived


# --- create -----------------------------------------------------------------------------------------------


async def test_create_returns_a_draft_that_settles_ready(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    response = await client.post(ASSETS, json=sdk_create_body())
    assert response.status_code == 200
    created = response.json()
    assert (created["state"], created["type"], created["owner"]) == ("draft", "dataset", ALICE_ID)
    assert (await client.get(f"{ASSETS}/{created['id']}")).json()["state"] == "ready"
    asset = stored(sandbox, created["id"])
    assert (asset.name, asset.tags, asset.mount) == ("Fresh import", ["fresh"], "fresh")


async def test_a_draft_reports_no_files_or_size_until_it_is_ready(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    draft = (await client.post(ASSETS, json=sdk_create_body())).json()
    assert draft["state"] == "draft"
    assert not draft.keys() & {"files", "size"}
    ready = (await client.get(f"{ASSETS}/{draft['id']}")).json()
    asset = stored(sandbox, draft["id"])
    assert (ready["state"], ready["files"], ready["size"]) == ("ready", asset.files, asset.size)


async def test_a_draft_in_search_results_has_no_files_or_size(client: httpx2.AsyncClient) -> None:
    body = {"query": 'name:"Bulk RNA-seq liver fasting time course"', "limit": 5}
    results = (await client.post(f"{ASSETS}/search", json=body)).json()["results"]
    draft = next(r for r in results if r["id"] == DEMO_DRAFT_ID)
    assert draft["state"] == "draft"
    assert not draft.keys() & {"files", "size"}


async def test_a_draft_sorts_by_size_with_the_assets_of_unknown_size(
    client: httpx2.AsyncClient, sandbox: Sandbox, clock: Clock
) -> None:
    sandbox.store.insert_asset(record(uid(1), name="sized", size=10))
    sandbox.store.insert_asset(record(uid(2), name="growing", state="draft", size=10**15, settles_at=clock() + 60))
    body = {"query": "name:sized name:growing", "sort_field": "size", "sort_order": "desc"}
    assert [r["id"] for r in (await client.post(f"{ASSETS}/search", json=body)).json()["results"]] == [uid(1), uid(2)]
    clock.advance(60)
    assert [r["id"] for r in (await client.post(f"{ASSETS}/search", json=body)).json()["results"]] == [uid(2), uid(1)]


async def test_a_created_assets_size_matches_its_file_tree(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    created = await create_ready(client)
    asset = stored(sandbox, created["id"])
    assert (asset.files, asset.size) == tree_for(asset, sandbox.store.get_asset).totals()
    assert asset.source_bucket == {
        "origin": "aws",
        "bucket": "co-sandbox-public",
        "prefix": "rna/pbmc",
        "external": False,
    }


async def test_ready_delay_keeps_a_new_asset_draft_for_that_long(clock: Clock) -> None:
    sandbox = Sandbox(assets=0, clock=clock, ready_delay=30)
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=sandbox.app), base_url="http://sandbox", headers=basic("cop_sandbox_token")
    ) as http:
        asset_id = (await http.post(ASSETS, json=sdk_create_body())).json()["id"]
        clock.advance(29)
        assert (await http.get(f"{ASSETS}/{asset_id}")).json()["state"] == "draft"
        clock.advance(1)
        assert (await http.get(f"{ASSETS}/{asset_id}")).json()["state"] == "ready"


async def test_keep_on_external_storage_makes_an_external_asset(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    aws = {"bucket": "lab-bucket", "prefix": "raw", "keep_on_external_storage": True}
    created = await create_ready(client, source=source(aws=aws))
    assert stored(sandbox, created["id"]).source_bucket == {
        "origin": "aws",
        "bucket": "lab-bucket",
        "prefix": "raw",
        "external": True,
    }


async def test_a_missing_bucket_settles_failed_with_a_reason(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    created = await create_ready(client, source=source(aws={"bucket": "missing-lab-data"}))
    assert created["state"] == "failed"
    assert "missing-lab-data" in created["failure_reason"]
    assert stored(sandbox, created["id"]).state == "failed"


async def test_gcp_without_credentials_settles_failed(client: httpx2.AsyncClient) -> None:
    created = await create_ready(client, source=source(gcp={"bucket": "gcs-bucket", "prefix": "x"}))
    assert created["state"] == "failed"
    assert "client_id and client_secret" in created["failure_reason"]


async def test_gcp_with_credentials_is_ready_and_the_secret_is_not_kept(
    client: httpx2.AsyncClient, sandbox: Sandbox
) -> None:
    gcp = {"bucket": "gcs-bucket", "client_id": "id", "client_secret": "s3cr3t-value", "prefix": None}
    created = await create_ready(client, source=source(gcp=gcp))
    assert created["state"] == "ready"
    assert stored(sandbox, created["id"]).source_bucket == {
        "origin": "gcp",
        "bucket": "gcs-bucket",
        "prefix": "",
        "external": False,
    }
    assert "s3cr3t-value" not in repr(sandbox.store.all_assets())
    assert "s3cr3t-value" not in repr(sandbox.request_log.entries)


async def test_create_from_a_computation_is_a_result_with_provenance(
    client: httpx2.AsyncClient, sandbox: Sandbox
) -> None:
    created = await create_ready(client, source=source(computation={"id": DEMO_COMPUTATION_ID, "path": None}))
    computation = sandbox.store.get_computation(DEMO_COMPUTATION_ID)
    assert computation is not None
    assert created["type"] == "result"
    assert created["provenance"] == {
        "capsule": computation.capsule_id,
        "computation": DEMO_COMPUTATION_ID,
        "commit": computation.commit,
        "run_script": computation.run_script,
        "docker_image": computation.docker_image,
        "data_assets": [DEMO_DATASET_ID, DEMO_RELEASE_ID],
    }
    assert list(computation.data_assets) == [DEMO_DATASET_ID, DEMO_RELEASE_ID]
    assert created["files"] == computation.result_files
    assert created["size"] == computation.result_size


async def test_a_pipeline_result_keeps_its_nextflow_profile(client: httpx2.AsyncClient) -> None:
    created = await create_ready(client, source=source(computation={"id": DEMO_PIPELINE_COMPUTATION_ID}))
    assert created["nextflow_profile"] == "docker"


async def test_a_target_stores_the_result_externally(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    created = await create_ready(
        client,
        source=source(computation={"id": DEMO_COMPUTATION_ID}),
        target={"aws": {"bucket": "results-bucket", "endpoint_name": None, "prefix": "run1"}},
    )
    assert stored(sandbox, created["id"]).source_bucket == {
        "origin": "aws",
        "bucket": "results-bucket",
        "prefix": "run1",
        "external": True,
    }


async def test_a_failed_computation_settles_failed(client: httpx2.AsyncClient) -> None:
    created = await create_ready(client, source=source(computation={"id": DEMO_FAILED_COMPUTATION_ID}))
    assert created["state"] == "failed"
    assert DEMO_FAILED_COMPUTATION_ID in created["failure_reason"]


async def test_a_running_computation_is_409(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    before = sandbox.store.count_assets()
    response = await client.post(
        ASSETS, json=sdk_create_body(source=source(computation={"id": DEMO_RUNNING_COMPUTATION_ID}))
    )
    assert response.status_code == 409
    assert sandbox.store.count_assets() == before


@pytest.mark.parametrize("computation_id", [uid(404), DEMO_BOB_COMPUTATION_ID, "nope"])
async def test_an_unknown_or_foreign_computation_is_404_naming_it(
    client: httpx2.AsyncClient, sandbox: Sandbox, computation_id: str
) -> None:
    before = sandbox.store.count_assets()
    response = await client.post(ASSETS, json=sdk_create_body(source=source(computation={"id": computation_id})))
    assert response.status_code == 404
    assert computation_id in response.json()["message"]
    assert sandbox.store.count_assets() == before


async def test_an_admin_may_capture_another_users_run(client_as: ClientFactory) -> None:
    async with client_as("admin") as admin:
        body = sdk_create_body(source=source(computation={"id": DEMO_BOB_COMPUTATION_ID}))
        assert (await admin.post(ASSETS, json=body)).status_code == 200


def run_of(sandbox: Sandbox, computation_id: str) -> files.FileTree:
    computation = sandbox.store.get_computation(computation_id)
    assert computation is not None
    return files.run_tree(computation.id, computation.kind, computation.result_files, computation.result_size)


def run_folder(sandbox: Sandbox, computation_id: str, folder: str) -> tuple[int, int, list[str]]:
    """File count, bytes and file paths (relative to ``folder``) of one folder of a run's tree."""
    tree = run_of(sandbox, computation_id)
    inside = [path for path in walk_files(tree) if path.startswith(folder + "/")]
    sizes = [info.size for info in map(tree.stat, inside) if info is not None]
    return len(inside), sum(sizes), [path[len(folder) + 1 :] for path in inside]


def walk_files(tree: files.Tree, folder: str = "") -> list[str]:
    found: list[str] = []
    for item in tree.list(folder):
        found += walk_files(tree, item["path"]) if item["type"] == "folder" else [item["path"]]
    return found


@pytest.mark.parametrize("path", ["tables", "/tables/", "figures"])
async def test_a_computation_path_captures_only_that_folder(
    client: httpx2.AsyncClient, sandbox: Sandbox, path: str
) -> None:
    created = await create_ready(client, source=source(computation={"id": DEMO_COMPUTATION_ID, "path": path}))
    count, size, relative = run_folder(sandbox, DEMO_COMPUTATION_ID, path.strip("/"))
    assert (created["files"], created["size"]) == (count, size)
    assert sorted(walk_files(tree_for(stored(sandbox, created["id"]), sandbox.store.get_asset))) == sorted(relative)


async def test_a_captured_file_has_the_bytes_of_the_runs_file(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    created = await create_ready(client, source=source(computation={"id": DEMO_COMPUTATION_ID, "path": "tables"}))
    run = run_of(sandbox, DEMO_COMPUTATION_ID)
    captured = tree_for(stored(sandbox, created["id"]), sandbox.store.get_asset)
    name = walk_files(captured)[0]
    assert captured.read(name) == run.read(f"tables/{name}")


@pytest.mark.parametrize("path", [None, "", "/"])
async def test_an_empty_computation_path_captures_every_result_file(
    client: httpx2.AsyncClient, sandbox: Sandbox, path: str | None
) -> None:
    created = await create_ready(client, source=source(computation={"id": DEMO_COMPUTATION_ID, "path": path}))
    computation = sandbox.store.get_computation(DEMO_COMPUTATION_ID)
    assert computation is not None
    assert (created["files"], created["size"]) == (computation.result_files, computation.result_size)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("Alignment/", "source.computation.path: no folder 'Alignment'"),
        ("tables/nope", "source.computation.path: no folder 'tables/nope'"),
        ("summary.json", "source.computation.path: 'summary.json' is a file"),
    ],
)
async def test_a_computation_path_that_is_not_a_folder_of_the_run_is_400_naming_it(
    client: httpx2.AsyncClient, sandbox: Sandbox, path: str, message: str
) -> None:
    before = sandbox.store.count_assets()
    body = sdk_create_body(source=source(computation={"id": DEMO_COMPUTATION_ID, "path": path}))
    response = await client.post(ASSETS, json=body)
    assert response.status_code == 400
    assert response.json()["message"].startswith(message)
    assert DEMO_COMPUTATION_ID in response.json()["message"]
    assert sandbox.store.count_assets() == before


@pytest.mark.parametrize("path", ["/root/capsule/scratch", "scratch", "capsule/scratch/"])
async def test_a_cloud_workstation_path_captures_that_folder_of_the_capsule(
    client: httpx2.AsyncClient, sandbox: Sandbox, path: str
) -> None:
    workstation = {"id": DEMO_CLOUD_WORKSTATION_ID, "path": path, "run_script": None}
    created = await create_ready(client, source=source(cloud_workstation=workstation))
    count, size, relative = run_folder(sandbox, DEMO_CLOUD_WORKSTATION_ID, "scratch")
    assert (created["files"], created["size"]) == (count, size)
    assert sorted(walk_files(tree_for(stored(sandbox, created["id"]), sandbox.store.get_asset))) == sorted(relative)


async def test_a_cloud_workstation_path_that_does_not_exist_is_400_naming_it(
    client: httpx2.AsyncClient, sandbox: Sandbox
) -> None:
    before = sandbox.store.count_assets()
    workstation = {"id": DEMO_CLOUD_WORKSTATION_ID, "path": "/root/capsule/nowhere", "run_script": None}
    response = await client.post(ASSETS, json=sdk_create_body(source=source(cloud_workstation=workstation)))
    assert response.status_code == 400
    assert "'nowhere'" in response.json()["message"]
    assert sandbox.store.count_assets() == before


async def test_listing_a_runs_results_shows_what_a_capture_takes(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    response = await client.post(f"/api/v1/computations/{DEMO_COMPUTATION_ID}/results", json={"path": ""})
    assert response.status_code == 200
    names = {item["name"] for item in response.json()["items"]}
    assert {"output", "summary.json", "tables", "figures", "outputs"} <= names
    inner = await client.post(f"/api/v1/computations/{DEMO_COMPUTATION_ID}/results", json={"path": "tables"})
    assert inner.json()["items"] == run_of(sandbox, DEMO_COMPUTATION_ID).list("tables")


async def test_a_cloud_workstations_results_are_its_capsules_results_folder(client: httpx2.AsyncClient) -> None:
    response = await client.post(f"/api/v1/computations/{DEMO_CLOUD_WORKSTATION_ID}/results", json={"path": ""})
    assert response.status_code == 200
    assert "output" in {item["name"] for item in response.json()["items"]}


@pytest.mark.parametrize(
    ("computation_id", "path", "status"),
    [
        (DEMO_COMPUTATION_ID, "nope", 404),
        (DEMO_COMPUTATION_ID, "summary.json", 400),
        (DEMO_BOB_COMPUTATION_ID, "", 404),
        (uid(404), "", 404),
        (DEMO_RUNNING_COMPUTATION_ID, "", 409),
    ],
)
async def test_listing_results_refuses_what_it_cannot_show(
    client: httpx2.AsyncClient, computation_id: str, path: str, status: int
) -> None:
    response = await client.post(f"/api/v1/computations/{computation_id}/results", json={"path": path})
    assert response.status_code == status
    assert response.json()["message"]


async def test_a_workstation_result_lists_the_assets_attached_to_the_session(
    client: httpx2.AsyncClient, sandbox: Sandbox
) -> None:
    workstation = {"id": DEMO_CLOUD_WORKSTATION_ID, "path": "results", "run_script": "code/run.sh"}
    created = await create_ready(client, source=source(cloud_workstation=workstation))
    assert created["provenance"]["data_assets"] == [DEMO_SHARED_ID]
    assert stored(sandbox, created["id"]).provenance == created["provenance"]


async def test_a_run_with_nothing_attached_gives_a_result_without_inputs(client: httpx2.AsyncClient) -> None:
    created = await create_ready(client, source=source(computation={"id": "c0de0010-6f1a-4c2e-9b3d-5e7a00000010"}))
    assert created["provenance"]["data_assets"] == []


@pytest.mark.parametrize(("run_script", "kind"), [("code/run.sh", "result"), (None, "dataset")])
async def test_a_cloud_workstation_capture_is_a_result_only_with_a_run_script(
    client: httpx2.AsyncClient, run_script: str | None, kind: str
) -> None:
    workstation = {"id": DEMO_CLOUD_WORKSTATION_ID, "path": "/root/capsule/scratch", "run_script": run_script}
    created = await create_ready(client, source=source(cloud_workstation=workstation))
    assert created["type"] == kind
    assert (created.get("provenance") or {}).get("run_script") == run_script


async def test_combining_assets_lists_them_and_adds_their_sizes(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    members = [stored(sandbox, DEMO_DATASET_ID), stored(sandbox, DEMO_SHARED_ID)]
    created = await create_ready(client, source=None, data_asset_ids=[m.id for m in members])
    assert created["type"] == "combined"
    assert created["contained_data_assets"] == [{"id": m.id, "mount": m.mount, "size": m.size} for m in members]
    assert created["size"] == sum(m.size or 0 for m in members)
    assert created["files"] == sum(m.files or 0 for m in members)


async def test_combining_two_assets_with_one_mount_is_400_naming_both(
    client: httpx2.AsyncClient, sandbox: Sandbox
) -> None:
    members = [(await create_ready(client, name=f"twin {n}", mount="twin"))["id"] for n in (1, 2)]
    before = sandbox.store.count_assets()
    response = await client.post(ASSETS, json=sdk_create_body(source=None, data_asset_ids=members))
    assert response.status_code == 400
    assert response.json()["message"].startswith("data_asset_ids[1]:")
    assert "'twin'" in response.json()["message"]
    assert sandbox.store.count_assets() == before


async def test_combining_an_invisible_asset_is_404_naming_it(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    before = sandbox.store.count_assets()
    body = sdk_create_body(source=None, data_asset_ids=[DEMO_DATASET_ID, DEMO_PRIVATE_ID])
    response = await client.post(ASSETS, json=body)
    assert response.status_code == 404
    assert DEMO_PRIVATE_ID in response.json()["message"]
    assert sandbox.store.count_assets() == before


async def test_results_info_makes_an_imported_result(client: httpx2.AsyncClient) -> None:
    info = {
        "capsule_id": uid(5),
        "commit": "abc123",
        "run_script": "code/main.py",
        "data_assets": [DEMO_DATASET_ID],
        "parameters": [{"name": "alpha", "param_name": "a", "value": "0.1"}],
        "nextflow_profile": None,
    }
    created = await create_ready(client, results_info=info)
    assert created["type"] == "result"
    assert created["provenance"] == {
        "capsule": uid(5),
        "commit": "abc123",
        "run_script": "code/main.py",
        "data_assets": [DEMO_DATASET_ID],
    }
    assert created["app_parameters"] == [{"name": "alpha", "value": "0.1"}]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"source": source(aws={"bucket": "a"}, gcp={"bucket": "b"})}, "source: set exactly one of"),
        ({"source": None}, "source: is required"),
        ({"source": source()}, "source: is required"),
        ({"data_asset_ids": [DEMO_DATASET_ID]}, "data_asset_ids: a combined asset has no source"),
        ({"source": None, "data_asset_ids": []}, "data_asset_ids: must not be empty"),
        ({"target": {"aws": {"bucket": "t"}}}, "target: only applies to a computation source"),
        ({"results_info": {"commit": "abc"}}, "results_info: set capsule_id or pipeline_id"),
        ({"name": ""}, "name: must not be empty"),
        ({"mount": None}, "mount: is required"),
        ({"custom_metadata": {"colour": "red"}}, "custom_metadata.colour: unknown field"),
        ({"source": source(aws={"bucket": 3})}, "source.aws.bucket: must be a string"),
        (
            {"source": source(cloud_workstation={"id": DEMO_CLOUD_WORKSTATION_ID, "path": ""})},
            "source.cloud_workstation.path: must not be empty",
        ),
        (
            {"source": source(cloud_workstation={"id": DEMO_COMPUTATION_ID, "path": "x"})},
            "source.cloud_workstation.id: computation",
        ),
    ],
)
async def test_invalid_creates_are_400_and_store_nothing(
    client: httpx2.AsyncClient, sandbox: Sandbox, overrides: dict[str, Any], message: str
) -> None:
    before = sandbox.store.count_assets()
    response = await client.post(ASSETS, json=sdk_create_body(**overrides))
    assert response.status_code == 400
    assert response.json()["message"].startswith(message)
    assert sandbox.store.count_assets() == before


async def test_the_input_bucket_is_for_admins_only(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    before = sandbox.store.count_assets()
    body = sdk_create_body(source=source(aws={"bucket": "ignored", "prefix": "p", "use_input_bucket": True}))
    assert (await client.post(ASSETS, json=body)).status_code == 403
    assert sandbox.store.count_assets() == before


async def test_the_mcp_servers_stripped_source_form_is_accepted(client: httpx2.AsyncClient) -> None:
    body = sdk_create_body(source={"aws": {"bucket": "b", "prefix": "p", "keep_on_external_storage": True}})
    assert (await client.post(ASSETS, json=body)).status_code == 200


# --- archive and delete -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "archived"), [("True", True), ("true", True), ("FALSE", False), ("False", False)])
async def test_archive_parses_the_flag_case_insensitively(
    client: httpx2.AsyncClient, sandbox: Sandbox, value: str, archived: bool
) -> None:
    stored_asset = stored(sandbox, DEMO_DATASET_ID)
    stored_asset.archived = not archived
    sandbox.store.save_asset(stored_asset)
    response = await client.patch(f"{ASSETS}/{DEMO_DATASET_ID}/archive", params={"archive": value})
    assert (response.status_code, response.content) == (204, b"")
    assert stored(sandbox, DEMO_DATASET_ID).archived is archived


@pytest.mark.parametrize(("query", "message"), [("", "archive: is required"), ("?archive=yes", "archive: must be")])
async def test_archive_without_a_valid_flag_is_400(
    client: httpx2.AsyncClient, sandbox: Sandbox, query: str, message: str
) -> None:
    response = await client.patch(f"{ASSETS}/{DEMO_DATASET_ID}/archive{query}")
    assert response.status_code == 400
    assert response.json()["message"].startswith(message)
    assert not stored(sandbox, DEMO_DATASET_ID).archived


async def test_archiving_twice_is_a_quiet_no_op(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    first = await client.patch(f"{ASSETS}/{DEMO_DATASET_ID}/archive", params={"archive": "True"})
    second = await client.patch(f"{ASSETS}/{DEMO_DATASET_ID}/archive", params={"archive": "True"})
    assert (first.status_code, second.status_code) == (204, 204)
    assert [e.committed for e in sandbox.request_log.matching(method="PATCH")] == [True, False]
    assert stored(sandbox, DEMO_DATASET_ID).archived


async def test_archived_assets_leave_default_search(client: httpx2.AsyncClient) -> None:
    query = {"query": 'name:"scRNA-seq PBMC 10k donors batch 3"'}
    await client.patch(f"{ASSETS}/{DEMO_DATASET_ID}/archive", params={"archive": "True"})
    default = (await client.post(f"{ASSETS}/search", json=query)).json()["results"]
    archived = (await client.post(f"{ASSETS}/search", json={**query, "archived": True})).json()["results"]
    assert DEMO_DATASET_ID not in [a["id"] for a in default]
    assert DEMO_DATASET_ID in [a["id"] for a in archived]


async def test_delete_is_204_then_the_asset_is_gone(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    response = await client.delete(f"{ASSETS}/{DEMO_DATASET_ID}")
    assert (response.status_code, response.content) == (204, b"")
    assert sandbox.store.get_asset(DEMO_DATASET_ID) is None
    assert (await client.get(f"{ASSETS}/{DEMO_DATASET_ID}")).status_code == 404
    assert (await client.delete(f"{ASSETS}/{DEMO_DATASET_ID}")).status_code == 404


async def test_a_viewer_cannot_delete(client_as: ClientFactory, sandbox: Sandbox) -> None:
    async with client_as("bob") as bob:
        assert (await bob.delete(f"{ASSETS}/{DEMO_DATASET_ID}")).status_code == 403
    assert sandbox.store.get_asset(DEMO_DATASET_ID) is not None


async def combined_holding(client: httpx2.AsyncClient, member_id: str) -> list[str]:
    """What the MCP guard's preview asks before a delete: the combined assets that hold ``member_id``."""
    body = {"query": f"contained_data_id:{member_id}", "limit": 100}
    found = [r["id"] for r in (await client.post(f"{ASSETS}/search", json=body)).json()["results"]]
    archived = {**body, "archived": True}
    return found + [r["id"] for r in (await client.post(f"{ASSETS}/search", json=archived)).json()["results"]]


async def test_deleting_a_member_removes_it_from_the_combined_asset(
    client: httpx2.AsyncClient, sandbox: Sandbox
) -> None:
    assert await combined_holding(client, DEMO_DATASET_ID) == [DEMO_COMBINED_ID]
    v1 = stored(sandbox, DEMO_SHARED_ID)
    assert (await client.delete(f"{ASSETS}/{DEMO_DATASET_ID}")).status_code == 204
    assert await combined_holding(client, DEMO_DATASET_ID) == []
    combined = (await client.get(f"{ASSETS}/{DEMO_COMBINED_ID}")).json()
    assert combined["contained_data_assets"] == [{"id": v1.id, "mount": v1.mount, "size": v1.size}]
    assert (combined["files"], combined["size"]) == (v1.files, v1.size)
    listing = (await client.post(f"{ASSETS}/{DEMO_COMBINED_ID}/files", json={"path": ""})).json()["items"]
    assert listing == [{"name": v1.mount, "path": v1.mount, "type": "folder"}]


async def test_deleting_every_member_leaves_an_empty_combined_asset(
    client: httpx2.AsyncClient, sandbox: Sandbox
) -> None:
    members = [(await create_ready(client, name=f"part {n}", mount=f"part{n}"))["id"] for n in (1, 2)]
    combined = await create_ready(client, source=None, data_asset_ids=members)
    for member in members:
        assert (await client.delete(f"{ASSETS}/{member}")).status_code == 204
    after = (await client.get(f"{ASSETS}/{combined['id']}")).json()
    assert (after["contained_data_assets"], after["files"], after["size"]) == ([], 0, 0)
    assert (await client.post(f"{ASSETS}/{combined['id']}/files", json={"path": ""})).json()["items"] == []
    assert stored(sandbox, combined["id"]).contained_data_assets == []


async def test_a_combined_asset_lists_each_member_under_its_mount(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    pbmc = stored(sandbox, DEMO_DATASET_ID)
    root = (await client.post(f"{ASSETS}/{DEMO_COMBINED_ID}/files", json={"path": ""})).json()["items"]
    assert pbmc.mount in {item["name"] for item in root}
    inside = (await client.post(f"{ASSETS}/{DEMO_COMBINED_ID}/files", json={"path": pbmc.mount})).json()["items"]
    own = (await client.post(f"{ASSETS}/{DEMO_DATASET_ID}/files", json={"path": ""})).json()["items"]
    assert inside == [{**item, "path": f"{pbmc.mount}/{item['path']}"} for item in own]


async def test_a_file_of_a_combined_asset_downloads_the_members_bytes(
    client: httpx2.AsyncClient, sandbox: Sandbox
) -> None:
    pbmc = stored(sandbox, DEMO_DATASET_ID)
    own = await client.get(f"{ASSETS}/{DEMO_DATASET_ID}/files/urls", params={"path": "README.md"})
    held = await client.get(f"{ASSETS}/{DEMO_COMBINED_ID}/files/urls", params={"path": f"{pbmc.mount}/README.md"})
    assert (own.status_code, held.status_code) == (200, 200)
    first = await client.get(own.json()["download_url"])
    second = await client.get(held.json()["download_url"])
    assert first.content == second.content
    assert first.content.startswith(b"# Data asset")


async def test_a_draft_cannot_be_deleted_yet(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    assert (await client.delete(f"{ASSETS}/{DEMO_DRAFT_ID}")).status_code == 409
    assert sandbox.store.get_asset(DEMO_DRAFT_ID) is not None


# --- permissions ------------------------------------------------------------------------------------------


async def test_permissions_list_the_owner_first(client: httpx2.AsyncClient) -> None:
    body = (await client.get(f"{ASSETS}/{DEMO_SHARED_ID}/permissions")).json()
    assert body == {
        "users": [{"email": "bob@example.org", "role": "owner"}, {"email": "alice@example.org", "role": "editor"}],
        "groups": [{"group": "imaging", "role": "viewer"}],
        "everyone": "none",
        "share_assets": False,
    }


async def test_set_permissions_upserts_users_and_groups(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    body = {
        "users": [{"email": "Bob@Example.org", "role": "editor"}, {"email": "carol@example.org", "role": "viewer"}],
        "groups": [{"group": "imaging", "role": "discoverable"}],
        "everyone": "viewer",
        "share_assets": True,
    }
    response = await client.post(f"{ASSETS}/{DEMO_DATASET_ID}/permissions", json=body)
    assert response.status_code == 204
    asset = stored(sandbox, DEMO_DATASET_ID)
    assert asset.shared_users == {"bob@example.org": "editor", "carol@example.org": "viewer"}
    assert asset.shared_groups == {"imaging": "discoverable"}
    assert (asset.everyone, asset.share_assets) == ("viewer", True)


async def test_set_permissions_with_nulls_changes_nothing(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    before = stored(sandbox, DEMO_DATASET_ID)
    body = {"users": None, "groups": None, "everyone": None, "share_assets": None}
    assert (await client.post(f"{ASSETS}/{DEMO_DATASET_ID}/permissions", json=body)).status_code == 204
    assert stored(sandbox, DEMO_DATASET_ID) == before
    assert not sandbox.request_log.entries[-1].committed


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"users": [{"email": "mallory@example.org", "role": "viewer"}]}, "users[0].email: no user has the e-mail"),
        ({"users": [{"email": "bob@example.org", "role": "admin"}]}, "users[0].role: must be one of owner, editor"),
        ({"users": [{"email": "alice@example.org", "role": "viewer"}]}, "users[0].role: the owner's own role"),
        ({"groups": [{"group": "astronomy", "role": "viewer"}]}, "groups[0].group: unknown group 'astronomy'"),
        ({"everyone": "editor"}, "everyone: must be one of viewer, discoverable, none"),
    ],
)
async def test_invalid_permissions_are_400_and_change_nothing(
    client: httpx2.AsyncClient, sandbox: Sandbox, body: dict[str, Any], message: str
) -> None:
    before = stored(sandbox, DEMO_DATASET_ID)
    full = {"users": None, "groups": [{"group": "genomics", "role": "editor"}], "everyone": None, **body}
    response = await client.post(f"{ASSETS}/{DEMO_DATASET_ID}/permissions", json=full)
    assert response.status_code == 400
    assert response.json()["message"].startswith(message)
    assert stored(sandbox, DEMO_DATASET_ID) == before


async def test_only_an_owner_may_share(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    # alice edits DEMO_SHARED_ID, which bob owns.
    response = await client.post(f"{ASSETS}/{DEMO_SHARED_ID}/permissions", json={"everyone": "viewer"})
    assert response.status_code == 403
    assert stored(sandbox, DEMO_SHARED_ID).everyone == "none"


async def test_sharing_makes_the_asset_visible_to_the_new_user(
    client: httpx2.AsyncClient, client_as: ClientFactory
) -> None:
    async with client_as("carol") as carol:
        assert (await carol.get(f"{ASSETS}/{DEMO_DATASET_ID}")).status_code == 404
        grant = {"users": [{"email": "carol@example.org", "role": "viewer"}]}
        await client.post(f"{ASSETS}/{DEMO_DATASET_ID}/permissions", json=grant)
        assert (await carol.get(f"{ASSETS}/{DEMO_DATASET_ID}")).status_code == 200


# --- files ------------------------------------------------------------------------------------------------


async def test_list_files_shows_one_level(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    response = await client.post(f"{ASSETS}/{DEMO_DATASET_ID}/files", json={"path": ""})
    assert response.status_code == 200
    items = response.json()["items"]
    assert items == tree_for(stored(sandbox, DEMO_DATASET_ID), sandbox.store.get_asset).list("")
    assert all("/" not in item["path"] for item in items)


async def test_list_files_of_a_folder(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    tree = tree_for(stored(sandbox, DEMO_DATASET_ID), sandbox.store.get_asset)
    folder = next(item["path"] for item in tree.list("") if item["type"] == "folder")
    items = (await client.post(f"{ASSETS}/{DEMO_DATASET_ID}/files", json={"path": folder})).json()["items"]
    assert items == tree.list(folder)


async def test_list_files_of_an_unknown_path_is_404(client: httpx2.AsyncClient) -> None:
    response = await client.post(f"{ASSETS}/{DEMO_DATASET_ID}/files", json={"path": "no/such/folder"})
    assert response.status_code == 404
    assert "no/such/folder" in response.json()["message"]


async def test_list_files_of_a_file_path_is_400(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    tree = tree_for(stored(sandbox, DEMO_DATASET_ID), sandbox.store.get_asset)
    file_path = next(item["path"] for item in tree.list("") if item["type"] == "file")
    response = await client.post(f"{ASSETS}/{DEMO_DATASET_ID}/files", json={"path": file_path})
    assert response.status_code == 400


async def test_external_assets_cannot_be_listed(client: httpx2.AsyncClient) -> None:
    response = await client.post(f"{ASSETS}/{DEMO_EXTERNAL_ID}/files", json={"path": ""})
    assert response.status_code == 400
    assert response.json()["message"].startswith("external data assets cannot be listed")
    assert "s3://allen-brain-observatory/visual-coding-2p" in response.json()["message"]


@pytest.mark.parametrize("asset_id", [DEMO_DRAFT_ID, DEMO_FAILED_ID])
async def test_drafts_and_failed_assets_have_no_files_yet(client: httpx2.AsyncClient, asset_id: str) -> None:
    assert (await client.post(f"{ASSETS}/{asset_id}/files", json={"path": ""})).status_code == 409


@pytest.fixture
def discoverable(sandbox: Sandbox) -> str:
    """Carol's asset that everyone may find but nobody else may open."""
    sandbox.store.insert_asset(record(uid(77), owner_id=CAROL_ID, everyone="discoverable", name="Findable"))
    return uid(77)


async def test_a_discoverable_asset_can_be_read_but_its_files_cannot(
    client: httpx2.AsyncClient, discoverable: str
) -> None:
    assert (await client.get(f"{ASSETS}/{discoverable}")).status_code == 200
    listing = await client.post(f"{ASSETS}/{discoverable}/files", json={"path": ""})
    urls = await client.get(f"{ASSETS}/{discoverable}/files/urls", params={"path": "README.md"})
    assert (listing.status_code, urls.status_code) == (403, 403)
    assert "only discoverable" in listing.json()["message"]


async def test_a_discoverable_asset_cannot_be_combined(
    client: httpx2.AsyncClient, sandbox: Sandbox, discoverable: str
) -> None:
    before = sandbox.store.count_assets()
    body = sdk_create_body(source=None, data_asset_ids=[DEMO_DATASET_ID, discoverable])
    response = await client.post(ASSETS, json=body)
    assert response.status_code == 403
    assert sandbox.store.count_assets() == before


async def _first_file(sandbox: Sandbox, asset_id: str) -> tuple[str, int]:
    tree = tree_for(stored(sandbox, asset_id), sandbox.store.get_asset)
    folder = ""
    while True:
        items = tree.list(folder)
        files = [item for item in items if item["type"] == "file"]
        if files:
            return files[0]["path"], files[0]["size"]
        folder = items[0]["path"]


async def test_file_urls_are_absolute_signed_links_that_download(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    path, size = await _first_file(sandbox, DEMO_DATASET_ID)
    response = await client.get(f"{ASSETS}/{DEMO_DATASET_ID}/files/urls", params={"path": path})
    assert response.status_code == 200
    urls = response.json()
    assert set(urls) == {"download_url", "view_url"}
    assert urls["download_url"].startswith(f"http://sandbox/__files/{DEMO_DATASET_ID}/")
    # Fetched without the Authorization header, as the SDK's users do.
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=sandbox.app)) as anonymous:
        download = await anonymous.get(urls["download_url"], headers={"Range": "bytes=0-15"})
    assert download.status_code == 206
    assert download.headers["content-range"] == f"bytes 0-15/{size}"


async def test_the_deprecated_download_url_answers_with_url(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    path, _ = await _first_file(sandbox, DEMO_DATASET_ID)
    response = await client.get(f"{ASSETS}/{DEMO_DATASET_ID}/files/download_url", params={"path": path})
    assert response.status_code == 200
    assert response.json()["url"].startswith("http://sandbox/__files/")


@pytest.mark.parametrize(("path", "status"), [("no/such.file", 404), (None, 400)])
async def test_file_urls_for_a_missing_path_or_no_path(
    client: httpx2.AsyncClient, path: str | None, status: int
) -> None:
    params = {"path": path} if path is not None else {}
    response = await client.get(f"{ASSETS}/{DEMO_DATASET_ID}/files/urls", params=params)
    assert response.status_code == status


async def test_file_urls_for_a_folder_is_400(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    tree = tree_for(stored(sandbox, DEMO_DATASET_ID), sandbox.store.get_asset)
    folder = next(item["path"] for item in tree.list("") if item["type"] == "folder")
    response = await client.get(f"{ASSETS}/{DEMO_DATASET_ID}/files/urls", params={"path": folder})
    assert response.status_code == 400
    assert "folder" in response.json()["message"]


# --- transfer and schema ----------------------------------------------------------------------------------


TRANSFER = {"target": {"aws": {"bucket": "archive-bucket", "endpoint_name": None, "prefix": "moved"}}, "force": None}


async def test_transfer_is_for_admins_only(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    before = stored(sandbox, DEMO_DATASET_ID)
    response = await client.post(f"{ASSETS}/{DEMO_DATASET_ID}/transfer", json=TRANSFER)
    assert response.status_code == 403
    assert stored(sandbox, DEMO_DATASET_ID) == before


async def test_transfer_makes_the_asset_external_and_keeps_provenance(
    client_as: ClientFactory, sandbox: Sandbox, clock: Clock
) -> None:
    from co_mcp.sandbox.demo_data import DEMO_RESULT_ID

    provenance = stored(sandbox, DEMO_RESULT_ID).provenance
    async with client_as("admin") as admin:
        response = await admin.post(f"{ASSETS}/{DEMO_RESULT_ID}/transfer", json=TRANSFER)
    assert response.status_code == 204
    asset = stored(sandbox, DEMO_RESULT_ID)
    assert asset.source_bucket == {"origin": "aws", "bucket": "archive-bucket", "prefix": "moved", "external": True}
    assert (asset.last_transferred, asset.transfer_error) == (int(clock()), None)
    assert asset.provenance == provenance


async def test_transfer_of_an_asset_in_release_pipelines_needs_force(
    client_as: ClientFactory, sandbox: Sandbox
) -> None:
    async with client_as("admin") as admin:
        refused = await admin.post(f"{ASSETS}/{DEMO_RELEASE_ID}/transfer", json=TRANSFER)
        assert refused.status_code == 409
        assert stored(sandbox, DEMO_RELEASE_ID).last_transferred is None
        forced = await admin.post(f"{ASSETS}/{DEMO_RELEASE_ID}/transfer", json={**TRANSFER, "force": True})
    assert forced.status_code == 204
    assert stored(sandbox, DEMO_RELEASE_ID).last_transferred is not None


async def test_a_transfer_to_a_missing_bucket_records_the_error(client_as: ClientFactory, sandbox: Sandbox) -> None:
    before = stored(sandbox, DEMO_DATASET_ID).source_bucket
    body = {"target": {"aws": {"bucket": "missing-archive"}}}
    async with client_as("admin") as admin:
        assert (await admin.post(f"{ASSETS}/{DEMO_DATASET_ID}/transfer", json=body)).status_code == 204
    asset = stored(sandbox, DEMO_DATASET_ID)
    assert asset.transfer_error is not None
    assert "missing-archive" in asset.transfer_error
    assert asset.source_bucket == before


async def test_custom_metadata_returns_the_schema(client: httpx2.AsyncClient) -> None:
    response = await client.get("/api/v1/custom_metadata")
    assert response.json() == CUSTOM_METADATA_SCHEMA


# --- search over HTTP ----------------------------------------------------------------------------------------


async def test_search_accepts_the_sdks_all_null_body(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    body = dict.fromkeys(
        ("query", "next_token", "offset", "limit", "sort_field", "sort_order", "type", "ownership", "origin"),
    ) | {"favorite": None, "archived": None, "filters": None}
    response = await client.post(f"{ASSETS}/search", json=body)
    assert response.status_code == 200
    page = response.json()
    assert page["has_more"] is (sandbox.store.count_visible(sandbox.users["alice"]) > 100)
    assert all(result.keys() >= REQUIRED_KEYS for result in page["results"])


async def test_search_pages_carry_a_string_token_until_the_end(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    seen: list[str] = []
    body: dict[str, Any] = {"limit": 7, "offset": 0}
    while True:
        page = (await client.post(f"{ASSETS}/search", json=body)).json()
        seen += [result["id"] for result in page["results"]]
        if not page["has_more"]:
            assert page["next_token"] is None
            break
        assert isinstance(page["next_token"], str)
        body["next_token"] = page["next_token"]
    assert len(seen) == len(set(seen)) == sandbox.store.count_visible(sandbox.users["alice"])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"limit": 1001}, "limit: must be at most 1000"),
        ({"offset": -1}, "offset: must be at least 0"),
        ({"sort_order": "up"}, "sort_order: must be one of asc, desc"),
        ({"ownership": "mine"}, "ownership: must be one of private, shared, created"),
        ({"filters": [{"key": "colour", "value": "red"}]}, "filters[0].key: unknown key 'colour'"),
        ({"next_token": "forged"}, "next_token: is not a token this server issued"),
    ],
)
async def test_bad_searches_are_400_naming_the_field(
    client: httpx2.AsyncClient, body: dict[str, Any], message: str
) -> None:
    response = await client.post(f"{ASSETS}/search", json=body)
    assert response.status_code == 400
    assert response.json()["message"].startswith(message)


# --- errors -------------------------------------------------------------------------------------------------


async def test_an_unknown_route_is_a_json_404(client: httpx2.AsyncClient) -> None:
    response = await client.get("/api/v1/capsules")
    assert response.status_code == 404
    assert response.json() == {"message": "no such endpoint: GET /api/v1/capsules"}


async def test_a_trailing_slash_is_not_redirected(client: httpx2.AsyncClient) -> None:
    response = await client.get(f"{ASSETS}/{DEMO_DATASET_ID}/")
    assert response.status_code == 404


async def test_a_wrong_method_is_a_json_405(client: httpx2.AsyncClient) -> None:
    response = await client.patch(f"{ASSETS}/{DEMO_DATASET_ID}")
    assert response.status_code == 405
    assert "PATCH" in response.json()["message"]


async def test_a_server_bug_is_a_500_without_a_traceback(
    client: httpx2.AsyncClient, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox.store.close()  # every query now raises sqlite3.ProgrammingError
    response = await client.get(f"{ASSETS}/{DEMO_DATASET_ID}")
    assert response.status_code == 500
    assert response.json() == {"message": "Internal server error"}
    assert "ProgrammingError" in caplog.text
    assert sandbox.request_log.entries[-1].status == 500
