"""Serving: stdio, or streamable HTTP behind a bearer token, Host/Origin checks and a body cap."""

from __future__ import annotations

import hmac
import logging
from typing import TYPE_CHECKING, Any

from co_mcp.errors import ConfigurationError
from co_mcp.exposure import LOOPBACK_NAMES, is_loopback, missing_beyond_loopback

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer
    from mcp.server.transport_security import TransportSecuritySettings

    from co_mcp.config import Settings
    from co_mcp.server.state import AppState
    from co_mcp.team import Team

__all__ = ["MAX_REQUEST_BODY", "BearerGuard", "PostOnly", "http_app", "serve"]

log = logging.getLogger(__name__)

# Real calls are a few KB; the cap bounds what one request can make the server buffer.
MAX_REQUEST_BODY = 1 << 20


class BearerGuard:
    """ASGI middleware: every request must carry ``Authorization: Bearer <CO_MCP_HTTP_TOKEN>``.

    This authenticates the MCP client to co_mcp. It is never the Code Ocean token: that stays on the
    server side, and nothing a client sends is passed through to Code Ocean.
    """

    def __init__(self, app: Any, token: str) -> None:
        self._app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            given = headers.get(b"authorization", b"")
            if not hmac.compare_digest(given, self._expected):
                body = (
                    b'{"error":"unauthorized","message":"send Authorization: Bearer <token>, with the token co-mcp '
                    b'showed when it started, or its CO_MCP_HTTP_TOKEN"}'
                )
                await send_json(send, 401, body, (b"www-authenticate", b'Bearer realm="co-mcp"'))
                return
        await self._app(scope, receive, send)


class PostOnly:
    """ASGI middleware for the stateless transport: anything but POST to /mcp gets 405 (``Allow: POST``).

    A client's GET asks for a stream of server-initiated messages. A stateless server has no session to send
    any on, and the SDK would hold the stream open with nothing on it: clients that open it when they connect
    wait on it until they time out, and each one holds a connection. The spec's answer for a server that
    offers no such stream is 405 (modelcontextprotocol/python-sdk#3492). DELETE (no session to end) and the
    rest get the same answer, which the SDK gives 2026-07-28 requests.
    """

    def __init__(self, app: Any) -> None:
        self._app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] != "POST" and scope["path"].rstrip("/") == "/mcp":
            body = (
                b'{"error":"method_not_allowed","message":"this server is stateless: it offers no stream of '
                b'server-initiated messages and no session to end; send requests with POST"}'
            )
            await send_json(send, 405, body, (b"allow", b"POST"))
            return
        await self._app(scope, receive, send)


async def send_json(send: Any, status: int, body: bytes, *headers: tuple[bytes, bytes]) -> None:
    """An ASGI response with a JSON ``body``, sent before the app is reached."""
    length = str(len(body)).encode()
    start = [(b"content-type", b"application/json"), (b"content-length", length), *headers]
    await send({"type": "http.response.start", "status": status, "headers": start})
    await send({"type": "http.response.body", "body": body})


def _host_pattern(name: str) -> str:
    """A Host header pattern for ``name`` on any port (an IPv6 address goes in brackets)."""
    return f"[{name}]:*" if ":" in name else f"{name}:*"


def transport_security(settings: Settings, host: str, token: str | None) -> TransportSecuritySettings:
    """The Host and Origin checks for serving on ``host``, once the exposure rule allows it (else a
    ConfigurationError saying what is missing)."""
    from mcp.server.transport_security import TransportSecuritySettings

    if settings.http_no_auth and token is not None:
        raise ConfigurationError(
            "CO_MCP_HTTP_NO_AUTH and a bearer token (CO_MCP_HTTP_TOKEN) are both set: unset one of them"
        )
    if not is_loopback(host):
        missing = missing_beyond_loopback(allowed_hosts=settings.allowed_hosts, token=token is not None)
        if missing:
            opt_out = " (CO_MCP_HTTP_NO_AUTH applies to loopback only)" if settings.http_no_auth else ""
            raise ConfigurationError(
                f"binding {host} exposes co_mcp beyond this machine: set {' and '.join(missing)} "
                f"(the Host names clients use, and a bearer token they must send){opt_out}, or bind 127.0.0.1"
            )
        return TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=settings.allowed_hosts,
            allowed_origins=settings.allowed_origins,
        )
    if token is None and not settings.http_no_auth:
        raise ConfigurationError(
            "the HTTP transport needs a bearer token that clients send as 'Authorization: Bearer <token>': set "
            "CO_MCP_HTTP_TOKEN (the co-mcp command makes one when it is not set), or set CO_MCP_HTTP_NO_AUTH=1 "
            "to let any process or user on this machine call every tool"
        )
    # The names of this machine a local client uses, and the address bound; behind a reverse proxy on the same
    # machine, requests also arrive for the public names in CO_MCP_ALLOWED_HOSTS.
    local = [_host_pattern(name) for name in dict.fromkeys([*LOOPBACK_NAMES, host.strip("[]")])]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[*local, *settings.allowed_hosts],
        allowed_origins=settings.allowed_origins or [f"http://{pattern}" for pattern in local],
    )


