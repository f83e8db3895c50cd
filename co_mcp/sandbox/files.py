"""Deterministic file trees for sandbox assets, their content, and signed download links."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.routing import BaseRoute

from co_mcp.sandbox.records import AssetRecord


class PathNotFound(LookupError):
    """No file or folder at this path in the asset."""


class NotAFolder(ValueError):
    """The path names a file where a folder was expected."""


@dataclass(frozen=True)
class FileInfo:
    path: str
    size: int
    content_type: str
    is_text: bool


class FileTree:
    """Placeholder: one file named data.bin."""

    def __init__(self, asset_id: str, size: int) -> None:
        self.asset_id = asset_id
        self.size = size

    @classmethod
    def for_asset(cls, asset_id: str, files: int, size: int, type: str) -> FileTree:
        return cls(asset_id, size)

    def list(self, path: str) -> list[dict[str, Any]]:
        if path.strip("/"):
            raise PathNotFound(path)
        return [{"name": "data.bin", "path": "data.bin", "type": "file", "size": self.size}]

    def stat(self, path: str) -> FileInfo | None:
        if path == "data.bin":
            return FileInfo("data.bin", self.size, "application/octet-stream", False)
        return None

    def totals(self) -> tuple[int, int]:
        return 1, self.size


def read(asset_id: str, path: str, start: int, end: int) -> bytes:
    return b"\0" * max(0, end - start)


def signed_urls(
    base_url: str, secret: bytes, asset_id: str, path: str, *, ttl: int = 3600, now: float
) -> tuple[str, str]:
    url = f"{base_url}/__files/{asset_id}/{path}?expires={int(now + ttl)}&sig=placeholder"
    return url, url + "&inline=1"


def file_routes(
    secret: bytes, lookup: Callable[[str], AssetRecord | None], *, clock: Callable[[], float] = time.time
) -> list[BaseRoute]:
    return []
