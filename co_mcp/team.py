"""Team mode: each person acts on Code Ocean with their own token, linked once to their identity.

A person is an access token's ``sub`` within its issuer. Their Code Ocean token is linked on co-mcp's own
page (never through the model) and kept encrypted in the shared state store (``co_mcp.linked``). Every call
they make uses a Code Ocean client holding their token and no one else's, and runs under their own
concurrency cap, so one person's storm of calls (and its retries) waits on itself, not on the others.

The link page is reached through a *link ticket*: a short-lived, sealed, single-use value naming the person,
handed only to that person's authenticated MCP client; the page then has the person sign in at the same
identity provider (``co_mcp.signin``) and takes a token only from the person the ticket names. Nothing here is
MCP; the server turns ``NotLinked`` into a URL elicitation or an error naming the page.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlencode, urlsplit

import anyio

from co_mcp.errors import CoMcpError, ConfigurationError
from co_mcp.oauth import check_issuer

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from pydantic import SecretStr

    from co_mcp.api.client import CodeOceanClient
    from co_mcp.audit import AuditLog
    from co_mcp.config import Settings
    from co_mcp.linked import LinkedTokens
    from co_mcp.oauth import AccessTokenValidator
    from co_mcp.signin import Sealer, SignIn
    from co_mcp.store import ConfirmationStore

__all__ = ["LINK_PATH", "LinkRefused", "NotLinked", "Person", "Team", "check_public_url", "link_page_url", "team_urls"]

log = logging.getLogger("co_mcp.team")

LINK_PATH = "/link"
# How long a link ticket stays valid: time to open the page, find the token in Code Ocean and paste it.
LINK_TTL = 900
# Clients kept open at once; the least recently used is closed beyond this (it is made again when needed).
MAX_CLIENTS = 256
# Per-person caps kept; beyond this, idle ones are forgotten.
MAX_LIMITERS = 4096


@dataclass(frozen=True)
class Person:
    """Who is calling: the subject of an access token, unique within its issuer."""

    issuer: str
    subject: str

    def __str__(self) -> str:
        return self.subject


class NotLinked(CoMcpError):
    """This person has no usable Code Ocean token: none linked, Code Ocean refused it, or it cannot be read."""

    def __init__(self, person: Person, url: str, *, reason: Literal["none", "refused", "unreadable"]) -> None:
        self.person = person
        self.url = url
        self.reason = reason
        if reason == "refused":
            message = (
                "Code Ocean refused the Code Ocean token linked to your identity (revoked or expired): link your "
                f"token again at {url} , then call again. Nothing was done."
            )
        elif reason == "unreadable":
            message = (
                "The Code Ocean token linked to your identity can no longer be read by co-mcp (its encryption key "
                f"changed): link your token again at {url} , then call again. Nothing was done."
            )
        else:
            message = (
                "No Code Ocean token is linked to your identity yet: open "
                f"{url} and paste your Code Ocean access token there (never into this chat), then call again. "
                "Nothing was done."
            )
        super().__init__(message)


class LinkRefused(CoMcpError):
    """The link page's form could not link: an expired, forged or used ticket, or a token Code Ocean refused."""


def link_page_url(public_url: str) -> str:
    """The link page's address, beside the MCP endpoint: https://mcp.example.org/mcp -> .../link."""
    parts = urlsplit(public_url)
    return f"{parts.scheme}://{parts.netloc}{LINK_PATH}"


def check_public_url(url: str) -> str:
    """co-mcp's public MCP URL as configured, or a ConfigurationError saying what is wrong (never the value)."""
    from co_mcp.exposure import is_loopback

    public = url.strip()
    parts = urlsplit(public)
    if not public or parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigurationError(
            "CO_MCP_PUBLIC_URL must be co-mcp's MCP endpoint as clients reach it, e.g. https://mcp.example.org/mcp "
            "(access tokens must name it as their audience)"
        )
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigurationError("CO_MCP_PUBLIC_URL must use https beyond this machine: access tokens travel to it")
    if parts.path.rstrip("/") != "/mcp":
        raise ConfigurationError("CO_MCP_PUBLIC_URL must end in /mcp, the path co-mcp serves MCP at")
    return public


