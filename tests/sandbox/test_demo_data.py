"""Demo users, the custom-metadata schema and generated assets: deterministic, consistent, realistic."""

from __future__ import annotations

import re
import time
from collections import Counter
from typing import Any

import pytest

from co_mcp.sandbox import demo_data
from co_mcp.sandbox.demo_data import (
    ANCHOR_IDS,
    CUSTOM_METADATA_SCHEMA,
    DEFAULT_USERS,
    DEMO_BOB_COMPUTATION_ID,
    DEMO_CLOUD_WORKSTATION_ID,
    DEMO_COMBINED_ID,
    DEMO_COMPUTATION_ID,
    DEMO_DATASET_ID,
    DEMO_DRAFT_ID,
    DEMO_EXTERNAL_ID,
    DEMO_FAILED_COMPUTATION_ID,
    DEMO_PIPELINE_COMPUTATION_ID,
    DEMO_PRIVATE_ID,
    DEMO_RESULT_ID,
    DEMO_SHARED_ID,
    KNOWN_GROUPS,
    DemoData,
    generate,
    with_primary_token,
)
from co_mcp.sandbox.files import tree_for
from co_mcp.sandbox.records import AssetRecord, UserRecord

NOW = 1_750_000_000
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
USERS_BY_ID = {user.id: user for user in DEFAULT_USERS if user.scope == "write"}
EMAILS = {user.email for user in DEFAULT_USERS}


@pytest.fixture(scope="module")
def demo() -> DemoData:
    return generate(2000, seed=3, now=NOW)


@pytest.fixture(scope="module")
def by_id(demo: DemoData) -> dict[str, AssetRecord]:
    return {asset.id: asset for asset in demo.assets}


def can_see(asset: AssetRecord, user: UserRecord) -> bool:
    return (
        asset.owner_id == user.id
        or user.email in asset.shared_users
        or any(group in asset.shared_groups and asset.shared_groups[group] != "discoverable" for group in user.groups)
        or asset.everyone == "viewer"
    )


# --- users ---------------------------------------------------------------------------------------------


def test_every_token_is_unique() -> None:
    tokens = [user.token for user in DEFAULT_USERS]
    assert len(tokens) == len(set(tokens))


def test_the_read_only_token_is_alice_with_read_scope() -> None:
    alice, readonly = (user for user in DEFAULT_USERS if user.email == "alice@example.org")
    assert (alice.token, alice.scope) == ("cop_sandbox_token", "write")
    assert (readonly.token, readonly.scope) == ("cop_sandbox_readonly", "read")
    assert (readonly.id, readonly.name, readonly.groups) == (alice.id, alice.name, alice.groups)


def test_only_the_admin_is_an_admin() -> None:
    assert [user.email for user in DEFAULT_USERS if user.admin] == ["admin@example.org"]


def test_user_groups_are_known_groups() -> None:
    assert all(set(user.groups) <= set(KNOWN_GROUPS) for user in DEFAULT_USERS)


def test_with_primary_token_replaces_only_alices_write_token() -> None:
    users = with_primary_token(DEFAULT_USERS, "cop_my_token")
    assert [user.token for user in users] == ["cop_my_token", *(user.token for user in DEFAULT_USERS[1:])]


def test_with_primary_token_needs_a_writer() -> None:
    readers = tuple(user for user in DEFAULT_USERS if user.scope == "read")
    with pytest.raises(ValueError, match="write-scope"):
        with_primary_token(readers, "x")


# --- custom metadata schema ----------------------------------------------------------------------------


def test_the_schema_covers_every_field_kind() -> None:
    fields = CUSTOM_METADATA_SCHEMA["fields"]
    assert 6 <= len(fields) <= 8
    assert {field["type"] for field in fields} == {"string", "number", "date"}
    assert any("allowed_values" in field for field in fields)
    assert any(field["type"] == "string" and "allowed_values" not in field for field in fields)
    assert any("range" in field and "units" in field for field in fields)
    assert any(field.get("multiple") for field in fields)
    assert any(field.get("required") for field in fields)


def test_every_field_category_is_listed() -> None:
    categories = {field["category"] for field in CUSTOM_METADATA_SCHEMA["fields"]}
    assert categories == set(CUSTOM_METADATA_SCHEMA["categories"])


