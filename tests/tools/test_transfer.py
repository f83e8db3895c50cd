"""transfer_data_asset: the preview shows where the files go and every setting sent with them."""

from __future__ import annotations

import pytest
from mcp import Client

from co_mcp.sandbox import Sandbox
from tests.conftest import ServerFactory
from tests.server.test_guard import destructive_requests, target
from tests.support import text

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("force", [True, False])
async def test_the_preview_shows_the_target_and_force(
    make_server: ServerFactory, mode: str, sandbox: Sandbox, force: bool
) -> None:
    arguments = {"data_asset_ids": [target(sandbox)], "bucket": "cold-archive", "prefix": "2026/", "force": force}
    async with Client(make_server("admin"), mode=mode) as client:
        result = await client.call_tool("transfer_data_asset", arguments)
    data = result.structured_content
    assert data is not None
    assert data["preview"]["sends"] == {"bucket": "cold-archive", "prefix": "2026/", "force": force}
    assert data["preview"]["items"][0]["changes"][0]["after"] == "s3://cold-archive/2026/"
    assert f"force {str(force).lower()}" in text(result)
    assert destructive_requests(sandbox) == []
