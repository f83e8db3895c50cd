"""The client's connections over real loopback sockets: kept alive, replaced when the server closed them, TLS, proxies.

The pool is httpx2's own; these pin what co_mcp relies on it for, over real sockets rather than a mock transport.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import trustme

from co_mcp.api import CodeOceanClient, RetryEvent
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


async def test_the_client_reuses_a_connection_the_server_keeps_open() -> None:
    async with (
        loopback_server(json.dumps(asset()).encode(), closes_idle=False) as (url, server),
        CodeOceanClient(url, "cop_pool_token", retry=FAST) as client,
    ):
        for _ in range(3):
            await client.get_data_asset(ASSET_ID)
    assert server.requests_per_connection == [3]


@pytest.fixture
def trusted_tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    """A server certificate for 127.0.0.1 from a throwaway CA, which the client trusts through SSL_CERT_FILE: how a
    private Code Ocean deployment's CA is trusted, as httpx2 reads it."""
    authority = trustme.CA()
    authority.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(served)
    return served


async def test_the_client_speaks_tls_to_a_server_whose_ca_is_in_ssl_cert_file(trusted_tls: ssl.SSLContext) -> None:
    async with (
        loopback_server(json.dumps(asset()).encode(), closes_idle=False, tls=trusted_tls) as (url, server),
        CodeOceanClient(url, "cop_pool_token", retry=FAST) as client,
    ):
        found = await client.get_data_asset(ASSET_ID)
    assert url.startswith("https://")
    assert found.id == ASSET_ID
    assert server.requests_per_connection == [1]


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
async def test_the_client_sends_no_request_on_a_connection_the_server_closed_while_idle(
    tls: bool, request: pytest.FixtureRequest
) -> None:
    served: ssl.SSLContext | None = request.getfixturevalue("trusted_tls") if tls else None
    retries: list[RetryEvent] = []
    async with (
        loopback_server(json.dumps(asset()).encode(), closes_idle=True, tls=served) as (url, server),
        CodeOceanClient(url, "cop_pool_token", retry=FAST, on_retry=retries.append) as client,
    ):
        await client.get_data_asset(ASSET_ID)
        await server.close_idle_connections()
        again = await client.get_data_asset(ASSET_ID)
    assert again.id == ASSET_ID
    assert retries == []  # not rescued by a retry: the pool saw the close before sending
    assert server.requests_per_connection == [1, 1]


async def test_the_client_goes_through_a_proxy_named_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    async with loopback_server(json.dumps(asset()).encode(), closes_idle=False) as (proxy_url, proxy):
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        async with CodeOceanClient("http://codeocean.example.org", "cop_pool_token", retry=FAST) as client:
            found = await client.get_data_asset(ASSET_ID)
    assert found.id == ASSET_ID
    # Sent to the proxy, in the absolute form a proxy takes: the client never connected to the host itself.
    assert proxy.request_lines == [f"GET http://codeocean.example.org/api/v1/data_assets/{ASSET_ID} HTTP/1.1"]
