"""Shared fixtures: a seeded sandbox, a client and an MCP server wired to it in-process, both protocol eras."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client

from co_mcp.api import CodeOceanClient, RetryPolicy
from co_mcp.audit import AuditLog
from co_mcp.confirm import TokenSigner
from co_mcp.sandbox import Sandbox
from co_mcp.server import ServerOptions, build_server
from tests.oidc import ANY_LOCAL_MCP, OTHER_RESOURCE, Provider, running_provider
from tests.postgres import postgres_url  # noqa: F401 - a session fixture for every module

# Retries without waiting, so fault tests stay fast; Retry-After is still honoured up to 50 ms.
FAST_RETRY = RetryPolicy(
    attempts=5, timeout=10.0, wait_initial=0.0, wait_max=0.0, wait_jitter=0.0, max_retry_after=0.05
)
SANDBOX_URL = "http://sandbox.test"
SECRET = b"test-confirm-secret-0123456789ab"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox(assets=40, seed=7, ready_delay=0.0)


def client_for(sandbox: Sandbox, user: str = "alice", **kwargs: Any) -> CodeOceanClient:
    """A client of the sandbox, in-process, as one of its users."""
    kwargs.setdefault("retry", FAST_RETRY)
    kwargs.setdefault("reconcile_delays", (0.0,))
    transport = httpx2.ASGITransport(app=sandbox.app)
    return CodeOceanClient(SANDBOX_URL, sandbox.token_for(user), transport=transport, **kwargs)


@pytest.fixture
async def api(sandbox: Sandbox) -> AsyncIterator[CodeOceanClient]:
    async with client_for(sandbox) as client:
        yield client


@pytest.fixture
def audit_path(tmp_path: Path) -> Path:
    return tmp_path / "audit.jsonl"


@pytest.fixture
def options(audit_path: Path) -> ServerOptions:
    return ServerOptions(signer=TokenSigner(SECRET), audit=AuditLog(audit_path))


@pytest.fixture(params=["legacy", "auto"])
def mode(request: pytest.FixtureRequest) -> str:
    """Both protocol eras: legacy negotiates 2025-11-25, auto 2026-07-28."""
    return str(request.param)


ServerFactory = Callable[..., Any]


@pytest.fixture
def make_server(sandbox: Sandbox, options: ServerOptions) -> ServerFactory:
    def make(user: str = "alice", **overrides: Any) -> Any:
        chosen = ServerOptions(**{**options.__dict__, **overrides}) if overrides else options
        return build_server(lambda: client_for(sandbox, user), options=chosen)

    return make


@pytest.fixture
async def mcp(make_server: ServerFactory, mode: str) -> AsyncIterator[Client]:
    """An MCP client connected in-process to a server wired to the sandbox (no elicitation support)."""
    async with Client(make_server(), mode=mode) as client:
        yield client


# --- team mode: real OpenID providers (tests/oidc.py; skipped without `bash tests/oidc/install.sh`, failed under CI)


@pytest.fixture(scope="session")
def oidc() -> Iterator[Provider]:
    """The team's OpenID provider: tokens for co-mcp's endpoint on any loopback port, and for OTHER_RESOURCE."""
    with running_provider(resources=[ANY_LOCAL_MCP, OTHER_RESOURCE]) as provider:
        yield provider


@pytest.fixture(scope="session")
def other_oidc() -> Iterator[Provider]:
    """A second, independent provider (another issuer, other keys) issuing for the same resources."""
    with running_provider(resources=[ANY_LOCAL_MCP, OTHER_RESOURCE]) as provider:
        yield provider
