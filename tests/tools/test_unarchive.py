"""unarchive_data_asset: an archived asset becomes active again."""

from __future__ import annotations

import pytest
from mcp import Client

from co_mcp.sandbox import Sandbox
from tests.support import call

pytestmark = pytest.mark.anyio


async def test_unarchive_makes_an_archived_asset_active(mcp: Client, sandbox: Sandbox) -> None:
    alice = sandbox.users["alice"].id
    record = next(r for r in sandbox.store.all_assets() if r.archived and r.owner_id == alice)
    await call(mcp, "unarchive_data_asset", {"data_asset_id": record.id})
    stored = sandbox.store.get_asset(record.id)
    assert stored is not None
    assert not stored.archived
