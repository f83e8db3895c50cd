"""Sandbox fixtures: a sandbox on a hand-driven clock, raw HTTP clients per user, hand-made records."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx2
import pytest

from co_mcp.sandbox import Sandbox
from co_mcp.sandbox.demo_data import ALICE_ID
from co_mcp.sandbox.records import AssetRecord

START = 1_750_000_000.0
URL_SECRET = b"sandbox-test-secret"


class Clock:
    """A clock that moves only when told to: drafts settle and links expire on cue."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sandbox(clock: Clock) -> Sandbox:
    return Sandbox(assets=40, seed=7, clock=clock, url_secret=URL_SECRET)


def basic(token: str) -> dict[str, str]:
    """The Authorization header the SDK sends: the token as Basic username, empty password."""
    return {"Authorization": "Basic " + base64.b64encode(f"{token}:".encode()).decode()}


ClientFactory = Callable[[str], httpx2.AsyncClient]


@pytest.fixture
def client_as(sandbox: Sandbox) -> ClientFactory:
    """``client_as("bob")``: a raw HTTP client of the in-process sandbox, as that user."""

    def make(user: str) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=sandbox.app),
            base_url="http://sandbox",
            headers=basic(sandbox.token_for(user)),
        )

    return make


@pytest.fixture
async def client(client_as: ClientFactory) -> AsyncIterator[httpx2.AsyncClient]:
    """Alice's client (the primary user)."""
    async with client_as("alice") as http:
        yield http


@pytest.fixture
async def anonymous(sandbox: Sandbox) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=sandbox.app), base_url="http://sandbox") as http:
        yield http


def record(asset_id: str, **fields: Any) -> AssetRecord:
    """A ready, internal, unshared dataset owned by ``owner_id`` (default alice), with overrides."""
    defaults: dict[str, Any] = {
        "id": asset_id,
        "created": int(START) - 1000,
        "name": "asset",
        "mount": "asset",
        "owner_id": ALICE_ID,
        "state": "ready",
        "type": "dataset",
        "files": 3,
        "size": 1000,
        "source_bucket": {"origin": "local"},
    }
    return AssetRecord(**{**defaults, **fields})


def uid(n: int) -> str:
    """A readable, valid, lowercase UUID: ``uid(7)`` is ``00000000-0000-4000-8000-000000000007``."""
    return f"00000000-0000-4000-8000-{n:012d}"
