"""Deterministic file trees, range-readable content and the signed-link routes of the sandbox."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import anyio
import httpx2
import pytest
from starlette.applications import Starlette
from starlette.types import Message

from co_mcp.sandbox import files as files_module
from co_mcp.sandbox.demo_data import DEMO_DATASET_ID
from co_mcp.sandbox.files import (
    FOLDER_FANOUT,
    MAX_TREE_FILES,
    FileTree,
    NotAFolder,
    PathNotFound,
    Tree,
    family_digits,
    family_of,
    file_routes,
    read,
    signed_urls,
    tree_for,
)
from co_mcp.sandbox.records import AssetRecord

pytestmark = pytest.mark.anyio

ASSET_ID = "5e1f0a2b-3c4d-4e5f-8a6b-7c8d9e0f1a20"  # ends in 0: the sequencing layout
SECRET = b"test-secret"
BASE = "http://sandbox.test"
NOW = 1_750_000_000.0


def no_other_assets(asset_id: str) -> AssetRecord | None:
    return None


def walk(tree: Tree, path: str = "") -> Iterator[dict[str, object]]:
    for item in tree.list(path):
        yield item
        if item["type"] == "folder":
            yield from walk(tree, str(item["path"]))


def files_of(tree: Tree) -> list[dict[str, object]]:
    return [item for item in walk(tree) if item["type"] == "file"]


def first_file(tree: Tree, suffix: str) -> str:
    return next(str(item["path"]) for item in files_of(tree) if str(item["path"]).endswith(suffix))


# --- trees -----------------------------------------------------------------------------------------------


def test_the_same_arguments_give_the_same_tree() -> None:
    one = FileTree.for_asset(ASSET_ID, 40, 10**9, "dataset")
    files_module._build.cache_clear()  # rebuild from scratch rather than get the cached object back
    two = FileTree.for_asset(ASSET_ID, 40, 10**9, "dataset")
    assert one is not two
    assert files_of(one) == files_of(two)


@pytest.mark.parametrize("asset_type", ["dataset", "result", "model", "workstation"])
@pytest.mark.parametrize(
    ("count", "size"), [(1, 0), (1, 10), (2, 5_000), (3, 100), (37, 19_756_849_152), (450, 10**12)]
)
def test_files_sum_to_the_asset_size_and_count(asset_type: str, count: int, size: int) -> None:
    tree = FileTree.for_asset(ASSET_ID, count, size, asset_type)
    listed = files_of(tree)
    assert len(listed) == count
    assert sum(int(str(item["size"])) for item in listed) == size
    assert tree.totals() == (count, size)


def test_a_file_count_below_one_is_clamped_to_one() -> None:
    assert FileTree.for_asset(ASSET_ID, 0, 1234, "dataset").totals() == (1, 1234)


def test_a_huge_file_count_is_capped() -> None:
    assert FileTree.for_asset(ASSET_ID, 10**7, 10**12, "dataset").totals() == (MAX_TREE_FILES, 10**12)


def test_no_folder_holds_more_than_the_fanout() -> None:
    tree = FileTree.for_asset(ASSET_ID, MAX_TREE_FILES, 10**12, "dataset")
    folders = [""] + [str(item["path"]) for item in walk(tree) if item["type"] == "folder"]
    assert max(len(tree.list(folder)) for folder in folders) <= FOLDER_FANOUT


def test_the_tree_nests_two_or_three_levels() -> None:
    tree = FileTree.for_asset(ASSET_ID, 60, 10**10, "dataset")
    depths = {str(item["path"]).count("/") for item in files_of(tree)}
    assert depths == {0, 1, 2}


def test_the_root_lists_folders_first_then_files_by_name() -> None:
    items = FileTree.for_asset(ASSET_ID, 40, 10**9, "dataset").list("")
    kinds = [item["type"] for item in items]
    assert kinds == sorted(kinds, key=lambda kind: kind != "folder")
    assert {"README.md", "metadata.json"} <= {item["name"] for item in items}


def test_listing_gives_folder_items_with_paths_from_the_root() -> None:
    tree = FileTree.for_asset(ASSET_ID, 40, 10**9, "dataset")
    items = tree.list("data")
    assert items
    for item in items:
        assert item["path"] == f"data/{item['name']}"
        assert set(item) == ({"name", "path", "type", "size"} if item["type"] == "file" else {"name", "path", "type"})


def test_the_sequencing_family_lays_out_fastq_samples() -> None:
    tree = FileTree.for_asset(ASSET_ID, 40, 10**9, "dataset")
    sample = tree.list("fastq")[0]
    assert sample["type"] == "folder"
    assert all(str(item["name"]).endswith(".fastq.gz") for item in tree.list(str(sample["path"])))


def test_trailing_and_leading_slashes_are_tolerated() -> None:
    tree = FileTree.for_asset(ASSET_ID, 40, 10**9, "dataset")
    assert tree.list("/data/") == tree.list("data")
    assert tree.list("/") == tree.list("")


def test_an_unknown_path_raises_path_not_found() -> None:
    with pytest.raises(PathNotFound):
        FileTree.for_asset(ASSET_ID, 40, 10**9, "dataset").list("nope")


def test_listing_a_file_raises_not_a_folder() -> None:
    with pytest.raises(NotAFolder):
        FileTree.for_asset(ASSET_ID, 40, 10**9, "dataset").list("README.md")


def test_stat_describes_files_and_not_folders() -> None:
    tree = FileTree.for_asset(ASSET_ID, 40, 10**9, "dataset")
    info = tree.stat("metadata.json")
    assert info is not None
    assert (info.content_type, info.is_text) == ("application/json", True)
    assert tree.stat("data") is None
    assert tree.stat("missing.txt") is None


def test_listing_returns_copies_the_cache_does_not_share() -> None:
    tree = FileTree.for_asset(ASSET_ID, 40, 10**9, "dataset")
    tree.list("")[0]["name"] = "changed"
    assert tree.list("")[0]["name"] != "changed"


def test_a_result_keeps_its_console_log_at_the_root() -> None:
    names = {item["name"] for item in FileTree.for_asset(ASSET_ID, 20, 10**8, "result").list("")}
    assert {"output", "summary.json", "tables", "outputs"} <= names


def test_tree_for_uses_the_record_fields() -> None:
    asset = AssetRecord(ASSET_ID, 0, "n", "m", "owner", "ready", "model", files=6, size=10**9)
    assert tree_for(asset, no_other_assets).totals() == (6, 10**9)


def test_a_combined_tree_is_its_members_under_their_mounts() -> None:
    member = FileTree.for_asset(ASSET_ID, 40, 10**8, "dataset")
    combined = tree_for(
        AssetRecord(
            "c0000000-0000-4000-8000-000000000001",
            0,
            "both",
            "both",
            "owner",
            "ready",
            "combined",
            contained_data_assets=[{"id": ASSET_ID, "mount": "pbmc", "size": 10**8}, {"id": "gone", "mount": "x"}],
        ),
        {ASSET_ID: AssetRecord(ASSET_ID, 0, "m", "pbmc", "owner", "ready", "dataset", files=40, size=10**8)}.get,
    )
    assert combined.list("") == [{"name": "pbmc", "path": "pbmc", "type": "folder"}]
    assert [f"pbmc/{item['path']}" for item in files_of(member)] == [str(item["path"]) for item in files_of(combined)]
    assert combined.totals() == member.totals()
    assert combined.read("pbmc/README.md", 0, 50) == member.read("README.md", 0, 50)
    assert combined.stat("pbmc") is None
    with pytest.raises(PathNotFound):
        combined.list("x")
    with pytest.raises(NotAFolder, match=r"pbmc/README\.md"):
        combined.list("pbmc/README.md")


def test_a_subtree_keeps_the_bytes_of_the_tree_it_was_cut_from() -> None:
    tree = FileTree.for_asset(ASSET_ID, 40, 10**8, "dataset")
    data = tree.subtree("data")
    inside = [str(item["path"]) for item in files_of(data)]
    assert inside == [str(item["path"])[5:] for item in files_of(tree) if str(item["path"]).startswith("data/")]
    assert data.read(inside[0], 0, 100) == tree.read(f"data/{inside[0]}", 0, 100)
    with pytest.raises(NotAFolder):
        tree.subtree("README.md")
    with pytest.raises(PathNotFound):
        tree.subtree("nowhere")


def test_the_family_comes_from_the_last_hex_digit() -> None:
    assert family_of(ASSET_ID) == "sequencing"
    assert all(family_of("x" + digit) == "imaging" for digit in family_digits("imaging"))
    assert family_of(DEMO_DATASET_ID) == "sequencing"


# --- content ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".tsv", ".csv", ".md", ".json", ".fastq.gz", "output"])
def test_any_range_is_the_same_slice_of_the_whole(suffix: str) -> None:
    asset_type = "result" if suffix == "output" else "dataset"
    tree = FileTree.for_asset(ASSET_ID, 40, 10**7, asset_type)
    path = first_file(tree, suffix)
    whole = read(ASSET_ID, path, 0, 200_000)
    for start, end in [(0, 1), (3, 70), (65_530, 65_600), (131_000, 199_999), (17, 17)]:
        assert read(ASSET_ID, path, start, end) == whole[start:end]


def test_content_is_a_pure_function_of_asset_and_path() -> None:
    assert read(ASSET_ID, "data/a.csv", 0, 500) == read(ASSET_ID, "data/a.csv", 0, 500)
    assert read(ASSET_ID, "data/a.csv", 0, 500) != read(ASSET_ID, "data/b.csv", 0, 500)


def test_a_table_file_parses_with_one_header_and_rows_of_equal_width() -> None:
    tree = FileTree.for_asset(ASSET_ID, 40, 10**8, "dataset")
    path = first_file(tree, ".tsv")
    text = tree.read(path, 0, 20_000).decode()
    lines = text.splitlines()[:-1]  # the last line may be cut by the range
    rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter="\t"))
    assert rows[0] == ["gene_id", "sample", "count", "tpm"]
    assert len({len(line) for line in lines[1:]}) == 1
    assert all(len(row) == 4 for row in rows)


def test_a_table_ends_on_a_row_boundary() -> None:
    tree = FileTree.for_asset(ASSET_ID, 40, 10**8, "dataset")
    info = tree.stat(first_file(tree, ".csv"))
    assert info is not None
    assert tree.read(info.path, info.size - 1, info.size) == b"\n"


def test_a_json_file_parses_whole() -> None:
    tree = FileTree.for_asset(ASSET_ID, 40, 10**8, "dataset")
    document = json.loads(tree.read("metadata.json"))
    assert document["asset_id"] == ASSET_ID


def test_json_read_past_its_natural_end_is_still_valid_json() -> None:
    # Past the document come whitespace rows, which JSON ignores.
    assert isinstance(json.loads(read(ASSET_ID, "summary.json", 0, 5000)), dict)


def test_a_readme_filling_a_one_file_asset_is_padded_with_comments() -> None:
    tree = FileTree(ASSET_ID, ["README.md"], [100_000])
    text = tree.read("README.md").decode()
    assert len(text) == 100_000
    padding = text[text.index("<!--") :].splitlines()
    assert all(line.startswith("<!--") and line.endswith("-->") for line in padding[:-1])


def test_the_readme_names_the_asset_and_its_layout() -> None:
    text = FileTree.for_asset(ASSET_ID, 40, 10**8, "dataset").read("README.md").decode()
    assert ASSET_ID in text
    assert "`fastq/`" in text


@pytest.mark.parametrize(
    ("name", "magic"),
    [("x.h5", b"\x89HDF\r\n\x1a\n"), ("x.fastq.gz", b"\x1f\x8b\x08"), ("x.tif", b"II*\x00"), ("x.png", b"\x89PNG")],
)
def test_binary_files_start_with_their_format_magic(name: str, magic: bytes) -> None:
    assert read(ASSET_ID, name, 0, 64).startswith(magic)


def test_a_read_far_into_a_terabyte_file_does_not_materialise_it() -> None:
    chunk = read(ASSET_ID, "raw/huge.h5", 10**12, 10**12 + 4096)
    assert len(chunk) == 4096
    assert chunk == read(ASSET_ID, "raw/huge.h5", 10**12 - 10, 10**12 + 4096)[10:]


def test_a_read_deep_into_a_big_table_keeps_rows_aligned() -> None:
    path = "data/counts_matrix_01.tsv"
    header = read(ASSET_ID, path, 0, 100).split(b"\n", 1)[0] + b"\n"
    row = read(ASSET_ID, path, len(header), 200).split(b"\n", 1)[0] + b"\n"
    offset = len(header) + len(row) * 10**10
    assert read(ASSET_ID, path, offset, offset + len(row)).count(b"\t") == 3


def test_tree_read_clamps_to_the_file_size() -> None:
    tree = FileTree.for_asset(ASSET_ID, 40, 10**8, "dataset")
    info = tree.stat("README.md")
    assert info is not None
    assert len(tree.read("README.md", 0, info.size + 1000)) == info.size


# --- signed links ----------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def asset() -> AssetRecord:
    return AssetRecord(ASSET_ID, 0, "PBMC", "pbmc", "owner", "ready", "dataset", files=40, size=10**8)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def client(asset: AssetRecord, clock: Clock) -> AsyncIterator[httpx2.AsyncClient]:
    assets = {asset.id: asset}
    app = Starlette(routes=file_routes(SECRET, assets.get, clock=clock))
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app), base_url=BASE) as http:
        yield http


def urls(path: str, asset_id: str = ASSET_ID, *, ttl: int = 3600) -> tuple[str, str]:
    return signed_urls(BASE, SECRET, asset_id, path, ttl=ttl, now=NOW)


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


def test_signed_urls_are_absolute_and_percent_encoded() -> None:
    download, view = signed_urls(BASE + "/", SECRET, ASSET_ID, "dir/a b ü.csv", now=NOW)
    assert download.startswith(f"{BASE}/__files/{ASSET_ID}/dir/a%20b%20%C3%BC.csv?expires={int(NOW) + 3600}&sig=")
    assert "disposition=inline" in view
    assert "disposition" not in download


def test_the_two_urls_carry_different_signatures() -> None:
    download, view = urls("README.md")
    assert dict(parse_qsl(urlsplit(download).query))["sig"] != dict(parse_qsl(urlsplit(view).query))["sig"]


async def test_a_download_serves_the_whole_file_with_its_headers(
    client: httpx2.AsyncClient, asset: AssetRecord
) -> None:
    tree = tree_for(asset, no_other_assets)
    response = await client.get(urls("metadata.json")[0])
    assert response.status_code == 200
    assert response.content == tree.read("metadata.json")
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-length"] == str(len(response.content))
    assert response.headers["content-disposition"].startswith('attachment; filename="metadata.json"')
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["etag"].startswith('"')


async def test_the_view_url_is_served_inline(client: httpx2.AsyncClient) -> None:
    response = await client.get(urls("README.md")[1])
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("inline;")
    assert response.headers["content-type"] == "text/markdown; charset=utf-8"


async def test_no_authorization_header_is_needed_or_sent(client: httpx2.AsyncClient) -> None:
    response = await client.get(urls("README.md")[0])
    assert "authorization" not in response.request.headers
    assert response.status_code == 200


async def test_a_link_without_a_signature_is_refused(client: httpx2.AsyncClient) -> None:
    response = await client.get(f"/__files/{ASSET_ID}/README.md")
    assert response.status_code == 403
    assert "not signed" in response.json()["message"]


async def test_a_tampered_signature_is_refused(client: httpx2.AsyncClient) -> None:
    response = await client.get(with_query(urls("README.md")[0], sig="0" * 64))
    assert response.status_code == 403
    assert response.json() == {"message": "Invalid signature."}


async def test_a_later_expiry_written_into_the_link_is_refused(client: httpx2.AsyncClient) -> None:
    response = await client.get(with_query(urls("README.md")[0], expires=str(int(NOW) + 10**6)))
    assert response.status_code == 403


async def test_turning_a_download_link_into_a_view_link_is_refused(client: httpx2.AsyncClient) -> None:
    response = await client.get(with_query(urls("README.md")[0], disposition="inline"))
    assert response.status_code == 403


async def test_a_signature_for_one_file_does_not_open_another(client: httpx2.AsyncClient) -> None:
    download = urls("README.md")[0].replace("/README.md?", "/metadata.json?")
    response = await client.get(download)
    assert response.status_code == 403


async def test_an_expired_link_is_refused(client: httpx2.AsyncClient, clock: Clock) -> None:
    download = urls("README.md", ttl=60)[0]
    clock.now = NOW + 61
    response = await client.get(download)
    assert response.status_code == 403
    assert "expired" in response.json()["message"]


async def test_a_link_to_a_deleted_asset_is_404(client: httpx2.AsyncClient) -> None:
    response = await client.get(urls("README.md", asset_id="0e0e0e0e-0000-4000-8000-000000000000")[0])
    assert response.status_code == 404
    assert "message" in response.json()


async def test_a_link_to_an_unknown_path_is_404(client: httpx2.AsyncClient) -> None:
    response = await client.get(urls("no/such/file.csv")[0])
    assert response.status_code == 404


async def test_a_range_gets_206_with_its_bytes(client: httpx2.AsyncClient, asset: AssetRecord) -> None:
    whole = tree_for(asset, no_other_assets).read("README.md")
    response = await client.get(urls("README.md")[0], headers={"Range": "bytes=10-29"})
    assert response.status_code == 206
    assert response.content == whole[10:30]
    assert response.headers["content-range"] == f"bytes 10-29/{len(whole)}"
    assert response.headers["content-length"] == "20"


async def test_an_open_ended_range_runs_to_the_end(client: httpx2.AsyncClient, asset: AssetRecord) -> None:
    whole = tree_for(asset, no_other_assets).read("README.md")
    response = await client.get(urls("README.md")[0], headers={"Range": "bytes=100-"})
    assert response.status_code == 206
    assert response.content == whole[100:]


async def test_a_suffix_range_gets_the_last_bytes(client: httpx2.AsyncClient, asset: AssetRecord) -> None:
    whole = tree_for(asset, no_other_assets).read("README.md")
    response = await client.get(urls("README.md")[0], headers={"Range": "bytes=-16"})
    assert response.status_code == 206
    assert response.content == whole[-16:]
    assert response.headers["content-range"] == f"bytes {len(whole) - 16}-{len(whole) - 1}/{len(whole)}"


async def test_a_range_past_the_end_is_clamped(client: httpx2.AsyncClient, asset: AssetRecord) -> None:
    size = len(tree_for(asset, no_other_assets).read("README.md"))
    response = await client.get(urls("README.md")[0], headers={"Range": f"bytes=5-{size + 1000}"})
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes 5-{size - 1}/{size}"


async def test_a_range_starting_past_the_end_is_416(client: httpx2.AsyncClient, asset: AssetRecord) -> None:
    size = len(tree_for(asset, no_other_assets).read("README.md"))
    response = await client.get(urls("README.md")[0], headers={"Range": f"bytes={size}-"})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{size}"


async def test_a_multi_range_request_gets_the_whole_file(client: httpx2.AsyncClient) -> None:
    response = await client.get(urls("README.md")[0], headers={"Range": "bytes=0-1,5-6"})
    assert response.status_code == 200


async def test_a_malformed_range_is_ignored(client: httpx2.AsyncClient) -> None:
    response = await client.get(urls("README.md")[0], headers={"Range": "bytes=9-2"})
    assert response.status_code == 200


async def test_head_gives_the_headers_without_a_body(client: httpx2.AsyncClient, asset: AssetRecord) -> None:
    size = len(tree_for(asset, no_other_assets).read("README.md"))
    response = await client.head(urls("README.md")[0])
    assert response.status_code == 200
    assert response.headers["content-length"] == str(size)
    assert response.content == b""


async def test_a_matching_if_none_match_is_304(client: httpx2.AsyncClient) -> None:
    download = urls("README.md")[0]
    etag = (await client.head(download)).headers["etag"]
    response = await client.get(download, headers={"If-None-Match": etag})
    assert response.status_code == 304


async def test_a_stale_if_range_gets_the_whole_file(client: httpx2.AsyncClient) -> None:
    response = await client.get(urls("README.md")[0], headers={"Range": "bytes=0-9", "If-Range": '"stale"'})
    assert response.status_code == 200


async def test_a_large_file_is_sent_in_chunks(asset: AssetRecord, clock: Clock) -> None:
    # ASGITransport joins the body, so watch the ASGI messages themselves.
    app = Starlette(routes=file_routes(SECRET, {asset.id: asset}.get, clock=clock))
    tree = tree_for(asset, no_other_assets)
    path = first_file(tree, ".fastq.gz")
    query = urlsplit(urls(path)[0]).query.encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": f"/__files/{ASSET_ID}/{path}",
        "raw_path": f"/__files/{ASSET_ID}/{path}".encode(),
        "query_string": query,
        "headers": [(b"range", b"bytes=0-299999")],
        "server": ("sandbox.test", 80),
        "root_path": "",
    }
    sent: list[Message] = []
    incoming: list[Message] = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> Message:
        if incoming:
            return incoming.pop()
        await anyio.sleep_forever()  # the client stays connected until the response is done
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    bodies = [message["body"] for message in sent if message["type"] == "http.response.body"]
    assert len([body for body in bodies if body]) == 5  # 300,000 bytes in 64 KiB chunks
    assert b"".join(bodies) == tree.read(path, 0, 300_000)
