"""The client under the sandbox's injected faults: retries that respect the server, and no duplicate creates."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import anyio
import httpx2
import psutil
import pytest

from co_mcp.api import CodeOceanClient, RetryEvent, RetryPolicy
from co_mcp.api.models import (
    DataAssetParams,
    DataAssetSearchParams,
    DataAssetUpdateParams,
    Permissions,
    Source,
    UserPermission,
)
from co_mcp.errors import CreateOutcomeUnknownError, RateLimitedError
from co_mcp.sandbox import Sandbox
from co_mcp.sandbox.server import running
from tests.conftest import FAST_RETRY, client_for

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["inprocess", "loopback"])
def how(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@contextmanager
def connected(sandbox: Sandbox, how: str, **kwargs: object) -> Iterator[CodeOceanClient]:
    if how == "inprocess":
        yield client_for(sandbox, **kwargs)  # type: ignore[arg-type]
        return
    kwargs.setdefault("retry", FAST_RETRY)
    kwargs.setdefault("reconcile_delays", (0.0,))
    with running(sandbox) as base_url:
        yield CodeOceanClient(base_url, sandbox.token_for("alice"), **kwargs)  # type: ignore[arg-type]


@pytest.fixture
async def co(sandbox: Sandbox, how: str) -> AsyncIterator[CodeOceanClient]:
    with connected(sandbox, how) as client:
        async with client:
            yield client


def own_asset(sandbox: Sandbox) -> str:
    alice = sandbox.users["alice"].id
    mine = (r for r in sandbox.store.all_assets() if r.owner_id == alice and r.state == "ready" and not r.archived)
    return next(mine).id


def params(name: str) -> DataAssetParams:
    return DataAssetParams(name=name, mount="m", tags=["t"], source=Source.model_validate({"aws": {"bucket": "lab"}}))


def named(sandbox: Sandbox, name: str) -> list[str]:
    return [r.id for r in sandbox.store.all_assets() if r.name == name]


async def test_a_429_storm_is_ridden_out_waiting_as_the_server_asks(sandbox: Sandbox, how: str) -> None:
    sandbox.faults.rate_limit(retry_after=1, ops="get", for_requests=2)
    events: list[RetryEvent] = []
    policy = RetryPolicy(attempts=5, timeout=20, wait_initial=0, wait_max=0, wait_jitter=0, max_retry_after=5)
    with connected(sandbox, how, retry=policy, on_retry=events.append) as client:
        async with client:
            started = time.monotonic()
            await client.get_data_asset(own_asset(sandbox))
            waited = time.monotonic() - started
    assert [(e.reason, e.delay) for e in events] == [("HTTP 429", 1.0), ("HTTP 429", 1.0)]
    assert waited >= 2.0  # the two Retry-After seconds were really waited
    assert sandbox.request_log.count(operation="get") == 3


async def test_a_storm_longer_than_the_retry_budget_ends_in_rate_limited(co: CodeOceanClient, sandbox: Sandbox) -> None:
    sandbox.faults.rate_limit(retry_after=0, ops="get")
    with pytest.raises(RateLimitedError):
        await co.get_data_asset(own_asset(sandbox))
    assert sandbox.request_log.count(operation="get") == FAST_RETRY.attempts


async def test_a_5xx_burst_on_reads_is_retried(co: CodeOceanClient, sandbox: Sandbox) -> None:
    sandbox.faults.script("search", [500, 502, 503, 504, None])
    page = await co.search_data_assets(DataAssetSearchParams(limit=5))
    assert page.results
    assert [e.status for e in sandbox.request_log.matching(operation="search")] == [500, 502, 503, 504, 200]


async def test_dropped_connections_on_reads_are_retried(co: CodeOceanClient, sandbox: Sandbox) -> None:
    sandbox.faults.drop(ops="get", for_requests=2)
    asset = await co.get_data_asset(own_asset(sandbox))
    assert asset.id
    assert sandbox.request_log.count(operation="get") == 3


async def test_commit_then_fail_create_yields_exactly_one_asset_and_returns_it(
    co: CodeOceanClient, sandbox: Sandbox
) -> None:
    sandbox.faults.commit_then_fail("create", status=500, for_requests=1)
    created = await co.create_data_asset(params("committed then failed"))
    assert named(sandbox, "committed then failed") == [created.id]
    assert sandbox.request_log.count(operation="create") == 1
    stored = sandbox.store.get_asset(created.id)
    assert stored is not None
    assert stored.tags == ["t"]


@pytest.mark.loopback
async def test_a_create_that_stalls_after_committing_is_reconciled_not_resent(sandbox: Sandbox) -> None:
    # Over a real socket only: ASGITransport does not apply httpx2's read timeout.
    sandbox.faults.commit_then_fail("create", stall=3.0, for_requests=1)
    with connected(sandbox, "loopback", timeout=httpx2.Timeout(1.0, connect=1.0)) as client:
        async with client:
            created = await client.create_data_asset(params("stalled create"))
    assert named(sandbox, "stalled create") == [created.id]
    assert sandbox.request_log.count(operation="create") == 1


async def test_a_create_dropped_before_the_server_acted_reports_outcome_unknown_honestly(
    co: CodeOceanClient, sandbox: Sandbox
) -> None:
    sandbox.faults.drop(ops="create", for_requests=1)
    with pytest.raises(CreateOutcomeUnknownError) as caught:
        await co.create_data_asset(params("dropped create"))
    assert named(sandbox, "dropped create") == []
    assert sandbox.request_log.count(operation="create") == 1
    assert f"tag:{caught.value.nonce_tag}" in str(caught.value)


async def test_a_delete_committed_then_failed_is_retried_and_counts_as_done(
    co: CodeOceanClient, sandbox: Sandbox
) -> None:
    asset_id = own_asset(sandbox)
    sandbox.faults.commit_then_fail("delete", status=503, for_requests=1)
    await co.delete_data_asset(asset_id)
    assert sandbox.store.get_asset(asset_id) is None
    assert [e.status for e in sandbox.request_log.matching(operation="delete")] == [503, 404]


async def test_permissions_committed_then_failed_are_set_once_in_effect(co: CodeOceanClient, sandbox: Sandbox) -> None:
    asset_id = own_asset(sandbox)
    sandbox.faults.commit_then_fail("set_permissions", status=502, for_requests=1)
    await co.update_permissions(asset_id, Permissions(users=[UserPermission(email="carol@example.org", role="viewer")]))
    stored = sandbox.store.get_asset(asset_id)
    assert stored is not None
    assert stored.shared_users["carol@example.org"] == "viewer"


async def test_an_update_is_not_resent_after_an_ambiguous_500(co: CodeOceanClient, sandbox: Sandbox) -> None:
    sandbox.faults.error(500, ops="update", for_requests=1)
    with pytest.raises(Exception, match="500"):
        await co.update_data_asset(own_asset(sandbox), DataAssetUpdateParams(name="x"))
    assert sandbox.request_log.count(operation="update") == 1


def established(port: int) -> int:
    return sum(
        1
        for c in psutil.Process().net_connections(kind="tcp")
        if c.status == psutil.CONN_ESTABLISHED and port in (c.laddr.port, c.raddr.port if c.raddr else None)
    )


@pytest.mark.loopback
async def test_no_connections_stay_open_after_faults_and_close(sandbox: Sandbox) -> None:
    sandbox.faults.script("get", [503, "drop", 429, None] * 3)
    with running(sandbox) as base_url:
        port = int(base_url.rsplit(":", 1)[1])
        async with CodeOceanClient(base_url, sandbox.token_for("alice"), retry=FAST_RETRY) as client:
            for _ in range(3):
                await client.get_data_asset(own_asset(sandbox))
            assert established(port) > 0
        # The server closes its side when it sees ours close; give it up to 5 s to notice.
        for _ in range(100):
            if not established(port):
                break
            await anyio.sleep(0.05)
        assert established(port) == 0
