"""search_data_assets: the whole search, one page or several gathered, as summaries."""

from __future__ import annotations

import pytest
from mcp import Client

from co_mcp.sandbox import Sandbox
from tests.support import alice_asset, call, text

pytestmark = pytest.mark.anyio


async def test_search_returns_compact_text_and_structured_summaries(mcp: Client, sandbox: Sandbox) -> None:
    result = await call(mcp, "search_data_assets", {"limit": 5})
    data = result.structured_content
    assert data is not None
    assert len([hit["id"] for hit in data["results"]]) == 5
    assert data["has_more"] is True
    first = data["results"][0]["id"]
    record = sandbox.store.get_asset(first)
    assert record is not None
    body = text(result)
    assert "null" not in body
    assert "\n  " not in body  # not pretty-printed JSON
    assert first in body
    assert record.name in body


async def test_search_cursor_continues_where_the_page_ended(mcp: Client) -> None:
    first = (await call(mcp, "search_data_assets", {"limit": 4})).structured_content
    assert first is not None
    second = (await call(mcp, "search_data_assets", {"limit": 4, "cursor": first["cursor"]})).structured_content
    assert second is not None
    assert not set([hit["id"] for hit in first["results"]]) & set([hit["id"] for hit in second["results"]])


async def test_search_max_results_gathers_everything_visible(mcp: Client, sandbox: Sandbox) -> None:
    data = (await call(mcp, "search_data_assets", {"max_results": 1000})).structured_content
    assert data is not None
    assert len(data["results"]) == sandbox.store.count_visible(sandbox.users["alice"], archived=False)
    assert data["has_more"] is False


async def test_search_by_tag_finds_only_tagged_assets(mcp: Client, sandbox: Sandbox) -> None:
    record = sandbox.store.get_asset(alice_asset(sandbox))
    assert record is not None
    tag = record.tags[0]
    data = (await call(mcp, "search_data_assets", {"query": f"tag:{tag}", "max_results": 200})).structured_content
    assert data is not None
    for hit in [hit["id"] for hit in data["results"]]:
        stored = sandbox.store.get_asset(hit)
        assert stored is not None
        assert tag.lower() in [t.lower() for t in stored.tags]


async def test_search_archived_lists_only_archived_assets(mcp: Client, sandbox: Sandbox) -> None:
    data = (await call(mcp, "search_data_assets", {"archived": True, "max_results": 200})).structured_content
    assert data is not None
    for hit in [hit["id"] for hit in data["results"]]:
        stored = sandbox.store.get_asset(hit)
        assert stored is not None
        assert stored.archived


async def test_search_rejects_an_out_of_range_limit_naming_the_field_and_sends_nothing(
    mcp: Client, sandbox: Sandbox
) -> None:
    sandbox.request_log.clear()
    result = await mcp.call_tool("search_data_assets", {"limit": 5000})
    assert result.is_error
    assert "limit" in text(result)
    assert "100" in text(result)
    assert sandbox.request_log.entries == []
