"""Assembly: which tools the server offers, and how tools/list presents them, through the real protocol."""

from __future__ import annotations

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS

from co_mcp.errors import ConfigurationError
from co_mcp.sandbox import Sandbox
from co_mcp.server import ServerOptions, build_server
from tests.conftest import ServerFactory, client_for
from tests.server.test_guard import target

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


# --- what the model can do at all ------------------------------------------------------------------------


async def test_read_only_mode_lists_no_write_tools(make_server: ServerFactory, mode: str) -> None:
    async with Client(make_server(read_only=True), mode=mode) as client:
        tools = (await client.list_tools()).tools
    assert tools
    assert all(tool.annotations and tool.annotations.read_only_hint for tool in tools)


async def test_read_only_mode_calls_to_write_tools_are_unknown(
    make_server: ServerFactory, mode: str, sandbox: Sandbox
) -> None:
    async with Client(make_server(read_only=True), mode=mode) as client:
        sandbox.request_log.clear()
        with pytest.raises(MCPError) as refused:
            await client.call_tool("delete_data_asset", {"data_asset_ids": [target(sandbox)]})
    assert refused.value.error.code == INVALID_PARAMS
    assert "Unknown tool: 'delete_data_asset' (not offered here: read-only mode" in refused.value.error.message
    assert sandbox.request_log.entries == []


async def test_a_deny_list_removes_a_tool(make_server: ServerFactory, mode: str) -> None:
    async with Client(make_server(deny=frozenset({"delete_data_asset"})), mode=mode) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
    assert "delete_data_asset" not in names
    assert "archive_data_asset" in names


async def test_an_allow_list_keeps_only_its_tools(make_server: ServerFactory, mode: str) -> None:
    allow = frozenset({"search_data_assets", "get_data_asset"})
    async with Client(make_server(allow=allow), mode=mode) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
    assert names == allow


def test_an_unknown_name_in_an_allow_list_is_refused_naming_the_nearest_tool() -> None:
    options = ServerOptions(allow=frozenset({"delete_data_assets"}))
    with pytest.raises(ConfigurationError) as refused:
        build_server(lambda: client_for(Sandbox(assets=1)), options=options)
    assert "CO_MCP_TOOLS names 1 tool(s) co_mcp does not have (did you mean delete_data_asset?)" in str(refused.value)


def test_an_unknown_name_in_a_deny_list_is_not_repeated() -> None:
    # A value may be a secret pasted into the wrong variable.
    options = ServerOptions(deny=frozenset({"cop_pasted_secret_0123"}))
    with pytest.raises(ConfigurationError) as refused:
        build_server(lambda: client_for(Sandbox(assets=1)), options=options)
    assert "CO_MCP_DISABLE names 1 tool(s)" in str(refused.value)
    assert "cop_pasted_secret_0123" not in str(refused.value)
