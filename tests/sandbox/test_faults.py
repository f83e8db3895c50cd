"""Fault plans (grammar, rules, scripts, windows, counters) and the middleware that applies them."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator

import anyio
import httpx2
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from co_mcp.sandbox.faults import COMMIT_OPERATIONS, Fault, FaultInjector, FaultPlan, InjectedDisconnect, operation_for

pytestmark = pytest.mark.anyio

ASSET = "/api/v1/data_assets/0d9f5a4e-1c9b-4d5e-9a77-2f7d6a1e0b11"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- classification --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "operation"),
    [
        ("GET", ASSET, "get"),
        ("PUT", ASSET, "update"),
        ("DELETE", ASSET, "delete"),
        ("POST", "/api/v1/data_assets", "create"),
        ("POST", "/api/v1/data_assets/", "create"),
        ("POST", "/api/v1/data_assets/search", "search"),
        ("PATCH", f"{ASSET}/archive", "archive"),
        ("GET", f"{ASSET}/permissions", "get_permissions"),
        ("POST", f"{ASSET}/permissions", "set_permissions"),
        ("POST", f"{ASSET}/files", "list_files"),
        ("GET", f"{ASSET}/files/urls", "file_urls"),
        ("GET", f"{ASSET}/files/download_url", "download_url"),
        ("POST", f"{ASSET}/transfer", "transfer"),
        ("GET", "/api/v1/custom_metadata", "custom_metadata"),
        ("POST", "/api/v1/capsules/abc/data_assets", "attach"),
        ("DELETE", "/api/v1/pipelines/abc/data_assets/", "detach"),
        ("GET", "/__files/abc/data/x.csv", "file_download"),
        ("HEAD", "/__files/abc/data/x.csv", "file_download"),
        ("POST", "/api/v1/computations/abc/results", "list_results"),
        ("get", ASSET, "get"),
    ],
)
def test_requests_are_classified_by_operation(method: str, path: str, operation: str) -> None:
    assert operation_for(method, path) == operation


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/health"),
        ("GET", "/api/v1/data_assets/search"),
        ("PATCH", ASSET),
        ("GET", "/api/v1/capsules/abc"),
        ("POST", f"{ASSET}/unknown"),
        ("GET", "/api/v2/data_assets"),
    ],
)
def test_other_requests_have_no_operation(method: str, path: str) -> None:
    assert operation_for(method, path) is None


# --- the grammar -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        "429:0.5:retry-after=1",
        "503:0.1@search,get",
        "429:retry-after=2:for=10s",
        "500:for=3@create",
        "latency:50ms",
        "latency:20-80ms@search",
        "drop:0.02",
        "commit-then-fail:create,delete:status=500",
        "commit-then-fail:stall=30s@create",
        "script:429,503,pass@search",
        "seed=7",
        "429:0.5:retry-after=1;503:0.1@search,get;latency:20-80ms@search;drop:0.02;seed=7",
        "drop:5%",
        "",
        "off",
    ],
)
def test_documented_specs_parse(spec: str) -> None:
    FaultPlan.parse(spec)


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ("teapot:0.5", "unknown fault 'teapot'"),
        ("429:1.5", "between 0 and 1"),
        ("200", "4xx or 5xx"),
        ("latency", "needs a duration"),
        ("latency:50", "need a unit"),
        ("latency:80-20ms", "low-high"),
        ("503@serch", "unknown operation(s) serch"),
        ("429:retry-after=soon", "whole seconds"),
        ("drop:stall=1s", "unknown option 'stall' for drop"),
        ("script:429,teapot@search", "unknown script step 'teapot'"),
        ("script:429@search,get", "one operation"),
        ("seed=seven", "seed needs a non-negative integer"),
        ("500:for=0", "N >= 1"),
        ("500:banana", "cannot read 'banana'"),
    ],
)
def test_invalid_specs_name_the_bad_part(spec: str, named: str) -> None:
    with pytest.raises(ValueError, match="invalid fault spec clause") as caught:
        FaultPlan.parse(f"latency:1ms;{spec}")
    assert named in str(caught.value)
    assert repr(spec) in str(caught.value)


def test_a_bad_clause_adds_nothing_from_the_same_spec() -> None:
    plan = FaultPlan()
    with pytest.raises(ValueError, match="bogus"):
        plan.apply("503;bogus")
    assert not plan.active


def test_an_empty_or_off_spec_is_inactive() -> None:
    assert not FaultPlan.parse("").active
    assert not FaultPlan.parse("off").active


def test_describe_round_trips_through_parse() -> None:
    plan = FaultPlan()
    plan.error(503, 0.25, ops=["search", "get"])
    plan.rate_limit(retry_after=3)
    plan.latency((0.02, 0.08), ops="search")
    plan.drop(0.1)
    plan.commit_then_fail(stall=2.5)
    plan.script("create", [429, None, "drop", "commit-502", "stall-1s"])
    plan.seed(7)
    text = plan.describe()
    assert FaultPlan.parse(text).describe() == text


def test_a_parsed_clause_is_described_as_written() -> None:
    assert FaultPlan.parse("429:0.5:retry-after=1@search").describe() == "429:0.5:retry-after=1@search"


# --- decisions ---------------------------------------------------------------------------------------------


def test_a_plan_without_rules_passes_everything() -> None:
    assert FaultPlan().decide("get") == Fault()


def test_an_error_rule_answers_its_status() -> None:
    plan = FaultPlan.parse("503")
    assert plan.decide("get") == Fault("error", 503)


def test_429_carries_a_retry_after_of_one_second_by_default() -> None:
    assert FaultPlan.parse("429").decide("get").retry_after == 1


def test_a_rule_limited_to_operations_spares_the_others() -> None:
    plan = FaultPlan.parse("503@search")
    assert plan.decide("get").action == "pass"
    assert plan.decide("search").action == "error"


def test_the_first_matching_rule_decides() -> None:
    plan = FaultPlan.parse("500@create;503")
    assert plan.decide("create").status == 500
    assert plan.decide("get").status == 503


def test_a_probability_of_zero_never_fires() -> None:
    plan = FaultPlan.parse("503:0")
    assert all(plan.decide("get").action == "pass" for _ in range(200))


def test_a_probability_fires_about_that_often() -> None:
    plan = FaultPlan.parse("503:0.3;seed=1")
    fired = sum(plan.decide("get").action == "error" for _ in range(2000))
    assert 500 < fired < 700


def test_the_same_seed_reproduces_the_same_faults() -> None:
    def run() -> list[str]:
        plan = FaultPlan.parse("429:0.3;503:0.2;latency:10-50ms;seed=42")
        return [f"{fault.label}/{fault.delay:.6f}" for fault in (plan.decide("search") for _ in range(100))]

    assert run() == run()


def test_different_seeds_give_different_faults() -> None:
    def run(seed: int) -> list[str]:
        plan = FaultPlan.parse(f"503:0.5;seed={seed}")
        return [plan.decide("get").label for _ in range(64)]

    assert run(1) != run(2)


def test_latency_rules_add_up() -> None:
    plan = FaultPlan.parse("latency:50ms;latency:20ms@search")
    assert plan.decide("search").delay == pytest.approx(0.07)
    assert plan.decide("get").delay == pytest.approx(0.05)


def test_a_latency_range_stays_within_its_bounds() -> None:
    plan = FaultPlan.parse("latency:20-80ms")
    delays = [plan.decide("get").delay for _ in range(200)]
    assert all(0.02 <= delay <= 0.08 for delay in delays)
    assert len(set(delays)) > 100


def test_latency_combines_with_an_error() -> None:
    fault = FaultPlan.parse("latency:10ms;503").decide("get")
    assert fault.status == 503
    assert fault.delay == pytest.approx(0.01)


def test_commit_then_fail_defaults_to_the_ambiguous_writes() -> None:
    plan = FaultPlan.parse("commit-then-fail")
    assert {
        op for op in ("create", "delete", "set_permissions", "get", "update") if plan.decide(op).action != "pass"
    } == set(COMMIT_OPERATIONS)


def test_commit_then_stall_carries_its_stall() -> None:
    assert FaultPlan.parse("commit-then-fail:stall=1.5s").decide("create") == Fault("commit_stall", stall=1.5)


def test_a_script_is_consumed_in_order_then_rules_resume() -> None:
    plan = FaultPlan.parse("latency:1ms")
    plan.script("search", [429, 503, None, "drop"])
    labels = [plan.decide("search").label for _ in range(5)]
    assert labels == ["429", "503", "pass", "drop", "pass"]


def test_a_script_step_overrides_a_standing_rule() -> None:
    plan = FaultPlan.parse("503")
    plan.script("get", ["pass"])
    assert [plan.decide("get").label for _ in range(2)] == ["pass", "503"]


def test_a_script_is_per_operation() -> None:
    plan = FaultPlan()
    plan.script("search", [429])
    assert plan.decide("get").action == "pass"
    assert plan.decide("search").status == 429


def test_a_star_script_applies_to_any_operation() -> None:
    plan = FaultPlan.parse("script:502,504")
    assert [plan.decide("get").status, plan.decide("create").status] == [502, 504]


def test_a_request_window_expires_after_that_many_matching_requests() -> None:
    plan = FaultPlan.parse("500:for=3@create")
    plan.decide("get")  # not a create: does not use up the window
    assert [plan.decide("create").label for _ in range(4)] == ["500", "500", "500", "pass"]
    assert not plan.active


def test_a_time_window_expires() -> None:
    clock = FakeClock()
    plan = FaultPlan.parse("429:for=10s", clock=clock)
    assert plan.decide("search").status == 429
    clock.now += 10
    assert plan.decide("search").action == "pass"
    assert plan.rules == ()


def test_a_python_rule_window_expires() -> None:
    clock = FakeClock()
    plan = FaultPlan(clock=clock)
    plan.rate_limit(for_seconds=5)
    clock.now += 4.9
    assert plan.decide("get").status == 429
    clock.now += 0.1
    assert plan.decide("get").action == "pass"


def test_a_rule_can_be_removed_while_others_stay() -> None:
    plan = FaultPlan()
    storm = plan.rate_limit()
    plan.latency(0.01)
    plan.remove(storm)
    assert plan.decide("get") == Fault(delay=0.01)


def test_clear_withdraws_rules_and_scripts() -> None:
    plan = FaultPlan.parse("503;script:429@search")
    plan.clear()
    assert not plan.active
    assert plan.decide("search").action == "pass"


def test_counters_record_requests_and_faults_per_operation() -> None:
    plan = FaultPlan.parse("503@search;latency:1ms@get")
    plan.decide("search")
    plan.decide("get")
    plan.decide("get")
    assert plan.counts() == {
        "requests": 3,
        "requests@search": 1,
        "requests@get": 2,
        "503": 1,
        "503@search": 1,
        "latency": 2,
        "latency@get": 2,
    }
    assert plan.count("503", "search") == 1
    assert plan.count("drop") == 0


def test_reset_counts_starts_over() -> None:
    plan = FaultPlan.parse("503")
    plan.decide("get")
    plan.reset_counts()
    assert plan.counts() == {}


def test_decisions_from_many_threads_are_all_counted() -> None:
    plan = FaultPlan.parse("503:0.5;seed=3")

    def hammer() -> None:
        for _ in range(500):
            plan.decide("get")

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert plan.count("requests") == 4000
    assert 1700 < plan.count("503") < 2300


@pytest.mark.parametrize(
    ("build", "complaint"),
    [
        (lambda plan: plan.error(200), "4xx or 5xx"),
        (lambda plan: plan.error(503, 1.5), "probability"),
        (lambda plan: plan.latency((0.2, 0.1)), "low <= high"),
        (lambda plan: plan.drop(ops=["nope"]), "unknown operation"),
        (lambda plan: plan.commit_then_fail(stall=-1), "stall"),
        (lambda plan: plan.rate_limit(for_seconds=0), "for_seconds"),
        (lambda plan: plan.script("nope", [429]), "unknown operation"),
        (lambda plan: plan.script("get", ["teapot"]), "unknown script step"),
    ],
)
def test_the_python_api_refuses_nonsense(build: Callable[[FaultPlan], object], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        build(FaultPlan())


# --- the middleware ----------------------------------------------------------------------------------------


class Recorder:
    """A tiny API: remembers which requests reached it, creates things on POST."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.created = 0

    def app(self) -> Starlette:
        async def get(request: Request) -> Response:
            self.seen.append(f"GET {request.url.path}")
            return JSONResponse({"id": "x", "state": "ready"})

        async def create(request: Request) -> Response:
            self.seen.append("POST create")
            self.created += 1
            return JSONResponse({"id": f"new-{self.created}"})

        async def health(request: Request) -> Response:
            self.seen.append("GET /health")
            return Response("ok")

        return Starlette(
            routes=[
                Route("/api/v1/data_assets/{asset_id}", get, methods=["GET"]),
                Route("/api/v1/data_assets", create, methods=["POST"]),
                Route("/health", health),
            ]
        )


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def plan() -> FaultPlan:
    return FaultPlan()