def conforms(metadata: dict[str, Any]) -> list[str]:
    problems = []
    fields = {field["name"]: field for field in CUSTOM_METADATA_SCHEMA["fields"]}
    for name, field in fields.items():
        if field.get("required") and name not in metadata:
            problems.append(f"missing {name}")
    for key, value in metadata.items():
        field = fields.get(key)
        if field is None:
            problems.append(f"unknown {key}")
            continue
        values = value if field.get("multiple") else [value]
        if field.get("multiple") and not isinstance(value, list):
            problems.append(f"{key} should be a list")
        for item in values:
            if field["type"] == "string" and not isinstance(item, str):
                problems.append(f"{key} not a string")
            if field["type"] in ("number", "date") and not isinstance(item, int | float):
                problems.append(f"{key} not a number")
            if "allowed_values" in field and item not in field["allowed_values"]:
                problems.append(f"{key}={item!r} not allowed")
            bounds = field.get("range", {})
            if ("min" in bounds and item < bounds["min"]) or ("max" in bounds and item > bounds["max"]):
                problems.append(f"{key}={item} out of range")
    return problems


def test_generated_metadata_conforms_to_the_schema(demo: DemoData) -> None:
    problems = {
        asset.id: conforms(asset.custom_metadata)
        for asset in demo.assets
        if asset.custom_metadata is not None and conforms(asset.custom_metadata)
    }
    assert problems == {}


# --- generation ----------------------------------------------------------------------------------------


def test_generation_is_deterministic_for_a_seed() -> None:
    assert generate(150, seed=9, now=NOW) == generate(150, seed=9, now=NOW)


def test_different_seeds_give_different_assets() -> None:
    one, two = generate(150, seed=1, now=NOW), generate(150, seed=2, now=NOW)
    assert [a.name for a in one.assets] != [a.name for a in two.assets]


@pytest.mark.parametrize("count", [0, 1, 5, 11, 12, 200])
def test_exactly_n_assets_are_generated(count: int) -> None:
    assert len(generate(count, now=NOW).assets) == count


def test_a_negative_count_is_refused() -> None:
    with pytest.raises(ValueError, match="n must be"):
        generate(-1, now=NOW)


def test_ids_are_unique_lowercase_uuids(demo: DemoData) -> None:
    ids = [asset.id for asset in demo.assets] + [computation.id for computation in demo.computations]
    assert len(ids) == len(set(ids))
    assert all(UUID.match(identifier) for identifier in ids)


def test_the_anchors_come_first_with_fixed_ids_whatever_the_seed() -> None:
    for seed in (0, 5):
        assert [asset.id for asset in generate(30, seed=seed, now=NOW).assets[: len(ANCHOR_IDS)]] == list(ANCHOR_IDS)


def test_the_anchors_are_what_their_names_promise(by_id: dict[str, AssetRecord]) -> None:
    alice = demo_data.ALICE_ID
    assert by_id[DEMO_DATASET_ID].name == "scRNA-seq PBMC 10k donors batch 3"
    assert (by_id[DEMO_DATASET_ID].owner_id, by_id[DEMO_DATASET_ID].state) == (alice, "ready")
    assert by_id[DEMO_RESULT_ID].provenance is not None
    assert by_id[DEMO_RESULT_ID].provenance["data_assets"] == [DEMO_DATASET_ID]
    assert by_id[DEMO_EXTERNAL_ID].source_bucket == {
        "origin": "aws",
        "bucket": "allen-brain-observatory",
        "prefix": "visual-coding-2p",
        "external": True,
    }
    assert by_id[DEMO_SHARED_ID].owner_id == demo_data.BOB_ID
    assert by_id[DEMO_SHARED_ID].shared_users["alice@example.org"] == "editor"
    assert by_id[DEMO_DRAFT_ID].settles_at == NOW + 30
    assert not can_see(by_id[DEMO_PRIVATE_ID], USERS_BY_ID[alice])


def test_a_single_user_cast_owns_everything_and_shares_with_no_one() -> None:
    alice = DEFAULT_USERS[0]
    demo = generate(100, users=[alice], now=NOW)
    assert {asset.owner_id for asset in demo.assets} == {alice.id}
    assert not any(asset.shared_users for asset in demo.assets)


def test_owners_are_non_admin_users(demo: DemoData) -> None:
    owners = Counter(asset.owner_id for asset in demo.assets)
    assert set(owners) == {demo_data.ALICE_ID, demo_data.BOB_ID, demo_data.CAROL_ID}
    assert owners[demo_data.ALICE_ID] > len(demo.assets) / 2
    assert min(owners.values()) > len(demo.assets) / 6


def test_assets_are_shared_with_other_known_users_only(demo: DemoData) -> None:
    for asset in demo.assets:
        owner_email = USERS_BY_ID[asset.owner_id].email
        assert set(asset.shared_users) <= EMAILS - {owner_email}
        assert set(asset.shared_groups) <= set(KNOWN_GROUPS)


