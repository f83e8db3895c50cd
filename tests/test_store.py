"""The shared state store: each confirmation acts at most once, and the confirm secret survives a restart.

The witness is the sandbox's request log: how many destructive requests reached "Code Ocean", across real
co-mcp processes sharing an SQLite file or a PostgreSQL server. (At most once in-process, through the real
protocol: tests/server/test_guard.py.)
"""

from __future__ import annotations

import logging
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from co_mcp.config import Settings, load_settings
from co_mcp.errors import ConfigurationError
from co_mcp.sandbox import Sandbox
from co_mcp.sandbox.server import running
from co_mcp.server import ServerOptions
from co_mcp.store import CLOCK_SKEW, ConfirmationStore, StoreError, load_or_create_secret, state_files
from tests.server.test_guard import ALREADY, BURST, destructive_requests, performed, refusals, target, together
from tests.support import text
from tests.test_config_examples import CO_MCP, HTTP, clean_env, compose, env_file, free_port

pytestmark = pytest.mark.anyio

# --- the backends: in memory, an SQLite file, and a real PostgreSQL server (tests/postgres.py) ---------------


BACKENDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ConfirmationStore]:
    if request.param == "memory":
        made = ConfirmationStore()
    elif request.param == "sqlite":
        made = ConfirmationStore.sqlite(tmp_path / "state.sqlite3")
    else:
        made = ConfirmationStore(request.getfixturevalue("postgres_url"))
    yield made
    made.close()


def key() -> str:
    # The PostgreSQL database lives for the session: every test claims keys of its own.
    return uuid.uuid4().hex * 2


# --- the store itself ----------------------------------------------------------------------------------------


async def test_of_concurrent_claims_of_one_key_exactly_one_wins(store: ConfirmationStore) -> None:
    claimed = key()
    results = await together(BURST, lambda _: store.claim(claimed, keep_for=300))
    assert sum(result is None for result in results) == 1


async def test_a_second_claim_says_when_the_first_was_and_what_it_did(store: ConfirmationStore) -> None:
    claimed = key()
    before = time.time()
    assert await store.claim(claimed, keep_for=300) is None
    await store.record(claimed, "delete_data_asset on 1 data asset(s): 1 done")
    again = await store.claim(claimed, keep_for=300)
    assert again is not None
    assert again.outcome == "delete_data_asset on 1 data asset(s): 1 done"
    assert again.at is not None
    assert before - 1 <= again.at <= time.time() + 1


async def test_a_lookup_does_not_claim(store: ConfirmationStore) -> None:
    looked = key()
    assert await store.lookup(looked) is None
    assert await store.claim(looked, keep_for=300) is None
    assert await store.lookup(looked) is not None


async def test_rows_past_their_expiry_are_pruned(store: ConfirmationStore) -> None:
    old = key()
    assert await store.claim(old, keep_for=-CLOCK_SKEW - 1) is None  # expired the moment it was claimed
    store._pruned = 0.0  # the next claim prunes, as one does at most once a minute
    assert await store.claim(key(), keep_for=300) is None
    assert await store.lookup(old) is None


async def test_two_stores_on_one_sqlite_file_let_one_claim_win(tmp_path: Path) -> None:
    # Two engines on one file behave as two processes would: separate connections, one database.
    first, second = ConfirmationStore.sqlite(tmp_path / "s.sqlite3"), ConfirmationStore.sqlite(tmp_path / "s.sqlite3")
    claimed = key()
    results = await together(BURST, lambda i: (first if i % 2 else second).claim(claimed, keep_for=300))
    first.close()
    second.close()
    assert sum(result is None for result in results) == 1


async def test_the_sqlite_file_is_private_and_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "state" / "state.sqlite3"
    store = ConfirmationStore.sqlite(path)
    await store.claim(key(), keep_for=300)
    store.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    import sqlite3

    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_an_unreachable_database_fails_the_claim_and_never_logs_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = ConfirmationStore(f"postgresql://comcp:pw-canary-123@127.0.0.1:{free_port()}/postgres")
    with caplog.at_level(logging.ERROR), pytest.raises(StoreError) as failed:
        await store.claim(key(), keep_for=300)
    assert "pw-canary-123" not in caplog.text
    assert "pw-canary-123" not in str(failed.value)
    assert "comcp:***@127.0.0.1" in caplog.text


