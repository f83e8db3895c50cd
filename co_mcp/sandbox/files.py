"""Deterministic file trees for sandbox assets, their byte content, and signed download links.

Nothing here is stored. An asset's tree is a pure function of ``(asset_id, files, size, type)``; a
file's bytes are a pure function of its *content key* ``(id, path)``, computable at any byte range
without materialising the file, so a "2 TB" asset costs nothing until someone reads a slice of it:

- text files (``.md``, ``.json``, ``.csv``, ``.tsv``, ``.txt``, ``.log``, ``output``) are a prefix (a
  README, a JSON document, a table header) followed by an endless run of fixed-width rows, so byte ``n``
  is found by arithmetic; the tree gives each file a size that ends on a row boundary where it can;
- binary files are a format's magic header (HDF5, gzip, BGZF, TIFF, PNG, Parquet, ...) over PRNG
  bytes generated in 64 KiB blocks.

The asset's *family* (sequencing, imaging, ephys, ...) chooses folder and file names. It is read from
the last hex digit of the asset id (``family_of``), so it never changes when the asset is renamed or
retagged, and ``demo_data`` picks ids whose digit matches each asset's science.

Some assets hold files that live elsewhere, and keep their content keys (``tree_for``):

- a capture of a computation or a cloud workstation holds one folder of the run's tree (``run_tree``),
  re-rooted (``FileTree.subtree``): the same files, bytes and sizes as the run shows;
- a combined asset holds its members' trees, each in a folder named by its mount (``CombinedTree``),
  so a member deleted from it disappears from its listing.

Signed links: ``signed_urls`` returns ``{base_url}/__files/{asset_id}/{path}?expires=..&sig=..`` (the
view link adds ``disposition=inline``); ``sig`` is an HMAC-SHA256 over asset id, path, expiry and
disposition. ``file_routes`` serves them without an Authorization header, as Code Ocean's S3 links are:
HEAD, single-range GETs (206/416), ETag and If-None-Match, streamed in 64 KiB chunks.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import hmac
import json
import math
import random
import struct
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, TypeAlias
from urllib.parse import quote

from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Mapping, Sequence

    from starlette.requests import Request
    from starlette.routing import BaseRoute

    from co_mcp.sandbox.records import AssetRecord

__all__ = [
    "FAMILIES",
    "MAX_TREE_FILES",
    "CombinedTree",
    "FileInfo",
    "FileTree",
    "NotAFolder",
    "PathNotFound",
    "Tree",
    "capture_source",
    "family_digits",
    "family_of",
    "file_routes",
    "read",
    "run_tree",
    "signed_urls",
    "tree_for",
    "verify_signature",
]

# A tree never holds more entries than this, whatever the asset claims: listing stays cheap and memory
# bounded (an lru_cache of trees of this size is a few hundred MB at worst). totals() tells the truth.
MAX_TREE_FILES: Final = 20_000
# More entries than this in one folder are split into numbered sub-folders, as instruments and
# pipelines do (and as a person browsing one level at a time would want).
FOLDER_FANOUT: Final = 200
BLOCK: Final = 64 * 1024
CHUNK: Final = 64 * 1024

FAMILIES: Final[tuple[str, ...]] = (
    "sequencing",
    "variants",
    "imaging",
    "volume_em",
    "ephys",
    "mri",
    "proteomics",
    "tabular",
)


class PathNotFound(LookupError):
    """No file or folder at this path in the asset."""

    def __init__(self, path: str) -> None:
        super().__init__(f"no file or folder at {path!r}")
        self.path = path


class NotAFolder(ValueError):
    """The path names a file where a folder was expected."""

    def __init__(self, path: str) -> None:
        super().__init__(f"{path!r} is a file, not a folder")
        self.path = path


@dataclass(frozen=True)
class FileInfo:
    """One file of a tree: where it is, how big, and how to serve it.

    ``content_id`` and ``content_path`` key its bytes (``read``): the asset's own id and the path,
    unless the file came from a run or a combined asset's member, where they are the origin's.
    """

    path: str
    size: int
    content_type: str
    is_text: bool
    content_id: str
    content_path: str


def family_of(asset_id: str) -> str:
    """The family whose layout an asset's files follow: from the id's last hex digit (stable on rename)."""
    try:
        digit = int(asset_id[-1:], 16)
    except ValueError:
        digit = hashlib.blake2b(asset_id.encode(), digest_size=1).digest()[0]
    return FAMILIES[digit % len(FAMILIES)]


def family_digits(family: str) -> str:
    """The hex digits an asset id can end with to get ``family`` (for generators choosing ids)."""
    index = FAMILIES.index(family)
    return f"{index:x}{index + len(FAMILIES):x}"


# --- layouts -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Family:
    """Folder and file names for one kind of science; ``{g}``/``{i}`` are group and file numbers."""

    raw_folder: str
    group: str  # raw files come in groups (a sample, a session, a subject...)
    raw: tuple[str, ...]  # formats with {group}, {g} and {i}
    tables: tuple[str, ...]  # formats with {i}
    outputs: tuple[str, ...]  # binary result outputs, formats with {i}
    readme: str  # a sentence on what raw files are


_LAYOUTS: Final[dict[str, _Family]] = {
    "sequencing": _Family(
        "fastq",
        "sample_{g:03d}",
        ("{group}_S{g}_L{i:03d}_R1_001.fastq.gz", "{group}_S{g}_L{i:03d}_R2_001.fastq.gz"),
        ("counts_matrix_{i:02d}.tsv", "sample_qc_{i:02d}.csv"),
        ("adata_{i:02d}.h5ad", "aligned_{i:02d}.bam"),
        "paired-end reads per sample and lane (FASTQ, gzip)",
    ),
    "variants": _Family(
        "vcf",
        "chr{g:02d}",
        ("{group}_part{i:03d}.vcf.gz",),
        ("sumstats_{i:02d}.tsv", "samples_{i:02d}.csv"),
        ("ld_matrix_{i:02d}.npy",),
        "genotype calls split by chromosome (bgzipped VCF)",
    ),
    "imaging": _Family(
        "raw",
        "session_{g:03d}",
        ("{group}_plane{i:02d}.ome.tif", "{group}_stack{i:03d}.h5"),
        ("rois_{i:02d}.csv", "frame_metadata_{i:02d}.csv"),
        ("masks_{i:03d}.tif", "traces_{i:02d}.h5", "figure_{i:02d}.png"),
        "acquired image stacks per session (OME-TIFF and HDF5)",
    ),
    "volume_em": _Family(
        "tiles",
        "z{g:05d}",
        ("{group}_tile_{i:03d}.tif",),
        ("synapses_{i:02d}.csv",),
        ("segmentation_block_{i:03d}.h5",),
        "aligned EM tiles per section (TIFF)",
    ),
    "ephys": _Family(
        "raw",
        "mouse_{g:03d}",
        ("{group}_g0_t{i}.imec0.ap.bin", "{group}_g0_t{i}.imec0.lf.bin", "{group}_g0_t{i}.imec0.ap.meta.txt"),
        ("units_{i:02d}.csv",),
        ("spike_times_{i:02d}.npy", "session_{i:02d}.nwb"),
        "Neuropixels action-potential and LFP streams with SpikeGLX metadata",
    ),
    "mri": _Family(
        "bids",
        "sub-{g:03d}",
        ("{group}_task-rest_run-{i:02d}_bold.nii.gz", "{group}_task-rest_run-{i:02d}_bold.json"),
        ("participants_{i:02d}.tsv",),
        ("sub-{i:03d}_desc-preproc_bold.nii.gz",),
        "BIDS functional runs with JSON sidecars (NIfTI, gzip)",
    ),
    "proteomics": _Family(
        "raw",
        "plex_{g:02d}",
        ("{group}_fraction_{i:02d}.raw",),
        ("proteinGroups_{i:02d}.tsv",),
        ("quant_matrix_{i:02d}.parquet",),
        "Thermo RAW files per TMT plex and fraction",
    ),
    "tabular": _Family(
        "raw",
        "batch_{g:02d}",
        ("{group}_part-{i:05d}.parquet",),
        ("table_{i:03d}.csv",),
        ("features_{i:02d}.parquet",),
        "partitioned Parquet exports",
    ),
}

_Kind = Literal["fixed", "table", "binary"]


@dataclass
class _Plan:
    """Paths being laid out, before sizes are allocated."""

    paths: list[str]
    kinds: list[_Kind]

    def add(self, path: str) -> None:
        self.paths.append(path)
        self.kinds.append(_kind(path))


def _kind(path: str) -> _Kind:
    ext = _ext(path)
    if ext in (".md", ".json"):
        return "fixed"  # documents have a natural length; padding them would look odd
    if ext in _TEXT_TYPES:
        return "table"
    return "binary"


def _grouped(plan: _Plan, folder: str, names: Sequence[str], sub: str) -> None:
    """Add ``names`` under ``folder``, split into ``{sub}_NNN`` sub-folders past FOLDER_FANOUT."""
    if len(names) <= FOLDER_FANOUT:
        for name in names:
            plan.add(f"{folder}/{name}" if folder else name)
        return
    chunks = math.ceil(len(names) / FOLDER_FANOUT)
    per = math.ceil(len(names) / chunks)
    for c in range(chunks):
        _grouped(
            plan, f"{folder}/{sub}_{c + 1:03d}" if folder else f"{sub}_{c + 1:03d}", names[c * per : (c + 1) * per], sub
        )


def _numbered(formats: Sequence[str], count: int, **extra: Any) -> list[str]:
    return [formats[k % len(formats)].format(i=k // len(formats) + 1, **extra) for k in range(count)]


def _dataset(plan: _Plan, rng: random.Random, family: _Family, files: int, root: str = "") -> None:
    def at(name: str) -> str:
        return f"{root}/{name}" if root else name

    if files == 1:
        plan.add(at(family.raw[0].format(group="data", g=1, i=1)))
        return
    plan.add(at("README.md"))
    if files == 2:
        plan.add(at(family.raw[0].format(group="data", g=1, i=1)))
        return
    plan.add(at("metadata.json"))
    rest = files - 2
    tables = max(1, rest // 5) if rest > 1 else 0
    _grouped(plan, at("data"), _numbered(family.tables, tables), "part")
    raw = rest - tables
    per_group = rng.choice((2, 4, 6, 8, 12))
    names: list[str] = []
    for g in range(1, math.ceil(raw / per_group) + 1):
        group = family.group.format(g=g)
        count = min(per_group, raw - len(names))
        names.extend(f"{group}/{name}" for name in _numbered(family.raw, count, group=group, g=g))
    # Group folders themselves are split into batches when there are too many of them.
    groups = math.ceil(raw / per_group)
    if groups > FOLDER_FANOUT:
        batch = math.ceil(groups / math.ceil(groups / FOLDER_FANOUT))
        for index, name in enumerate(names):
            plan.add(at(f"{family.raw_folder}/batch_{index // per_group // batch + 1:02d}/{name}"))
    else:
        for name in names:
            plan.add(at(f"{family.raw_folder}/{name}"))


def _result(plan: _Plan, family: _Family, files: int, root: str = "") -> None:
    def at(name: str) -> str:
        return f"{root}/{name}" if root else name

    plan.add(at("output"))  # the run's console log, as Code Ocean keeps it
    if files == 1:
        return
    rest = files - 1
    if rest >= 3:
        plan.add(at("summary.json"))
        rest -= 1
    tables = max(1, rest * 2 // 5)
    figures = rest // 5
    outputs = rest - tables - figures
    _grouped(plan, at("tables"), _numbered(family.tables, tables), "part")
    _grouped(plan, at("figures"), [f"figure_{i + 1:03d}.png" for i in range(figures)], "part")
    _grouped(plan, at("outputs"), _numbered(family.outputs, outputs), "part")


def _workstation(plan: _Plan, rng: random.Random, family: _Family, files: int) -> None:
    # A cloud workstation's capsule folder: what the session wrote to results/, and its scratch/ space.
    results = max(1, files // 4)
    _result(plan, family, results, root="results")
    if files > results:
        _dataset(plan, rng, family, files - results, root="scratch")


def _model(plan: _Plan, rng: random.Random, files: int) -> None:
    shards = max(1, files - 3)
    fmt = rng.choice(("model-{i:05d}-of-{n:05d}.safetensors", "checkpoint-{i:05d}-of-{n:05d}.pt"))
    names = [fmt.format(i=i + 1, n=shards) for i in range(shards)]
    if files == 1:
        plan.add("model." + fmt.rpartition(".")[2])
        return
    plan.add("config.json")
    if files >= 3:
        plan.add("README.md")
    if files >= 4:
        plan.add("metrics.csv")
    _grouped(plan, "model", names[: files - len(plan.paths)], "shard")


# --- the tree ------------------------------------------------------------------------------------------


class Tree(Protocol):
    """What the API needs of an asset's files: one folder level, one file, the totals, byte ranges."""

    def list(self, path: str) -> list[dict[str, Any]]: ...

    def stat(self, path: str) -> FileInfo | None: ...

    def totals(self) -> tuple[int, int]: ...

    def read(self, path: str, start: int = 0, end: int | None = None) -> bytes: ...