def test_sharing_takes_every_form(demo: DemoData) -> None:
    assert any(asset.shared_users for asset in demo.assets)
    assert any(asset.shared_groups for asset in demo.assets)
    assert {asset.everyone for asset in demo.assets} == {"viewer", "discoverable", "none"}
    assert any(asset.share_assets for asset in demo.assets)


def test_favourites_belong_to_users_who_can_see_the_asset(demo: DemoData) -> None:
    favourites = [(asset, uid) for asset in demo.assets for uid in asset.favorited_by]
    assert favourites
    assert all(can_see(asset, USERS_BY_ID[uid]) for asset, uid in favourites)


def test_results_point_at_a_generated_computation_of_their_owner(demo: DemoData) -> None:
    computations = {computation.id: computation for computation in demo.computations}
    results = [asset for asset in demo.assets if asset.type == "result"]
    assert results
    for asset in results:
        assert asset.provenance is not None
        computation = computations[asset.provenance["computation"]]
        assert computation.owner_id == asset.owner_id
        assert computation.created < asset.created
        assert re.fullmatch(r"[0-9a-f]{40}", asset.provenance["commit"])


def test_every_result_lists_the_inputs_of_its_run(demo: DemoData) -> None:
    computations = {computation.id: computation for computation in demo.computations}
    results = [asset for asset in demo.assets if asset.type == "result" and asset.provenance]
    assert sum(1 for asset in results if asset.provenance and asset.provenance["data_assets"]) > len(results) / 2
    for asset in results:
        assert asset.provenance is not None
        computation = computations[asset.provenance["computation"]]
        assert asset.provenance["data_assets"] == list(computation.data_assets)


def test_a_runs_inputs_are_older_assets_its_owner_can_see(demo: DemoData, by_id: dict[str, AssetRecord]) -> None:
    runs = [computation for computation in demo.computations if computation.data_assets]
    assert len(runs) > 10
    for computation in runs:
        for asset_id in computation.data_assets:
            asset = by_id[asset_id]
            assert asset.created < computation.created
            assert can_see(asset, USERS_BY_ID[computation.owner_id]) or USERS_BY_ID[computation.owner_id].admin


def test_the_named_runs_have_inputs_attached() -> None:
    computations = {computation.id: computation for computation in generate(20, now=NOW).computations}
    assert computations[DEMO_COMPUTATION_ID].data_assets == (DEMO_DATASET_ID, demo_data.DEMO_RELEASE_ID)
    assert computations[DEMO_CLOUD_WORKSTATION_ID].data_assets == (DEMO_SHARED_ID,)


def test_a_small_demo_attaches_only_assets_it_generated() -> None:
    demo = generate(1, now=NOW)
    generated = {asset.id for asset in demo.assets}
    assert all(set(computation.data_assets) <= generated for computation in demo.computations)


def test_combined_assets_hold_two_or_more_members_with_different_mounts(
    demo: DemoData, by_id: dict[str, AssetRecord]
) -> None:
    combined = [asset for asset in demo.assets if asset.type == "combined"]
    assert combined
    for asset in combined:
        mounts = [member["mount"] for member in asset.contained_data_assets or []]
        assert len(mounts) >= 2
        assert len(set(mounts)) == len(mounts)
        assert all(by_id[member["id"]].mount == member["mount"] for member in asset.contained_data_assets or [])


def test_capsule_results_name_their_capsule_script_and_image(demo: DemoData) -> None:
    capsule_results = [a for a in demo.assets if a.provenance and "capsule" in a.provenance]
    assert capsule_results
    for asset in capsule_results:
        assert asset.provenance is not None
        assert asset.provenance["run_script"].startswith("code/")
        assert asset.provenance["docker_image"].startswith("codeocean/")


def test_some_results_carry_parameters_or_a_nextflow_profile(demo: DemoData) -> None:
    assert any(asset.app_parameters for asset in demo.assets)
    assert any(asset.nextflow_profile for asset in demo.assets)


def test_inputs_and_contained_assets_exist_and_are_older(by_id: dict[str, AssetRecord], demo: DemoData) -> None:
    for asset in demo.assets:
        referenced = list(asset.provenance["data_assets"]) if asset.provenance else []
        referenced += [part["id"] for part in asset.contained_data_assets or []]
        for other in referenced:
            assert by_id[other].created <= asset.created or asset.state == "draft"


