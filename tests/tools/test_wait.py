"""wait_for_data_asset: waits with progress until ready or failed."""

from __future__ import annotations

import pytest
from mcp import Client

from co_mcp.sandbox import Sandbox
from tests.conftest import ServerFactory
from tests.support import call, text

pytestmark = pytest.mark.anyio


async def test_wait_reports_progress_until_ready(make_server: ServerFactory, mode: str, sandbox: Sandbox) -> None:
    sandbox.api.ready_delay = 1.2
    source = {"kind": "s3", "bucket": "lab-bucket"}
    updates: list[tuple[float, float | None, str | None]] = []

    async def progress(progress: float, total: float | None, message: str | None) -> None:
        updates.append((progress, total, message))

    async with Client(make_server(), mode=mode) as client:
        created = await call(client, "create_data_asset", {"name": "slow", "source": source})
        assert created.structured_content is not None
        asset_id = created.structured_content["asset"]["id"]
        result = await client.call_tool(
            "wait_for_data_asset", {"data_asset_id": asset_id, "timeout": 30}, progress_callback=progress
        )
    assert not result.is_error, text(result)
    assert result.structured_content is not None
    assert result.structured_content["state"] == "ready"
    assert updates
    assert all(total == 30 for _, total, _ in updates)
