"""A co-mcp team deployment for tests: the HTTP app in team mode on loopback, a real OpenID provider's tokens, a
sandbox over real HTTP as Code Ocean, and MCP clients that send a person's access token."""

from __future__ import annotations

import secrets
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from pydantic import SecretStr

from co_mcp.audit import AuditLog
from co_mcp.config import Settings, load_settings
from co_mcp.linked import CredentialKey
from co_mcp.sandbox import Sandbox
from co_mcp.sandbox.server import running, serving
from co_mcp.server import ServerOptions, build_server, http_app
from co_mcp.team import Team
from tests.oidc import READ_SCOPE, WRITE_SCOPE, Provider

BOTH = (READ_SCOPE, WRITE_SCOPE)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Deployment:
    """One co-mcp in team mode and what it talks to."""

    url: str  # its public MCP URL, the access tokens' audience
    provider: Provider
    sandbox: Sandbox
    settings: Settings
    team: Team
    audit: AuditLog
    state_dir: Path

    def token(self, person: str, scopes: tuple[str, ...] = BOTH, **kwargs: Any) -> str:
        """A real access token of ``person`` for this co-mcp, from the provider's authorization-code flow."""
        return self.provider.token(person, scopes=scopes, resource=self.url, **kwargs)

    async def link(self, person: str, codeocean_user: str | None = None) -> None:
        """Link the sandbox user's token to the person, as the link page or the admin command does."""
        token = SecretStr(self.sandbox.token_for(codeocean_user or person))
        await self.team.linked.link(self.provider.issuer, person, token)

    @property
    def base(self) -> str:
        return self.url.removesuffix("/mcp")


@contextmanager
def deployment(state_dir: Path, provider: Provider, sandbox: Sandbox, **overrides: Any) -> Iterator[Deployment]:
    with running(sandbox) as codeocean:
        port = free_port()
        public = f"http://127.0.0.1:{port}/mcp"
        overrides.setdefault("link_client_id", provider.register(f"http://127.0.0.1:{port}/link/callback"))
        settings = load_settings(
            codeocean_domain=codeocean,
            auth_issuer=provider.issuer,
            public_url=public,
            credential_key=CredentialKey.generate(),
            confirm_secret=secrets.token_hex(32),
            state_dir=state_dir,
            audit_log=str(state_dir / "audit.jsonl"),
            **overrides,
        )
        options = ServerOptions.from_settings(settings)
        assert options.team is not None

        def no_shared_client() -> Any:
            raise AssertionError("team mode must never make a shared client")

        server = build_server(no_shared_client, options=options)
        app = http_app(server, settings, "127.0.0.1", team=options.team)
        with serving(app, "127.0.0.1", port, lifespan="on"):
            yield Deployment(public, provider, sandbox, settings, options.team, options.audit, state_dir)


def open_link(link_url: str, provider: Provider, signed_in_as: str) -> tuple[httpx2.Client, httpx2.Response]:
    """A browser opening a link: co-mcp sends it to sign in, ``signed_in_as`` signs in, and it comes back.

    Returns the browser (its cookie jar holds co-mcp's cookie) and co-mcp's answer to the sign-in: the form,
    or a refusal.
    """
    browser = httpx2.Client(timeout=30)
    opened = browser.get(link_url)
    if opened.status_code != 303:
        return browser, opened
    origin = link_url.split("/link", 1)[0]
    landed = provider.sign_in(opened.headers["location"], signed_in_as, f"{origin}/link/callback")
    return browser, browser.get(landed)


def proof_of(form: httpx2.Response) -> str:
    """The sealed proof a link form carries."""
    import re

    found = re.search(r'name="proof" value="([^"]+)"', form.text)
    assert found is not None, form.text
    return found.group(1)


@asynccontextmanager
async def mcp_as(url: str, token: str | None, **client_options: Any) -> AsyncIterator[Client]:
    """An MCP client of ``url`` sending ``token`` as its bearer access token."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    http = httpx2.AsyncClient(headers=headers, timeout=60)
    async with http, Client(streamable_http_client(url, http_client=http), **client_options) as client:
        yield client


async def post_mcp(url: str, token: str | None, message: dict[str, Any]) -> httpx2.Response:
    """One raw JSON-RPC POST, to see the HTTP status and headers a client gets."""
    headers = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with httpx2.AsyncClient(timeout=30) as http:
        return await http.post(url, json={"jsonrpc": "2.0", "id": 1, **message}, headers=headers)
