"""The load generator: N concurrent MCP sessions over streamable HTTP against ``co-mcp --sandbox --transport http``.

Used by tests/reliability/test_load.py (``pytest -m load``) and by ``python bench/bench_load.py``, which
writes bench/RESULTS.md's load section from the same run.

The server is a real subprocess on 127.0.0.1 (a free port), with its embedded sandbox of 200 demo
assets and its audit log in a scratch file. Each session is an ``mcp.Client`` over streamable HTTP that
loops, until the time is up, over a mix of reads (search, get, permissions, list files, the metadata
schema) and guarded writes on an asset of its own: archive (preview, confirm with the token) then
unarchive, and share (preview, confirm), alternating a role so each share is a real change.

A call is an error when it raises, returns ``isError``, or (for a guarded tool) the preview carries no
token or the confirmation does not perform. Latency is per tool call, as the client sees it; the load
generator runs in one Python process on the same machine, so on 2 cores its own CPU is part of it.
Server memory is the subprocess's RSS after a warm-up session (start), sampled every half second,
and at the end.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import httpx2
import psutil
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, TextContent

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

ROOT = Path(__file__).resolve().parents[2]
CAROL = "carol@example.org"
CALL_TIMEOUT = 30.0
# The bearer token the server under load requires (CO_MCP_HTTP_TOKEN) and every session sends; new each run.
BEARER = secrets.token_urlsafe(32)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def co_mcp_http(port: int) -> Iterator[subprocess.Popen[bytes]]:
    """``co-mcp --sandbox --transport http`` on 127.0.0.1:``port``, until the block ends."""
    scratch = Path(tempfile.mkdtemp(prefix="co-mcp-load-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CODEOCEAN_", "CO_MCP_"))}
    env["CO_MCP_AUDIT_LOG"] = str(scratch / "audit.jsonl")
    env["CO_MCP_HTTP_TOKEN"] = BEARER  # as deployed: every request carries it
    command = [sys.executable, "-m", "co_mcp", "--sandbox", "--transport", "http", "--port", str(port)]
    with (scratch / "stderr.log").open("wb") as stderr:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            deadline = time.monotonic() + 30
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"co-mcp exited with {proc.returncode}: {(scratch / 'stderr.log').read_text()}")
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError("co-mcp did not listen within 30 s")
                time.sleep(0.05)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


@contextlib.asynccontextmanager
async def connect(url: str) -> AsyncIterator[Client]:
    """An MCP client of ``url`` sending the bearer token, with the SDK's own HTTP timeouts (30 s; 300 s read)."""
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {BEARER}"}, timeout=httpx2.Timeout(30.0, read=300.0))
    async with http, Client(streamable_http_client(url, http_client=http)) as client:
        yield client


# --- what one session does ------------------------------------------------------------------------


@dataclass
class Sample:
    kind: str  # read, preview, confirm, write
    tool: str
    seconds: float
    error: str | None


@dataclass
class Samples:
    items: list[Sample] = field(default_factory=list)
    # Confirmations refused because the previewed state changed (another session archived an asset
    # that depends on this one): the guard doing its job, confirmed again with the fresh token.
    refused: int = 0


def text_of(result: CallToolResult) -> str:
    return " ".join(block.text for block in result.content if isinstance(block, TextContent))


def ids_of(result: CallToolResult) -> list[str]:
    content = result.structured_content or {}
    return [str(item["id"]) for item in content.get("results") or content.get("assets") or []]


async def timed(
    client: Client, samples: Samples, kind: str, tool: str, arguments: dict[str, Any]
) -> CallToolResult | None:
    """One tool call, sampled; None if it raised (the error is recorded)."""
    started = time.perf_counter()
    try:
        with anyio.fail_after(CALL_TIMEOUT):
            result = await client.call_tool(tool, arguments)
    except Exception as exc:  # anything at all is an error of the load run, recorded and survived
        samples.items.append(Sample(kind, tool, time.perf_counter() - started, f"{type(exc).__name__}: {exc}"))
        return None
    error = f"isError: {text_of(result)[:200]}" if result.is_error else None
    samples.items.append(Sample(kind, tool, time.perf_counter() - started, error))
    return None if result.is_error else result


def flag(samples: Samples, message: str) -> None:
    """Mark the last call as an error (a guarded call that did not do what it should)."""
    last = samples.items[-1]
    if last.error is None:
        last.error = message


