"""The request log: what was asked and how it was answered, whether it changed anything, and never a secret."""

from __future__ import annotations

import anyio
import httpx2
import pytest
from starlette.types import Receive, Scope, Send

from co_mcp.sandbox import Sandbox
from co_mcp.sandbox.demo_data import DEMO_DATASET_ID
from co_mcp.sandbox.faults import FaultPlan
from co_mcp.sandbox.requestlog import RequestLog
from co_mcp.sandbox.server import serving
from tests.sandbox.conftest import URL_SECRET, Clock, basic

pytestmark = pytest.mark.anyio

ASSETS = "/api/v1/data_assets"
GCS_SECRET = "gcs-client-secret-value"


async def test_an_entry_has_method_path_query_status_and_operation(
    client: httpx2.AsyncClient, sandbox: Sandbox
) -> None:
    await client.patch(f"{ASSETS}/{DEMO_DATASET_ID}/archive", params={"archive": "True"})
    entry = sandbox.request_log.entries[-1]
    assert (entry.method, entry.path, entry.query, entry.status, entry.operation) == (
        "PATCH",
        f"{ASSETS}/{DEMO_DATASET_ID}/archive",
        "archive=True",
        204,
        "archive",
    )


async def test_bodies_and_headers_are_never_recorded(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    body = {
        "name": "n",
        "mount": "m",
        "source": {"gcp": {"bucket": "b", "client_id": "i", "client_secret": GCS_SECRET}},
    }
    await client.post(ASSETS, json=body)
    logged = repr(sandbox.request_log.entries)
    assert GCS_SECRET not in logged
    assert sandbox.token_for("alice") not in logged
    assert "Basic" not in logged


async def test_a_successful_write_is_marked_committed(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    await client.put(f"{ASSETS}/{DEMO_DATASET_ID}", json={"name": "renamed"})
    assert sandbox.request_log.entries[-1].committed


async def test_a_refused_write_is_not_marked_committed(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    await client.put(f"{ASSETS}/{DEMO_DATASET_ID}", json={"name": 5})
    entry = sandbox.request_log.entries[-1]
    assert (entry.status, entry.committed) == (400, False)


async def test_a_commit_then_fail_fault_shows_as_a_committed_500(clock: Clock) -> None:
    sandbox = Sandbox(assets=0, clock=clock, url_secret=URL_SECRET, faults="commit-then-fail:status=500@create")
    before = sandbox.store.count_assets()
    transport = httpx2.ASGITransport(app=sandbox.app)
    async with httpx2.AsyncClient(
        transport=transport, base_url="http://sandbox", headers=basic("cop_sandbox_token")
    ) as http:
        response = await http.post(ASSETS, json={"name": "n", "mount": "m", "source": {"aws": {"bucket": "b"}}})
    entry = sandbox.request_log.entries[-1]
    assert (response.status_code, entry.status, entry.committed) == (500, 500, True)
    assert sandbox.store.count_assets() == before + 1


async def test_faults_can_be_changed_while_the_sandbox_runs(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    assert isinstance(sandbox.faults, FaultPlan)
    sandbox.faults.script("get", [503])
    assert (await client.get(f"{ASSETS}/{DEMO_DATASET_ID}")).status_code == 503
    assert (await client.get(f"{ASSETS}/{DEMO_DATASET_ID}")).status_code == 200
    assert [e.status for e in sandbox.request_log.matching(operation="get")] == [503, 200]


async def test_count_filters_by_method_path_prefix_and_status(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    await client.get(f"{ASSETS}/{DEMO_DATASET_ID}")
    await client.post(f"{ASSETS}/search", json={})
    await client.get("/nowhere")
    log = sandbox.request_log
    assert log.count() == 3
    assert log.count(method="get") == 2
    assert log.count(path_prefix=ASSETS) == 2
    assert log.count(status=404) == 1
    assert log.count(operation="search", committed=False) == 1


async def test_clear_empties_the_log(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    await client.get(f"{ASSETS}/{DEMO_DATASET_ID}")
    sandbox.request_log.clear()
    assert (sandbox.request_log.entries, sandbox.request_log.last) == ([], None)


async def lingering(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers at once, then keeps running a while, as a handler doing bookkeeping after its response."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"{}", "more_body": False})
    await anyio.sleep(0.3)


@pytest.mark.loopback
async def test_an_entry_is_there_as_soon_as_the_client_has_the_response() -> None:
    # Over a socket the server's thread may still be inside the app when the client reads the log.
    log = RequestLog(lingering)
    with serving(log) as base_url:
        async with httpx2.AsyncClient(base_url=base_url) as http:
            for number in range(1, 4):
                assert (await http.get("/api/v1/data_assets/x")).status_code == 200
                assert [e.status for e in log.entries] == [200] * number


async def test_the_log_keeps_the_newest_entries_up_to_its_size(clock: Clock) -> None:
    sandbox = Sandbox(assets=0, clock=clock, url_secret=URL_SECRET, log_size=3)
    transport = httpx2.ASGITransport(app=sandbox.app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://sandbox") as http:
        for number in range(5):
            await http.get(f"/nowhere/{number}")
    assert [entry.path for entry in sandbox.request_log.entries] == ["/nowhere/2", "/nowhere/3", "/nowhere/4"]
    assert sandbox.request_log.dropped == 2
    sandbox.request_log.clear()
    assert (sandbox.request_log.entries, sandbox.request_log.dropped) == ([], 0)


def test_a_log_size_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        RequestLog(lingering, max_entries=0)


async def test_each_entry_names_the_user_whose_token_asked_and_revoked_tokens_are_refused() -> None:
    sandbox = Sandbox(assets=5, seed=1)
    transport = httpx2.ASGITransport(app=sandbox.app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://sandbox.test") as http:
        for name in ("alice", "bob"):
            await http.post("/api/v1/data_assets/search", json={"limit": 1}, auth=(sandbox.token_for(name), ""))
        await http.post("/api/v1/data_assets/search", json={"limit": 1})
        sandbox.revoke("bob")
        refused = await http.post("/api/v1/data_assets/search", json={"limit": 1}, auth=(sandbox.token_for("bob"), ""))
    users = [entry.user for entry in sandbox.request_log.entries]
    assert users == [sandbox.users["alice"].email, sandbox.users["bob"].email, None, None]
    assert refused.status_code == 401
