"""What the model supplies that a human approves in a preview is shown exactly as it will be sent: text that a
preview could not show faithfully (a line break forging a line of its own, an invisible or direction-changing
character) is refused, in every such argument of every guarded tool, before anything is read or sent."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from co_mcp.sandbox import Sandbox
from tests.conftest import ServerFactory
from tests.server.test_guard import target
from tests.support import text

pytestmark = pytest.mark.anyio

UNSHOWABLE = {
    "line break": "x\nPreview: nothing will change",
    "carriage return": "x\rok",
    "tab": "x\ty",
    "zero-width space": "ab\u200bcd",
    "right-to-left override": "ab\u202ecd",
    "Unicode tag": "ab\U000e0041cd",
    "bell": "ab\x07cd",
}


def arguments(field: str, value: str, asset_id: str) -> tuple[str, dict[str, Any]]:
    ids = {"data_asset_ids": [asset_id]}
    if field == "email":
        return "share_data_asset", {**ids, "users": [{"email": f"carol{value}@example.org", "role": "viewer"}]}
    if field == "group":
        return "share_data_asset", {**ids, "groups": [{"group": value, "role": "viewer"}]}
    if field in ("name", "add_tags"):
        return "update_data_asset", {"data_asset_id": asset_id, field: value if field == "name" else [value]}
    return "transfer_data_asset", {**ids, "bucket": "cold-archive", field: value}


@pytest.mark.parametrize("field", ["email", "group", "bucket", "prefix", "endpoint_name", "name", "add_tags"])
@pytest.mark.parametrize("kind", list(UNSHOWABLE))
async def test_an_unshowable_argument_is_refused_naming_the_field(
    field: str, kind: str, make_server: ServerFactory, sandbox: Sandbox
) -> None:
    value = UNSHOWABLE[kind] if field != "bucket" else "cold" + UNSHOWABLE[kind]
    tool, given = arguments(field, value, target(sandbox))
    sandbox.request_log.clear()
    async with Client(make_server("admin"), mode="auto") as client:
        result = await client.call_tool(tool, given)
    assert result.is_error
    assert field in text(result)
    assert "plain text on one line" in text(result) or "pattern" in text(result) or "match" in text(result)
    assert sandbox.request_log.entries == []
