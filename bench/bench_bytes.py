"""Bytes that reach the model, in each kind of host, against the official codeocean-mcp-server in the same kind.

    python bench/bench_bytes.py [--no-official] [--no-write]

Hosts differ in what they hand the model from one tool result: the ``content`` text only, the
``structuredContent`` only (Claude Code 2.1.328 and Codex 0.169.0 pass it as compact JSON, seen in December
2026), or both. A result is measured as each kind of host passes it on; a host given no structured
content falls back to the text. Beside each figure: the bytes of the bare facts (every value of the structured
content, or of the official server's, with no keys, quotes or punctuation), so the overhead is visible.

Also: the tool definitions a model sees (name, title, description and inputSchema of every tool), with the
outputSchema bytes beside them. Both servers run against one ``co-mcp sandbox`` on loopback, on the asset and
search of ``bench_official.py`` (a 500-character description, 15 tags; alice's first 20 results).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HOSTS = ("content only", "structured only", "both")


def wire(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def seen_by(result: dict[str, Any], host: str) -> int:
    """Bytes the model gets from one result (the result as dumped by the client, JSON field names)."""
    text = sum(len(block.get("text", "").encode()) for block in result.get("content") or [])
    structured = result.get("structuredContent")
    if host == "content only" or structured is None:
        return text
    if host == "structured only":
        return wire(structured)
    return text + wire(structured)


def bare_facts(value: Any) -> int:
    """The bytes of every non-null value, without keys, quotes or punctuation."""
    if isinstance(value, dict):
        return sum(bare_facts(v) for v in value.values())
    if isinstance(value, list):
        return sum(bare_facts(v) for v in value)
    if value is None:
        return 0
    return len((json.dumps(value) if isinstance(value, bool) else str(value)).encode())


def facts_of(result: dict[str, Any]) -> int:
    structured = result.get("structuredContent")
    if structured is not None:
        return bare_facts(structured)
    text = "".join(block.get("text", "") for block in result.get("content") or [])
    try:
        return bare_facts(json.loads(text))
    except ValueError:
        return len(text.encode())


def definitions(tools: list[dict[str, Any]]) -> tuple[int, int]:
    """(name, title, description, inputSchema of every tool; their outputSchemas), in bytes."""
    seen = [{k: t[k] for k in ("name", "title", "description", "inputSchema") if k in t} for t in tools]
    return wire(seen), wire([t.get("outputSchema") for t in tools if t.get("outputSchema")])


async def measure(server: Any, domain: str, asset_id: str) -> dict[str, Any]:
    from bench.bench_official import dump, session

    async with session(server, domain) as client:
        tools = [dump(t) for t in (await client.list_tools()).tools]
        get = dump(await client.call_tool(*server.get_call(asset_id)))
        search = dump(await client.call_tool(*server.search_call()))
    return {"tools": tools, "get": get, "search": search}


def hits(result: dict[str, Any]) -> int:
    structured = result.get("structuredContent") or {}
    for key in ("results", "items"):
        if isinstance(structured.get(key), list):
            return len(structured[key])
    return 0


def facts_per_hit(result: dict[str, Any]) -> float:
    structured = result.get("structuredContent") or {}
    found: list[dict[str, Any]] = next(
        (structured[k] for k in ("results", "items") if isinstance(structured.get(k), list)), []
    )
    counts = [sum(1 for v in hit.values() if v is not None) for hit in found]
    return sum(counts) / len(counts) if counts else 0.0


async def run(with_official: bool) -> list[str]:
    from bench.bench_official import (
        OFFICIAL,
        OFFICIAL_DATA_ASSET_TOOLS,
        machine,
        official,
        official_python,
        ours,
        prepare_asset,
        sandbox,
    )

    with sandbox() as domain:
        asset_id = await prepare_asset(domain)
        mine = await measure(ours(), domain, asset_id)
        theirs = await measure(official(official_python()), domain, asset_id) if with_official else None

    def ratio(x: float, y: float) -> str:
        return f"{x / y:.2f}x" if y else "n/a"

    rows = []
    for label, key in (("get_data_asset, one asset", "get"), ("search_data_assets, 20 results", "search")):
        a = mine[key]
        b = theirs[key] if theirs else {}
        for host in HOSTS:
            ours_bytes, their_bytes = seen_by(a, host), seen_by(b, host) if theirs else 0
            rows.append(
                f"| {label}: {host} | {ours_bytes:,} ({facts_of(a):,}) | "
                f"{their_bytes:,} ({facts_of(b) if theirs else 0:,}) | {ratio(ours_bytes, their_bytes)} |"
            )
    a_defs, a_out = definitions(mine["tools"])
    subset = [t for t in theirs["tools"] if t["name"] in OFFICIAL_DATA_ASSET_TOOLS] if theirs else []
    b_defs, b_out = definitions(subset)
    rows.append(
        f"| tool definitions a model sees (ours: all {len(mine['tools'])}; official: its {len(subset)} data-asset "
        f"tools) | {a_defs:,} | {b_defs:,} | {ratio(a_defs, b_defs)} |"
    )
    rows.append(f"| their outputSchemas | {a_out:,} | {b_out:,} | {ratio(a_out, b_out)} |")
    for row in rows:
        print(row, flush=True)
    per_hit = (
        f"Facts per search hit (non-null fields of the structured content): co_mcp "
        f"{facts_per_hit(mine['search']):.1f} over {hits(mine['search'])} hits"
        + (f", official {facts_per_hit(theirs['search']):.1f}." if theirs else ".")
    )
    print(per_hit, flush=True)
    return [
        "## Bytes that reach the model, per kind of host (issue G)",
        "",
        f"Measured {dt.date.today().isoformat()} on {machine()} by `python bench/bench_bytes.py`, against "
        f"`{OFFICIAL}` on the same sandbox. Each result as a host of each kind hands it to the model: the text "
        "only, the structured content only (compact JSON, as Claude Code and Codex pass it), or both. In "
        "brackets: the bytes of the bare facts (every value, no keys, quotes or punctuation).",
        "",
        "| figure | co_mcp bytes (bare facts) | official bytes (bare facts) | co_mcp / official |",
        "|---|---:|---:|---:|",
        *rows,
        "",
        f"- {per_hit}",
        "",
    ]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-official", action="store_true", help="measure co_mcp alone (no PyPI install)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    lines = await run(not args.no_official)
    if not args.no_write:
        from bench.bench_sandbox import write_section

        write_section("\n".join(lines))
        print("wrote bench/RESULTS.md")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    asyncio.run(main())
