"""What an error says, through the real protocol: right for the tool that met it, whatever the asset's state.

render.explain turns every co_mcp and Code Ocean error into the sentence a model reads. A missing asset is
"not visible to your Code Ocean access token" (never "this token", which reads like a confirm_token), with a
path mentioned only by tools that take one; a 409 never suggests waiting for an asset that failed.
"""

from __future__ import annotations

from typing import Any, Literal

import pytest
from mcp import Client

from co_mcp.sandbox import Sandbox
from tests.support import text

pytestmark = pytest.mark.anyio

MISSING = "00000000-0000-4000-8000-00000000dead"
ASSET_TOOLS: dict[str, dict[str, Any]] = {
    "get_data_asset": {"data_asset_ids": [MISSING]},
    "get_data_asset_permissions": {"data_asset_id": MISSING},
    "wait_for_data_asset": {"data_asset_id": MISSING, "timeout": 1},
    "update_data_asset": {"data_asset_id": MISSING, "description": "x"},
    "unarchive_data_asset": {"data_asset_id": MISSING},
    "archive_data_asset": {"data_asset_ids": [MISSING]},
    "delete_data_asset": {"data_asset_ids": [MISSING]},
    "share_data_asset": {"data_asset_ids": [MISSING], "everyone": "viewer"},
    "transfer_data_asset": {"data_asset_ids": [MISSING], "bucket": "cold-archive"},
}
PATH_TOOLS: dict[str, dict[str, Any]] = {
    "list_data_asset_files": {"data_asset_id": MISSING},
    "read_data_asset_file": {"data_asset_id": MISSING, "path": "README.md"},
    "get_data_asset_file_urls": {"data_asset_id": MISSING, "path": "README.md"},
}


@pytest.mark.parametrize("tool", list(ASSET_TOOLS))
async def test_a_missing_asset_is_not_visible_to_your_access_token_and_no_path_is_mentioned(
    mcp: Client, tool: str
) -> None:
    said = text(await mcp.call_tool(tool, ASSET_TOOLS[tool]))
    assert f"No data asset {MISSING} is visible to your Code Ocean access token" in said, said
    assert "this token" not in said
    assert "path" not in said
    assert "list_data_asset_files" not in said


@pytest.mark.parametrize("tool", list(PATH_TOOLS))
async def test_a_tool_that_takes_a_path_may_point_at_it(mcp: Client, tool: str) -> None:
    result = await mcp.call_tool(tool, PATH_TOOLS[tool])
    said = text(result)
    assert result.is_error
    assert MISSING in said
    assert "this token" not in said


def asset_in(sandbox: Sandbox, state: Literal["draft", "failed"]) -> str:
    alice = sandbox.users["alice"].id
    found = next((r for r in sandbox.store.all_assets() if r.owner_id == alice and not r.archived), None)
    assert found is not None
    found.state = state
    sandbox.store.save_asset(found)
    return found.id


@pytest.mark.parametrize("tool", list(PATH_TOOLS))
async def test_a_conflict_on_a_failed_asset_does_not_suggest_waiting_for_it(
    mcp: Client, sandbox: Sandbox, tool: str
) -> None:
    failed = asset_in(sandbox, "failed")
    result = await mcp.call_tool(tool, {**PATH_TOOLS[tool], "data_asset_id": failed})
    said = text(result)
    assert result.is_error
    assert "Conflict (409)" in said
    assert "failed to be created" in said  # Code Ocean's own words, quoted
    assert "a failed one stays failed" in said
    assert "try again" not in said


async def test_a_conflict_on_a_draft_says_waiting_is_worth_it(mcp: Client, sandbox: Sandbox) -> None:
    draft = asset_in(sandbox, "draft")
    said = text(await mcp.call_tool("list_data_asset_files", {"data_asset_id": draft}))
    assert "still being created" in said
    assert "Only an asset still in draft is worth waiting for (wait_for_data_asset)" in said
