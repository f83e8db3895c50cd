"""Fuzzing every tool through the real MCP protocol, in both eras, against the sandbox.

Arguments come from each tool's published ``inputSchema`` (``tools/list``): valid ones drawn by
hypothesis-jsonschema, invalid ones made by mutating them (wrong types, missing required keys, unknown
keys, numbers out of range, strings and lists outside their bounds, ids that are not UUIDs), and a
hand-written list of nasty cases (path traversal, 1 MB strings, deep nesting: 180 levels as
structure, 1,000 as JSON text, since no JSON client or transport carries 1,000 levels of structure;
control and bidirectional characters, NUL bytes, NaN-like strings, enormous numbers, forged
confirmation tokens), plus hostile resource URIs, completion values and prompt arguments.

Each call is judged three ways: by the published schema (with a UUID format check), by the tool's own
argument model, and by what happened: the result, the sandbox's request log, and ERROR log records.

Figures (printed as ``FIGURE fuzz.*``):

* ``internal_errors``, ``protocol_exceptions``, ``hangs``, ``error_logs``: must be 0.
* ``invalid``: inputs the server must refuse (schema-invalid after the documented leniencies, or
  refused by the tool's model); ``invalid_refused`` / ``invalid_field_named`` / ``invalid_reached_sandbox``
  say how they were handled (all refused, all naming the field, none reaching the sandbox).
* ``lenient``: schema-invalid spellings accepted on purpose because they mean one valid value: a single
  id for a list of ids, ``null`` for an omitted optional argument, another spelling of a UUID.
* ``invalid_accepted``: schema-invalid inputs that validation let through anyway (must be 0).
* ``destructive_requests``: archive, delete, permission changes and transfers that reached the
  sandbox; no call carries a valid confirmation, so this must be 0.
* ``valid_rejected``: inputs both the schema and the tool's model accept, refused by the server.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import random
import re
import time
import typing
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import Any

import anyio
import jsonschema
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import INTERNAL_ERROR, CallToolResult, ResourceTemplateReference, TextContent
from pydantic import BaseModel, ValidationError

from co_mcp.audit import AuditLog
from co_mcp.confirm import TokenSigner
from co_mcp.sandbox import Sandbox
from co_mcp.sandbox.demo_data import DEMO_COMPUTATION_ID
from co_mcp.server import ServerOptions, build_server, tool_specs
from tests.conftest import SECRET, client_for
from tests.reliability.figures import FULL, emit

pytestmark = [pytest.mark.anyio, pytest.mark.reliability]

# Full run: about 3,500 calls per era (>= 5,000 in all); default run: about 120 per era.
VALID_PER_TOOL = 110 if FULL else 3
NASTY_STRIDE = 1 if FULL else 6  # the default run sends every sixth nasty case
CALL_DEADLINE = 30.0
SEED = 20261125
MEGABYTE = "A" * 1_000_000
DESTRUCTIVE = {"delete", "set_permissions", "transfer"}
GUARDED = {"archive_data_asset", "delete_data_asset", "share_data_asset", "transfer_data_asset"}
ARG_MODELS: dict[str, type[BaseModel]] = {spec.name: spec.args for spec in tool_specs()}


# --- the published schemas and what they say ---------------------------------------------------------


_SCHEMAS: dict[str, dict[str, Any]] = {}


async def load_schemas(client: Client) -> None:
    """Every tool's inputSchema as tools/list publishes it (the same in both eras)."""
    listed = {tool.name: tool.input_schema for tool in (await client.list_tools()).tools}
    assert not _SCHEMAS or listed == _SCHEMAS, "the eras publish different schemas"
    _SCHEMAS.update(listed)


def published_schemas() -> dict[str, dict[str, Any]]:
    assert _SCHEMAS, "load_schemas first"
    return _SCHEMAS


@cache
def validator(tool: str) -> jsonschema.protocols.Validator:
    schema = published_schemas()[tool]
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def schema_valid(tool: str, arguments: Any) -> bool:
    return bool(validator(tool).is_valid(arguments))


def model_valid(tool: str, arguments: Any) -> bool:
    try:
        ARG_MODELS[tool].model_validate(arguments)
    except ValidationError:
        return False
    return True


def resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        name = str(node["$ref"]).rsplit("/", 1)[-1]
        node = {**root["$defs"][name], **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def branch_for(node: dict[str, Any], value: Any, root: dict[str, Any]) -> dict[str, Any]:
    """The ``oneOf``/``anyOf`` branch a value belongs to (by its ``kind`` const), else the node itself."""
    node = resolve(node, root)
    branches = node.get("oneOf") or node.get("anyOf")
    if not branches:
        return node
    resolved = [resolve(b, root) for b in branches]
    if isinstance(value, dict):
        for branch in resolved:
            kind = branch.get("properties", {}).get("kind", {}).get("const")
            if kind is not None and value.get("kind") == kind:
                return branch
    return next((b for b in resolved if b.get("type") == "object"), resolved[0])


# --- valid arguments, drawn from the schema ------------------------------------------------------------


@cache
def id_pools() -> tuple[list[str], list[str]]:
    """Real asset ids (settled, so a wait returns at once) and computation ids, for half the UUIDs drawn."""
    sandbox = Sandbox(assets=40, seed=7)
    assets = [r.id for r in sandbox.store.all_assets() if r.state != "draft"]
    return assets, [DEMO_COMPUTATION_ID]


@cache
def drawn(tool: str, count: int) -> tuple[str, ...]:
    """``count`` schema-valid argument sets for a tool, as JSON text (deterministic)."""
    assets, computations = id_pools()
    uuids = st.one_of(st.sampled_from(assets + computations), st.uuids().map(str))
    # from_schema rewrites the schema it is given: give it a copy.
    strategy = from_schema(copy.deepcopy(published_schemas()[tool]), custom_formats={"uuid": uuids})
    found: list[str] = []

    @settings(
        max_examples=count,
        database=None,
        derandomize=True,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(value: Any) -> None:
        found.append(json.dumps(value))

    collect()
    return tuple(found[:count])


# --- invalid arguments: mutations of valid ones ---------------------------------------------------------


@dataclass(frozen=True)
class Case:
    tool: str
    arguments: Any
    kind: str  # valid, a mutation's name, or nasty:<what>
    field: str | None = None  # the field a refusal must name, when known


@dataclass(frozen=True)
class Site:
    """A property of an object inside the arguments: where a mutation can strike."""

    container: dict[str, Any]
    key: str
    schema: dict[str, Any]
    parent: dict[str, Any]  # the object's own schema (required, additionalProperties)


def sites(value: Any, node: dict[str, Any], root: dict[str, Any]) -> Iterator[Site]:
    node = branch_for(node, value, root)
    if isinstance(value, dict):
        props = node.get("properties", {})
        for key in list(value):
            if key in props:
                yield Site(value, key, resolve(props[key], root), node)
                yield from sites(value[key], props[key], root)
    elif isinstance(value, list) and isinstance(node.get("items"), dict):
        for item in value[:3]:
            yield from sites(item, node["items"], root)


def objects(value: Any, node: dict[str, Any], root: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    node = branch_for(node, value, root)
    if isinstance(value, dict) and "properties" in node:
        yield value, node
        for key, sub in node["properties"].items():
            if key in value:
                yield from objects(value[key], sub, root)
    elif isinstance(value, list) and isinstance(node.get("items"), dict):
        for item in value[:3]:
            yield from objects(item, node["items"], root)


WRONG_VALUES: list[Any] = [123, -1.5, True, "text", "", [], {}, [1, "a"], {"a": 1}, "5", "NaN", "true", 1e300]
BAD_IDS = [
    "../capsules/abc",
    "..%2F..%2Fcapsules",
    "/etc/passwd",
    "da7a0001-2b3c-4d5e-8f60-a1b2c3d40010/../../capsules",
    "00000000-0000-0000-0000-00000000000",
    "00000000-0000-0000-0000-0000000000000",
    "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz",
    "da7a0001-2b3c-4d5e-8f60-a1b2c3d40010\x00",
    "da7a0001-2b3c-4d5e-8f60-a1b2c3d40010\n",
    "da7a0001\u202e-2b3c-4d5e-8f60-a1b2c3d40010",
    "",
    " ",
    "null",
    "NaN",
]


def mutations(tool: str, arguments: dict[str, Any], rng: random.Random) -> Iterator[Case]:
    """Invalid variants of valid arguments, each with the field its refusal must name."""
    root = published_schemas()[tool]

    def variant(change: Callable[[dict[str, Any]], str | None], kind: str) -> Case | None:
        mutated = copy.deepcopy(arguments)
        name = change(mutated)
        if name is None:
            return None
        return Case(tool, mutated, kind, name)

    def pick_site(mutated: dict[str, Any], want: Callable[[Site], bool]) -> Site | None:
        found = [s for s in sites(mutated, root, root) if want(s)]
        return rng.choice(found) if found else None

    def wrong_type(mutated: dict[str, Any]) -> str | None:
        site = pick_site(mutated, lambda s: True)
        if site is None:
            return None
        for candidate in rng.sample(WRONG_VALUES, len(WRONG_VALUES)):
            site.container[site.key] = candidate
            if not schema_valid(tool, mutated):
                return site.key
        return None

    def out_of_range(mutated: dict[str, Any]) -> str | None:
        site = pick_site(mutated, lambda s: "minimum" in s.schema or "maximum" in s.schema)
        if site is None:
            return None
        low, high = site.schema.get("minimum"), site.schema.get("maximum")
        choices = [10**30, -(10**30), 2**63, -1]
        choices += [low - 1] if low is not None else []
        choices += [high + 1] if high is not None else []
        site.container[site.key] = rng.choice(choices)
        return site.key if not schema_valid(tool, mutated) else None

    def bad_enum(mutated: dict[str, Any]) -> str | None:
        site = pick_site(mutated, lambda s: "enum" in s.schema or "const" in s.schema)
        if site is None:
            return None
        allowed = site.schema.get("enum") or [site.schema.get("const")]
        site.container[site.key] = rng.choice([str(allowed[0]).upper() + "X", "", "null", "*"])
        return site.key

    def bounds(mutated: dict[str, Any]) -> str | None:
        site = pick_site(
            mutated, lambda s: any(k in s.schema for k in ("minLength", "maxLength", "minItems", "maxItems"))
        )
        if site is None:
            return None
        node, value = site.schema, site.container[site.key]
        if "maxLength" in node and rng.random() < 0.6:
            site.container[site.key] = "x" * (node["maxLength"] + 1)
        elif node.get("minLength", 0) > 0:
            site.container[site.key] = ""
        elif "maxItems" in node and isinstance(value, list) and value:
            site.container[site.key] = (value * (node["maxItems"] + 1))[: node["maxItems"] + 1]
        elif node.get("minItems", 0) > 0:
            site.container[site.key] = []
        else:
            return None
        return site.key if not schema_valid(tool, mutated) else None

    def bad_id(mutated: dict[str, Any]) -> str | None:
        def is_id(site: Site) -> bool:
            items = site.schema.get("items")
            return site.schema.get("format") == "uuid" or (isinstance(items, dict) and items.get("format") == "uuid")

        site = pick_site(mutated, is_id)
        if site is None:
            return None
        bad = rng.choice(BAD_IDS)
        value = site.container[site.key]
        site.container[site.key] = [*value[:-1], bad] if isinstance(value, list) and value else bad
        return site.key if not schema_valid(tool, mutated) else None

    def missing(mutated: dict[str, Any]) -> str | None:
        found = [(obj, key) for obj, node in objects(mutated, root, root) for key in node.get("required", [])]
        if not found:
            return None
        obj, key = rng.choice(found)
        del obj[key]
        return str(key)

    def extra(mutated: dict[str, Any]) -> str | None:
        name = rng.choice(["zz_extra", "__proto__", "constructor", "confirm", "dataAssetId", "Authorization"])
        if rng.random() < 0.7:
            mutated[name] = rng.choice([1, "x", None, {"a": [1]}])
            return name
        inner = [obj for obj, _ in objects(mutated, root, root) if obj is not mutated]
        if not inner:
            return None
        rng.choice(inner)[name] = "x"
        return name  # schema-valid (nested objects publish no additionalProperties), refused by the model

    changes: list[tuple[Callable[[dict[str, Any]], str | None], str]] = [
        (wrong_type, "wrong_type"),
        (out_of_range, "out_of_range"),
        (bad_enum, "bad_enum"),
        (bounds, "bounds"),
        (bad_id, "bad_id"),
        (missing, "missing_required"),
        (extra, "extra_key"),
    ]
    rng.shuffle(changes)
    for change, kind in changes:
        case = variant(change, kind)
        if case is not None:
            yield case


# --- nasty, hand-written cases ------------------------------------------------------------------------


def nested(depth: int, leaf: Any = "x") -> Any:
    value = leaf
    for n in range(depth):
        value = [value] if n % 2 else {"k": value}
    return value


def nasty_cases(asset: str) -> list[Case]:
    """Hostile inputs no schema generator would think of; ``asset`` is a real id of alice's."""
    hidden = "\x00\x07\x1b[31m\u202e\u2066\u200b\ufeff\U000e0041\U000e0049\x85\u2028"
    cases: list[Case] = []

    def add(tool: str, arguments: Any, what: str, name: str | None = None) -> None:
        cases.append(Case(tool, arguments, f"nasty:{what}", name))

    for bad in BAD_IDS:
        add("get_data_asset", {"data_asset_ids": [bad]}, "id", "data_asset_ids")
        add("get_data_asset_permissions", {"data_asset_id": bad}, "id", "data_asset_id")
        add("list_data_asset_files", {"data_asset_id": bad}, "id", "data_asset_id")
        add("delete_data_asset", {"data_asset_ids": [asset, bad]}, "id", "data_asset_ids")
        add("update_data_asset", {"data_asset_id": bad, "name": "x"}, "id", "data_asset_id")
    add("get_data_asset", {"data_asset_ids": [asset] * 51}, "too_many_ids", "data_asset_ids")
    # Huge strings: a megabyte where a few characters are expected.
    add("search_data_assets", {"query": MEGABYTE}, "1MB", "query")
    add("search_data_assets", {"cursor": MEGABYTE}, "1MB", "cursor")
    add("search_data_assets", {"filters": [{"key": MEGABYTE, "value": 1}]}, "1MB", "key")
    add("read_data_asset_file", {"data_asset_id": asset, "path": MEGABYTE}, "1MB", "path")
    add("list_data_asset_files", {"data_asset_id": asset, "path": MEGABYTE}, "1MB", "path")
    add("create_data_asset", {"name": MEGABYTE, "source": {"kind": "s3", "bucket": "lab"}}, "1MB", "name")
    add("create_data_asset", {"name": "x", "source": {"kind": "s3", "bucket": MEGABYTE}}, "1MB", "bucket")
    add("update_data_asset", {"data_asset_id": asset, "description": MEGABYTE}, "1MB", "description")
    add("update_data_asset", {"data_asset_id": asset, "custom_metadata": {MEGABYTE: "x"}}, "1MB_key", None)
    add("update_data_asset", {"data_asset_id": asset, "tags": [MEGABYTE]}, "1MB", "tags")
    add("archive_data_asset", {"data_asset_ids": [asset], "confirm_token": MEGABYTE}, "1MB", "confirm_token")
    add("share_data_asset", {"data_asset_ids": [asset], "users": [{"email": MEGABYTE, "role": "viewer"}]}, "1MB")
    add("transfer_data_asset", {"data_asset_ids": [asset], "bucket": MEGABYTE}, "1MB", "bucket")
    add("search_data_assets", {MEGABYTE: 1}, "1MB_key", None)
    # Deep nesting where a flat value belongs. 1,000 levels cannot be sent as JSON (the client's serialiser
    # and the transports' parsers stop near 200), so they go as JSON text; 180 levels go as structure.
    deep = nested(180)
    add("update_data_asset", {"data_asset_id": asset, "custom_metadata": {"modality": deep}}, "deep", "custom_metadata")
    add("search_data_assets", {"filters": [{"key": "name", "value": deep}]}, "deep", "value")
    add("search_data_assets", {"filters": deep}, "deep", "filters")
    add("create_data_asset", {"name": "x", "source": deep}, "deep", "source")
    add("get_data_asset", {"data_asset_ids": deep}, "deep", "data_asset_ids")
    add("get_custom_metadata_schema", {"zz": deep}, "deep", "zz")
    deep_text = "[" * 1000 + "]" * 1000
    add("search_data_assets", {"filters": deep_text, "limit": 1}, "deep_json_text", "filters")
    add("get_data_asset", {"data_asset_ids": deep_text}, "deep_json_text", "data_asset_ids")
    add(
        "update_data_asset", {"data_asset_id": asset, "custom_metadata": deep_text}, "deep_json_text", "custom_metadata"
    )
    add("update_data_asset", {"data_asset_id": asset, "description": deep_text}, "deep_json_text")
    # Control, bidirectional and invisible characters, and NUL bytes, in text the schema allows.
    add("search_data_assets", {"query": hidden}, "hidden_chars")
    add("search_data_assets", {"query": 'name:"' + hidden}, "hidden_chars")
    add("read_data_asset_file", {"data_asset_id": asset, "path": "data/\x00../../etc/passwd"}, "nul_path")
    add("read_data_asset_file", {"data_asset_id": asset, "path": "../" * 50 + "etc/passwd"}, "traversal_path")
    add("list_data_asset_files", {"data_asset_id": asset, "path": "/../../" + hidden}, "hidden_path")
    add("get_data_asset_file_urls", {"data_asset_id": asset, "path": "%2e%2e/%2e%2e/secret?x=1#y"}, "encoded_path")
    add("create_data_asset", {"name": hidden, "source": {"kind": "s3", "bucket": "lab-" + hidden}}, "hidden_chars")
    add("update_data_asset", {"data_asset_id": asset, "tags": [hidden], "description": hidden}, "hidden_chars")
    add("update_data_asset", {"data_asset_id": asset, "mount": "../../etc"}, "traversal_mount", "mount")
    add("update_data_asset", {"data_asset_id": asset, "mount": "a\x00b"}, "nul_mount", "mount")
    add("share_data_asset", {"data_asset_ids": [asset], "groups": [{"group": hidden, "role": "viewer"}]}, "hidden")
    # Wrong types and NaN-like or enormous numbers.
    for number in ("NaN", "Infinity", "-Infinity", "1e309", "0x10", " 5 ", "5", "", "++1"):
        add("search_data_assets", {"limit": number}, "number_text", "limit")
        add("wait_for_data_asset", {"data_asset_id": asset, "timeout": number}, "number_text", "timeout")
    for odd in (-1, 0, 2**63, -(2**63), 10**100, 1.5, True, False, None):
        add("read_data_asset_file", {"data_asset_id": asset, "path": "a", "offset": odd}, "number", "offset")
        add("read_data_asset_file", {"data_asset_id": asset, "path": "a", "length": odd}, "number", "length")
    add("read_data_asset_file", {"data_asset_id": asset, "path": "README.md", "offset": 10**30}, "huge_offset")
    add("search_data_assets", {"filters": [{"key": "sample_count", "min": 1e308, "max": -1e308}]}, "huge_range")
    add("search_data_assets", {"filters": [{"key": "sample_count", "min": "NaN"}]}, "nan_text", "min")
    add("search_data_assets", {"archived": "false"}, "bool_text", "archived")
    add("search_data_assets", {"type": ["dataset"]}, "wrong_type", "type")
    add("search_data_assets", [], "not_an_object", None)
    add("get_data_asset", {"data_asset_ids": {"0": asset}}, "wrong_type", "data_asset_ids")
    add("transfer_data_asset", {"data_asset_ids": [asset], "bucket": "cold", "force": "yes"}, "bool_text", "force")
    add("create_data_asset", {"name": "x", "source": {"kind": "s3", "bucket": "lab", "public": 2}}, "wrong_type")
    add("create_data_asset", {"name": "x", "source": "s3://lab/x"}, "wrong_type", "source")
    add("create_data_asset", {"name": "x", "source": {"kind": "gcs", "bucket": "lab", "client_secret": "s"}}, "extra")
    # Text that looks like JSON, in string fields and in fields of other types.
    for text in ("null", "[1, 2]", "{}", '{"a": 1}', "true", "[]"):
        add("update_data_asset", {"data_asset_id": asset, "description": text}, "json_like_text")
        add("search_data_assets", {"query": text, "limit": 1}, "json_like_text")
    add("search_data_assets", {"sort_order": "null", "limit": 1}, "json_like_text", "sort_order")
    # Confirmation tokens: none, garbage, well-formed forgeries, and another tool's real token.
    garbage = [
        "",
        " ",
        "yes",
        "v1",
        "v1.9999999999." + "0" * 32 + ".AAAA",
        "v1.-1." + "0" * 32 + ".x",
        "v2.1." + "0" * 32 + ".x",
        "v1.1.2.3.4",
        forged_token("delete_data_asset", asset),
        TokenSigner(SECRET).issue("archive_data_asset", {"data_asset_ids": [asset]}, "0" * 32),
        "\x00" * 40,
        "v1." + "9" * 290,
    ]
    for token in garbage:
        for tool, extra in (
            ("delete_data_asset", {}),
            ("archive_data_asset", {}),
            ("share_data_asset", {"everyone": "viewer"}),
            ("transfer_data_asset", {"bucket": "cold-archive", "force": True}),
        ):
            add(tool, {"data_asset_ids": [asset], "confirm_token": token, **extra}, "garbage_token")
    needs: dict[str, dict[str, Any]] = {
        "share_data_asset": {"everyone": "viewer"},
        "transfer_data_asset": {"bucket": "cold-archive"},
    }
    for tool in sorted(GUARDED):
        add(tool, {"data_asset_ids": [asset], **needs.get(tool, {})}, "no_token")
    add("delete_data_asset", {"data_asset_ids": [asset], "confirm_token": None}, "null_token")
    add("no_such_tool", {}, "unknown_tool", None)
    return cases


def forged_token(tool: str, asset: str) -> str:
    """A well-formed token signed with a secret the server does not have."""
    return TokenSigner(b"not-the-server-secret-0123456789").issue(tool, {"data_asset_ids": [asset]}, "0" * 32)


def all_cases(asset: str) -> list[Case]:
    rng = random.Random(SEED)
    cases: list[Case] = []
    for tool in ARG_MODELS:
        for text in drawn(tool, VALID_PER_TOOL):
            arguments = json.loads(text)
            cases.append(Case(tool, arguments, "valid"))
            # One mutation of each valid input, the kind varying from input to input.
            cases.extend(list(mutations(tool, arguments, rng))[:1])
    cases.extend(nasty_cases(asset)[::NASTY_STRIDE])
    return cases


# --- judging one call ---------------------------------------------------------------------------------


def lenient_form(tool: str, arguments: Any) -> Any:
    """The arguments with each documented leniency undone, for the schema to judge.

    A single id for a list of ids; ``null`` for an omitted optional argument; a UUID spelled another way
    (upper case, braces, no hyphens).
    """
    if not isinstance(arguments, dict):
        return arguments
    root = published_schemas().get(tool)
    if root is None:
        return arguments
    props = root.get("properties", {})
    required = set(root.get("required", []))
    out: dict[str, Any] = {}
    for key, value in arguments.items():
        node = resolve(props.get(key, {}), root)
        if value is None and key not in required and key in props:
            continue
        out[key] = _canonical_ids([value] if key == "data_asset_ids" and isinstance(value, str) else value, node)
    return out


def _canonical_ids(value: Any, node: dict[str, Any]) -> Any:
    def canon(text: Any) -> Any:
        if isinstance(text, str):
            with contextlib.suppress(ValueError):
                return str(uuid.UUID(text))
        return text

    if node.get("format") == "uuid":
        return canon(value)
    items = node.get("items")
    if isinstance(items, dict) and items.get("format") == "uuid" and isinstance(value, list):
        return [canon(v) for v in value]
    return value


def model_errors(tool: str, arguments: Any) -> list[str] | None:
    """The names along each failing location, or None if the tool's model accepts the arguments."""
    try:
        ARG_MODELS[tool].model_validate(arguments)
    except ValidationError as exc:
        return sorted({str(part) for error in exc.errors() for part in error["loc"] if isinstance(part, str)})
    return None


# What pydantic's own text carries and an argument error must not: type tags, links, the rejected input,
# the count-and-model header, and union branches or models by their Python names.
PYTHON_WORDS = re.compile(
    r"type=|input_value|input_type|pydantic|https?://|validation errors? for|Error executing|Value error,"
    r"|\b(?:list|dict|tuple|set)\[|function-(?:after|before|wrap|plain)|NoneType|_arguments\b"
)


@cache
def model_names() -> frozenset[str]:
    """The class name of every model reachable from a tool's arguments."""
    names: set[str] = set()

    def walk(annotation: Any) -> None:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation.__name__ not in names:
                names.add(annotation.__name__)
                for info in annotation.model_fields.values():
                    walk(info.annotation)
            return
        for arg in typing.get_args(annotation):
            walk(arg)

    for model in ARG_MODELS.values():
        walk(model)
    return frozenset(names)


def keys_of(value: Any) -> set[str]:
    """Every key of every object in ``value``: names the caller sent, which a refusal may repeat."""
    if isinstance(value, dict):
        return {str(k) for k in value} | {key for v in value.values() for key in keys_of(v)}
    if isinstance(value, list):
        return {key for v in value for key in keys_of(v)}
    return set()


def python_words(text: str, sent: Any = None) -> list[str]:
    """The Python words in a refusal: pydantic's markers, and model class names unless the caller sent one as
    a key (hypothesis draws keys from the source's own strings)."""
    found = PYTHON_WORDS.findall(text)
    named = keys_of(sent)
    return found + sorted(name for name in model_names() if name not in named and re.search(rf"\b{name}\b", text))


def acceptable(tool: str, arguments: Any) -> bool:
    return schema_valid(tool, arguments) and model_valid(tool, arguments)


@dataclass
class Tally:
    calls: int = 0
    valid: int = 0
    lenient: int = 0
    # Inputs the schema refuses, beyond the documented leniencies (or that break a model rule).
    invalid: int = 0
    invalid_refused: int = 0
    invalid_field_named: int = 0
    invalid_reached_sandbox: int = 0
    # Of those, let through by validation all the same (a lax conversion such as true -> 1).
    invalid_accepted: int = 0
    # Inputs both the schema and the tool's model accept, refused by the server's validation.
    valid_rejected: int = 0
    internal_errors: int = 0
    protocol_exceptions: int = 0
    hangs: int = 0
    destructive_requests: int = 0
    problems: list[str] = field(default_factory=list)
    other_problems: list[str] = field(default_factory=list)
    kinds: dict[str, int] = field(default_factory=dict)

    def problem(self, case: Case, what: str, detail: str = "") -> None:
        if len(self.problems) < 40:
            self.problems.append(f"{what}: {case.tool} [{case.kind}] {repr(case.arguments)[:200]} -> {detail[:300]}")


def text_of(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


def destructive(sandbox: Sandbox) -> int:
    entries = sandbox.request_log.entries
    return sum(
        1
        for e in entries
        if e.operation in DESTRUCTIVE or (e.operation == "archive" and "archive=true" in e.query.lower())
    )


async def judge(client: Client, sandbox: Sandbox, case: Case, tally: Tally) -> None:
    tally.calls += 1
    kind = case.kind.split(":")[0]
    tally.kinds[kind] = tally.kinds.get(kind, 0) + 1
    if case.tool not in ARG_MODELS or not isinstance(case.arguments, dict):
        await judge_refused_outright(client, sandbox, case, tally)
        return
    sandbox.request_log.clear()
    started = time.monotonic()
    try:
        with anyio.fail_after(CALL_DEADLINE):
            result = await client.call_tool(case.tool, case.arguments)
    except TimeoutError:
        tally.hangs += 1
        tally.problem(case, "hang", f"{time.monotonic() - started:.1f} s")
        return
    except Exception as exc:
        tally.protocol_exceptions += 1
        tally.problem(case, "protocol exception", repr(exc))
        return
    body = text_of(result)
    reached = len(sandbox.request_log.entries) > 0
    tally.destructive_requests += destructive(sandbox)
    if "Internal error" in body:
        tally.internal_errors += 1
        tally.problem(case, "internal error", body)
    refused_by_validation = result.is_error and body.startswith(f"Invalid arguments of {case.tool};")
    if refused_by_validation and (leaked := python_words(body, case.arguments)):
        tally.problem(case, f"argument error shows {leaked!r}", body)
    # What the server enforces: the tool's model, on the arguments exactly as sent.
    wrong = model_errors(case.tool, case.arguments)
    if wrong is None and refused_by_validation:
        tally.problem(case, "refused though the model accepts it", body)
    if wrong is not None and not result.is_error:
        tally.problem(case, "accepted though the model refuses it", body)

    if schema_valid(case.tool, case.arguments):
        tally.valid += 1
        if wrong is None and refused_by_validation:
            tally.valid_rejected += 1
        if acceptable(case.tool, case.arguments):
            return
    elif acceptable(case.tool, lenient_form(case.tool, case.arguments)):
        tally.lenient += 1
        return

    tally.invalid += 1
    if wrong is None:  # validation let it through (the tool itself may still have failed)
        tally.invalid_accepted += 1
        tally.problem(case, "schema-invalid input accepted", body)
        tally.invalid_reached_sandbox += reached
        return
    tally.invalid_refused += 1
    # The refusal names a field that is wrong: one the model names, else the one the mutation broke.
    names = wrong or ([case.field] if case.field else [f"arguments of {case.tool}"])
    # A long name is shown cut short (an argument error caps what it repeats of the caller's keys).
    if any(name[:40] in body for name in names):
        tally.invalid_field_named += 1
    else:
        tally.problem(case, f"refusal names none of {names!r}", body)
    if reached:
        tally.problem(case, "refused input reached the sandbox", repr(sandbox.request_log.entries[:3]))
    tally.invalid_reached_sandbox += reached


async def judge_refused_outright(client: Client, sandbox: Sandbox, case: Case, tally: Tally) -> None:
    """No such tool, or arguments that are not an object: an error (a result or a JSON-RPC error, or the
    client refusing to send it), never a crash, and nothing reaches the sandbox."""
    sandbox.request_log.clear()
    try:
        result = await client.call_tool(case.tool, case.arguments)
    except Exception as exc:  # a JSON-RPC or client-side validation error is the expected answer here
        said = str(exc)
    else:
        said = text_of(result) if result.is_error else ""
    expected = case.tool if case.tool not in ARG_MODELS else "arguments"
    if expected not in said or sandbox.request_log.entries:
        tally.problem(case, "not refused by name", said)
        tally.protocol_exceptions += 1


def hostile_uris(asset: str) -> list[str]:
    base = "codeocean://data-assets/"
    return [
        base + "..",
        base + "%2e%2e%2fcapsules",
        base + "../capsules/x",
        base + asset + "/../../capsules",
        base + asset + "/permissions/..",
        base + "x%00y",
        base + "\u202e" + asset,
        base + "A" * 100_000,
        base + asset.upper(),
        base + asset + "?x=1#f",
        "codeocean://other/" + asset,
        "file:///etc/passwd",
        "",
    ]


async def other_surfaces(client: Client, sandbox: Sandbox, asset: str, tally: Tally) -> None:
    """Resources, completions and prompts with hostile values: a clean error or an answer, never an
    internal error, and nothing but a read of a real asset reaches the sandbox."""
    ref = ResourceTemplateReference(type="ref/resource", uri="codeocean://data-assets/{data_asset_id}")
    attempts: list[tuple[str, Callable[[], Awaitable[object]]]] = []
    for uri in hostile_uris(asset):
        attempts.append((f"resource {uri[:60]!r}", partial(client.read_resource, uri)))
    for value in ('"', "\\", 'name:"x" OR tag:*', MEGABYTE, "\x00\u202e", "../" * 50):
        typed = {"name": "data_asset_id", "value": value}
        attempts.append((f"completion {value[:20]!r}", partial(client.complete, ref, typed)))
    prompts: list[tuple[str, dict[str, str]]] = [
        ("find_dataset", {"analysis": MEGABYTE}),
        ("find_dataset", {}),
        ("tidy_up", {"older_than_days": "\u202e-1"}),
        ("no_such_prompt", {}),
    ]
    for name, arguments in prompts:
        attempts.append((f"prompt {name}", partial(client.get_prompt, name, arguments)))
    for label, attempt in attempts:
        tally.calls += 1
        sandbox.request_log.clear()
        try:
            with anyio.fail_after(CALL_DEADLINE):
                await attempt()
        except MCPError as exc:
            if exc.error.code == INTERNAL_ERROR:
                tally.internal_errors += 1
                tally.other_problems.append(f"{label}: {exc}")
        except TimeoutError:
            tally.hangs += 1
            tally.other_problems.append(f"{label}: hung")
        except Exception as exc:
            tally.protocol_exceptions += 1
            tally.other_problems.append(f"{label}: {exc!r}")
        stray = [e for e in sandbox.request_log.entries if e.operation not in ("get", "get_permissions", "search")]
        if stray:
            tally.other_problems.append(f"{label}: reached {stray[:2]}")
            tally.destructive_requests += destructive(sandbox)


class ErrorRecords(logging.Handler):
    """Counts ERROR records: a tool bug is logged with its traceback at that level."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


# --- the suite ----------------------------------------------------------------------------------------


async def test_fuzz_every_tool_in_both_eras(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tally = Tally()
    errors = ErrorRecords()
    logging.getLogger().addHandler(errors)
    started = time.monotonic()
    try:
        for mode in ("legacy", "auto"):
            sandbox = Sandbox(assets=40, seed=7, ready_delay=0.0)
            options = ServerOptions(signer=TokenSigner(SECRET), audit=AuditLog(tmp_path / f"audit-{mode}.jsonl"))
            alice = sandbox.users["alice"].id
            asset = next(r.id for r in sandbox.store.all_assets() if r.owner_id == alice and r.state == "ready")
            server = build_server(lambda sandbox=sandbox: client_for(sandbox), options=options)  # type: ignore[misc]
            async with Client(server, mode=mode) as client:
                await load_schemas(client)
                for case in all_cases(asset):
                    await judge(client, sandbox, case, tally)
                await other_surfaces(client, sandbox, asset, tally)
                # The server still serves after everything it was sent.
                assert not (await client.call_tool("search_data_assets", {"limit": 1})).is_error
    finally:
        logging.getLogger().removeHandler(errors)
    seconds = time.monotonic() - started
    emit(
        capsys,
        "fuzz",
        calls=tally.calls,
        eras=2,
        schema_valid=tally.valid,
        lenient=tally.lenient,
        invalid=tally.invalid,
        invalid_refused=tally.invalid_refused,
        invalid_field_named=tally.invalid_field_named,
        invalid_reached_sandbox=tally.invalid_reached_sandbox,
        invalid_accepted=tally.invalid_accepted,
        valid_rejected=tally.valid_rejected,
        internal_errors=tally.internal_errors,
        protocol_exceptions=tally.protocol_exceptions,
        hangs=tally.hangs,
        error_logs=len(errors.records),
        destructive_requests=tally.destructive_requests,
        seconds=round(seconds, 1),
    )
    problems = "\n".join(tally.problems)
    assert tally.calls >= (5000 if FULL else 150)
    assert (tally.internal_errors, tally.protocol_exceptions, tally.hangs) == (0, 0, 0), problems
    assert [r.getMessage() for r in errors.records] == [], problems
    assert tally.destructive_requests == 0, problems
    assert tally.problems == [], problems
    assert tally.other_problems == []
    # Every schema-invalid input is refused, naming the field, and nothing of it reaches Code Ocean.
    assert tally.invalid_refused == tally.invalid_field_named == tally.invalid, problems
    assert tally.invalid_reached_sandbox == tally.valid_rejected == 0, problems


# --- what the fuzzing found, pinned -------------------------------------------------------------------


def alice_ready_asset(sandbox: Sandbox) -> str:
    alice = sandbox.users["alice"].id
    return next(r.id for r in sandbox.store.all_assets() if r.owner_id == alice and r.state == "ready")


@pytest.mark.parametrize(
    ("arguments", "name"),
    [
        ({"filters": [{"key": "sample_count", "min": "NaN"}]}, "min"),
        ({"filters": [{"key": "sample_count", "max": "-Infinity"}]}, "max"),
        ({"filters": [{"key": "sample_count", "value": 1e309}]}, "value"),
        ({"filters": [{"key": "sample_count", "min": 1, "max": "1e400"}]}, "max"),
    ],
)
async def test_non_finite_numbers_are_refused_by_name_and_send_nothing(
    mcp: Client, sandbox: Sandbox, arguments: dict[str, Any], name: str
) -> None:
    # Found by fuzzing: "NaN" became float('nan'), which no JSON body can carry, and the search crashed.
    sandbox.request_log.clear()
    result = await mcp.call_tool("search_data_assets", arguments)
    body = text_of(result)
    assert result.is_error
    assert name in body
    assert "Internal error" not in body
    assert sandbox.request_log.entries == []


@pytest.mark.parametrize(
    ("tool", "arguments", "name"),
    [
        ("search_data_assets", {"limit": True}, "limit"),
        ("search_data_assets", {"limit": "5"}, "limit"),
        ("search_data_assets", {"archived": "false"}, "archived"),
        ("read_data_asset_file", {"path": "README.md", "offset": False}, "offset"),
        ("transfer_data_asset", {"bucket": "cold-archive", "force": "yes"}, "force"),
        ("search_data_assets", {"filters": [{"key": "sample_count", "value": True}]}, "value"),
        ("wait_for_data_asset", {"timeout": 5.5}, "timeout"),
    ],
)
async def test_a_value_of_the_wrong_json_type_is_refused_not_converted(
    mcp: Client, sandbox: Sandbox, tool: str, arguments: dict[str, Any], name: str
) -> None:
    # Found by fuzzing: pydantic's lax mode turned these into 1, 5, False, 0 and True, and sent them on.
    asset = alice_ready_asset(sandbox)
    if tool in ("read_data_asset_file", "wait_for_data_asset"):
        arguments = {"data_asset_id": asset, **arguments}
    elif tool == "transfer_data_asset":
        arguments = {"data_asset_ids": [asset], **arguments}
    sandbox.request_log.clear()
    result = await mcp.call_tool(tool, arguments)
    assert result.is_error
    assert name in text_of(result)
    assert sandbox.request_log.entries == []


@pytest.mark.parametrize("description", ["null", "[1, 2]", '{"a": 1}', "true", "5"])
async def test_text_that_looks_like_json_is_stored_as_text(mcp: Client, sandbox: Sandbox, description: str) -> None:
    # Found by fuzzing: the SDK decoded such text as JSON ("null" became no description at all).
    asset = alice_ready_asset(sandbox)
    result = await mcp.call_tool("update_data_asset", {"data_asset_id": asset, "description": description})
    assert not result.is_error, text_of(result)
    stored = sandbox.store.get_asset(asset)
    assert stored is not None
    assert stored.description == description


@pytest.mark.parametrize(
    ("arguments", "name"),
    [
        ({"sort_order": "null", "limit": 1}, "sort_order"),
        ({"filters": '[{"key": "name", "value": "rna"}]'}, "filters"),
        ({"query": ["rna"]}, "query"),
    ],
)
async def test_a_value_sent_as_json_text_is_a_string_not_decoded(
    mcp: Client, sandbox: Sandbox, arguments: dict[str, Any], name: str
) -> None:
    # Found by fuzzing: "null" passed for an enum as if omitted, and lists were accepted as JSON text.
    sandbox.request_log.clear()
    result = await mcp.call_tool("search_data_assets", arguments)
    assert result.is_error
    assert name in text_of(result)
    assert sandbox.request_log.entries == []
