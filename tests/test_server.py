"""Every non-destructive tool through the real MCP protocol, in both eras, against the sandbox.

Outcomes are checked in the sandbox's store and request log, not only in what the tool returned.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp import Client
from mcp.types import CallToolResult, TextContent

from co_mcp.config import CredentialSet, GcpCredentials
from co_mcp.sandbox import Sandbox
from co_mcp.sandbox.demo_data import DEMO_COMPUTATION_ID
from co_mcp.sandbox.files import FileTree
from tests.conftest import ServerFactory

pytestmark = pytest.mark.anyio


def text(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


def alice_asset(sandbox: Sandbox, **where: Any) -> str:
    alice = sandbox.users["alice"].id
    for record in sandbox.store.all_assets():
        usable = record.owner_id == alice and not record.archived and record.state == "ready"
        if usable and all(getattr(record, key) == value for key, value in where.items()):
            return record.id
    raise LookupError(where)


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> CallToolResult:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, text(result)
    return result


# --- search -------------------------------------------------------------------------------------


async def test_search_returns_compact_text_and_structured_summaries(mcp: Client, sandbox: Sandbox) -> None:
    result = await call(mcp, "search_data_assets", {"limit": 5})
    data = result.structured_content
    assert data is not None
    assert len([hit["id"] for hit in data["results"]]) == 5
    assert data["has_more"] is True
    first = data["results"][0]["id"]
    record = sandbox.store.get_asset(first)
    assert record is not None
    body = text(result)
    assert "null" not in body
    assert "\n  " not in body  # not pretty-printed JSON
    assert first in body
    assert record.name in body


async def test_search_cursor_continues_where_the_page_ended(mcp: Client) -> None:
    first = (await call(mcp, "search_data_assets", {"limit": 4})).structured_content
    assert first is not None
    second = (await call(mcp, "search_data_assets", {"limit": 4, "cursor": first["cursor"]})).structured_content
    assert second is not None
    assert not set([hit["id"] for hit in first["results"]]) & set([hit["id"] for hit in second["results"]])


async def test_search_max_results_gathers_everything_visible(mcp: Client, sandbox: Sandbox) -> None:
    data = (await call(mcp, "search_data_assets", {"max_results": 1000})).structured_content
    assert data is not None
    assert len(data["results"]) == sandbox.store.count_visible(sandbox.users["alice"], archived=False)
    assert data["has_more"] is False


async def test_search_by_tag_finds_only_tagged_assets(mcp: Client, sandbox: Sandbox) -> None:
    record = sandbox.store.get_asset(alice_asset(sandbox))
    assert record is not None
    tag = record.tags[0]
    data = (await call(mcp, "search_data_assets", {"query": f"tag:{tag}", "max_results": 200})).structured_content
    assert data is not None
    for hit in [hit["id"] for hit in data["results"]]:
        stored = sandbox.store.get_asset(hit)
        assert stored is not None
        assert tag.lower() in [t.lower() for t in stored.tags]


async def test_search_archived_lists_only_archived_assets(mcp: Client, sandbox: Sandbox) -> None:
    data = (await call(mcp, "search_data_assets", {"archived": True, "max_results": 200})).structured_content
    assert data is not None
    for hit in [hit["id"] for hit in data["results"]]:
        stored = sandbox.store.get_asset(hit)
        assert stored is not None
        assert stored.archived


async def test_search_rejects_an_out_of_range_limit_naming_the_field_and_sends_nothing(
    mcp: Client, sandbox: Sandbox
) -> None:
    sandbox.request_log.clear()
    result = await mcp.call_tool("search_data_assets", {"limit": 5000})
    assert result.is_error
    assert "limit" in text(result)
    assert "100" in text(result)
    assert sandbox.request_log.entries == []


# --- get ----------------------------------------------------------------------------------------


async def test_get_one_asset_gives_full_detail(mcp: Client, sandbox: Sandbox) -> None:
    asset_id = alice_asset(sandbox)
    record = sandbox.store.get_asset(asset_id)
    assert record is not None
    result = await call(mcp, "get_data_asset", {"data_asset_ids": [asset_id]})
    assert result.structured_content is not None
    [asset] = result.structured_content["assets"]
    assert (asset["id"], asset["state"]) == (record.id, record.state)
    body = text(result)
    assert body.startswith(f"{json.dumps(record.name, ensure_ascii=False)} {record.id} ")
    assert f'mount "{record.mount}"' in body
    assert "tags " + " ".join(json.dumps(tag, ensure_ascii=False) for tag in record.tags) in body


async def test_get_accepts_a_single_id_as_a_string(mcp: Client, sandbox: Sandbox) -> None:
    data = (await call(mcp, "get_data_asset", {"data_asset_ids": alice_asset(sandbox)})).structured_content
    assert data is not None
    assert len(data["assets"]) == 1


async def test_batch_get_reports_a_missing_id_beside_the_found_ones(mcp: Client, sandbox: Sandbox) -> None:
    found = [r.id for r in sandbox.store.all_assets()[:3]]
    missing = "00000000-0000-4000-8000-000000000000"
    result = await call(mcp, "get_data_asset", {"data_asset_ids": [*found, missing]})
    data = result.structured_content
    assert data is not None
    assert len(data["assets"]) + len(data["errors"]) == 4
    assert missing in {e["id"] for e in data["errors"]}
    assert "search_data_assets" in text(result)


async def test_get_refuses_a_path_traversal_id_before_any_request(mcp: Client, sandbox: Sandbox) -> None:
    sandbox.request_log.clear()
    result = await mcp.call_tool("get_data_asset", {"data_asset_ids": ["../capsules/abc"]})
    assert result.is_error
    assert "data_asset_ids" in text(result)
    assert sandbox.request_log.entries == []


async def test_get_of_an_unknown_id_is_an_actionable_error(mcp: Client) -> None:
    missing = "00000000-0000-4000-8000-000000000001"
    result = await mcp.call_tool("get_data_asset", {"data_asset_ids": [missing]})
    assert result.is_error  # nothing the call asked for came back
    assert missing in text(result)
    assert "search_data_assets finds assets by name" in text(result)


async def test_get_with_every_id_unknown_is_an_error_naming_each(mcp: Client) -> None:
    missing = ["00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"]
    result = await mcp.call_tool("get_data_asset", {"data_asset_ids": missing})
    assert result.is_error
    assert all(data_asset_id in text(result) for data_asset_id in missing)


# --- permissions, files, schema -----------------------------------------------------------------


async def test_permissions_list_the_owner(mcp: Client, sandbox: Sandbox) -> None:
    data = (await call(mcp, "get_data_asset_permissions", {"data_asset_id": alice_asset(sandbox)})).structured_content
    assert data is not None
    assert {"email": "alice@example.org", "role": "owner"} in data["users"]


def internal_asset(sandbox: Sandbox) -> str:
    alice = sandbox.users["alice"].id
    for record in sandbox.store.all_assets():
        external = bool(record.source_bucket and record.source_bucket.get("external"))
        if record.owner_id == alice and record.state == "ready" and not external and (record.files or 0) > 1:
            return record.id
    raise LookupError("no internal asset")


async def test_list_files_shows_one_level_with_paths_to_go_deeper(mcp: Client, sandbox: Sandbox) -> None:
    asset_id = internal_asset(sandbox)
    data = (await call(mcp, "list_data_asset_files", {"data_asset_id": asset_id})).structured_content
    assert data is not None
    assert data["items"]
    assert all("/" not in item["path"] for item in data["items"])
    folder = next((i for i in data["items"] if i["type"] == "folder"), None)
    if folder is not None:
        inner = (
            await call(mcp, "list_data_asset_files", {"data_asset_id": asset_id, "path": folder["path"]})
        ).structured_content
        assert inner is not None
        assert all(i["path"].startswith(folder["path"] + "/") for i in inner["items"])


async def test_read_file_pages_through_a_text_file(mcp: Client, sandbox: Sandbox) -> None:
    asset_id = internal_asset(sandbox)
    record = sandbox.store.get_asset(asset_id)
    assert record is not None
    tree = FileTree.for_asset(record.id, record.files or 1, record.size or 0, record.type)
    readme = next(i for i in tree.list("") if i["type"] == "file" and i["name"].endswith((".md", ".txt", ".json")))
    first = (
        await call(mcp, "read_data_asset_file", {"data_asset_id": asset_id, "path": readme["path"], "length": 64})
    ).structured_content
    assert first is not None
    assert first["total_size"] == readme["size"]
    assert first["length"] <= 64
    if first["has_more"]:
        second = (
            await call(
                mcp,
                "read_data_asset_file",
                {"data_asset_id": asset_id, "path": readme["path"], "offset": first["next_offset"], "length": 64},
            )
        ).structured_content
        assert second is not None
        assert second["offset"] == first["next_offset"]


async def test_file_urls_are_signed_links_to_the_file(mcp: Client, sandbox: Sandbox) -> None:
    asset_id = internal_asset(sandbox)
    listing = (await call(mcp, "list_data_asset_files", {"data_asset_id": asset_id})).structured_content
    assert listing is not None
    path = next(i["path"] for i in listing["items"] if i["type"] == "file")
    data = (await call(mcp, "get_data_asset_file_urls", {"data_asset_id": asset_id, "path": path})).structured_content
    assert data is not None
    assert "/__files/" in data["download_url"]
    assert "sig=" in data["download_url"]


async def test_custom_metadata_schema_lists_fields(mcp: Client) -> None:
    data = (await call(mcp, "get_custom_metadata_schema", {})).structured_content
    assert data is not None
    assert data["fields"]


# --- create, update, unarchive, wait --------------------------------------------------------------


async def test_create_from_s3_makes_exactly_one_draft_asset(mcp: Client, sandbox: Sandbox) -> None:
    before = sandbox.store.count_assets()
    source = {"kind": "s3", "bucket": "lab-bucket", "prefix": "run7"}
    data = (await call(mcp, "create_data_asset", {"name": "Run 7", "source": source, "tags": ["x"]})).structured_content
    assert data is not None
    assert sandbox.store.count_assets() == before + 1
    stored = sandbox.store.get_asset(data["asset"]["id"])
    assert stored is not None
    assert (stored.name, stored.tags, stored.mount) == ("Run 7", ["x"], "Run_7")


async def test_create_with_wait_returns_the_settled_asset(mcp: Client, sandbox: Sandbox) -> None:
    source = {"kind": "computation", "computation_id": DEMO_COMPUTATION_ID}
    data = (
        await call(mcp, "create_data_asset", {"name": "Results", "source": source, "wait": True})
    ).structured_content
    assert data is not None
    assert data["asset"]["state"] == "ready"
    stored = sandbox.store.get_asset(data["asset"]["id"])
    assert stored is not None
    assert stored.type == "result"


async def test_create_from_gcs_uses_a_named_credential_set_without_exposing_it(
    make_server: ServerFactory, mode: str, sandbox: Sandbox
) -> None:
    secret = "gcs-client-secret-canary-4711"
    creds = {"lab-gcs": CredentialSet(gcp=GcpCredentials(client_id="id-canary-4711", client_secret=secret))}
    async with Client(make_server(credentials=creds), mode=mode) as client:
        source = {"kind": "gcs", "bucket": "lab-gcs-bucket", "credentials": "lab-gcs"}
        result = await call(client, "create_data_asset", {"name": "From GCS", "source": source, "wait": True})
    assert secret not in text(result)
    assert secret not in json.dumps(result.structured_content)
    assert secret not in repr(sandbox.request_log.entries)
    assert result.structured_content is not None
    assert result.structured_content["asset"]["state"] == "ready"


async def test_create_with_an_unknown_credential_set_names_the_field_and_sends_nothing(
    mcp: Client, sandbox: Sandbox
) -> None:
    sandbox.request_log.clear()
    source = {"kind": "gcs", "bucket": "lab-gcs-bucket", "credentials": "nope"}
    result = await mcp.call_tool("create_data_asset", {"name": "x", "source": source})
    assert result.is_error
    assert "source.credentials" in text(result)
    assert sandbox.request_log.entries == []


async def test_create_rejects_an_unknown_source_kind(mcp: Client) -> None:
    result = await mcp.call_tool("create_data_asset", {"name": "x", "source": {"kind": "ftp", "bucket": "b"}})
    assert result.is_error
    assert "source" in text(result)


async def test_update_changes_only_the_fields_given(mcp: Client, sandbox: Sandbox) -> None:
    asset_id = alice_asset(sandbox)
    before = sandbox.store.get_asset(asset_id)
    assert before is not None
    data = (await call(mcp, "update_data_asset", {"data_asset_id": asset_id, "name": "Renamed"})).structured_content
    assert data is not None
    assert data["performed"] is True  # renaming removes nothing: no confirmation
    assert [change["what"] for change in data["preview"]["items"][0]["changes"]] == ["name"]
    after = sandbox.store.get_asset(asset_id)
    assert after is not None
    assert (after.name, after.description, after.tags) == ("Renamed", before.description, before.tags)


async def test_update_that_only_adds_tags_acts_at_once(mcp: Client, sandbox: Sandbox) -> None:
    asset_id = alice_asset(sandbox)
    before = sandbox.store.get_asset(asset_id)
    assert before is not None
    result = await call(mcp, "update_data_asset", {"data_asset_id": asset_id, "add_tags": ["new-tag"]})
    assert result.structured_content is not None
    assert result.structured_content["performed"] is True
    after = sandbox.store.get_asset(asset_id)
    assert after is not None
    assert after.tags == [*before.tags, "new-tag"]


REMOVALS = [
    pytest.param(lambda record: {"remove_tags": [record.tags[0]]}, id="removes a tag"),
    pytest.param(lambda record: {"tags": []}, id="empties the tags"),
    pytest.param(lambda record: {"custom_metadata": {}}, id="drops custom metadata"),
    pytest.param(lambda record: {"mount": "elsewhere"}, id="changes the mount"),
    pytest.param(lambda record: {"description": ""}, id="empties the description"),
]


def removable_asset(sandbox: Sandbox) -> str:
    alice = sandbox.users["alice"].id
    return next(
        r.id
        for r in sandbox.store.all_assets()
        if r.owner_id == alice and r.state == "ready" and r.tags and r.custom_metadata and r.description
    )


@pytest.mark.parametrize("change", REMOVALS)
async def test_an_update_that_removes_something_previews_and_changes_nothing(
    mcp: Client, sandbox: Sandbox, change: Any
) -> None:
    asset_id = removable_asset(sandbox)
    before = sandbox.store.get_asset(asset_id)
    assert before is not None
    sandbox.request_log.clear()
    result = await call(mcp, "update_data_asset", {"data_asset_id": asset_id, **change(before)})
    data = result.structured_content
    assert data is not None
    assert data["performed"] is False
    assert data["confirm_token"]
    assert "This removes" in data["preview"]["warning"]
    assert sandbox.request_log.count(committed=True) == 0


@pytest.mark.parametrize("change", REMOVALS)
async def test_a_confirmed_update_that_removes_something_acts_once(mcp: Client, sandbox: Sandbox, change: Any) -> None:
    asset_id = removable_asset(sandbox)
    before = sandbox.store.get_asset(asset_id)
    assert before is not None
    arguments = {"data_asset_id": asset_id, **change(before)}
    preview = (await call(mcp, "update_data_asset", arguments)).structured_content
    assert preview is not None
    token = preview["confirm_token"]
    done = await call(mcp, "update_data_asset", {**arguments, "confirm_token": token})
    assert done.structured_content is not None
    assert done.structured_content["performed"] is True
    assert sandbox.request_log.count(committed=True) == 1
    after = sandbox.store.get_asset(asset_id)
    assert after is not None
    assert (after.tags, after.custom_metadata, after.mount, after.description) != (
        before.tags,
        before.custom_metadata,
        before.mount,
        before.description,
    )


async def test_update_with_nothing_to_change_is_refused(mcp: Client, sandbox: Sandbox) -> None:
    result = await mcp.call_tool("update_data_asset", {"data_asset_id": alice_asset(sandbox)})
    assert result.is_error
    assert "nothing to change" in text(result)


async def test_update_with_a_read_only_token_explains_the_scope(
    make_server: ServerFactory, mode: str, sandbox: Sandbox
) -> None:
    asset_id = alice_asset(sandbox)
    async with Client(make_server("alice_readonly"), mode=mode) as client:
        result = await client.call_tool("update_data_asset", {"data_asset_id": asset_id, "name": "nope"})
    assert result.is_error
    assert "read-only" in text(result)
    stored = sandbox.store.get_asset(asset_id)
    assert stored is not None
    assert stored.name != "nope"


async def test_unarchive_makes_an_archived_asset_active(mcp: Client, sandbox: Sandbox) -> None:
    alice = sandbox.users["alice"].id
    record = next(r for r in sandbox.store.all_assets() if r.archived and r.owner_id == alice)
    await call(mcp, "unarchive_data_asset", {"data_asset_id": record.id})
    stored = sandbox.store.get_asset(record.id)
    assert stored is not None
    assert not stored.archived


async def test_wait_reports_progress_until_ready(make_server: ServerFactory, mode: str, sandbox: Sandbox) -> None:
    sandbox.api.ready_delay = 1.2
    source = {"kind": "s3", "bucket": "lab-bucket"}
    updates: list[tuple[float, float | None, str | None]] = []

    async def progress(progress: float, total: float | None, message: str | None) -> None:
        updates.append((progress, total, message))

    async with Client(make_server(), mode=mode) as client:
        created = await call(client, "create_data_asset", {"name": "slow", "source": source})
        assert created.structured_content is not None
        asset_id = created.structured_content["asset"]["id"]
        result = await client.call_tool(
            "wait_for_data_asset", {"data_asset_id": asset_id, "timeout": 30}, progress_callback=progress
        )
    assert not result.is_error, text(result)
    assert result.structured_content is not None
    assert result.structured_content["state"] == "ready"
    assert updates
    assert all(total == 30 for _, total, _ in updates)


# --- writes are audited ---------------------------------------------------------------------------


async def test_every_write_leaves_an_audit_line(mcp: Client, sandbox: Sandbox, options: Any) -> None:
    asset_id = alice_asset(sandbox)
    await call(mcp, "update_data_asset", {"data_asset_id": asset_id, "description": "audited"})
    lines = [(r["tool"], r["outcome"], r["data_asset_ids"]) for r in options.audit.read()]
    assert lines == [("update_data_asset", "attempt", [asset_id]), ("update_data_asset", "done", [asset_id])]


async def test_a_create_is_audited_with_the_new_assets_id(mcp: Client, options: Any) -> None:
    result = await call(mcp, "create_data_asset", {"name": "Audited", "source": {"kind": "s3", "bucket": "lab"}})
    assert result.structured_content is not None
    lines = [(r["outcome"], r["data_asset_ids"]) for r in options.audit.read() if r["tool"] == "create_data_asset"]
    assert lines == [("attempt", []), ("done", [result.structured_content["asset"]["id"]])]


async def test_a_failed_write_is_audited_as_failed_with_the_status(mcp: Client, options: Any) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    await mcp.call_tool("unarchive_data_asset", {"data_asset_id": missing})
    [attempt, failed] = [r for r in options.audit.read() if r["tool"] == "unarchive_data_asset"]
    assert (attempt["outcome"], failed["outcome"], failed["status"]) == ("attempt", "failed", 404)


async def test_a_create_whose_wait_fails_is_reported_as_created_never_as_failed(mcp: Client, sandbox: Sandbox) -> None:
    sandbox.api.ready_delay = 30
    sandbox.faults.error(503, ops="get")  # every poll fails, after the create succeeded
    before = sandbox.store.count_assets()
    result = await mcp.call_tool(
        "create_data_asset", {"name": "Waited", "source": {"kind": "s3", "bucket": "lab"}, "wait": True}
    )
    assert not result.is_error, text(result)
    assert "Do not create it again" in text(result)
    assert sandbox.store.count_assets() == before + 1


async def test_an_unwritable_audit_log_stops_a_write_before_it_happens(
    make_server: ServerFactory, mode: str, sandbox: Sandbox, tmp_path: Any
) -> None:
    from co_mcp.audit import AuditLog

    blocked = tmp_path / "audit.jsonl"
    blocked.mkdir()  # a directory where the file should be: every append fails
    asset_id = alice_asset(sandbox)
    sandbox.request_log.clear()
    async with Client(make_server(audit=AuditLog(blocked)), mode=mode) as client:
        result = await client.call_tool("update_data_asset", {"data_asset_id": asset_id, "name": "never"})
    assert result.is_error
    assert "audit log" in text(result)
    assert sandbox.request_log.count(operation="update") == 0
