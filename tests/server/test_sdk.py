"""Each reach into the SDK beyond its public API (co_mcp/server/sdk.py), pinned: a test here fails, by name, when an
SDK release changes what the reach relies on."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from mcp import Client
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.tools import Tool

from co_mcp.sandbox import Sandbox
from co_mcp.server.guard import UNREADABLE_ANSWER
from tests.conftest import ServerFactory
from tests.server.test_guard import answering, destructive_requests, target
from tests.support import text

pytestmark = pytest.mark.anyio


# --- 1. The output schema, compacted after the SDK derived it ------------------------------------------------


async def test_the_listed_output_schema_is_the_compacted_one(mcp: Client) -> None:
    tool = next(tool for tool in (await mcp.list_tools()).tools if tool.name == "get_data_asset")
    assert tool.output_schema is not None
    assert '{"type": "null"}' not in json.dumps(tool.output_schema)  # the SDK's derived schema has them


# --- public behaviour co_mcp relies on ------------------------------------------------------------------------


async def test_a_function_without_argument_parameters_still_receives_the_calls_arguments(mode: str) -> None:
    # co_mcp validates arguments itself (tools.arguments_as_sent): the SDK's empty argument model must let
    # them through, unchanged, to the request context.
    seen: list[Any] = []

    async def probe(ctx: Context) -> str:
        seen.append((ctx.request_context.params or {}).get("arguments"))
        return "ok"

    server = MCPServer("probe", tools=[Tool.from_function(probe, name="probe", context_kwarg="ctx")])
    async with Client(server, mode=mode) as client:
        result = await client.call_tool("probe", {"description": "null", "tags": '["x"]', "extra": 1})
    assert not result.is_error
    assert seen == [{"description": "null", "tags": '["x"]', "extra": 1}]


# --- 2. The SDK's refusal of an unreadable answer, recognised by its text --------------------------------------


async def test_an_unreadable_answer_reads_as_co_mcps_sentence(
    make_server: ServerFactory, mode: str, sandbox: Sandbox
) -> None:
    elicit = answering("accept", {"confirm": "yes"})
    async with Client(make_server(), mode=mode, elicitation_callback=elicit) as client:
        sandbox.request_log.clear()
        result = await client.call_tool("archive_data_asset", {"data_asset_ids": [target(sandbox)]})
    assert result.is_error
    assert text(result) == UNREADABLE_ANSWER
    assert destructive_requests(sandbox) == []


# --- 3. The SDK's logging set-up, skipped when logging is already set up -----------------------------------------

BUILD = "from co_mcp.server import build_server; build_server(lambda: None)"


def test_with_logging_configured_building_the_server_does_not_import_rich() -> None:
    # The CLI configures stderr logging first; the SDK's rich handler would be discarded, so it is not built.
    code = f"import logging, sys; logging.basicConfig(); {BUILD}; print('rich' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "False"


def test_without_logging_configured_the_sdk_sets_it_up_as_usual() -> None:
    code = f"import logging; {BUILD}; print(len(logging.getLogger().handlers))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "1"
