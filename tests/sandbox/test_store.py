"""The SQLite store: records round-trip, side indexes follow saves and deletes, drafts settle, threads share it."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from co_mcp.sandbox.bodies import SearchBody
from co_mcp.sandbox.demo_data import ALICE_ID, BOB_ID, DEFAULT_USERS
from co_mcp.sandbox.records import ComputationRecord
from co_mcp.sandbox.search import plan_search
from co_mcp.sandbox.store import Store
from tests.sandbox.conftest import START, Clock, record, uid

ALICE = DEFAULT_USERS[0]


def ids_found(store: Store, query: str) -> list[str]:
    body = SearchBody(query=query)
    return [r.id for r in store.search(plan_search(body, ALICE, {}, secret=b"s")).records]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(clock: Clock) -> Store:
    return Store(None, clock=clock)


def test_every_field_survives_a_round_trip(store: Store) -> None:
    original = record(
        uid(1),
        name="Round trip",
        description="all fields",
        tags=["a", "b"],
        type="result",
        provenance={"capsule": "c", "computation": "k", "data_assets": [uid(2)]},
        source_bucket={"origin": "aws", "bucket": "b", "prefix": "p", "external": True},
        custom_metadata={"species": "Mus musculus", "sample_count": 3, "instruments": ["HPC cluster"]},
        app_parameters=[{"name": "alpha", "value": "0.5"}],
        nextflow_profile="docker",
        contained_data_assets=[{"id": uid(2), "mount": "m", "size": 5}],
        last_transferred=123,
        transfer_error="oops",
        archived=True,
        shared_users={"bob@example.org": "editor"},
        shared_groups={"imaging": "discoverable"},
        everyone="viewer",
        share_assets=True,
        favorited_by={ALICE_ID, BOB_ID},
        used_by_release_pipelines=True,
        last_used=99,
        captured_from={"run": "k", "kind": "capsule", "files": 3, "size": 10, "path": "tables"},
    )
    store.insert_asset(original)
    assert store.get_asset(uid(1)) == original


def test_get_of_an_unknown_id_is_none(store: Store) -> None:
    assert store.get_asset(uid(404)) is None


def test_save_rewrites_the_search_index(store: Store) -> None:
    store.insert_asset(record(uid(1), name="before"))
    asset = store.get_asset(uid(1))
    assert asset is not None
    asset.name = "after"
    store.save_asset(asset)
    assert (ids_found(store, "before"), ids_found(store, "after")) == ([], [uid(1)])


def test_save_of_a_missing_asset_raises(store: Store) -> None:
    with pytest.raises(KeyError):
        store.save_asset(record(uid(1)))


def test_delete_removes_the_asset_and_its_index_entries(store: Store) -> None:
    store.insert_asset(record(uid(1), name="doomed", tags=["t"], shared_users={"bob@example.org": "viewer"}))
    assert store.delete_asset(uid(1))
    assert store.get_asset(uid(1)) is None
    assert ids_found(store, "doomed") == []
    assert store.count_assets() == 0


def test_deleting_a_member_updates_every_combined_asset_holding_it(store: Store) -> None:
    parts = [{"id": uid(n), "mount": f"m{n}", "size": 10 * n} for n in (1, 2)]
    store.load(
        [
            record(uid(1), files=1, size=10),
            record(uid(2), files=2, size=20),
            record(uid(3), type="combined", files=3, size=30, contained_data_assets=parts),
            record(uid(4), type="combined", files=3, size=30, contained_data_assets=parts, archived=True),
        ]
    )
    assert store.delete_asset(uid(1))
    for holder in (uid(3), uid(4)):
        combined = store.get_asset(holder)
        assert combined is not None
        assert (combined.contained_data_assets, combined.files, combined.size) == ([parts[1]], 2, 20)
    assert ids_found(store, f"contained_data_id:{uid(1)}") == []
    assert ids_found(store, f"contained_data_id:{uid(2)}") == [uid(3)]


def test_delete_of_a_missing_asset_is_false(store: Store) -> None:
    assert not store.delete_asset(uid(1))


def test_a_draft_stays_draft_until_it_is_due(store: Store, clock: Clock) -> None:
    store.insert_asset(record(uid(1), state="draft", settles_at=START + 10))
    clock.advance(9)
    asset = store.get_asset(uid(1))
    assert asset is not None
    assert asset.state == "draft"


def test_a_due_draft_settles_ready_on_the_next_read(store: Store, clock: Clock) -> None:
    store.insert_asset(record(uid(1), state="draft", settles_at=START + 10))
    clock.advance(10)
    asset = store.get_asset(uid(1))
    assert asset is not None
    assert (asset.state, asset.settles_at, asset.failure_reason) == ("ready", None, None)


def test_a_due_draft_with_a_failure_settles_failed_without_files(store: Store, clock: Clock) -> None:
    store.insert_asset(record(uid(1), state="draft", settles_at=START, settle_failure_reason="bucket gone"))
    asset = store.get_asset(uid(1))
    assert asset is not None
    assert (asset.state, asset.failure_reason, asset.files, asset.size) == ("failed", "bucket gone", None, None)


def test_drafts_settle_before_a_search_too(store: Store) -> None:
    store.insert_asset(record(uid(1), state="draft", settles_at=START))
    results = store.search(plan_search(SearchBody(), ALICE, {}, secret=b"s")).records
    assert [r.state for r in results] == ["ready"]


def test_count_visible_counts_only_what_the_user_sees(store: Store) -> None:
    store.load(
        [
            record(uid(1)),
            record(uid(2), archived=True),
            record(uid(3), owner_id=BOB_ID),
            record(uid(4), owner_id=BOB_ID, shared_groups={"genomics": "viewer"}),
        ]
    )
    assert store.count_visible(ALICE) == 2
    assert store.count_visible(ALICE, archived=None) == 3


def test_bulk_load_builds_indexes_that_search_uses(store: Store) -> None:
    store.load(record(uid(n), name=f"bulk {n}", created=n) for n in range(2500))
    assert store.count_assets() == 2500
    assert ids_found(store, '"bulk 2499"') == [uid(2499)]
    plan = store._db.execute("EXPLAIN QUERY PLAN SELECT id FROM assets WHERE archived = 0 ORDER BY created").fetchall()
    assert "assets_by_created" in str(plan)


def test_computations_round_trip(store: Store) -> None:
    computation = ComputationRecord(uid(7), ALICE_ID, "pipeline", 100, pipeline_id="p", nextflow_profile="docker")
    store.add_computation(computation)
    assert store.get_computation(uid(7)) == computation
    assert store.get_computation(uid(8)) is None


def test_a_file_database_keeps_its_data(tmp_path: Path) -> None:
    path = str(tmp_path / "sandbox.sqlite3")
    first = Store(path)
    first.insert_asset(record(uid(1), name="kept"))
    first.close()
    second = Store(path)
    assert [a.name for a in second.all_assets()] == ["kept"]
    second.close()


def test_a_database_with_the_old_word_index_is_reindexed_on_open(tmp_path: Path) -> None:
    path = str(tmp_path / "old.sqlite3")
    Store(path).insert_asset(record(uid(1), tags=["pbmc", "raw", "human"]))
    # What an older sandbox wrote: a word index without the break between two values of a field.
    db = sqlite3.connect(path)
    db.executescript(
        """
        DROP TABLE assets_fts;
        CREATE VIRTUAL TABLE assets_fts USING fts5 (
            name, tags, description, meta, run_script, tokenize = 'unicode61 remove_diacritics 2'
        );
        INSERT INTO assets_fts (rowid, name, tags, description, meta, run_script)
            VALUES (1, 'asset', 'pbmc | raw | human', '', '', '');
        """
    )
    db.close()
    reopened = Store(path)
    assert ids_found(reopened, '"pbmc raw human"') == []
    assert ids_found(reopened, "pbmc human") == [uid(1)]


def test_a_database_from_before_captures_gains_the_column_on_open(tmp_path: Path) -> None:
    path = str(tmp_path / "old.sqlite3")
    Store(path).insert_asset(record(uid(1)))
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE assets DROP COLUMN captured_from")
    db.close()
    reopened = Store(path)
    captured = record(uid(2), captured_from={"run": "k", "kind": "capsule", "files": 1, "size": 1, "path": ""})
    reopened.insert_asset(captured)
    assert reopened.get_asset(uid(2)) == captured
    assert reopened.get_asset(uid(1)) == record(uid(1))


def test_threads_share_the_store_safely(store: Store) -> None:
    store.insert_asset(record(uid(0)))
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            for _ in range(200):
                assert store.get_asset(uid(0)) is not None
        except BaseException as exc:  # the assertion is re-raised below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for thread in threads:
        thread.start()
    for n in range(1, 101):
        store.insert_asset(record(uid(n)))
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.count_assets() == 101
