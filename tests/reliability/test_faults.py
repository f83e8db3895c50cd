"""Faults, through the MCP tools: nothing lost, nothing created twice, every call answers in time.

A real MCP server (``build_server``, token confirmation) talks to the sandbox over loopback HTTP with
short timeouts, while the sandbox injects faults: commit-then-fail on every write, 429 storms with
Retry-After, 5xx bursts, latency beyond the read timeout, dropped connections. The store is the
witness. Figures (``FIGURE faults.*``), as counted over every write the suite makes:

- **writes_lost**: writes a tool acknowledged (a create's id, an update's result, a guarded item
  ``done``) whose effect is not in the store afterwards.
- **writes_misreported**: writes a tool reported as failed whose effect *is* in the store (checked
  after every in-flight request has landed), unless the report said the outcome was unknown ("may
  or may not"). A failure is honest when the change is absent or the text admits it may be there.
- **unconfirmed_writes**: effects in the store of guarded writes that were only previewed, never
  confirmed (a refused or unactionable confirmation included).
- **duplicate_creates**: create calls (one name each) that left more than one asset of that name.
- **calls_over_deadline**: tool calls that took longer than their deadline: the sequential upstream
  requests the tool makes at most, times the retry budget of one request, plus a second.
- **unclear_errors**: error results without text, or with the internal-error text.
- **connections_left_open**: TCP connections to the sandbox (and to the MCP server over HTTP) not
  closed five seconds after the MCP client closed.
- **serving_after**: calls that failed once the faults were lifted (a search and a get per rig).

``CO_MCP_RELIABILITY_FULL=1``: 108 create trials and 72 other writes under single faults, 8-second
fault windows with 4 workers. Default: 9 creates, 8 other writes, 0.6-second windows, 2 workers.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import anyio
import httpx2
import psutil
import pytest
from mcp import Client
from mcp.types import CallToolResult, TextContent

from co_mcp.api import CodeOceanClient, RetryPolicy
from co_mcp.audit import AuditLog
from co_mcp.config import Settings
from co_mcp.confirm import TokenSigner
from co_mcp.sandbox import Sandbox
from co_mcp.sandbox.faults import FaultPlan
from co_mcp.sandbox.records import AssetRecord
from co_mcp.sandbox.server import running, serving
from co_mcp.server import ServerOptions, build_server, http_app
from tests.conftest import SECRET
from tests.reliability.figures import FULL, figure_line

pytestmark = [pytest.mark.anyio, pytest.mark.reliability]

# --- the client's budget, and what a tool call may take ------------------------------------------

TIMEOUT = httpx2.Timeout(0.3, connect=0.3)
POLICY = RetryPolicy(attempts=6, timeout=2.0, wait_initial=0.01, wait_max=0.05, wait_jitter=0.01, max_retry_after=0.05)
RECONCILE = (0.0, 0.2)
SLOW = 0.6  # injected latency and stalls: twice the read timeout
# One request with all its retries: the retry window, then one last attempt's connect + write + read.
REQUEST_BUDGET = POLICY.timeout + 3 * 0.3 + POLICY.wait_max
MARGIN = 1.0
# The most upstream requests a call makes one after another (parallel ones count once).
PHASES: dict[tuple[str, str], int] = {
    ("search_data_assets", "call"): 1,
    ("get_data_asset", "call"): 1,
    ("get_data_asset_permissions", "call"): 1,
    ("create_data_asset", "call"): 1 + len(RECONCILE) + 2,  # POST, reconcile searches, strip PUT + read-back
    ("update_data_asset", "call"): 2,  # PUT, read-back GET
    ("archive_data_asset", "preview"): 4,  # GET, archived search, two dependents searches
    ("archive_data_asset", "confirm"): 5,
    ("share_data_asset", "preview"): 2,  # GET, permissions
    ("share_data_asset", "confirm"): 3,
    ("delete_data_asset", "preview"): 3,
    ("delete_data_asset", "confirm"): 5,  # the plan, DELETE, read-back GET
}
HONEST = "may or may not"
INTERNAL = "Internal error in co_mcp"
CAROL = "carol@example.org"

Op = Literal["create", "update", "archive", "share", "delete"]
OPS: tuple[Op, ...] = ("create", "update", "archive", "share", "delete")
UPSTREAM: dict[Op, str] = {
    "create": "create",
    "update": "update",
    "archive": "archive",
    "share": "set_permissions",
    "delete": "delete",
}


def deadline(tool: str, stage: str) -> float:
    extra = sum(RECONCILE) if tool == "create_data_asset" else 0.0
    return PHASES[(tool, stage)] * REQUEST_BUDGET + extra + MARGIN


# --- what the suite counts --------------------------------------------------------------------------


@dataclass
class Write:
    """One write through its tool, and what the tool reported."""

    op: Op
    fault: str
    reported: Literal["acknowledged", "failed", "not_sent"]
    text: str
    applied: Callable[[], bool]  # whether the write's effect is in the store now
    name: str = ""  # creates: the unique name asked for


@dataclass
class Ledger:
    calls: int = 0
    over_deadline: list[str] = field(default_factory=list)
    worst_share: float = 0.0  # the largest duration / deadline seen
    unclear: list[str] = field(default_factory=list)
    connections_open: int = 0
    serving_failures: int = 0
    totals: dict[str, int] = field(default_factory=dict)  # every test's verdict, added up

    def tally(self, verdict: dict[str, int], writes: int) -> None:
        for key, value in {**verdict, "writes": writes}.items():
            self.totals[key] = self.totals.get(key, 0) + value

    def verdict(self, sandbox: Sandbox, writes: list[Write]) -> dict[str, int]:
        """Classify ``writes`` against the store as it is now (call once in-flight requests have landed)."""
        counts = dict.fromkeys(
            ("lost", "misreported", "unconfirmed", "duplicates", "acknowledged", "failed_absent", "failed_unknown"),
            0,
        )
        names: dict[str, int] = {}
        for record in sandbox.store.all_assets():
            names[record.name] = names.get(record.name, 0) + 1
        for write in writes:
            applied = write.applied()
            if write.reported == "acknowledged":
                counts["acknowledged"] += 1
                counts["lost"] += not applied
            elif write.reported == "failed":
                if not applied:
                    counts["failed_absent"] += 1
                elif HONEST in write.text:
                    counts["failed_unknown"] += 1
                else:
                    counts["misreported"] += 1
            else:
                counts["unconfirmed"] += applied
            if write.op == "create":
                counts["duplicates"] += names.get(write.name, 0) > 1
        return counts


def suspects(writes: list[Write]) -> list[tuple[str, str, str, str]]:
    """The writes behind a non-zero figure, for the assertion message: (op, fault, reported, text)."""
    wrong: list[tuple[str, str, str, str]] = []
    for w in writes:
        applied = w.applied()
        if (
            (w.reported == "acknowledged" and not applied)
            or (w.reported == "failed" and applied and HONEST not in w.text)
            or (w.reported == "not_sent" and applied)
        ):
            wrong.append((w.op, w.fault, w.reported, w.text[:600]))
    return wrong


@pytest.fixture(scope="module")
def ledger(pytestconfig: pytest.Config) -> Iterator[Ledger]:
    book = Ledger()
    yield book
    if not book.calls:
        return
    # Printed past the capture, like figures.emit, once every test of the module has added its share.
    line = figure_line(
        "faults",
        {
            "writes_lost": book.totals.get("lost", 0),
            "writes_misreported": book.totals.get("misreported", 0),
            "unconfirmed_writes": book.totals.get("unconfirmed", 0),
            "duplicate_creates": book.totals.get("duplicates", 0),
            "write_trials": book.totals.get("writes", 0),
            "tool_calls": book.calls,
            "calls_over_deadline": len(book.over_deadline),
            "worst_share_of_deadline": round(book.worst_share, 3),
            "unclear_errors": len(book.unclear),
            "connections_left_open": book.connections_open,
            "serving_after_failures": book.serving_failures,
        },
    )
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(f"\n{line}", flush=True)


# --- the rig: sandbox over loopback, MCP server in-process or over HTTP -----------------------------


def text_of(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


def open_connections(ports: list[int]) -> int:
    """TCP connections of this process to or from ``ports`` that are not closed (TIME_WAIT counts as closed)."""
    done = {psutil.CONN_LISTEN, psutil.CONN_TIME_WAIT, psutil.CONN_CLOSE, psutil.CONN_NONE}
    return sum(
        1
        for c in psutil.Process().net_connections(kind="tcp")
        if c.status not in done and (c.laddr.port in ports or (c.raddr and c.raddr.port in ports))
    )


async def settled_connections(ports: list[int], seconds: float = 5.0) -> int:
    """Open connections once the server had up to ``seconds`` to notice closes and finish stalled work."""
    for _ in range(int(seconds / 0.05)):
        if not open_connections(ports):
            return 0
        await anyio.sleep(0.05)
    return open_connections(ports)


@dataclass
class Rig:
    sandbox: Sandbox
    client: Client
    ledger: Ledger
    writes: list[Write] = field(default_factory=list)
    counter: Iterator[int] = field(default_factory=itertools.count)

    async def call(self, tool: str, arguments: dict[str, Any], stage: str = "call") -> CallToolResult:
        limit = deadline(tool, stage)
        started = time.monotonic()
        # A hang fails the test outright: well past the deadline, not a figure to average away.
        with anyio.fail_after(limit + 10):
            result = await self.client.call_tool(tool, arguments)
        took = time.monotonic() - started
        self.ledger.calls += 1
        self.ledger.worst_share = max(self.ledger.worst_share, took / limit)
        if took > limit:
            self.ledger.over_deadline.append(f"{tool}/{stage} {took:.2f}s > {limit:.2f}s")
        text = text_of(result)
        if result.is_error and (not text.strip() or INTERNAL in text):
            self.ledger.unclear.append(f"{tool}: {text[:200]!r}")
        return result

    # --- targets, each written by one trial only ---

    def target(self) -> str:
        """A fresh ready dataset of alice's, shared with nobody."""
        number = next(self.counter)
        record = AssetRecord(
            id=str(uuid.uuid4()),
            created=int(time.time()),
            name=f"reliability target {number} {uuid.uuid4().hex[:6]}",
            mount=f"target_{number}",
            owner_id=self.sandbox.users["alice"].id,
            state="ready",
            type="dataset",
            files=3,
            size=3000,
            tags=["reliability"],
        )
        self.sandbox.store.insert_asset(record)
        return record.id

    def record(self, asset_id: str) -> AssetRecord | None:
        return self.sandbox.store.get_asset(asset_id)

    # --- one write through its tool, classified by what the tool said ---

    async def write(self, op: Op, fault: str) -> Write:
        if op == "create":
            written = await self._create(fault)
        elif op == "update":
            written = await self._update(fault)
        else:
            written = await self._guarded(op, fault)
        self.writes.append(written)
        return written

    async def _create(self, fault: str) -> Write:
        name = f"reliability create {uuid.uuid4().hex}"
        arguments = {"name": name, "source": {"kind": "s3", "bucket": "reliability-lab"}, "tags": ["reliability"]}
        result = await self.call("create_data_asset", arguments)
        if result.is_error:
            return Write("create", fault, "failed", text_of(result), lambda: self._named(name) > 0, name)
        created = (result.structured_content or {}).get("asset", {}).get("id", "")

        def applied() -> bool:
            record = self.record(created)
            return record is not None and record.name == name

        return Write("create", fault, "acknowledged", text_of(result), applied, name)

    def _named(self, name: str) -> int:
        return sum(1 for record in self.sandbox.store.all_assets() if record.name == name)

    async def _update(self, fault: str) -> Write:
        asset_id, value = self.target(), f"described {uuid.uuid4().hex}"

        def applied() -> bool:
            record = self.record(asset_id)
            return record is not None and record.description == value

        result = await self.call("update_data_asset", {"data_asset_id": asset_id, "description": value})
        # A new description removes nothing, so the update acts at once; its result reports the item's outcome.
        outcome = ((result.structured_content or {}).get("items") or [{}])[0].get("outcome")
        acknowledged = not result.is_error and outcome in ("done", "no_change")
        reported: Literal["acknowledged", "failed"] = "acknowledged" if acknowledged else "failed"
        return Write("update", fault, reported, text_of(result), applied)

    async def _guarded(self, op: Op, fault: str) -> Write:
        asset_id = self.target()
        tool = f"{op}_data_asset"
        arguments: dict[str, Any] = {"data_asset_ids": [asset_id]}
        if op == "share":
            arguments["users"] = [{"email": CAROL, "role": "viewer"}]

        def applied() -> bool:
            record = self.record(asset_id)
            if op == "delete":
                return record is None
            if record is None:
                return False
            return record.archived if op == "archive" else record.shared_users.get(CAROL) == "viewer"

        result = await self.call(tool, arguments, "preview")
        token = None if result.is_error else (result.structured_content or {}).get("confirm_token")
        for _ in range(3):  # a refused confirmation comes back with a fresh preview and token
            if not token:
                break
            result = await self.call(tool, {**arguments, "confirm_token": token}, "confirm")
            if result.is_error:
                return Write(op, fault, "failed", text_of(result), applied)
            content = result.structured_content or {}
            if content.get("performed"):
                outcome = (content.get("items") or [{}])[0].get("outcome")
                if outcome in ("done", "no_change"):
                    return Write(op, fault, "acknowledged", text_of(result), applied)
                if outcome in ("failed", "unknown"):  # unknown: it may have happened, and the text says so
                    return Write(op, fault, "failed", text_of(result), applied)
                break
            token = content.get("confirm_token")
        return Write(op, fault, "not_sent", text_of(result), applied)

    async def still_serving(self, sandbox: Sandbox) -> int:
        """Failed calls among a search and a get once faults are lifted."""
        sandbox.faults.clear()
        search = await self.call("search_data_assets", {"query": "reliability", "limit": 5})
        got = await self.call("get_data_asset", {"data_asset_ids": [self.target()]})
        failures = int(search.is_error) + int(got.is_error or bool((got.structured_content or {}).get("errors")))
        self.ledger.serving_failures += failures
        return failures


