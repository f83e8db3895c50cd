"""get_data_asset_permissions: who can use a data asset."""

from __future__ import annotations

import pytest
from mcp import Client

from co_mcp.sandbox import Sandbox
from tests.support import alice_asset, call

pytestmark = pytest.mark.anyio


async def test_permissions_list_the_owner(mcp: Client, sandbox: Sandbox) -> None:
    data = (await call(mcp, "get_data_asset_permissions", {"data_asset_id": alice_asset(sandbox)})).structured_content
    assert data is not None
    assert {"email": "alice@example.org", "role": "owner"} in data["users"]