async def guarded(client: Client, samples: Samples, tool: str, arguments: dict[str, Any]) -> bool:
    """Preview, then confirm with the token as a user saying yes would; whether the action was performed."""
    preview = await timed(client, samples, "preview", tool, arguments)
    if preview is None:
        return False
    token = (preview.structured_content or {}).get("confirm_token")
    if not token:
        flag(samples, f"no confirm_token: {text_of(preview)[:200]}")
        return False
    for attempt in range(3):  # a refusal for a changed state comes with a fresh preview and token
        confirmed = await timed(client, samples, "confirm", tool, {**arguments, "confirm_token": token})
        if confirmed is None:
            return False
        content = confirmed.structured_content or {}
        if content.get("performed"):
            return True
        token = content.get("confirm_token")
        if not token or attempt == 2:
            flag(samples, f"not performed: {text_of(confirmed)[:200]}")
            return False
        samples.refused += 1
    return False


async def carol_role(client: Client, samples: Samples, asset: str) -> str:
    """Carol's role on ``asset`` now (demo data shares some assets with her already), or "none"."""
    found = await timed(client, samples, "read", "get_data_asset_permissions", {"data_asset_id": asset})
    users = (found.structured_content or {}).get("users") or [] if found is not None else []
    return next((str(u.get("role")) for u in users if u.get("email") == CAROL), "none")


SEARCHES = ("rna", "imaging", "liver", "cell", "sequencing", "")


async def session(url: str, own: str, readable: list[str], listable: str, until: float, samples: Samples) -> None:
    async with connect(url) as client:
        role = await carol_role(client, samples, own)
        for step in range(1_000_000):  # bounded; the clock ends it
            if time.monotonic() >= until:
                return
            query = SEARCHES[step % len(SEARCHES)]
            action = step % 9
            if action in (0, 5):
                await timed(client, samples, "read", "search_data_assets", {"query": query, "limit": 20})
            elif action in (1, 8):
                await timed(client, samples, "read", "get_data_asset", {"data_asset_ids": [own, *readable[:2]]})
            elif action == 2:
                await guarded(client, samples, "archive_data_asset", {"data_asset_ids": [own]})
                await timed(client, samples, "write", "unarchive_data_asset", {"data_asset_id": own})
            elif action == 3:
                await timed(client, samples, "read", "get_data_asset_permissions", {"data_asset_id": own})
            elif action == 4:
                await timed(client, samples, "read", "list_data_asset_files", {"data_asset_id": listable})
            elif action == 6:
                wanted = "editor" if role == "viewer" else "viewer"
                share = {"data_asset_ids": [own], "users": [{"email": CAROL, "role": wanted}]}
                if await guarded(client, samples, "share_data_asset", share):
                    role = wanted
            else:
                await timed(client, samples, "read", "get_custom_metadata_schema", {})


async def discover(url: str, sessions: int) -> tuple[list[str], str]:
    """Ready assets of the primary user, one per session, and an internal dataset to list.

    Datasets and models first, results next, combined assets last: archiving a combined asset or a
    result changes what the preview of its inputs shows, so sessions owning them disturb each other.
    """
    async with connect(url) as client:
        mine: list[str] = []
        for kind in ("dataset", "model", "result", "combined"):
            found = await client.call_tool("search_data_assets", {"ownership": "created", "type": kind, "limit": 100})
            mine += ids_of(found)
        ready: list[str] = []
        for start in range(0, len(mine), 50):
            got = await client.call_tool("get_data_asset", {"data_asset_ids": mine[start : start + 50]})
            assets = (got.structured_content or {}).get("assets") or []
            ready += [a["id"] for a in assets if a.get("state") == "ready"]
        internal = ids_of(
            await client.call_tool("search_data_assets", {"origin": "internal", "type": "dataset", "limit": 20})
        )
        listable = ""
        for candidate in internal:
            if not (await client.call_tool("list_data_asset_files", {"data_asset_id": candidate})).is_error:
                listable = candidate
                break
        # Warm every path once, so "start" memory is the server at work, not a cold import.
        await client.call_tool("get_custom_metadata_schema", {})
        await client.call_tool("get_data_asset_permissions", {"data_asset_id": ready[0]})
    if len(ready) < sessions or not listable:
        raise RuntimeError(f"the embedded sandbox has {len(ready)} ready assets for {sessions} sessions")
    return ready, listable


# --- the run ------------------------------------------------------------------------------------------