def options_for(tmp_path: Path) -> ServerOptions:
    return ServerOptions(signer=TokenSigner(SECRET), audit=AuditLog(tmp_path / "audit.jsonl"), confirm="token")


@asynccontextmanager
async def rig(sandbox: Sandbox, ledger: Ledger, tmp_path: Path, *, over_http: bool = False) -> AsyncIterator[Rig]:
    """An MCP client of a server whose Code Ocean client reaches the sandbox over loopback, short timeouts."""
    with running(sandbox) as base_url:
        ports = [int(base_url.rsplit(":", 1)[1])]

        def factory() -> CodeOceanClient:
            token = sandbox.token_for("alice")
            return CodeOceanClient(base_url, token, timeout=TIMEOUT, retry=POLICY, reconcile_delays=RECONCILE)

        server = build_server(factory, options=options_for(tmp_path))
        if over_http:
            # No bearer token: this rig is about Code Ocean's faults, on loopback, for the test's few seconds.
            with serving(http_app(server, Settings(http_no_auth=True), "127.0.0.1"), lifespan="on") as mcp_url:
                ports.append(int(mcp_url.rsplit(":", 1)[1]))
                async with Client(f"{mcp_url}/mcp") as client:
                    yield Rig(sandbox, client, ledger)
                # Closed on our side; the MCP server keeps its upstream pool until it stops, so only
                # the MCP port is checked here, and the sandbox port once the server has stopped.
                ledger.connections_open += await settled_connections(ports[1:])
        else:
            async with Client(server) as client:
                yield Rig(sandbox, client, ledger)
        ledger.connections_open += await settled_connections(ports[:1])