@pytest.fixture
async def client(recorder: Recorder, plan: FaultPlan) -> AsyncIterator[httpx2.AsyncClient]:
    transport = httpx2.ASGITransport(FaultInjector(recorder.app(), plan))
    async with httpx2.AsyncClient(transport=transport, base_url="http://sandbox.test") as http:
        yield http


async def test_without_faults_requests_reach_the_app(client: httpx2.AsyncClient, recorder: Recorder) -> None:
    response = await client.get(ASSET)
    assert response.status_code == 200
    assert recorder.seen == [f"GET {ASSET}"]


async def test_an_injected_error_never_reaches_the_app(
    client: httpx2.AsyncClient, recorder: Recorder, plan: FaultPlan
) -> None:
    plan.error(503)
    response = await client.post("/api/v1/data_assets", json={})
    assert response.status_code == 503
    assert response.json() == {"message": "Service temporarily unavailable."}
    assert recorder.created == 0


async def test_a_429_says_when_to_retry(client: httpx2.AsyncClient, plan: FaultPlan) -> None:
    plan.rate_limit(retry_after=2)
    response = await client.get(ASSET)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "2"
    assert response.headers["content-type"] == "application/json"
    assert "message" in response.json()


async def test_an_injected_error_is_marked_as_injected(client: httpx2.AsyncClient, plan: FaultPlan) -> None:
    plan.error(502)
    response = await client.get(ASSET)
    assert response.headers["x-sandbox-fault"] == "502"


