"""read_data_asset_file against scripted file servers: offsets inside characters, and paging on."""

from __future__ import annotations

import uuid

import httpx2
import pytest

from co_mcp.api import CodeOceanClient
from co_mcp.tools.definition import Deps
from co_mcp.tools.files import ReadFileArgs, read_data_asset_file

pytestmark = pytest.mark.anyio

ASSET = uuid.UUID("0d9f5a4e-1c9b-4d5e-9a77-2f7d6a1e0b11")
TEXT = "café au lait, crème brûlée\n".encode()


def serving(content: bytes) -> httpx2.MockTransport:
    def handler(request: httpx2.Request) -> httpx2.Response:
        if request.url.path.endswith("/files/urls"):
            return httpx2.Response(
                200, json={"download_url": "https://files.test/f.txt", "view_url": "https://files.test/v"}
            )
        first, last = request.headers["Range"].removeprefix("bytes=").split("-")
        piece = content[int(first) : int(last) + 1]
        headers = {
            "Content-Range": f"bytes {first}-{int(first) + len(piece) - 1}/{len(content)}",
            "Content-Type": "text/plain",
        }
        return httpx2.Response(206, content=piece, headers=headers)

    return httpx2.MockTransport(handler)


async def test_an_offset_inside_a_character_skips_to_the_next_one() -> None:
    inside_e = TEXT.index("é".encode()) + 1
    async with CodeOceanClient("https://co.test", "t", transport=serving(TEXT)) as client:
        result = await read_data_asset_file(
            Deps(client), ReadFileArgs(data_asset_id=ASSET, path="f.txt", offset=inside_e, length=8)
        )
    assert result.text is not None
    assert result.binary is None
    assert result.text == " au lai"  # 8 bytes read, the first one the tail of "é"
    assert result.offset == inside_e + 1


async def test_reading_on_from_next_offset_covers_the_file_exactly_once() -> None:
    pieces: list[str] = []
    offset: int | None = 0
    async with CodeOceanClient("https://co.test", "t", transport=serving(TEXT)) as client:
        while offset is not None:
            result = await read_data_asset_file(
                Deps(client), ReadFileArgs(data_asset_id=ASSET, path="f.txt", offset=offset, length=5)
            )
            pieces.append(result.text or "")
            offset = result.next_offset
    assert "".join(pieces) == TEXT.decode()
