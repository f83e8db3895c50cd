"""Serving: co-mcp as a stdio subprocess, and streamable HTTP over loopback with its guards."""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.session import ClientRequestContext
from mcp.client.streamable_http import streamable_http_client
from mcp.types import ElicitRequestParams, ElicitResult, ErrorData

from co_mcp.audit import AuditLog
from co_mcp.config import Settings
from co_mcp.confirm import TokenSigner
from co_mcp.errors import ConfigurationError
from co_mcp.sandbox import Sandbox
from co_mcp.sandbox.server import serving
from co_mcp.server import ServerOptions, build_server, http_app
from co_mcp.server.http import transport_security
from tests.conftest import SECRET, client_for

pytestmark = pytest.mark.anyio

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def alice_asset(sandbox: Sandbox) -> str:
    alice = sandbox.users["alice"].id
    return next(r.id for r in sandbox.store.all_assets() if r.owner_id == alice and r.state == "ready")


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("CODEOCEAN_", "CO_MCP_"))}


@pytest.mark.slow
async def test_stdio_subprocess_with_the_embedded_sandbox_lists_and_calls_tools() -> None:
    params = StdioServerParameters(command=sys.executable, args=["-m", "co_mcp", "--sandbox"], env=clean_env())
    async with Client(params, read_timeout_seconds=60) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        result = await client.call_tool("search_data_assets", {"query": "rna", "limit": 3})
    assert {"search_data_assets", "delete_data_asset"} <= names
    assert not result.is_error
    assert result.structured_content is not None
    assert result.structured_content["results"]


BEARER = "http-bearer-canary-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {BEARER}"}
MCP_HEADERS = {**MCP_HEADERS, **AUTH}


def with_token(**values: Any) -> Settings:
    """HTTP settings as a deployment would have them: a bearer token, and whatever else is under test."""
    return Settings(http_token=BEARER, **values)


@contextmanager
def mcp_over_http(sandbox: Sandbox, settings: Settings) -> Iterator[str]:
    server = build_server(lambda: client_for(sandbox))
    with serving(http_app(server, settings, "127.0.0.1"), lifespan="on") as base_url:
        yield f"{base_url}/mcp"


@asynccontextmanager
async def connected(url: str, **kwargs: Any) -> AsyncIterator[Client]:
    """An MCP client of ``url`` that sends the bearer token."""
    http = httpx2.AsyncClient(headers=AUTH, timeout=60)
    async with http, Client(streamable_http_client(url, http_client=http), **kwargs) as client:
        yield client


@pytest.mark.loopback
async def test_streamable_http_serves_both_eras(sandbox: Sandbox, mode: str) -> None:
    with mcp_over_http(sandbox, with_token()) as url:
        async with connected(url, mode=mode) as client:
            result = await client.call_tool("search_data_assets", {"limit": 2})
    assert not result.is_error
    assert result.structured_content is not None
    assert len(result.structured_content["results"]) == 2


@pytest.mark.loopback
async def test_http_without_the_bearer_token_is_refused_and_reaches_no_tool(sandbox: Sandbox) -> None:
    with mcp_over_http(sandbox, with_token()) as url:
        sandbox.request_log.clear()
        anonymous = {k: v for k, v in MCP_HEADERS.items() if k != "Authorization"}
        async with httpx2.AsyncClient() as http:
            missing = await http.post(url, json=INIT, headers=anonymous)
            wrong = await http.post(url, json=INIT, headers={**MCP_HEADERS, "Authorization": "Bearer nope"})
    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert sandbox.request_log.entries == []


@pytest.mark.loopback
async def test_http_with_the_bearer_token_works(sandbox: Sandbox) -> None:
    with mcp_over_http(sandbox, with_token()) as url:
        async with connected(url) as client:
            result = await client.call_tool("get_custom_metadata_schema", {})
    assert not result.is_error


def test_on_loopback_too_serving_without_a_token_needs_the_explicit_opt_out() -> None:
    server = build_server(lambda: client_for(Sandbox(assets=1)))
    with pytest.raises(ConfigurationError, match="CO_MCP_HTTP_TOKEN") as refused:
        http_app(server, Settings(), "127.0.0.1")
    assert "CO_MCP_HTTP_NO_AUTH=1" in str(refused.value)


@pytest.mark.loopback
async def test_the_opt_out_serves_loopback_without_a_token(sandbox: Sandbox) -> None:
    with mcp_over_http(sandbox, Settings(http_no_auth=True)) as url:
        async with Client(url) as client:
            result = await client.call_tool("get_custom_metadata_schema", {})
    assert not result.is_error


