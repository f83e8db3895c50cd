"""The client's connection pool over real loopback sockets: its cheaper keep-alive probe gives the same answers."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import pytest
import trustme

from co_mcp.api import CodeOceanClient, RetryEvent
from co_mcp.api import pool as pool_module
from co_mcp.api.client import DEFAULT_LIMITS
from co_mcp.api.pool import PooledTransport, socket_readable
from tests.api.test_client_wire import ASSET_ID, FAST, asset

pytestmark = [pytest.mark.anyio, pytest.mark.loopback]

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy")


@pytest.fixture(autouse=True)
def no_proxy_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@dataclass
class LoopbackServer:
    """An HTTP/1.1 server on loopback answering every request with ``body``, keeping connections alive. With
    ``closes_idle`` it closes each connection after its first answer once the test says so (``release``), as a
    load balancer closes idle ones, and says when the close is done (``closed``)."""

    body: bytes
    closes_idle: bool
    request_lines: list[str] = field(default_factory=list)
    requests_per_connection: list[int] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    handlers: set[asyncio.Task[None]] = field(default_factory=set)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        self.requests_per_connection.append(0)
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(self.body)}\r\n\r\n"
        try:
            while True:
                try:
                    request = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return  # the client closed the connection
                self.request_lines.append(request.split(b"\r\n", 1)[0].decode())
                self.requests_per_connection[-1] += 1
                writer.write(head.encode() + self.body)
                await writer.drain()
                if self.closes_idle:
                    await self.release.wait()
                    return
        finally:
            writer.close()
            if writer.get_extra_info("sslcontext") is None:
                await writer.wait_closed()  # the FIN is on its way to the client
            else:
                # TLS: close() has sent close_notify, which makes the socket readable; the TCP close itself waits
                # for the client's close_notify, which an idle client does not send.
                await asyncio.sleep(0)
            self.closed.set()
            self.handlers.discard(task)

    async def close_idle_connections(self) -> None:
        self.release.set()
        await asyncio.wait_for(self.closed.wait(), 5)


@asynccontextmanager
async def loopback_server(
    body: bytes, *, closes_idle: bool, tls: ssl.SSLContext | None = None
) -> AsyncIterator[tuple[str, LoopbackServer]]:
    state = LoopbackServer(body, closes_idle)
    server = await asyncio.start_server(state.handle, "127.0.0.1", 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}", state
        state.release.set()
        await asyncio.wait_for(asyncio.gather(*state.handlers), 5)  # no handler outlives the test


def count_probes(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Record every answer the pool's readability probe gives."""
    answers: list[bool] = []

    def counted(sock: socket.socket | None) -> bool:
        answers.append(socket_readable(sock))
        return answers[-1]

    monkeypatch.setattr(pool_module, "socket_readable", counted)
    return answers


def test_an_idle_connected_socket_is_not_readable() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        assert socket_readable(ours) is False


def test_a_socket_the_peer_closed_is_readable() -> None:
    ours, theirs = socket.socketpair()
    with ours:
        theirs.close()
        assert socket_readable(ours) is True


def test_a_missing_or_closed_socket_counts_as_readable() -> None:
    closed = socket.socket()
    closed.close()
    assert socket_readable(None) is True
    assert socket_readable(closed) is True


async def test_the_pool_replaces_a_kept_alive_connection_the_server_closed() -> None:
    async with (
        loopback_server(b"{}", closes_idle=True) as (url, server),
        httpx2.AsyncClient(transport=PooledTransport(DEFAULT_LIMITS)) as http,
    ):
        first = await http.get(f"{url}/one")
        await server.close_idle_connections()
        second = await http.get(f"{url}/two")
    assert (first.status_code, second.status_code) == (200, 200)
    assert server.requests_per_connection == [1, 1]


async def test_the_pool_reuses_a_connection_the_server_keeps_open() -> None:
    async with (
        loopback_server(b"{}", closes_idle=False) as (url, server),
        httpx2.AsyncClient(transport=PooledTransport(DEFAULT_LIMITS)) as http,
    ):
        for n in range(3):
            (await http.get(f"{url}/{n}")).raise_for_status()
    assert server.requests_per_connection == [3]


async def test_the_client_probes_idle_connections_through_its_own_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    probes = count_probes(monkeypatch)
    async with (
        loopback_server(json.dumps(asset()).encode(), closes_idle=False) as (url, _),
        CodeOceanClient(url, "cop_pool_token", retry=FAST) as client,
    ):
        await client.get_data_asset(ASSET_ID)
        await client.get_data_asset(ASSET_ID)
    assert probes  # the pool asked our streams
    assert not any(probes)  # and the open connection was not taken for closed


async def test_the_client_sends_no_request_on_a_connection_the_server_closed_while_idle() -> None:
    retries: list[RetryEvent] = []
    async with (
        loopback_server(json.dumps(asset()).encode(), closes_idle=True) as (url, server),
        CodeOceanClient(url, "cop_pool_token", retry=FAST, on_retry=retries.append) as client,
    ):
        await client.get_data_asset(ASSET_ID)
        await server.close_idle_connections()
        again = await client.get_data_asset(ASSET_ID)
    assert again.id == ASSET_ID
    assert retries == []  # not rescued by a retry: the pool saw the close before sending
    assert server.requests_per_connection == [1, 1]


async def test_the_client_speaks_tls_through_the_pool_and_trusts_ssl_cert_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # How a private Code Ocean deployment's CA is trusted: SSL_CERT_FILE, as httpx2 reads it.
    authority = trustme.CA()
    authority.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(served)
    retries: list[RetryEvent] = []
    async with (
        loopback_server(json.dumps(asset()).encode(), closes_idle=True, tls=served) as (url, server),
        CodeOceanClient(url, "cop_pool_token", retry=FAST, on_retry=retries.append) as client,
    ):
        await client.get_data_asset(ASSET_ID)
        await server.close_idle_connections()
        again = await client.get_data_asset(ASSET_ID)
    assert url.startswith("https://")
    assert again.id == ASSET_ID
    assert retries == []
    assert server.requests_per_connection == [1, 1]


async def test_the_client_goes_through_a_proxy_named_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    async with loopback_server(json.dumps(asset()).encode(), closes_idle=False) as (proxy_url, proxy):
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        async with CodeOceanClient("http://codeocean.example.org", "cop_pool_token", retry=FAST) as client:
            found = await client.get_data_asset(ASSET_ID)
    assert found.id == ASSET_ID
    # Sent to the proxy, in the absolute form a proxy takes: the client never connected to the host itself.
    assert proxy.request_lines == [f"GET http://codeocean.example.org/api/v1/data_assets/{ASSET_ID} HTTP/1.1"]
