"""Team mode on HTTP: co-mcp as an OAuth 2.1 resource server (MCP authorization, 2025-11-25).

The SDK's building blocks do the protocol: ``AuthSettings`` and a ``TokenVerifier`` make it answer a request
without a valid token with 401 and ``WWW-Authenticate: Bearer ... resource_metadata="..."``, and publish the
RFC 9728 protected resource metadata. co-mcp adds the verifier (``co_mcp.oauth``: signature, expiry, issuer,
audience = ``CO_MCP_PUBLIC_URL``), the metadata's full scope list, and the per-tool scope: every request needs
the read scope; a ``tools/call`` of a write or guarded tool needs the write scope too, else 403 with
``error="insufficient_scope"`` naming the scopes to ask for (the spec's step-up answer).

The access token a client sends is checked and forgotten: it is never passed on, to Code Ocean or anyone.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from mcp.server.auth.provider import AccessToken
from mcp.server.auth.routes import build_resource_metadata_url, create_protected_resource_routes
from mcp.server.auth.settings import AuthSettings
from pydantic import AnyHttpUrl

if TYPE_CHECKING:
    from collections.abc import Iterable

    from starlette.routing import Route

    from co_mcp.oauth import AccessTokenValidator
    from co_mcp.team import Team

__all__ = ["JwtVerifier", "WriteScopeGuard", "auth_settings", "metadata_routes"]

log = logging.getLogger(__name__)


class JwtVerifier:
    """The SDK's ``TokenVerifier``, by way of co_mcp.oauth's checks."""

    def __init__(self, validator: AccessTokenValidator) -> None:
        self.validator = validator

    async def verify_token(self, token: str) -> AccessToken | None:
        valid = await self.validator.validate(token)
        if valid is None:
            return None
        return AccessToken(
            token=token,
            client_id=valid.client_id,
            scopes=list(valid.scopes),
            expires_at=valid.expires_at,
            resource=valid.audience,
            subject=valid.subject,
            # The SDK binds 2026-07-28 request state to (client, issuer, subject): a question asked of alice
            # cannot be answered in bob's request.
            claims={"iss": valid.issuer},
        )


def auth_settings(team: Team) -> AuthSettings:
    """The SDK's resource-server settings: the read scope is needed for anything at all.

    Validated from strings, so a path-less issuer keeps its exact spelling (no trailing slash): clients compare
    it with the provider's own metadata character for character (RFC 8414).
    """
    return AuthSettings.model_validate(
        {
            "issuer_url": team.validator.issuer,
            "resource_server_url": team.public_url,
            "required_scopes": [team.read_scope],
            # The verifier checked the audience already; the SDK checks it again against the same URL.
            "validate_token_resource": True,
        }
    )


def metadata_routes(team: Team) -> list[Route]:
    """RFC 9728 metadata naming both scopes (the SDK's would list only the read scope it requires)."""
    settings = auth_settings(team)
    assert settings.resource_server_url is not None
    return create_protected_resource_routes(
        resource_url=settings.resource_server_url,
        authorization_servers=[settings.issuer_url],
        scopes_supported=[team.read_scope, team.write_scope],
        resource_name="co-mcp: Code Ocean data assets",
    )


def called_tools(body: bytes) -> set[str]:
    """The tool names a JSON-RPC body calls (one message, or a batch); empty if it calls none or is not JSON."""
    try:
        message = json.loads(body)
    except ValueError:
        return set()
    messages = message if isinstance(message, list) else [message]
    names = set()
    for item in messages:
        if isinstance(item, dict) and item.get("method") == "tools/call":
            params = item.get("params")
            name = params.get("name") if isinstance(params, dict) else None
            if isinstance(name, str):
                names.add(name)
    return names


class WriteScopeGuard:
    """ASGI middleware: a ``tools/call`` of a write tool with a valid token lacking the write scope gets 403.

    It reads the body (the transport caps it anyway) and hands it on unchanged. A missing or invalid token is
    left to the SDK, whose 401 says so; only a valid token's scopes are judged here.
    """

    def __init__(
        self,
        app: Any,
        verifier: JwtVerifier,
        *,
        write_tools: Iterable[str],
        team: Team,
        max_body: int,
        path: str = "/mcp",
    ) -> None:
        self._app = app
        self._verifier = verifier
        self._write_tools = frozenset(write_tools)
        self._write_scope = team.write_scope
        self._scopes = f"{team.read_scope} {team.write_scope}"
        self._metadata = str(build_resource_metadata_url(AnyHttpUrl(team.public_url)))
        self._max_body = max_body
        self._path = path

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"].rstrip("/") != self._path:
            await self._app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size, more = 0, True
        while more and size <= self._max_body:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = bool(message.get("more_body"))
        body = b"".join(chunks)
        if not more and called_tools(body) & self._write_tools and not await self._may_write(scope):
            from co_mcp.server.http import send_json

            challenge = (
                f'Bearer error="insufficient_scope", scope="{self._scopes}", '
                f'resource_metadata="{self._metadata}", '
                f'error_description="this tool changes data assets: it needs the {self._write_scope} scope"'
            )
            payload = {
                "error": "insufficient_scope",
                "error_description": f"this tool changes data assets: it needs the {self._write_scope} scope",
            }
            await send_json(send, 403, json.dumps(payload).encode(), (b"www-authenticate", challenge.encode()))
            return
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": more}
            return await receive()

        await self._app(scope, replay, self._with_scope(send))

    def _with_scope(self, send: Any) -> Any:
        """The SDK's 401 challenge, with the scopes to ask for (MCP 2025-11-25: servers SHOULD name them), so a
        host asks the person once for both, rather than for reading now and writing at the first write."""
        scopes = self._scopes

        async def sending(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401:
                headers = [
                    (name, value + f', scope="{scopes}"'.encode())
                    if name.lower() == b"www-authenticate" and b"scope=" not in value
                    else (name, value)
                    for name, value in message.get("headers", [])
                ]
                message = {**message, "headers": headers}
            await send(message)

        return sending

    async def _may_write(self, scope: dict[str, Any]) -> bool:
        """False only for a valid token without the write scope."""
        given = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
        if not given.lower().startswith("bearer "):
            return True  # the SDK answers 401
        access = await self._verifier.verify_token(given[7:].strip())
        return access is None or self._write_scope in access.scopes