def test_the_opt_out_does_not_reach_beyond_loopback() -> None:
    server = build_server(lambda: client_for(Sandbox(assets=1)))
    settings = Settings(allowed_hosts=["mcp.example.org"], http_no_auth=True)
    with pytest.raises(ConfigurationError, match="CO_MCP_HTTP_TOKEN") as refused:
        http_app(server, settings, "0.0.0.0")
    assert "loopback only" in str(refused.value)


def test_the_opt_out_and_a_token_together_are_refused() -> None:
    server = build_server(lambda: client_for(Sandbox(assets=1)))
    with pytest.raises(ConfigurationError, match="both set"):
        http_app(server, with_token(http_no_auth=True), "127.0.0.1")


@pytest.mark.loopback
async def test_a_token_given_to_the_app_wins_over_none_configured(sandbox: Sandbox) -> None:
    server = build_server(lambda: client_for(sandbox))
    with serving(http_app(server, Settings(), "127.0.0.1", token=BEARER), lifespan="on") as base_url:
        async with connected(f"{base_url}/mcp") as client:
            assert not (await client.call_tool("get_custom_metadata_schema", {})).is_error
        async with httpx2.AsyncClient() as http:
            anonymous = await http.post(f"{base_url}/mcp", json=INIT, headers={"Accept": "application/json"})
    assert anonymous.status_code == 401


@pytest.mark.loopback
async def test_http_refuses_a_foreign_host_header(sandbox: Sandbox) -> None:
    with mcp_over_http(sandbox, with_token()) as url:
        async with httpx2.AsyncClient() as http:
            response = await http.post(url, json=INIT, headers={**MCP_HEADERS, "Host": "evil.example"})
    assert response.status_code == 421


@pytest.mark.loopback
async def test_http_refuses_a_foreign_origin(sandbox: Sandbox) -> None:
    with mcp_over_http(sandbox, with_token()) as url:
        async with httpx2.AsyncClient() as http:
            response = await http.post(url, json=INIT, headers={**MCP_HEADERS, "Origin": "https://evil.example"})
    assert response.status_code == 403


def test_binding_beyond_loopback_needs_allowed_hosts_and_a_token() -> None:
    server = build_server(lambda: client_for(Sandbox(assets=1)))
    with pytest.raises(ConfigurationError, match="CO_MCP_ALLOWED_HOSTS and CO_MCP_HTTP_TOKEN"):
        http_app(server, Settings(), "0.0.0.0")


def test_binding_beyond_loopback_with_both_set_builds_an_app() -> None:
    server = build_server(lambda: client_for(Sandbox(assets=1)))
    settings = Settings(allowed_hosts=["mcp.example.org"], http_token="t0ken")
    assert http_app(server, settings, "0.0.0.0") is not None


def test_any_loopback_address_gets_the_loopback_rules_and_accepts_its_own_host() -> None:
    security = transport_security(Settings(), "127.0.0.2", token=BEARER)
    assert security.enable_dns_rebinding_protection
    assert security.allowed_hosts == ["127.0.0.1:*", "localhost:*", "[::1]:*", "127.0.0.2:*"]


def test_on_loopback_the_configured_origins_replace_the_local_ones() -> None:
    security = transport_security(Settings(allowed_origins=["https://app.example.org"]), "127.0.0.1", token=BEARER)
    assert security.allowed_origins == ["https://app.example.org"]


def test_on_loopback_without_configured_origins_only_local_pages_may_call() -> None:
    security = transport_security(Settings(), "::1", token=BEARER)
    assert security.allowed_origins == ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]


