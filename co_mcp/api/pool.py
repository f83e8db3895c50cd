"""The client's connection pool: httpx2's own, with a cheaper answer to its keep-alive probe.

Each time a request joins or leaves httpcore2's pool, the pool asks every idle connection whether the
server has closed it (``get_extra_info("is_readable")``). With anyio streams that question rebuilds the
stream's attribute table before it polls the socket: about 6 µs, asked hundreds of times per burst of 32
calls on a warm pool of 32, which made it the largest single cost in co_mcp's per-call CPU under
concurrency. These streams keep the socket from the start and poll it directly (under 1 µs), with the
same answer. The pool and its logic are untouched; upstream is replacing the scan itself
(pydantic/httpx2#1169), after which this module can go.
"""

# ruff: noqa: ASYNC109 - the timeout parameters are httpcore2's network-stream interface, passed through

from __future__ import annotations

import urllib.request
from typing import TYPE_CHECKING, Any

import httpcore2
import httpx2

# httpcore2's own check (poll, or select on Windows; a missing or closed socket counts as readable), which its
# anyio streams reach only through the attribute table; pinned with httpcore2's minor in pyproject.
from httpcore2._utils import is_socket_readable as socket_readable

if TYPE_CHECKING:
    import socket
    import ssl
    from collections.abc import Iterable

    from httpcore2._types import SOCKET_OPTION

__all__ = ["PooledTransport", "ProbedStream", "pooled_transport", "socket_readable"]


def pooled_transport(limits: httpx2.Limits) -> PooledTransport | None:
    """The client's transport, or None when the environment names a proxy (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY).

    httpx2 reads those variables only when it builds its transports itself, so then it does, proxies and
    NO_PROXY included, and the probe is httpx2's own.
    """
    proxies = urllib.request.getproxies()  # what httpx2 reads, from the same place
    if any(proxies.get(scheme) for scheme in ("http", "https", "all")):
        return None
    return PooledTransport(limits)


class ProbedStream(httpcore2.AsyncNetworkStream):
    """An httpcore2 network stream whose readability probe polls a socket kept from the start."""

    def __init__(self, inner: httpcore2.AsyncNetworkStream) -> None:
        self._inner = inner
        # For a TLS stream this is the TCP socket underneath, the one httpcore2's own probe polls.
        self._socket: socket.socket | None = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore2.AsyncNetworkStream:
        return ProbedStream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return socket_readable(self._socket)
        if info == "socket":
            return self._socket
        return self._inner.get_extra_info(info)


class _ProbedBackend(httpcore2.AsyncNetworkBackend):
    """httpcore2's anyio backend, handing out ``ProbedStream``s."""

    def __init__(self) -> None:
        self._inner = httpcore2.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        stream = await self._inner.connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )
        return ProbedStream(stream)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[SOCKET_OPTION] | None = None
    ) -> httpcore2.AsyncNetworkStream:  # pragma: no cover - the client connects over TCP
        return ProbedStream(await self._inner.connect_unix_socket(path, timeout=timeout, socket_options=socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class PooledTransport(httpx2.AsyncHTTPTransport):
    """``httpx2.AsyncHTTPTransport`` (HTTP/1.1, certificates verified as httpx2 verifies them by default)
    whose pool connects through ``_ProbedBackend``."""

    def __init__(self, limits: httpx2.Limits) -> None:
        super().__init__(limits=limits)
        # httpx2's constructor takes no network backend; its pool (built above, with no proxy) keeps one, used for
        # every connection it opens. Use this transport only where no proxy applies: see pooled_transport.
        self._pool._network_backend = _ProbedBackend()
