"""Sandbox search latency at scale, and the client's memory while iterating every asset.

    python bench/bench_sandbox.py                    # 10,000 and 100,000 assets (a few minutes)
    python bench/bench_sandbox.py --sizes 2000 --queries 20 --no-write   # the smoke run the tests use

Search: p50/p95 of ``POST data_assets/search`` with a free-text query and limit 100, through the full
HTTP stack in-process (auth, validation, SQLite, JSON), next to a baseline measured in the same run
on the same sandbox: ``GET data_assets/{id}``. Ratios to the baseline travel between machines better
than milliseconds do. Memory: the sandbox is served by a separate process over loopback, and this
process's Python allocations are traced (tracemalloc) while ``CodeOceanClient.iter_data_assets``
walks every asset; the figure is the peak growth over the level before iterating.

Targets (issue A): p50 < 50 ms at 100,000 assets on a 2-core machine; memory growth < 50 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import os
import platform
import random
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import httpx2

from co_mcp.api import CodeOceanClient, RetryPolicy
from co_mcp.api.models import DataAssetSearchParams
from co_mcp.sandbox import DEFAULT_TOKEN, Sandbox

QUERIES = ["rna", "imaging", "mouse", "qc", "single cell", "calcium", "gwas", "proteomics", "raw", "processed"]
RESULTS = Path(__file__).with_name("RESULTS.md")
AUTH = ("Authorization", "Basic " + __import__("base64").b64encode(f"{DEFAULT_TOKEN}:".encode()).decode())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def search_latency(size: int, queries: int) -> dict[str, Any]:
    started = time.perf_counter()
    sandbox = Sandbox(assets=size, seed=1)
    build = time.perf_counter() - started
    alice = sandbox.users["alice"].id
    ids = [record.id for record in sandbox.store.all_assets() if record.owner_id == alice][:200]
    transport = httpx2.ASGITransport(app=sandbox.app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://sandbox/api/v1/", headers=[AUTH]) as http:
        for word in QUERIES:  # warm-up: SQLite page cache, FTS structures
            await http.post("data_assets/search", json={"query": word, "limit": 100})
        search_ms: list[float] = []
        get_ms: list[float] = []
        hits: list[int] = []
        rng = random.Random(5)
        for n in range(queries):
            # Alternate search and baseline so both see the same machine state.
            t0 = time.perf_counter()
            response = await http.post("data_assets/search", json={"query": QUERIES[n % len(QUERIES)], "limit": 100})
            search_ms.append((time.perf_counter() - t0) * 1e3)
            response.raise_for_status()
            hits.append(len(response.json()["results"]))
            t0 = time.perf_counter()
            (await http.get(f"data_assets/{rng.choice(ids)}")).raise_for_status()
            get_ms.append((time.perf_counter() - t0) * 1e3)
    gather = await gather_through_mcp(sandbox)
    sandbox.close()
    return {
        **gather,
        "size": size,
        "build_s": build,
        "p50": statistics.median(search_ms),
        "p95": percentile(search_ms, 0.95),
        "get_p50": statistics.median(get_ms),
        "ratio": statistics.median(search_ms) / statistics.median(get_ms),
        "hits": statistics.median(hits),
    }


async def gather_through_mcp(sandbox: Sandbox) -> dict[str, Any]:
    """search_data_assets with max_results=1000 through the real protocol (in-process), time and memory."""
    from mcp import Client

    from co_mcp.audit import AuditLog
    from co_mcp.server import ServerOptions, build_server

    def factory() -> CodeOceanClient:
        return CodeOceanClient("http://sandbox", DEFAULT_TOKEN, transport=httpx2.ASGITransport(app=sandbox.app))

    server = build_server(factory, options=ServerOptions(audit=AuditLog("-")))
    async with Client(server, mode="legacy") as client:
        await client.call_tool("search_data_assets", {"limit": 1})  # the client, its imports, caches
        tracemalloc.start()
        before, _ = tracemalloc.get_traced_memory()
        started = time.perf_counter()
        result = await client.call_tool("search_data_assets", {"query": "rna", "max_results": 1000})
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert not result.is_error
    assert result.structured_content is not None
    return {
        "gather_count": len(result.structured_content["results"]),
        "gather_s": elapsed,
        "gather_mb": (peak - before) / 1e6,
    }


async def iteration_memory(size: int) -> dict[str, Any]:
    port = 18765 + os.getpid() % 1000
    server = subprocess.Popen(  # noqa: ASYNC220 - started once, waited on below
        [sys.executable, "-m", "co_mcp", "sandbox", "--port", str(port), "--assets", str(size), "--seed", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx2.AsyncClient(headers=[AUTH], timeout=1) as probe:
            for _ in range(600):  # generating 100k assets takes a while; wait up to two minutes
                try:
                    (await probe.get(f"{base}/api/v1/custom_metadata")).raise_for_status()
                    break
                except httpx2.HTTPError:
                    await asyncio.sleep(0.2)
        policy = RetryPolicy(attempts=3)
        async with CodeOceanClient(base, DEFAULT_TOKEN, retry=policy) as client:
            await client.search_data_assets(DataAssetSearchParams(limit=1))  # connections, imports, caches
            tracemalloc.start()
            before, _ = tracemalloc.get_traced_memory()
            started = time.perf_counter()
            count = 0
            async for _asset in client.iter_data_assets(DataAssetSearchParams(limit=1000)):
                count += 1
            elapsed = time.perf_counter() - started
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    finally:
        server.terminate()
        server.wait(timeout=10)
    return {"size": size, "count": count, "growth_mb": (peak - before) / 1e6, "seconds": elapsed}


def machine() -> str:
    return f"{os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()} {platform.machine()}"


def report(searches: list[dict[str, Any]], memory: dict[str, Any] | None) -> str:
    lines = [
        "## Sandbox search and client iteration (issue A)",
        "",
        f"Measured {dt.date.today().isoformat()} on {machine()} by `python bench/bench_sandbox.py`.",
        "",
        "| assets | build (s) | search p50 (ms) | search p95 (ms) | GET p50 (ms, baseline) | search / GET | hits |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in searches:
        lines.append(
            f"| {s['size']:,} | {s['build_s']:.1f} | {s['p50']:.1f} | {s['p95']:.1f} | {s['get_p50']:.2f} "
            f"| {s['ratio']:.1f}x | {s['hits']:.0f} |"
        )
    largest = searches[-1]
    lines += [
        "",
        f"Through the MCP tool at {largest['size']:,} assets: `search_data_assets` with `max_results=1000` gathered "
        f"{largest['gather_count']} results in {largest['gather_s'] * 1e3:.0f} ms, peak memory growth (tracemalloc, "
        f"server and sandbox in one process) {largest['gather_mb']:.1f} MB.",
    ]
    if memory is not None:
        lines += [
            "",
            f"Iterating all {memory['count']:,} assets (`iter_data_assets`, pages of 1000, sandbox in another "
            f"process over loopback): peak Python memory growth **{memory['growth_mb']:.1f} MB** "
            f"in {memory['seconds']:.1f} s.",
        ]
    lines += ["", "Targets: search p50 < 50 ms at 100,000 assets; iteration memory growth < 50 MB.", ""]
    return "\n".join(lines)


def write_section(text: str) -> None:
    """Replace this benchmark's section of RESULTS.md, keeping the others."""
    heading = text.splitlines()[0]
    old = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n\n"
    if heading in old:  # in place, so the sections keep their order
        start = old.index(heading)
        end = old.find("\n## ", start + 1)
        after = old[end + 1 :] if end != -1 else ""
        new = old[:start] + text.rstrip() + "\n" + ("\n" + after if after else "")
    else:
        new = old.rstrip() + "\n\n" + text
    RESULTS.write_text(new, encoding="utf-8")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--memory-size", type=int, default=None, help="assets to iterate (default: largest size)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args()
    # Configured first, so MCPServer's INFO-level set-up (which logs every httpx2 request) is a no-op.
    logging.basicConfig(level=logging.WARNING)
    print(f"machine: {machine()}; date {dt.date.today().isoformat()}", flush=True)
    searches = []
    for size in args.sizes:
        result = await search_latency(size, args.queries)
        print(
            f"{size:>7} assets: build {result['build_s']:.1f} s, search p50 {result['p50']:.1f} ms "
            f"p95 {result['p95']:.1f} ms, GET p50 {result['get_p50']:.2f} ms, ratio {result['ratio']:.1f}x; "
            f"max_results=1000 through MCP: {result['gather_count']} in {result['gather_s'] * 1e3:.0f} ms, "
            f"+{result['gather_mb']:.1f} MB",
            flush=True,
        )
        searches.append(result)
    memory = await iteration_memory(args.memory_size or max(args.sizes))
    print(f"iterating {memory['count']} assets: peak growth {memory['growth_mb']:.1f} MB in {memory['seconds']:.1f} s")
    text = report(searches, memory)
    if not args.no_write:
        write_section(text)
        print(f"wrote {RESULTS}")


if __name__ == "__main__":
    asyncio.run(main())
