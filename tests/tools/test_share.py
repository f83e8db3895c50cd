"""share_data_asset: the preview shows each change before -> after; one role per person or group."""

from __future__ import annotations

import pytest
from mcp import Client

from co_mcp.sandbox import Sandbox
from tests.server.test_guard import target
from tests.support import text

pytestmark = pytest.mark.anyio


async def test_share_preview_shows_before_and_after(mcp: Client, sandbox: Sandbox) -> None:
    asset_id = target(sandbox)
    carol = [{"email": "carol@example.org", "role": "editor"}]
    result = await mcp.call_tool(
        "share_data_asset", {"data_asset_ids": [asset_id], "everyone": "viewer", "users": carol}
    )
    assert 'everyone: "none" -> "viewer"' in text(result)
    assert 'user "carol@example.org": "no access" -> "editor"' in text(result)


async def test_a_share_naming_someone_twice_is_refused_and_sends_nothing(mcp: Client, sandbox: Sandbox) -> None:
    users = [{"email": "carol@example.org", "role": "viewer"}, {"email": "Carol@example.org", "role": "owner"}]
    sandbox.request_log.clear()
    result = await mcp.call_tool("share_data_asset", {"data_asset_ids": [target(sandbox)], "users": users})
    assert result.is_error
    assert "carol@example.org appear more than once" in text(result)
    assert sandbox.request_log.entries == []