@dataclass
class LoadResult:
    sessions: int
    seconds: float
    calls: int
    errors: int
    examples: list[str]
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    confirm_p95_ms: float
    writes: int  # guarded confirmations and unarchives
    refused: int  # confirmations refused for a changed state, then confirmed again
    server_cpu_pct: float  # of one core, over the run
    rss_start_mb: float
    rss_end_mb: float
    rss_peak_mb: float
    rss_half_mb: float  # halfway through: growth after it would be a leak, not a warm-up

    @property
    def second_half_growth_mb(self) -> float:
        return self.rss_end_mb - self.rss_half_mb

    @property
    def error_rate(self) -> float:
        return self.errors / self.calls if self.calls else 1.0

    def figures(self) -> dict[str, object]:
        """The ``load.*`` figures, as the reliability suite prints them and ``report`` reads them."""
        return {
            "error_rate_pct": round(100 * self.error_rate, 3),
            "errors": self.errors,
            "calls": self.calls,
            "sessions": self.sessions,
            "seconds": round(self.seconds, 1),
            "p50_ms": _shown(self.p50_ms),
            "p95_ms": _shown(self.p95_ms),
            "p99_ms": _shown(self.p99_ms),
            "max_ms": _shown(self.max_ms),
            "rss_start_mb": _shown(self.rss_start_mb),
            "rss_end_mb": _shown(self.rss_end_mb),
            "rss_peak_mb": _shown(self.rss_peak_mb),
            "rss_second_half_growth_mb": _shown(self.second_half_growth_mb),
            "calls_per_s": _shown(self.calls / self.seconds),
            "writes": self.writes,
            "refused_changed": self.refused,
            "confirm_p95_ms": _shown(self.confirm_p95_ms),
            "server_cpu_pct": round(self.server_cpu_pct),
        }


def _shown(value: float) -> float | int:
    """Three significant figures at most, never in exponent form: 12.3, 456, 1234."""
    return round(value) if abs(value) >= 100 else round(value, 1)


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[max(0, min(998, round(share * 1000) - 1))]


async def run_load(sessions: int, seconds: float) -> LoadResult:
    port = free_port()
    with co_mcp_http(port) as proc:
        url = f"http://127.0.0.1:{port}/mcp"
        server = psutil.Process(proc.pid)
        ready, listable = await discover(url, sessions)
        start_rss = server.memory_info().rss
        start_cpu = sum(server.cpu_times()[:2])
        peak = start_rss
        half_rss = start_rss
        samples = Samples()
        started = time.monotonic()
        until = started + seconds

        async def watch_memory() -> None:
            nonlocal peak, half_rss
            for _ in range(int(seconds * 2) + 20):  # bounded; the sessions end first
                rss = server.memory_info().rss
                peak = max(peak, rss)
                if time.monotonic() - started <= seconds / 2:
                    half_rss = rss  # the last sample of the first half: warm-up growth ends before it
                await anyio.sleep(0.5)

        async with anyio.create_task_group() as group:
            watcher = anyio.CancelScope()

            async def watch() -> None:
                with watcher:
                    await watch_memory()

            group.start_soon(watch)
            async with anyio.create_task_group() as clients:
                for index in range(sessions):
                    readable = [ready[(index + 1) % len(ready)], ready[(index + 2) % len(ready)]]
                    clients.start_soon(session, url, ready[index], readable, listable, until, samples)
            watcher.cancel()
        elapsed = time.monotonic() - started
        end_rss = server.memory_info().rss
        server_cpu = sum(server.cpu_times()[:2]) - start_cpu
        peak = max(peak, end_rss)
    durations = sorted(s.seconds * 1e3 for s in samples.items)
    errors = [s for s in samples.items if s.error]
    confirms = [s.seconds * 1e3 for s in samples.items if s.kind == "confirm"]
    mb = 1024 * 1024
    return LoadResult(
        sessions=sessions,
        seconds=elapsed,
        calls=len(samples.items),
        errors=len(errors),
        examples=[f"{s.tool}: {s.error}" for s in errors[:5]],
        p50_ms=percentile(durations, 0.50),
        p95_ms=percentile(durations, 0.95),
        p99_ms=percentile(durations, 0.99),
        max_ms=durations[-1] if durations else 0.0,
        confirm_p95_ms=percentile(sorted(confirms), 0.95),
        writes=sum(1 for s in samples.items if s.kind in ("confirm", "write") and not s.error),
        refused=samples.refused,
        server_cpu_pct=100 * server_cpu / elapsed,
        rss_start_mb=start_rss / mb,
        rss_end_mb=end_rss / mb,
        rss_peak_mb=peak / mb,
        rss_half_mb=half_rss / mb,
    )
