"""What every request can reach: the server's own settings (ServerOptions) and the Code Ocean client (AppState)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from mcp.server.mcpserver import Context

from co_mcp.audit import AuditLog
from co_mcp.confirm import TokenSigner
from co_mcp.store import ConfirmationStore
from co_mcp.team import NotLinked

if TYPE_CHECKING:
    from co_mcp.api.client import CodeOceanClient
    from co_mcp.config import CredentialSet, Settings
    from co_mcp.team import Person, Team

__all__ = ["CALLER", "AppContext", "AppState", "Caller", "ClientFactory", "ConfirmMode", "ServerOptions"]

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
    # Team mode (CO_MCP_AUTH_ISSUER): each person's own Code Ocean client; None for one CODEOCEAN_TOKEN.
    team: Team | None = None

    @classmethod
    def from_settings(cls, settings: Settings, *, sandbox: bool = False) -> ServerOptions:
        from co_mcp.audit import default_audit_path
        from co_mcp.store import load_or_create_secret, state_directory, state_files

        default_audit = default_audit_path(sandbox=sandbox)
        state_dir = state_directory(settings.state_dir, sandbox=sandbox)
        secret_file, _ = state_files(state_dir, sandbox=sandbox)
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
        store = ConfirmationStore.from_settings(settings, sandbox=sandbox)
        audit = AuditLog(
            settings.audit_log if settings.audit_log is not None else state_dir / default_audit.name,
            domain="sandbox" if sandbox else settings.codeocean_domain,
        )
        team = None
        if settings.auth_issuer is not None:
            from co_mcp.team import Team

            team = Team.from_settings(settings, store=store, audit=audit)
        return cls(
            credentials=settings.credential_sets(),
            read_only=settings.read_only,
            allow=frozenset(settings.tools),
            deny=frozenset(settings.disable),
            confirm=settings.confirm,
            signer=signer,
            audit=audit,
            store=store,
            team=team,
        )


@dataclass(frozen=True)
class Caller:
    """Team mode: the person a request acts for, and the Code Ocean client holding their own token."""

    person: Person
    # Their client; or, for a person with no usable token, why not (raised where the client is first used).
    client: CodeOceanClient | NotLinked
    team: Team
    # Whether the person's client can open a URL elicitation (to the link page, should Code Ocean refuse the token).
    url_elicitation: bool = False


# Set for the length of one request in team mode (co_mcp.server.people), read by AppState.
CALLER: ContextVar[Caller | None] = ContextVar("co_mcp_caller", default=None)


class AppState:
    """What every request can reach: the Code Ocean client and the server-side settings it obeys.

    The client (and, with --sandbox, the embedded sandbox) is made on first use, not at start-up: a
    desktop client waits for ``initialize``, and nothing needs the network before the first tool call.

    In team mode there is no shared client at all: ``client`` is the calling person's, and a request that
    is not acting for a person gets none (an error, never someone else's token).
    """

    def __init__(self, factory: ClientFactory, options: ServerOptions | None = None) -> None:
        self._factory = factory
        self._client: CodeOceanClient | None = None
        self.options = options or ServerOptions()

    @property
    def client(self) -> CodeOceanClient:
        if self.options.team is not None:
            caller = CALLER.get()
            if caller is None:
                raise RuntimeError("team mode: a Code Ocean client was asked for outside a person's request")
            if isinstance(caller.client, NotLinked):
                raise caller.client
            return caller.client
        if self._client is None:
            self._client = self._factory()
        return self._client

    @property
    def person(self) -> Person | None:
        """Team mode: who this request acts for."""
        caller = CALLER.get()
        return caller.person if caller is not None else None

    @property
    def audit(self) -> AuditLog:
        """The audit log, naming the person each line acts for in team mode."""
        person = self.person
        return self.options.audit if person is None else self.options.audit.acting_for(person.issuer, person.subject)

    @property
    def credentials(self) -> Mapping[str, CredentialSet]:
        return self.options.credentials

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
        if self.options.team is not None:
            await self.options.team.aclose()


ClientFactory = Callable[[], "CodeOceanClient"]
# What a tool function receives as ``ctx``: the SDK's request context, with AppState as its lifespan state.
AppContext = Context[AppState, Any]
