"""A tool declaration as an SDK tool: the published schemas, arguments validated as sent, errors becoming results."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp import Client

from co_mcp.sandbox import Sandbox
from co_mcp.server import build_server, tool_specs
from co_mcp.server.tools import compact_schema
from tests.conftest import ServerFactory, client_for
from tests.support import call, text

pytestmark = pytest.mark.anyio


def alice_asset(sandbox: Sandbox) -> str:
    alice = sandbox.users["alice"].id
    return next(r.id for r in sandbox.store.all_assets() if r.owner_id == alice and r.state == "ready")


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


# --- arguments, validated as sent with the tool's own model --------------------------------------------------


async def test_a_json_string_sent_for_a_list_is_refused_not_decoded(mcp: Client, sandbox: Sandbox) -> None:
    # A string where a list belongs is the wrong type, refused with the field named.
    sandbox.request_log.clear()
    result = await mcp.call_tool("update_data_asset", {"data_asset_id": alice_asset(sandbox), "tags": '["x"]'})
    assert result.is_error
    assert "- tags: " in text(result)
    assert sandbox.request_log.entries == []


async def test_json_null_sent_as_text_stays_text(mcp: Client, sandbox: Sandbox) -> None:
    # Decoded as JSON (as the SDK's own argument handling does), "null" would be no description at all.
    asset_id = alice_asset(sandbox)
    result = await mcp.call_tool("update_data_asset", {"data_asset_id": asset_id, "description": "null"})
    assert not result.is_error, text(result)
    record = sandbox.store.get_asset(asset_id)
    assert record is not None
    assert record.description == "null"


async def test_the_tool_models_own_rules_are_enforced(mcp: Client, sandbox: Sandbox) -> None:
    # A model-level rule, which a model built from the function's signature would not have.
    sandbox.request_log.clear()
    arguments = {"data_asset_id": alice_asset(sandbox), "tags": ["a"], "add_tags": ["b"]}
    result = await mcp.call_tool("update_data_asset", arguments)
    assert result.is_error
    assert "not both" in text(result)
    assert sandbox.request_log.entries == []


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
