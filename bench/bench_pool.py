"""The client's connection pool under bursts: CPU per call with co_mcp's pool against httpx2's stock one.

    python bench/bench_pool.py              # 20 alternating pairs of bursts; writes its section of RESULTS.md
    python bench/bench_pool.py --pairs 1 --no-write                   # the smoke run the tests use

Two ``CodeOceanClient``s in this process, one on ``co_mcp.api.pool.PooledTransport`` (the default) and one on
``httpx2.AsyncHTTPTransport`` with the same limits, each getting one asset 32 times at once from a
``co-mcp sandbox`` on loopback with 100 ms latency: the pool then holds 32 connections, idle between bursts.
Reports the process CPU time per call of each (``time.process_time`` around each burst, both clients alternating
after a warm-up burst) and the median of the per-pair ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

import httpx2

from co_mcp.api import CodeOceanClient
from co_mcp.api.client import DEFAULT_LIMITS

ROOT = Path(__file__).resolve().parents[1]
CALLS = 32


async def burst(client: CodeOceanClient, asset_id: str) -> float:
    """CPU time per call of one burst, in ms."""
    started = time.process_time()
    await asyncio.gather(*(client.get_data_asset(asset_id) for _ in range(CALLS)))
    return (time.process_time() - started) / CALLS * 1e3


async def run(pairs: int) -> list[str]:
    from bench.bench_official import TOKEN, machine, prepare_asset, sandbox

    with sandbox("latency:100ms") as domain:
        asset_id = await prepare_asset(domain)
        ours = CodeOceanClient(domain, TOKEN)
        stock = CodeOceanClient(domain, TOKEN, transport=httpx2.AsyncHTTPTransport(limits=DEFAULT_LIMITS))
        mine: list[float] = []
        theirs: list[float] = []
        async with ours, stock:
            await burst(ours, asset_id)  # warm-up: 32 connections each
            await burst(stock, asset_id)
            for n in range(pairs):
                # Which goes first alternates too, so that neither always follows the other's burst.
                first, second = ((ours, mine), (stock, theirs)) if n % 2 == 0 else ((stock, theirs), (ours, mine))
                for client, into in (first, second):
                    into.append(await burst(client, asset_id))
    ratio = statistics.median(a / b for a, b in zip(mine, theirs, strict=True))
    line = (
        f"Client CPU per call in bursts of {CALLS} gets (100 ms upstream latency, a pool of 32 connections): "
        f"co_mcp's pool {statistics.median(mine):.2f} ms (min {min(mine):.2f}), httpx2's stock pool "
        f"{statistics.median(theirs):.2f} ms (min {min(theirs):.2f}): **{ratio:.2f}x**, the median of {pairs} "
        "per-pair ratios."
    )
    print(line, flush=True)
    return [
        "## Client pool under bursts (issue E)",
        "",
        f"Measured {dt.date.today().isoformat()} on {machine()} by `python bench/bench_pool.py`.",
        "",
        line,
        "",
        "httpcore2 asks every idle connection whether the server has closed it each time a request joins or leaves "
        "the pool; co_mcp's streams answer from the socket kept at connect time instead of anyio's attribute "
        "table (`co_mcp/api/pool.py`).",
        "",
    ]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    lines = await run(args.pairs)
    if not args.no_write:
        from bench.bench_sandbox import write_section

        write_section("\n".join(lines))
        print("wrote bench/RESULTS.md")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    asyncio.run(main())
