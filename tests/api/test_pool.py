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
from co_mcp.api.client import DEFAULT_LIMITS
from co_mcp.api.pool import PooledTransport, socket_readable
from tests.api.test_client_wire import ASSET_ID, FAST, asset

pytestmark = pytest.mark.anyio


@dataclass
class LoopbackServer:
    """An HTTP/1.1 server on loopback answering every request with ``body``, keeping connections alive; with
    ``closes_idle``, it closes each connection just after its first answer, as a load balancer closes idle ones."""

    body: bytes
    closes_idle: bool
    requests_per_connection: list[int] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.requests_per_connection.append(0)
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(self.body)}\r\n\r\n"
        try:
            while True:
                try:
                    await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return  # the client closed the connection
                self.requests_per_connection[-1] += 1
                writer.write(head.encode() + self.body)
                await writer.drain()
                if self.closes_idle:
                    await asyncio.sleep(0.01)
                    return
        finally:
            writer.close()


@asynccontextmanager
async def loopback_server(
    body: bytes, *, closes_idle: bool, tls: ssl.SSLContext | None = None
) -> AsyncIterator[tuple[str, LoopbackServer]]:
    state = LoopbackServer(body, closes_idle)
    server = await asyncio.start_server(state.handle, "127.0.0.1", 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}", state


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
        await asyncio.sleep(0.05)  # the server has closed the connection the pool keeps
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
            await asyncio.sleep(0.01)
    assert server.requests_per_connection == [3]


async def test_the_client_sends_no_request_on_a_connection_the_server_closed_while_idle() -> None:
    retries: list[RetryEvent] = []
    async with (
        loopback_server(json.dumps(asset()).encode(), closes_idle=True) as (url, server),
        CodeOceanClient(url, "cop_pool_token", retry=FAST, on_retry=retries.append) as client,
    ):
        await client.get_data_asset(ASSET_ID)
        await asyncio.sleep(0.05)
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
        await asyncio.sleep(0.05)
        again = await client.get_data_asset(ASSET_ID)
    assert url.startswith("https://")
    assert again.id == ASSET_ID
    assert retries == []
    assert server.requests_per_connection == [1, 1]
