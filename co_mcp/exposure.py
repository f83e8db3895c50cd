"""Who can reach co_mcp over the network: what counts as loopback, and what serving beyond it requires.

Defined once, here, for the HTTP transport (``co_mcp.server.http``), the command line and the doctor. It
imports nothing from ``mcp``, so the doctor keeps working when the MCP side is what is broken.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["LOOPBACK_NAMES", "is_loopback", "missing_beyond_loopback"]

# The spellings of this machine that clients use in a URL, and so in the Host header they send.
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` (a name, an IP address, or an IPv6 address in brackets) reaches this machine only.

    ``localhost`` and every loopback address (127.0.0.0/8, ::1) do; any other name might resolve anywhere,
    so it does not, and neither do the wildcard addresses 0.0.0.0 and ::, which listen on every interface.
    """
    if not host:
        return False
    name = host.strip().removeprefix("[").removesuffix("]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def missing_beyond_loopback(*, allowed_hosts: Sequence[str], token: bool) -> list[str]:
    """The settings an HTTP transport bound beyond loopback still lacks; empty when it may serve.

    Beyond loopback co_mcp serves only when both are set: CO_MCP_ALLOWED_HOSTS (the Host names clients use,
    so a DNS-rebinding page cannot reach it under another name) and a bearer token that every client must
    send. CO_MCP_HTTP_NO_AUTH never applies there.
    """
    needed = (("CO_MCP_ALLOWED_HOSTS", bool(allowed_hosts)), ("CO_MCP_HTTP_TOKEN", token))
    return [name for name, present in needed if not present]