def test_a_state_url_for_an_unsupported_database_is_refused_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CO_MCP_STATE_URL", "mysql://user:pw-canary@db/co_mcp")
    with pytest.raises(ConfigurationError) as refused:
        load_settings()
    assert "CO_MCP_STATE_URL" in str(refused.value)
    assert "pw-canary" not in str(refused.value)


# --- the confirm secret --------------------------------------------------------------------------------------


def test_the_secret_is_made_once_private_and_then_read(tmp_path: Path) -> None:
    path = tmp_path / "state" / "confirm-secret"
    first = load_or_create_secret(path)
    assert len(first) == 64
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_secret(path) == first


def test_processes_starting_at_once_agree_on_one_secret(tmp_path: Path) -> None:
    path = tmp_path / "confirm-secret"
    start = time.time() + 1.5  # every process waits for this moment, then creates or reads
    script = (
        "import sys, time; from pathlib import Path; from co_mcp.store import load_or_create_secret\n"
        f"time.sleep(max(0.0, {start} - time.time()))\n"
        "print(load_or_create_secret(Path(sys.argv[1])).decode())"
    )
    processes = [
        subprocess.Popen([sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE, text=True) for _ in range(4)
    ]
    secrets = {process.communicate(timeout=60)[0].strip() for process in processes}
    assert all(process.returncode == 0 for process in processes)
    assert secrets == {path.read_text().strip()}


def test_a_damaged_secret_file_is_named_not_replaced(tmp_path: Path) -> None:
    path = tmp_path / "confirm-secret"
    path.write_text("not a secret\n")
    with pytest.raises(ConfigurationError) as refused:
        load_or_create_secret(path, wait=0.0)
    assert str(path) in str(refused.value)
    assert path.read_text() == "not a secret\n"


def test_the_configured_secret_wins_and_no_file_is_made(tmp_path: Path) -> None:
    options = ServerOptions.from_settings(Settings(confirm_secret="configured-secret-" + "0" * 32, state_dir=tmp_path))
    assert options.signer.secret == b"configured-secret-" + b"0" * 32
    assert not (tmp_path / "confirm-secret").exists()


def test_without_a_configured_secret_the_state_directory_keeps_one(tmp_path: Path) -> None:
    first = ServerOptions.from_settings(Settings(state_dir=tmp_path))
    second = ServerOptions.from_settings(Settings(state_dir=tmp_path))
    assert first.signer.secret == second.signer.secret == (tmp_path / "confirm-secret").read_text().strip().encode()
    assert first.store.describe() == str(tmp_path / "state.sqlite3")


def test_the_sandbox_keeps_its_own_secret_and_store(tmp_path: Path) -> None:
    options = ServerOptions.from_settings(Settings(state_dir=tmp_path), sandbox=True)
    secret, state = state_files(tmp_path, sandbox=True)
    assert options.signer.secret == secret.read_text().strip().encode()
    assert options.store.describe() == str(state)
    assert not (tmp_path / "confirm-secret").exists()


def test_an_unwritable_state_directory_falls_back_to_a_per_process_secret(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    with caplog.at_level(logging.WARNING):
        options = ServerOptions.from_settings(Settings(state_dir=blocked / "state", audit_log="-"))
    assert len(options.signer.secret) == 32
    assert "will not survive a restart" in caplog.text


# --- at most once, across processes --------------------------------------------------------------------------


@contextmanager
def deployment_workers(count: int, env: dict[str, str], logs: Path) -> Iterator[list[str]]:
    """``count`` co-mcp processes running the HTTP example's worker command, on 127.0.0.1; yields /mcp URLs."""
    command = list(compose()["services"]["co-mcp"]["command"])
    command[command.index("--host") + 1] = "127.0.0.1"
    workers, urls = [], []
    try:
        for index in range(count):
            port = free_port()
            command[command.index("--port") + 1] = str(port)
            with (logs / f"worker-{index}.log").open("w") as log:
                workers.append(subprocess.Popen([str(CO_MCP), *command[1:]], env=env, stdout=log, stderr=log))
            urls.append(f"http://127.0.0.1:{port}/mcp")
        deadline = time.monotonic() + 60
        for index, (worker, url) in enumerate(zip(workers, urls, strict=True)):
            while True:
                assert worker.poll() is None, (logs / f"worker-{index}.log").read_text()
                try:
                    httpx2.get(url, timeout=1)
                    break
                except httpx2.TransportError:
                    assert time.monotonic() < deadline, "a worker did not start listening within 60 s"
                    time.sleep(0.1)
        yield urls
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait(timeout=15)


def deployment_env(tmp_path: Path, domain: str, token: str, **extra: str) -> dict[str, str]:
    """The example's shared settings and its workers' environment, aimed at the sandbox; state under tmp_path."""
    environment = dict(compose()["services"]["co-mcp"].get("environment") or {})
    state_dir = environment.pop("CO_MCP_STATE_DIR")  # the shared volume's mount point in the example
    assert state_dir in {volume.split(":")[1] for volume in compose()["services"]["co-mcp"]["volumes"]}
    return (
        clean_env(tmp_path)
        | env_file(HTTP / "co-mcp.env")
        | environment
        | {"CODEOCEAN_DOMAIN": domain, "CODEOCEAN_TOKEN": token, "CO_MCP_STATE_DIR": str(tmp_path / "state")}
        | extra
    )


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_two_worker_processes_act_once_on_eight_concurrent_confirmations_of_one_token(
    backend: str, sandbox: Sandbox, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    extra = {"CO_MCP_STATE_URL": request.getfixturevalue("postgres_url")} if backend == "postgres" else {}
    asset_id = target(sandbox)
    arguments = {"data_asset_ids": [asset_id]}
    bearer = {"Authorization": f"Bearer {env_file(HTTP / 'co-mcp.env')['CO_MCP_HTTP_TOKEN']}"}
    with running(sandbox) as base_url:
        env = deployment_env(tmp_path, base_url, sandbox.token_for("alice"), **extra)
        with deployment_workers(2, env, tmp_path) as urls:
            first_http = httpx2.AsyncClient(headers=bearer, timeout=60)
            second_http = httpx2.AsyncClient(headers=bearer, timeout=60)
            async with (
                first_http,
                second_http,
                Client(streamable_http_client(urls[0], http_client=first_http)) as first,
                Client(streamable_http_client(urls[1], http_client=second_http)) as second,
            ):
                token = (await first.call_tool("delete_data_asset", arguments)).structured_content["confirm_token"]
                sandbox.request_log.clear()
                confirmed = {**arguments, "confirm_token": token}
                results = await together(
                    BURST, lambda i: (first, second)[i % 2].call_tool("delete_data_asset", confirmed)
                )
                replay = await second.call_tool("delete_data_asset", confirmed)
    assert destructive_requests(sandbox) == ["delete"]
    assert sandbox.store.get_asset(asset_id) is None
    assert sum(performed(result) for result in results) == 1
    assert all(ALREADY in refused for refused in refusals(results))
    assert ALREADY in text(replay)
    assert "delete_data_asset on 1 data asset(s): 1 done; nothing was done again." in text(replay)


@pytest.mark.slow
async def test_a_token_from_one_process_confirms_in_the_next_without_a_configured_secret(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    asset_id = target(sandbox)
    arguments = {"data_asset_ids": [asset_id]}
    with running(sandbox) as base_url:
        env = clean_env(tmp_path) | {
            "CODEOCEAN_DOMAIN": base_url,
            "CODEOCEAN_TOKEN": sandbox.token_for("alice"),
            "CO_MCP_STATE_DIR": str(tmp_path / "state"),
        }
        params = StdioServerParameters(command=str(CO_MCP), args=[], env=env)
        async with Client(params, read_timeout_seconds=60) as first:
            token = (await first.call_tool("delete_data_asset", arguments)).structured_content["confirm_token"]
        # The first process has exited; the second starts afresh, as a host restarting its server would.
        assert sandbox.store.get_asset(asset_id) is not None
        async with Client(params, read_timeout_seconds=60) as second:
            result = await second.call_tool("delete_data_asset", {**arguments, "confirm_token": token})
    assert performed(result)
    assert sandbox.store.get_asset(asset_id) is None
    assert stat.S_IMODE((tmp_path / "state" / "confirm-secret").stat().st_mode) == 0o600


# --- the HTTP deployment example -----------------------------------------------------------------------------


def test_the_http_examples_workers_share_one_state_volume() -> None:
    service = compose()["services"]["co-mcp"]
    state_dir = service["environment"]["CO_MCP_STATE_DIR"]
    volume, mount = service["volumes"][0].split(":")[:2]
    assert mount == state_dir
    assert volume in compose()["volumes"]  # a named volume: one for every replica, not one per container
    assert service["deploy"]["replicas"] > 1
