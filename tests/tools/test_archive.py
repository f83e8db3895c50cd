"""archive_data_asset: its preview names what uses the asset, archived combined assets too."""

from __future__ import annotations

import pytest
from mcp import Client

from co_mcp.api import CodeOceanClient
from co_mcp.api.models import DataAssetParams
from co_mcp.sandbox import Sandbox
from tests.support import text

pytestmark = pytest.mark.anyio


async def test_a_preview_names_archived_combined_assets_that_contain_it_too(
    mcp: Client, api: CodeOceanClient, sandbox: Sandbox
) -> None:
    alice = sandbox.users["alice"].id
    members = [r.id for r in sandbox.store.all_assets() if r.owner_id == alice and r.state == "ready"][:2]
    params = DataAssetParams(name="Archived combination", mount="combined", data_asset_ids=members)
    combined = await api.create_data_asset(params)
    await api.wait_until_ready(combined.id, timeout=10)
    await api.archive_data_asset(combined.id, archive=True)
    result = await mcp.call_tool("archive_data_asset", {"data_asset_ids": [members[0]]})
    assert f'combined "Archived combination" {combined.id}' in text(result)
