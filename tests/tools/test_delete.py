"""delete_data_asset: its preview names what uses the asset; the audit log keeps what was deleted."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from mcp import Client

from co_mcp.api import CodeOceanClient
from co_mcp.api.models import DataAssetParams
from co_mcp.sandbox import Sandbox
from tests.server.test_guard import preview_token, target
from tests.support import text

pytestmark = pytest.mark.anyio


async def test_a_preview_changes_nothing_and_names_the_combined_assets_that_contain_it(
    mcp: Client, api: CodeOceanClient, sandbox: Sandbox
) -> None:
    alice = sandbox.users["alice"].id
    members = [r.id for r in sandbox.store.all_assets() if r.owner_id == alice and r.state == "ready"][:2]
    params = DataAssetParams(name="Combined for the preview test", mount="combined", data_asset_ids=members)
    combined = await api.create_data_asset(params)
    sandbox.request_log.clear()
    result = await mcp.call_tool("delete_data_asset", {"data_asset_ids": [members[0]]})
    assert sandbox.request_log.count(committed=True) == 0
    assert f'used by: combined "Combined for the preview test" {combined.id}' in text(result)


async def test_a_delete_preview_lists_results_derived_from_the_asset(mcp: Client, sandbox: Sandbox) -> None:
    asset_id = target(sandbox)
    # A result imported with results_info naming the asset as an input. No tool sends results_info, so neither
    # does co_mcp's client: the sandbox's API is asked directly.
    body = {
        "name": "Derived from the target",
        "mount": "derived",
        "source": {"aws": {"bucket": "lab-results"}},
        "results_info": {"capsule_id": "c0ffee00-0000-4000-8000-000000000001", "data_assets": [asset_id]},
    }
    alice = (sandbox.token_for("alice"), "")
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=sandbox.app), auth=alice) as http:
        created = await http.post("http://sandbox/api/v1/data_assets", json=body)
    created.raise_for_status()
    result = await mcp.call_tool("delete_data_asset", {"data_asset_ids": [asset_id]})
    assert f'result "Derived from the target" {created.json()["id"]}' in text(result)


async def test_a_confirmed_delete_leaves_audit_lines_holding_the_deleted_metadata(
    mcp: Client, sandbox: Sandbox, options: Any
) -> None:
    asset_id = target(sandbox)
    record = sandbox.store.get_asset(asset_id)
    assert record is not None
    token = await preview_token(mcp, {"data_asset_ids": [asset_id]})
    await mcp.call_tool("delete_data_asset", {"data_asset_ids": [asset_id], "confirm_token": token})
    lines = [line for line in options.audit.read() if line["tool"] == "delete_data_asset"]
    assert [line["outcome"] for line in lines] == ["attempt", "done"]
    assert all(line["deleted"]["name"] == record.name for line in lines)
    assert lines[-1]["fingerprint"] == token.split(".")[2]
    assert "confirm_token" not in lines[-1]["arguments"]
