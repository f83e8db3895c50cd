"""get_data_asset: full detail of up to 50 assets, each failing id beside the others."""

from __future__ import annotations

import json

import pytest
from mcp import Client

from co_mcp.sandbox import Sandbox
from tests.support import alice_asset, call, text

pytestmark = pytest.mark.anyio


async def test_get_one_asset_gives_full_detail(mcp: Client, sandbox: Sandbox) -> None:
    asset_id = alice_asset(sandbox)
    record = sandbox.store.get_asset(asset_id)
    assert record is not None
    result = await call(mcp, "get_data_asset", {"data_asset_ids": [asset_id]})
    assert result.structured_content is not None
    [asset] = result.structured_content["assets"]
    assert (asset["id"], asset["state"]) == (record.id, record.state)
    body = text(result)
    assert body.startswith(f"{json.dumps(record.name, ensure_ascii=False)} {record.id} ")
    assert f'mount "{record.mount}"' in body
    assert "tags " + " ".join(json.dumps(tag, ensure_ascii=False) for tag in record.tags) in body


async def test_get_accepts_a_single_id_as_a_string(mcp: Client, sandbox: Sandbox) -> None:
    data = (await call(mcp, "get_data_asset", {"data_asset_ids": alice_asset(sandbox)})).structured_content
    assert data is not None
    assert len(data["assets"]) == 1


async def test_batch_get_reports_a_missing_id_beside_the_found_ones(mcp: Client, sandbox: Sandbox) -> None:
    found = [r.id for r in sandbox.store.all_assets()[:3]]
    missing = "00000000-0000-4000-8000-000000000000"
    result = await call(mcp, "get_data_asset", {"data_asset_ids": [*found, missing]})
    data = result.structured_content
    assert data is not None
    assert len(data["assets"]) + len(data["errors"]) == 4
    assert missing in {e["id"] for e in data["errors"]}
    assert "search_data_assets" in text(result)


async def test_get_refuses_a_path_traversal_id_before_any_request(mcp: Client, sandbox: Sandbox) -> None:
    sandbox.request_log.clear()
    result = await mcp.call_tool("get_data_asset", {"data_asset_ids": ["../capsules/abc"]})
    assert result.is_error
    assert "data_asset_ids" in text(result)
    assert sandbox.request_log.entries == []


async def test_get_of_an_unknown_id_is_an_actionable_error(mcp: Client) -> None:
    missing = "00000000-0000-4000-8000-000000000001"
    result = await mcp.call_tool("get_data_asset", {"data_asset_ids": [missing]})
    assert result.is_error  # nothing the call asked for came back
    assert missing in text(result)
    assert "search_data_assets finds assets by name" in text(result)


async def test_get_with_every_id_unknown_is_an_error_naming_each(mcp: Client) -> None:
    missing = ["00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"]
    result = await mcp.call_tool("get_data_asset", {"data_asset_ids": missing})
    assert result.is_error
    assert all(data_asset_id in text(result) for data_asset_id in missing)
