"""Serving the sandbox over real HTTP with uvicorn: in a background thread for tests, or blocking for the CLI."""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
from typing import TYPE_CHECKING

import uvicorn

if TYPE_CHECKING:
    from collections.abc import Iterator

    from starlette.types import ASGIApp

    from co_mcp.sandbox import Sandbox

__all__ = ["running", "serve", "serving"]


def _config(app: ASGIApp, host: str, port: int, *, log_level: str, lifespan: str = "off") -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        # Leave the host application's logging alone; uvicorn would otherwise dictConfig it.
        log_config=None,
        access_log=False,
        lifespan=lifespan,  # type: ignore[arg-type]
        ws="none",
        http="h11",
        loop="asyncio",
    )


def _bind(config: uvicorn.Config) -> socket.socket:
    """Bind the listening socket, with Nagle's algorithm off for every connection accepted on it.

    uvicorn's ``bind_socket`` creates it with protocol 0, and asyncio only disables Nagle on accepted
    sockets whose protocol says TCP, so each response's body write would wait for the client's delayed
    ACK of the headers. Accepted sockets inherit TCP_NODELAY from the listener.
    """
    sock = config.bind_socket()
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _url(host: str, sock: socket.socket) -> str:
    port = sock.getsockname()[1]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@contextlib.contextmanager
def running(sandbox: Sandbox, host: str = "127.0.0.1", port: int = 0, *, timeout: float = 10.0) -> Iterator[str]:
    """Serve ``sandbox`` on loopback in a background thread; yields its base URL, stops on exit."""
    with serving(sandbox.app, host, port, timeout=timeout) as url:
        yield url


@contextlib.contextmanager
def serving(
    app: ASGIApp, host: str = "127.0.0.1", port: int = 0, *, timeout: float = 10.0, lifespan: str = "off"
) -> Iterator[str]:
    """Serve any ASGI ``app`` in a background thread; yields its base URL, stops on exit.

    ``port=0`` picks a free port: the socket is bound here, before uvicorn starts, so the URL is
    known without racing the server. ``lifespan="on"`` runs the app's startup and shutdown.
    """
    config = _config(app, host, port, log_level="warning", lifespan=lifespan)
    sock = _bind(config)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="co-mcp-uvicorn", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the server stopped while starting; see the log above")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the server did not start within {timeout:g} s")
            time.sleep(0.005)
        yield _url(host, sock)
    finally:
        server.should_exit = True
        thread.join(timeout)
        sock.close()


def serve(sandbox: Sandbox, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve ``sandbox`` in the foreground until interrupted (Ctrl-C); for ``co-mcp sandbox``."""
    config = _config(sandbox.app, host, port, log_level="info")
    sock = _bind(config)
    url = _url(host, sock)
    others = ", ".join(f"{name} {user.token}" for name, user in sandbox.users.items() if name != sandbox.primary_name)
    print(
        f"co-mcp sandbox: a Code Ocean data-asset API emulator at {url} "
        f"({sandbox.store.count_assets()} data assets, {len(sandbox.users)} users). Point a client at it with:\n"
        f"  export CODEOCEAN_DOMAIN={url}\n"
        f"  export CODEOCEAN_TOKEN={sandbox.token_for(sandbox.primary_name)}\n"
        f"Other users' tokens: {others}. Ctrl-C stops it.",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.Server(config).run(sockets=[sock])
