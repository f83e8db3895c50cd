"""Every non-destructive tool through the real MCP protocol, in both eras, against the sandbox.

Outcomes are checked in the sandbox's store and request log, not only in what the tool returned.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS

from co_mcp.sandbox import Sandbox
from co_mcp.server import build_server, tool_specs
from tests.conftest import ServerFactory, client_for
from tests.tools.support import alice_asset, call, text

pytestmark = pytest.mark.anyio

READ_TOOLS = {
    "search_data_assets",
    "get_data_asset",
    "get_data_asset_permissions",
    "list_data_asset_files",
    "read_data_asset_file",
    "get_data_asset_file_urls",
    "get_custom_metadata_schema",
    "wait_for_data_asset",
}
WRITE_TOOLS = {"create_data_asset", "unarchive_data_asset"}
# update_data_asset asks for confirmation only when it would remove something; it may be destructive.
GUARDED_TOOLS = {
    "update_data_asset",
    "archive_data_asset",
    "delete_data_asset",
    "share_data_asset",
    "transfer_data_asset",
}


# --- tools/list ---------------------------------------------------------------------------------


async def test_tools_list_offers_every_tool_with_title_description_and_all_four_annotations(mcp: Client) -> None:
    tools = {tool.name: tool for tool in (await mcp.list_tools()).tools}
    assert set(tools) == READ_TOOLS | WRITE_TOOLS | GUARDED_TOOLS
    for tool in tools.values():
        assert tool.title
        assert tool.description
        assert tool.output_schema is not None
        hints = tool.annotations
        assert hints is not None
        assert None not in (hints.read_only_hint, hints.destructive_hint, hints.idempotent_hint, hints.open_world_hint)
        assert hints.read_only_hint == (tool.name in READ_TOOLS)
        assert hints.destructive_hint == (tool.name in GUARDED_TOOLS)


async def test_tools_list_schemas_carry_no_titles_and_no_null_branches(mcp: Client) -> None:
    for tool in (await mcp.list_tools()).tools:
        published = json.dumps([tool.input_schema, tool.output_schema])
        assert '"title"' not in published
        assert '{"type": "null"}' not in published


# --- search -------------------------------------------------------------------------------------


# --- get ----------------------------------------------------------------------------------------


async def test_argument_errors_carry_no_documentation_links(mcp: Client) -> None:
    result = await mcp.call_tool("get_data_asset", {"data_asset_ids": ["not-a-uuid"]})
    assert result.is_error
    assert "arguments of get_data_asset" in text(result)
    assert "errors.pydantic.dev" not in text(result)


async def test_an_unknown_tool_is_a_protocol_error_listing_the_tools(mcp: Client, sandbox: Sandbox) -> None:
    with pytest.raises(MCPError) as refused:
        await mcp.call_tool("delete_everything", {})
    assert refused.value.error.code == INVALID_PARAMS
    assert refused.value.error.message.startswith("Unknown tool: 'delete_everything'; tools: ")
    assert "search_data_assets" in refused.value.error.message
    assert sandbox.request_log.entries == []


# --- permissions, files, schema -----------------------------------------------------------------


# --- create, update, unarchive, wait --------------------------------------------------------------


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


# --- errors never crash the server ------------------------------------------------------------------


async def test_an_unexpected_bug_is_an_internal_error_and_the_server_keeps_serving(
    make_server: ServerFactory, mode: str
) -> None:
    specs = tool_specs()

    async def broken(*_: Any) -> Any:
        raise RuntimeError("boom with a secret cop_sandbox_token")

    faulty = [
        s if s.name != "get_custom_metadata_schema" else s.__class__(**{**s.__dict__, "run": broken}) for s in specs
    ]
    sandbox = Sandbox(assets=3)
    server = build_server(lambda: client_for(sandbox), specs=faulty)
    async with Client(server, mode=mode) as client:
        result = await client.call_tool("get_custom_metadata_schema", {})
        assert result.is_error
        assert "Internal error" in text(result)
        assert "boom" not in text(result)
        assert not (await client.call_tool("search_data_assets", {"limit": 1})).is_error
