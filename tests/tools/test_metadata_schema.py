"""get_custom_metadata_schema: the deployment's custom metadata fields."""

from __future__ import annotations

import pytest
from mcp import Client

from tests.support import call

pytestmark = pytest.mark.anyio


async def test_custom_metadata_schema_lists_fields(mcp: Client) -> None:
    data = (await call(mcp, "get_custom_metadata_schema", {})).structured_content
    assert data is not None
    assert data["fields"]
