"""Every host sees everything: each channel of every tool result is complete on its own.

MCP hosts differ in what they hand the model: some only a result's ``content`` text, some (Claude Code, Codex,
Copilot CLI) only its ``structuredContent`` as compact JSON, some both; without structured content every host
falls back to the text. Each scenario below runs one tool to one outcome (result, per-id error, preview, refusal,
post-action result, error), in both protocol eras, and each of the three kinds of host is played on its result:

- every fact of the structured content (the whole view) appears in the text, and every piece of foreign text or
  id in the text appears in the structured content;
- the structured content matches the tool's published outputSchema;
- a guarded preview carries, in every channel, its items and the instruction to ask the user;
- no channel carries a confirm_token without that preview and instruction.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import jsonschema
import pytest
from mcp import Client
from mcp.client.session import ClientRequestContext
from mcp.types import CallToolResult, ElicitRequestParams, ElicitResult, TextContent

from co_mcp.sandbox import Sandbox
from co_mcp.sandbox.demo_data import DEMO_COMPUTATION_ID
from tests.conftest import ServerFactory

pytestmark = pytest.mark.anyio

HOSTS = ("content", "structured", "both")
UNKNOWN = "00000000-0000-4000-8000-000000000001"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_LITERAL = re.compile(r'"(?:[^"\\]|\\.)*"')
_FENCED = re.compile(r"<<<(file-[0-9a-f]+)\n.*?\n\1>>>", re.DOTALL)
# How the text says a boolean fact: the phrases that stand for true and for false.
_BOOLEANS: dict[str, dict[bool, tuple[str, ...]]] = {
    "has_more": {True: ("more available", "more: read again"), False: ("no more results", "end of file")},
    "performed": {True: ("Done for",), False: ("nothing was done", "Nothing has been done", "Nothing to")},
    "external": {True: ("external",)},
    "archived": {True: ("archived",)},
    "timed_out": {True: ("Still",)},
    "waited": {True: ("waiting",)},
    "share_assets": {True: ("share_assets true",), False: ("share_assets false",)},
    "force": {True: ("force true",), False: ("force false",)},
    "multiple": {True: ("several values allowed",)},
    "required": {True: ("required",)},
}


def text_of(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


def structured_json(result: CallToolResult) -> str | None:
    if result.structured_content is None:
        return None
    return json.dumps(result.structured_content, ensure_ascii=False, separators=(",", ":"))


def channel(result: CallToolResult, host: str) -> str:
    """What a host of this kind hands the model."""
    text, structured = text_of(result), structured_json(result)
    if host == "content":
        return text
    if host == "structured":
        return structured if structured is not None else text  # no structured content: every host shows the text
    return text + "\n" + (structured or "")


def leaves(value: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    """Every (key, scalar) of a JSON value; object keys written by people (metadata) count as text too."""
    if isinstance(value, dict):
        for k, v in value.items():
            if key in ("custom_metadata", "provenance", "source", "app_parameters", "sends"):
                yield key, k
            yield from leaves(v, k)
    elif isinstance(value, list):
        for item in value:
            yield from leaves(item, key)
    else:
        yield key, value


def shown(value: str, text: str) -> bool:
    return value in text or json.dumps(value, ensure_ascii=False)[1:-1] in text


def missing_facts(structured: dict[str, Any], text: str) -> list[str]:
    """The facts of the structured content that the text does not state."""
    missing = []
    for key, value in leaves(structured):
        if isinstance(value, bool):
            phrases = _BOOLEANS.get(key, {}).get(value)
            if phrases is None or not any(p in text for p in phrases):
                missing.append(f"{key}={value}")
        elif isinstance(value, int | float):
            if str(value) not in text:
                missing.append(f"{key}={value}")
        elif isinstance(value, str) and not shown(value, text):
            missing.append(f"{key}={value!r}")
    return missing


def unbacked_text(text: str, structured: dict[str, Any]) -> list[str]:
    """Ids and quoted foreign text in the text that the structured content does not hold."""
    strings = {str(v) for _, v in leaves(structured) if isinstance(v, str)}
    blob = json.dumps(structured, ensure_ascii=False)
    outside = _FENCED.sub("", text)  # a file's text is one string of the structured content, checked whole
    found = []
    for literal in _LITERAL.findall(outside):
        try:
            value = json.loads(literal)
        except ValueError:
            continue
        if value not in strings and literal not in blob:
            found.append(literal)
    found += [u for u in _UUID.findall(outside) if u not in blob]
    return found


def check_token_travels_with_its_preview(result: CallToolResult) -> None:
    data = result.structured_content or {}
    token = data.get("confirm_token")
    if token is None:
        for host in HOSTS:
            assert "confirm_token=" not in channel(result, host) or "Nothing has been done" in channel(result, host)
        return
    preview = data.get("preview") or {}
    assert preview.get("items"), "a token without a preview"
    assert "explicit yes" in data.get("next_step", "")
    for host in HOSTS:
        seen = channel(result, host)
        assert token in seen
        assert "explicit yes" in seen, host
        assert "confirm_token" in seen, host
        for item in preview["items"]:
            assert item["id"] in seen, host
            assert shown(item["name"], seen), host


async def check(client: Client, result: CallToolResult, tool: str) -> None:
    text = text_of(result)
    assert text, "every result has text"
    if result.is_error:
        assert result.structured_content is None
        assert "Traceback" not in text
        return
    data = result.structured_content
    assert data is not None, f"{tool}: a successful result carries structured content"
    schema = next(t.output_schema for t in (await client.list_tools()).tools if t.name == tool)
    assert schema is not None
    jsonschema.validate(data, schema)
    assert missing_facts(data, text) == [], f"{tool}: the text lacks facts of the structured content"
    assert unbacked_text(text, data) == [], f"{tool}: the structured content lacks facts of the text"
    check_token_travels_with_its_preview(result)


# --- scenarios: each drives a tool to one outcome and returns the results to check ---------------

Scenario = Callable[[Client, Sandbox], Awaitable[list[tuple[str, CallToolResult]]]]


def alice_asset(sandbox: Sandbox, *, state: str = "ready", skip: int = 0) -> str:
    alice = sandbox.users["alice"].id
    found = [
        r.id
        for r in sandbox.store.all_assets()
        if r.owner_id == alice and not r.archived and r.state == state and r.type != "combined"
    ]
    return found[skip]


async def one(client: Client, tool: str, arguments: dict[str, Any]) -> list[tuple[str, CallToolResult]]:
    return [(tool, await client.call_tool(tool, arguments))]


async def text_and_binary_files(client: Client, sandbox: Sandbox) -> list[tuple[str, CallToolResult]]:
    results = []
    asset_id = alice_asset(sandbox)
    listing = await client.call_tool("list_data_asset_files", {"data_asset_id": asset_id})
    results.append(("list_data_asset_files", listing))
    files = [i for i in (listing.structured_content or {}).get("items", []) if i["type"] == "file"]
    for item in files[:4]:
        arguments = {"data_asset_id": asset_id, "path": item["path"], "length": 300}
        results.append(("read_data_asset_file", await client.call_tool("read_data_asset_file", arguments)))
    if files:
        arguments = {"data_asset_id": asset_id, "path": files[0]["path"]}
        results.append(("get_data_asset_file_urls", await client.call_tool("get_data_asset_file_urls", arguments)))
    return results


async def guarded_round(client: Client, tool: str, arguments: dict[str, Any]) -> list[tuple[str, CallToolResult]]:
    """Preview, a refused (tampered) token with its fresh preview, then the confirmed action."""
    preview = await client.call_tool(tool, arguments)
    token = (preview.structured_content or {}).get("confirm_token")
    assert token, text_of(preview)
    tampered = await client.call_tool(tool, {**arguments, "confirm_token": token[:-4] + "AAAA"})
    done = await client.call_tool(tool, {**arguments, "confirm_token": token})
    replay = await client.call_tool(tool, {**arguments, "confirm_token": token})
    return [(tool, preview), (tool, tampered), (tool, done), (tool, replay)]


def guarded(tool: str, extra: dict[str, Any]) -> Scenario:
    async def run(client: Client, sandbox: Sandbox) -> list[tuple[str, CallToolResult]]:
        # One actionable asset, one unknown id, and a draft that cannot be acted on in its state.
        ids = [alice_asset(sandbox), UNKNOWN]
        drafts = [r.id for r in sandbox.store.all_assets() if r.state == "draft"]
        return await guarded_round(client, tool, {"data_asset_ids": ids + drafts[:1], **extra})

    return run


async def nothing_to_do(client: Client, sandbox: Sandbox) -> list[tuple[str, CallToolResult]]:
    asset_id = alice_asset(sandbox)
    share = {"data_asset_ids": [asset_id], "users": [{"email": "alice@example.org", "role": "owner"}]}
    return await one(client, "share_data_asset", share)


SCENARIOS: dict[str, Scenario] = {
    "search": lambda c, s: one(c, "search_data_assets", {"limit": 20}),
    "search empty": lambda c, s: one(c, "search_data_assets", {"query": "zzzz-nothing-matches"}),
    "search archived": lambda c, s: one(c, "search_data_assets", {"archived": True}),
    "get": lambda c, s: one(c, "get_data_asset", {"data_asset_ids": [alice_asset(s), alice_asset(s, skip=1)]}),
    "get partly unknown": lambda c, s: one(c, "get_data_asset", {"data_asset_ids": [alice_asset(s), UNKNOWN]}),
    "get all unknown": lambda c, s: one(c, "get_data_asset", {"data_asset_ids": [UNKNOWN]}),
    "get draft": lambda c, s: one(c, "get_data_asset", {"data_asset_ids": [alice_asset(s, state="draft")]}),
    "permissions": lambda c, s: one(c, "get_data_asset_permissions", {"data_asset_id": alice_asset(s)}),
    "permissions unknown": lambda c, s: one(c, "get_data_asset_permissions", {"data_asset_id": UNKNOWN}),
    "files": text_and_binary_files,
    "metadata schema": lambda c, s: one(c, "get_custom_metadata_schema", {}),
    "wait": lambda c, s: one(c, "wait_for_data_asset", {"data_asset_id": alice_asset(s)}),
    "create": lambda c, s: one(
        c, "create_data_asset", {"name": "From S3", "source": {"kind": "s3", "bucket": "lab-bucket"}}
    ),
    "create and wait": lambda c, s: one(
        c,
        "create_data_asset",
        {"name": "Results", "source": {"kind": "computation", "computation_id": DEMO_COMPUTATION_ID}, "wait": True},
    ),
    "update": lambda c, s: one(c, "update_data_asset", {"data_asset_id": alice_asset(s), "add_tags": ["checked"]}),
    "unarchive": lambda c, s: one(c, "unarchive_data_asset", {"data_asset_id": alice_asset(s)}),
    "bad arguments": lambda c, s: one(c, "search_data_assets", {"limit": 0}),
    "archive": guarded("archive_data_asset", {}),
    "delete": guarded("delete_data_asset", {}),
    "share": guarded("share_data_asset", {"users": [{"email": "carol@example.org", "role": "viewer"}]}),
    "transfer": guarded("transfer_data_asset", {"bucket": "cold-archive", "prefix": "2026/", "force": True}),
    "share with nothing to change": nothing_to_do,
    "update that removes": lambda c, s: guarded_round(
        c,
        "update_data_asset",
        {"data_asset_id": alice_asset(s), "tags": ["only-this"], "custom_metadata": {}, "mount": "moved"},
    ),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_each_channel_alone_carries_the_whole_result(
    scenario: str, make_server: ServerFactory, mode: str, sandbox: Sandbox
) -> None:
    user = "admin" if scenario == "transfer" else "alice"
    async with Client(make_server(user), mode=mode) as client:
        results = await SCENARIOS[scenario](client, sandbox)
        for tool, result in results:
            await check(client, result, tool)


@dataclass
class Answer:
    action: str

    async def __call__(self, context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        return ElicitResult(action=self.action, content={"confirm": True} if self.action == "accept" else None)


@pytest.mark.parametrize("action", ["accept", "decline", "cancel"])
async def test_an_elicited_confirmation_reports_the_whole_outcome_in_each_channel(
    action: str, make_server: ServerFactory, mode: str, sandbox: Sandbox
) -> None:
    async with Client(make_server(), mode=mode, elicitation_callback=Answer(action)) as client:
        result = await client.call_tool("archive_data_asset", {"data_asset_ids": [alice_asset(sandbox), UNKNOWN]})
        await check(client, result, "archive_data_asset")
    data = result.structured_content or {}
    assert data["performed"] is (action == "accept")
    if action != "accept":
        assert data["preview"]["items"], "a refusal says what was refused"
