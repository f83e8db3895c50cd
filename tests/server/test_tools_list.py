"""tools/list pinned: an interface change (name, annotations, schema, description) must be deliberate.

To accept a deliberate change: ``pytest tests/server/test_tools_list.py --inline-snapshot=fix``.
"""

from __future__ import annotations

from typing import Any

import pytest
from inline_snapshot import external_file, snapshot
from mcp import Client

pytestmark = pytest.mark.anyio


async def listing(client: Client) -> list[dict[str, Any]]:
    return [
        tool.model_dump(mode="json", by_alias=True, exclude_none=True) for tool in (await client.list_tools()).tools
    ]


async def test_tool_names_and_annotations(mcp: Client) -> None:
    summary = {
        tool["name"]: "".join(
            letter if tool["annotations"][hint] else "-"
            for letter, hint in zip(
                "RDIO", ["readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"], strict=True
            )
        )
        for tool in await listing(mcp)
    }
    assert summary == snapshot(
        {
            "search_data_assets": "R-IO",
            "get_data_asset": "R-IO",
            "get_data_asset_permissions": "R-IO",
            "list_data_asset_files": "R-IO",
            "read_data_asset_file": "R-IO",
            "get_data_asset_file_urls": "R--O",
            "get_custom_metadata_schema": "R-IO",
            "wait_for_data_asset": "R-IO",
            "create_data_asset": "---O",
            "update_data_asset": "-DIO",
            "unarchive_data_asset": "--IO",
            "archive_data_asset": "-DIO",
            "delete_data_asset": "-DIO",
            "share_data_asset": "-DIO",
            "transfer_data_asset": "-D-O",
        }
    )


async def test_the_whole_tools_list(mcp: Client) -> None:
    assert await listing(mcp) == external_file("../snapshots/tools_list.json")