class FileTree:
    """An asset's files: folders listed one level at a time, files stat-ed and read by byte range.

    A file's bytes are keyed by ``(content_id, content_prefix + path)``: by default the asset's own
    id and the path; ``subtree`` keeps the keys of the tree it was cut from.
    """

    __slots__ = ("_content_id", "_content_prefix", "_files", "_folders", "asset_id", "size")

    def __init__(
        self,
        asset_id: str,
        paths: Sequence[str],
        sizes: Sequence[int],
        *,
        content_id: str | None = None,
        content_prefix: str = "",
    ) -> None:
        self.asset_id = asset_id
        self.size = sum(sizes)
        self._content_id = asset_id if content_id is None else content_id
        self._content_prefix = content_prefix
        self._files: dict[str, FileInfo] = {}
        children: dict[str, dict[str, dict[str, Any]]] = {"": {}}
        for path, size in zip(paths, sizes, strict=True):
            content_type, is_text = _content_type(path)
            self._files[path] = FileInfo(path, size, content_type, is_text, self._content_id, content_prefix + path)
            parent, _, name = path.rpartition("/")
            children.setdefault(parent, {})[name] = {"name": name, "path": path, "type": "file", "size": size}
            # Register every ancestor folder in its parent, up to the root.
            while parent:
                grand, _, folder = parent.rpartition("/")
                siblings = children.setdefault(grand, {})
                if folder in siblings:
                    break
                siblings[folder] = {"name": folder, "path": parent, "type": "folder"}
                children.setdefault(parent, {})
                parent = grand
        # Folders first, then files, each by name: how file browsers (and Code Ocean's UI) show them.
        self._folders: dict[str, tuple[dict[str, Any], ...]] = {
            folder: tuple(sorted(items.values(), key=lambda item: (item["type"] != "folder", item["name"])))
            for folder, items in children.items()
        }

    @classmethod
    def for_asset(cls, asset_id: str, files: int, size: int, type: str) -> FileTree:
        """The tree of ``files`` files totalling ``size`` bytes; cached, so calling it per request is cheap.

        ``files`` is clamped to 1..MAX_TREE_FILES and ``size`` to >= 0; ``type`` chooses the layout:
        an asset type (dataset, result, model; a combined asset is its members, see ``tree_for``) or
        ``workstation``, a cloud workstation's capsule folder (``results/`` and ``scratch/``).
        """
        return _build(asset_id, max(1, min(int(files or 1), MAX_TREE_FILES)), max(0, int(size or 0)), type)

    def list(self, path: str) -> list[dict[str, Any]]:
        """One folder level as FolderItem dicts; ``""`` (or ``"/"``) is the root."""
        key = _normalise(path)
        items = self._folders.get(key)
        if items is None:
            if key in self._files:
                raise NotAFolder(key)
            raise PathNotFound(key)
        return [dict(item) for item in items]  # copies: callers may serialise or mutate them

    def stat(self, path: str) -> FileInfo | None:
        """The file at ``path``, or None (for folders and unknown paths)."""
        return self._files.get(_normalise(path))

    def totals(self) -> tuple[int, int]:
        """``(file count, total bytes)`` of the tree."""
        return len(self._files), self.size

    def read(self, path: str, start: int = 0, end: int | None = None) -> bytes:
        """Bytes ``[start, end)`` of the file at ``path``, clamped to its size."""
        return _read_file(self.stat(path), path, start, end)

    def subtree(self, path: str) -> FileTree:
        """The folder at ``path`` as a tree of its own (paths relative to it, the same bytes).

        ``""`` is the whole tree. Raises ``PathNotFound``, or ``NotAFolder`` for a file's path.
        """
        key = _normalise(path)
        if not key:
            return self
        if key not in self._folders:
            if key in self._files:
                raise NotAFolder(key)
            raise PathNotFound(key)
        inside = [info for file_path, info in self._files.items() if file_path.startswith(key + "/")]
        return FileTree(
            self.asset_id,
            [info.path[len(key) + 1 :] for info in inside],
            [info.size for info in inside],
            content_id=self._content_id,
            content_prefix=f"{self._content_prefix}{key}/",
        )

    def __repr__(self) -> str:
        return f"FileTree({self.asset_id!r}, files={len(self._files)}, size={self.size})"