async def test_a_custom_message_is_sent(client: httpx2.AsyncClient, plan: FaultPlan) -> None:
    plan.error(500, message="database is on fire")
    response = await client.get(ASSET)
    assert response.json() == {"message": "database is on fire"}


async def test_latency_delays_the_request(client: httpx2.AsyncClient, plan: FaultPlan) -> None:
    plan.latency(0.05)
    started = time.monotonic()
    response = await client.get(ASSET)
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.05


async def test_latency_does_not_block_other_requests(client: httpx2.AsyncClient, plan: FaultPlan) -> None:
    plan.latency(0.2)
    started = time.monotonic()
    async with anyio.create_task_group() as group:
        for _ in range(5):
            group.start_soon(client.get, ASSET)
    assert time.monotonic() - started < 0.6  # 5 x 0.2 s, concurrently


async def test_a_dropped_connection_in_process_is_a_connection_reset(
    client: httpx2.AsyncClient, recorder: Recorder, plan: FaultPlan
) -> None:
    plan.drop()
    with pytest.raises(ConnectionResetError) as caught:
        await client.post("/api/v1/data_assets", json={})
    assert isinstance(caught.value, InjectedDisconnect)
    assert recorder.created == 0


async def test_commit_then_fail_commits_and_answers_500(
    client: httpx2.AsyncClient, recorder: Recorder, plan: FaultPlan
) -> None:
    plan.commit_then_fail()
    response = await client.post("/api/v1/data_assets", json={})
    assert response.status_code == 500
    assert recorder.created == 1


