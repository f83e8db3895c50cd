"""A client's mistaken call answered as one, through the real protocol: an unknown tool or prompt, or prompt
arguments that do not fit, is -32602; argument errors read one line per field, its path and what is allowed.

For every tool, invalid arguments of every kind the published schema allows to make (wrong type, missing
required, unknown field at the top and inside, out of range, outside length or item bounds, not in an
enum, a bad UUID), plus bad patterns and a model-level rule, drawn from schema-valid arguments by the fuzz
suite's mutations. Each refusal must read as co_mcp's own sentence: no pydantic type tags, links,
rejected input or Python names, and nothing reaches the sandbox.
"""

from __future__ import annotations

import json
import logging
import random
from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, CallToolResult

from co_mcp.sandbox import Sandbox
from tests.conftest import ServerFactory
from tests.reliability.test_fuzz import ARG_MODELS, drawn, load_schemas, model_valid, mutations, python_words
from tests.support import text

pytestmark = pytest.mark.anyio

KINDS = {"wrong_type", "out_of_range", "bad_enum", "bounds", "bad_id", "missing_required", "extra_key"}
ASSET = "0d9f5a4e-1c9b-4d5e-9a77-2f7d6a1e0b11"
SECRETISH = "cop_3f9a1b2c4d5e6f70"


def assert_plain_refusal(tool: str, result: CallToolResult) -> list[str]:
    """The refusal's field lines, after checking it reads as co_mcp's own words."""
    said = text(result)
    assert result.is_error, said
    header, *lines = said.split("\n")
    assert header == f"Invalid arguments of {tool}; nothing was sent to Code Ocean.", said
    assert lines, said
    assert all(line.startswith("- ") for line in lines), said
    assert python_words(said) == [], said
    paths = [line[2:].split(": ", 1)[0] for line in lines if ": " in line]
    assert len(paths) == len(set(paths)), f"a field on more than one line: {said}"
    return lines


async def test_every_kind_of_invalid_argument_to_every_tool_reads_plainly(
    make_server: ServerFactory, mode: str, sandbox: Sandbox
) -> None:
    rng = random.Random(7)
    kinds: dict[str, set[str]] = {}
    async with Client(make_server(), mode=mode) as client:
        await load_schemas(client)
        for tool in ARG_MODELS:
            # Schema-valid draws that the model accepts too (nested objects may carry stray keys the schema
            # does not forbid): so each mutation is the one mistake, and its field must be named.
            bases = [json.loads(found) for found in drawn(tool, 12) if model_valid(tool, json.loads(found))][:4]
            for base in bases:
                for case in mutations(tool, base, rng):
                    if model_valid(tool, case.arguments):
                        continue  # a documented leniency (a single id for a list): not an error
                    sandbox.request_log.clear()
                    result = await client.call_tool(tool, case.arguments)
                    assert_plain_refusal(tool, result)
                    assert case.field is None or case.field in text(result), text(result)
                    assert sandbox.request_log.entries == []
                    kinds.setdefault(case.kind, set()).add(tool)
    # The search was not vacuous: every kind of mistake was made, and to most tools.
    assert set(kinds) == KINDS
    assert len(set().union(*kinds.values())) == len(ARG_MODELS)