class CombinedTree:
    """A combined asset's files: each member's tree in a folder of its own, named by its mount."""

    __slots__ = ("_members", "asset_id")

    def __init__(self, asset_id: str, members: Sequence[tuple[str, Tree]]) -> None:
        self.asset_id = asset_id
        self._members = dict(members)

    def _member(self, path: str) -> tuple[str, Tree, str] | None:
        folder, _, rest = _normalise(path).partition("/")
        tree = self._members.get(folder)
        return None if tree is None else (folder, tree, rest)

    def list(self, path: str) -> list[dict[str, Any]]:
        if not _normalise(path):
            return [{"name": name, "path": name, "type": "folder"} for name in sorted(self._members)]
        found = self._member(path)
        if found is None:
            raise PathNotFound(_normalise(path))
        folder, tree, rest = found
        try:
            items = tree.list(rest)
        except (PathNotFound, NotAFolder) as exc:
            raise type(exc)(f"{folder}/{exc.path}".rstrip("/")) from None
        return [{**item, "path": f"{folder}/{item['path']}"} for item in items]

    def stat(self, path: str) -> FileInfo | None:
        found = self._member(path)
        if found is None:
            return None
        folder, tree, rest = found
        info = tree.stat(rest) if rest else None
        return None if info is None else dataclasses.replace(info, path=f"{folder}/{info.path}")

    def totals(self) -> tuple[int, int]:
        counts = [tree.totals() for tree in self._members.values()]
        return sum(n for n, _ in counts), sum(size for _, size in counts)

    def read(self, path: str, start: int = 0, end: int | None = None) -> bytes:
        return _read_file(self.stat(path), path, start, end)

    def __repr__(self) -> str:
        return f"CombinedTree({self.asset_id!r}, members={sorted(self._members)})"


