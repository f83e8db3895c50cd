"""What every request can reach: the server's own settings (ServerOptions) and the Code Ocean client (AppState)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from mcp.server.mcpserver import Context

from co_mcp.audit import AuditLog
from co_mcp.confirm import TokenSigner
from co_mcp.store import ConfirmationStore

if TYPE_CHECKING:
    from co_mcp.api.client import CodeOceanClient
    from co_mcp.config import CredentialSet, Settings

__all__ = ["AppContext", "AppState", "ClientFactory", "ConfirmMode", "ServerOptions"]

log = logging.getLogger(__name__)

ConfirmMode = Literal["auto", "elicit", "token"]


@dataclass(frozen=True)
class ServerOptions:
    """Everything about the server that is not the Code Ocean connection: safety settings mostly."""

    credentials: Mapping[str, CredentialSet] = field(default_factory=dict)
    read_only: bool = False
    allow: frozenset[str] = frozenset()
    deny: frozenset[str] = frozenset()
    confirm: ConfirmMode = "auto"
    signer: TokenSigner = field(default_factory=TokenSigner.random)
    audit: AuditLog = field(default_factory=lambda: AuditLog("-"))
    # Which confirmations were used: each acts at most once (in memory unless from_settings picks a shared one).
    store: ConfirmationStore = field(default_factory=ConfirmationStore)

    @classmethod
    def from_settings(cls, settings: Settings, *, sandbox: bool = False) -> ServerOptions:
        from co_mcp.audit import default_audit_path
        from co_mcp.store import load_or_create_secret, state_directory, state_files

        default_audit = default_audit_path(sandbox=sandbox)
        state_dir = state_directory(settings.state_dir, sandbox=sandbox)
        secret_file, state_file = state_files(state_dir, sandbox=sandbox)
        secret = settings.confirm_secret
        if secret is not None:
            signer = TokenSigner(secret.get_secret_value().encode(), settings.confirm_ttl)
        else:
            try:
                # Kept across restarts, and shared by every process with this state directory.
                signer = TokenSigner(load_or_create_secret(secret_file), settings.confirm_ttl)
            except OSError as exc:
                log.warning(
                    "cannot keep the confirm secret in %s (%s): confirm tokens will not survive a restart; set "
                    "CO_MCP_CONFIRM_SECRET, or CO_MCP_STATE_DIR to a writable directory",
                    secret_file,
                    type(exc).__name__,
                )
                signer = TokenSigner.random(settings.confirm_ttl)
        url = settings.state_url
        store = ConfirmationStore(url.get_secret_value()) if url is not None else ConfirmationStore.sqlite(state_file)
        return cls(
            credentials=settings.credential_sets(),
            read_only=settings.read_only,
            allow=frozenset(settings.tools),
            deny=frozenset(settings.disable),
            confirm=settings.confirm,
            signer=signer,
            audit=AuditLog(
                settings.audit_log if settings.audit_log is not None else state_dir / default_audit.name,
                domain="sandbox" if sandbox else settings.codeocean_domain,
            ),
            store=store,
        )


class AppState:
    """What every request can reach: the Code Ocean client and the server-side settings it obeys.

    The client (and, with --sandbox, the embedded sandbox) is made on first use, not at start-up: a
    desktop client waits for ``initialize``, and nothing needs the network before the first tool call.
    """

    def __init__(self, factory: ClientFactory, options: ServerOptions | None = None) -> None:
        self._factory = factory
        self._client: CodeOceanClient | None = None
        self.options = options or ServerOptions()

    @property
    def client(self) -> CodeOceanClient:
        if self._client is None:
            self._client = self._factory()
        return self._client

    @property
    def credentials(self) -> Mapping[str, CredentialSet]:
        return self.options.credentials

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()


ClientFactory = Callable[[], "CodeOceanClient"]
# What a tool function receives as ``ctx``: the SDK's request context, with AppState as its lifespan state.
AppContext = Context[AppState, Any]
