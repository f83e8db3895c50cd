"""Each reach into the SDK beyond its public API (co_mcp/server/sdk.py), pinned: a test here fails, by name, when an
SDK release changes what the reach relies on."""

from __future__ import annotations

import subprocess
import sys

import pytest
from mcp import Client
from mcp.types import CallToolResult, TextContent

from co_mcp.sandbox import Sandbox
from co_mcp.server.guard import UNREADABLE_ANSWER
from tests.conftest import ServerFactory
from tests.server.test_guard import answering, destructive_requests, target

pytestmark = pytest.mark.anyio


def text(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


def alice_asset(sandbox: Sandbox) -> str:
    alice = sandbox.users["alice"].id
    return next(r.id for r in sandbox.store.all_assets() if r.owner_id == alice and r.state == "ready")


# --- 1. ValidateArgumentsAsSent: the tool's own model, and no JSON decoding of strings ------------------------


async def test_a_json_string_sent_for_a_list_is_refused_not_decoded(mcp: Client, sandbox: Sandbox) -> None:
    # A string where a list belongs is the wrong type, refused with the field named.
    sandbox.request_log.clear()
    result = await mcp.call_tool("update_data_asset", {"data_asset_id": alice_asset(sandbox), "tags": '["x"]'})
    assert result.is_error
    assert "- tags: " in text(result)
    assert sandbox.request_log.entries == []


async def test_json_null_sent_as_text_stays_text(mcp: Client, sandbox: Sandbox) -> None:
    # The pin: the SDK's pre_parse_json decodes "null" into no description at all; co_mcp's override keeps the
    # four letters.
    asset_id = alice_asset(sandbox)
    result = await mcp.call_tool("update_data_asset", {"data_asset_id": asset_id, "description": "null"})
    assert not result.is_error, text(result)
    record = sandbox.store.get_asset(asset_id)
    assert record is not None
    assert record.description == "null"


async def test_the_sdk_enforces_the_tool_models_own_rules(mcp: Client, sandbox: Sandbox) -> None:
    # A model-level rule, which a model built from the function's signature would not have.
    sandbox.request_log.clear()
    arguments = {"data_asset_id": alice_asset(sandbox), "tags": ["a"], "add_tags": ["b"]}
    result = await mcp.call_tool("update_data_asset", arguments)
    assert result.is_error
    assert "not both" in text(result)
    assert sandbox.request_log.entries == []


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