@pytest.mark.parametrize(
    ("tool", "arguments", "line"),
    [
        ("share_data_asset", {"data_asset_ids": [ASSET], "users": [{"email": "nobody.example.org", "role": "viewer"}]},
         "- users[0].email: text matching the pattern ^[^@\\s]+@[^@\\s]+$"),
        ("update_data_asset", {"data_asset_id": ASSET, "mount": "a b"},
         "- mount: text matching the pattern ^[A-Za-z0-9._-]+$"),
        ("update_data_asset", {"data_asset_id": ASSET, "mount": ".."},
         "- mount: a mount is a folder name, not . or .."),
        ("share_data_asset", {"data_asset_ids": [ASSET]},
         "- nothing to share: give users, groups, everyone or share_assets"),
        ("create_data_asset", {"name": "x", "source": {"kind": "tape", "bucket": "b"}},
         "- source.kind: one of 's3', 'gcs', 'computation', 'cloud_workstation', 'combined'"),
        ("create_data_asset", {"name": "x", "source": {"kind": "s3"}}, "- source.bucket: required"),
        ("create_data_asset", {"name": "x", "source": {"kind": "s3", "bucket": "lab", "acl": "x"}},
         "- source.acl: not a known field (accepted here: kind, bucket, prefix, endpoint_name, "
         "keep_on_external_storage, public)"),
        ("search_data_assets", {"filters": [{"key": "a", "value": [1]}]}, "- filters[0].value: a string or a number"),
        ("search_data_assets", {"limit": 0}, "- limit: at least 1"),
        ("search_data_assets", {"limit": "ten"}, "- limit: a whole number from 1 to 100"),
        ("get_data_asset", {"data_asset_ids": ["../capsules/x"]},
         "- data_asset_ids[0]: a UUID such as 0d9f5a4e-1c9b-4d5e-9a77-2f7d6a1e0b11"),
        ("update_data_asset", {"data_asset_id": ASSET, "custom_metadata": {"batch": {"a": 1}}},
         '- custom_metadata["batch"]: a string, a number or a list'),
    ],
)  # fmt: skip
async def test_each_field_line_says_what_is_allowed(
    mcp: Client, sandbox: Sandbox, tool: str, arguments: dict[str, Any], line: str
) -> None:
    sandbox.request_log.clear()
    result = await mcp.call_tool(tool, arguments)
    assert line in assert_plain_refusal(tool, result)
    assert sandbox.request_log.entries == []


@pytest.mark.parametrize(
    "arguments",
    [
        {"limit": SECRETISH},
        {"type": SECRETISH},
        {"filters": [{"key": "a", "value": {"x": SECRETISH}}]},
        {"cursor": SECRETISH * 200},
        {"query": ["../" + SECRETISH]},
    ],
)
async def test_a_rejected_value_is_never_repeated(mcp: Client, arguments: dict[str, Any]) -> None:
    result = await mcp.call_tool("search_data_assets", arguments)
    assert_plain_refusal("search_data_assets", result)
    assert SECRETISH not in text(result)


async def test_an_unknown_key_is_named_cleaned_and_capped(mcp: Client) -> None:
    result = await mcp.call_tool("search_data_assets", {"bogus\u202e\n" + "x" * 500: 1})
    [line] = assert_plain_refusal("search_data_assets", result)
    assert line.startswith('- "bogus')
    assert "\u202e" not in line
    assert len(line) < 300


async def test_argument_errors_carry_no_documentation_links(mcp: Client) -> None:
    result = await mcp.call_tool("get_data_asset", {"data_asset_ids": ["not-a-uuid"]})
    assert result.is_error
    assert "arguments of get_data_asset" in text(result)
    assert "errors.pydantic.dev" not in text(result)


# --- unknown tools and prompts, prompt arguments ----------------------------------------------------------


async def test_an_unknown_tool_is_a_protocol_error_listing_the_tools(mcp: Client, sandbox: Sandbox) -> None:
    with pytest.raises(MCPError) as refused:
        await mcp.call_tool("delete_everything", {})
    assert refused.value.error.code == INVALID_PARAMS
    assert refused.value.error.message.startswith("Unknown tool: 'delete_everything'; tools: ")
    assert "search_data_assets" in refused.value.error.message
    assert sandbox.request_log.entries == []


async def test_an_unknown_prompt_is_invalid_params(mcp: Client, caplog: pytest.LogCaptureFixture) -> None:
    # A client's mistake, not a server crash: -32602 naming the prompt (the SDK alone answers with an
    # internal error, or code 0 over JSON-RPC, and logs a traceback).
    with pytest.raises(MCPError) as caught:
        await mcp.get_prompt("no_such_prompt")
    assert caught.value.error.code == -32602
    assert "no_such_prompt" in caught.value.error.message
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_a_prompt_without_its_required_argument_is_invalid_params(mcp: Client) -> None:
    with pytest.raises(MCPError) as caught:
        await mcp.get_prompt("find_dataset", {})
    assert caught.value.error.code == -32602
    assert "analysis" in caught.value.error.message


async def test_a_prompt_with_an_unknown_argument_is_invalid_params(mcp: Client) -> None:
    with pytest.raises(MCPError) as caught:
        await mcp.get_prompt("tidy_up", {"older_than_days": "30", "colour": "red"})
    assert caught.value.error.code == -32602
    assert "colour" in caught.value.error.message