async def landed(sandbox: Sandbox) -> None:
    """Wait until every request the sandbox took has ended (delayed and stalled ones included).

    The fault plan counts each API request as it arrives, the request log as it ends: equal, nothing
    is in flight any more, and what reached the store is final.
    """
    for _ in range(100):  # 5 s at most; a stall is 0.6 s
        arrived = sandbox.faults.count("requests")
        if arrived == sum(1 for entry in sandbox.request_log.entries if entry.operation is not None):
            return
        await anyio.sleep(0.05)
    raise AssertionError("sandbox requests still in flight after 5 s")


# --- single faults on every kind of write -------------------------------------------------------------

SINGLE_FAULTS: dict[str, Callable[[FaultPlan, str], object]] = {
    "pass": lambda plan, op: None,
    "commit-500": lambda plan, op: plan.commit_then_fail(op, status=500, for_requests=1),
    "commit-502": lambda plan, op: plan.commit_then_fail(op, status=502, for_requests=1),
    "commit-stall": lambda plan, op: plan.commit_then_fail(op, stall=SLOW, for_requests=1),
    "drop": lambda plan, op: plan.drop(ops=op, for_requests=1),
    "latency": lambda plan, op: plan.latency(SLOW, ops=op, for_requests=1),
    "429-burst": lambda plan, op: plan.rate_limit(retry_after=1, ops=op, for_requests=3),
    "5xx-burst": lambda plan, op: plan.script(op, [503, 502, 504]),
    "down": lambda plan, op: plan.error(503, ops=op, for_requests=POLICY.attempts),
}
CREATE_ROUNDS = 12 if FULL else 1  # 12 x 9 faults = 108 create trials
OTHER_FAULTS = list(SINGLE_FAULTS) if FULL else ["commit-500", "commit-stall"]
OTHER_ROUNDS = 2 if FULL else 1