def team_urls(settings: Settings) -> tuple[str, str]:
    """The issuer and co-mcp's public MCP URL, or a ConfigurationError saying what is missing."""
    if settings.auth_issuer is None:
        raise ConfigurationError("team mode needs CO_MCP_AUTH_ISSUER")
    if settings.public_url is None:
        raise ConfigurationError(
            "CO_MCP_AUTH_ISSUER needs CO_MCP_PUBLIC_URL: co-mcp's MCP endpoint as clients reach it, e.g. "
            "https://mcp.example.org/mcp (access tokens must name it as their audience)"
        )
    return check_issuer(settings.auth_issuer), check_public_url(settings.public_url)


class Team:
    """Team mode: who may call (``validator``, scopes), and each person's Code Ocean client, cap and link tickets.

    ``make_client`` builds a client for one token; ``check`` asks Code Ocean whether a token is good (it raises
    ``LinkRefused`` with a sentence for the person if not, and returns a label to remember, or None).
    """

    def __init__(
        self,
        *,
        validator: AccessTokenValidator,
        public_url: str,
        scopes: tuple[str, str],
        linked: LinkedTokens,
        make_client: Callable[[SecretStr], CodeOceanClient],
        check: Callable[[SecretStr], Awaitable[str | None]],
        sealer: Sealer,
        sign_in: SignIn,
        store: ConfirmationStore,
        concurrency: int,
        audit: AuditLog | None = None,
    ) -> None:
        # Who may call: tokens of this issuer, for this public URL, with these (read, write) scopes.
        self.validator = validator
        self.public_url = public_url
        self.read_scope, self.write_scope = scopes
        self.linked = linked
        self._make_client = make_client
        self._check = check
        self.page = link_page_url(public_url)
        # Tickets are sealed (AES-GCM), so a link names no one in clear; the page's sign-in proves who opened it.
        self._sealer = sealer
        self.sign_in = sign_in
        self._store = store
        self._audit = audit
        self._making = anyio.Lock()
        self._concurrency = concurrency
        self._clients: OrderedDict[Person, tuple[str, CodeOceanClient]] = OrderedDict()
        self._limiters: dict[Person, anyio.CapacityLimiter] = {}
        # Clients replaced (a new link) or evicted while a call may still be using them.
        self._retired: list[tuple[Person, CodeOceanClient]] = []

    # --- calls -----------------------------------------------------------------------------------------

    async def client_for(self, person: Person) -> CodeOceanClient:
        """The client with this person's own token; NotLinked (naming the page) if there is none.

        The token is read from the store on every call, so an unlink or a new link made through another
        worker takes effect at once; the client (and its connections) is kept while the token is the same.
        """
        from co_mcp.linked import LinkedTokenError

        if self._retired:
            await self._close_retired()
        try:
            token = await self.linked.token_for(person.issuer, person.subject)
        except LinkedTokenError:
            # Sealed under a key CO_MCP_CREDENTIAL_KEY no longer holds, or altered: only a new link helps.
            raise NotLinked(person, self.link_url(person), reason="unreadable") from None
        if token is None:
            await self._drop(person)
            raise NotLinked(person, self.link_url(person), reason="none")
        digest = hashlib.sha256(token.get_secret_value().encode()).hexdigest()
        async with self._making:  # two first calls of one person at once make one client, not two
            kept = self._clients.get(person)
            if kept is not None and kept[0] == digest:
                self._clients.move_to_end(person)
                return kept[1]
            await self._drop(person)
            client = self._make_client(token)
            self._clients[person] = (digest, client)
            while len(self._clients) > MAX_CLIENTS:
                oldest, _ = next(iter(self._clients.items()))
                await self._drop(oldest)
            return client

    def refused(self, person: Person) -> NotLinked:
        """What to say when Code Ocean answered 401 to this person's linked token."""
        return NotLinked(person, self.link_url(person), reason="refused")

    def limiter(self, person: Person) -> anyio.CapacityLimiter:
        """This person's cap on calls running at once."""
        found = self._limiters.get(person)
        if found is None:
            if len(self._limiters) >= MAX_LIMITERS:
                # Forget the caps no call holds or waits for; they are made again when needed.
                for idle in [p for p, cap in self._limiters.items() if not cap.statistics().borrowers]:
                    if not any(held == idle for held, _ in self._retired):
                        del self._limiters[idle]
            found = self._limiters[person] = anyio.CapacityLimiter(self._concurrency)
        return found

    async def _drop(self, person: Person) -> None:
        """Forget the person's client; close it once none of their calls is still using it."""
        kept = self._clients.pop(person, None)
        if kept is not None:
            self._retired.append((person, kept[1]))
            await self._close_retired()

    async def _close_retired(self) -> None:
        # A call holds its person's limiter while it uses their client: a client is closed only when idle.
        still: list[tuple[Person, CodeOceanClient]] = []
        idle: list[tuple[Person, CodeOceanClient]] = []
        for person, client in self._retired:
            limiter = self._limiters.get(person)
            (still if limiter is not None and limiter.borrowed_tokens else idle).append((person, client))
        self._retired = still
        for _, client in idle:
            await client.aclose()

    async def aclose(self) -> None:
        for _, client in [*self._clients.values(), *self._retired]:
            await client.aclose()
        self._clients.clear()
        self._retired.clear()
        await self.validator.aclose()

    # --- linking -----------------------------------------------------------------------------------------

    def link_url(self, person: Person) -> str:
        """The page where this person links their token, with a fresh ticket naming them."""
        return f"{self.page}?{urlencode({'ticket': self.ticket(person)})}"

    def ticket(self, person: Person) -> str:
        """A sealed, expiring, single-use value naming the person (no one can read whom from the link)."""
        return self._sealer.seal(
            "link ticket", {"iss": person.issuer, "sub": person.subject, "n": secrets.token_urlsafe(16)}, ttl=LINK_TTL
        )

    def _opened(self, ticket: str) -> dict[str, Any]:
        opened = self._sealer.open("link ticket", ticket.strip())
        if opened is None or not isinstance(opened.get("iss"), str) or not isinstance(opened.get("sub"), str):
            raise LinkRefused("This link is not one co-mcp made, or it expired: ask your assistant for a new one.")
        return opened

    def holder(self, ticket: str) -> Person:
        """The person a ticket names, if co-mcp sealed it and it has not expired; else LinkRefused."""
        opened = self._opened(ticket)
        return Person(opened["iss"], opened["sub"])

    async def unused(self, ticket: str) -> None:
        """LinkRefused if the ticket already linked a token (checked before anything is sent anywhere)."""
        from co_mcp.store import confirmation_key

        if await self._store.lookup(confirmation_key("link_ticket", str(self._opened(ticket)["n"]))) is not None:
            raise LinkRefused("This link was already used: ask your assistant for a new one if you need it.")

    async def redeem(self, ticket: str, token: SecretStr) -> Person:
        """Link ``token`` to the ticket's person, once Code Ocean has accepted it; each ticket links once."""
        from co_mcp.store import confirmation_key

        opened = self._opened(ticket)
        person = Person(opened["iss"], opened["sub"])
        if not token.get_secret_value().strip():
            raise LinkRefused("Paste your Code Ocean access token in the field.")
        await self.unused(ticket)  # a used link never sends the pasted token to Code Ocean
        label = await self._check(token)  # LinkRefused, with Code Ocean's verdict, if it is not good
        # Claimed by its sealed nonce: however a ticket is spelt, it links once.
        used = await self._store.claim(confirmation_key("link_ticket", str(opened["n"])), keep_for=LINK_TTL)
        if used is not None:
            raise LinkRefused("This link was already used: ask your assistant for a new one if you need it.")
        if self._audit is not None:
            # Which person linked a token, when, and how (never the token): before it is stored, like every write.
            await self._audit.acting_for(person.issuer, person.subject).write(
                "link_code_ocean_token", outcome="attempt", data_asset_ids=[], arguments={"via": "link page"}
            )
        await self.linked.link(person.issuer, person.subject, token, label=label)
        await self._drop(person)
        log.info("linked a Code Ocean token for %s (issuer %s)", person.subject, person.issuer)
        return person

    # --- assembly ----------------------------------------------------------------------------------------

    @classmethod
    def from_settings(cls, settings: Settings, *, store: ConfirmationStore, audit: AuditLog | None = None) -> Team:
        """Team mode as configured: no shared Code Ocean token, each person's own, checked when linked."""
        import httpx2

        from co_mcp.api.client import client_from_settings
        from co_mcp.api.domain import domain_problem
        from co_mcp.linked import credential_key_from_settings, linked_tokens_from_settings
        from co_mcp.oauth import AccessTokenValidator
        from co_mcp.signin import CALLBACK_PATH, LinkClient, Sealer, SignIn
        from co_mcp.text import clean

        issuer, public = team_urls(settings)
        if not settings.link_client_id:
            raise ConfigurationError(
                "team mode needs CO_MCP_LINK_CLIENT_ID: the client co-mcp's link page signs people in with at "
                f"CO_MCP_AUTH_ISSUER (register it with the redirect URI {link_page_url(public)}/callback), so that "
                "only the person a link was made for can link a token with it"
            )
        domain = settings.codeocean_domain
        if not domain:
            raise ConfigurationError("team mode needs CODEOCEAN_DOMAIN, the Code Ocean every person's token is for")
        problem = domain_problem(domain)
        if problem is not None:
            raise ConfigurationError(f"CODEOCEAN_DOMAIN {problem}")
        if settings.codeocean_token is not None:
            raise ConfigurationError(
                "team mode (CO_MCP_AUTH_ISSUER) acts with each person's own Code Ocean token: unset CODEOCEAN_TOKEN, "
                "so that no shared token can act for anyone"
            )

        def make_client(token: SecretStr) -> CodeOceanClient:
            return client_from_settings(settings, domain, token)

        async def check(token: SecretStr) -> str | None:
            from co_mcp.doctor import token_checks

            async with make_client(token) as client:
                failed = [found for found in await token_checks(client) if found.status == "FAIL"]
            if failed:
                # Code Ocean's own words may be in it: cleaned like any text co-mcp did not write.
                said = clean(failed[0].detail, 300)
                raise LinkRefused(f"Code Ocean did not accept this token: {said}. Nothing was linked.")
            return None

        # The provider is talked to with a client of its own: nothing of Code Ocean's rides along.
        provider_http = httpx2.AsyncClient(timeout=httpx2.Timeout(10.0), follow_redirects=False)
        validator = AccessTokenValidator(issuer, public, provider_http)
        sealer = Sealer(credential_key_from_settings(settings))
        redirect = f"{link_page_url(public)}{CALLBACK_PATH.removeprefix(LINK_PATH)}"
        client = LinkClient(settings.link_client_id, settings.link_client_secret, redirect)
        return cls(
            validator=validator,
            public_url=public,
            scopes=(settings.read_scope, settings.write_scope),
            linked=linked_tokens_from_settings(settings),
            make_client=make_client,
            check=check,
            sealer=sealer,
            sign_in=SignIn(validator, client, sealer, provider_http),
            store=store,
            concurrency=settings.subject_concurrency,
            audit=audit,
        )