def _read_file(info: FileInfo | None, path: str, start: int, end: int | None) -> bytes:
    if info is None:
        raise PathNotFound(_normalise(path))
    stop = info.size if end is None else min(end, info.size)
    return read(info.content_id, info.content_path, max(0, start), stop)


def run_tree(run_id: str, kind: str, files: int, size: int) -> FileTree:
    """What a computation left: its ``/results`` folder, or a cloud workstation's capsule folder.

    ``kind`` is the computation's kind (capsule, pipeline or cloud_workstation).
    """
    return FileTree.for_asset(run_id, files, size, "workstation" if kind == "cloud_workstation" else "result")


@functools.lru_cache(maxsize=64)
def _captured(run_id: str, kind: str, files: int, size: int, path: str) -> FileTree:
    return run_tree(run_id, kind, files, size).subtree(path)


def tree_for(asset: AssetRecord, lookup: Callable[[str], AssetRecord | None]) -> Tree:
    """The tree of a stored asset: the one place that maps record fields to files.

    ``lookup`` finds other assets by id: a combined asset's tree is its members' trees, each in a
    folder named by the mount ``contained_data_assets`` gives it (members no longer found are gone).
    """
    source = asset.captured_from
    if source is not None:
        return _captured(source["run"], source["kind"], source["files"], source["size"], source["path"])
    if asset.type == "combined":
        members: list[tuple[str, Tree]] = []
        for member in asset.contained_data_assets or []:
            record = lookup(str(member.get("id", "")))
            if record is not None:
                members.append((str(member.get("mount") or record.mount), tree_for(record, lookup)))
        return CombinedTree(asset.id, members)
    return FileTree.for_asset(asset.id, asset.files or 1, asset.size or 0, asset.type)


def capture_source(run_id: str, kind: str, files: int, size: int, path: str) -> Mapping[str, Any]:
    """What an asset captured from a run records (``AssetRecord.captured_from``) to rebuild its tree."""
    return {"run": run_id, "kind": kind, "files": files, "size": size, "path": _normalise(path)}


def _normalise(path: str) -> str:
    return path.strip("/")


@functools.lru_cache(maxsize=64)
def _build(asset_id: str, files: int, size: int, type: str) -> FileTree:
    # Seeded from the id alone: the same asset always gets the same names. Not security-relevant.
    rng = random.Random(asset_id)  # noqa: S311
    family = _LAYOUTS[family_of(asset_id)]
    plan = _Plan([], [])
    if type == "result":
        _result(plan, family, files)
    elif type == "model":
        _model(plan, rng, files)
    elif type == "workstation":
        _workstation(plan, rng, family, files)
    else:
        _dataset(plan, rng, family, files)
    return FileTree(asset_id, plan.paths, _allocate(asset_id, plan, size, rng))


def _allocate(asset_id: str, plan: _Plan, size: int, rng: random.Random) -> list[int]:
    """Split ``size`` bytes over the planned files so they sum exactly to it.

    Documents get their natural length (when that leaves room), tables a small share cut on a row
    boundary, binaries the bulk; what rounding leaves over goes to the largest binary, or else the
    largest table (whose last row is then cut short), or else the last document (padded).
    """
    count = len(plan.paths)
    sizes = [0] * count
    fixed = [i for i in range(count) if plan.kinds[i] == "fixed"]
    tables = [i for i in range(count) if plan.kinds[i] == "table"]
    binaries = [i for i in range(count) if plan.kinds[i] == "binary"]
    natural = {i: len(_text_spec(asset_id, plan.paths[i]).prefix) for i in fixed}
    natural_total = sum(natural.values())
    flexible = tables or binaries
    scale = 1.0 if not flexible or natural_total <= size // 2 else (size // 2) / natural_total
    budget = size
    for i in fixed:
        sizes[i] = min(budget, int(natural[i] * scale))
        budget -= sizes[i]
    weights = {i: rng.lognormvariate(0, 0.6) for i in binaries}
    table_share = 0.03 if binaries else 1.0
    weights.update({i: rng.uniform(0.5, 1.5) * table_share for i in tables})
    total_weight = sum(weights.values())
    allocated = 0
    for i, weight in weights.items():
        share = int(budget * weight / total_weight)
        if plan.kinds[i] == "table":
            spec = _text_spec(asset_id, plan.paths[i])
            head = len(spec.prefix)
            if share > head + spec.width:
                share = head + (share - head) // spec.width * spec.width  # end on a row boundary
        sizes[i] = share
        allocated += share
    leftover = budget - allocated
    if leftover:
        pool = binaries or tables or fixed or [count - 1]
        sizes[max(pool, key=lambda i: (sizes[i], -i))] += leftover
    return sizes