@pytest.mark.loopback
async def test_elicitation_on_2026_07_28_round_trips_across_replicas_sharing_the_secret(sandbox: Sandbox) -> None:
    options = ServerOptions(signer=TokenSigner(SECRET), audit=AuditLog("-"))
    replicas = [
        http_app(build_server(lambda: client_for(sandbox), options=options), with_token(), "127.0.0.1") for _ in "ab"
    ]
    bases: list[str] = []
    turn = itertools.count()

    async def round_robin(scope: Any, receive: Any, send: Any) -> None:
        # A load balancer with no affinity: each request goes to the other replica.
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = [(k.decode(), v.decode()) for k, v in scope["headers"] if k not in (b"host", b"content-length")]
        async with httpx2.AsyncClient() as http:
            upstream = bases[next(turn) % 2] + scope["path"]
            answer = await http.request(scope["method"], upstream, content=body, headers=headers)
        skip = ("content-length", "transfer-encoding", "content-encoding")
        out = [(k.encode(), v.encode()) for k, v in answer.headers.items() if k.lower() not in skip]
        await send({"type": "http.response.start", "status": answer.status_code, "headers": out})
        await send({"type": "http.response.body", "body": answer.content})

    async def yes(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult | ErrorData:
        return ElicitResult(action="accept", content={"confirm": True})

    target = alice_asset(sandbox)
    with serving(replicas[0], lifespan="on") as first, serving(replicas[1], lifespan="on") as second:
        bases.extend([first, second])
        with serving(round_robin) as proxy:
            async with connected(f"{proxy}/mcp", mode="auto", elicitation_callback=yes) as client:
                result = await client.call_tool("archive_data_asset", {"data_asset_ids": [target]})
    assert not result.is_error
    stored = sandbox.store.get_asset(target)
    assert stored is not None
    assert stored.archived


@pytest.mark.loopback
async def test_on_loopback_behind_a_proxy_the_allowed_public_name_is_accepted(sandbox: Sandbox) -> None:
    settings = with_token(allowed_hosts=["mcp.example.org"])
    with mcp_over_http(sandbox, settings) as url:
        async with httpx2.AsyncClient() as http:
            proxied = await http.post(url, json=INIT, headers={**MCP_HEADERS, "Host": "mcp.example.org"})
            foreign = await http.post(url, json=INIT, headers={**MCP_HEADERS, "Host": "evil.example"})
    assert proxied.status_code == 200
    assert foreign.status_code == 421


@pytest.mark.loopback
async def test_stateless_http_assigns_no_session(sandbox: Sandbox) -> None:
    with mcp_over_http(sandbox, with_token()) as url:
        async with httpx2.AsyncClient() as http:
            answer = await http.post(url, json=INIT, headers=MCP_HEADERS)
    assert answer.status_code == 200
    assert "mcp-session-id" not in answer.headers


@pytest.mark.loopback
async def test_stateless_http_answers_a_listen_stream_get_with_405(sandbox: Sandbox) -> None:
    with mcp_over_http(sandbox, with_token()) as url:
        async with httpx2.AsyncClient(timeout=5) as http:
            listen = {"Accept": "text/event-stream", "MCP-Protocol-Version": "2025-11-25", **AUTH}
            answer = await http.get(url, headers=listen)
    assert answer.status_code == 405
    assert answer.headers["allow"] == "POST"
    assert "POST" in answer.json()["message"]


@pytest.mark.loopback
@pytest.mark.parametrize("method", ["DELETE", "HEAD", "PUT"])
async def test_stateless_http_allows_only_post(sandbox: Sandbox, method: str) -> None:
    with mcp_over_http(sandbox, with_token()) as url:
        async with httpx2.AsyncClient(timeout=5) as http:
            answer = await http.request(method, url, headers={"MCP-Protocol-Version": "2025-11-25", **AUTH})
    assert (answer.status_code, answer.headers["allow"]) == (405, "POST")


@pytest.mark.loopback
async def test_http_sessions_still_open_the_listen_stream(sandbox: Sandbox) -> None:
    with mcp_over_http(sandbox, with_token(http_sessions=True)) as url:
        async with httpx2.AsyncClient(timeout=5) as http:
            session = (await http.post(url, json=INIT, headers=MCP_HEADERS)).headers["mcp-session-id"]
            listen = {
                "Accept": "text/event-stream",
                "Mcp-Session-Id": session,
                "MCP-Protocol-Version": "2025-11-25",
                **AUTH,
            }
            async with http.stream("GET", url, headers=listen) as answer:
                status, kind = answer.status_code, answer.headers["content-type"]
    assert (status, kind.split(";")[0]) == (200, "text/event-stream")


@pytest.mark.loopback
async def test_http_sessions_assign_a_session_id(sandbox: Sandbox) -> None:
    with mcp_over_http(sandbox, with_token(http_sessions=True)) as url:
        async with httpx2.AsyncClient() as http:
            answer = await http.post(url, json=INIT, headers=MCP_HEADERS)
    assert answer.status_code == 200
    assert answer.headers["mcp-session-id"]


@pytest.mark.loopback
async def test_http_sessions_let_a_2025_client_confirm_by_elicitation(sandbox: Sandbox) -> None:
    # Stateless HTTP has no back-channel for 2025-11-25 clients, so they fall back to preview and token;
    # with sessions the server asks the user directly, as over stdio.
    asked: list[str] = []

    async def yes(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult | ErrorData:
        asked.append(params.message)
        return ElicitResult(action="accept", content={"confirm": True})

    target = alice_asset(sandbox)
    with mcp_over_http(sandbox, with_token(http_sessions=True)) as url:
        async with connected(url, mode="legacy", elicitation_callback=yes) as client:
            result = await client.call_tool("archive_data_asset", {"data_asset_ids": [target]})
    assert not result.is_error
    assert len(asked) == 1
    stored = sandbox.store.get_asset(target)
    assert stored is not None
    assert stored.archived