async def test_commit_then_stall_commits_waits_and_drops(
    client: httpx2.AsyncClient, recorder: Recorder, plan: FaultPlan
) -> None:
    plan.commit_then_fail(stall=0.05)
    started = time.monotonic()
    with pytest.raises(InjectedDisconnect):
        await client.post("/api/v1/data_assets", json={})
    assert time.monotonic() - started >= 0.05
    assert recorder.created == 1


async def test_commit_then_fail_leaves_reads_alone(client: httpx2.AsyncClient, plan: FaultPlan) -> None:
    plan.commit_then_fail()
    assert (await client.get(ASSET)).status_code == 200


async def test_a_script_plays_out_over_requests(client: httpx2.AsyncClient, plan: FaultPlan) -> None:
    plan.script("get", [429, 503, None])
    statuses = [(await client.get(ASSET)).status_code for _ in range(4)]
    assert statuses == [429, 503, 200, 200]


async def test_unclassified_paths_are_never_faulted(
    client: httpx2.AsyncClient, recorder: Recorder, plan: FaultPlan
) -> None:
    plan.error(503)
    response = await client.get("/health")
    assert response.status_code == 200
    assert plan.count("requests") == 0


async def test_the_plan_can_change_between_requests(client: httpx2.AsyncClient, plan: FaultPlan) -> None:
    rule = plan.error(503)
    assert (await client.get(ASSET)).status_code == 503
    plan.remove(rule)
    assert (await client.get(ASSET)).status_code == 200


async def test_lifespan_messages_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    async def send(message: Message) -> None:
        del message

    plan = FaultPlan.parse("503")
    await FaultInjector(app, plan)({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    assert seen == ["lifespan"]
    assert plan.count("requests") == 0


# --- over real HTTP ------------------------------------------------------------------------------------------


@pytest.fixture
def served(recorder: Recorder, plan: FaultPlan) -> Iterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(FaultInjector(recorder.app(), plan), log_level="critical", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()


@pytest.mark.loopback
def test_a_dropped_connection_over_http_is_a_protocol_error(served: str, recorder: Recorder, plan: FaultPlan) -> None:
    plan.drop(ops="create")
    with httpx2.Client(base_url=served, timeout=5) as http:
        with pytest.raises(httpx2.RemoteProtocolError, match="peer closed connection"):
            http.post("/api/v1/data_assets", json={})
        assert http.get(ASSET).status_code == 200  # the next request, on a new connection, is fine
    assert recorder.created == 0


@pytest.mark.loopback
def test_commit_then_stall_over_http_times_out_the_client(served: str, recorder: Recorder, plan: FaultPlan) -> None:
    plan.commit_then_fail(stall=0.5)
    with httpx2.Client(base_url=served, timeout=0.2) as http, pytest.raises(httpx2.ReadTimeout):
        http.post("/api/v1/data_assets", json={})
    assert recorder.created == 1
