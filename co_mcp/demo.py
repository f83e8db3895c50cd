"""``co-mcp demo``: a guided tour for a newcomer, as a real MCP client of ``co-mcp --sandbox`` over stdio."""

from __future__ import annotations

import json
import os
import shutil
import sys
import textwrap
import time
from typing import Any

import anyio
from mcp import Client, StdioServerParameters
from mcp.types import CallToolResult, TextContent

__all__ = ["run_demo"]

WIDTH = min(shutil.get_terminal_size((100, 20)).columns, 110)
MISSING_ID = "00000000-0000-4000-8000-000000000000"


class DemoFailedError(Exception):
    """A step returned an error it should not have."""


def say(text: str = "") -> None:
    print(text, flush=True)


def heading(number: int, title: str) -> None:
    say()
    say(f"━━ {number}. {title} " + "━" * max(0, WIDTH - len(title) - 8))


def show_call(tool: str, arguments: dict[str, Any]) -> None:
    say(f"→ {tool} {json.dumps(arguments, separators=(',', ':'))}")


def show_result(result: CallToolResult, limit: int = 1800) -> None:
    text = "\n".join(block.text for block in result.content if isinstance(block, TextContent))
    if len(text) > limit:
        text = text[:limit] + f"\n… ({len(text) - limit} more characters)"
    marker = "✗ " if result.is_error else ""
    for line in text.splitlines() or [""]:
        say(textwrap.shorten(marker + line, WIDTH, placeholder=" …") if len(line) > WIDTH * 3 else marker + line)
        marker = ""


class Tour:
    def __init__(self, client: Client) -> None:
        self.client = client

    async def call(self, tool: str, arguments: dict[str, Any], *, expect_error: bool = False, **kw: Any) -> Any:
        show_call(tool, arguments)
        result = await self.client.call_tool(tool, arguments, **kw)
        show_result(result)
        if result.is_error != expect_error:
            raise DemoFailedError(f"{tool} {'succeeded' if not result.is_error else 'failed'} unexpectedly")
        return result.structured_content or {}

    async def run(self) -> None:
        tools = (await self.client.list_tools()).tools
        heading(1, "What the server offers (tools/list)")
        for tool in tools:
            hints = tool.annotations
            kind = "read-only" if hints and hints.read_only_hint else "writes"
            if hints and hints.destructive_hint:
                kind = "destructive, needs confirmation"
            say(f"  {tool.name:28} {kind:32} {tool.title or ''}")

        heading(2, "Search: free text and field terms")
        found = await self.call("search_data_assets", {"query": "tag:rna-seq", "limit": 5})
        ids = [hit["id"] for hit in found.get("results", [])]
        if not ids:
            found = await self.call("search_data_assets", {"limit": 5})
            ids = [hit["id"] for hit in found["results"]]

        heading(3, "Inspect one asset in full")
        await self.call("get_data_asset", {"data_asset_ids": [ids[0]]})

        heading(4, "Batch get: several ids in one call, one of them missing")
        await self.call("get_data_asset", {"data_asset_ids": [*ids[1:3], MISSING_ID]})

        heading(5, "The deployment's custom metadata fields")
        await self.call("get_custom_metadata_schema", {})

        heading(6, "Create a data asset from S3 and wait for it, with progress")

        async def progress(progress: float, total: float | None, message: str | None) -> None:
            say(f"  … {progress:.0f} of at most {total or 0:.0f} s: {message or ''}")

        created = await self.call(
            "create_data_asset",
            {
                "name": "Demo: PBMC scRNA-seq re-run",
                "source": {"kind": "s3", "bucket": "co-demo-public", "prefix": "pbmc/rerun", "public": True},
                "tags": ["demo", "scrna-seq"],
                "description": "Created by the co_mcp demo.",
                "wait": True,
                "wait_timeout": 60,
            },
            progress_callback=progress,
        )
        new_id = created["asset"]["id"]

        heading(7, "Update: adding a tag acts at once; removing one asks first")
        await self.call("update_data_asset", {"data_asset_id": new_id, "add_tags": ["reviewed"]})
        removal = {"data_asset_id": new_id, "remove_tags": ["demo"]}
        preview = await self.call("update_data_asset", removal)
        say("  (Here the user would read the before -> after and say yes.)")
        await self.call("update_data_asset", {**removal, "confirm_token": preview["confirm_token"]})

        heading(8, "Who can use it")
        await self.call("get_data_asset_permissions", {"data_asset_id": new_id})

        heading(9, "Browse and read its files")
        listing = await self.call("list_data_asset_files", {"data_asset_id": new_id})
        files = [item for item in listing.get("items", []) if item["type"] == "file"]
        if files:
            await self.call("read_data_asset_file", {"data_asset_id": new_id, "path": files[0]["path"], "length": 600})

        heading(10, "Destructive actions preview first: archive")
        say("  (This client cannot show a confirmation dialog, so the server answers with a preview and a token.)")
        await self.call("archive_data_asset", {"data_asset_ids": ids[:2]})

        heading(11, "Sharing shows a before -> after diff")
        await self.call(
            "share_data_asset",
            {
                "data_asset_ids": [new_id],
                "users": [{"email": "bob@example.org", "role": "editor"}],
                "groups": [{"group": "imaging", "role": "viewer"}],
                "everyone": "discoverable",
            },
        )

        heading(12, "Delete: preview, the user's yes, then the confirmed call")
        preview = await self.call("delete_data_asset", {"data_asset_ids": [new_id]})
        say("  (Here the user would read the preview and say yes.)")
        await self.call("delete_data_asset", {"data_asset_ids": [new_id], "confirm_token": preview["confirm_token"]})

        heading(13, "Bad input is refused before anything reaches Code Ocean")
        await self.call("get_data_asset", {"data_asset_ids": ["../capsules/abc"]}, expect_error=True)


async def _main() -> int:
    say("co_mcp demo: a scripted MCP session against a local Code Ocean sandbox (no account needed)")
    command = [sys.executable, "-m", "co_mcp", "--sandbox"]
    say(f"Starting `{' '.join(['python', *command[1:]])}` as an MCP server over stdio …")
    started = time.perf_counter()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CODEOCEAN_", "CO_MCP_"))}
    params = StdioServerParameters(command=command[0], args=command[1:], env=env)
    async with Client(params, read_timeout_seconds=120) as client:
        version = client.protocol_version or "negotiated"
        say(f"Connected in {time.perf_counter() - started:.1f} s (protocol {version}).")
        try:
            await Tour(client).run()
        except DemoFailedError as exc:
            say(f"\nThe demo stopped: {exc}.")
            return 1
    say()
    say("That was co_mcp against the sandbox. To use it in Claude Desktop or another MCP host, see README.md.")
    return 0


def run_demo() -> int:
    status = 0
    try:
        status = anyio.run(_main)
    except* BrokenPipeError:
        # The reader went away (e.g. `co-mcp demo | head`): stop quietly, as command-line tools do.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - must outlive this function for interpreter exit
    return status