async def test_single_faults_on_every_write_lose_nothing_and_create_nothing_twice(
    sandbox: Sandbox, ledger: Ledger, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with rig(sandbox, ledger, tmp_path) as r:
        for _ in range(CREATE_ROUNDS):
            for fault, install in SINGLE_FAULTS.items():
                sandbox.faults.clear()
                install(sandbox.faults, "create")
                await r.write("create", fault)
        for _ in range(OTHER_ROUNDS):
            for op in OPS[1:]:
                for fault in OTHER_FAULTS:
                    sandbox.faults.clear()
                    SINGLE_FAULTS[fault](sandbox.faults, UPSTREAM[op])
                    await r.write(op, fault)
        assert await r.still_serving(sandbox) == 0
        await landed(sandbox)
        verdict = ledger.verdict(sandbox, r.writes)
        ledger.tally(verdict, len(r.writes))
    creates = [w for w in r.writes if w.op == "create"]
    emit_now(
        capsys,
        duplicate_creates=verdict["duplicates"],
        create_trials=len(creates),
        writes_lost=verdict["lost"],
        writes_misreported=verdict["misreported"],
        unconfirmed_writes=verdict["unconfirmed"],
        write_trials=len(r.writes),
        acknowledged=verdict["acknowledged"],
        failed_and_absent=verdict["failed_absent"],
        reported_unknown_and_applied=verdict["failed_unknown"],
    )
    assert verdict["duplicates"] == 0
    assert verdict["lost"] == 0, [w for w in r.writes if w.reported == "acknowledged" and not w.applied()]
    assert verdict["misreported"] == 0, [
        (w.op, w.fault, w.text) for w in r.writes if w.reported == "failed" and w.applied() and HONEST not in w.text
    ]
    assert verdict["unconfirmed"] == 0
    assert not ledger.over_deadline, ledger.over_deadline
    assert not ledger.unclear, ledger.unclear
    # A create that committed (whatever its answer) or was refused by the rate limiter is reported as
    # done. Dropped before the app, refused with 5xx, or delayed until the client gave up (uvicorn then
    # tells the app the client disconnected, and nothing is created): reported unknown, and absent.
    recovered = ("pass", "commit-500", "commit-502", "commit-stall", "429-burst")
    assert [(w.fault, w.reported) for w in creates if w.fault in recovered and w.reported != "acknowledged"] == []


def emit_now(capsys: pytest.CaptureFixture[str], **values: object) -> None:
    line = figure_line("faults", values)
    with capsys.disabled():
        print(f"\n{line}", flush=True)


# --- fault windows under concurrent mixed traffic -----------------------------------------------------


@dataclass(frozen=True)
class Window:
    name: str
    spec: str  # FaultPlan grammar, without the window length


ALL_WINDOWS = [
    Window("storm", "429:0.5:retry-after=1"),  # about half of all upstream calls, for the window
    Window("5xx", "503:0.2;500:0.1;502:0.1"),
    Window("drops", "drop:0.2"),
    Window("latency", f"latency:{int(SLOW * 1000)}ms:p=0.2"),
    Window("commits", "commit-then-fail:create,update,archive,set_permissions,delete:p=0.3;503:0.1"),
]
# The default run keeps the storm and the mixed commit-then-fail window; the others run in the full one.
WINDOWS = ALL_WINDOWS if FULL else [w for w in ALL_WINDOWS if w.name in ("storm", "commits")]
WINDOW_SECONDS = 8.0 if FULL else 0.5
WORKERS = 4 if FULL else 2
# Reads by name; writes as a one-element tuple of their Op.
MIX: tuple[str | tuple[Op], ...] = ("search", "get", "permissions", *((op,) for op in OPS))


async def traffic(r: Rig, seconds: float, workers: int, name: str) -> int:
    """``workers`` loops of mixed reads and writes for ``seconds``; returns the calls made."""
    made = 0
    reads = [r.target() for _ in range(4)]
    reads_by_name: dict[str, tuple[str, dict[str, Any]]] = {
        "search": ("search_data_assets", {"query": "reliability", "limit": 10}),
        "get": ("get_data_asset", {}),
        "permissions": ("get_data_asset_permissions", {"data_asset_id": reads[0]}),
    }

    async def worker(offset: int) -> None:
        nonlocal made
        end = time.monotonic() + seconds
        for step in range(10_000):  # bounded; the clock ends it long before
            if time.monotonic() >= end:
                return
            kind = MIX[(step + offset) % len(MIX)]
            if isinstance(kind, str):
                tool, arguments = reads_by_name[kind]
                await r.call(tool, {**arguments, **({"data_asset_ids": reads} if kind == "get" else {})})
            else:
                await r.write(kind[0], name)
            made += 1

    async with anyio.create_task_group() as group:
        for offset in range(workers):
            group.start_soon(worker, offset * 3)
    return made


@pytest.mark.parametrize("window", WINDOWS, ids=[w.name for w in WINDOWS])
async def test_a_fault_window_under_mixed_traffic_loses_nothing_and_keeps_serving(
    window: Window, sandbox: Sandbox, ledger: Ledger, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with rig(sandbox, ledger, tmp_path) as r:
        sandbox.faults.apply(f"seed=7;{window.spec}")
        made = await traffic(r, WINDOW_SECONDS, WORKERS, window.name)
        faults = sandbox.faults.counts()
        assert await r.still_serving(sandbox) == 0
        await landed(sandbox)
        verdict = ledger.verdict(sandbox, r.writes)
        ledger.tally(verdict, len(r.writes))
    injected = sum(n for label, n in faults.items() if "@" not in label and label not in ("requests", "pass"))
    emit_now(
        capsys,
        **{
            f"{window.name}.writes_lost": verdict["lost"],
            f"{window.name}.writes_misreported": verdict["misreported"],
            f"{window.name}.duplicate_creates": verdict["duplicates"],
            f"{window.name}.tool_calls": made,
            f"{window.name}.writes": len(r.writes),
            f"{window.name}.upstream_requests": faults.get("requests", 0),
            f"{window.name}.faults_injected": injected,
            f"{window.name}.seconds": WINDOW_SECONDS,
        },
    )
    assert made > 0
    assert injected > 0
    assert (verdict["lost"], verdict["misreported"], verdict["unconfirmed"], verdict["duplicates"]) == (0, 0, 0, 0), (
        suspects(r.writes)
    )
    assert not ledger.over_deadline, ledger.over_deadline
    assert not ledger.unclear, ledger.unclear


# --- the same over the streamable HTTP transport ------------------------------------------------------


@pytest.mark.loopback
async def test_faults_over_streamable_http_leave_no_connection_open(
    sandbox: Sandbox, ledger: Ledger, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = ledger.connections_open
    async with rig(sandbox, ledger, tmp_path, over_http=True) as r:
        sandbox.faults.apply("seed=3;429:0.3:retry-after=1;drop:0.1;commit-then-fail:p=0.3;latency:600ms:p=0.1")
        made = await traffic(r, WINDOW_SECONDS, WORKERS, "http")
        assert await r.still_serving(sandbox) == 0
        await landed(sandbox)
        verdict = ledger.verdict(sandbox, r.writes)
        ledger.tally(verdict, len(r.writes))
    left_open = ledger.connections_open - before
    emit_now(
        capsys,
        **{
            "http.connections_left_open": left_open,
            "http.writes_lost": verdict["lost"],
            "http.writes_misreported": verdict["misreported"],
            "http.tool_calls": made,
        },
    )
    assert left_open == 0
    assert (verdict["lost"], verdict["misreported"], verdict["unconfirmed"], verdict["duplicates"]) == (0, 0, 0, 0), (
        suspects(r.writes)
    )
    assert not ledger.over_deadline, ledger.over_deadline
