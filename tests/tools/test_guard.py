"""The guard's side in the tools: execute acts item by item, and one failure does not hide the others."""

from __future__ import annotations

import pytest
from mcp import Client

from co_mcp.sandbox import Sandbox
from tests.conftest import ServerFactory
from tests.server.test_guard import _archived, target

pytestmark = pytest.mark.anyio


async def test_a_batch_reports_each_item_and_one_failure_does_not_hide_the_others(
    make_server: ServerFactory, mode: str, sandbox: Sandbox
) -> None:
    mine = target(sandbox)
    missing = "00000000-0000-4000-8000-00000000dead"
    arguments = {"data_asset_ids": [mine, missing]}
    async with Client(make_server(), mode=mode) as client:
        token = (await client.call_tool("archive_data_asset", arguments)).structured_content["confirm_token"]
        result = await client.call_tool("archive_data_asset", {**arguments, "confirm_token": token})
    assert result.structured_content is not None
    outcomes = {item["id"]: item["outcome"] for item in result.structured_content["items"]}
    assert outcomes == {mine: "done", missing: "skipped"}
    assert _archived(sandbox, mine)
