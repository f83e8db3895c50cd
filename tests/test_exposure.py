"""What counts as loopback, and what serving beyond it requires."""

from __future__ import annotations

import pytest

from co_mcp.exposure import LOOPBACK_NAMES, is_loopback, missing_beyond_loopback


@pytest.mark.parametrize("host", [*LOOPBACK_NAMES, "127.0.0.2", "127.255.255.254", "LOCALHOST", "[::1]"])
def test_this_machines_names_and_addresses_are_loopback(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize(
    "host", ["0.0.0.0", "::", "10.0.0.1", "192.168.1.2", "mcp.example.org", "localhost.example.org", "", None]
)
def test_every_other_host_is_not_loopback(host: str | None) -> None:
    assert not is_loopback(host)


def test_beyond_loopback_both_the_allowed_hosts_and_a_token_are_needed() -> None:
    assert missing_beyond_loopback(allowed_hosts=[], token=False) == ["CO_MCP_ALLOWED_HOSTS", "CO_MCP_HTTP_TOKEN"]


def test_beyond_loopback_a_token_alone_is_not_enough() -> None:
    assert missing_beyond_loopback(allowed_hosts=[], token=True) == ["CO_MCP_ALLOWED_HOSTS"]


def test_beyond_loopback_allowed_hosts_alone_are_not_enough() -> None:
    assert missing_beyond_loopback(allowed_hosts=["mcp.example.org"], token=False) == ["CO_MCP_HTTP_TOKEN"]


def test_beyond_loopback_both_set_is_enough() -> None:
    assert missing_beyond_loopback(allowed_hosts=["mcp.example.org"], token=True) == []
