"""MCP server figures: cold start against the mcp import floor, tools/list bytes, result bytes.

    python bench/bench_server.py               # 7 pairs after a warm-up, writes bench/RESULTS.md
    python bench/bench_server.py --pairs 1 --no-write   # the smoke run the tests use

Cold start is spawn -> ``initialize`` result over stdio for ``co-mcp --sandbox`` (embedded sandbox with
demo data), measured in alternating pairs with the floor of any mcp 2.x server: spawn -> exit of
``python -c "import mcp.server.mcpserver"`` in the same venv. The figure is the median of the per-pair
ratios. Bytes are of the JSON as sent: the whole ``tools/list`` result, and the text plus structured
content of a ``get_data_asset`` result (an asset with a 500-character description and 15 tags) and of a
20-result search.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mcp import Client, StdioServerParameters

RESULTS = Path(__file__).with_name("RESULTS.md")
# The servers' audit lines go to a scratch file, not the user's real audit log.
AUDIT = Path(tempfile.gettempdir()) / "co-mcp-bench-audit.jsonl"
ENV = {k: v for k, v in os.environ.items() if not k.startswith(("CODEOCEAN_", "CO_MCP_"))} | {
    "CO_MCP_AUDIT_LOG": str(AUDIT)
}


def floor_seconds() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import mcp.server.mcpserver"], check=True, env=ENV)
    return time.perf_counter() - started


async def cold_start() -> float:
    """Spawn -> initialize result, over stdio."""
    params = StdioServerParameters(command=sys.executable, args=["-m", "co_mcp", "--sandbox"], env=ENV)
    started = time.perf_counter()
    async with Client(params, mode="legacy") as _client:
        return time.perf_counter() - started


def wire_bytes(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


async def sizes() -> dict[str, int]:
    params = StdioServerParameters(command=sys.executable, args=["-m", "co_mcp", "--sandbox"], env=ENV)
    async with Client(params, mode="legacy") as client:
        tools = (await client.list_tools()).tools
        listing = [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]
        search = await client.call_tool("search_data_assets", {"limit": 20})
        first_id = search.structured_content["results"][0]["id"]
        # The asset the issue describes: a 500-character description and 15 tags.
        description = ("Single-cell RNA sequencing of peripheral blood mononuclear cells from healthy donors. " * 7)[
            :500
        ]
        tags = [f"tag-{n:02d}" for n in range(15)]
        edit = {"data_asset_id": first_id, "description": description, "tags": tags}
        assert not (await client.call_tool("update_data_asset", edit)).is_error
        got = await client.call_tool("get_data_asset", {"data_asset_ids": [first_id]})

        def result_bytes(result: Any) -> int:
            dumped = result.model_dump(mode="json", by_alias=True, exclude_none=True)
            return wire_bytes({"content": dumped["content"], "structuredContent": dumped.get("structuredContent")})

        return {
            "tools": len(tools),
            "tools_list": wire_bytes({"tools": listing}),
            "get": result_bytes(got),
            "search20": result_bytes(search),
        }


def machine() -> str:
    return f"{os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()} {platform.machine()}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=7)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    print(f"machine: {machine()}; date {dt.date.today().isoformat()}", flush=True)
    floor_seconds()  # warm-up: the OS file cache, .pyc files
    await cold_start()
    floors: list[float] = []
    starts: list[float] = []
    for _ in range(args.pairs):
        floors.append(floor_seconds())
        starts.append(await cold_start())
    ratios = [s / f for s, f in zip(starts, floors, strict=True)]
    ratio = statistics.median(ratios)
    print(
        f"cold start: median {statistics.median(starts) * 1e3:.0f} ms (min {min(starts) * 1e3:.0f}, max "
        f"{max(starts) * 1e3:.0f}); import floor median {statistics.median(floors) * 1e3:.0f} ms; "
        f"median ratio {ratio:.2f}x over {args.pairs} pairs",
        flush=True,
    )
    figures = await sizes()
    print(
        f"tools/list: {figures['tools_list']:,} bytes for {figures['tools']} tools; get_data_asset result "
        f"{figures['get']:,} bytes; 20-result search {figures['search20']:,} bytes",
        flush=True,
    )
    if args.no_write:
        return
    text = "\n".join(
        [
            "## MCP server (issue B)",
            "",
            f"Measured {dt.date.today().isoformat()} on {machine()} by `python bench/bench_server.py` "
            f"({args.pairs} alternating pairs after a warm-up).",
            "",
            "| figure | value |",
            "|---|---:|",
            f"| cold start, spawn -> initialize (median; min-max) | {statistics.median(starts) * 1e3:.0f} ms "
            f"({min(starts) * 1e3:.0f}-{max(starts) * 1e3:.0f}) |",
            f"| floor: spawn -> exit of `import mcp.server.mcpserver` | {statistics.median(floors) * 1e3:.0f} ms |",
            f"| cold start / floor (median of per-pair ratios; target <= 1.15) | {ratio:.2f}x |",
            f"| `tools/list` result, {figures['tools']} tools (target <= 20 KB) | {figures['tools_list']:,} bytes |",
            f"| `get_data_asset` result, 500-char description, 15 tags | {figures['get']:,} bytes |",
            f"| `search_data_assets` result, 20 results | {figures['search20']:,} bytes |",
            "",
            "Cold start includes generating the embedded sandbox's 200 demo assets.",
            "",
        ]
    )
    from bench.bench_sandbox import write_section

    write_section(text)
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    asyncio.run(main())
