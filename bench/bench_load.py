"""Load over streamable HTTP: N concurrent MCP sessions against ``co-mcp --sandbox --transport http``.

    python bench/bench_load.py                                  # 50 sessions, 60 s; writes bench/RESULTS.md
    python bench/bench_load.py --sessions 5 --seconds 3 --no-write

The load generator is tests/reliability/load.py (what a session does, what counts as an error, how
memory is sampled); this command runs it and writes its figures into bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEADING = "## Load over streamable HTTP (issue F)"


def machine() -> str:
    return f"{os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()} {platform.machine()}"


def report(figures: dict[str, str], *, command: str, date: str | None = None) -> str:
    """The RESULTS.md section from the ``load.*`` figures (names without the prefix, values as printed)."""
    f = figures
    return "\n".join(
        [
            HEADING,
            "",
            f"Measured {date or dt.date.today().isoformat()} on {machine()} by `{command}`: {f['sessions']} "
            f"concurrent MCP sessions over streamable HTTP for {f['seconds']} s against "
            "`co-mcp --sandbox --transport http` (a subprocess; the load generator is one Python process on the "
            "same machine). Each session mixes reads with guarded writes on an asset of its own (archive "
            "preview + confirm, unarchive; share preview + confirm).",
            "",
            "| figure | value |",
            "|---|---:|",
            f"| tool calls (per second) | {int(f['calls']):,} ({f['calls_per_s']}/s) |",
            f"| of which writes (confirmed guarded actions, unarchives) | {int(f['writes']):,} |",
            f"| confirmations refused because the previewed state changed, then confirmed again | "
            f"{f['refused_changed']} |",
            f"| errors (target < 0.1 %) | {f['errors']} ({f['error_rate_pct']} %) |",
            f"| latency p50 / p95 / p99 / max | {f['p50_ms']} / {f['p95_ms']} / {f['p99_ms']} / {f['max_ms']} ms |",
            f"| guarded confirmation p95 (plan again, then act) | {f['confirm_p95_ms']} ms |",
            f"| server RSS at start / end (peak) | {f['rss_start_mb']} / {f['rss_end_mb']} MB "
            f"({f['rss_peak_mb']} MB) |",
            f"| of which grown in the second half of the run | {f['rss_second_half_growth_mb']} MB |",
            f"| server CPU over the run (% of one core) | {f['server_cpu_pct']} % |",
            "",
            "Start is after a warm-up session; the sandbox runs inside the server process, so its SQLite store "
            "is part of the memory. A refused confirmation is not an error: another session archived an asset "
            "that uses this one between preview and confirmation, and the guard refused to act on a preview "
            "that no longer holds.",
            "",
        ]
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args()
    from tests.reliability.load import run_load

    print(f"machine: {machine()}; date {dt.date.today().isoformat()}", flush=True)
    result = await run_load(args.sessions, args.seconds)
    figures = result.figures()
    print(" ".join(f"{key}={value}" for key, value in figures.items()), flush=True)
    for example in result.examples:
        print(f"error: {example}", flush=True)
    if not args.no_write:
        from bench.bench_sandbox import write_section

        command = f"python bench/bench_load.py --sessions {args.sessions} --seconds {args.seconds:g}"
        write_section(report({k: str(v) for k, v in figures.items()}, command=command))
        print("wrote bench/RESULTS.md")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    asyncio.run(main())
