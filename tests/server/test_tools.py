"""A tool declaration as an SDK tool: the published schemas, and errors becoming results."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp import Client
from mcp.types import CallToolResult, TextContent

from co_mcp.sandbox import Sandbox
from co_mcp.server import build_server, tool_specs
from co_mcp.server.tools import compact_schema
from tests.conftest import ServerFactory, client_for

pytestmark = pytest.mark.anyio


def text(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


# --- published schemas ------------------------------------------------------------------------------------


async def test_tools_list_schemas_carry_no_titles_and_no_null_branches(mcp: Client) -> None:
    for tool in (await mcp.list_tools()).tools:
        published = json.dumps([tool.input_schema, tool.output_schema])
        assert '"title"' not in published
        assert '{"type": "null"}' not in published


def test_an_optional_field_is_published_as_its_non_null_type() -> None:
    schema = {"properties": {"name": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}}}
    assert compact_schema(schema) == {"properties": {"name": {"type": "string"}}}


def test_a_property_named_title_survives_while_titles_go() -> None:
    schema = {"title": "Args", "properties": {"title": {"type": "string", "title": "Title"}}}
    assert compact_schema(schema) == {"properties": {"title": {"type": "string"}}}


def test_a_long_length_cap_is_not_published() -> None:
    schema = {"properties": {"path": {"type": "string", "maxLength": 1024}}}
    assert compact_schema(schema) == {"properties": {"path": {"type": "string"}}}


def test_a_short_length_cap_is_published() -> None:
    schema = {"properties": {"tag": {"type": "string", "maxLength": 64}}}
    assert compact_schema(schema) == schema


def test_output_schemas_lose_defaults_and_descriptions() -> None:
    schema = {"properties": {"state": {"type": "string", "default": "ready", "description": "for developers"}}}
    assert compact_schema(schema, output=True) == {"properties": {"state": {"type": "string"}}}


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
