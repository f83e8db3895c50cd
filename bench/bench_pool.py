"""What httpx2's connection pool costs the client under bursts: one shared pool against pools of one connection.

    python bench/bench_pool.py              # 20 alternating pairs of bursts; writes its section of RESULTS.md
    python bench/bench_pool.py --pairs 1 --no-write                   # the smoke run the tests use

Each burst gets one asset 32 times at once from a ``co-mcp sandbox`` on loopback with 100 ms latency, so 32
connections are open and idle between bursts. Two set-ups alternate, after a warm-up burst each:

- shared: one ``CodeOceanClient`` with its default limits, as co_mcp runs: one pool of 32 connections;
- single: 32 ``CodeOceanClient``s with one connection each, one call per client: the same 32 requests on the same
  32 sockets at once, but every pool holds a single connection.

httpx2's pool walks all of its connections each time a request joins or leaves it, and asks each idle one whether
the server has closed it, so its cost per call grows with the pool's size; everything else (co_mcp's own work,
the HTTP exchange, the event loop's 32 sockets) is the same in both. Reports the process CPU time per call of each
(``time.process_time`` around each burst) and the median of the per-pair ratios shared / single: what the pool's
bookkeeping costs, which an incremental pool (pydantic/httpx2#1169) would take towards 1.0x.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import sys
import time
from contextlib import AsyncExitStack
from pathlib import Path

import httpx2

from co_mcp.api import CodeOceanClient

ROOT = Path(__file__).resolve().parents[1]
CALLS = 32
ONE_CONNECTION = httpx2.Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=30.0)


async def burst(clients: list[CodeOceanClient], asset_id: str) -> float:
    """CPU time per call of one burst of ``CALLS`` gets, spread over ``clients`` in turn, in ms."""
    started = time.process_time()
    await asyncio.gather(*(clients[n % len(clients)].get_data_asset(asset_id) for n in range(CALLS)))
    return (time.process_time() - started) / CALLS * 1e3


async def run(pairs: int) -> list[str]:
    from bench.bench_official import TOKEN, machine, prepare_asset, sandbox

    with sandbox("latency:100ms") as domain:
        asset_id = await prepare_asset(domain)
        async with AsyncExitStack() as stack:
            shared = [await stack.enter_async_context(CodeOceanClient(domain, TOKEN))]
            single = [
                await stack.enter_async_context(CodeOceanClient(domain, TOKEN, limits=ONE_CONNECTION))
                for _ in range(CALLS)
            ]
            await burst(shared, asset_id)  # warm-up: 32 connections each way
            await burst(single, asset_id)
            one_pool: list[float] = []
            many_pools: list[float] = []
            for n in range(pairs):
                # Which goes first alternates too, so that neither always follows the other's burst.
                order = [(shared, one_pool), (single, many_pools)]
                for clients, into in order if n % 2 == 0 else reversed(order):
                    into.append(await burst(clients, asset_id))
    ratio = statistics.median(a / b for a, b in zip(one_pool, many_pools, strict=True))
    line = (
        f"Client CPU per call in bursts of {CALLS} gets (100 ms upstream latency): one pool of {CALLS} connections "
        f"{statistics.median(one_pool):.2f} ms (min {min(one_pool):.2f}), {CALLS} pools of one connection "
        f"{statistics.median(many_pools):.2f} ms (min {min(many_pools):.2f}): **{ratio:.2f}x**, the median of "
        f"{pairs} per-pair ratios."
    )
    print(line, flush=True)
    return [
        "## Client pool under bursts (issue E; stock pool since issue I)",
        "",
        f"Measured {dt.date.today().isoformat()} on {machine()} by `python bench/bench_pool.py`.",
        "",
        line,
        "",
        "The excess is httpx2's pool bookkeeping: it walks every connection each time a request joins or leaves "
        "the pool, and asks each idle one whether the server has closed it.",
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
