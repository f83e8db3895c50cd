"""The link page's proof of who opened it: an OpenID Connect sign-in at the team's own issuer.

A link ticket says whom a link was made for; it does not prove who holds it (a link can be forwarded, or seen
in a log). So before the page takes a Code Ocean token, the person signs in at the same identity provider
(authorization code with PKCE, ``CO_MCP_LINK_CLIENT_ID``), and the ID token's issuer and subject must be the
ticket's (the MCP specification: the server MUST verify the identity of the user who opens a URL elicitation).

No server-side session is kept, so any worker can serve any step: what a step hands the next (the ticket, the
PKCE verifier, the nonce) travels *sealed* (AES-GCM under ``CO_MCP_CREDENTIAL_KEY``, bound to its purpose and
expiring), and bound to the browser that began the sign-in by a random cookie whose digest is sealed with it: a
redirect or form replayed from another browser is refused. Nothing here is MCP or HTTP serving; the server's
link routes call it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from co_mcp.errors import CoMcpError

if TYPE_CHECKING:
    import httpx2
    from pydantic import SecretStr

    from co_mcp.linked import CredentialKey
    from co_mcp.oauth import AccessTokenValidator

__all__ = ["CALLBACK_PATH", "LinkClient", "Sealer", "SignIn", "SignInRefused"]

CALLBACK_PATH = "/link/callback"
# How long a sign-in may take, and how long the form it unlocks stays usable.
SIGN_IN_TTL = 600
_SEALED = re.compile(r"[0-9a-f]{1,64}\.[A-Za-z0-9_-]{1,8000}\Z")


class SignInRefused(CoMcpError):
    """The sign-in did not prove the person: cancelled, forged, replayed, expired, or someone else."""


class Sealer:
    """Values sealed with AES-GCM for one purpose (the purpose is the associated data), with an expiry inside."""

    def __init__(self, key: CredentialKey) -> None:
        self._key = key

    def seal(self, purpose: str, payload: dict[str, Any], *, ttl: float) -> str:
        body = json.dumps({**payload, "exp": int(time.time() + ttl)}, separators=(",", ":")).encode()
        key_id, sealed = self._key.seal(body, f"co-mcp {purpose} v1".encode())
        return f"{key_id}.{base64.urlsafe_b64encode(sealed).decode().rstrip('=')}"

    def open(self, purpose: str, text: str) -> dict[str, Any] | None:
        """The payload, if ``text`` is exactly a value sealed for ``purpose`` and not expired; else None."""
        if not _SEALED.match(text):
            return None
        key_id, _, body = text.partition(".")
        try:
            sealed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            if base64.urlsafe_b64encode(sealed).decode().rstrip("=") != body:
                return None  # one spelling per value: no other bits in the last character
            opened = self._key.open(key_id, sealed, f"co-mcp {purpose} v1".encode())
            payload = json.loads(opened) if opened is not None else None
        except Exception:  # altered (InvalidTag), truncated, or not JSON
            return None
        if not isinstance(payload, dict) or not isinstance(payload.get("exp"), int) or payload["exp"] < time.time():
            return None
        return payload


@dataclass(frozen=True)
class LinkClient:
    """co-mcp's client at the identity provider, for the link page's sign-in."""

    client_id: str
    client_secret: SecretStr | None
    redirect_uri: str


def browser_digest(browser: str) -> str:
    return hashlib.sha256(f"co-mcp link browser\0{browser}".encode()).hexdigest()


class SignIn:
    """Start a sign-in for a ticket, finish it from the provider's redirect, and vouch for the form it unlocks."""

    def __init__(self, validator: AccessTokenValidator, client: LinkClient, sealer: Sealer, http: httpx2.AsyncClient):
        self._validator = validator
        self._client = client
        self._sealer = sealer
        self._http = http

    @staticmethod
    def new_browser() -> str:
        """The random value the browser keeps in a cookie for the length of one sign-in."""
        return secrets.token_urlsafe(32)

    async def start(self, ticket: str, browser: str) -> str:
        """The provider's authorization URL for signing in to link with ``ticket``."""
        metadata = await self._validator.provider_metadata()
        endpoint = metadata.get("authorization_endpoint")
        if not isinstance(endpoint, str):
            raise SignInRefused("The identity provider names no usable sign-in page; ask your co-mcp admin.")
        verifier = secrets.token_urlsafe(48)
        nonce = secrets.token_urlsafe(16)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        state = self._sealer.seal(
            "link sign-in",
            {"t": ticket, "v": verifier, "n": nonce, "b": browser_digest(browser)},
            ttl=SIGN_IN_TTL,
        )
        query = {
            "response_type": "code",
            "client_id": self._client.client_id,
            "redirect_uri": self._client.redirect_uri,
            "scope": "openid",
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(query)}"

    async def finish(self, *, code: str, state: str, browser: str, issuer: str | None) -> tuple[str, str, str]:
        """From the provider's redirect: (ticket, issuer, subject) of the person who signed in, or SignInRefused."""
        opened = self._sealer.open("link sign-in", state)
        if opened is None or not hmac.compare_digest(str(opened.get("b")), browser_digest(browser)):
            raise SignInRefused("This sign-in was not started in this browser, or took too long: open your link again.")
        if issuer is not None and issuer != self._validator.issuer:
            raise SignInRefused("The sign-in came back from another identity provider: open your link again.")
        metadata = await self._validator.provider_metadata()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self._client.redirect_uri,
            "client_id": self._client.client_id,
            "code_verifier": str(opened["v"]),
        }
        extra: dict[str, Any] = {}
        if self._client.client_secret is not None:  # a confidential client: client_secret_basic
            import httpx2

            extra["auth"] = httpx2.BasicAuth(self._client.client_id, self._client.client_secret.get_secret_value())
        try:
            response = await self._http.post(
                str(metadata["token_endpoint"]), data=form, headers={"Accept": "application/json"}, **extra
            )
            id_token = response.json().get("id_token") if response.status_code == 200 else None
        except Exception:
            id_token = None
        if not isinstance(id_token, str):
            raise SignInRefused("The identity provider did not confirm the sign-in: open your link again.")
        valid = await self._validator.validate(id_token, audience=self._client.client_id)
        if valid is None or not hmac.compare_digest(str(valid.claims.get("nonce")), str(opened["n"])):
            raise SignInRefused("The identity provider's answer could not be verified: open your link again.")
        return str(opened["t"]), valid.issuer, valid.subject

    def vouch(self, ticket: str, browser: str) -> str:
        """A sealed value for the form: this browser signed in as the ticket's person."""
        return self._sealer.seal("link form", {"t": ticket, "b": browser_digest(browser)}, ttl=SIGN_IN_TTL)

    def vouched(self, proof: str, browser: str) -> str:
        """The ticket a form's proof was made for, if this browser earned it; else SignInRefused."""
        opened = self._sealer.open("link form", proof)
        if opened is None or not hmac.compare_digest(str(opened.get("b")), browser_digest(browser)):
            raise SignInRefused("This form is not from a sign-in in this browser, or expired: open your link again.")
        return str(opened["t"])
