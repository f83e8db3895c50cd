"""The sandbox's state in SQLite: data assets, computations, and the indexes search runs on.

One connection serves every thread (uvicorn's and a test's), serialised by a re-entrant lock;
``locked()`` holds it across a read-modify-write. Each asset is one ``assets`` row holding every
``AssetRecord`` field (lists and dicts as JSON) plus derived sort and filter columns, mirrored into
side tables that search joins on: ``shares`` (who it is shared with), ``asset_tags``,
``asset_meta`` (custom metadata values), ``contained`` (members of combined assets), ``favorites``,
and the FTS5 table ``assets_fts``. The side tables are rewritten whenever a row is saved, so they
never disagree with it.

Drafts settle lazily: every read first moves drafts whose ``settles_at`` has passed to ``ready`` (or
``failed`` with their ``settle_failure_reason``), so no background task is needed.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from co_mcp.sandbox.records import AssetRecord, ComputationRecord, UserRecord
from co_mcp.sandbox.search import RELEVANCE, name_key, reported_size, size_key, visibility

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from co_mcp.sandbox.search import Plan

__all__ = ["SearchPage", "Store"]

# AssetRecord fields in column order; JSON-encoded and boolean ones are converted on the way in and out.
_FIELDS = (
    "id",
    "created",
    "name",
    "mount",
    "owner_id",
    "state",
    "type",
    "last_used",
    "files",
    "size",
    "description",
    "tags",
    "provenance",
    "source_bucket",
    "custom_metadata",
    "app_parameters",
    "nextflow_profile",
    "contained_data_assets",
    "last_transferred",
    "transfer_error",
    "failure_reason",
    "archived",
    "settles_at",
    "settle_failure_reason",
    "shared_users",
    "shared_groups",
    "everyone",
    "share_assets",
    "favorited_by",
    "used_by_release_pipelines",
    "captured_from",
)
_JSON_FIELDS = frozenset(
    {
        "tags",
        "provenance",
        "source_bucket",
        "custom_metadata",
        "app_parameters",
        "contained_data_assets",
        "shared_users",
        "shared_groups",
        "captured_from",
    }
)
_BOOL_FIELDS = frozenset({"archived", "share_assets", "used_by_release_pipelines"})
_DERIVED = ("name_key", "size_key", "external", "commit_id")
_COLUMNS = ", ".join(f"a.{name}" for name in _FIELDS)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS assets (
    pk INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    created INTEGER NOT NULL,
    name TEXT NOT NULL,
    mount TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    state TEXT NOT NULL,
    type TEXT NOT NULL,
    last_used INTEGER NOT NULL,
    files INTEGER,
    size INTEGER,
    description TEXT,
    tags TEXT NOT NULL,
    provenance TEXT,
    source_bucket TEXT,
    custom_metadata TEXT,
    app_parameters TEXT,
    nextflow_profile TEXT,
    contained_data_assets TEXT,
    last_transferred INTEGER,
    transfer_error TEXT,
    failure_reason TEXT,
    archived INTEGER NOT NULL,
    settles_at REAL,
    settle_failure_reason TEXT,
    shared_users TEXT NOT NULL,
    shared_groups TEXT NOT NULL,
    everyone TEXT NOT NULL,
    share_assets INTEGER NOT NULL,
    favorited_by TEXT NOT NULL,
    used_by_release_pipelines INTEGER NOT NULL,
    captured_from TEXT,
    name_key TEXT NOT NULL,
    size_key INTEGER NOT NULL,
    external INTEGER NOT NULL,
    commit_id TEXT
);
-- One index per sort order, led by the archive flag every search filters on, ending in id for the
-- tie-break, so a page is an index range scan that stops after limit + 1 matching rows.
CREATE INDEX IF NOT EXISTS assets_by_created ON assets (archived, created, id);
CREATE INDEX IF NOT EXISTS assets_by_name ON assets (archived, name_key, id);
CREATE INDEX IF NOT EXISTS assets_by_type ON assets (archived, type, id);
CREATE INDEX IF NOT EXISTS assets_by_size ON assets (archived, size_key, id);
CREATE INDEX IF NOT EXISTS assets_by_owner ON assets (owner_id);
CREATE INDEX IF NOT EXISTS assets_settling ON assets (settles_at) WHERE settles_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS shares (
    principal TEXT NOT NULL, asset_pk INTEGER NOT NULL, role TEXT NOT NULL, PRIMARY KEY (principal, asset_pk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS shares_by_asset ON shares (asset_pk);
CREATE TABLE IF NOT EXISTS asset_tags (
    tag TEXT NOT NULL, asset_pk INTEGER NOT NULL, PRIMARY KEY (tag, asset_pk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS asset_tags_by_asset ON asset_tags (asset_pk);
CREATE TABLE IF NOT EXISTS asset_meta (
    key TEXT NOT NULL, asset_pk INTEGER NOT NULL, text_value TEXT, num_value REAL
);
CREATE INDEX IF NOT EXISTS asset_meta_by_text ON asset_meta (key, text_value);
CREATE INDEX IF NOT EXISTS asset_meta_by_number ON asset_meta (key, num_value);
CREATE INDEX IF NOT EXISTS asset_meta_by_asset ON asset_meta (asset_pk);
CREATE TABLE IF NOT EXISTS contained (
    member_id TEXT NOT NULL, asset_pk INTEGER NOT NULL, PRIMARY KEY (member_id, asset_pk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS contained_by_asset ON contained (asset_pk);
CREATE TABLE IF NOT EXISTS favorites (
    user_id TEXT NOT NULL, asset_pk INTEGER NOT NULL, PRIMARY KEY (user_id, asset_pk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS favorites_by_asset ON favorites (asset_pk);

-- unicode61 (not trigram): the real search matches whole words, so "rna" must not find "internal";
-- the word index is also several times smaller and faster to build than a trigram one. The unit
-- separator (U+001F) is a token character: it stands alone between two tags (or two metadata values)
-- as a token no query can contain, so a quoted phrase never runs from one value into the next.
CREATE VIRTUAL TABLE IF NOT EXISTS assets_fts USING fts5 (
    name, tags, description, meta, run_script,
    tokenize = 'unicode61 remove_diacritics 2 tokenchars ''\x1f'''
);

CREATE TABLE IF NOT EXISTS computations (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
"""
_SIDE_TABLES = ("shares", "asset_tags", "asset_meta", "contained", "favorites")
# Columns added to the assets table after its first release: (name, declaration), for older files.
_ADDED_COLUMNS = (("captured_from", "TEXT"),)
# Between two values of one FTS column (tags, metadata strings): see the tokenizer above.
VALUE_BREAK = "\x1f"
_FTS_MARK = "tokenchars"  # in the FTS table's DDL: a database made before the value break lacks it
# (name, CREATE statement) of every secondary index: a bulk load into an empty store drops them and
# builds them afterwards, which sorts once instead of updating seven b-trees row by row.
_INDEXES = tuple(
    (match.group(1), match.group(0)) for match in re.finditer(r"CREATE INDEX IF NOT EXISTS (\w+) ON [^;]+;", _SCHEMA)
)
_BULK_ROWS = 1000
# Reused, and without the circular-reference check: records hold plain JSON values.
_to_json = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode


@dataclass(frozen=True)
class SearchPage:
    """One page of search results, in order, and whether more rows match.

    In relevance order ``tiers`` gives each record's relevance tier (a token needs the last one).
    """

    records: list[AssetRecord]
    has_more: bool
    tiers: tuple[int, ...] = ()

    @property
    def last_tier(self) -> int | None:
        return self.tiers[-1] if self.tiers else None


class Store:
    """Thread-safe SQLite store of the sandbox's assets and computations.

    ``path`` None keeps everything in memory. ``clock`` decides when drafts settle; the sandbox
    passes its own so tests can move time.
    """

    def __init__(self, path: str | None = None, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        # One connection shared across threads: every use holds self._lock, which is what makes
        # check_same_thread=False safe. Autocommit mode; writes open explicit transactions.
        self._db = sqlite3.connect(path or ":memory:", check_same_thread=False, isolation_level=None)
        if path:
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
        rebuild_fts = self._drop_old_fts()
        self._db.executescript(_SCHEMA)
        self._add_new_columns()
        if rebuild_fts:
            self._reindex()

    def _add_new_columns(self) -> None:
        # A database file written by an older sandbox lacks the columns added since; they are nullable.
        present = {row[1] for row in self._db.execute("PRAGMA table_info(assets)")}
        for name, declaration in _ADDED_COLUMNS:
            if name not in present:
                self._db.execute(f"ALTER TABLE assets ADD COLUMN {name} {declaration}")

    def _drop_old_fts(self) -> bool:
        # A database file written by an older sandbox has an FTS table without the value break: drop it,
        # so the schema creates the new one, and rebuild it from the assets.
        found = self._db.execute("SELECT sql FROM sqlite_master WHERE name = 'assets_fts'").fetchone()
        if found is None or _FTS_MARK in found[0]:
            return False
        self._db.execute("DROP TABLE assets_fts")
        return True

    def _reindex(self) -> None:
        with self._transaction() as db:
            side: dict[str, list[tuple[Any, ...]]] = {"fts": []}
            for pk, *row in db.execute(f"SELECT a.pk, {_COLUMNS} FROM assets a").fetchall():  # noqa: S608
                _fts_row(pk, _record(tuple(row)), side)
            db.executemany(_INSERT_FTS, side["fts"])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store for a read-modify-write, so another thread cannot interleave."""
        with self._lock:
            yield

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # --- loading ---------------------------------------------------------------------------------

    def load(self, assets: Iterable[AssetRecord], computations: Iterable[ComputationRecord] = ()) -> None:
        """Bulk-insert demo data in one transaction (100,000 assets take a few seconds)."""
        with self._transaction() as db:
            self._insert_computations(db, computations)
            start = db.execute("SELECT coalesce(max(pk), 0) FROM assets").fetchone()[0] + 1
            rows: list[tuple[Any, ...]] = []
            side: dict[str, list[tuple[Any, ...]]] = {name: [] for name in (*_SIDE_TABLES, "fts")}
            for pk, record in enumerate(assets, start):
                rows.append((pk, *_row(record)))
                _side_rows(pk, record, side)
            bulk = len(rows) >= _BULK_ROWS and start == 1
            if bulk:
                for name, _ in _INDEXES:
                    db.execute(f"DROP INDEX IF EXISTS {name}")
            db.executemany(_INSERT_ASSET, rows)
            self._insert_side_rows(db, side)
            if bulk:
                for _, create in _INDEXES:
                    db.execute(create)

    def add_computation(self, computation: ComputationRecord) -> None:
        with self._transaction() as db:
            self._insert_computations(db, [computation])

    @staticmethod
    def _insert_computations(db: sqlite3.Connection, computations: Iterable[ComputationRecord]) -> None:
        db.executemany(
            "INSERT OR REPLACE INTO computations (id, doc) VALUES (?, ?)",
            # vars(), not asdict(): the record is flat, and asdict's deep copy dominates a 100k load.
            [(c.id, _to_json(vars(c))) for c in computations],
        )

    @staticmethod
    def _insert_side_rows(db: sqlite3.Connection, side: dict[str, list[tuple[Any, ...]]]) -> None:
        db.executemany("INSERT OR IGNORE INTO shares (principal, asset_pk, role) VALUES (?, ?, ?)", side["shares"])
        db.executemany("INSERT OR IGNORE INTO asset_tags (tag, asset_pk) VALUES (?, ?)", side["asset_tags"])
        db.executemany(
            "INSERT INTO asset_meta (key, asset_pk, text_value, num_value) VALUES (?, ?, ?, ?)", side["asset_meta"]
        )
        db.executemany("INSERT OR IGNORE INTO contained (member_id, asset_pk) VALUES (?, ?)", side["contained"])
        db.executemany("INSERT OR IGNORE INTO favorites (user_id, asset_pk) VALUES (?, ?)", side["favorites"])
        db.executemany(_INSERT_FTS, side["fts"])

    # --- assets ----------------------------------------------------------------------------------

    def insert_asset(self, record: AssetRecord) -> None:
        """Add a new asset; its id must be new."""
        self.load([record])

    def save_asset(self, record: AssetRecord) -> None:
        """Write back every field of an existing asset (matched by id) and re-index it."""
        with self._transaction() as db:
            self._save(db, record)

    def _save(self, db: sqlite3.Connection, record: AssetRecord) -> None:
        found = db.execute("SELECT pk FROM assets WHERE id = ?", (record.id,)).fetchone()
        if found is None:
            raise KeyError(record.id)
        pk = found[0]
        assignments = ", ".join(f"{name} = ?" for name in (*_FIELDS, *_DERIVED))
        db.execute(f"UPDATE assets SET {assignments} WHERE pk = ?", (*_row(record), pk))  # noqa: S608
        self._delete_side_rows(db, pk)
        side: dict[str, list[tuple[Any, ...]]] = {name: [] for name in (*_SIDE_TABLES, "fts")}
        _side_rows(pk, record, side)
        self._insert_side_rows(db, side)

    def delete_asset(self, asset_id: str) -> bool:
        """Remove an asset for good, and from every combined asset that holds it; False if there was none.

        A combined asset stores only references to its members (docs/codeocean-api.md §5.5): it drops
        the deleted one, and its files and size become the sums of the members it still holds.
        """
        with self._transaction() as db:
            found = db.execute("SELECT pk FROM assets WHERE id = ?", (asset_id,)).fetchone()
            if found is None:
                return False
            holders = db.execute(
                f"SELECT {_COLUMNS} FROM assets a WHERE a.pk IN (SELECT asset_pk FROM contained WHERE member_id = ?)",  # noqa: S608
                (asset_id,),
            ).fetchall()
            self._delete_side_rows(db, found[0])
            db.execute("DELETE FROM assets WHERE pk = ?", (found[0],))
            for row in holders:
                self._save(db, _without_member(db, _record(row), asset_id))
            return True

    @staticmethod
    def _delete_side_rows(db: sqlite3.Connection, pk: int) -> None:
        for table in _SIDE_TABLES:
            db.execute(f"DELETE FROM {table} WHERE asset_pk = ?", (pk,))  # noqa: S608
        db.execute("DELETE FROM assets_fts WHERE rowid = ?", (pk,))

    def get_asset(self, asset_id: str) -> AssetRecord | None:
        """The asset with this id (drafts that are due settled first), or None."""
        with self._lock:
            self._settle_due()
            row = self._db.execute(f"SELECT {_COLUMNS} FROM assets a WHERE a.id = ?", (asset_id,)).fetchone()  # noqa: S608
        return None if row is None else _record(row)

    def all_assets(self) -> list[AssetRecord]:
        """Every asset, archived ones included, oldest insert first."""
        with self._lock:
            self._settle_due()
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM assets a ORDER BY a.pk").fetchall()  # noqa: S608
        return [_record(row) for row in rows]

    def count_assets(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM assets").fetchone()[0])

    def count_visible(self, user: UserRecord, *, archived: bool | None = False) -> int:
        """How many assets ``user`` can see; ``archived`` None counts archived and active alike."""
        sql, params = visibility(user)
        if archived is not None:
            sql += " AND a.archived = ?"
            params.append(1 if archived else 0)
        with self._lock:
            return int(self._db.execute(f"SELECT count(*) FROM assets a WHERE {sql}", params).fetchone()[0])  # noqa: S608

    def search(self, plan: Plan) -> SearchPage:
        """Run a compiled search (see ``search.plan_search``) and return one page."""
        if plan.sort_field == RELEVANCE:
            return self._search_by_relevance(plan)
        sql, params = plan.sql(_COLUMNS)
        with self._lock:
            self._settle_due()
            rows = self._db.execute(sql, params).fetchall()
        records = [_record(row) for row in rows[: plan.limit]]
        return SearchPage(records, has_more=len(rows) > plan.limit)

    def _search_by_relevance(self, plan: Plan) -> SearchPage:
        # Tier by tier, best first, until the page (plus one row, for has_more) is full. An empty tier
        # costs one probe of the word index; a tier with few matches is read from them and sorted; one
        # with many walks the created index and stops early, as an unranked search does.
        want = plan.limit + 1
        offset = plan.offset
        first, after = 0, None
        if plan.after is not None:
            (first, created), last_id = plan.after
            after = (created, last_id)
        rows: list[tuple[Any, ...]] = []
        tiers: list[int] = []
        with self._lock:
            self._settle_due()
            assets = self._db.execute("SELECT coalesce(max(pk), 0) FROM assets").fetchone()[0]
            for tier in range(first, len(plan.tiers)):
                need = want - len(rows)
                # Reading n matches and sorting them costs about as much as walking 50n index rows;
                # the walk stops after about need * assets / n rows.
                few = int((need * assets / _INDEX_ROWS_PER_MATCH) ** 0.5) + 1
                matches = self._db.execute(_FTS_PROBE, (plan.tiers[tier], few + 1)).fetchone()[0]
                if matches == 0:
                    continue
                if offset:
                    sql, params = plan.tier_count_sql(tier)
                    held = self._db.execute(sql, params).fetchone()[0]
                    if held <= offset:
                        offset -= held
                        continue
                sql, params = plan.tier_sql(
                    _COLUMNS,
                    tier,
                    after=after if tier == first else None,
                    limit=need,
                    offset=offset,
                    from_matches=matches <= few,
                )
                offset = 0
                found = self._db.execute(sql, params).fetchall()
                rows += found
                tiers += [tier] * len(found)
                if len(rows) >= want:
                    break
        records = [_record(row) for row in rows[: plan.limit]]
        return SearchPage(records, has_more=len(rows) > plan.limit, tiers=tuple(tiers[: plan.limit]))

    def _settle_due(self) -> None:
        # Cheap when nothing is due: the partial index holds only drafts.
        now = self._clock()
        with self._lock:
            due = self._db.execute("SELECT 1 FROM assets WHERE settles_at <= ? LIMIT 1", (now,)).fetchone()
            if due is None:
                return
            self._db.execute(
                """
                UPDATE assets SET
                    state = CASE WHEN settle_failure_reason IS NULL THEN 'ready' ELSE 'failed' END,
                    failure_reason = settle_failure_reason,
                    files = CASE WHEN settle_failure_reason IS NULL THEN files END,
                    size = CASE WHEN settle_failure_reason IS NULL THEN size END,
                    size_key = CASE WHEN settle_failure_reason IS NULL THEN coalesce(size, -1) ELSE -1 END,
                    settles_at = NULL
                WHERE settles_at <= ?
                """,
                (now,),
            )

    # --- computations ----------------------------------------------------------------------------

    def get_computation(self, computation_id: str) -> ComputationRecord | None:
        with self._lock:
            row = self._db.execute("SELECT doc FROM computations WHERE id = ?", (computation_id,)).fetchone()
        return None if row is None else _computation(row[0])

    def all_computations(self) -> list[ComputationRecord]:
        with self._lock:
            rows = self._db.execute("SELECT doc FROM computations ORDER BY id").fetchall()
        return [_computation(row[0]) for row in rows]


# At most ? matches of an FTS5 expression, counted without reading more of the index than that.
_FTS_PROBE = "SELECT count(*) FROM (SELECT 1 FROM assets_fts WHERE assets_fts MATCH ? LIMIT ?)"
# Measured at 100,000 assets: sorting one match read from the word index costs about as much as
# walking this many rows of the created index.
_INDEX_ROWS_PER_MATCH = 50
_INSERT_FTS = "INSERT INTO assets_fts (rowid, name, tags, description, meta, run_script) VALUES (?, ?, ?, ?, ?, ?)"
_INSERT_ASSET = (
    f"INSERT INTO assets (pk, {', '.join((*_FIELDS, *_DERIVED))}) "  # noqa: S608
    f"VALUES ({', '.join('?' * (1 + len(_FIELDS) + len(_DERIVED)))})"
)


def _without_member(db: sqlite3.Connection, combined: AssetRecord, member_id: str) -> AssetRecord:
    """``combined`` without ``member_id``; files and size summed again over the members still there."""
    kept: list[dict[str, Any]] = []
    files = size = 0
    for member in combined.contained_data_assets or []:
        if str(member.get("id", "")).lower() == member_id:
            continue
        row = db.execute("SELECT files, size FROM assets WHERE id = ?", (str(member.get("id", "")).lower(),)).fetchone()
        if row is None:  # gone already: nothing to hold
            continue
        kept.append(member)
        files += row[0] or 0
        size += row[1] or 0
    combined.contained_data_assets = kept
    if combined.state != "failed":  # a failed asset has no files or size to recount
        combined.files, combined.size = files, size
    return combined


def _computation(doc: str) -> ComputationRecord:
    fields = json.loads(doc)
    # JSON has no tuples; a document from an older sandbox has no inputs at all.
    fields["data_assets"] = tuple(fields.get("data_assets") or ())
    return ComputationRecord(**fields)


def _row(record: AssetRecord) -> tuple[Any, ...]:
    values: list[Any] = []
    for name in _FIELDS:
        value = getattr(record, name)
        if name == "favorited_by":
            value = _to_json(sorted(value))
        elif name in _JSON_FIELDS:
            value = None if value is None else _to_json(value)
        elif name in _BOOL_FIELDS:
            value = int(value)
        values.append(value)
    external = bool((record.source_bucket or {}).get("external"))
    commit = (record.provenance or {}).get("commit")
    # A draft's size is not known yet (the API does not report it), so it sorts with the unknown sizes.
    size = size_key(reported_size(record))
    values += [name_key(record.name), size, int(external), commit.lower() if commit else None]
    return tuple(values)


def _record(row: tuple[Any, ...]) -> AssetRecord:
    values: dict[str, Any] = {}
    for name, stored in zip(_FIELDS, row, strict=True):
        if name == "favorited_by":
            values[name] = set(json.loads(stored))
        elif name in _JSON_FIELDS:
            values[name] = None if stored is None else json.loads(stored)
        elif name in _BOOL_FIELDS:
            values[name] = bool(stored)
        else:
            values[name] = stored
    return AssetRecord(**values)


def _side_rows(pk: int, record: AssetRecord, side: dict[str, list[tuple[Any, ...]]]) -> None:
    for email, user_role in record.shared_users.items():
        side["shares"].append((f"u:{email.lower()}", pk, user_role))
    for group, group_role in record.shared_groups.items():
        side["shares"].append((f"g:{group}", pk, group_role))
    for tag in record.tags:
        side["asset_tags"].append((tag.lower(), pk))
    for key, raw in (record.custom_metadata or {}).items():
        for value in raw if isinstance(raw, list) else [raw]:
            if isinstance(value, str):
                side["asset_meta"].append((key, pk, value.lower(), None))
            elif isinstance(value, int | float) and not isinstance(value, bool):
                side["asset_meta"].append((key, pk, None, float(value)))
    for member in record.contained_data_assets or []:
        if member.get("id"):
            side["contained"].append((str(member["id"]).lower(), pk))
    for user_id in record.favorited_by:
        side["favorites"].append((user_id, pk))
    _fts_row(pk, record, side)


def _fts_row(pk: int, record: AssetRecord, side: dict[str, list[tuple[Any, ...]]]) -> None:
    meta_text = [
        value
        for raw in (record.custom_metadata or {}).values()
        for value in (raw if isinstance(raw, list) else [raw])
        if isinstance(value, str)
    ]
    run_script = (record.provenance or {}).get("run_script") or ""
    side["fts"].append(
        (
            pk,
            _text(record.name),
            _values(record.tags),
            _text(record.description or ""),
            _values(meta_text),
            _text(run_script),
        )
    )


def _text(value: str) -> str:
    # The value break is reserved: in stored text it is only a separator, as it is in queries.
    return value.replace(VALUE_BREAK, " ")


def _values(values: list[str]) -> str:
    """Several values of one field as FTS text: a phrase matches inside one value, never across two."""
    return f" {VALUE_BREAK} ".join(_text(value) for value in values)
