"""Helpers the tests share: a result's text, one of alice's ready assets, a call that must succeed."""

from __future__ import annotations

import os
from typing import Any

import pytest
from mcp import Client
from mcp.types import CallToolResult, TextContent

from co_mcp.sandbox import Sandbox


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


def clear_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset every co-mcp setting (CODEOCEAN_*, CO_MCP_*) the environment holds, for this test only."""
    for name in list(os.environ):
        if name.startswith(("CODEOCEAN_", "CO_MCP_")):
            monkeypatch.delenv(name)
