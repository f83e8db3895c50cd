"""File tools: list one folder level, get signed URLs, and read a file in pages through its signed URL."""

from __future__ import annotations

import codecs
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BeforeValidator, Field

from co_mcp.text import clean, human_size
from co_mcp.tools.common import Args, DataAssetId, FilePath
from co_mcp.tools.views import Foreign, ForeignLine, View

if TYPE_CHECKING:
    from co_mcp.api.client import CodeOceanClient

__all__ = [
    "FileUrls",
    "FolderListing",
    "ListFilesArgs",
    "ReadFileArgs",
    "ReadFileResult",
    "UrlsArgs",
    "get_data_asset_file_urls",
    "list_data_asset_files",
    "read_data_asset_file",
]

DEFAULT_READ = 20_000
MAX_READ = 200_000
# Beginnings of well-known scientific and archive formats, so a binary file gets a useful one-liner.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89HDF\r\n\x1a\n", "HDF5"),
    (b"\x1f\x8b", "gzip"),
    (b"BAM\x01", "BAM"),
    (b"PK\x03\x04", "zip"),
    (b"%PDF", "PDF"),
    (b"\x89PNG", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"PAR1", "Parquet"),
    (b"\x93NUMPY", "NumPy array"),
)
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/x-yaml", "application/csv")


class ListFilesArgs(Args):
    data_asset_id: DataAssetId
    path: Annotated[str, Field(max_length=1024, description='folder to list; "" is the root')] = ""


class FolderItemView(View):
    name: Foreign
    path: ForeignLine
    type: Literal["file", "folder"]
    size: int | None = None


class FolderListing(View):
    data_asset_id: str
    path: ForeignLine
    items: list[FolderItemView]


async def list_data_asset_files(client: CodeOceanClient, args: ListFilesArgs) -> FolderListing:
    path = args.path.strip("/")
    folder = await client.list_data_asset_files(str(args.data_asset_id), path)
    items = [
        FolderItemView(
            name=item.name,
            path=item.path,
            type="folder" if item.type == "folder" else "file",
            size=item.size if item.type != "folder" else None,
        )
        for item in folder.items
    ]
    # Folders first, then files, each by name: the order a person scans a listing in.
    items.sort(key=lambda item: (item.type != "folder", item.name.lower()))
    return FolderListing(data_asset_id=str(args.data_asset_id), path=path, items=items)


class UrlsArgs(Args):
    data_asset_id: DataAssetId
    path: FilePath


def _url(value: object) -> object:
    # Links come from Code Ocean: hidden characters go, but a link is never cut (a cut one would not open).
    return clean(value, len(value) + 1) if isinstance(value, str) else value


Url = Annotated[str, BeforeValidator(_url)]


class FileUrls(View):
    data_asset_id: str
    path: ForeignLine
    download_url: Url
    view_url: Url


async def get_data_asset_file_urls(client: CodeOceanClient, args: UrlsArgs) -> FileUrls:
    urls = await client.get_data_asset_file_urls(str(args.data_asset_id), args.path)
    return FileUrls(
        data_asset_id=str(args.data_asset_id), path=args.path, download_url=urls.download_url, view_url=urls.view_url
    )


class ReadFileArgs(Args):
    data_asset_id: DataAssetId
    path: FilePath
    offset: Annotated[int, Field(ge=0, description="next_offset of the previous read")] = 0
    length: Annotated[int, Field(ge=1, le=MAX_READ, description="bytes to read")] = DEFAULT_READ
    encoding: Literal["utf-8", "latin-1", "utf-16"] = "utf-8"


def _file_text(value: object) -> object:
    # File text is data written by others: invisible characters go, layout (newlines, tabs) stays, nothing is cut.
    if not isinstance(value, str):
        return value
    return clean(value.replace("\r\n", "\n"), len(value) + 1, strip=False)


FileText = Annotated[str, BeforeValidator(_file_text)]


class ReadFileResult(View):
    """Where a read started and ended, how to continue, and the text read (or what a binary file seems to be)."""

    data_asset_id: str
    path: ForeignLine
    offset: int
    length: int
    total_size: int | None = None
    has_more: bool
    next_offset: int | None = None
    content_type: ForeignLine | None = None
    encoding: str | None = None
    text: FileText | None = None
    binary: ForeignLine | None = None  # what a binary file seems to be, instead of its bytes


def describe_binary(head: bytes, content_type: str | None, total_size: int | None) -> str:
    kind = next((name for magic, name in _MAGIC if head.startswith(magic)), None)
    what = kind or (content_type or "unknown type")
    first = " ".join(f"{b:02x}" for b in head[:8])
    return f"binary file ({what}), {human_size(total_size)}; first bytes {first}"


def _looks_binary(chunk: bytes, content_type: str | None) -> bool:
    if content_type and content_type.split(";")[0].strip().lower().startswith(_TEXT_TYPES):
        return False
    return b"\x00" in chunk[:8192]


def _decode(chunk: bytes, encoding: str, final: bool) -> tuple[str, int] | None:
    """Decode, holding back an incomplete multi-byte character at the end; None if not text."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        text = decoder.decode(chunk, final=final)
    except UnicodeDecodeError:
        return None
    pending = len(decoder.getstate()[0])
    return text, len(chunk) - pending


def _partial_character(content: bytes, encoding: str, offset: int) -> int:
    """How many leading bytes belong to a character that started before the offset."""
    if encoding == "utf-16":
        return offset % 2
    if encoding == "utf-8":
        skip = 0
        while skip < min(3, len(content)) and content[skip] & 0xC0 == 0x80:  # 10xxxxxx: a continuation byte
            skip += 1
        return skip
    return 0


async def read_data_asset_file(client: CodeOceanClient, args: ReadFileArgs) -> ReadFileResult:
    data_asset_id = str(args.data_asset_id)
    urls = await client.get_data_asset_file_urls(data_asset_id, args.path)
    chunk = await client.read_file_range(urls.download_url, offset=args.offset, length=args.length)
    base = {"data_asset_id": data_asset_id, "path": args.path, "offset": args.offset}

    def binary(reason: str = "") -> ReadFileResult:
        """The chunk as bytes that are not shown: where it lies in the file, and what it seems to be."""
        head = chunk.content if args.offset == 0 else b""
        return ReadFileResult(
            **base,
            length=len(chunk.content),
            total_size=chunk.total_size,
            has_more=chunk.has_more,
            next_offset=chunk.end if chunk.has_more else None,
            content_type=chunk.content_type,
            binary=reason + describe_binary(head, chunk.content_type, chunk.total_size),
        )

    if _looks_binary(chunk.content, chunk.content_type):
        return binary()
    # An offset from a previous read always falls on a character boundary; one chosen by hand may land
    # inside a character, so the partial character's bytes are skipped rather than called binary.
    skip = _partial_character(chunk.content, args.encoding, args.offset) if args.offset else 0
    content = chunk.content[skip:]
    base["offset"] = args.offset + skip
    decoded = _decode(content, args.encoding, final=not chunk.has_more)
    if decoded is None:
        return binary(f"not valid {args.encoding} text: try another encoding, or treat it as binary. ")
    text, used = decoded
    end = args.offset + skip + used
    has_more = chunk.total_size is not None and end < chunk.total_size
    return ReadFileResult(
        **base,
        length=used,
        total_size=chunk.total_size,
        has_more=has_more,
        next_offset=end if has_more else None,
        content_type=chunk.content_type,
        encoding=args.encoding,
        text=text,
    )