# --- content --------------------------------------------------------------------------------------------

_TEXT_TYPES: Final[dict[str, str]] = {
    ".md": "text/markdown; charset=utf-8",
    ".json": "application/json",
    ".csv": "text/csv; charset=utf-8",
    ".tsv": "text/tab-separated-values; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".log": "text/plain; charset=utf-8",
    "": "text/plain; charset=utf-8",  # "output", the capsule console log, has no extension
}
_BINARY_TYPES: Final[dict[str, tuple[str, bytes]]] = {
    ".h5": ("application/x-hdf5", b"\x89HDF\r\n\x1a\n\x00\x00\x00\x00\x00\x08\x08\x00"),
    ".h5ad": ("application/x-hdf5", b"\x89HDF\r\n\x1a\n\x00\x00\x00\x00\x00\x08\x08\x00"),
    ".nwb": ("application/x-hdf5", b"\x89HDF\r\n\x1a\n\x00\x00\x00\x00\x00\x08\x08\x00"),
    ".gz": ("application/gzip", b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"),
    # BAM and bgzipped VCF are BGZF: gzip with a "BC" extra field.
    ".bam": ("application/octet-stream", b"\x1f\x8b\x08\x04\x00\x00\x00\x00\x00\xff\x06\x00BC\x02\x00"),
    ".vcf.gz": ("application/gzip", b"\x1f\x8b\x08\x04\x00\x00\x00\x00\x00\xff\x06\x00BC\x02\x00"),
    ".tif": ("image/tiff", b"II*\x00\x08\x00\x00\x00"),
    ".png": ("image/png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
    ".npy": ("application/octet-stream", b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, "),
    ".parquet": ("application/vnd.apache.parquet", b"PAR1"),
    ".safetensors": ("application/octet-stream", struct.pack("<Q", 56) + b'{"__metadata__":{"format":"pt"}}'),
    ".pt": ("application/zip", b"PK\x03\x04\x00\x00\x08\x08\x00\x00"),
    ".raw": ("application/octet-stream", b"\x01\xa1F\x00i\x00n\x00n\x00i\x00g\x00a\x00n\x00"),
    ".bin": ("application/octet-stream", b""),
}


def _ext(path: str) -> str:
    name = path.rpartition("/")[2].lower()
    if name.endswith(".vcf.gz"):  # bgzipped, unlike other .gz files: its own magic
        return ".vcf.gz"
    dot = name.rfind(".")
    return name[dot:] if dot > 0 else ""


def _content_type(path: str) -> tuple[str, bool]:
    ext = _ext(path)
    if ext in _TEXT_TYPES:
        return _TEXT_TYPES[ext], True
    return _BINARY_TYPES.get(ext, ("application/octet-stream", b""))[0], False


def _seed(asset_id: str, path: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"{asset_id}\0{path}".encode(), digest_size=8).digest(), "big")


def read(asset_id: str, path: str, start: int, end: int) -> bytes:
    """Bytes ``[start, end)`` of the file ``path`` of asset ``asset_id`` (end exclusive).

    Content is a pure function of the two ids and is unbounded: clamping to the file's size is the
    caller's business (``FileTree.read`` does it).
    """
    if end <= start:
        return b""
    if _ext(path) in _TEXT_TYPES:
        return _read_text(_text_spec(asset_id, path), start, end)
    return _read_binary(asset_id, path, start, end)


def _read_binary(asset_id: str, path: str, start: int, end: int) -> bytes:
    seed = _seed(asset_id, path)
    first, last = start // BLOCK, (end - 1) // BLOCK
    data = b"".join(_block(seed, k) for k in range(first, last + 1))[start - first * BLOCK : end - first * BLOCK]
    magic = _BINARY_TYPES.get(_ext(path), ("", b""))[1]
    if start < len(magic):
        overlay = magic[start : min(end, len(magic))]
        data = overlay + data[len(overlay) :]
    return data


@functools.lru_cache(maxsize=32)
def _block(seed: int, index: int) -> bytes:
    # Fresh generator per block so any block is computable alone; cached because readers asking for
    # small consecutive ranges hit the same block many times.
    return random.Random((seed << 40) | index).randbytes(BLOCK)  # noqa: S311 - filler bytes, not secrets


@dataclass(frozen=True)
class _TextSpec:
    """A text file: ``prefix`` then row 0, row 1, ... each exactly ``width`` bytes."""

    prefix: bytes
    width: int
    row: Callable[[int], bytes]


def _read_text(spec: _TextSpec, start: int, end: int) -> bytes:
    head = len(spec.prefix)
    out = spec.prefix[start:end] if start < head else b""
    lo, hi = max(start, head) - head, end - head
    if hi > lo:
        first, last = lo // spec.width, (hi - 1) // spec.width
        rows = b"".join(spec.row(i) for i in range(first, last + 1))
        out += rows[lo - first * spec.width : hi - first * spec.width]
    return out


_MASK: Final = (1 << 64) - 1
# Row numbers shown in a file wrap here so every field keeps its width even in a terabyte table.
_ROW_WRAP: Final = 999_999_999


def _mix(x: int) -> int:
    """splitmix64: a fast, well-spread hash from row number to pseudo-random bits."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def _unit(h: int, shift: int) -> float:
    """A float in [0, 1) from 16 bits of ``h``."""
    return ((h >> shift) & 0xFFFF) / 65536.0


# (row hash, row index) -> cells; the index is reduced below 10**9 so 9-digit fields never widen.
_Row: TypeAlias = "Callable[[int, int], list[str]]"

# Table schemas: (column names, row function of (hash, row index) -> cells). Every cell has a fixed
# width (zero-padded numbers, fixed-precision floats), so every row of a file has the same length.
_BASES: Final = "ACGT"
_LOG_LEVELS: Final = ("INFO ", "INFO ", "INFO ", "INFO ", "DEBUG", "WARN ")
_LOG_MESSAGES: Final = tuple(
    message.ljust(56)
    for message in (
        "loaded input batch",
        "normalised counts (log1p, target sum 1e4)",
        "wrote checkpoint to /results",
        "finished step; peak memory 3.1 GiB",
        "cache hit for reference index",
        "retrying read after transient S3 error",
        "skipped sample: below QC threshold",
        "computed summary statistics",
    )
)
_SCHEMAS: Final[dict[str, tuple[tuple[str, ...], _Row]]] = {
    "counts": (
        ("gene_id", "sample", "count", "tpm"),
        lambda h, i: [
            f"ENSG{i:011d}",
            f"S{h % 97:03d}",
            f"{(h >> 8) % 10_000_000:07d}",
            f"{_unit(h, 32) * 1e5:012.3f}",
        ],
    ),
    "sumstats": (
        ("chrom", "pos", "rsid", "ref", "alt", "beta", "se", "p"),
        lambda h, i: [
            f"{h % 22 + 1:02d}",
            f"{(h >> 8) % 250_000_000:09d}",
            f"rs{(h >> 20) % 1_000_000_000:09d}",
            _BASES[(h >> 40) & 3],
            _BASES[((h >> 40) + 1 + ((h >> 42) % 3)) & 3],
            f"{_unit(h, 44) * 0.4 - 0.2:+.4f}",
            f"{_unit(h, 28) * 0.05 + 0.001:.4f}",
            f"{max(_unit(h, 12), 1e-9) ** 6:.3e}",
        ],
    ),
    "qc": (
        ("sample_id", "n_reads", "n_genes", "pct_mito", "doublet_score", "qc_pass"),
        lambda h, i: [
            f"S{i + 1:09d}",
            f"{(h >> 4) % 1_000_000_000:09d}",
            f"{(h >> 34) % 10_000:05d}",
            f"{_unit(h, 20) * 25:05.2f}",
            f"{_unit(h, 48):.3f}",
            "1" if h & 7 else "0",
        ],
    ),
    "rois": (
        ("roi_id", "x", "y", "area_um2", "snr", "is_cell"),
        lambda h, i: [
            f"{i:09d}",
            f"{_unit(h, 0) * 512:07.2f}",
            f"{_unit(h, 16) * 512:07.2f}",
            f"{_unit(h, 32) * 400 + 20:06.1f}",
            f"{_unit(h, 48) * 20:05.2f}",
            "1" if h & 3 else "0",
        ],
    ),
    "units": (
        ("unit_id", "depth_um", "firing_rate_hz", "amplitude_uv", "isi_violations", "label"),
        lambda h, i: [
            f"{i:09d}",
            f"{_unit(h, 0) * 3840:07.1f}",
            f"{_unit(h, 16) * 60:06.2f}",
            f"{_unit(h, 32) * 400 + 30:06.1f}",
            f"{_unit(h, 48) * 0.2:.4f}",
            "good" if h & 3 else "mua ",
        ],
    ),
    "participants": (
        ("participant_id", "age", "sex", "group"),
        lambda h, i: [
            f"sub-{i + 1:09d}",
            f"{h % 60 + 18:03d}",
            "MF"[(h >> 8) & 1],
            ("control", "patient")[(h >> 9) & 1].ljust(7),
        ],
    ),
    "proteins": (
        ("protein_id", "gene", "intensity", "score", "q_value"),
        lambda h, i: [
            f"P{(h >> 4) % 100_000:05d}",
            f"GENE{i:09d}",
            f"{_unit(h, 24) * 1e10:014.1f}",
            f"{_unit(h, 40) * 300:06.2f}",
            f"{_unit(h, 48) * 0.01:.5f}",
        ],
    ),
    "metrics": (
        ("epoch", "train_loss", "val_loss", "val_accuracy"),
        lambda h, i: [
            f"{i + 1:09d}",
            f"{2.5 / (1 + i * 0.1) + _unit(h, 0) * 0.05:.5f}",
            f"{2.6 / (1 + i * 0.09) + _unit(h, 16) * 0.08:.5f}",
            f"{min(0.99, 0.4 + i * 0.01) * (0.98 + _unit(h, 32) * 0.02):.5f}",
        ],
    ),
    "generic": (
        ("record_id", "feature", "value", "qc_pass"),
        lambda h, i: [f"R{i + 1:09d}", f"f{h % 512:03d}", f"{_unit(h, 16) * 1e4:011.4f}", "1" if h & 7 else "0"],
    ),
}
_SCHEMA_BY_STEM: Final = (
    ("counts", "counts"),
    ("sumstats", "sumstats"),
    ("qc", "qc"),
    ("samples", "qc"),
    ("rois", "rois"),
    ("frame_metadata", "rois"),
    ("synapses", "rois"),
    ("units", "units"),
    ("participants", "participants"),
    ("proteinGroups", "proteins"),
    ("metrics", "metrics"),
)


@functools.lru_cache(maxsize=4096)
def _text_spec(asset_id: str, path: str) -> _TextSpec:
    name = path.rpartition("/")[2]
    ext = _ext(path)
    seed = _seed(asset_id, path)
    if ext == ".md":
        return _padded(_readme(asset_id, path), b"<!-- " + b"-" * 57 + b" -->\n")
    if ext == ".json":
        document = json.dumps(_json_document(asset_id, path, seed), indent=2) + "\n"
        return _padded(document.encode(), b" " * 63 + b"\n")  # trailing whitespace keeps JSON valid
    if ext in (".csv", ".tsv"):
        schema = next((key for stem, key in _SCHEMA_BY_STEM if name.startswith(stem)), "generic")
        columns, cells = _SCHEMAS[schema]
        sep = "," if ext == ".csv" else "\t"

        def table_row(i: int) -> bytes:
            return (sep.join(cells(_mix(seed ^ i), i % _ROW_WRAP)) + "\n").encode()

        return _TextSpec((sep.join(columns) + "\n").encode(), len(table_row(0)), table_row)

    def log_row(i: int) -> bytes:
        h = _mix(seed ^ i)
        i %= _ROW_WRAP
        level = _LOG_LEVELS[h % len(_LOG_LEVELS)]
        message = _LOG_MESSAGES[(h >> 8) % len(_LOG_MESSAGES)]
        return f"[{i * 0.25 + _unit(h, 16) * 0.2:012.3f}s] {level} step {i:08d}: {message}\n".encode()

    header = f"co_mcp sandbox log {name} (asset {asset_id})\n".encode()
    if name == "output":
        header = b"+ bash /code/run.sh\n" + header
    return _TextSpec(header, len(log_row(0)), log_row)


def _padded(prefix: bytes, pad: bytes) -> _TextSpec:
    return _TextSpec(prefix, len(pad), lambda i: pad)


_FACILITIES: Final[dict[str, tuple[str, ...]]] = {
    "sequencing": ("Genomics Core", "Single-Cell Sequencing Facility"),
    "variants": ("Statistical Genetics Group", "Biobank Analysis Team"),
    "imaging": ("Imaging Core", "Advanced Microscopy Facility"),
    "volume_em": ("Electron Microscopy Core",),
    "ephys": ("Neurophysiology Lab", "Systems Neuroscience Platform"),
    "mri": ("Brain Imaging Centre",),
    "proteomics": ("Proteomics Facility", "Mass Spectrometry Core"),
    "tabular": ("Data Engineering Team", "Research Computing"),
}


def _readme(asset_id: str, path: str) -> bytes:
    family_name = family_of(asset_id)
    family = _LAYOUTS[family_name]
    rng = random.Random(_seed(asset_id, path))  # noqa: S311 - prose variety, not secrets
    facility = rng.choice(_FACILITIES[family_name])
    lines = [
        "# Data asset",
        "",
        f"Asset ID: `{asset_id}`",
        "",
        f"Files produced by the {facility} and curated for analysis in Code Ocean. This copy is served by "
        "the co_mcp sandbox: every file's content is generated deterministically from the asset ID and its "
        "path, so any byte range can be read without the file existing anywhere.",
        "",
        "## Layout",
        "",
        f"- `{family.raw_folder}/`: {family.readme}.",
        "- `data/`: tabular summaries (CSV/TSV with a header row).",
        "- `metadata.json`: sample sheet and acquisition parameters.",
        "- `tables/`, `figures/`, `outputs/` (result assets): analysis outputs; `output` is the run's console log.",
        "",
        "## Usage",
        "",
        "Attach this data asset to a capsule; it mounts read-only under `/data/<mount>`.",
        "",
        "## Licence",
        "",
        rng.choice(("CC BY 4.0", "Internal use only", "CC0 1.0", "Data use agreement required")) + ".",
        "",
    ]
    if path != "README.md":
        lines[0] = f"# {path.rpartition('/')[0]}"
    return "\n".join(lines).encode()


def _json_document(asset_id: str, path: str, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)  # noqa: S311 - document variety, not secrets
    name = path.rpartition("/")[2]
    if name == "metadata.json":
        return {
            "asset_id": asset_id,
            "schema": "co-mcp-sandbox/metadata/v1",
            "family": family_of(asset_id),
            "samples": [
                {
                    "id": f"S{k + 1:03d}",
                    "condition": rng.choice(("control", "treated", "knockout", "sham")),
                    "replicate": rng.randint(1, 4),
                }
                for k in range(rng.randint(2, 12))
            ],
            "checksum_algorithm": "md5",
        }
    if name == "config.json":
        return {
            "architecture": rng.choice(("ViT-B/16", "scVI", "UNet3D", "ResNet-50", "TabTransformer")),
            "framework": "pytorch",
            "framework_version": "2.1.0",
            "hidden_size": rng.choice((256, 512, 768)),
            "num_layers": rng.choice((4, 8, 12)),
            "num_labels": rng.randint(2, 40),
            "trained_on": asset_id,
        }
    if name == "summary.json":
        return {
            "status": "success",
            "runtime_seconds": round(rng.uniform(30, 86_400), 1),
            "inputs": rng.randint(1, 12),
            "metrics": {"n_features": rng.randint(100, 40_000), "fdr": 0.05},
        }
    if name.endswith("_bold.json"):
        return {
            "TaskName": "rest",
            "RepetitionTime": 0.8,
            "EchoTime": 0.03,
            "MultibandAccelerationFactor": 8,
            "SliceTiming": [round(k * 0.1, 2) for k in range(8)],
        }
    return {"path": path, "asset_id": asset_id}


# --- signed links ---------------------------------------------------------------------------------------

Disposition = Literal["attachment", "inline"]


def _signature(secret: bytes, asset_id: str, path: str, expires: int, disposition: Disposition) -> str:
    message = "\n".join((asset_id, path, str(expires), disposition)).encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def signed_urls(
    base_url: str, secret: bytes, asset_id: str, path: str, *, ttl: int = 3600, now: float
) -> tuple[str, str]:
    """Absolute ``(download_url, view_url)`` for one file, valid for ``ttl`` seconds from ``now``."""
    path = _normalise(path)
    expires = int(now + ttl)
    url = f"{base_url.rstrip('/')}/__files/{asset_id}/{quote(path, safe='/')}?expires={expires}"
    download = f"{url}&sig={_signature(secret, asset_id, path, expires, 'attachment')}"
    view = f"{url}&disposition=inline&sig={_signature(secret, asset_id, path, expires, 'inline')}"
    return download, view


def verify_signature(
    secret: bytes,
    asset_id: str,
    path: str,
    *,
    expires: str | None,
    disposition: str | None,
    sig: str | None,
    now: float,
) -> str | None:
    """Why a signed link is refused (a message for the 403 body), or None when it is good."""
    if not expires or not sig or not expires.isdigit():
        return "This link is not signed: request a fresh one from the files/urls endpoint."
    if disposition == "inline":
        kind: Disposition = "inline"
    elif disposition in (None, "attachment"):
        kind = "attachment"
    else:
        return "Invalid signature."
    expected = _signature(secret, asset_id, path, int(expires), kind)
    # Constant-time comparison: a signature check must not leak how many leading characters matched.
    if not hmac.compare_digest(expected, sig):
        return "Invalid signature."
    if int(expires) < now:
        return "This link has expired: request a fresh one from the files/urls endpoint."
    return None


class _Unsatisfiable(Exception):
    """A Range header that no byte of the file can satisfy (416)."""


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(start, end_exclusive)`` for a single-range header; None means send the whole file.

    Malformed and multi-range headers are ignored (RFC 9110 14.2 lets a server do so) rather than
    refused; a well-formed range that misses the file raises _Unsatisfiable.
    """
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, dash, last = header[6:].strip().partition("-")
    if not dash or not (first.isdigit() or last.isdigit()) or (first and not first.isdigit()):
        return None
    if last and not last.isdigit():
        return None
    if not first:  # suffix range: the last n bytes
        n = int(last)
        if n == 0 or size == 0:
            raise _Unsatisfiable
        return max(0, size - n), size
    start = int(first)
    if last and int(last) < start:
        return None
    if start >= size:
        raise _Unsatisfiable
    return start, (min(int(last), size - 1) + 1 if last else size)


def _disposition_header(disposition: Disposition, path: str) -> str:
    name = path.rpartition("/")[2]
    ascii_name = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in name)
    return f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def _etag(asset_id: str, path: str, size: int) -> str:
    digest = hashlib.blake2b(f"{asset_id}\0{path}\0{size}".encode(), digest_size=8).hexdigest()
    return f'"{digest}"'


def _message(status: int, text: str) -> JSONResponse:
    return JSONResponse({"message": text}, status_code=status)


def file_routes(
    secret: bytes, lookup: Callable[[str], AssetRecord | None], *, clock: Callable[[], float] = time.time
) -> list[BaseRoute]:
    """Starlette routes serving the links ``signed_urls`` makes, with no Authorization needed.

    ``lookup`` maps an asset id to its record (None when gone); it runs on the event loop, so it must
    be quick. ``clock`` is injectable so tests can expire links without sleeping.
    """

    async def serve(request: Request) -> Response:
        asset_id: str = request.path_params["asset_id"]
        path = _normalise(request.path_params["file_path"])
        query = request.query_params
        disposition = query.get("disposition")
        refusal = verify_signature(
            secret,
            asset_id,
            path,
            expires=query.get("expires"),
            disposition=disposition,
            sig=query.get("sig"),
            now=clock(),
        )
        if refusal:
            return _message(403, refusal)
        asset = lookup(asset_id)
        if asset is None:
            return _message(404, f"Data asset {asset_id} not found.")
        info = tree_for(asset, lookup).stat(path)
        if info is None:
            return _message(404, f"File {path!r} not found in data asset {asset_id}.")
        etag = _etag(asset_id, path, info.size)
        headers = {
            "Accept-Ranges": "bytes",
            "ETag": etag,
            "Content-Type": info.content_type,
            "Content-Disposition": _disposition_header("inline" if disposition == "inline" else "attachment", path),
            "Cache-Control": "private, max-age=3600",
        }
        if etag in {tag.strip() for tag in request.headers.get("if-none-match", "").split(",")}:
            return Response(status_code=304, headers={"ETag": etag, "Accept-Ranges": "bytes"})
        range_header = request.headers.get("range")
        if_range = request.headers.get("if-range")
        if if_range is not None and if_range.strip() != etag:
            range_header = None  # the client's copy is stale: send the whole current file
        try:
            span = _byte_range(range_header, info.size)
        except _Unsatisfiable:
            return JSONResponse(
                {"message": f"Range not satisfiable for a {info.size}-byte file."},
                status_code=416,
                headers={"Content-Range": f"bytes */{info.size}"},
            )
        status = 200
        start, end = 0, info.size
        if span is not None:
            status = 206
            start, end = span
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{info.size}"
        headers["Content-Length"] = str(end - start)
        if request.method == "HEAD":
            return Response(status_code=status, headers=headers)
        stream = _stream(info.content_id, info.content_path, start, end)
        return StreamingResponse(stream, status_code=status, headers=headers)

    return [Route("/__files/{asset_id}/{file_path:path}", serve, methods=["GET", "HEAD"])]


async def _stream(content_id: str, path: str, start: int, end: int) -> AsyncIterator[bytes]:
    # Chunks are generated on demand, so a multi-GB body never sits in memory.
    for offset in range(start, end, CHUNK):
        yield read(content_id, path, offset, min(offset + CHUNK, end))
