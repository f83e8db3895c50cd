"""Settings from the environment: Code Ocean access (``CODEOCEAN_*``) and co_mcp's own knobs (``CO_MCP_*``).

The ``CODEOCEAN_*`` names match the official codeocean-mcp-server's, so existing client configs carry
over. Nothing is read at import time: ``Settings()`` reads the environment when called.

Cloud credential sets (for creating assets from GCS buckets) never pass through the model: a tool takes
the *name* of a set configured here, in ``CO_MCP_CREDENTIALS`` (JSON) or ``CO_MCP_CREDENTIALS_FILE``
(a JSON file the user controls), e.g. ``{"lab-gcs": {"gcp": {"client_id": "...", "client_secret": "..."}}}``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from co_mcp.api.domain import domain_problem
from co_mcp.errors import ConfigurationError

__all__ = ["CredentialSet", "GcpCredentials", "Settings", "load_settings"]


class GcpCredentials(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    client_id: SecretStr
    client_secret: SecretStr


class CredentialSet(BaseModel):
    """Named cloud credentials a create tool may use by name; the values stay on the server side."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gcp: GcpCredentials | None = None


def _names(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Every setting, with its environment variable in the field's alias or ``CO_MCP_`` + name."""

    model_config = SettingsConfigDict(env_prefix="CO_MCP_", extra="ignore", populate_by_name=True, frozen=True)

    codeocean_domain: str | None = Field(
        default=None,
        validation_alias=AliasChoices("CODEOCEAN_DOMAIN", "codeocean_domain"),
        description="Your Code Ocean URL, e.g. https://codeocean.example.com",
    )
    codeocean_token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("CODEOCEAN_TOKEN", "codeocean_token"),
        description="A Code Ocean access token with Datasets scope (read, or read & write)",
    )
    codeocean_agent_id: str = Field(
        default="co-mcp",
        validation_alias=AliasChoices("CODEOCEAN_AGENT_ID", "AGENT_ID", "codeocean_agent_id"),
        description="Sent as the Agent-Id header so Code Ocean can tell agent traffic apart",
    )

    connect_timeout: float = Field(default=5.0, gt=0, le=120, description="Seconds to open a connection")
    read_timeout: float = Field(default=30.0, gt=0, le=600, description="Seconds to wait for a response")
    retry_attempts: int = Field(default=5, ge=1, le=20, description="Tries per request, the first included")
    retry_timeout: float = Field(default=60.0, gt=0, le=600, description="Seconds all tries of one request may take")
    max_retry_after: float = Field(default=30.0, ge=0, le=600, description="Cap on a server's Retry-After")

    credentials: Annotated[dict[str, CredentialSet], NoDecode] = Field(
        default_factory=dict, description="Named cloud credential sets, as JSON"
    )
    credentials_file: Path | None = Field(default=None, description="JSON file of named cloud credential sets")

    read_only: bool = Field(default=False, description="Register no write tools at all")
    tools: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Only these tools (comma-separated names); empty means all"
    )
    disable: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Never these tools (comma-separated names)"
    )
    confirm: Literal["auto", "elicit", "token"] = Field(
        default="auto",
        description="How destructive tools are confirmed: ask the user through the client when it can (auto), "
        "only that way (elicit), or always by preview and confirm_token (token)",
    )
    confirm_secret: SecretStr | None = Field(
        default=None,
        description="Signs confirm tokens; the same on every replica (default: made once, kept in the state "
        "directory as confirm-secret)",
    )
    confirm_ttl: int = Field(default=300, ge=30, le=3600, description="Seconds a confirm_token stays valid")
    audit_log: str | None = Field(default=None, description="Audit log file; '-' for stderr (default: state dir)")
    state_dir: Path | None = Field(
        default=None,
        description="Directory of the audit log, confirm-secret and state.sqlite3 (default: the user's state "
        "directory, e.g. ~/.local/state/co-mcp)",
    )
    state_url: SecretStr | None = Field(
        default=None,
        description="Database of used confirmations shared by every replica, e.g. postgresql://user:pw@db/co_mcp "
        "(default: state.sqlite3 in the state directory, shared by the processes of one machine)",
    )

    http_token: SecretStr | None = Field(
        default=None,
        description="Bearer token every HTTP client must send (default: co-mcp makes one at start and shows it once)",
    )
    http_no_auth: bool = Field(
        default=False,
        description="HTTP transport on loopback: require no bearer token, so any local process or user can call "
        "every tool (also --no-auth); refused beyond loopback",
    )
    http_sessions: bool = Field(
        default=False,
        description="HTTP transport: keep sessions (Mcp-Session-Id, SSE) so 2025-11-25 clients can be asked to "
        "confirm; one process only, or sticky sessions behind a proxy",
    )
    # --- teams: an OAuth resource server, each person acting with their own Code Ocean token (README "Teams")
    auth_issuer: str | None = Field(
        default=None,
        description="HTTP transport: the OAuth authorization server (OpenID provider) whose access tokens clients "
        "send; switches on team mode, where each person's calls use their own linked Code Ocean token",
    )
    public_url: str | None = Field(
        default=None,
        description="Team mode: co-mcp's public MCP endpoint URL, e.g. https://mcp.example.org/mcp; access tokens "
        "must name it as their audience",
    )
    read_scope: str = Field(
        default="data_assets:read", min_length=1, max_length=200, description="Team mode: the scope read tools need"
    )
    write_scope: str = Field(
        default="data_assets:write",
        min_length=1,
        max_length=200,
        description="Team mode: the scope write and guarded tools need",
    )
    link_client_id: str | None = Field(
        default=None,
        max_length=500,
        description="Team mode: the client id co-mcp's link page signs people in with at CO_MCP_AUTH_ISSUER "
        "(redirect URI: the public URL's origin + /link/callback), so only the person a link was made for can use it",
    )
    link_client_secret: SecretStr | None = Field(
        default=None, description="Team mode: that client's secret, if the provider made it a confidential client"
    )
    credential_key: SecretStr | None = Field(
        default=None,
        description="Team mode: the key that encrypts linked Code Ocean tokens at rest (co-mcp credentials "
        "new-key makes one)",
    )
    subject_concurrency: int = Field(
        default=4, ge=1, le=64, description="Team mode: tool calls one person may have running at once"
    )

    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Host headers the HTTP transport accepts (comma-separated)"
    )
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Origin headers the HTTP transport accepts (comma-separated)"
    )

    @field_validator("credentials", mode="before")
    @classmethod
    def _credentials_json(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value) if value.strip() else {}
            except json.JSONDecodeError as exc:
                # The message must not echo the value: it holds secrets.
                raise ValueError(
                    f"CO_MCP_CREDENTIALS is not valid JSON (line {exc.lineno}, column {exc.colno})"
                ) from None
        return value

    @field_validator("state_url")
    @classmethod
    def _database_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            from co_mcp.store import check_url

            try:
                check_url(value.get_secret_value())
            except ConfigurationError as exc:
                raise ValueError(str(exc).removeprefix("CO_MCP_STATE_URL ")) from None
        return value

    @field_validator("auth_issuer")
    @classmethod
    def _issuer(cls, value: str | None) -> str | None:
        if value is not None:
            from co_mcp.oauth import check_issuer

            try:
                return check_issuer(value)
            except ConfigurationError as exc:
                raise ValueError(str(exc).removeprefix("CO_MCP_AUTH_ISSUER ")) from None
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is not None:
            from co_mcp.team import check_public_url

            try:
                return check_public_url(value)
            except ConfigurationError as exc:
                raise ValueError(str(exc).removeprefix("CO_MCP_PUBLIC_URL ")) from None
        return value

    @field_validator("read_scope", "write_scope")
    @classmethod
    def _scope(cls, value: str) -> str:
        # RFC 6749's scope-token: printable ASCII without space, quote or backslash (it goes into a header).
        if not all(0x21 <= ord(ch) <= 0x7E and ch not in '"\\' for ch in value):
            raise ValueError("must be one OAuth scope: printable ASCII without spaces, quotes or backslashes")
        return value

    @field_validator("credential_key")
    @classmethod
    def _credential_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            from co_mcp.linked import CredentialKey

            try:
                CredentialKey.parse(value)
            except ConfigurationError as exc:
                raise ValueError(str(exc).removeprefix("CO_MCP_CREDENTIAL_KEY ")) from None
        return value

    @field_validator("allowed_hosts", "allowed_origins", "tools", "disable", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        return _names(value) if isinstance(value, str | type(None)) else value

    def credential_sets(self) -> dict[str, CredentialSet]:
        """The configured sets: ``CO_MCP_CREDENTIALS`` wins over the file for a name in both."""
        sets: dict[str, CredentialSet] = {}
        if self.credentials_file is not None:
            try:
                raw = json.loads(self.credentials_file.read_text(encoding="utf-8"))
                sets.update({name: CredentialSet.model_validate(value) for name, value in raw.items()})
            except (OSError, ValueError, AttributeError, ValidationError) as exc:
                # Neither the file's name nor its text is repeated: either may be a secret set by mistake.
                reason = exc.strerror.lower() if isinstance(exc, OSError) and exc.strerror else "not in that form"
                raise ConfigurationError(
                    f"CO_MCP_CREDENTIALS_FILE: cannot read named credential sets from it ({reason}); "
                    'expected JSON like {"lab-gcs": {"gcp": {"client_id": "...", "client_secret": "..."}}}'
                ) from None
        sets.update(self.credentials)
        return sets

    def require_codeocean(self) -> tuple[str, SecretStr]:
        """Domain and token, or a ConfigurationError naming what is missing."""
        missing = [
            name
            for name, value in (("CODEOCEAN_DOMAIN", self.codeocean_domain), ("CODEOCEAN_TOKEN", self.codeocean_token))
            if not value
        ]
        if not missing and self.codeocean_domain is not None:
            # Checked here, at start-up: the client itself is only made on the first tool call.
            problem = domain_problem(self.codeocean_domain)
            if problem is not None:
                raise ConfigurationError(f"CODEOCEAN_DOMAIN {problem}")
        if missing or self.codeocean_domain is None or self.codeocean_token is None:
            raise ConfigurationError(
                f"{' and '.join(missing)} not set: CODEOCEAN_DOMAIN is your Code Ocean URL and CODEOCEAN_TOKEN an "
                "access token; "
                "or run `co-mcp --sandbox` to try co_mcp against a local sandbox with demo data"
            )
        return self.codeocean_domain, self.codeocean_token


def load_settings(**overrides: Any) -> Settings:
    """Read the environment; a bad value becomes one ConfigurationError naming the variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        # Each error's own sentence, never its input: a value may be a secret, or one pasted in the wrong place.
        for error in exc.errors(include_input=False, include_url=False):
            field = str(error["loc"][0]) if error["loc"] else "settings"
            variable = field.upper() if field.upper().startswith("CODEOCEAN") else f"CO_MCP_{field.upper()}"
            problems.append(f"{variable}: {str(error['msg']).removeprefix('Value error, ')}")
        raise ConfigurationError("invalid configuration: " + "; ".join(problems)) from None
