"""Serving over real loopback HTTP: ``running`` starts uvicorn in a thread, gives the URL, and stops cleanly."""

from __future__ import annotations

import logging
import socket
import time
from urllib.parse import urlsplit

import httpx2
import pytest

from co_mcp.sandbox import Sandbox
from co_mcp.sandbox.demo_data import DEMO_DATASET_ID
from co_mcp.sandbox.server import running
from tests.sandbox.conftest import basic

pytestmark = pytest.mark.loopback


@pytest.fixture
def small() -> Sandbox:
    return Sandbox(assets=12, seed=3)


def test_running_serves_the_api_over_http(small: Sandbox) -> None:
    with running(small) as base_url:
        response = httpx2.get(f"{base_url}/api/v1/data_assets/{DEMO_DATASET_ID}", headers=basic("cop_sandbox_token"))
    assert response.status_code == 200
    assert response.json()["id"] == DEMO_DATASET_ID
    assert small.request_log.count(operation="get", status=200) == 1


def test_port_zero_picks_a_free_loopback_port(small: Sandbox) -> None:
    with running(small, port=0) as base_url:
        parts = urlsplit(base_url)
        assert (parts.scheme, parts.hostname) == ("http", "127.0.0.1")
        assert parts.port


def test_the_server_stops_when_the_block_ends(small: Sandbox) -> None:
    with running(small) as base_url:
        port = urlsplit(base_url).port
        assert port is not None
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


def test_signed_links_point_back_at_the_served_url(small: Sandbox) -> None:
    with running(small) as base_url, httpx2.Client(base_url=base_url, headers=basic("cop_sandbox_token")) as http:
        listing = http.post(f"/api/v1/data_assets/{DEMO_DATASET_ID}/files", json={"path": ""}).json()["items"]
        path = next(item["path"] for item in listing if item["type"] == "file")
        urls = http.get(f"/api/v1/data_assets/{DEMO_DATASET_ID}/files/urls", params={"path": path}).json()
        assert urls["download_url"].startswith(f"{base_url}/__files/")
        assert httpx2.head(urls["download_url"]).status_code == 200


def test_a_client_that_gives_up_during_latency_creates_nothing_and_logs_no_error(
    small: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    # uvicorn tells the app the client left when it reads the body; that is no handler bug.
    small.faults.latency(0.4, ops="create", for_requests=1)
    before = small.store.count_assets()
    body = {"name": "given up", "mount": "m", "source": {"aws": {"bucket": "b"}}}
    with running(small) as base_url, httpx2.Client(base_url=base_url, headers=basic("cop_sandbox_token")) as http:
        with pytest.raises(httpx2.ReadTimeout):
            http.post("/api/v1/data_assets", json=body, timeout=0.1)
        for _ in range(40):  # until the delayed request has run its course, 2 s at most
            if small.request_log.count(operation="create"):
                break
            time.sleep(0.05)
    assert small.request_log.count(operation="create", committed=False) == 1
    assert small.store.count_assets() == before
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
