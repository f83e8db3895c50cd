"""Search (docs/codeocean-api.md §7) against a store of hand-made assets: query language, filters, order, pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from co_mcp.sandbox import store as store_module
from co_mcp.sandbox.bodies import SearchBody
from co_mcp.sandbox.demo_data import ADMIN_ID, ALICE_ID, BOB_ID, CAROL_ID, CUSTOM_METADATA_SCHEMA, DEFAULT_USERS
from co_mcp.sandbox.records import AssetRecord, UserRecord
from co_mcp.sandbox.search import InvalidSearch, Plan, Term, parse_query, plan_search
from co_mcp.sandbox.store import SearchPage, Store
from tests.sandbox.conftest import record, uid

ALICE, BOB, CAROL = DEFAULT_USERS[0], DEFAULT_USERS[1], DEFAULT_USERS[2]
ADMIN = next(u for u in DEFAULT_USERS if u.admin)
FIELD_TYPES = {f["name"]: f["type"] for f in CUSTOM_METADATA_SCHEMA["fields"]}
SECRET = b"search-secret"

assert (ALICE.id, BOB.id, CAROL.id, ADMIN.id) == (ALICE_ID, BOB_ID, CAROL_ID, ADMIN_ID)


def plan(body: dict[str, Any], user: UserRecord = ALICE) -> Plan:
    return plan_search(SearchBody.model_validate(body), user, FIELD_TYPES, secret=SECRET)


Find = Callable[..., list[str]]


@pytest.fixture
def store() -> Store:
    return Store(None)


@pytest.fixture
def find(store: Store) -> Find:
    """``find(body, user=ALICE)``: the ids of one page of results, in order."""

    def run(body: dict[str, Any], user: UserRecord = ALICE) -> list[str]:
        return [r.id for r in store.search(plan(body, user)).records]

    return run


def page(store: Store, body: dict[str, Any], user: UserRecord = ALICE) -> tuple[SearchPage, Plan]:
    compiled = plan(body, user)
    return store.search(compiled), compiled


def load(store: Store, *records: AssetRecord) -> None:
    store.load(records)


# --- the query language ---------------------------------------------------------------------------


def test_parse_splits_free_words_phrases_and_field_terms() -> None:
    assert parse_query('rna name:"analysis pipeline" tag:genomics "exact phrase"') == [
        Term(None, "rna"),
        Term("name", "analysis pipeline"),
        Term("tag", "genomics"),
        Term(None, "exact phrase"),
    ]


def test_parse_reads_field_names_case_insensitively_and_allows_a_space_after_the_colon() -> None:
    assert parse_query("NAME: RNA-seq Commit_Id:abc") == [Term("name", "RNA-seq"), Term("commit_id", "abc")]


def test_parse_keeps_an_unknown_field_as_free_text() -> None:
    assert parse_query("species:mouse") == [Term(None, "species:mouse")]


def test_parse_drops_terms_without_letters_or_digits() -> None:
    assert parse_query('- ** "" name: tag:"  "') == []


def test_parse_takes_an_unclosed_quote_to_the_end() -> None:
    assert parse_query('name:"open phrase') == [Term("name", "open phrase")]


def test_free_text_matches_name_tags_description_and_custom_metadata(store: Store, find: Find) -> None:
    load(
        store,
        record(uid(1), name="Ocelot survey"),
        record(uid(2), tags=["ocelot"]),
        record(uid(3), description="camera traps for the ocelot"),
        record(uid(4), custom_metadata={"project_code": "OCELOT-7"}),
        record(uid(5), name="unrelated"),
    )
    assert sorted(find({"query": "ocelot"})) == [uid(1), uid(2), uid(3), uid(4)]


def test_free_text_matches_whole_words_not_substrings(store: Store, find: Find) -> None:
    load(store, record(uid(1), name="RNA-seq liver"), record(uid(2), name="internal controls"))
    assert find({"query": "rna"}) == [uid(1)]


def test_free_words_must_all_match(store: Store, find: Find) -> None:
    load(store, record(uid(1), name="liver fasting"), record(uid(2), name="liver fed"))
    assert find({"query": "liver fasting"}) == [uid(1)]


def test_a_quoted_phrase_needs_the_words_together_in_order(store: Store, find: Find) -> None:
    load(store, record(uid(1), name="time course liver"), record(uid(2), name="course of time"))
    assert find({"query": '"time course"'}) == [uid(1)]


def test_a_quoted_phrase_does_not_run_across_separate_tags(store: Store, find: Find) -> None:
    load(store, record(uid(1), tags=["pbmc", "raw", "human"]), record(uid(2), tags=["pbmc raw human"]))
    assert find({"query": '"pbmc raw human"'}) == [uid(2)]


def test_a_quoted_phrase_does_not_run_across_custom_metadata_values(store: Store, find: Find) -> None:
    load(
        store,
        record(uid(1), custom_metadata={"species": "Mus musculus", "project_code": "Alpha"}),
        record(uid(2), custom_metadata={"instruments": ["HPC cluster", "Zeiss Lightsheet 7"]}),
        record(uid(3), custom_metadata={"principal_investigator": "musculus alpha"}),
    )
    assert find({"query": '"musculus alpha"'}) == [uid(3)]
    assert find({"query": '"cluster zeiss"'}) == []


def test_a_quoted_phrase_does_not_run_from_one_field_into_another(store: Store, find: Find) -> None:
    load(store, record(uid(1), name="liver time", description="course of fasting"))
    assert find({"query": '"time course"'}) == []


def test_separate_words_may_still_match_in_separate_tags(store: Store, find: Find) -> None:
    load(store, record(uid(1), tags=["pbmc", "raw", "human"]))
    assert find({"query": "pbmc raw human"}) == [uid(1)]


def test_the_value_break_in_a_query_or_a_value_is_only_a_space(store: Store, find: Find) -> None:
    load(store, record(uid(1), tags=["left\x1fright"]), record(uid(2), tags=["left", "right"]))
    assert find({"query": '"left\x1fright"'}) == [uid(1)]


def test_matching_ignores_case_and_accents(store: Store, find: Find) -> None:
    load(store, record(uid(1), name="Café Müller cohort"))
    assert find({"query": "CAFE muller"}) == [uid(1)]


def test_name_term_looks_only_at_the_name(store: Store, find: Find) -> None:
    load(store, record(uid(1), name="pilot"), record(uid(2), name="other", description="pilot"))
    assert find({"query": "name:pilot"}) == [uid(1)]


def test_hyphenated_name_term_matches_as_a_phrase(store: Store, find: Find) -> None:
    load(store, record(uid(1), name="RNA-seq PBMC"), record(uid(2), name="seq of RNA"))
    assert find({"query": "name:RNA-seq"}) == [uid(1)]


def test_the_same_field_repeated_means_or(store: Store, find: Find) -> None:
    load(store, record(uid(1), name="alpha"), record(uid(2), name="beta"), record(uid(3), name="gamma"))
    assert sorted(find({"query": "name:alpha name:beta"})) == [uid(1), uid(2)]


def test_different_fields_mean_and(store: Store, find: Find) -> None:
    load(store, record(uid(1), name="alpha", tags=["x"]), record(uid(2), name="alpha", tags=["y"]))
    assert find({"query": "name:alpha tag:x"}) == [uid(1)]


def test_tag_term_matches_a_whole_tag_ignoring_case(store: Store, find: Find) -> None:
    load(store, record(uid(1), tags=["Single-Cell"]), record(uid(2), tags=["single"]), record(uid(3), tags=["cell"]))
    assert find({"query": 'tag:"single-cell"'}) == [uid(1)]


def test_run_script_term_matches_provenance(store: Store, find: Find) -> None:
    load(
        store,
        record(uid(1), type="result", provenance={"run_script": "code/train.sh"}),
        record(uid(2), type="result", provenance={"run_script": "code/run.sh"}),
    )
    assert find({"query": "run_script:train.sh"}) == [uid(1)]


def test_commit_id_term_matches_a_hash_prefix(store: Store, find: Find) -> None:
    load(
        store,
        record(uid(1), provenance={"commit": "4F2D8C1E9B7A"}),
        record(uid(2), provenance={"commit": "9c1f3e5a7b2d"}),
    )
    assert find({"query": "commit_id:4f2d8c"}) == [uid(1)]


def test_contained_data_id_term_finds_combined_assets_holding_it(store: Store, find: Find) -> None:
    load(
        store,
        record(uid(1)),
        record(uid(2), type="combined", contained_data_assets=[{"id": uid(1), "mount": "a", "size": 1}]),
    )
    assert find({"query": f"contained_data_id:{uid(1).upper()}"}) == [uid(2)]


@pytest.mark.parametrize("query", ["NEAR(a b) OR *", "{name}: ^x", 'a"b', "nul\x00byte", 'tag:"x\x00y"'])
def test_fts_syntax_and_control_characters_are_plain_text(store: Store, find: Find, query: str) -> None:
    load(store, record(uid(1), name="plain"))
    assert find({"query": query}) == []


def test_a_query_of_only_punctuation_matches_everything_visible(store: Store, find: Find) -> None:
    load(store, record(uid(1)), record(uid(2)))
    assert len(find({"query": "--"})) == 2


# --- filters --------------------------------------------------------------------------------------


def test_filter_on_tags_with_values_matches_any(store: Store, find: Find) -> None:
    load(store, record(uid(1), tags=["a"]), record(uid(2), tags=["B"]), record(uid(3), tags=["c"]))
    assert sorted(find({"filters": [{"key": "tags", "values": ["a", "b"]}]})) == [uid(1), uid(2)]


def test_filter_exclude_negates(store: Store, find: Find) -> None:
    load(store, record(uid(1), tags=["a"]), record(uid(2), tags=["b"]), record(uid(3)))
    assert sorted(find({"filters": [{"key": "tags", "value": "a", "exclude": True}]})) == [uid(2), uid(3)]


def test_filter_on_a_custom_string_field(store: Store, find: Find) -> None:
    load(
        store,
        record(uid(1), custom_metadata={"species": "Mus musculus"}),
        record(uid(2), custom_metadata={"species": "Homo sapiens"}),
    )
    assert find({"filters": [{"key": "species", "value": "mus musculus"}]}) == [uid(1)]


def test_filter_on_a_multiple_field_matches_any_of_its_values(store: Store, find: Find) -> None:
    load(
        store,
        record(uid(1), custom_metadata={"instruments": ["HPC cluster", "Zeiss Lightsheet 7"]}),
        record(uid(2), custom_metadata={"instruments": ["HPC cluster"]}),
    )
    assert find({"filters": [{"key": "instruments", "value": "Zeiss Lightsheet 7"}]}) == [uid(1)]


@pytest.mark.parametrize(
    ("bounds", "expected"),
    [({"min": 10}, [2, 3]), ({"max": 10}, [1, 2]), ({"min": 5, "max": 15}, [2])],
)
def test_range_filter_on_a_number_field(
    store: Store, find: Find, bounds: dict[str, float], expected: list[int]
) -> None:
    load(store, *[record(uid(n), custom_metadata={"sample_count": v}) for n, v in ((1, 2), (2, 10), (3, 40))])
    assert sorted(find({"filters": [{"key": "sample_count", "range": bounds}]})) == [uid(n) for n in expected]


def test_a_number_filter_value_beyond_64_bits_is_just_a_number(store: Store, find: Find) -> None:
    load(store, record(uid(1), custom_metadata={"sample_count": 10**30}))
    assert find({"filters": [{"key": "sample_count", "value": 10**30}]}) == [uid(1)]


def test_range_filter_on_a_date_field_takes_epoch_seconds(store: Store, find: Find) -> None:
    load(
        store,
        record(uid(1), custom_metadata={"acquisition_date": 1_600_000_000}),
        record(uid(2), custom_metadata={"acquisition_date": 1_700_000_000}),
    )
    assert find({"filters": [{"key": "acquisition_date", "range": {"min": 1_650_000_000.0}}]}) == [uid(2)]


def test_name_filter_matches_words_in_the_name(store: Store, find: Find) -> None:
    load(store, record(uid(1), name="Liver time course"), record(uid(2), name="Kidney"))
    assert find({"filters": [{"key": "name", "value": "time course"}]}) == [uid(1)]


@pytest.mark.parametrize(
    ("search_filter", "message"),
    [
        ({"key": "colour", "value": "red"}, "filters[0].key: unknown key 'colour'"),
        ({"key": "species", "range": {"min": 1}}, "filters[0].range: 'species' is not a number or date field"),
        ({"key": "sample_count", "value": "ten"}, "filters[0].value: 'sample_count' is a number field"),
        ({"key": "tags", "value": "a", "values": ["b"]}, "filters[0]: set exactly one of value, values or range"),
        ({"key": "tags"}, "filters[0]: set exactly one of value, values or range"),
        ({"key": "tags", "values": []}, "filters[0].values: must not be empty"),
        ({"key": "sample_count", "range": {}}, "filters[0].range: set min, max or both"),
        ({"key": "sample_count", "range": {"min": 5, "max": 1}}, "filters[0].range: min is greater than max"),
    ],
)
def test_malformed_filters_are_refused_with_the_field_named(search_filter: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidSearch) as caught:
        plan({"filters": [search_filter]})
    assert str(caught.value).startswith(message)


# --- who sees what ----------------------------------------------------------------------------------


@pytest.fixture
def shared_world(store: Store) -> Store:
    load(
        store,
        record(uid(1), owner_id=ALICE_ID),  # alice's, private
        record(uid(2), owner_id=ALICE_ID, shared_users={"bob@example.org": "viewer"}),
        record(uid(3), owner_id=BOB_ID, shared_users={"alice@example.org": "editor"}),
        record(uid(4), owner_id=BOB_ID, shared_groups={"genomics": "viewer"}),
        record(uid(5), owner_id=CAROL_ID),  # carol's, private: invisible to alice
        record(uid(6), owner_id=CAROL_ID, everyone="discoverable"),
        record(uid(7), owner_id=ALICE_ID, everyone="viewer"),
    )
    return store


def test_search_shows_only_what_the_caller_can_see(shared_world: Store, find: Find) -> None:
    assert sorted(find({})) == [uid(n) for n in (1, 2, 3, 4, 6, 7)]


def test_admins_see_everything(shared_world: Store, find: Find) -> None:
    assert len(find({}, ADMIN)) == 7


@pytest.mark.parametrize(
    ("ownership", "expected"),
    [("created", [1, 2, 7]), ("shared", [3, 4]), ("private", [1])],
)
def test_ownership_filter(shared_world: Store, find: Find, ownership: str, expected: list[int]) -> None:
    assert sorted(find({"ownership": ownership})) == [uid(n) for n in expected]


def test_type_and_origin_filters(store: Store, find: Find) -> None:
    load(
        store,
        record(uid(1), type="result"),
        record(uid(2), type="result", source_bucket={"origin": "aws", "bucket": "b", "external": True}),
        record(uid(3), type="dataset", source_bucket={"origin": "aws", "bucket": "b", "external": True}),
    )
    assert find({"type": "result", "origin": "external"}) == [uid(2)]
    assert find({"type": "result", "origin": "internal"}) == [uid(1)]


def test_favorite_filter_is_per_user(store: Store, find: Find) -> None:
    load(
        store,
        record(uid(1), favorited_by={ALICE_ID}, everyone="viewer"),
        record(uid(2), favorited_by={BOB_ID}, everyone="viewer"),
    )
    assert find({"favorite": True}) == [uid(1)]
    assert find({"favorite": True}, BOB) == [uid(2)]


@pytest.mark.parametrize(("archived", "expected"), [(None, [1]), (False, [1]), (True, [2])])
def test_archived_flag_selects_one_side(store: Store, find: Find, archived: bool | None, expected: list[int]) -> None:
    load(store, record(uid(1)), record(uid(2), archived=True))
    assert find({"archived": archived}) == [uid(n) for n in expected]


# --- order ------------------------------------------------------------------------------------------


def test_default_order_is_newest_first_and_sort_order_alone_is_ignored(store: Store, find: Find) -> None:
    load(store, record(uid(1), created=100), record(uid(2), created=300), record(uid(3), created=200))
    assert find({}) == [uid(2), uid(3), uid(1)]
    assert find({"sort_order": "asc"}) == [uid(2), uid(3), uid(1)]


def test_free_text_ranks_a_name_hit_above_a_description_hit_whatever_the_dates(store: Store, find: Find) -> None:
    load(
        store,
        record(uid(1), name="Ocelot survey", created=100),
        record(uid(2), name="camera traps", description="an ocelot was seen", created=900),
    )
    assert find({"query": "ocelot"}) == [uid(1), uid(2)]


def test_relevance_tiers_run_name_tags_description_then_custom_metadata(store: Store, find: Find) -> None:
    load(
        store,
        record(uid(1), custom_metadata={"project_code": "ocelot"}, created=900),
        record(uid(2), description="ocelot", created=800),
        record(uid(3), tags=["ocelot"], created=700),
        record(uid(4), name="ocelot", created=600),
    )
    assert find({"query": "ocelot"}) == [uid(4), uid(3), uid(2), uid(1)]


def test_relevance_with_a_field_term_ranks_by_the_free_words(store: Store, find: Find) -> None:
    load(
        store,
        record(uid(1), name="ocelot survey", created=100),
        record(uid(2), name="survey", description="ocelot", created=900),
        record(uid(3), name="census", description="ocelot", created=950),
    )
    assert find({"query": "ocelot name:survey"}) == [uid(1), uid(2)]


def test_every_term_in_the_name_ranks_above_some_terms_in_the_name(store: Store, find: Find) -> None:
    load(
        store,
        record(uid(1), name="Mouse V1 session", created=100),
        record(uid(2), name="Mouse S1 session", description="next to V1", created=900),
    )
    assert find({"query": "mouse v1"}) == [uid(1), uid(2)]


def test_within_a_relevance_tier_the_newest_comes_first(store: Store, find: Find) -> None:
    load(store, *[record(uid(n), name="ocelot", created=100 * n) for n in (2, 3, 1)])
    assert find({"query": "ocelot"}) == [uid(3), uid(2), uid(1)]


def test_a_query_of_field_terms_only_keeps_the_newest_first(store: Store, find: Find) -> None:
    load(store, record(uid(1), name="ocelot", created=100), record(uid(2), name="ocelot cub", created=900))
    assert find({"query": "name:ocelot"}) == [uid(2), uid(1)]


def test_a_sort_field_overrides_relevance(store: Store, find: Find) -> None:
    load(store, record(uid(1), name="ocelot", created=100), record(uid(2), description="ocelot", created=900))
    assert find({"query": "ocelot", "sort_field": "created"}) == [uid(2), uid(1)]


@pytest.fixture
def tiered(store: Store) -> list[str]:
    """Assets in every relevance tier of "ocelot cub", and the order relevance gives them."""
    load(
        store,
        *[record(uid(n), name="ocelot cub", created=1000 + n) for n in range(0, 4)],
        *[record(uid(n), name="ocelot", description="cub", created=1000 + n) for n in range(4, 9)],
        *[record(uid(n), tags=["ocelot", "cub"], created=1000 + n) for n in range(9, 16)],
        *[record(uid(n), description="ocelot and cub", created=1000 + n) for n in range(16, 19)],
        *[record(uid(n), custom_metadata={"project_code": "ocelot cub"}, created=1000 + n) for n in range(19, 23)],
        record(uid(99), name="unrelated"),
    )
    tiers = [range(0, 4), range(4, 9), range(9, 16), range(16, 19), range(19, 23)]
    return [uid(n) for tier in tiers for n in reversed(tier)]


def test_relevance_order_over_every_tier(tiered: list[str], find: Find) -> None:
    assert find({"query": "ocelot cub"}) == tiered


@pytest.mark.parametrize("limit", [1, 3, 4, 7])
def test_walking_tokens_in_relevance_order_gives_the_one_page_order(
    store: Store, tiered: list[str], limit: int
) -> None:
    seen: list[str] = []
    body: dict[str, Any] = {"query": "ocelot cub", "limit": limit}
    while True:
        result, compiled = page(store, body)
        seen += [r.id for r in result.records]
        if not result.has_more:
            break
        body["next_token"] = compiled.token_after(result.records[-1], result.last_tier)
    assert seen == tiered


@pytest.mark.parametrize("offset", [0, 2, 4, 9, 17, 22, 30])
def test_an_offset_in_relevance_order_skips_across_tiers(tiered: list[str], find: Find, offset: int) -> None:
    assert find({"query": "ocelot cub", "limit": 5, "offset": offset}) == tiered[offset : offset + 5]


@pytest.mark.parametrize("rows_per_match", [10**-9, 10**9])
def test_reading_matches_or_walking_the_index_finds_the_same_page(
    store: Store, tiered: list[str], find: Find, monkeypatch: pytest.MonkeyPatch, rows_per_match: float
) -> None:
    # Tiny: every tier is read from its matches. Huge: every tier walks the created index.
    monkeypatch.setattr(store_module, "_INDEX_ROWS_PER_MATCH", rows_per_match)
    assert find({"query": "ocelot cub", "limit": 9}) == tiered[:9]
    assert find({"query": "ocelot cub", "limit": 9, "offset": 6}) == tiered[6:15]


def test_relevance_pages_stay_consistent_while_assets_come_and_go(store: Store, tiered: list[str]) -> None:
    first, compiled = page(store, {"query": "ocelot cub", "limit": 6})
    store.insert_asset(record(uid(100), name="ocelot cub", created=5000))  # a new best match
    store.delete_asset(tiered[10])  # not yet seen
    token = compiled.token_after(first.records[-1], first.last_tier)
    rest: list[str] = []
    while token:
        result, compiled = page(store, {"query": "ocelot cub", "limit": 4, "next_token": token})
        rest += [r.id for r in result.records]
        token = compiled.token_after(result.records[-1], result.last_tier) if result.has_more else ""
    assert rest == [asset_id for asset_id in tiered[6:] if asset_id != tiered[10]]


def test_a_token_in_created_order_does_not_continue_a_relevance_search() -> None:
    token = plan({"query": "ocelot", "sort_field": "created"}).token_after(record(uid(1)))
    with pytest.raises(InvalidSearch, match="different search"):
        plan({"query": "ocelot", "next_token": token})


def test_sort_by_name_ignores_case(store: Store, find: Find) -> None:
    load(store, record(uid(1), name="banana"), record(uid(2), name="Apple"), record(uid(3), name="cherry"))
    assert find({"sort_field": "name", "sort_order": "asc"}) == [uid(2), uid(1), uid(3)]


def test_sort_field_without_order_is_descending(store: Store, find: Find) -> None:
    load(store, record(uid(1), size=5), record(uid(2), size=50), record(uid(3), size=None, files=None))
    assert find({"sort_field": "size"}) == [uid(2), uid(1), uid(3)]


def test_ties_are_broken_by_id(store: Store, find: Find) -> None:
    load(store, *[record(uid(n), created=100, type="result" if n % 2 else "model") for n in (3, 1, 4, 2)])
    assert find({"sort_field": "type", "sort_order": "asc"}) == [uid(2), uid(4), uid(1), uid(3)]


# --- pages ------------------------------------------------------------------------------------------


def test_default_limit_is_100(store: Store) -> None:
    load(store, *[record(uid(n)) for n in range(150)])
    result, _ = page(store, {})
    assert (len(result.records), result.has_more) == (100, True)


def test_walking_next_tokens_visits_every_row_once(store: Store) -> None:
    load(store, *[record(uid(n), created=1000 + n % 7) for n in range(53)])
    seen: list[str] = []
    body: dict[str, Any] = {"limit": 10, "sort_field": "created", "sort_order": "asc"}
    while True:
        result, compiled = page(store, body)
        seen += [r.id for r in result.records]
        if not result.has_more:
            break
        body["next_token"] = compiled.token_after(result.records[-1], result.last_tier)
    assert sorted(seen) == sorted(uid(n) for n in range(53))
    assert len(seen) == len(set(seen))


def test_pages_stay_consistent_while_assets_come_and_go(store: Store) -> None:
    load(store, *[record(uid(n), created=1000 + n) for n in range(30)])
    first, compiled = page(store, {"limit": 10})
    # Meanwhile: a new (newest) asset appears, one already seen and one not yet seen are deleted.
    store.insert_asset(record(uid(99), created=5000))
    store.delete_asset(first.records[3].id)
    unseen_victim = uid(5)
    store.delete_asset(unseen_victim)
    rest: list[str] = []
    token = compiled.token_after(first.records[-1], first.last_tier)
    while token:
        result, compiled = page(store, {"limit": 10, "next_token": token})
        rest += [r.id for r in result.records]
        token = compiled.token_after(result.records[-1], result.last_tier) if result.has_more else ""
    survivors_after_page_one = {uid(n) for n in range(20)} - {unseen_victim}
    assert set(rest) == survivors_after_page_one
    assert not set(rest) & {r.id for r in first.records}


def test_a_token_from_another_query_is_refused(store: Store) -> None:
    load(store, *[record(uid(n)) for n in range(5)])
    result, compiled = page(store, {"limit": 2, "query": "asset"})
    token = compiled.token_after(result.records[-1], result.last_tier)
    with pytest.raises(InvalidSearch, match="next_token: belongs to a different search"):
        plan({"limit": 2, "query": "other", "next_token": token})


def test_a_token_from_another_user_is_refused(store: Store) -> None:
    load(store, *[record(uid(n), everyone="viewer") for n in range(5)])
    result, compiled = page(store, {"limit": 2})
    with pytest.raises(InvalidSearch, match="different search"):
        plan({"limit": 2, "next_token": compiled.token_after(result.records[-1], result.last_tier)}, BOB)


@pytest.mark.parametrize("token", ["garbage", "e30.AAAA", "WzFd.xx", "a.b.c"])
def test_a_forged_or_garbled_token_is_refused(token: str) -> None:
    with pytest.raises(InvalidSearch, match="next_token: is not a token this server issued"):
        plan({"next_token": token})


def test_limit_may_change_between_pages(store: Store) -> None:
    load(store, *[record(uid(n), created=1000 + n) for n in range(10)])
    first, compiled = page(store, {"limit": 3})
    second, _ = page(store, {"limit": 5, "next_token": compiled.token_after(first.records[-1], first.last_tier)})
    assert [r.id for r in second.records] == [uid(n) for n in (6, 5, 4, 3, 2)]


def test_offset_is_ignored_when_a_token_is_given(store: Store) -> None:
    load(store, *[record(uid(n), created=1000 + n) for n in range(10)])
    first, compiled = page(store, {"limit": 3, "offset": 0})
    # The SDK's iterator resends the first page's offset along with the token.
    second, _ = page(
        store, {"limit": 3, "offset": 5, "next_token": compiled.token_after(first.records[-1], first.last_tier)}
    )
    assert [r.id for r in second.records] == [uid(6), uid(5), uid(4)]


def test_an_empty_token_means_the_first_page(store: Store, find: Find) -> None:
    load(store, *[record(uid(n), created=1000 + n) for n in range(3)])
    assert find({"limit": 1, "next_token": ""}) == [uid(2)]


@pytest.mark.parametrize("key", ["offset", "from"])
def test_offset_and_its_legacy_name_skip_rows(store: Store, find: Find, key: str) -> None:
    load(store, *[record(uid(n), created=1000 + n) for n in range(10)])
    assert find({"limit": 2, key: 3}) == [uid(6), uid(5)]