def http_app(
    server: MCPServer[AppState], settings: Settings, host: str, *, token: str | None = None, team: Team | None = None
) -> Any:
    """The streamable-HTTP ASGI app at /mcp: stateless, JSON responses, host and token checks.

    Every request needs ``Authorization: Bearer <token>``: ``token`` (the CLI makes one when none is
    configured), else CO_MCP_HTTP_TOKEN. Without either it is refused (ConfigurationError), unless
    CO_MCP_HTTP_NO_AUTH opts out, which only a loopback address allows. The Host and Origin checks are
    always on: on loopback they accept this machine's names, beyond it only CO_MCP_ALLOWED_HOSTS.

    With ``team`` (CO_MCP_AUTH_ISSUER), clients send access tokens from the identity provider instead.
    """
    if team is not None:
        return team_app(server, settings, host, team)
    if token is None and settings.http_token is not None:
        token = settings.http_token.get_secret_value()
    security = transport_security(settings, host, token)
    app = mcp_endpoint(server, settings, host, security)
    if token is not None:
        return BearerGuard(app, token)
    return app


def mcp_endpoint(
    server: MCPServer[AppState], settings: Settings, host: str, security: TransportSecuritySettings
) -> Any:
    """The streamable-HTTP app at /mcp: stateless with JSON responses (POST only) unless sessions are on."""
    app: Any = server.streamable_http_app(
        stateless_http=not settings.http_sessions,
        json_response=not settings.http_sessions,
        transport_security=security,
        host=host,
        max_request_body_size=MAX_REQUEST_BODY,
    )
    return app if settings.http_sessions else PostOnly(app)


class PathSwitch:
    """ASGI: requests for ``paths`` go to ``pages``, everything else (lifespan included) to ``app``."""

    def __init__(self, app: Any, pages: Any, paths: set[str]) -> None:
        self._app = app
        self._pages = pages
        self._paths = frozenset(paths)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] in self._paths:
            await self._pages(scope, receive, send)
        else:
            await self._app(scope, receive, send)


def team_app(server: MCPServer[AppState], settings: Settings, host: str, team: Team) -> Any:
    """Team mode's app: OAuth on /mcp (the SDK's 401 and metadata, co-mcp's write-scope check), the link page.

    Stateless like the single-user app, so any worker serves any request: a person's link, their confirmation
    records and their request state live in the shared store or are sealed with the shared secret.
    """
    from starlette.applications import Starlette

    from co_mcp.server.auth import JwtVerifier, WriteScopeGuard, metadata_routes
    from co_mcp.server.catalog import tool_specs
    from co_mcp.server.linkpage import link_routes

    if settings.http_token is not None or settings.http_no_auth:
        raise ConfigurationError(
            "CO_MCP_AUTH_ISSUER replaces CO_MCP_HTTP_TOKEN and CO_MCP_HTTP_NO_AUTH: clients send access tokens from "
            "the identity provider; unset those"
        )
    # Access tokens stand for the bearer token of the exposure rule.
    security = transport_security(settings, host, "an access token")
    app = mcp_endpoint(server, settings, host, security)
    # Every tool that is not a read needs the write scope, offered here or not (those not offered are -32602).
    writes = [spec.name for spec in tool_specs() if not spec.read_only]
    guarded = WriteScopeGuard(
        app, JwtVerifier(team.validator), write_tools=writes, team=team, max_body=MAX_REQUEST_BODY
    )
    routes = [*metadata_routes(team), *link_routes(team)]
    return PathSwitch(guarded, Starlette(routes=routes), {route.path for route in routes})


def serve(
    server: MCPServer[AppState],
    *,
    transport: str,
    settings: Settings,
    host: str,
    port: int,
    token: str | None = None,
    team: Team | None = None,
) -> None:
    """Serve until interrupted: stdio (the default for desktop clients) or streamable HTTP (``http_app``)."""
    if transport == "stdio":
        server.run("stdio")
        return
    import uvicorn

    app = http_app(server, settings, host, token=token, team=team)
    log.info("serving MCP over streamable HTTP at http://%s:%d/mcp", host, port)
    uvicorn.run(app, host=host, port=port, log_level="warning", lifespan="on")