def test_a_combined_asset_sums_its_parts(by_id: dict[str, AssetRecord], demo: DemoData) -> None:
    combined = [asset for asset in demo.assets if asset.type == "combined" and asset.state != "failed"]
    assert combined
    for asset in combined:
        parts = asset.contained_data_assets or []
        assert len(parts) >= 2
        assert asset.size == sum(part["size"] for part in parts)
        assert all(part["mount"] == by_id[part["id"]].mount for part in parts)


def test_drafts_settle_soon_after_now(demo: DemoData) -> None:
    drafts = [asset for asset in demo.assets if asset.state == "draft"]
    assert drafts
    assert all(asset.settles_at is not None and NOW < asset.settles_at <= NOW + 120 for asset in drafts)
    assert any(asset.settle_failure_reason for asset in drafts)


def test_failed_assets_say_why(demo: DemoData) -> None:
    failed = [asset for asset in demo.assets if asset.state == "failed"]
    assert failed
    assert all(asset.failure_reason and asset.size is None for asset in failed)


def test_timestamps_fall_in_the_three_years_before_now(demo: DemoData) -> None:
    for asset in demo.assets:
        assert NOW - 3 * 365 * 86400 <= asset.created <= NOW
        assert asset.last_used == 0 or asset.created <= asset.last_used <= NOW


def test_the_mix_of_types_states_and_origins_is_realistic(demo: DemoData) -> None:
    types = Counter(asset.type for asset in demo.assets)
    assert types["dataset"] > types["result"] > types["combined"] > 0
    assert types["model"] > 0
    states = Counter(asset.state for asset in demo.assets)
    assert states["ready"] > 0.9 * len(demo.assets)
    origins = Counter((asset.source_bucket or {}).get("origin") for asset in demo.assets)
    assert {"local", "aws", "gcp"} <= set(origins)
    assert any((asset.source_bucket or {}).get("external") for asset in demo.assets)
    assert sum(asset.archived for asset in demo.assets) > 0
    assert sum(asset.used_by_release_pipelines for asset in demo.assets) > 0


def test_tags_and_descriptions_vary(demo: DemoData) -> None:
    assert max(len(asset.tags) for asset in demo.assets) >= 15
    descriptions = [asset.description for asset in demo.assets]
    assert None in descriptions
    assert "" in descriptions
    assert any(description and "\n\n" in description for description in descriptions)


def test_sizes_run_from_kilobytes_to_terabytes(demo: DemoData) -> None:
    sizes = [asset.size for asset in demo.assets if asset.size]
    assert min(sizes) < 10**7
    assert max(sizes) > 10**12


def test_the_named_computations_are_always_there() -> None:
    computations = {computation.id: computation for computation in generate(0, now=NOW).computations}
    assert computations[DEMO_COMPUTATION_ID].state == "completed"
    assert computations[DEMO_COMPUTATION_ID].run_script == "code/run.sh"
    assert computations[DEMO_FAILED_COMPUTATION_ID].state == "failed"
    assert computations[DEMO_CLOUD_WORKSTATION_ID].kind == "cloud_workstation"
    assert computations[DEMO_PIPELINE_COMPUTATION_ID].nextflow_profile == "docker"
    assert computations[DEMO_BOB_COMPUTATION_ID].owner_id == demo_data.BOB_ID
    assert len(computations) == 10


def test_a_combined_anchor_holds_the_dataset_and_the_shared_session(by_id: dict[str, AssetRecord]) -> None:
    parts = by_id[DEMO_COMBINED_ID].contained_data_assets or []
    assert [part["id"] for part in parts] == [DEMO_DATASET_ID, DEMO_SHARED_ID]


# --- the demo agrees with itself ----------------------------------------------------------------------

# Words in a name or description that fix the species; and the reference genome of each species.
SPECIES_WORDS = {
    r"\b(?:mouse|mice)\b": "Mus musculus",
    r"\b(?:human|donors)\b": "Homo sapiens",
    r"\bmacaques?\b": "Macaca mulatta",
    r"\bzebrafish\b": "Danio rerio",
    r"\bfly\b": "Drosophila melanogaster",
}
GENOMES = {
    "GRCh38": "Homo sapiens",
    "GRCm39": "Mus musculus",
    "Mmul_10": "Macaca mulatta",
    "GRCz11": "Danio rerio",
    "BDGP6": "Drosophila melanogaster",
}


def species_of(asset: AssetRecord) -> str | None:
    return (asset.custom_metadata or {}).get("species")


def test_a_species_in_the_name_is_the_species_in_the_metadata(demo: DemoData) -> None:
    checked = 0
    for asset in demo.assets:
        for pattern, species in SPECIES_WORDS.items():
            if re.search(pattern, asset.name, re.IGNORECASE) and species_of(asset):
                assert species_of(asset) == species, asset.name
                checked += 1
    assert checked > 100


def test_a_reference_genome_in_the_description_is_the_species_one(demo: DemoData) -> None:
    checked = 0
    for asset in demo.assets:
        for genome, species in GENOMES.items():
            if genome in (asset.description or "") and species_of(asset):
                assert species_of(asset) == species, (asset.name, asset.description)
                checked += 1
    assert checked > 20


def test_consent_is_for_people_and_animal_protocols_for_animals(demo: DemoData) -> None:
    for asset in demo.assets:
        description = asset.description or ""
        if "informed consent" in description and species_of(asset):
            assert species_of(asset) == "Homo sapiens", asset.name
        if "animal protocol" in description:
            assert species_of(asset) in (None, "Mus musculus", "Macaca mulatta", "Danio rerio"), asset.name
            assert "IACUC-" in description


def test_no_description_says_the_same_sentence_twice(demo: DemoData) -> None:
    for asset in demo.assets:
        sentences = [s for s in re.split(r"(?<=\.)\s+", asset.description or "") if s]
        assert len(sentences) == len(set(sentences)), asset.description


def test_the_modality_is_the_one_the_name_says(demo: DemoData) -> None:
    names = {"ChIP-seq": "ChIP-seq", "ATAC-seq": "ATAC-seq", "WGS ": "whole-genome sequencing"}
    for asset in demo.assets:
        modality = (asset.custom_metadata or {}).get("modality")
        for word, expected in names.items():
            if word in asset.name and modality not in (None, "derived"):
                assert modality == expected, asset.name


def test_a_result_shares_the_species_of_its_inputs(demo: DemoData, by_id: dict[str, AssetRecord]) -> None:
    checked = 0
    for asset in demo.assets:
        inputs = (asset.provenance or {}).get("data_assets") or [m["id"] for m in asset.contained_data_assets or []]
        for input_id in inputs:
            if species_of(asset) and species_of(by_id[input_id]):
                assert species_of(asset) == species_of(by_id[input_id]), (asset.name, by_id[input_id].name)
                checked += 1
    assert checked > 50


def test_tags_that_exclude_one_another_never_meet(demo: DemoData) -> None:
    groups = [("published", "preprint", "embargoed"), ("public", "internal", "embargoed"), ("v1", "v2")]
    for asset in demo.assets:
        assert all(len(set(group) & set(asset.tags)) <= 1 for group in groups), asset.tags


def test_a_year_tag_is_the_year_the_asset_was_made(demo: DemoData) -> None:
    years = [(asset, tag) for asset in demo.assets for tag in asset.tags if re.fullmatch(r"20\d\d", tag)]
    assert years
    assert all(time.gmtime(asset.created).tm_year == int(tag) for asset, tag in years if asset.state != "draft")


def test_a_failure_names_where_the_files_came_from(demo: DemoData) -> None:
    failures = [a for a in demo.assets if a.failure_reason and (a.source_bucket or {}).get("origin") in ("aws", "gcp")]
    assert failures
    for asset in failures:
        assert asset.source_bucket is not None
        reason = asset.failure_reason or ""
        if "://" in reason:
            scheme = "s3" if asset.source_bucket["origin"] == "aws" else "gs"
            assert f"{scheme}://{asset.source_bucket['bucket']}/" in reason


def test_a_file_a_description_names_is_in_the_asset(demo: DemoData, by_id: dict[str, AssetRecord]) -> None:
    checked = 0
    for asset in demo.assets:
        named = re.findall(r"\b(README|summary\.json|metrics\.csv)\b", asset.description or "")
        if named and asset.state == "ready" and asset.type != "combined":
            tree = tree_for(asset, by_id.get)
            root = {item["name"] for item in tree.list("")}
            assert all((name + ".md" if name == "README" else name) in root for name in named), asset.name
            checked += 1
    assert checked > 20


def test_the_named_anchors_agree_with_themselves(by_id: dict[str, AssetRecord]) -> None:
    for asset_id in ANCHOR_IDS:
        asset = by_id[asset_id]
        for pattern, species in SPECIES_WORDS.items():
            if re.search(pattern, f"{asset.name} {' '.join(asset.tags)}", re.IGNORECASE) and species_of(asset):
                assert species_of(asset) == species, asset.name


@pytest.mark.slow
@pytest.mark.bench  # the benchmark's size; how long it takes is bench/bench_sandbox.py's "build" figure
def test_a_hundred_thousand_assets_have_distinct_ids() -> None:
    demo = generate(100_000, now=NOW)
    assert len({asset.id for asset in demo.assets}) == 100_000
